// Origin handling and routing in the background: the origin comes from the browser's
// `sender`, never from a message; `via: "extension"` only for our own pages; events
// reach only the tabs they are meant for; the pairing and PIN windows.
import assert from "node:assert/strict";
import test from "node:test";
import { Bridge } from "../lib/bridge.js";
import { classifySender } from "../lib/protocol.js";
import { FakeRuntimePort, tick } from "../test-support/fakes.mjs";

const EXT_ID = "lbhdjimbjnckfihbhjblgoboclngejdi";
const BASE = `chrome-extension://${EXT_ID}/`;
const OWN = { extensionId: EXT_ID, extensionBase: BASE };

/** A HostLink stand-in: records frames, answers with `respond(frame)`. */
function fakeLink(respond = (f) => ({ v: 1, id: "w", ok: true, body: { type: f.body.type } })) {
  const frames = [];
  return {
    frames,
    request(msg, timeoutMs) {
      const frame = JSON.parse(JSON.stringify(msg));
      frames.push({ ...frame, timeoutMs });
      return Promise.resolve(respond(frame));
    },
    status: () => ({ state: "ready" }),
  };
}

function setup(respond) {
  const link = fakeLink(respond);
  const opened = [];
  const closed = [];
  let n = 0;
  const bridge = new Bridge({
    link,
    own: OWN,
    newToken: () => `tok${++n}`,
    windows: {
      open: async (path) => { opened.push(path); return 100 + opened.length; },
      close: (id) => { closed.push(id); },
      focus: () => {},
    },
  });
  return { bridge, link, opened, closed };
}

const tabSender = (url, tabId = 7, extra = {}) => ({ id: EXT_ID, url, origin: new URL(url).origin, tab: { id: tabId }, frameId: 0, ...extra });
const extSender = (page) => ({ id: EXT_ID, url: BASE + page, tab: { id: 99 } });

async function send(bridge, port, body, id = "q1") {
  await bridge.onClientMessage([...bridge.clients].find((c) => c.port === port), { kind: "request", id, body });
}

// [name, sender, expected]
const SENDERS = [
  ["https page", tabSender("https://clinic.example/reception?x=1"), { via: "page", origin: "https://clinic.example", tabId: 7 }],
  ["http page with port", tabSender("http://localhost:8080/"), { via: "page", origin: "http://localhost:8080", tabId: 7 }],
  ["Firefox: no sender.origin", { id: EXT_ID, url: "https://clinic.example/a", tab: { id: 3 } }, { via: "page", origin: "https://clinic.example", tabId: 3 }],
  ["our PIN window", extSender("pin.html#t"), { via: "extension", origin: BASE.slice(0, -1), tabId: 99 }],
  ["our options page, no tab", { id: EXT_ID, url: BASE + "options.html" }, { via: "extension", origin: BASE.slice(0, -1), tabId: null }],
  ["another extension", { ...tabSender("https://clinic.example/"), id: "otherextensionidxxxxxxxxxxxxxxxx" }, null],
  ["no id", { url: "https://clinic.example/", tab: { id: 1 } }, null],
  ["page without a tab", { id: EXT_ID, url: "https://clinic.example/" }, null],
  ["file: page", { id: EXT_ID, url: "file:///home/x.html", tab: { id: 1 } }, null],
  ["another extension's page", { id: EXT_ID, url: "chrome-extension://abcdefghabcdefghabcdefghabcdefgh/pin.html", tab: { id: 1 } }, null],
  ["sender.origin disagrees with url", { ...tabSender("https://clinic.example/"), origin: "https://evil.example" }, null],
  ["no url", { id: EXT_ID, tab: { id: 1 } }, null],
  ["a page URL that merely mentions our id", tabSender(`https://evil.example/${BASE}`), { via: "page", origin: "https://evil.example", tabId: 7 }],
];
for (const [name, sender, expected] of SENDERS) {
  test(`classifySender: ${name}`, () => {
    assert.deepEqual(classifySender(sender, OWN), expected);
  });
}

test("the frame's origin is the sender's; origin/via in the message are ignored", async () => {
  const { bridge, link } = setup();
  const port = new FakeRuntimePort(tabSender("https://clinic.example/r"));
  bridge.attach(port);
  await send(bridge, port, { type: "status", origin: "https://evil.example", via: "extension", nested: { pin: "1234" } });
  assert.deepEqual(link.frames[0], { origin: "https://clinic.example", via: "page", body: { type: "status", nested: {} }, timeoutMs: 30000 });
  assert.deepEqual(port.received[0].kind, "reply");
  assert.equal(port.received[0].id, "q1");
  assert.equal(port.received[0].reply.id, "q1", "the page sees its own id, not the wire id");
});

test("unknown senders are disconnected and never reach the helper", () => {
  const { bridge } = setup();
  const port = new FakeRuntimePort({ id: "someoneelse", url: "https://clinic.example/", tab: { id: 1 } });
  assert.equal(bridge.attach(port), null);
  assert.equal(port.disconnected, true);
  assert.equal(bridge.clients.size, 0);
});

for (const type of ["pair_approve", "pin_entry", "pin_cancel", "pair_revoke", "pairings_list"]) {
  test(`a page cannot send ${type}`, async () => {
    const { bridge, link } = setup();
    const port = new FakeRuntimePort(tabSender("https://clinic.example/"));
    bridge.attach(port);
    await send(bridge, port, { type, pairing_id: "p1", approve: true, confirm_id: "c", pin: "1234" });
    assert.equal(link.frames.length, 0);
    assert.equal(port.received[0].reply.error.code, "bad_request");
    assert.equal(port.received[0].reply.error.detail.reason, "extension_only");
  });
}

test("our own pages send via extension, with the extension's origin, fields kept", async () => {
  const { bridge, link } = setup();
  const port = new FakeRuntimePort(extSender("options.html"));
  bridge.attach(port);
  await send(bridge, port, { type: "pair_revoke", origin: "https://clinic.example" });
  assert.deepEqual(link.frames[0], { origin: BASE.slice(0, -1), via: "extension", body: { type: "pair_revoke", origin: "https://clinic.example" }, timeoutMs: 30000 });
});

test("bad bodies and ids from any client are refused without reaching the helper", async () => {
  const { bridge, link } = setup();
  const port = new FakeRuntimePort(tabSender("https://clinic.example/"));
  const c = bridge.attach(port);
  await bridge.onClientMessage(c, { kind: "request", id: "q", body: { type: "Bad Type" } });
  await bridge.onClientMessage(c, { kind: "request", id: "x".repeat(65), body: { type: "status" } });
  await bridge.onClientMessage(c, null);
  assert.equal(link.frames.length, 0);
  assert.equal(port.received.length, 1);
  assert.equal(port.received[0].reply.error.code, "bad_request");
});

test("per-type timeouts: card_confirm and pin_entry wait longer", async () => {
  const { bridge, link } = setup();
  const page = new FakeRuntimePort(tabSender("https://clinic.example/"));
  const pin = new FakeRuntimePort(extSender("pin.html#t"));
  bridge.attach(page);
  bridge.attach(pin);
  await send(bridge, page, { type: "card_confirm", mode: "pin", consents: {} });
  await send(bridge, pin, { type: "pin_entry", confirm_id: "c1", pin: "1234", confirm_last_try: false });
  await send(bridge, page, { type: "today" });
  assert.deepEqual(link.frames.map((f) => f.timeoutMs), [120000, 120000, 30000]);
});

test("pairing: pair_begin reply opens our window; it shows the browser's origin and the code", async () => {
  const { bridge, link, opened } = setup((f) =>
    f.body.type === "pair_begin" ? { v: 1, id: "w", ok: true, body: { code: "4K7Q", pairing_id: "pair-1" } } : { v: 1, id: "w", ok: true, body: {} });
  const page = new FakeRuntimePort(tabSender("https://clinic.example/"));
  bridge.attach(page);
  await send(bridge, page, { type: "pair_begin", origin: "https://fake.example" });
  await tick();
  assert.deepEqual(opened, ["pair.html#tok1"]);
  assert.deepEqual(page.received[0].reply.body, { code: "4K7Q", pairing_id: "pair-1" }, "the page gets the code too");

  // A web page asking for pair_info gets nothing.
  bridge.onClientMessage([...bridge.clients][0], { kind: "pair_info", token: "tok1" });
  assert.equal(page.received.length, 1);

  const win = new FakeRuntimePort(extSender("pair.html#tok1"));
  const wc = bridge.attach(win);
  bridge.onClientMessage(wc, { kind: "pair_info", token: "tok1" });
  assert.deepEqual(win.received[0], { kind: "pair_info", token: "tok1", info: { origin: "https://clinic.example", code: "4K7Q", pairing_id: "pair-1" } });
  bridge.onClientMessage(wc, { kind: "pair_info", token: "guess" });
  assert.equal(win.received[1].info, null);

  await send(bridge, win, { type: "pair_approve", pairing_id: "pair-1", approve: true });
  const approve = link.frames.find((f) => f.body.type === "pair_approve");
  assert.equal(approve.via, "extension");
  assert.deepEqual(approve.body, { type: "pair_approve", pairing_id: "pair-1", approve: true });
  // Approved: closing the window sends nothing more; pairings are refreshed.
  const before = link.frames.length;
  bridge.onWindowRemoved(101);
  assert.equal(link.frames.filter((f) => f.body.type === "pair_approve").length, 1);
  assert.ok(link.frames.length >= before);
  assert.ok(link.frames.some((f) => f.body.type === "pairings_list" && f.via === "extension"));
});

test("pairing window closed without a decision → deny", async () => {
  const { bridge, link } = setup((f) =>
    f.body.type === "pair_begin" ? { v: 1, id: "w", ok: true, body: { code: "ZZ12", pairing_id: "pair-9" } } : { v: 1, id: "w", ok: true, body: {} });
  const page = new FakeRuntimePort(tabSender("https://clinic.example/"));
  bridge.attach(page);
  await send(bridge, page, { type: "pair_begin" });
  await tick();
  bridge.onWindowRemoved(101);
  const deny = link.frames.find((f) => f.body.type === "pair_approve");
  assert.deepEqual(deny.body, { type: "pair_approve", pairing_id: "pair-9", approve: false });
  assert.equal(deny.via, "extension");
});

test("a second pair_begin from the same origin reuses the window and voids the old code", async () => {
  let k = 0;
  const { bridge, link, opened } = setup((f) =>
    f.body.type === "pair_begin" ? { v: 1, id: "w", ok: true, body: { code: `C${++k}`, pairing_id: `p${k}` } } : { v: 1, id: "w", ok: true, body: {} });
  const page = new FakeRuntimePort(tabSender("https://clinic.example/"));
  bridge.attach(page);
  await send(bridge, page, { type: "pair_begin" });
  await tick();
  await send(bridge, page, { type: "pair_begin" }, "q2");
  await tick();
  assert.equal(opened.length, 1);
  assert.deepEqual(link.frames.find((f) => f.body.type === "pair_approve").body, { type: "pair_approve", pairing_id: "p1", approve: false });
  assert.equal([...bridge.pairWindows.values()][0].code, "C2");
});

function pinSetup() {
  const s = setup();
  const a = new FakeRuntimePort(tabSender("https://clinic.example/", 1));
  const b = new FakeRuntimePort(tabSender("https://other.example/", 2));
  s.bridge.attach(a);
  s.bridge.attach(b);
  return { ...s, a, b };
}

test("pin_needed opens the PIN window and reaches only that origin's tabs", async () => {
  const { bridge, opened, a, b } = pinSetup();
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c1", tries_left: 3, origin: "https://clinic.example" }, origin: "https://clinic.example" });
  await tick();
  assert.deepEqual(opened, ["pin.html#tok1"]);
  assert.deepEqual(a.received, [{ kind: "event", event: { type: "pin_needed", confirm_id: "c1", tries_left: 3, origin: "https://clinic.example" } }]);
  assert.deepEqual(b.received, []);
  const w = new FakeRuntimePort(extSender("pin.html#tok1"));
  bridge.onClientMessage(bridge.attach(w), { kind: "pin_info", token: "tok1" });
  assert.deepEqual(w.received[0].info, { origin: "https://clinic.example", confirm_id: "c1", tries_left: 3, purpose: "confirm" });
  // A page cannot read it.
  bridge.onClientMessage([...bridge.clients][0], { kind: "pin_info", token: "tok1" });
  assert.equal(a.received.length, 1);
});

test("PIN window closed without entry → pin_cancel via extension", async () => {
  const { bridge, link } = pinSetup();
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c1", tries_left: 3 }, origin: "https://clinic.example" });
  await tick();
  bridge.onWindowRemoved(101);
  assert.deepEqual(link.frames.map((f) => [f.via, f.body]), [["extension", { type: "pin_cancel", confirm_id: "c1" }]]);
});

test("PIN entered: the PIN goes to the helper only; closing afterwards does not cancel", async () => {
  const { bridge, link, a } = pinSetup();
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c1", tries_left: 1 }, origin: "https://clinic.example" });
  await tick();
  const w = new FakeRuntimePort(extSender("pin.html#tok1"));
  bridge.attach(w);
  await send(bridge, w, { type: "pin_entry", confirm_id: "c1", pin: "1234", confirm_last_try: true });
  assert.deepEqual(link.frames[0].body, { type: "pin_entry", confirm_id: "c1", pin: "1234", confirm_last_try: true });
  assert.equal(link.frames[0].via, "extension");
  bridge.onWindowRemoved(101);
  assert.equal(link.frames.length, 1);
  assert.ok(!JSON.stringify(a.received).includes("1234"), "the page never sees the PIN");
});

test("the card_confirm reply closes that origin's PIN window without a cancel", async () => {
  const { bridge, link, a, closed } = pinSetup();
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c1", tries_left: 3 }, origin: "https://clinic.example" });
  await tick();
  await send(bridge, a, { type: "card_confirm", mode: "pin", consents: {} });
  assert.deepEqual(closed, [101]);
  bridge.onWindowRemoved(101);
  assert.equal(link.frames.filter((f) => f.body.type === "pin_cancel").length, 0);
});

test("a registration PIN says so in the window, and the card_register reply closes it", async () => {
  const { bridge, link, a, closed } = pinSetup();
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c2", tries_left: 3, purpose: "register" }, origin: "https://clinic.example" });
  await tick();
  const w = new FakeRuntimePort(extSender("pin.html#tok1"));
  bridge.onClientMessage(bridge.attach(w), { kind: "pin_info", token: "tok1" });
  assert.equal(w.received[0].info.purpose, "register");
  await send(bridge, a, { type: "card_register", consents: {} });
  assert.deepEqual(closed, [101]);
  bridge.onWindowRemoved(101);
  assert.equal(link.frames.filter((f) => f.body.type === "pin_cancel").length, 0);
});

test("a pin_needed without purpose is a card check", async () => {
  const { bridge } = pinSetup();
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c1", tries_left: 3, purpose: "<script>" }, origin: "https://clinic.example" });
  await tick();
  const w = new FakeRuntimePort(extSender("pin.html#tok1"));
  bridge.onClientMessage(bridge.attach(w), { kind: "pin_info", token: "tok1" });
  assert.equal(w.received[0].info.purpose, "confirm");
});

test("a repeated pin_needed for the same confirm updates the open window", async () => {
  const { bridge, opened } = pinSetup();
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c1", tries_left: 3 }, origin: "https://clinic.example" });
  await tick();
  const w = new FakeRuntimePort(extSender("pin.html#tok1"));
  bridge.onClientMessage(bridge.attach(w), { kind: "pin_info", token: "tok1" });
  bridge.onHostEvent({ v: 1, event: { type: "pin_needed", confirm_id: "c1", tries_left: 2 }, origin: "https://clinic.example" });
  await tick();
  assert.equal(opened.length, 1);
  assert.equal(w.received[1].info.tries_left, 2);
});

test("events with origin null go to paired tabs only; the pairing list comes from the helper", async () => {
  const { bridge } = setup((f) =>
    f.body.type === "pairings_list" ? { v: 1, id: "w", ok: true, body: { pairings: [{ origin: "https://clinic.example", created_at: "x" }] } } : { v: 1, id: "w", ok: true, body: {} });
  const pa = new FakeRuntimePort(tabSender("https://clinic.example/", 1));
  const pb = new FakeRuntimePort(tabSender("https://other.example/", 2));
  bridge.attach(pa);
  bridge.attach(pb);
  await bridge.refreshPairings();
  bridge.onHostEvent({ v: 1, event: { type: "card_present" }, origin: null });
  assert.equal(pa.received.length, 1);
  assert.equal(pb.received.length, 0);
});

test("a not_paired reply removes the origin from the paired set", async () => {
  const { bridge } = setup(() => ({ v: 1, id: "w", ok: false, error: { code: "not_paired", message: { ja: "", en: "" }, retryable: false } }));
  bridge.paired.add("https://clinic.example");
  const p = new FakeRuntimePort(tabSender("https://clinic.example/"));
  bridge.attach(p);
  await send(bridge, p, { type: "today" });
  assert.equal(bridge.paired.has("https://clinic.example"), false);
});

test("a closed tab leaves the client set; events no longer go there", () => {
  const { bridge } = setup();
  const p = new FakeRuntimePort(tabSender("https://clinic.example/"));
  bridge.attach(p);
  p.onDisconnect.emit();
  bridge.onHostEvent({ v: 1, event: { type: "x" }, origin: "https://clinic.example" });
  assert.equal(p.received.length, 0);
});

test("origin/via/approve put beside the body by a forged runtime message are ignored", async () => {
  const { bridge, link } = setup();
  const port = new FakeRuntimePort(tabSender("https://clinic.example/"));
  const c = bridge.attach(port);
  await bridge.onClientMessage(c, {
    kind: "request", id: "q", via: "extension", origin: "https://evil.example",
    body: { type: "status", approve: true, approval: "yes", via: "extension", origin: "https://evil.example" },
  });
  assert.deepEqual(link.frames[0], { origin: "https://clinic.example", via: "page", body: { type: "status" }, timeoutMs: 30000 });
});

test("a page cannot read link status or window data", () => {
  const { bridge } = setup();
  const port = new FakeRuntimePort(tabSender("https://clinic.example/"));
  const c = bridge.attach(port);
  bridge.onClientMessage(c, { kind: "status" });
  bridge.onClientMessage(c, { kind: "pin_info", token: "tok1" });
  bridge.onClientMessage(c, { kind: "pair_info", token: "tok1" });
  assert.deepEqual(port.received, []);
});
