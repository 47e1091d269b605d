#!/usr/bin/env node
// Real-browser round trip, run by hand (needs /usr/bin/chromium + chromedriver):
//   node test-support/browser-smoke.mjs
// Loads the unpacked extension in headless Chromium with the FAKE native host
// (test-support/fake-host.mjs), serves a page using onshi.js, and walks the whole
// path: page → content script → service worker → connectNative → host → back;
// pairing in the extension's window; card_confirm with the PIN typed in the PIN
// window (last-try confirmation) and a chunked reply; the options page's revoke.
// Then IT's origin allowlist by browser policy (issue 15): without a policy every
// origin is answered; with `allowed_origins` in a managed policy file only the listed
// origin is, the others get no ack at all; on a restart the last policy applies at
// once; removing the policy file reaches the open page through storage.onChanged.
// Exit code 0 = pass.
// The integrator's Rust end-to-end test replaces the fake host with the helper.
//
// The policy phase writes /etc/chromium/policies/managed/onshi-smoke-test.json (so it
// must run as root), which every Chromium on the machine reads: do not run it beside
// another browser test of this extension id. The file is removed at the start (a run
// that died), at the end and on SIGINT/SIGTERM.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { ROOT } from "./fakes.mjs";

const EXT_ID = fs.readFileSync(path.join(ROOT, "extension-id.txt"), "utf8").trim();
const POLICY_FILE = "/etc/chromium/policies/managed/onshi-smoke-test.json";
const removePolicy = () => fs.rmSync(POLICY_FILE, { force: true });
removePolicy();
// Killed midway: the machine-wide policy file goes first, then the browser and driver.
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    removePolicy();
    if (session) await Promise.race([wd("DELETE", `/session/${session}`).catch(() => {}), sleep(3000)]);
    driver.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
    process.exit(1);
  });
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "onshi-ext-smoke-"));
const profile = path.join(tmp, "profile");
const hostLog = path.join(tmp, "host.log");
function withFakeHost(dir) {
  fs.mkdirSync(path.join(dir, "NativeMessagingHosts"), { recursive: true });
  fs.writeFileSync(path.join(dir, "NativeMessagingHosts", "jp.onshi.helper.json"), JSON.stringify({
    name: "jp.onshi.helper",
    description: "FAKE Onshi helper for the extension smoke test",
    path: path.join(ROOT, "test-support", "fake-host.mjs"),
    type: "stdio",
    allowed_origins: [`chrome-extension://${EXT_ID}/`],
  }));
  return dir;
}
withFakeHost(profile);

const PAGE = `<!doctype html><meta charset="utf-8"><title>reception</title>
<script src="/onshi.js"></script>
<script>window.__seen = []; addEventListener("message", (e) => window.__seen.push(JSON.stringify(e.data)));</script>`;
function serve(req, res) {
  if (req.url === "/onshi.js" || req.url === "/onshi.esm.js") {
    res.writeHead(200, { "content-type": "text/javascript" });
    res.end(fs.readFileSync(path.join(ROOT, req.url.slice(1))));
  } else if (req.url === "/esm") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><meta charset="utf-8"><script type="module">
      import { Onshi } from "/onshi.esm.js";
      Onshi.connect().then((c) => c.ready).then((b) => { window.__esm = b; }, (e) => { window.__esm = e; });
    </script>`);
  } else {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(PAGE);
  }
}
const server = http.createServer(serve);
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const pageUrl = `http://127.0.0.1:${server.address().port}/`;
// The same page on other origins, for the allowlist: another port, and another host name.
const server2 = http.createServer(serve);
await new Promise((r) => server2.listen(0, "127.0.0.1", r));
const ORIGIN_A = pageUrl.replace(/\/$/, "");
const ORIGIN_B = `http://127.0.0.1:${server2.address().port}`;
const ORIGIN_C = `http://localhost:${server.address().port}`;

const driverPort = 9500 + Math.floor(Math.random() * 400);
const driver = spawn("/usr/bin/chromedriver", [`--port=${driverPort}`], { env: { ...process.env, ONSHI_FAKE_HOST_LOG: hostLog }, stdio: "ignore" });
const W = `http://127.0.0.1:${driverPort}`;
let session = null;

async function wd(method, p, body) {
  const r = await fetch(W + p, { method, headers: { "content-type": "application/json" }, body: body && JSON.stringify(body) });
  const j = await r.json();
  if (j.value?.error) throw new Error(`${method} ${p}: ${j.value.error}: ${j.value.message}`);
  return j.value;
}
const s = (p) => `/session/${session}${p}`;
const exec = (script, args = []) => wd("POST", s("/execute/async"), { script, args });
const find = async (css) => Object.values(await wd("POST", s("/element"), { using: "css selector", value: css }))[0];
const click = async (css) => wd("POST", s(`/element/${await find(css)}/click`), {});
const text = async (css) => wd("GET", s(`/element/${await find(css)}/text`));
/** With SMOKE_SHOTS=DIR, saves a PNG of the current window (to look at the windows' layout). */
async function shot(name, width, height) {
  if (!process.env.SMOKE_SHOTS) return;
  await wd("POST", s("/window/rect"), { width, height }).catch(() => {});
  fs.writeFileSync(path.join(process.env.SMOKE_SHOTS, `${name}.png`), Buffer.from(await wd("GET", s("/screenshot")), "base64"));
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits on our options page until the background has read IT's policy once (it leaves
 * its copy in storage.local). Chromium answers the first storage.managed read of a
 * session only after its policy service is ready, ~3 s after start; until then (and
 * only in a profile that never read it before) the content script holds pages' messages.
 */
async function waitPolicyRead() {
  const t0 = Date.now();
  await wd("POST", s("/url"), { url: `chrome-extension://${EXT_ID}/options.html` });
  const got = await exec(`const done = arguments[arguments.length - 1];
    const poll = () => chrome.storage.local.get("onshi_policy_cache").then((v) => v.onshi_policy_cache
      ? chrome.storage.managed.get(null).then((m) => done({ cache: v.onshi_policy_cache, managed: m }))
      : setTimeout(poll, 100));
    poll();`);
  return { ...got, ms: Date.now() - t0 };
}

/**
 * On the current page: Onshi.connect (ack within `ackMs`) and its hello; then what the
 * page received from the extension at all (acks, replies, events), after `quietMs` more.
 */
async function probe(ackMs = 1000, quietMs = 0) {
  return exec(`const done = arguments[arguments.length - 1];
    const fromExt = () => __seen.map((t) => JSON.parse(t)).filter((m) => m && m.onshi === 1 && m.dir !== "to-helper");
    const t0 = performance.now();
    Onshi.connect({ timeoutMs: ${ackMs} }).then(
      (c) => { const ackMs = Math.round(performance.now() - t0); return c.ready.then((b) => ({ acked: true, ackMs, hello: b }), (e) => ({ acked: true, ackMs, e })); },
      (e) => ({ acked: false, e }))
    .then((r) => setTimeout(() => done({ ...r, ms: Math.round(performance.now() - t0), fromExt: fromExt() }), ${quietMs}));`);
}

const hostFrames = (from = 0) => fs.readFileSync(hostLog, "utf8").trim().split("\n").slice(from).map((l) => JSON.parse(l));
const hostLines = () => fs.readFileSync(hostLog, "utf8").trim().split("\n").length;

const targets = async () => (await wd("POST", s("/goog/cdp/execute"), { cmd: "Target.getTargets", params: {} })).targetInfos;

// chromedriver does not expose popup windows opened by an extension
// (windows.create type "popup") as window handles. So: find the popup among the
// CDP targets (proving the extension opened it), then load the very same URL —
// same one-time token — in a tab WebDriver can drive. The page and its
// background conversation are identical; only the window frame differs.
async function openLikePopup(urlPart, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const t = (await targets()).find((x) => x.type === "page" && x.url.includes(urlPart));
    if (t) {
      const { handle } = await wd("POST", s("/window/new"), { type: "tab" });
      await wd("POST", s("/window"), { handle });
      await wd("POST", s("/url"), { url: t.url });
      return t;
    }
    await sleep(200);
  }
  throw new Error(`the extension opened no window with ${urlPart}`);
}

async function newSession(userDataDir) {
  return (await wd("POST", "/session", {
    capabilities: { alwaysMatch: { browserName: "chrome", "goog:chromeOptions": { binary: "/usr/bin/chromium", args: [
      "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      `--user-data-dir=${userDataDir}`, `--load-extension=${ROOT}`, `--disable-extensions-except=${ROOT}`,
    ] } } },
  })).sessionId;
}

const checks = [];
const check = (name, cond, info) => {
  checks.push([name, !!cond]);
  console.log(`${cond ? "ok  " : "FAIL"} ${name}${cond ? "" : ` — ${JSON.stringify(info)}`}`);
};

let code = 1;
try {
  for (let i = 0; ; i++) {
    try { if ((await (await fetch(W + "/status")).json()).value.ready) break; } catch { /* starting */ }
    if (i > 50) throw new Error("chromedriver did not start");
    await sleep(100);
  }
  // 1. No host manifest in this profile: the page learns which link is missing.
  // A page opened at the very start of a profile's first session, before Chromium can
  // answer the policy read and with no kept copy: acked after the content script's
  // grace (500 ms), within the page's 1 s.
  session = await newSession(path.join(tmp, "profile-without-host"));
  await wd("POST", s("/url"), { url: pageUrl });
  const missing = await probe(1000);
  check("without the host manifest: host_not_found (ja/en)", missing.e?.code === "host_not_found" && /onshi-helper install/.test(missing.e.message.ja), missing);
  console.log(`     first page of a new profile, at browser start: ack after ${missing.ackMs} ms`);
  const first = await waitPolicyRead();
  check("no policy: the background's read finds none and keeps that for the next start", first.cache?.set === false && Object.keys(first.managed).length === 0, first);
  await wd("DELETE", s(""));

  // 2. With the fake host.
  session = await newSession(profile);
  await waitPolicyRead();
  await wd("POST", s("/url"), { url: pageUrl });
  const main = await wd("GET", s("/window"));

  const t0 = Date.now();
  const hello = await exec(`const done = arguments[arguments.length - 1];
    Onshi.connect().then(async (c) => { window.__c = c; done({ acked: true, hello: await c.ready.catch((e) => e) }); }, (e) => done({ err: e }));`);
  check("extension acks the page (connect resolves)", hello.acked, hello);
  check("hello round trip through the fake host", hello.hello?.helper_version === "fake", hello);
  console.log(`     connect + hello: ${Date.now() - t0} ms`);

  const notPaired = await exec(`const done = arguments[arguments.length - 1];
    __c.request({ type: "status" }).then((b) => done({ b }), (e) => done({ e }));`);
  check("unpaired origin gets not_paired", notPaired.e?.code === "not_paired", notPaired);

  const forged = await exec(`const done = arguments[arguments.length - 1];
    __c.request({ type: "pair_approve", pairing_id: "pair-1", approve: true }).then((b) => done({ b }), (e) => done({ e }));`);
  check("page cannot approve pairing itself", forged.e?.code === "bad_request", forged);

  const pair = await exec(`const done = arguments[arguments.length - 1];
    __c.pair().then((b) => done({ b }), (e) => done({ e }));`);
  check("pair_begin returns a code", pair.b?.code === "7Q4K", pair);
  await openLikePopup(`chrome-extension://${EXT_ID}/pair.html#`);
  await sleep(300);
  check("pairing window shows the browser's origin", (await text("#origin")) === pageUrl.replace(/\/$/, ""), await text("#origin"));
  check("pairing window shows the code", (await text("#code")) === "7Q4K");
  await shot("pair", 480, 560);
  await click("#approve");
  await sleep(300);
  await wd("POST", s("/window"), { handle: main });

  const st = await exec(`const done = arguments[arguments.length - 1];
    __c.request({ type: "status" }).then((b) => done({ b }), (e) => done({ e }));`);
  check("after approval the page is answered", st.b?.reader === "fake reader", st);

  await exec(`const done = arguments[arguments.length - 1];
    window.__events = []; __c.on("*", (e) => __events.push(e.type));
    window.__cc = __c.request({ type: "card_confirm", mode: "pin", consents: {}, pin: "0000" }).then((b) => ({ len: b.xml.length }), (e) => ({ e }));
    done(true);`);
  const pinTarget = await openLikePopup(`chrome-extension://${EXT_ID}/pin.html#`);
  await sleep(300);
  check("PIN window shows the origin", (await text("#origin")) === pageUrl.replace(/\/$/, ""));
  check("last-try warning shown", (await text("#warn-last")).includes("市区町村"));
  await shot("pin-last-try", 780, 700);
  await click("#anyway");
  for (const d of "1234") await click(`button[data-d="${d}"]`);
  check("PIN is masked", (await text("#display")) === "●●●●");
  await shot("pin-typed", 780, 700);
  await click("#ok");
  await wd("POST", s("/window"), { handle: main });
  const cc = await exec(`const done = arguments[arguments.length - 1]; __cc.then(done);`);
  await sleep(300);
  check("the PIN popup is closed once card_confirm is answered", !(await targets()).some((t) => t.targetId === pinTarget.targetId));
  check("card_confirm succeeds with the chunked 1.3 MB reply", cc.len === 1_300_017, cc);
  const seen = await exec(`arguments[arguments.length - 1]({ seen: __seen.join("\\n"), events: __events });`);
  check("page saw the pin_needed event", seen.events.includes("pin_needed"), seen.events);
  check("page never saw the PIN", !seen.seen.includes("1234"));

  await wd("POST", s("/url"), { url: pageUrl + "esm" });
  const esm = await exec(`const done = arguments[arguments.length - 1];
    const t = setInterval(() => { if (window.__esm) { clearInterval(t); done(window.__esm); } }, 50);`);
  check("the ES-module entry works in the browser (hello round trip)", esm.helper_version === "fake", esm);

  // Options page: lists the paired origin, revokes it.
  await wd("POST", s("/url"), { url: `chrome-extension://${EXT_ID}/options.html` });
  await sleep(500);
  check("options page shows the link as connected", (await text("#link")).includes("接続しています"), await text("#link"));
  check("options page lists the paired origin", (await text("#rows")).includes(pageUrl.replace(/\/$/, "")), await text("#rows"));
  await click("#rows button");
  await wd("POST", s("/alert/accept"), {});
  await sleep(500);
  check("revoked: the list is empty", (await text("#rows")) === "", await text("#rows"));
  await wd("POST", s("/url"), { url: pageUrl });
  const after = await exec(`const done = arguments[arguments.length - 1];
    Onshi.connect().then((c) => c.request({ type: "status" })).then((b) => done({ b }), (e) => done({ e }));`);
  check("after revoking, the page gets not_paired again", after.e?.code === "not_paired", after);

  const log = fs.readFileSync(hostLog, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const frames = log.filter((l) => l.type);
  check("host got the page's card_confirm without the page's pin", frames.some((f) => f.type === "card_confirm" && !f.has_pin && f.via === "page"));
  check("host got pin_entry via extension", frames.some((f) => f.type === "pin_entry" && f.has_pin && f.via === "extension"));
  check("every page frame carries the page origin", frames.filter((f) => f.via === "page").every((f) => f.origin === pageUrl.replace(/\/$/, "")), frames);
  check("one host process (one long-lived port)", log.filter((l) => l.started).length === 1, log.filter((l) => l.started));

  // Without a policy every origin is answered — the baseline for the policy phase.
  for (const o of [ORIGIN_B, ORIGIN_C]) {
    await wd("POST", s("/url"), { url: `${o}/` });
    const r = await probe();
    check(`no policy: ${o} is answered (ack + hello)`, r.acked && r.hello?.helper_version === "fake", r);
  }
  await wd("DELETE", s(""));
  session = null;

  // 3. IT's allowlist by policy: only ORIGIN_A listed. A fresh profile, a fresh browser.
  try {
    fs.mkdirSync(path.dirname(POLICY_FILE), { recursive: true });
    fs.writeFileSync(POLICY_FILE, JSON.stringify({ "3rdparty": { extensions: { [EXT_ID]: { allowed_origins: [ORIGIN_A] } } } }));
  } catch (e) {
    check(`write the policy file ${POLICY_FILE} (needs root)`, false, String(e));
    throw e;
  }
  const policyProfile = withFakeHost(path.join(tmp, "profile-policy"));
  const logFrom = hostLines();
  session = await newSession(policyProfile);
  // An unlisted page at the very start of this new profile, before Chromium answers the
  // policy read: its content script may ack after the grace, but the background waits
  // for its own read and refuses — nothing ok, nothing to the host, no pairing window.
  await wd("POST", s("/url"), { url: `${ORIGIN_B}/` });
  const early = await exec(`const done = arguments[arguments.length - 1];
    for (const [id, type] of [["e1", "hello"], ["e2", "pair_begin"]]) window.postMessage({ onshi: 1, dir: "to-helper", id, body: { type } }, location.origin);
    setTimeout(() => done(__seen.map((t) => JSON.parse(t)).filter((m) => m && m.onshi === 1 && m.dir !== "to-helper")), 6000);`);
  console.log(`     unlisted page at a new profile's start saw: ${JSON.stringify(early.map((m) => m.dir === "from-helper" ? `${m.dir}:${m.reply.ok ? "ok" : m.reply.error.code}` : m.dir))}`);
  check("policy, new profile's first seconds: an unlisted page gets no answer but at most origin_not_allowed, and no pairing window",
    early.every((m) => m.dir === "ack" || (m.dir === "from-helper" && m.reply.ok === false && m.reply.error.code === "origin_not_allowed")) &&
    !(await targets()).some((t) => t.url.includes("pair.html")), early);
  const read = await waitPolicyRead();
  console.log(`     policy as the extension reads it: managed ${JSON.stringify(read.managed)}, after ${read.ms} ms`);
  check("policy: Chromium hands the extension allowed_origins from the managed policy file",
    JSON.stringify(read.managed) === JSON.stringify({ allowed_origins: [ORIGIN_A] }) && read.cache?.set === true, read);
  await wd("POST", s("/url"), { url: "chrome://policy" });
  await sleep(500);
  const policyPage = await exec(`const done = arguments[arguments.length - 1];
    const texts = []; const walk = (n) => { if (!n) return; if (n.shadowRoot) walk(n.shadowRoot); for (const c of n.children || []) walk(c); if (!n.children?.length && n.textContent) texts.push(n.textContent); };
    setTimeout(() => { walk(document.documentElement); done(texts.join(" ")); }, 300);`);
  check("policy: chrome://policy lists allowed_origins for the extension", policyPage.includes("allowed_origins") && policyPage.includes(ORIGIN_A), policyPage.slice(0, 400));

  await wd("POST", s("/url"), { url: pageUrl });
  const a = await probe();
  check(`policy: the listed origin ${ORIGIN_A} is acked and answered`, a.acked && a.hello?.helper_version === "fake", a);
  for (const o of [ORIGIN_B, ORIGIN_C]) {
    await wd("POST", s("/url"), { url: `${o}/` });
    const r = await probe(2000, 500);
    check(`policy: ${o} gets no ack within 2 s, nothing at all from the extension`, !r.acked && r.e?.code === "extension_missing" && r.fromExt.length === 0, r);
  }
  // The page at ORIGIN_C asks to pair by hand: no window may open, nothing reaches the host.
  await exec(`const done = arguments[arguments.length - 1];
    window.postMessage({ onshi: 1, dir: "to-helper", id: "pb1", body: { type: "pair_begin" } }, location.origin); setTimeout(done, 1500);`);
  check("policy: no pairing window for an unlisted origin", !(await targets()).some((t) => t.url.includes("pair.html")));
  const frames3 = hostFrames(logFrom).filter((f) => f.type && f.via === "page");
  check("policy: the host saw page frames from the listed origin only", frames3.length > 0 && frames3.every((f) => f.origin === ORIGIN_A), frames3);
  await wd("DELETE", s(""));
  session = null;

  // 3b. The same profile started again: the last policy read applies at once, while
  // Chromium's own first read of the session still takes seconds.
  session = await newSession(policyProfile);
  const started = Date.now();
  await wd("POST", s("/url"), { url: pageUrl });
  const a2 = await probe();
  check("restart: the listed origin is acked within 1 s of the browser start", a2.acked && a2.hello?.helper_version === "fake", a2);
  console.log(`     restart with the policy kept from the last session: ack after ${a2.ackMs} ms`);
  await wd("POST", s("/url"), { url: `${ORIGIN_B}/` });
  const b2 = await probe(2000, 500);
  check("restart: the unlisted origin is silent from the start", !b2.acked && b2.fromExt.length === 0, b2);
  // By now Chromium's own read of this session has answered (and must agree).
  await sleep(Math.max(0, started + 6000 - Date.now()));
  const b3 = await probe(1000);
  check("restart: still silent 6 s after start, once the session's own policy read has answered", !b3.acked && b3.fromExt.length === 0, b3);

  // 3c. IT removes the policy while the page stays open: storage.onChanged reaches
  // its content script, and the same page is answered without a reload.
  removePolicy();
  const t3 = Date.now();
  let after3 = null;
  while (Date.now() - t3 < 30000) {
    after3 = await probe(1000);
    if (after3.acked) break;
  }
  console.log(`     policy file removed → the open page answered after ${Date.now() - t3} ms`);
  check("policy removed: the open unlisted page is answered without a reload (storage.onChanged)", after3?.acked && after3.hello?.helper_version === "fake", after3);
  code = checks.every(([, c]) => c) ? 0 : 1;
} catch (e) {
  console.error("FAIL", e);
} finally {
  removePolicy();
  if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
  driver.kill();
  await new Promise((r) => { driver.once("exit", r); setTimeout(r, 3000); });
  server.close();
  server2.close();
  fs.rmSync(tmp, { recursive: true, force: true });
}
const passed = checks.filter(([, c]) => c).length;
// An exception counts as one more failure, so a crash never reads as a pass.
const failed = checks.length - passed + (code !== 0 && checks.every(([, c]) => c) ? 1 : 0);
console.log(code === 0 ? "PASS" : "FAILED");
console.log(`browser-smoke: ${passed} passed, ${failed} failed`);
process.exit(code);
