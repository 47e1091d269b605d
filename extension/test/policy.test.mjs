// IT's origin allowlist by browser policy (issue 15), end to end in the extension:
// the real content scripts in a fake window with a fake managed storage (silent on
// other sites, queueing until the policy is read, following policy changes), and the
// background's Bridge refusing with origin_not_allowed (defence in depth).
import assert from "node:assert/strict";
import test from "node:test";
import { Bridge } from "../lib/bridge.js";
import { MESSAGES } from "../lib/errors.js";
import { FakeClock, FakeRuntimePort, FakeStorage, makeContentChrome, makeWindow, runContentScripts, tick } from "../test-support/fakes.mjs";

const CLINIC = "https://clinic.example";
const OTHER = "https://news.example";

// ---- content script ----------------------------------------------------

/** A page of `origin` running the real content scripts; their timers run on `clock`. */
function page(origin, storage, clock = new FakeClock()) {
  const win = makeWindow(origin);
  win.setTimeout = clock.setTimeout;
  win.clearTimeout = clock.clearTimeout;
  const warned = [];
  win.console = { ...console, warn: (m) => warned.push(String(m)) };
  const chrome = makeContentChrome({ storage });
  win.chrome = chrome;
  runContentScripts(win);
  const post = (data) => queueMicrotask(() => win.dispatch(structuredClone(data), win.global));
  return {
    win,
    chrome,
    clock,
    warned,
    post,
    fromExtension: () => win.posted.map((p) => p.data),
    relayed: () => chrome.ports.flatMap((p) => p.received),
  };
}

const msg = (id, body = { type: "hello" }) => ({ onshi: 1, dir: "to-helper", id, body });

test("content: policy set and this origin not on it → no ack, nothing relayed, no port opened", async () => {
  const p = page(OTHER, new FakeStorage({ managed: { allowed_origins: [CLINIC] } }));
  p.post(msg("a1"));
  await tick();
  p.post(msg("a2", { type: "pair_begin" }));
  p.post({ onshi: 1, dir: "to-helper", id: "a3", body: "not even valid" });
  await tick();
  assert.deepEqual(p.fromExtension(), []);
  assert.deepEqual(p.relayed(), []);
  assert.equal(p.chrome.ports.length, 0, "the background never hears of this page");
});

test("content: policy set and this origin on it → acked and relayed as before", async () => {
  const p = page(CLINIC, new FakeStorage({ managed: { allowed_origins: ["https://other.example", "HTTPS://Clinic.Example/"] } }));
  p.post(msg("a1"));
  await tick();
  assert.deepEqual(p.fromExtension(), [{ onshi: 1, dir: "ack", id: "a1" }]);
  assert.deepEqual(p.relayed(), [{ kind: "request", id: "a1", body: { type: "hello" } }]);
});

test("content: a wildcard entry admits a subdomain page", async () => {
  const p = page("https://uketsuke.clinic.example", new FakeStorage({ managed: { allowed_origins: ["https://*.clinic.example"] } }));
  p.post(msg("a1"));
  await tick();
  assert.equal(p.relayed().length, 1);
});

for (const [name, storage] of [
  ["no policy (managed area empty)", () => new FakeStorage({ managed: {} })],
  ["an empty list", () => new FakeStorage({ managed: { allowed_origins: [] } })],
  ["managed storage errors (Firefox without a policy)", () => new FakeStorage({ fail: "Managed storage manifest not found" })],
  ["no storage API in this context", () => undefined],
]) {
  test(`content: ${name} → every page is answered as today`, async () => {
    const p = page(OTHER, storage());
    p.post(msg("a1"));
    await tick();
    assert.deepEqual(p.fromExtension(), [{ onshi: 1, dir: "ack", id: "a1" }]);
    assert.equal(p.relayed().length, 1);
    assert.deepEqual(p.warned, []);
  });
}

test("content: messages posted before the policy is read wait, then go out in order (listed origin)", async () => {
  const storage = new FakeStorage({ managed: { allowed_origins: [CLINIC] }, hold: true });
  const p = page(CLINIC, storage);
  p.post(msg("a1"));
  p.post({ type: "someone else's message" });
  p.post(msg("a2", { type: "status" }));
  await tick();
  assert.deepEqual(p.fromExtension(), [], "nothing is said before the policy is known");
  assert.equal(storage.reads, 1);
  storage.answer();
  await tick();
  assert.deepEqual(p.fromExtension().filter((m) => m.dir === "ack").map((m) => m.id), ["a1", "a2"]);
  assert.deepEqual(p.relayed().map((m) => m.id), ["a1", "a2"]);
});

test("content: messages posted before the policy is read are dropped when it leaves the origin out", async () => {
  const storage = new FakeStorage({ managed: { allowed_origins: [CLINIC] }, hold: true });
  const p = page(OTHER, storage);
  p.post(msg("a1"));
  p.post(msg("a2"));
  await tick();
  storage.answer();
  await tick();
  p.post(msg("a3"));
  await tick();
  assert.deepEqual(p.fromExtension(), []);
  assert.deepEqual(p.relayed(), []);
});

const CACHE = "onshi_policy_cache";

test("content: while the fresh read waits, the background's copy of the last policy decides at once", async () => {
  // Chromium's first managed read of a session takes seconds; pages expect an ack in 1 s.
  const storage = new FakeStorage({ managed: { allowed_origins: [CLINIC] }, hold: true, local: { [CACHE]: { set: true, origins: [CLINIC] } } });
  const good = page(CLINIC, storage);
  const bad = page(OTHER, storage);
  good.post(msg("a1"));
  bad.post(msg("b1"));
  await tick();
  assert.deepEqual(good.fromExtension(), [{ onshi: 1, dir: "ack", id: "a1" }]);
  assert.deepEqual(bad.fromExtension(), []);
  storage.answer();
  await tick();
  assert.deepEqual(bad.fromExtension(), [], "the fresh read agrees: still silent");
  assert.equal(good.relayed().length, 1);
});

test("content: the fresh read overrules the copy (IT changed the policy while the browser was closed)", async () => {
  const storage = new FakeStorage({ managed: { allowed_origins: ["https://other.example"] }, hold: true, local: { [CACHE]: { set: false } } });
  const p = page(CLINIC, storage);
  p.post(msg("a1"));
  await tick();
  assert.equal(p.relayed().length, 1, "no policy last time: answered at once");
  storage.answer();
  await tick();
  assert.equal(p.chrome.ports[0].disconnected, true);
  p.post(msg("a2"));
  await tick();
  assert.deepEqual(p.fromExtension().map((m) => m.id), ["a1"]);
});

test("content: a copy that answers after the fresh read is ignored", async () => {
  const storage = new FakeStorage({ managed: { allowed_origins: [CLINIC] }, local: { [CACHE]: { set: false } } });
  // The local read answers last.
  const localGet = storage.local.get;
  storage.local.get = (k) => new Promise((r) => setTimeout(() => r(localGet(k)), 5));
  const p = page(OTHER, storage);
  await new Promise((r) => setTimeout(r, 20));
  p.post(msg("a1"));
  await tick();
  assert.deepEqual(p.fromExtension(), []);
});

for (const [name, cached] of [["missing", undefined], ["malformed", { set: true, origins: "https://clinic.example" }], ["not an object", "yes"], ["origins not strings", { set: true, origins: [1] }]]) {
  test(`content: a ${name} copy is no decision; a fresh read within the grace decides`, async () => {
    const storage = new FakeStorage({ managed: { allowed_origins: [CLINIC] }, hold: true, local: cached === undefined ? {} : { [CACHE]: cached } });
    const good = page(CLINIC, storage);
    const bad = page(OTHER, storage);
    good.post(msg("a1"));
    bad.post(msg("b1"));
    await tick();
    good.clock.advance(400);
    bad.clock.advance(400);
    assert.deepEqual(good.fromExtension(), []);
    storage.answer();
    await tick();
    bad.clock.advance(10_000);
    await tick();
    assert.deepEqual(good.fromExtension(), [{ onshi: 1, dir: "ack", id: "a1" }]);
    assert.deepEqual(bad.fromExtension(), [], "the grace ran out after the policy was known: nothing");
  });
}

test("content: no copy and no fresh read within 500 ms (a new profile's first seconds) → no policy until the read answers", async () => {
  // Without this a page opened at a new profile's start would report the extension
  // missing (its ack timeout is 1 s; Chromium's first read takes ~3 s).
  const storage = new FakeStorage({ managed: { allowed_origins: [CLINIC] }, hold: true });
  const p = page(OTHER, storage);
  p.post(msg("a1"));
  await tick();
  p.clock.advance(499);
  assert.deepEqual(p.fromExtension(), []);
  p.clock.advance(1);
  await tick();
  assert.deepEqual(p.fromExtension(), [{ onshi: 1, dir: "ack", id: "a1" }]);
  assert.equal(p.relayed().length, 1, "relayed: the background, which waits for its own read, decides");
  // The read answers: this origin is not listed, so from now on nothing.
  storage.answer();
  await tick();
  assert.equal(p.chrome.ports[0].disconnected, true);
  p.chrome.ports[0].onMessage.emit({ kind: "reply", id: "a1", reply: { v: 1, id: "a1", ok: false, error: { code: "origin_not_allowed" } } });
  p.post(msg("a2"));
  await tick();
  assert.deepEqual(p.fromExtension().map((m) => m.id), ["a1"]);
});

test("content: with a copy the grace timer is never used", async () => {
  const storage = new FakeStorage({ managed: {}, hold: true, local: { [CACHE]: { set: true, origins: [CLINIC] } } });
  const p = page(OTHER, storage);
  await tick();
  p.clock.advance(60_000);
  p.post(msg("a1"));
  await tick();
  assert.deepEqual(p.fromExtension(), []);
  assert.deepEqual(p.clock.pendingDelays(), []);
});

test("background side: every fresh read is kept in storage.local for the content scripts", async () => {
  const storage = new FakeStorage({ managed: { allowed_origins: ["HTTPS://Clinic.Example", "nope"] } });
  const seen = [];
  globalThis.OnshiAllowlist.watchManagedPolicy(storage, (p) => seen.push(p), () => {}, { writeCache: true });
  await tick();
  assert.deepEqual(storage.localItems[CACHE], { set: true, origins: [CLINIC] });
  storage.setManaged({});
  await tick();
  assert.deepEqual(storage.localItems[CACHE], { set: false });
  assert.deepEqual(seen.map((p) => p.set), [true, false]);
});

test("content: the waiting queue is bounded and keeps only our messages", async () => {
  const storage = new FakeStorage({ managed: {}, hold: true });
  const p = page(CLINIC, storage);
  for (let i = 0; i < 100; i++) p.post({ analytics: i });
  for (let i = 0; i < 40; i++) p.post(msg(`m${i}`));
  await tick();
  storage.answer();
  await tick();
  // The first 32 of ours, in order; the rest were never acked (the page's own 1 s ack
  // timeout reports them), never half-handled.
  assert.deepEqual(p.relayed().map((m) => m.id), Array.from({ length: 32 }, (_, i) => `m${i}`));
});

test("content: a policy change applies without reinstall (storage.onChanged, area managed)", async () => {
  const storage = new FakeStorage({ managed: {} });
  const p = page(CLINIC, storage);
  p.post(msg("a1", { type: "status" }));
  await tick();
  assert.equal(p.relayed().length, 1);
  const port = p.chrome.ports[0];

  // IT lists only another origin: this page goes silent, even for a reply in flight.
  storage.setManaged({ allowed_origins: ["https://other.example"] });
  await tick();
  assert.equal(storage.reads, 2);
  assert.equal(port.disconnected, true, "the port to the background is closed");
  port.onMessage.emit({ kind: "reply", id: "a1", reply: { v: 1, id: "a1", ok: true, body: {} } });
  port.onMessage.emit({ kind: "event", event: { type: "card_present" } });
  p.post(msg("a2"));
  await tick();
  assert.deepEqual(p.fromExtension(), [{ onshi: 1, dir: "ack", id: "a1" }], "nothing after the change");

  // IT adds this origin: answered again, over a new port.
  storage.setManaged({ allowed_origins: ["https://other.example", CLINIC] });
  await tick();
  p.post(msg("a3"));
  await tick();
  assert.deepEqual(p.fromExtension().map((m) => m.id), ["a1", "a3"]);
  assert.equal(p.chrome.ports.length, 2);
  assert.equal(p.chrome.ports[1].received[0].id, "a3");
});

test("content: another storage area changing is not a policy change", async () => {
  const storage = new FakeStorage({ managed: {} });
  page(CLINIC, storage);
  await tick();
  storage.onChanged.emit({ x: { newValue: 1 } }, "local");
  await tick();
  assert.equal(storage.reads, 1);
});

test("content: a list whose entries are all invalid allows nothing, and the console names them", async () => {
  const p = page(CLINIC, new FakeStorage({ managed: { allowed_origins: ["clinic.example", "https://*.com"] } }));
  p.post(msg("a1"));
  await tick();
  assert.deepEqual(p.fromExtension(), []);
  assert.equal(p.warned.length, 1);
  assert.match(p.warned[0], /clinic\.example/);
  assert.match(p.warned[0], /\*\.com/);
  assert.match(p.warned[0], /no site is answered/);
});

test("content: invalid entries beside valid ones are ignored with a warning; the valid ones work", async () => {
  const p = page(CLINIC, new FakeStorage({ managed: { allowed_origins: ["ftp://clinic.example", CLINIC] } }));
  p.post(msg("a1"));
  await tick();
  assert.equal(p.relayed().length, 1);
  assert.equal(p.warned.length, 1);
  assert.match(p.warned[0], /ftp:\/\/clinic\.example/);
  assert.doesNotMatch(p.warned[0], /no site/);
});

test("content: nothing a page sends throws out of the content script, before or after the policy", async () => {
  const storage = new FakeStorage({ managed: { allowed_origins: [CLINIC] }, hold: true });
  const p = page(CLINIC, storage);
  const hostile = {};
  Object.defineProperty(hostile, "onshi", { get() { throw new Error("boom"); } });
  // Delivered without a clone (a clone would drop the getter), as a same-realm object could be.
  assert.doesNotThrow(() => p.win.dispatch(hostile, p.win.global));
  storage.answer();
  await tick();
  assert.doesNotThrow(() => p.win.dispatch(hostile, p.win.global));
  p.post(msg("a1"));
  await tick();
  assert.deepEqual(p.relayed().map((m) => m.id), ["a1"]);
});

// ---- background (Bridge) -------------------------------------------------

const EXT_ID = "lbhdjimbjnckfihbhjblgoboclngejdi";
const OWN = { extensionId: EXT_ID, extensionBase: `chrome-extension://${EXT_ID}/` };
const tabSender = (url, tabId = 7) => ({ id: EXT_ID, url, origin: new URL(url).origin, tab: { id: tabId }, frameId: 0 });

function bridgeSetup({ policyPending = true } = {}) {
  const frames = [];
  const link = {
    frames,
    request(m) {
      frames.push(JSON.parse(JSON.stringify(m)));
      const t = m.body.type;
      if (t === "pair_begin") return Promise.resolve({ v: 1, id: "w", ok: true, body: { code: "4K7Q", pairing_id: "pair-1" } });
      return Promise.resolve({ v: 1, id: "w", ok: true, body: { type: t } });
    },
    status: () => ({ state: "ready" }),
  };
  const opened = [];
  const closed = [];
  let n = 0;
  const bridge = new Bridge({
    link,
    own: OWN,
    policyPending,
    newToken: () => `tok${++n}`,
    windows: { open: async (p) => { opened.push(p); return 100 + opened.length; }, close: (id) => { closed.push(id); }, focus: () => {} },
  });
  const attach = (url, tabId) => {
    const port = new FakeRuntimePort(tabSender(url, tabId));
    const client = bridge.attach(port);
    return { port, send: (body, id = "q1") => bridge.onClientMessage(client, { kind: "request", id, body }) };
  };
  return { bridge, frames, opened, closed, attach };
}

const policy = (list) => globalThis.OnshiAllowlist.policyFromManaged(list);

test("background: a page outside the policy gets origin_not_allowed; nothing reaches the helper, no pairing window", async () => {
  const { bridge, frames, opened, attach } = bridgeSetup();
  bridge.setPolicy(policy([CLINIC]));
  const other = attach(`${OTHER}/article`);
  await other.send({ type: "hello" });
  await other.send({ type: "pair_begin" }, "q2");
  await tick();
  assert.deepEqual(frames, [], "never forwarded to the native host");
  assert.deepEqual(opened, [], "no pairing window");
  const [r1, r2] = other.port.received;
  assert.equal(r1.reply.ok, false);
  assert.equal(r1.reply.error.code, "origin_not_allowed");
  assert.equal(r1.reply.error.retryable, false);
  assert.equal(r1.reply.error.message.ja, MESSAGES.origin_not_allowed.ja);
  assert.match(r1.reply.error.message.ja, /IT担当者/);
  assert.match(r1.reply.error.message.en, /ask IT/);
  assert.deepEqual(r1.reply.error.detail, { origin: OTHER, by: "browser_policy" });
  assert.equal(r2.reply.error.code, "origin_not_allowed");
});

test("background: a listed page is forwarded with the browser's origin, and its pairing window opens", async () => {
  const { bridge, frames, opened, attach } = bridgeSetup();
  bridge.setPolicy(policy(["https://*.clinic.example", CLINIC]));
  const c = attach(`${CLINIC}/reception`);
  await c.send({ type: "pair_begin" });
  await tick();
  assert.equal(frames[0].origin, CLINIC);
  assert.equal(frames[0].body.type, "pair_begin");
  assert.deepEqual(opened, ["pair.html#tok1"]);
});

test("background: no policy → every page is forwarded as before", async () => {
  const { bridge, frames, attach } = bridgeSetup();
  bridge.setPolicy(policy(undefined));
  await attach(`${OTHER}/`).send({ type: "hello" });
  assert.equal(frames.length, 1);
});

test("background: without policyPending (the unit tests' default) there is no policy", async () => {
  const { frames, attach } = bridgeSetup({ policyPending: false });
  await attach(`${OTHER}/`).send({ type: "hello" });
  assert.equal(frames.length, 1);
});

test("background: page requests wait for the policy read, then follow it", async () => {
  const { bridge, frames, attach } = bridgeSetup();
  const good = attach(`${CLINIC}/`, 1);
  const bad = attach(`${OTHER}/`, 2);
  const p1 = good.send({ type: "hello" });
  const p2 = bad.send({ type: "hello" });
  await tick();
  assert.deepEqual(frames, []);
  assert.equal(good.port.received.length + bad.port.received.length, 0);
  bridge.setPolicy(policy([CLINIC]));
  await Promise.all([p1, p2]);
  assert.deepEqual(frames.map((f) => f.origin), [CLINIC]);
  assert.equal(good.port.received[0].reply.ok, true);
  assert.equal(bad.port.received[0].reply.error.code, "origin_not_allowed");
});

test("background: our own windows are not pages; the policy does not apply to them", async () => {
  const { bridge, frames } = bridgeSetup();
  bridge.setPolicy(policy([CLINIC]));
  const port = new FakeRuntimePort({ id: EXT_ID, url: `${OWN.extensionBase}options.html` });
  const c = bridge.attach(port);
  await bridge.onClientMessage(c, { kind: "request", id: "o1", body: { type: "pairings_list" } });
  assert.equal(frames[0].via, "extension");
  assert.equal(port.received[0].reply.ok, true);
});

test("background: a policy change closes (and denies) the pairing window of an origin it leaves out", async () => {
  const { bridge, frames, opened, closed, attach } = bridgeSetup();
  bridge.setPolicy(policy(undefined));
  await attach(`${OTHER}/`).send({ type: "pair_begin" });
  await tick();
  assert.deepEqual(opened, ["pair.html#tok1"]);
  bridge.setPolicy(policy([CLINIC]));
  assert.deepEqual(closed, [101]);
  const deny = frames.find((f) => f.body.type === "pair_approve");
  assert.deepEqual(deny.body, { type: "pair_approve", pairing_id: "pair-1", approve: false });
  bridge.onWindowRemoved(101);
  assert.equal(frames.filter((f) => f.body.type === "pair_approve").length, 1, "denied once");
});

test("background: pair_begin answered after the policy changed opens no window and denies the code", async () => {
  const { bridge, frames, opened, attach } = bridgeSetup();
  bridge.setPolicy(policy(undefined));
  const other = attach(`${OTHER}/`);
  const sent = other.send({ type: "pair_begin" });
  bridge.setPolicy(policy([CLINIC])); // while the helper is answering
  await sent;
  await tick();
  assert.deepEqual(opened, []);
  assert.ok(frames.some((f) => f.body.type === "pair_approve" && f.body.approve === false));
});

test("background: no PIN window for an origin outside the policy; the confirm is cancelled", async () => {
  const { bridge, frames, opened } = bridgeSetup();
  bridge.setPolicy(policy([CLINIC]));
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c1", tries_left: 3, origin: OTHER }, origin: OTHER });
  await tick();
  assert.deepEqual(opened, []);
  assert.deepEqual(frames.map((f) => f.body), [{ type: "pin_cancel", confirm_id: "c1" }]);
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c2", tries_left: 3, origin: CLINIC }, origin: CLINIC });
  await tick();
  assert.deepEqual(opened, ["pin.html#tok1"]);
});

test("background: helper events reach only pages the policy allows", async () => {
  const { bridge, attach } = bridgeSetup();
  bridge.setPolicy(policy(undefined));
  const good = attach(`${CLINIC}/`, 1);
  const bad = attach(`${OTHER}/`, 2);
  bridge.paired = new Set([CLINIC, OTHER]);
  bridge.setPolicy(policy([CLINIC]));
  bridge.onHostEvent({ v: 1, event: { type: "card_present" }, origin: null });
  bridge.onHostEvent({ v: 1, event: { type: "card_present" }, origin: OTHER });
  assert.equal(good.port.received.length, 1);
  assert.equal(bad.port.received.length, 0);
});
