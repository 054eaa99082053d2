// The authority console: the admin API of the chosen authority with its admin token (kept
// for this tab only), the platform's trust list and verification counts.
const $ = id => document.getElementById(id);
let platform, authority, token;

function show(id, on) { $(id).classList.toggle("hidden", !on); }
const when = s => new Date(s * 1000).toLocaleString(LANG === "zh" ? "zh-CN" : "en-GB");

async function load() {
  platform = await api("GET", "/platform.json");
  for (const a of platform.authorities) $("authority").append(el("option", { value: a.key }, a.name));
  const saved = JSON.parse(sessionStorage.getItem("eid.console") || "null");
  if (saved) { $("authority").value = saved.key; token = saved.token; enter(); }
}

$("login-go").onclick = async () => {
  $("login-error").textContent = "";
  token = $("token").value.trim();
  try {
    const a = platform.authorities.find(x => x.key === $("authority").value);
    await api("GET", `${a.admin}/admin/audit?limit=1`, undefined, token);
    sessionStorage.setItem("eid.console", JSON.stringify({ key: a.key, token }));
    enter();
  } catch (e) { $("login-error").textContent = e.message; }
};
$("logout").onclick = () => { sessionStorage.removeItem("eid.console"); location.reload(); };

function enter() {
  authority = platform.authorities.find(x => x.key === $("authority").value);
  show("login", false); show("board", true); show("logout", true);
  $("who").textContent = authority.name;
  refresh();
}

async function refresh() {
  const admin = authority.admin;
  const [stats, credentials, audit, trust, web, versions] = await Promise.all([
    api("GET", `${admin}/admin/stats`, undefined, token),
    api("GET", `${admin}/admin/credentials?limit=50`, undefined, token),
    api("GET", `${admin}/admin/audit?limit=50`, undefined, token),
    api("GET", "/trust/list.json"),
    api("GET", "/web/stats"),
    api("GET", "/trust/versions"),
  ]);
  const history = $("versions");
  history.innerHTML = "";
  for (const v of versions) {
    history.append(el("tr", {}, el("td", {}, v.version), el("td", {}, when(v.issued_at)),
      el("td", {}, v.scopes.map(s => `${s.issuer}: ${s.regions.join(", ")}`).join(" · "))));
  }
  for (const s of ["valid", "suspended", "invalid"]) $(`n-${s}`).textContent = stats.credentials[s];
  $("n-verified").textContent = web.verified_per_hour.reduce((n, h) => n + h.count, 0);
  chart(stats.issued_per_hour, web.verified_per_hour);
  const tbody = $("credentials");
  tbody.innerHTML = "";
  for (const c of credentials) {
    const actions = el("td");
    const act = name => el("button", { class: "secondary", onclick: () => lifecycle(c.id, name) }, t(name));
    if (c.state === "valid") actions.append(act("suspend"), " ", act("revoke"));
    if (c.state === "suspended") actions.append(act("reinstate"), " ", act("revoke"));
    tbody.append(el("tr", {}, el("td", {}, when(c.issued_at)), el("td", {}, c.id), el("td", {}, `${c.provider} · ${c.wallet_instance.slice(0, 8)}…`),
      el("td", {}, c.configuration), el("td", {}, el("span", { class: `pill ${c.state}` }, t(c.state))), actions));
  }
  const log = $("audit");
  log.innerHTML = "";
  for (const e of audit) log.append(el("tr", {}, el("td", {}, when(e.at)), el("td", {}, `${e.action} (${e.actor})`), el("td", {}, e.outcome), el("td", {}, e.detail)));
  $("trust-version").textContent = trust.version;
  paperPurposes(trust);
  const issuers = $("issuers");
  issuers.innerHTML = "";
  $("widen-issuer").innerHTML = "";
  for (const i of trust.issuers) {
    issuers.append(el("tr", {}, el("td", {}, `${i.name} (${i.id})`), el("td", {}, i.scopes.map(s => typeof s.region === "string" ? s.region : JSON.stringify(s.region)).join(", "))));
    $("widen-issuer").append(el("option", { value: i.id }, i.name));
  }
  const off = $("checks-off");
  off.innerHTML = "";
  for (const c of platform.checks_off) off.append(el("li", {}, `${c.check}: ${c.why}`));
}

async function lifecycle(id, action) {
  $("credentials-error").textContent = "";
  if (action === "revoke" && !confirm(t("confirm_revoke"))) return;
  try { await api("POST", `${authority.admin}/admin/credentials/${id}/${action}`, { reason: "console" }, token); refresh(); }
  catch (e) { $("credentials-error").textContent = e.message; }
}

// The hotline: every credential of one identity number frozen (suspended) at once; the
// desks refuse within seconds (pushed), or within their list's age offline. There is no
// "unfreeze all": that would bring back a lost phone's credentials too; the operator
// reinstates, in the list above, those of the phone the resident still holds.
$("hotline-suspend").onclick = async () => {
  $("hotline-error").textContent = ""; $("hotline-result").textContent = "";
  const id = $("hotline-id").value.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) { $("hotline-error").textContent = t("hotline_bad_id"); return; }
  try {
    const done = await api("POST", `${authority.admin}/admin/residents/suspend`, { id_number: id, reason: "hotline" }, token);
    $("hotline-result").textContent = `${t("frozen")}: ${done.credentials.length} ${t("credentials_n")}, ${done.instances} ${t("instances_n")}`;
    refresh();
  } catch (e) { $("hotline-error").textContent = e.message; }
};

// Bars per hour over the last 24 hours: issued (red) and verified (grey).
function chart(issued, verified) {
  const now = Math.floor(Date.now() / 3600000) * 3600;
  const hours = Array.from({ length: 24 }, (_, i) => now - (23 - i) * 3600);
  const get = (rows, h) => (rows.find(r => r.hour === h) || { count: 0 }).count;
  const max = Math.max(1, ...hours.map(h => Math.max(get(issued, h), get(verified, h))));
  const w = 600, hgt = 160, bw = w / 24;
  let bars = "";
  hours.forEach((h, i) => {
    const a = get(issued, h) / max * (hgt - 20), b = get(verified, h) / max * (hgt - 20);
    bars += `<rect x="${i * bw + 2}" y="${hgt - a}" width="${bw / 2 - 2}" height="${a}" fill="#c8102e"><title>${t("issued")}: ${get(issued, h)}</title></rect>`;
    bars += `<rect x="${i * bw + bw / 2}" y="${hgt - b}" width="${bw / 2 - 2}" height="${b}" fill="#8a93a6"><title>${t("verified")}: ${get(verified, h)}</title></rect>`;
    if (i % 6 === 0) bars += `<text x="${i * bw}" y="12" font-size="11" fill="#5d6677">${new Date(h * 1000).getHours()}:00</text>`;
  });
  $("chart").innerHTML = `<svg viewBox="0 0 ${w} ${hgt}" role="img" aria-label="${t("issuance_chart")}">${bars}<text x="${w - 150}" y="12" font-size="11" fill="#c8102e">■ ${t("issued")}</text><text x="${w - 70}" y="12" font-size="11" fill="#8a93a6">■ ${t("verified")}</text></svg>`;
}

// The counter's printed code, for a resident without a smartphone: the authority checks the
// registry and the catalogue and answers the code's bytes; the platform draws the QR code.
function paperPurposes(trust) {
  const select = $("paper-purpose"), kept = select.value;
  select.innerHTML = "";
  for (const p of trust.purposes.filter(p => p.paper_allowed)) select.append(el("option", { value: p.purpose }, t(p.purpose)));
  // A purpose that does not accept paper is still offered last: the authority says why not.
  for (const p of trust.purposes.filter(p => !p.paper_allowed)) select.append(el("option", { value: p.purpose }, `${t(p.purpose)} (${t("paper_refused")})`));
  if (kept) select.value = kept;
}

$("paper-go").onclick = async () => {
  $("paper-error").textContent = ""; show("paper-sheet", false);
  const id = $("paper-id").value.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) { $("paper-error").textContent = t("hotline_bad_id"); return; }
  try {
    const printed = await api("POST", `${authority.admin}/admin/paper`, {
      id_number: id, full_name: $("paper-name").value.trim(), purpose: $("paper-purpose").value,
      officer: $("paper-officer").value.trim(), hours: Number($("paper-hours").value) || 24,
    }, token);
    const drawn = await api("POST", "/web/qr", { code: printed.code });
    $("paper-qr").innerHTML = drawn.svg;
    $("paper-qr").dataset.code = printed.code;
    $("paper-qr").dataset.credential = printed.credential;
    $("paper-detail").textContent = `${t(printed.purpose)} · ${t("valid_until")} ${when(printed.expires_at)} · ${printed.bytes} B · ${printed.credential}`;
    show("paper-sheet", true);
    refresh();
  } catch (e) { $("paper-error").textContent = e.message; }
};
$("paper-print").onclick = () => window.print();

// A counter registers a parent or guardian to hold a resident's credential: the offer it
// gives the holder (redeemable only by her wallet) and its transaction code.
$("delegation-go").onclick = async () => {
  $("delegation-error").textContent = ""; show("delegation-made", false);
  const ward = $("ward-id").value.trim().toUpperCase(), holder = $("holder-id").value.trim().toUpperCase();
  if (![ward, holder].every(id => /^\d{17}[\dX]$/.test(id))) { $("delegation-error").textContent = t("hotline_bad_id"); return; }
  try {
    const made = await api("POST", `${authority.admin}/admin/delegations`, {
      id_number: ward, full_name: $("ward-name").value.trim(), holder_id_number: holder,
      holder_full_name: $("holder-name").value.trim(), relationship: $("relationship").value,
      officer: $("delegation-officer").value.trim(),
    }, token);
    $("delegation-offer").value = made.offer_uri;
    $("delegation-code").value = made.tx_code;
    show("delegation-made", true);
    refresh();
  } catch (e) { $("delegation-error").textContent = e.message; }
};

$("widen-go").onclick = async () => {
  $("widen-error").textContent = ""; $("widen-result").textContent = "";
  try {
    const done = await api("POST", "/trust/scopes", { issuer: $("widen-issuer").value, region: $("widen-region").value.trim() }, $("operator-token").value.trim());
    $("widen-result").textContent = `${t("version")} ${done.trust_list_version}`;
    refresh();
  } catch (e) { $("widen-error").textContent = e.message; }
};

document.addEventListener("languagechange", () => { if (token && authority) refresh(); });
load();
