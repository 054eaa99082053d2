// The citizen wallet: a hosted wallet at the chosen provider. The wallet id stays in this
// browser (localStorage); the PIN is asked for each use of the device keys and kept only
// while a QR code keeps refreshing.
const $ = id => document.getElementById(id);
let platform, provider, wallet, qrTimer, pinForQr;
// Each request for a code has a round; stopping the codes starts a new one, so an answer
// that arrives after the holder moved on (a new code asked for, paused, another wallet) is
// dropped instead of replacing what is on screen.
let qrRound = 0;
function stopQr() { clearInterval(qrTimer); qrRound += 1; }

function base() { return `/providers/${provider}/api/wallets`; }
function show(id, on) { $(id).classList.toggle("hidden", !on); }
function fail(id, e) { $(id).textContent = e ? String(e.message || e) : ""; }

function askPin() {
  return new Promise(resolve => {
    const dialog = $("pin-dialog");
    $("pin-input").value = "";
    dialog.onclose = () => resolve(dialog.returnValue === "ok" ? $("pin-input").value : null);
    dialog.showModal();
    $("pin-input").focus();
  });
}

async function busy(button, work) {
  button.disabled = true;
  try { return await work(); } finally { button.disabled = false; }
}

async function load() {
  platform = await api("GET", "/platform.json");
  const select = $("provider");
  select.innerHTML = "";
  for (const p of platform.providers) select.append(el("option", { value: p.id }, p.name));
  provider = localStorage.getItem("eid.provider") || platform.providers[0].id;
  select.value = provider;
  select.onchange = () => { provider = select.value; localStorage.setItem("eid.provider", provider); open(); };
  open();
}

async function open() {
  // Another wallet (or provider): the codes and the PIN they used are this one's no more.
  stopQr(); pinForQr = null; show("qr-box", false);
  holdings = [];
  wallet = localStorage.getItem(`eid.wallet.${provider}`);
  show("create", !wallet); show("enrol", false); show("enrolled", false); show("lost-panel", !!wallet);
  if (!wallet) return;
  let card;
  fail("wallet-error");
  try { card = await api("GET", `${base()}/${wallet}`); }
  catch (e) {
    // Only a wallet the provider does not know is forgotten; anything else is shown.
    if (e.status === 404 && e.code === "no_such_wallet") { localStorage.removeItem(`eid.wallet.${provider}`); return open(); }
    show("lost-panel", false);
    return fail("wallet-error", e);
  }
  show("enrol", !card.enrolled); show("enrolled", card.enrolled);
  if (card.enrolled) { renderCard(card.attributes); history(); renderBackup(card.backup); renderHeld(card.holdings); }
}

// What the wallet holds for someone else (a child's, a ward's credential registered at a
// counter): each with the name on it and the relationship, never mixed with the holder's own.
let holdings = [];
function heldName(h) { return (h.attributes.family_name || "") + (h.attributes.given_name || ""); }
function renderHeld(list) {
  holdings = (list || []).filter(h => h.live);
  const ul = $("held");
  ul.innerHTML = "";
  if (!holdings.length) ul.append(el("li", { class: "note" }, t("held_none")));
  for (const h of holdings) ul.append(el("li", { "data-holding": h.id }, `${heldName(h)} · ${t(h.relationship)}`));
}

$("held-go").onclick = () => busy($("held-go"), async () => {
  fail("held-error");
  const pin = await askPin();
  if (!pin) return;
  try {
    await api("POST", `${base()}/${wallet}/enrol`, { pin, offer: $("held-offer").value.trim(), tx_code: $("held-tx-code").value.trim() });
    $("held-offer").value = ""; $("held-tx-code").value = "";
    open();
  } catch (e) { fail("held-error", e); }
});

// The history backup (end-to-end encrypted at the provider): unavailable without the
// authority's secret (enrolled at a counter), off, restorable (a backup of hers is there:
// her recovery code restores it), or on.
function renderBackup(state) {
  $("backup-state").textContent = t(`backup_${state}`);
  show("backup-go", state === "off");
  show("restore-box", state === "restorable");
}

// Start the backup; `over`: the recovery code is lost, the provider's backup is replaced.
const startBackup = (button, over) => busy(button, async () => {
  fail("backup-error"); $("backup-result").textContent = "";
  if (over && !confirm(t("confirm_over"))) return;
  const pin = await askPin();
  if (!pin) return;
  try {
    const made = await api("POST", `${base()}/${wallet}/backup`, { pin, over });
    renderBackup("on");
    $("backup-result").textContent = "";
    $("backup-result").append(t("write_down"), el("strong", { id: "recovery-code-shown" }, made.recovery_code));
  } catch (e) { fail("backup-error", e); }
});
$("backup-go").onclick = () => startBackup($("backup-go"), false);
$("backup-over").onclick = () => startBackup($("backup-over"), true);

$("restore-go").onclick = () => busy($("restore-go"), async () => {
  fail("backup-error"); $("backup-result").textContent = "";
  const recovery_code = $("recovery-code").value.trim();
  if (!recovery_code) return fail("backup-error", t("recovery_code"));
  const pin = await askPin();
  if (!pin) return;
  try {
    const done = await api("POST", `${base()}/${wallet}/backup/restore`, { pin, recovery_code });
    $("recovery-code").value = "";
    renderBackup("on");
    $("backup-result").textContent = t("restored") + done.restored;
    history();
  } catch (e) { fail("backup-error", e); }
});

const FIELDS = ["name", "sex", "ethnicity", "birth_date", "address", "issuing_authority", "expiry_date"];
function renderCard(a) {
  const dl = $("card-fields");
  dl.innerHTML = "";
  const values = { ...a, name: (a.family_name || "") + (a.given_name || "") };
  if (a.sex === 1 || a.sex === 2) values.sex = t(a.sex === 1 ? "male" : "female");
  if (a.issue_date && !a.expiry_date) values.expiry_date = t("long_term");
  for (const f of FIELDS) {
    if (values[f] === undefined || values[f] === "") continue;
    dl.append(el("dt", {}, t(f)), el("dd", {}, values[f]));
  }
  $("card-number").textContent = a.document_number || "";
  if (a.portrait) $("portrait").src = "data:image/jpeg;base64," + a.portrait.replace(/-/g, "+").replace(/_/g, "/");
}

async function history() {
  const h = await api("GET", `${base()}/${wallet}/history`);
  const ul = $("history");
  ul.innerHTML = "";
  if (!h.history.length) ul.append(el("li", { class: "note" }, t("no_history")));
  for (const p of h.history.slice().reverse()) {
    const when = new Date(p.at * 1000).toLocaleString(LANG === "zh" ? "zh-CN" : "en-GB");
    // A showing of a credential held for someone else says so (the relationship, not whose).
    const held = p.held_for ? ` · ${t(p.held_for)}` : "";
    ul.append(el("li", {}, `${when} · ${p.relying_party_name || t(p.channel === "offline_qr" ? "show_qr" : p.channel)} · ${t(p.purpose)}${held} · ${p.attributes.map(a => a.startsWith("pseudonym:") ? t("pseudonym") : a).join(", ")}`));
  }
}

$("create-go").onclick = () => busy($("create-go"), async () => {
  fail("create-error");
  const pin = $("new-pin").value;
  if (pin !== $("new-pin2").value) return fail("create-error", LANG === "zh" ? "两次输入的 PIN 不一致" : "The two PINs differ");
  try {
    const made = await api("POST", base(), { pin });
    localStorage.setItem(`eid.wallet.${provider}`, made.wallet);
    open();
  } catch (e) { fail("create-error", e); }
});

let counterMode = false;
function tab(counter) {
  counterMode = counter;
  $("tab-remote").classList.toggle("on", !counter); $("tab-counter").classList.toggle("on", counter);
  show("enrol-remote", !counter); show("enrol-counter", counter);
}
$("tab-remote").onclick = () => tab(false);
$("tab-counter").onclick = () => tab(true);

// The liveness challenge: the way the holder is asked to turn their head in the second
// selfie, picked at random for each attempt (the authority checks the head turned that way,
// by the same person: a photograph held up to the camera does not turn).
let askedTurn;
function askTurn() {
  askedTurn = crypto.getRandomValues(new Uint8Array(1))[0] & 1 ? "left" : "right";
  for (const label of document.querySelectorAll(".turn-label")) label.dataset.i18n = "selfie_turned_" + askedTurn;
  for (const input of document.querySelectorAll("input.turned")) { input.dataset.turn = askedTurn; input.value = ""; }
  translate();
}
askTurn();

$("enrol-go").onclick = () => busy($("enrol-go"), async () => {
  fail("enrol-error");
  const pin = await askPin();
  if (!pin) return;
  try {
    let body;
    if (counterMode) body = { pin, offer: $("offer").value.trim(), tx_code: $("tx-code").value.trim() };
    else {
      const files = ["card-front", "card-back", "selfie", "selfie-turned"].map(id => $(id).files[0]);
      if (files.some(f => !f)) throw new Error(LANG === "zh" ? "请选择四张照片" : "Choose the four photographs");
      const [card_front, card_back, face, face_turned] = await Promise.all(files.map(fileToBase64));
      body = { pin, id_number: $("id-number").value.trim(), full_name: $("full-name").value.trim(), card_front, card_back, face, face_turned, turn: askedTurn };
    }
    await api("POST", `${base()}/${wallet}/enrol`, body);
    // Moving to this phone, now that it holds her credentials: the old phone's are revoked
    // for good with the same face (a lost report alone only suspends them).
    if (!counterMode && $("replace-old").checked) {
      const done = await api("POST", `${base()}/${wallet}/report-lost`,
        { pin, id_number: body.id_number, full_name: body.full_name, face: body.face, face_turned: body.face_turned, turn: body.turn, move: true });
      $("present-result").textContent = t("moved") + done.wallets_revoked;
    }
    open();
  } catch (e) { fail("enrol-error", e); askTurn(); }
});

// A code lives 60 s and is refreshed every 30 s while shown: five codes at most (or until
// the page is hidden), then the PIN is forgotten and the holder shows it again.
const MAX_CODES = 5;
let codesShown = 0;
function pauseQr() {
  stopQr();
  pinForQr = null;
  show("qr-box", false);
  $("present-result").textContent = t("qr_paused");
}
document.addEventListener("visibilitychange", () => { if (document.hidden && pinForQr) pauseQr(); });

async function showCode() {
  if (codesShown >= MAX_CODES) return pauseQr();
  codesShown += 1;
  const round = qrRound;
  try {
    const code = await api("POST", `${base()}/${wallet}/offline`, { pin: pinForQr, purpose: $("purpose").value });
    if (round !== qrRound) return;
    $("qr").innerHTML = code.qr_svg;
    $("qr").dataset.code = code.code;
    $("qr-shows").textContent = code.shows.join(", ");
    show("qr-box", true);
    let left = 30;
    $("qr-seconds").textContent = left;
    clearInterval(qrTimer);
    qrTimer = setInterval(() => {
      left -= 1;
      $("qr-seconds").textContent = left;
      if (left <= 0) { clearInterval(qrTimer); showCode(); }
    }, 1000);
    history();
  } catch (e) {
    if (round !== qrRound) return;
    stopQr(); show("qr-box", false); fail("present-error", e);
  }
}

$("qr-go").onclick = () => busy($("qr-go"), async () => {
  fail("present-error"); $("present-result").textContent = "";
  // The code on screen stops refreshing while the PIN is asked for.
  stopQr();
  pinForQr = await askPin();
  codesShown = 0;
  if (pinForQr) await showCode();
  else if (!$("qr-box").classList.contains("hidden")) pauseQr();
});
$("purpose").onchange = () => { if (pinForQr && !$("qr-box").classList.contains("hidden")) { stopQr(); showCode(); } };

// A pairwise pseudonym is asked for as `pseudonym:<relying party id>`: said in words.
function attributeWords(a) {
  return a.startsWith("pseudonym:") ? t("pseudonym_item") : a;
}

// The holder's consent: who asks what, why; where the request takes a credential held for
// someone else too, whose to share (her own by default). `onAnswer(pin, heldFor)`.
function consent(c, onAnswer) {
  $("consent-who").textContent = c.relying_party_name;
  $("consent-why").textContent = t(c.purpose) || c.purpose_name;
  const ul = $("consent-what");
  ul.innerHTML = "";
  for (const a of c.attributes) ul.append(el("li", {}, attributeWords(a)));
  const whose = $("consent-whose");
  whose.innerHTML = "";
  whose.append(el("option", { value: "" }, t("whose_mine")));
  for (const h of holdings) whose.append(el("option", { value: String(h.id) }, `${heldName(h)} (${t(h.relationship)})`));
  show("consent-whose-box", !!c.delegation && holdings.length > 0);
  show("consent", true);
  $("consent-yes").onclick = async () => {
    const heldFor = c.delegation && whose.value ? Number(whose.value) : null;
    const pin = await askPin();
    if (pin) { show("consent", false); onAnswer(pin, heldFor); }
  };
  $("consent-no").onclick = () => { show("consent", false); onAnswer(null); };
}

$("in-person-go").onclick = () => busy($("in-person-go"), async () => {
  fail("present-error"); $("present-result").textContent = "";
  stopQr(); show("qr-box", false);
  try {
    const s = await api("POST", `${base()}/${wallet}/in-person`, {});
    $("engagement").innerHTML = s.qr_svg;
    $("engagement").dataset.code = s.engagement;
    show("engagement-box", true);
    const url = `${base()}/${wallet}/in-person/${s.session}`;
    for (;;) {
      await new Promise(r => setTimeout(r, 500));
      const state = await api("GET", url);
      if (state.state === "waiting") continue;
      show("engagement-box", false);
      if (state.state === "asking") {
        consent(state.consent, async (pin, heldFor) => {
          try {
            await api("POST", url, pin ? { share: true, pin, held_for: heldFor } : { share: false });
            for (;;) {
              await new Promise(r => setTimeout(r, 300));
              const end = await api("GET", url);
              if (end.state === "asking") continue;
              $("present-result").textContent = end.state === "shared" ? `${t("shared_with")} ${end.with}` : t("declined");
              if (end.state === "failed") fail("present-error", end.reason);
              break;
            }
            history();
          } catch (e) { fail("present-error", e); }
        });
      } else if (state.state === "refused") $("present-result").textContent = t("refused_request") + state.reason;
      else fail("present-error", state.reason || state.state);
      break;
    }
  } catch (e) { fail("present-error", e); }
});

$("online-go").onclick = () => busy($("online-go"), async () => {
  fail("present-error"); $("present-result").textContent = "";
  try {
    const asked = await api("POST", `${base()}/${wallet}/online`, { invocation: $("invocation").value.trim() });
    consent(asked.consent, async (pin, heldFor) => {
      try {
        const done = await api("POST", `${base()}/${wallet}/online/${asked.session}`, pin ? { share: true, pin, held_for: heldFor } : { share: false });
        $("present-result").textContent = done.shared ? `${t("shared_with")} ${done.with}` : t(done.told ? "declined" : "declined_untold");
        history();
      } catch (e) { fail("present-error", e); }
    });
  } catch (e) { fail("present-error", e); }
});

$("refresh-go").onclick = () => busy($("refresh-go"), async () => {
  const pin = await askPin();
  if (!pin) return;
  try { await api("POST", `${base()}/${wallet}/refresh`, { pin }); $("refresh-result").textContent = t("refreshed"); }
  catch (e) { $("refresh-result").textContent = e.message; }
});

$("lost-go").onclick = () => busy($("lost-go"), async () => {
  fail("lost-error"); $("lost-result").textContent = "";
  const files = [$("lost-face").files[0], $("lost-face-turned").files[0]];
  if (files.some(f => !f)) return fail("lost-error", LANG === "zh" ? "请选择两张自拍照片" : "Choose the two selfies");
  const pin = await askPin();
  if (!pin) return;
  try {
    const [face, face_turned] = await Promise.all(files.map(fileToBase64));
    const done = await api("POST", `${base()}/${wallet}/report-lost`,
      { pin, id_number: $("lost-id").value.trim(), full_name: $("lost-name").value.trim(), face, face_turned, turn: askedTurn });
    $("lost-result").textContent = t("reported") + done.wallets_suspended;
  } catch (e) { fail("lost-error", e); askTurn(); }
});

document.addEventListener("languagechange", () => open());
load();
