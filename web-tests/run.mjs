// Browser test of the eid web pages in Debian's Chromium (playwright-core drives it; no
// browser is downloaded): `eid up` on free ports in a fresh folder, then
//   enrol on the wallet page (remote, with the face fixtures: a still selfie twice is refused,
//   the head turned the way the page asks is accepted) → show the offline QR → the
//   airport desk page reads it from an uploaded screenshot → accepted → and from its
//   camera → the desks' face camera sees the holder (matched), then someone else (refused
//   for the face where the purpose requires a match), offline and in person → the gate asks
//   for a head turn: a still face refused, her turn as asked accepted → the bank asks online, declined then shared → a counter
//   registers her as another resident's guardian: her wallet receives that credential and lists it apart; the hotel asks
//   online, she shows the ward's: the desk says a guardian shows it, refuses it for someone else's face and accepts the
//   ward's; in person, the same → the bank asks
//   through the browser (the Digital Credentials API, Chromium's virtual wallet handing back
//   what her hosted wallet answered): accepted, a decline said, an answer for another request
//   refused (against a cluster too: the desk's replicas share the requests) → the phone is reported lost on
//   another phone's wallet page → the desk refuses the lost phone's code (suspended) → a
//   third phone enrols and moves ("moving to this phone"): accepted, and the lost phone is
//   now revoked for good; the history the first phone backed up (its recovery code shown
//   once) is restored on it with that code, not with another; the authority console logs in and shows the revocation;
//   it prints no paper code for a bank, prints one for airport security, which the airport
//   desk accepts with her face and refuses with another, until the console revokes it; its
//   hotline freezes her e-ID by number: the desk refuses the new phone too; a resident-wide
//   reinstate (the admin API) brings the new phone back, never the revoked old one.
// A screenshot of every page is saved to web-tests/screenshots/ (not tracked), or to the
// folder EID_SCREENSHOTS names: EID_SCREENSHOTS=docs/screenshots refreshes the README's.
//
// Usage: node web-tests/run.mjs PATH/TO/eid   (needs EID_PROOFING_DIR: models and fixtures)
// With EID_AGAINST=http://127.0.0.1:8400 it runs against that platform instead (a running
// `scripts/cluster up --face`) and starts none.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const eid = resolve(process.argv[2] || "target/debug/eid");
const proofing = process.env.EID_PROOFING_DIR;
if (!proofing) {
  console.error("web-tests: EID_PROOFING_DIR is not set (scripts/fetch-proofing-data): the wallet enrols with the face fixtures");
  process.exit(2);
}
const fixtures = join(proofing, "fixtures");
const work = mkdtempSync(join(tmpdir(), "eid-web-"));
const shots = resolve(process.env.EID_SCREENSHOTS || fileURLToPath(new URL("screenshots", import.meta.url)));
mkdirSync(shots, { recursive: true });
const PIN = "246810";

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures += 1;
}

// eid up on ports the kernel picks (--port 0: a port picked here and then handed to it could be
// taken meanwhile, and so could the next two, the authorities'); its base URL from the line
// saying it is up.
function up() {
  return new Promise((resolveUp, reject) => {
    const child = spawn(eid, ["up", "--port", "0"], { cwd: work, env: process.env });
    let out = "";
    const timer = setTimeout(() => reject(new Error(`eid up did not come up:\n${out}`)), 120000);
    child.stdout.on("data", d => {
      out += d;
      const ready = out.match(/the story: eid demo --against (\S+)\n/);
      if (ready) { clearTimeout(timer); resolveUp({ child, base: ready[1] }); }
    });
    child.stderr.on("data", d => { out += d; });
    child.on("exit", code => { clearTimeout(timer); reject(new Error(`eid up exited ${code}:\n${out}`)); });
  });
}

const against = process.env.EID_AGAINST;
const started = against ? null : await up();
const base = against ? against.replace(/\/$/, "") : started.base;
const server = started?.child ?? null;
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run"];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ARGS });

try {
  const platform = await (await fetch(`${base}/platform.json`)).json();
  const resident = platform.demo_residents.find(r => r.authority === "nanning");
  // Her live capture (facing, then turned, `capture.turn`); the wallet page asks for a turn
  // either way at random: the other way is the same two photographs mirrored.
  const capture = resident.capture;
  const mirrored = name => {
    const out = join(work, "mirrored-" + name);
    execFileSync("convert", [join(fixtures, name), "-flop", out]);
    return out;
  };
  const captures = {
    [capture.turn]: [join(fixtures, capture.facing), join(fixtures, capture.turned)],
    [capture.turn === "left" ? "right" : "left"]: [mirrored(capture.facing), mirrored(capture.turned)],
  };
  // Shows `page` her face in `facing` and her head turned the way the page asks in `turned`.
  const turnAsAsked = async (page, facing, turned) => {
    const way = await page.getAttribute(turned, "data-turn");
    await page.setInputFiles(facing, captures[way][0]);
    await page.setInputFiles(turned, captures[way][1]);
    return way;
  };
  check(resident && resident.portrait, "a Nanning demo resident with a registry portrait");

  // The citizen's phone: super-app A, in Chinese.
  const pin = async page => { await page.fill("#pin-input", PIN); await page.click("#pin-ok"); };
  // A phone (its own browser profile) with a new wallet at `provider`.
  async function newWallet(lang, provider) {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, locale: lang });
    const page = await phone.newPage();
    await page.goto(`${base}/wallet/?lang=${lang.slice(0, 2)}`);
    await page.waitForSelector("#create:not(.hidden)");
    await page.selectOption("#provider", provider);
    await page.waitForFunction(p => localStorage.getItem("eid.provider") === p || p === document.getElementById("provider").options[0].value, provider);
    await page.fill("#new-pin", PIN);
    await page.fill("#new-pin2", PIN);
    await page.click("#create-go");
    await page.waitForSelector("#lost-panel:not(.hidden)");
    return page;
  }
  const wallet = await newWallet("zh-CN", platform.providers[0].id);
  await wallet.waitForSelector("#enrol:not(.hidden)");
  await wallet.fill("#id-number", resident.id_number);
  await wallet.fill("#full-name", resident.full_name);
  await wallet.setInputFiles("#card-front", join(fixtures, resident.portrait));
  await wallet.setInputFiles("#card-back", join(fixtures, resident.portrait));
  // A photograph held up to the camera twice: the head does not turn, refused saying so.
  await wallet.setInputFiles("#selfie", captures.right[0]);
  await wallet.setInputFiles("#selfie-turned", captures.right[0]);
  await wallet.click("#enrol-go");
  await pin(wallet);
  await wallet.waitForFunction(() => document.getElementById("enrol-error").textContent.length > 0, null, { timeout: 60000 });
  const still = await wallet.textContent("#enrol-error");
  check(/did not turn/.test(still), `a still selfie twice is refused, the head did not turn: ${still}`);
  const way = await turnAsAsked(wallet, "#selfie", "#selfie-turned");
  const asks = await wallet.textContent("label[for=selfie-turned]");
  check(asks.includes(way === "left" ? "向左转" : "向右转"), `the page asks her to turn to her ${way}: ${asks}`);
  await wallet.screenshot({ path: join(shots, "wallet-enrol.png"), fullPage: true });
  await wallet.click("#enrol-go");
  await pin(wallet);
  await wallet.waitForSelector("#enrolled:not(.hidden)", { timeout: 60000 });
  const number = await wallet.textContent("#card-number");
  check(number === resident.id_number, "the wallet shows the enrolled card");
  check(await wallet.$eval("#portrait", img => img.naturalWidth > 0), "the card shows the registry portrait");
  await wallet.screenshot({ path: join(shots, "wallet-card.png"), fullPage: true });

  // Her history is backed up at the provider, encrypted (enrolled with her face, the wallet
  // has the authority's history secret): the recovery code is shown this once.
  const backupSays = await wallet.textContent("#backup-state");
  check(/未备份/.test(backupSays) && await wallet.isVisible("#backup-go"), `the wallet offers the history backup: ${backupSays}`);
  await wallet.click("#backup-go");
  await pin(wallet);
  await wallet.waitForFunction(() => document.getElementById("recovery-code-shown") || document.getElementById("backup-error").textContent.length > 0);
  const recoveryCode = (await wallet.textContent("#recovery-code-shown").catch(() => "")).trim();
  check(/^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$/.test(recoveryCode), `the wallet shows a recovery code once: ${recoveryCode}${await wallet.textContent("#backup-error")}`);
  check(/已加密备份/.test(await wallet.textContent("#backup-state")) && !await wallet.isVisible("#backup-go"), "the backup is on");
  await wallet.screenshot({ path: join(shots, "wallet-backup.png"), fullPage: true });

  // The offline QR for airport security, shown on `page`. With `racing`, the holder asks for a new code
  // while the one shown is about to refresh itself, so the refresh lands while the PIN is
  // being typed: the page must then show the code it was asked for, once.
  async function showQr(page, racing = false) {
    await page.selectOption("#purpose", "airport_security");
    if (racing) await page.waitForFunction(() => Number(document.getElementById("qr-seconds").textContent) <= 1, null, { timeout: 40000 });
    await page.click("#qr-go");
    const before = await page.$eval("#qr", q => q.dataset.code || "");
    if (racing) {
      await page.waitForTimeout(2500);
      check(await page.$eval("#qr", q => q.dataset.code) === before, "the code on screen stops refreshing while the PIN is asked for");
    }
    await pin(page);
    await page.waitForFunction(old => {
      const q = document.getElementById("qr");
      return q.dataset.code && q.dataset.code !== old && q.querySelector("svg");
    }, before);
    const file = join(work, `qr-${Date.now()}.png`);
    await (await page.$("#qr svg")).screenshot({ path: file });
    return file;
  }
  let qr = await showQr(wallet);
  await wallet.screenshot({ path: join(shots, "wallet-qr.png") });

  // The airport desk, in English: reads the uploaded picture.
  const deskContext = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "en-GB" });
  const desk = await deskContext.newPage();
  await desk.goto(`${base}/desk/?lang=en&desk=nanning-airport`);
  await desk.click("#tab-upload");
  // The person at the desk, where it compares faces: her photograph, uploaded for each
  // check (the page forgets it after one).
  const compares = platform.desks.find(d => d.id === "nanning-airport").compares_faces === true;
  async function herAt(page) {
    if (!compares) return;
    await page.setInputFiles("#face-image", join(fixtures, resident.selfie));
    await page.waitForSelector("#face-preview:not(.hidden)");
  }
  async function scan(file) {
    await desk.evaluate(() => document.getElementById("verdict").classList.add("hidden"));
    await herAt(desk);
    await desk.setInputFiles("#image", file);
    await desk.waitForSelector("#verdict:not(.hidden)", { timeout: 30000 });
    return { ok: await desk.$eval("#verdict", v => v.classList.contains("ok")), reasons: await desk.textContent("#reasons") };
  }
  let seen = await scan(qr);
  check(seen.ok, `the desk accepts the wallet's QR code ${seen.reasons}`);
  check((await desk.textContent("#attributes")).includes(resident.id_number), "the desk shows the disclosed identity number");
  await desk.screenshot({ path: join(shots, "desk-accepted.png"), fullPage: true });

  // The same desk reading a fresh code from its camera: Chromium's fake camera plays a
  // video of the wallet's QR code (Y4M, made from the page's own picture of it).
  await showQr(wallet, true);
  const luma = await wallet.evaluate(async () => {
    const svg = new XMLSerializer().serializeToString(document.querySelector("#qr svg"));
    const image = new Image();
    image.src = "data:image/svg+xml;base64," + btoa(svg);
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = 640; canvas.height = 480;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, 640, 480);
    ctx.drawImage(image, 120, 40, 400, 400);
    const rgba = ctx.getImageData(0, 0, 640, 480).data;
    let grey = "";
    for (let i = 0; i < rgba.length; i += 4) grey += String.fromCharCode(rgba[i]);
    return btoa(grey);
  });
  const video = join(work, "qr.y4m");
  const chroma = Buffer.alloc(320 * 240, 128);
  writeFileSync(video, Buffer.concat([Buffer.from("YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\nFRAME\n"),
    Buffer.from(luma, "base64"), chroma, chroma]));
  const cameraBrowser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: [...ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", `--use-file-for-fake-video-capture=${video}`],
  });
  try {
    const gate = await (await cameraBrowser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    await gate.goto(`${base}/desk/?lang=zh&desk=nanning-airport`);
    await herAt(gate);
    await gate.click("#camera-go");
    await gate.waitForSelector("#verdict:not(.hidden)", { timeout: 30000 });
    check(await gate.$eval("#verdict", v => v.classList.contains("ok")), `the desk accepts the code from its camera ${await gate.textContent("#reasons")}`);
    await gate.screenshot({ path: join(shots, "desk-camera.png"), fullPage: true });
  } finally {
    await cameraBrowser.close();
  }

  // The face at the desk: a desk whose face camera (Chromium's fake one, playing a
  // photograph as Y4M) sees the holder, then someone else (the other city's demo resident),
  // offline at the airport and in person at the hotel.
  const deskInfo = id => platform.desks.find(d => d.id === id);
  const someoneElse = platform.demo_residents.find(r => r.authority !== "nanning");
  check(deskInfo("nanning-airport").compares_faces === true && someoneElse && someoneElse.selfie, "the desks compare faces (platform.json), and there is someone else to show them");
  async function faceVideo(name) {
    const jpeg = readFileSync(join(fixtures, name)).toString("base64");
    const planes = await wallet.evaluate(async source => {
      const image = new Image();
      image.src = "data:image/jpeg;base64," + source;
      await image.decode();
      const canvas = document.createElement("canvas");
      canvas.width = 640; canvas.height = 480;
      const ctx = canvas.getContext("2d");
      ctx.fillStyle = "#808080"; ctx.fillRect(0, 0, 640, 480);
      const scale = Math.min(640 / image.width, 480 / image.height);
      const w = image.width * scale, h = image.height * scale;
      ctx.drawImage(image, (640 - w) / 2, (480 - h) / 2, w, h);
      const rgba = ctx.getImageData(0, 0, 640, 480).data;
      // Y, then Cb and Cr at half resolution (BT.601 full range, as C420jpeg says).
      let y = "", cb = "", cr = "";
      for (let i = 0; i < rgba.length; i += 4) y += String.fromCharCode(Math.round(0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2]));
      const clamp = v => String.fromCharCode(Math.max(0, Math.min(255, Math.round(v))));
      for (let row = 0; row < 480; row += 2) for (let col = 0; col < 640; col += 2) {
        const i = (row * 640 + col) * 4, [r, g, b] = [rgba[i], rgba[i + 1], rgba[i + 2]];
        cb += clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
        cr += clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
      }
      return [btoa(y), btoa(cb), btoa(cr)];
    }, jpeg);
    const file = join(work, `face-${name}.y4m`);
    writeFileSync(file, Buffer.concat([Buffer.from("YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\nFRAME\n"),
      ...planes.map(p => Buffer.from(p, "base64"))]));
    return file;
  }
  // A desk page in a browser whose camera sees `face`, its face camera on, QR codes by upload.
  async function faceDesk(face, id) {
    const faceBrowser = await chromium.launch({
      executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
      args: [...ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", `--use-file-for-fake-video-capture=${await faceVideo(face)}`],
    });
    const page = await (await faceBrowser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await page.goto(`${base}/desk/?lang=en&desk=${id}`);
    await page.waitForSelector("#face-box:not(.hidden)");
    await page.click("#face-go");
    await page.waitForFunction(() => document.getElementById("face-video").videoWidth > 0, null, { timeout: 15000 });
    await page.click("#tab-upload");
    return { browser: faceBrowser, page };
  }
  async function faceVerdict(page) {
    await page.waitForSelector("#verdict:not(.hidden)", { timeout: 60000 });
    return {
      ok: await page.$eval("#verdict", v => v.classList.contains("ok")),
      matched: await page.$eval("#presence", p => p.classList.contains("ok")),
      compared: await page.$eval("#presence", p => !p.classList.contains("hidden")),
      presence: await page.textContent("#presence"),
      reasons: await page.textContent("#reasons"),
    };
  }
  // What the desk must say of someone else: refused for the face where the purpose requires
  // a match; else accepted with the faces shown apart, for the clerk.
  function notHer(seen, id) {
    return deskInfo(id).face_match_required ? !seen.ok && seen.reasons.includes("face_mismatch") : seen.ok && seen.compared && !seen.matched;
  }
  for (const [face, her] of [[resident.selfie, true], [someoneElse.selfie, false]]) {
    const who = her ? "the holder" : "someone else";
    // Offline, at the airport.
    const gate = await faceDesk(face, "nanning-airport");
    try {
      await gate.page.setInputFiles("#image", await showQr(wallet));
      const seen = await faceVerdict(gate.page);
      check(her ? seen.ok && seen.matched : notHer(seen, "nanning-airport"), `offline, the airport desk's face camera sees ${who}: ${seen.ok ? "accepted" : "refused"}, ${seen.presence} ${seen.reasons}`);
      await gate.page.screenshot({ path: join(shots, her ? "desk-face-match.png" : "desk-face-mismatch.png"), fullPage: true });
    } finally { await gate.browser.close(); }
    // In person, at the hotel: the desk reads the wallet's engagement, the holder consents.
    const hotel = await faceDesk(face, "nanning-hotel");
    try {
      await wallet.click("#in-person-go");
      await wallet.waitForSelector("#engagement svg");
      const engagement = join(work, `engagement-${Date.now()}.png`);
      await (await wallet.$("#engagement svg")).screenshot({ path: engagement });
      await hotel.page.setInputFiles("#image", engagement);
      await wallet.waitForSelector("#consent:not(.hidden)", { timeout: 30000 });
      await wallet.click("#consent-yes");
      await pin(wallet);
      const seen = await faceVerdict(hotel.page);
      check(her ? seen.ok && seen.matched : notHer(seen, "nanning-hotel"), `in person, the hotel desk's face camera sees ${who}: ${seen.ok ? "accepted" : "refused"}, ${seen.presence} ${seen.reasons}`);
    } finally { await hotel.browser.close(); }
  }

  // Liveness at the airport gate, the clerk asking for a head turn: a still picture (the
  // face camera's, for both photographs) is refused for it; her two photographs, the second
  // turned the way the page asks, are accepted and said to be live.
  const liveGate = await faceDesk(resident.selfie, "nanning-airport");
  try {
    const page = liveGate.page;
    await page.check("#face-turn");
    await page.click("#face-turn-go");
    await page.waitForSelector("#face-turned-preview:not(.hidden)");
    await page.setInputFiles("#image", await showQr(wallet));
    let seen = await faceVerdict(page);
    check(!seen.ok && seen.reasons.includes("face_not_live"), `a still face before the camera is refused for the head turn: ${seen.presence} ${seen.reasons}`);
    await page.click("#face-go");
    await page.evaluate(() => document.getElementById("verdict").classList.add("hidden"));
    const way = await page.getAttribute("#face-turn-box", "data-turn");
    await page.setInputFiles("#face-image", captures[way][0]);
    await page.waitForSelector("#face-preview:not(.hidden)");
    await page.setInputFiles("#face-turned-image", captures[way][1]);
    await page.waitForSelector("#face-turned-preview:not(.hidden)");
    await page.setInputFiles("#image", await showQr(wallet));
    seen = await faceVerdict(page);
    check(seen.ok && seen.presence.includes("head turn passed"), `her head turned to her ${way} as asked is accepted: ${seen.presence} ${seen.reasons}`);
    await page.screenshot({ path: join(shots, "desk-face-live.png"), fullPage: true });
  } finally { await liveGate.browser.close(); }

  // The bank, online: the holder says no and the bank's page says so at once (not after
  // the request's five minutes); then she shares after all.
  const bank = await deskContext.newPage();
  await bank.goto(`${base}/desk/?lang=en&desk=nanning-bank`);

  async function bankAsks() {
    const before = await bank.textContent("#online-link");
    // The customer's photograph, taken when the bank asks (uploaded here).
    await herAt(bank);
    await bank.click("#online-go");
    await bank.waitForFunction(old => {
      const link = document.getElementById("online-link").textContent;
      return link && link !== old && !document.getElementById("online-link-box").classList.contains("hidden");
    }, before);
    await wallet.fill("#invocation", await bank.textContent("#online-link"));
    await wallet.click("#online-go");
    await wallet.waitForSelector("#consent:not(.hidden)");
  }
  async function bankVerdict() {
    await bank.waitForSelector("#verdict:not(.hidden)", { timeout: 15000 });
    return { ok: await bank.$eval("#verdict", v => v.classList.contains("ok")), reasons: await bank.textContent("#reasons") };
  }
  await bankAsks();
  await wallet.click("#consent-no");
  seen = await bankVerdict();
  check(!seen.ok && seen.reasons.includes("holder_declined"), `the bank's page says the holder declined: ${seen.reasons}`);
  // She changes her mind: the same request is still open, and the bank's page turns to
  // her answer without being asked again.
  await wallet.click("#online-go");
  await wallet.waitForSelector("#consent:not(.hidden)");
  await wallet.click("#consent-yes");
  await pin(wallet);
  await bank.waitForSelector("#verdict.ok", { timeout: 15000 }).catch(() => {});
  seen = await bankVerdict();
  check(seen.ok, `the bank accepts when she shares after all ${seen.reasons}`);

  // She becomes the guardian of another resident of Nanning (an adult, registered at the
  // counter: the console's panel), and receives that credential on her wallet page, where it is
  // listed apart from her own. The hotel asks online; she chooses the ward's credential;
  // the desk says a guardian shows it, refuses it when the face at the desk is someone
  // else's, and accepts it when it is the ward's. (Every synthetic resident's registry
  // portrait is the same fixture, for want of other faces: the ward's face is that
  // photograph.)
  {
    const nanning = platform.authorities.find(a => a.key === "nanning");
    const ward = readFileSync(join(dirname(nanning.admin_token_file), "residents.jsonl"), "utf8")
      .split("\n").filter(Boolean).map(line => JSON.parse(line))
      .find(r => r.id_number !== resident.id_number && r.id_number.slice(6, 10) < "2000");
    // The counter: the authority console's delegation panel.
    const counter = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await counter.goto(`${base}/console/?lang=en`);
    await counter.selectOption("#authority", "nanning");
    await counter.fill("#token", readFileSync(nanning.admin_token_file, "utf8").trim());
    await counter.click("#login-go");
    await counter.waitForSelector("#board:not(.hidden)");
    await counter.fill("#ward-id", ward.id_number);
    await counter.fill("#ward-name", ward.full_name);
    await counter.fill("#holder-id", resident.id_number);
    await counter.fill("#holder-name", resident.full_name);
    // A parent of an adult is refused, saying why; a guardian is registered.
    await counter.selectOption("#relationship", "parent");
    await counter.click("#delegation-go");
    await counter.waitForFunction(() => document.getElementById("delegation-error").textContent !== "");
    const refusedParent = await counter.textContent("#delegation-error");
    check(refusedParent.includes("delegation_refused") || refusedParent.includes("minor"), `the counter refuses a parent of an adult: ${refusedParent}`);
    await counter.selectOption("#relationship", "guardian");
    await counter.click("#delegation-go");
    await counter.waitForSelector("#delegation-made:not(.hidden)", { timeout: 15000 });
    const made = { offer_uri: await counter.inputValue("#delegation-offer"), tx_code: await counter.inputValue("#delegation-code") };
    check(made.offer_uri.startsWith("openid-credential-offer://") && /^\d+$/.test(made.tx_code), "the counter registers her as the ward's guardian: an offer and a code");
    await counter.screenshot({ path: join(shots, "console-delegation.png"), fullPage: true });
    await counter.close();
    await wallet.fill("#held-offer", made.offer_uri);
    await wallet.fill("#held-tx-code", made.tx_code);
    await wallet.click("#held-go");
    await pin(wallet);
    await wallet.waitForSelector("#held li[data-holding]", { timeout: 30000 });
    const held = await wallet.textContent("#held");
    check(held.includes(ward.full_name) && held.includes("监护人代持"), `the wallet lists the ward's credential as held by a guardian: ${held}`);
    check(!(await wallet.textContent("#card-fields")).includes(ward.full_name), "her own card shows her own, not the ward's");
    await wallet.screenshot({ path: join(shots, "wallet-held.png"), fullPage: true });
    const hotel = await deskContext.newPage();
    await hotel.goto(`${base}/desk/?lang=en&desk=nanning-hotel`);
    // The hotel asks with the photograph of the person at its desk; she shows the ward's.
    const hotelSees = async face => {
      await hotel.evaluate(() => document.getElementById("verdict").classList.add("hidden"));
      if (compares) {
        await hotel.setInputFiles("#face-image", join(fixtures, face));
        await hotel.waitForSelector("#face-preview:not(.hidden)");
      }
      const before = await hotel.textContent("#online-link");
      await hotel.click("#online-go");
      await hotel.waitForFunction(old => {
        const link = document.getElementById("online-link").textContent;
        return link && link !== old && !document.getElementById("online-link-box").classList.contains("hidden");
      }, before);
      await wallet.fill("#invocation", await hotel.textContent("#online-link"));
      await wallet.click("#online-go");
      await wallet.waitForSelector("#consent:not(.hidden)");
      const offered = !(await wallet.$eval("#consent-whose-box", b => b.classList.contains("hidden")));
      await wallet.selectOption("#consent-whose", await wallet.getAttribute("#held li[data-holding]", "data-holding"));
      await wallet.click("#consent-yes");
      await pin(wallet);
      await hotel.waitForSelector("#verdict:not(.hidden)", { timeout: 15000 });
      return { offered, ok: await hotel.$eval("#verdict", v => v.classList.contains("ok")), who: await hotel.textContent("#verdict-who"),
        reasons: await hotel.textContent("#reasons"), attributes: await hotel.textContent("#attributes") };
    };
    seen = await hotelSees(someoneElse.selfie);
    check(seen.offered, "the hotel's request offers her the choice of whose credential");
    check(seen.who.includes("held by a guardian"), `the hotel's desk says a guardian shows it: ${seen.who}`);
    check(!compares || (!seen.ok && seen.reasons.includes("face_mismatch")), `the hotel refuses it with someone else's face at the desk: ${seen.reasons}`);
    seen = await hotelSees(resident.portrait);
    check(seen.ok && seen.attributes.includes(ward.id_number) && seen.who.includes("held by a guardian"),
      `the hotel accepts it with the ward at the desk, showing the ward's data: ${seen.reasons}`);
    await hotel.screenshot({ path: join(shots, "desk-delegated.png"), fullPage: true });
    // In person too: the hotel's desk reads her phone's engagement QR; she shows the ward's.
    await hotel.evaluate(() => document.getElementById("verdict").classList.add("hidden"));
    await hotel.click("#tab-upload");
    if (compares) {
      await hotel.setInputFiles("#face-image", join(fixtures, resident.portrait));
      await hotel.waitForSelector("#face-preview:not(.hidden)");
    }
    await wallet.click("#in-person-go");
    await wallet.waitForSelector("#engagement svg");
    const heldQr = join(work, `engagement-held-${Date.now()}.png`);
    await (await wallet.$("#engagement svg")).screenshot({ path: heldQr });
    await hotel.setInputFiles("#image", heldQr);
    await wallet.waitForSelector("#consent:not(.hidden)", { timeout: 30000 })
      .catch(async e => { throw new Error(`${e.message}; the desk says: ${await hotel.textContent("#scan-state")}`); });
    const offered = !(await wallet.$eval("#consent-whose-box", b => b.classList.contains("hidden")));
    await wallet.selectOption("#consent-whose", await wallet.getAttribute("#held li[data-holding]", "data-holding"));
    await wallet.click("#consent-yes");
    await pin(wallet);
    await hotel.waitForSelector("#verdict:not(.hidden)", { timeout: 30000 });
    seen = { ok: await hotel.$eval("#verdict", v => v.classList.contains("ok")), who: await hotel.textContent("#verdict-who"),
      reasons: await hotel.textContent("#reasons"), attributes: await hotel.textContent("#attributes") };
    check(offered && seen.ok && seen.attributes.includes(ward.id_number) && seen.who.includes("held by a guardian"),
      `in person, the hotel's request offers her the choice and its desk accepts the ward's, held by a guardian: ${seen.who} ${seen.reasons}`);
    await hotel.close();
  }

  // The bank through the browser (the W3C Digital Credentials API: org-iso-mdoc, then
  // openid4vp-v1-signed and -unsigned, offered in the same call). Chromium's
  // virtual wallet stands for her phone: it hands back whatever it is told and never sees
  // the request, so the test reads the request as the desk service makes it, has her
  // hosted wallet answer it for this page's origin (eid's wallet library, as her phone's
  // app would, the PIN as her consent), and tells the virtual wallet to hand that back when
  // the page asks.
  // Against the cluster the request is made at one replica of the bank's desk and the
  // answer may come back to the other: they share the requests in Redis.
  {
    const cdp = await deskContext.newCDPSession(bank);
    const walletId = await wallet.evaluate(p => localStorage.getItem(`eid.wallet.${p}`), platform.providers[0].id);
    const handOver = (data, origin, protocol = "org-iso-mdoc") => fetch(`${platform.providers[0].api}/wallets/${walletId}/digital-credentials`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ protocol, data, origin, pin: PIN }),
    });
    const origin = await bank.evaluate(() => location.origin);
    let lastAnswer = null;
    // Before the page asks the browser, the virtual wallet is set as `decide` says, from
    // the request the page is given.
    async function browserAsks(decide) {
      await bank.unroute("**/dc/requests").catch(() => {});
      await bank.route("**/dc/requests", async route => {
        const response = await route.fetch();
        const started = await response.json();
        const entry = started.digital.requests[0];
        await cdp.send("DigitalCredentials.setVirtualWalletBehavior", await decide(entry, started));
        await route.fulfill({ response, json: started });
      });
      await bank.evaluate(() => { document.getElementById("verdict").classList.add("hidden"); document.getElementById("scan-state").textContent = ""; });
      await herAt(bank);
      await bank.click("#dc-go");
    }
    check(await bank.$eval("#dc-go", b => !b.classList.contains("hidden")), "the bank's page offers the browser's wallet (Chromium has the Digital Credentials API)");
    await browserAsks(async (entry, started) => {
      check(entry.protocol === "org-iso-mdoc" && started.origin === origin, `the request is org-iso-mdoc, bound to the page's origin ${started.origin}`);
      const elsewhere = await handOver(entry.data, "https://bank.example.evil");
      const refused = await elsewhere.json();
      check(elsewhere.status === 422 && /signature/.test(refused.error_description || ""),
        `her wallet refuses the bank's request handed over from another origin: ${refused.error_description}`);
      const answered = await handOver(entry.data, origin);
      const answer = await answered.json();
      check(answered.ok, `her wallet answers the request for the page's origin ${answered.ok ? "" : JSON.stringify(answer)}`);
      lastAnswer = answer;
      return { action: "respond", protocol: answer.protocol, response: answer.data };
    });
    seen = await bankVerdict();
    check(seen.ok, `the bank accepts her answer through the browser ${seen.reasons}`);
    await bank.screenshot({ path: join(shots, "desk-browser-wallet.png"), fullPage: true });

    await browserAsks(async () => ({ action: "decline" }));
    await bank.waitForFunction(() => document.getElementById("scan-state").textContent.length > 0, null, { timeout: 15000 });
    const said = await bank.textContent("#scan-state");
    check(/declined|cancelled/.test(said) && await bank.$eval("#verdict", v => v.classList.contains("hidden")),
      `a decline in the browser shows no report and says so: ${said}`);

    // The first answer handed back to a new request (another nonce and key).
    await browserAsks(async () => ({ action: "respond", protocol: lastAnswer.protocol, response: lastAnswer.data }));
    seen = await bankVerdict();
    check(!seen.ok && /presentation_not_verified/.test(seen.reasons) && /another request or another page/.test(seen.reasons),
      `an answer made for another request is refused, saying so: ${seen.reasons}`);

    // OpenID4VP through the browser: the signed request names this origin in
    // expected_origins; the unsigned one is offered because the bank's registration lists
    // this origin (eid up registers it), and a wallet knows who asks by nothing else.
    for (const [protocol, elsewhereSays] of [
      ["openid4vp-v1-signed", /expected_origins/],
      ["openid4vp-v1-unsigned", /registered for no single relying party/],
    ]) {
      await browserAsks(async (_, started) => {
        const entry = started.digital.requests.find(r => r.protocol === protocol);
        check(entry, `the page offers ${protocol} beside org-iso-mdoc: ${started.digital.requests.map(r => r.protocol)}`);
        const elsewhere = await handOver(entry.data, "https://bank.example.evil", protocol);
        const refused = await elsewhere.json();
        check(elsewhere.status === 422 && elsewhereSays.test(refused.error_description || ""),
          `her wallet refuses the bank's ${protocol} request handed over from another origin: ${refused.error_description}`);
        const answered = await handOver(entry.data, origin, protocol);
        const answer = await answered.json();
        check(answered.ok && answer.protocol === protocol, `her wallet answers ${protocol} for the page's origin ${answered.ok ? "" : JSON.stringify(answer)}`);
        return { action: "respond", protocol: answer.protocol, response: answer.data };
      });
      seen = await bankVerdict();
      check(seen.ok, `the bank accepts her ${protocol} answer through the browser ${seen.reasons}`);
    }
    await bank.unroute("**/dc/requests");
  }

  // The phone is lost: reported from a new phone's wallet (super-app B) with her face.
  const other = await newWallet("en-GB", platform.providers[1].id);
  await other.fill("#lost-id", resident.id_number);
  await other.fill("#lost-name", resident.full_name);
  await turnAsAsked(other, "#lost-face", "#lost-face-turned");
  await other.click("#lost-go");
  await pin(other);
  await other.waitForFunction(() => document.getElementById("lost-result").textContent.length > 0
    || document.getElementById("lost-error").textContent.length > 0, null, { timeout: 60000 });
  const reported = await other.textContent("#lost-result");
  check(/1$/.test(reported.trim()), `the lost phone is reported from the new phone: ${reported}${await other.textContent("#lost-error")}`);
  await other.screenshot({ path: join(shots, "wallet-lost.png"), fullPage: true });

  // The lost phone's fresh code is refused.
  let refused = false;
  for (let attempt = 0; attempt < 10 && !refused; attempt++) {
    qr = await showQr(wallet);
    seen = await scan(qr);
    refused = !seen.ok && seen.reasons.includes("status_suspended");
  }
  check(refused, `the desk refuses the lost phone: ${seen.reasons}`);
  await desk.screenshot({ path: join(shots, "desk-refused.png"), fullPage: true });

  // Back on a new phone: enrolled with her face, "moving to this phone" ticked; its code is
  // accepted, and the lost phone, only suspended so far, is revoked for good.
  const moved = await newWallet("zh-CN", platform.providers[0].id);
  await moved.fill("#id-number", resident.id_number);
  await moved.fill("#full-name", resident.full_name);
  await moved.setInputFiles("#card-front", join(fixtures, resident.portrait));
  await moved.setInputFiles("#card-back", join(fixtures, resident.portrait));
  await turnAsAsked(moved, "#selfie", "#selfie-turned");
  await moved.check("#replace-old");
  await moved.click("#enrol-go");
  await pin(moved);
  await moved.waitForSelector("#enrolled:not(.hidden)", { timeout: 60000 });
  await moved.waitForFunction(() => document.getElementById("present-result").textContent.length > 0);
  const movedSays = (await moved.textContent("#present-result")).trim();
  check(movedSays.startsWith("已换到这部手机") && /1$/.test(movedSays), `the new phone says it moved, one old wallet revoked: ${movedSays}`);

  // Her history comes back on the new phone with her recovery code (not with another):
  // every entry the lost phone had backed up.
  const lostHistory = await wallet.evaluate(async () => (await api("GET", `${base()}/${wallet}/history`)).history.length);
  check(lostHistory > 0, `the lost phone had a history: ${lostHistory}`);
  await moved.waitForSelector("#restore-box:not(.hidden)");
  await moved.fill("#recovery-code", "00000-00000-00000-00000");
  await moved.click("#restore-go");
  await pin(moved);
  await moved.waitForFunction(() => document.getElementById("backup-error").textContent.length > 0, null, { timeout: 30000 });
  const wrongCode = await moved.textContent("#backup-error");
  check(/recovery code does not open/.test(wrongCode), `another recovery code is refused: ${wrongCode}`);
  await moved.fill("#recovery-code", recoveryCode.toLowerCase());
  await moved.click("#restore-go");
  await pin(moved);
  await moved.waitForFunction(() => document.getElementById("backup-result").textContent.length > 0
    || document.getElementById("backup-error").textContent.length > 0, null, { timeout: 30000 });
  const restoredSays = (await moved.textContent("#backup-result")).trim();
  check(restoredSays === `已找回的记录条数：${lostHistory}`, `the new phone restores the lost phone's ${lostHistory} entries: ${restoredSays}${await moved.textContent("#backup-error")}`);
  await moved.waitForFunction(n => document.querySelectorAll("#history li:not(.note)").length === n, lostHistory);
  await moved.screenshot({ path: join(shots, "wallet-restored.png"), fullPage: true });
  const movedQr = await showQr(moved);
  let movedSeen;
  for (let attempt = 0; attempt < 10; attempt++) {
    movedSeen = await scan(movedQr);
    if (movedSeen.ok) break;
    await new Promise(r => setTimeout(r, 500));
  }
  check(movedSeen.ok, `the desk accepts the new phone ${movedSeen.reasons}`);
  // The desk's next verdict on `page`'s fresh code, once it is `wanted` (or the last one).
  async function verdictOf(page, wanted) {
    let last;
    for (let attempt = 0; attempt < 10; attempt++) {
      last = await scan(await showQr(page));
      if (wanted(last)) break;
      await new Promise(r => setTimeout(r, 500));
    }
    return last;
  }
  const revoked = s => !s.ok && s.reasons.includes("status_invalid");
  seen = await verdictOf(wallet, revoked);
  check(revoked(seen), `the desk refuses the old phone for good after the move: ${seen.reasons}`);

  // The authority console: the admin logs in and sees the old phone's revocation.
  const consoleContext = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN" });
  const admin = await consoleContext.newPage();
  await admin.goto(`${base}/console/?lang=zh`);
  await admin.selectOption("#authority", "nanning");
  const tokenFile = platform.authorities.find(a => a.key === "nanning").admin_token_file;
  await admin.fill("#token", readFileSync(tokenFile, "utf8").trim());
  await admin.click("#login-go");
  await admin.waitForSelector("#board:not(.hidden)");
  await admin.waitForFunction(() => Number(document.getElementById("n-invalid").textContent) > 0);
  check(true, "the console shows revoked credentials");
  const wrong = await consoleContext.newPage();
  await wrong.goto(`${base}/console/`);
  await wrong.evaluate(() => sessionStorage.clear());
  await wrong.reload();
  await wrong.fill("#token", "not-the-token");
  await wrong.click("#login-go");
  await wrong.waitForFunction(() => document.getElementById("login-error").textContent.length > 0);
  check(await wrong.$eval("#board", b => b.classList.contains("hidden")), "a wrong admin token does not log in");

  // The counter's printed code, for a resident without a smartphone (here her, at the
  // counter): no paper for a bank (its catalogue entry does not allow it); one for airport
  // security, which the airport desk reads from a picture of the paper with her face in
  // front of it — accepted as a printed code, someone else's face refused — until the
  // console revokes it.
  await admin.fill("#paper-id", resident.id_number);
  await admin.fill("#paper-name", resident.full_name);
  await admin.selectOption("#paper-purpose", "bank_account_opening");
  await admin.click("#paper-go");
  await admin.waitForFunction(() => document.getElementById("paper-error").textContent.length > 0);
  const noBank = await admin.textContent("#paper-error");
  check(noBank.includes("bank_account_opening") && !await admin.isVisible("#paper-sheet"), `the console prints no code for a bank: ${noBank}`);
  await admin.selectOption("#paper-purpose", "airport_security");
  await admin.fill("#paper-hours", "48");
  await admin.click("#paper-go");
  await admin.waitForFunction(() => !document.getElementById("paper-sheet").classList.contains("hidden")
    || document.getElementById("paper-error").textContent.length > 0, null, { timeout: 30000 });
  check(await admin.isVisible("#paper-qr svg"), `the console prints a code for airport security ${await admin.textContent("#paper-error")}`);
  const paperCredential = await admin.$eval("#paper-qr", q => q.dataset.credential);
  const paperFile = join(work, "paper.png");
  await (await admin.$("#paper-qr svg")).screenshot({ path: paperFile });
  await admin.screenshot({ path: join(shots, "console-paper.png"), fullPage: true });
  async function scanWith(face, file) {
    await desk.evaluate(() => document.getElementById("verdict").classList.add("hidden"));
    if (compares) {
      await desk.setInputFiles("#face-image", join(fixtures, face));
      await desk.waitForSelector("#face-preview:not(.hidden)");
    }
    await desk.setInputFiles("#image", file);
    await desk.waitForSelector("#verdict:not(.hidden)", { timeout: 30000 });
    return { ok: await desk.$eval("#verdict", v => v.classList.contains("ok")), reasons: await desk.textContent("#reasons"), who: await desk.textContent("#verdict-who") };
  }
  let paperSeen;
  for (let attempt = 0; attempt < 10; attempt++) {
    paperSeen = await scanWith(resident.selfie, paperFile);
    if (paperSeen.ok) break;
    await new Promise(r => setTimeout(r, 500));
  }
  check(paperSeen.ok && paperSeen.who.includes("printed code"), `the airport desk accepts the printed code with her face: ${paperSeen.who} ${paperSeen.reasons}`);
  check((await desk.textContent("#attributes")).includes(resident.id_number), "the desk shows the printed code's identity number");
  await desk.screenshot({ path: join(shots, "desk-paper.png"), fullPage: true });
  if (compares) {
    paperSeen = await scanWith(someoneElse.selfie, paperFile);
    check(!paperSeen.ok && paperSeen.reasons.includes("face_mismatch"), `the printed code in someone else's hands is refused: ${paperSeen.reasons}`);
  }
  admin.once("dialog", dialog => dialog.accept());
  await admin.locator("#credentials tr", { hasText: paperCredential }).locator("button").nth(1).click();
  await admin.waitForFunction(id => [...document.querySelectorAll("#credentials tr")].some(r => r.textContent.includes(id) && r.querySelector(".pill.invalid")), paperCredential);
  for (let attempt = 0; attempt < 10; attempt++) {
    paperSeen = await scanWith(resident.selfie, paperFile);
    if (!paperSeen.ok && paperSeen.reasons.includes("status_invalid")) break;
    await new Promise(r => setTimeout(r, 500));
  }
  check(!paperSeen.ok && paperSeen.reasons.includes("status_invalid"), `the desk refuses the printed code once the console revoked it: ${paperSeen.reasons}`);

  // The hotline: she calls, her account is hacked; the operator freezes her e-ID by its
  // number (a malformed number is refused on the page), and the new phone's next code is
  // refused at the desk within seconds.
  await admin.fill("#hotline-id", "12345");
  await admin.click("#hotline-suspend");
  await admin.waitForFunction(() => document.getElementById("hotline-error").textContent.length > 0);
  check((await admin.textContent("#hotline-error")).includes("18"), `a malformed number is refused: ${await admin.textContent("#hotline-error")}`);
  await admin.fill("#hotline-id", resident.id_number);
  await admin.click("#hotline-suspend");
  await admin.waitForFunction(() => document.getElementById("hotline-result").textContent.length > 0
    || document.getElementById("hotline-error").textContent.length > 0);
  const frozen = await admin.textContent("#hotline-result");
  check(/^已冻结: [1-9]/.test(frozen), `the console freezes her e-ID: ${frozen}${await admin.textContent("#hotline-error")}`);
  await admin.waitForFunction(() => Number(document.getElementById("n-suspended").textContent) > 0);
  check(true, "the console shows the frozen credentials");
  let frozenSeen;
  for (let attempt = 0; attempt < 10; attempt++) {
    frozenSeen = await scan(await showQr(moved));
    if (!frozenSeen.ok && frozenSeen.reasons.includes("status_suspended")) break;
    await new Promise(r => setTimeout(r, 500));
  }
  check(!frozenSeen.ok && frozenSeen.reasons.includes("status_suspended"), `the desk refuses the frozen e-ID: ${frozenSeen.reasons}`);
  await admin.screenshot({ path: join(shots, "console.png"), fullPage: true });

  // The old phone is found and the hotline reinstates her whole e-ID (the admin API): the
  // new phone is accepted again, the old one stays revoked — the move was for good.
  const nanning = platform.authorities.find(a => a.key === "nanning");
  const reinstated = await (await fetch(`${nanning.admin}/admin/residents/reinstate`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${readFileSync(nanning.admin_token_file, "utf8").trim()}` },
    body: JSON.stringify({ id_number: resident.id_number, reason: "phone found" }),
  })).json();
  check(reinstated.instances > 0, `the resident-wide reinstate reinstates the new phone: ${JSON.stringify(reinstated)}`);
  seen = await verdictOf(moved, s => s.ok);
  check(seen.ok, `the desk accepts the new phone again ${seen.reasons}`);
  seen = await verdictOf(wallet, revoked);
  check(revoked(seen), `the reinstate does not bring the old phone back: ${seen.reasons}`);

  const home = await (await browser.newContext({ viewport: { width: 1280, height: 500 } })).newPage();
  await home.goto(`${base}/?lang=en`);
  await home.screenshot({ path: join(shots, "home.png") });
} catch (e) {
  failures += 1;
  console.log(`FAIL ${e.stack || e}`);
} finally {
  await browser.close();
  if (server) {
    server.kill("SIGINT");
    await new Promise(done => server.on("exit", done));
  }
  rmSync(work, { recursive: true, force: true });
}
console.log(failures ? `web-tests: ${failures} failed` : "web-tests: all passed");
process.exit(failures ? 1 : 0);
