// The verifier desk: reads a QR code from the camera or an uploaded image (the pixels go to
// the desk service, which decodes them), then checks it: an offline code at the desk's
// offline check, a phone's engagement (mdoc:) in person. A bank's desk can also ask online.
// Where the desk compares faces, a photograph of the person at the desk (its face camera's
// frame at the moment of the check, or an uploaded photo) goes with the code, and the
// verdict says whether it is the credential's face.
const $ = id => document.getElementById(id);
let platform, desk, stream, scanning = false, faceStream = null, facePhoto = null;

function show(id, on) { $(id).classList.toggle("hidden", !on); }

async function load() {
  platform = await api("GET", "/platform.json");
  const select = $("desk");
  for (const d of platform.desks) select.append(el("option", { value: d.id }, d.name));
  const wanted = new URLSearchParams(location.search).get("desk") || localStorage.getItem("eid.desk");
  if (wanted && platform.desks.some(d => d.id === wanted)) select.value = wanted;
  select.onchange = choose;
  choose();
}

function choose() {
  desk = platform.desks.find(d => d.id === $("desk").value);
  localStorage.setItem("eid.desk", desk.id);
  show("online-box", desk.channels.includes("online"));
  show("online-link-box", false);
  // The W3C Digital Credentials API, where this browser has it (Chrome 141+, Safari 26).
  show("dc-go", desk.channels.includes("online") && desk.digital_credentials === true && "DigitalCredential" in window);
  show("face-box", desk.compares_faces === true);
  $("face-note").textContent = t(desk.face_match_required ? "face_required" : "face_optional");
  if (desk.compares_faces !== true) stopFaceCamera();
  forgetFacePhoto();
}

// An uploaded photograph is for one check: the next customer is photographed again.
function forgetFacePhoto() {
  facePhoto = null;
  $("face-image").value = "";
  $("face-preview").removeAttribute("src");
  show("face-preview", false);
  forgetTurned();
}

// Liveness (a head turn): a second photograph, the person's head turned the way the page
// asks, picked at random for each check (the desk service checks the turn and that it is the
// same person: a photograph held up to the camera does not turn).
let faceTurned = null;
let deskTurn = "left";
function forgetTurned() {
  faceTurned = null;
  $("face-turned-image").value = "";
  $("face-turned-preview").removeAttribute("src");
  show("face-turned-preview", false);
  deskTurn = crypto.getRandomValues(new Uint8Array(1))[0] & 1 ? "left" : "right";
  $("face-turn-box").dataset.turn = deskTurn;
  $("face-turn-ask").dataset.i18n = "ask_turn_" + deskTurn;
  $("face-turn-ask").textContent = t("ask_turn_" + deskTurn);
}
function showTurned(picture) {
  faceTurned = picture;
  $("face-turned-preview").src = "data:image/jpeg;base64," + picture;
  show("face-turned-preview", true);
}
$("face-turn").onchange = () => { show("face-turn-box", $("face-turn").checked); forgetTurned(); };
$("face-turn-go").onclick = () => {
  const v = $("face-video");
  if (faceStream && v.videoWidth) showTurned(jpeg(v, v.videoWidth, v.videoHeight));
  else fail(new Error(t("camera_first")));
};
$("face-turned-image").onchange = async () => {
  const file = $("face-turned-image").files[0];
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    showTurned(jpeg(bitmap, bitmap.width, bitmap.height));
  } catch (e) { fail(e); }
};
// What a request adds for the head turn, when liveness is on: the turned photo and the way
// asked; throws when it is on and there is none.
function turnAsked(face) {
  if (!face || !$("face-turn").checked) return {};
  if (!faceTurned) throw new Error(t("turn_needed"));
  return { face_turned: faceTurned, turn: deskTurn };
}

// A photograph as base64 JPEG, at most 800 pixels a side: enough for the face model, and
// far below the desk's bounds.
function jpeg(source, fullWidth, fullHeight) {
  const scale = Math.min(1, 800 / Math.max(fullWidth, fullHeight));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(fullWidth * scale));
  canvas.height = Math.max(1, Math.round(fullHeight * scale));
  canvas.getContext("2d").drawImage(source, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", 0.9).split(",")[1];
}

// The person at the desk now: the face camera's frame, else the uploaded photo, else none.
function faceNow() {
  const v = $("face-video");
  if (faceStream && v.videoWidth) return jpeg(v, v.videoWidth, v.videoHeight);
  return facePhoto;
}

$("face-image").onchange = async () => {
  const file = $("face-image").files[0];
  if (!file) return;
  try {
    const bitmap = await createImageBitmap(file);
    facePhoto = jpeg(bitmap, bitmap.width, bitmap.height);
    $("face-preview").src = "data:image/jpeg;base64," + facePhoto;
    show("face-preview", true);
  } catch (e) { fail(e); }
};

let faceStarting = false;
async function startFaceCamera() {
  if (faceStarting) return;
  faceStarting = true;
  try {
    faceStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user" } });
    $("face-video").srcObject = faceStream;
    await $("face-video").play();
    show("face-video", true);
    $("face-go").textContent = t("stop_face_camera");
  } catch (e) { stopFaceCamera(); fail(e); }
  faceStarting = false;
}
function stopFaceCamera() {
  if (faceStream) faceStream.getTracks().forEach(track => track.stop());
  faceStream = null;
  show("face-video", false);
  $("face-go").textContent = t("start_face_camera");
}
$("face-go").onclick = () => (faceStream ? stopFaceCamera() : startFaceCamera());

function tab(upload) {
  $("tab-camera").classList.toggle("on", !upload); $("tab-upload").classList.toggle("on", upload);
  show("camera-box", !upload); show("upload-box", upload);
  if (upload) stopCamera();
}
$("tab-camera").onclick = () => tab(false);
$("tab-upload").onclick = () => tab(true);

// The picture's grey levels to the desk service; what the QR code holds. A camera frame or
// a phone's photo can be large: the reader needs no more than 1600 pixels a side (it takes
// at most 2048 a side and 3 MiP in all).
async function decode(source, fullWidth, fullHeight) {
  const scale = Math.min(1, 1600 / Math.max(fullWidth, fullHeight));
  const width = Math.max(1, Math.round(fullWidth * scale)), height = Math.max(1, Math.round(fullHeight * scale));
  const canvas = $("canvas");
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, width, height);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  const luma = new Uint8Array(width * height);
  for (let i = 0, j = 0; j < luma.length; i += 4, j++) luma[j] = (rgba[i] * 299 + rgba[i + 1] * 587 + rgba[i + 2] * 114) / 1000;
  const response = await fetch(`/web/decode?width=${width}&height=${height}`, { method: "POST", body: luma });
  if (response.status === 404) return null;
  const found = await response.json();
  if (!response.ok) throw new Error(found.error_description || found.message || found.error);
  return found;
}

// The verdict on screen is the last customer's: it goes at the next scan, and after a minute.
let verdictTimer;
function clearVerdict() {
  clearTimeout(verdictTimer);
  show("verdict", false); show("details", false);
  $("attributes").innerHTML = ""; $("reasons").innerHTML = ""; $("portrait").removeAttribute("src");
}

async function check(found) {
  $("scan-state").textContent = t("scanning");
  const face = desk.compares_faces === true ? faceNow() : null;
  let turned;
  try { turned = turnAsked(face); } finally { forgetFacePhoto(); }
  // Without the person's photograph this desk could only refuse, after the holder consented:
  // nothing is sent.
  if (desk.face_match_required && desk.compares_faces === true && !face) throw new Error(t("face_needed"));
  let report;
  if (found.text && found.text.startsWith("mdoc:")) {
    const asked = { engagement: found.text, purpose: desk.purpose, ...turned };
    if (face) asked.face = face;
    report = await api("POST", `${desk.url}/verify/in-person`, asked);
  } else {
    const request = face
      ? { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ code: found.bytes, face, ...turned }) }
      : { method: "POST", body: found.bytes };
    const response = await fetch(`${desk.url}/verify/offline?purpose=${desk.purpose}`, request);
    report = await response.json();
    if (!response.ok && report.accepted === undefined) throw new Error(report.error_description || report.message || report.error);
  }
  verdict(report);
}

function verdict(report) {
  $("scan-state").textContent = "";
  const ok = report.accepted === true;
  const box = $("verdict");
  box.className = "verdict " + (ok ? "ok" : "no");
  $("verdict-word").textContent = (ok ? "✓ " : "✗ ") + t(ok ? "accepted" : "refused");
  // A code printed at a counter binds to no phone: the clerk is told, the face is what counts.
  const paper = report.format === "eid_paper_code" ? ` · ${t("printed_code")}` : "";
  // A credential a parent or guardian holds for the resident: the clerk is told who shows it.
  const held = report.delegated ? ` · ${t(report.delegated)}` : "";
  $("verdict-who").textContent = `${desk.name} · ${t(report.purpose || desk.purpose)}${paper}${held}`;
  const a = report.attributes || {};
  const tbody = $("attributes");
  tbody.innerHTML = "";
  for (const [k, v] of Object.entries(a)) {
    // The face itself is shown as a picture; an offline code's template is for the model.
    if (k === "portrait" || k === "face_template") continue;
    const shown = k === "sex" && (v === 1 || v === 2) ? t(v === 1 ? "male" : "female")
      : typeof v === "boolean" ? (v ? "✓" : "✗") : typeof v === "object" ? JSON.stringify(v) : v;
    tbody.append(el("tr", {}, el("th", {}, t(k)), el("td", {}, shown)));
  }
  const portrait = a.portrait;
  show("portrait", !!portrait);
  show("no-portrait", !portrait && report.channel === "offline_qr");
  $("no-portrait").textContent = t(report.presence ? "face_template_only" : "no_portrait");
  if (portrait) $("portrait").src = "data:image/jpeg;base64," + String(portrait).replace(/-/g, "+").replace(/_/g, "/");
  shownPresence = report.presence;
  show("presence", !!shownPresence);
  showPresence();
  const reasons = $("reasons");
  reasons.innerHTML = "";
  for (const r of report.reasons || []) reasons.append(el("li", {}, `${r.reason}: ${r.message}`));
  show("reasons-title", (report.reasons || []).length > 0);
  show("verdict", true); show("details", true);
  clearTimeout(verdictTimer);
  verdictTimer = setTimeout(clearVerdict, 60000);
}

// The face comparison of the verdict on screen, in the page's language.
let shownPresence = null;
function showPresence() {
  const p = shownPresence;
  if (!p) return;
  $("presence").className = p.matched ? "presence ok" : "presence no";
  const live = p.live === undefined ? "" : ` · ${t(p.live ? "turned_passed" : "turned_failed")}`;
  $("presence").textContent = `${t(p.matched ? "face_matches" : "face_differs")} (${p.score.toFixed(2)} ${p.matched ? "≤" : ">"} ${p.threshold.toFixed(2)})${live}`;
}

function fail(e) { $("scan-state").textContent = String(e.message || e); }

$("image").onchange = async () => {
  const file = $("image").files[0];
  if (!file) return;
  clearVerdict();
  try {
    const bitmap = await createImageBitmap(file);
    const found = await decode(bitmap, bitmap.width, bitmap.height);
    if (!found) return fail(t("no_qr"));
    await check(found);
  } catch (e) { fail(e); }
  $("image").value = "";
};

async function startCamera() {
  clearVerdict();
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    $("video").srcObject = stream;
    await $("video").play();
    $("camera-go").textContent = t("stop_camera");
    scanning = true;
    $("scan-state").textContent = t("scanning");
    while (scanning) {
      const v = $("video");
      if (v.videoWidth) {
        const found = await decode(v, v.videoWidth, v.videoHeight).catch(() => null);
        if (found) { stopCamera(); await check(found).catch(fail); break; }
      }
      await new Promise(r => setTimeout(r, 400));
    }
  } catch (e) { fail(e); }
}
function stopCamera() {
  scanning = false;
  if (stream) stream.getTracks().forEach(track => track.stop());
  stream = null;
  $("camera-go").textContent = t("start_camera");
}
$("camera-go").onclick = () => (scanning ? stopCamera() : startCamera());

// Each request the desk starts is watched until it is answered with an acceptance or
// expires (five minutes); asking again ends the previous watch. A refusal (a declining
// holder, or anyone who read the public request and posted one) is shown, but the request
// stays open: the holder's real answer after it still replaces it.
let onlineRound = 0;
$("online-go").onclick = async () => {
  clearVerdict();
  const round = ++onlineRound;
  $("online-go").disabled = true;
  let started;
  // The customer in front of the camera now: compared with the portrait the answer discloses.
  const asked = { purpose: desk.purpose };
  const face = desk.compares_faces === true ? faceNow() : null;
  let turned;
  try { turned = turnAsked(face); } catch (e) { forgetFacePhoto(); $("online-go").disabled = false; fail(e); return; }
  forgetFacePhoto();
  if (desk.face_match_required && desk.compares_faces === true && !face) { $("online-go").disabled = false; fail(new Error(t("face_needed"))); return; }
  if (face) Object.assign(asked, { face }, turned);
  try { started = await api("POST", `${desk.url}/vp/requests`, asked); }
  catch (e) { fail(e); return; }
  finally { $("online-go").disabled = false; }
  $("online-link").textContent = started.invocation;
  show("online-link-box", true);
  $("scan-state").textContent = t("waiting_answer");
  let shown = "";
  for (let i = 0; i < 300 && round === onlineRound; i++) {
    await new Promise(r => setTimeout(r, 1000));
    let outcome;
    try { outcome = await api("GET", `${desk.url}${started.result}`); } catch (e) { fail(e); break; }
    if (round !== onlineRound || !outcome.report) continue;
    const seen = JSON.stringify(outcome.report);
    if (seen !== shown) { shown = seen; verdict(outcome.report); }
    if (outcome.report.accepted) { show("online-link-box", false); break; }
  }
};

// Through the browser: the desk service makes an org-iso-mdoc request bound to this page's
// origin, the browser hands it to a wallet on the phone, the answer goes back to the
// service, which opens and verifies it. A decline or a cancel rejects get() and shows no
// report: nothing was shared.
$("dc-go").onclick = async () => {
  clearVerdict();
  const round = ++onlineRound;
  $("dc-go").disabled = true;
  try {
    const asked = { purpose: desk.purpose };
    const face = desk.compares_faces === true ? faceNow() : null;
    let turned;
    try { turned = turnAsked(face); } finally { forgetFacePhoto(); }
    if (desk.face_match_required && desk.compares_faces === true && !face) throw new Error(t("face_needed"));
    if (face) Object.assign(asked, { face }, turned);
    const started = await api("POST", `${desk.url}/dc/requests`, asked);
    $("scan-state").textContent = t("waiting_answer");
    let credential;
    try {
      credential = await navigator.credentials.get({ digital: started.digital });
    } catch (e) {
      if (e.name === "NotAllowedError" || e.name === "AbortError") { $("scan-state").textContent = t("browser_declined"); return; }
      throw e;
    }
    const report = await api("POST", `${desk.url}${started.response}`, { protocol: credential.protocol, data: credential.data });
    // Another check started meanwhile (another customer, another desk): not this one's.
    if (round !== onlineRound) return;
    $("scan-state").textContent = "";
    verdict(report);
  } catch (e) { fail(e); }
  finally { $("dc-go").disabled = false; }
};

document.addEventListener("languagechange", () => {
  $("camera-go").textContent = t(scanning ? "stop_camera" : "start_camera");
  $("face-go").textContent = t(faceStream ? "stop_face_camera" : "start_face_camera");
  if (desk) $("face-note").textContent = t(desk.face_match_required ? "face_required" : "face_optional");
  showPresence();
});
load();
