// Content-script relay filtering (envelope.md §1): the real content.js runs in a fake
// window; the test plays the page (postMessage) and the background (runtime port).
import assert from "node:assert/strict";
import test from "node:test";
import { makeContentChrome, makeWindow, runContentScripts, tick } from "../test-support/fakes.mjs";

function setup() {
  const win = makeWindow("https://clinic.example");
  const chrome = makeContentChrome();
  win.chrome = chrome;
  runContentScripts(win);
  // Only the content script uses win.postMessage here; the page's messages go through page().
  const fromExtension = () => win.posted.map((p) => p.data);
  const relayed = () => chrome.ports.flatMap((p) => p.received);
  return { win, chrome, fromExtension, relayed };
}

/** The page posts to its own window (source = that window). */
const page = (win, data) => queueMicrotask(() => win.dispatch(structuredClone(data), win.global));

const msg = (body, extra = {}) => ({ onshi: 1, dir: "to-helper", id: "a1", body, ...extra });

test("a valid message is acked at once and relayed as { id, body }", async () => {
  const { win, fromExtension, relayed } = setup();
  page(win, msg({ type: "status" }));
  await tick();
  assert.deepEqual(fromExtension(), [{ onshi: 1, dir: "ack", id: "a1" }]);
  assert.deepEqual(relayed(), [{ kind: "request", id: "a1", body: { type: "status" } }]);
  // Posted to this window's own origin only.
  assert.ok(win.posted.filter((p) => p.data.dir === "ack").every((p) => p.targetOrigin === "https://clinic.example"));
});

test("messages from another source (iframe, other window) are ignored: no ack, no relay", async () => {
  const { win, fromExtension, relayed } = setup();
  const iframe = { postMessage() {} };
  win.dispatch(msg({ type: "status" }), iframe);
  win.dispatch(msg({ type: "status" }), null);
  await tick();
  assert.deepEqual(fromExtension(), []);
  assert.deepEqual(relayed(), []);
});

const DROPPED = [
  ["no namespace", { dir: "to-helper", id: "a1", body: { type: "status" } }],
  ["namespace 2", { onshi: 2, dir: "to-helper", id: "a1", body: { type: "status" } }],
  ["namespace as string", { onshi: "1", dir: "to-helper", id: "a1", body: { type: "status" } }],
  ["dir from-helper (our own replies)", { onshi: 1, dir: "from-helper", id: "a1", reply: {} }],
  ["dir ack", { onshi: 1, dir: "ack", id: "a1" }],
  ["missing id", { onshi: 1, dir: "to-helper", body: { type: "status" } }],
  ["id too long", { onshi: 1, dir: "to-helper", id: "x".repeat(65), body: { type: "status" } }],
  ["numeric id", { onshi: 1, dir: "to-helper", id: 7, body: { type: "status" } }],
  ["a string", "onshi:hello"],
  ["an array", [1, "to-helper"]],
  ["null", null],
];
for (const [name, data] of DROPPED) {
  test(`dropped silently: ${name}`, async () => {
    const { win, fromExtension, relayed } = setup();
    page(win, data);
    await tick();
    assert.deepEqual(fromExtension(), []);
    assert.deepEqual(relayed(), []);
  });
}

test("an id of exactly 64 chars is accepted", async () => {
  const { win, relayed } = setup();
  page(win, msg({ type: "status" }, { id: "y".repeat(64) }));
  await tick();
  assert.equal(relayed().length, 1);
});

test("oversized message: acked, answered too_large, not relayed", async () => {
  const { win, fromExtension, relayed } = setup();
  page(win, msg({ type: "batch_submit", rows: "あ".repeat(2800 * 1024) })); // 8.2 MiB in UTF-8
  await tick();
  const out = fromExtension();
  assert.equal(out[0].dir, "ack");
  assert.equal(out[1].dir, "from-helper");
  assert.equal(out[1].reply.ok, false);
  assert.equal(out[1].reply.error.code, "too_large");
  assert.match(out[1].reply.error.message.ja, /大きすぎ/);
  assert.deepEqual(relayed(), []);
});

test("just under the cap passes", async () => {
  const { win, relayed } = setup();
  page(win, msg({ type: "batch_submit", rows: "a".repeat(8 * 1024 * 1024 - 100) }));
  await tick();
  assert.equal(relayed().length, 1);
});

test("origin, via, pin, approve, approval are stripped at top level; pin at any depth", async () => {
  const { win, relayed } = setup();
  const body = {
    type: "card_confirm",
    origin: "https://evil.example",
    via: "extension",
    pin: "1234",
    approve: true,
    approval: { ok: true },
    mode: "pin",
    consents: { medication: true, pin: "1234", nested: [{ pin: "9999", keep: 1 }, { deeper: { pin: "0000" } }] },
  };
  page(win, msg(body));
  await tick();
  assert.deepEqual(relayed()[0].body, {
    type: "card_confirm",
    mode: "pin",
    consents: { medication: true, nested: [{ keep: 1 }, { deeper: {} }] },
  });
  assert.ok(!JSON.stringify(relayed()).includes("1234"));
});

test("a pin_entry forged by the page loses its pin (and the background refuses the type)", async () => {
  const { win, relayed } = setup();
  page(win, msg({ type: "pin_entry", confirm_id: "c1", pin: "1234", confirm_last_try: true }));
  await tick();
  assert.deepEqual(relayed()[0].body, { type: "pin_entry", confirm_id: "c1", confirm_last_try: true });
});

test("a body without a snake_case type is answered bad_request", async () => {
  const { win, fromExtension, relayed } = setup();
  for (const body of [undefined, null, "status", [], { type: "Status" }, { type: 3 }, {}]) {
    page(win, msg(body));
  }
  await tick();
  const replies = fromExtension().filter((m) => m.dir === "from-helper");
  assert.equal(replies.length, 7);
  assert.ok(replies.every((r) => r.reply.error.code === "bad_request"));
  assert.deepEqual(relayed(), []);
});

test("a deep body is scrubbed without recursion", async () => {
  const { win, relayed } = setup();
  let deep = { pin: "1" };
  for (let i = 0; i < 1000; i++) deep = { a: deep, pin: "2" };
  page(win, msg({ type: "status", deep }));
  await tick();
  const body = relayed()[0].body;
  assert.ok(!JSON.stringify(body).includes("pin"));
});

test("a body too deep to serialize is answered bad_request, the relay keeps working", async () => {
  const { win, fromExtension, relayed } = setup();
  let deep = {};
  for (let i = 0; i < 50000; i++) deep = { a: deep };
  win.dispatch(msg({ type: "status", deep }), win.global); // no clone: the browser's clone would fail first
  page(win, msg({ type: "status" }, { id: "a2" }));
  await tick();
  const r = fromExtension().find((m) => m.dir === "from-helper");
  assert.equal(r.reply.error.code, "bad_request");
  assert.equal(relayed().length, 1);
  assert.equal(relayed()[0].id, "a2");
});

test("replies and events from the background are posted to the window", async () => {
  const { win, chrome, fromExtension } = setup();
  page(win, msg({ type: "status" }));
  await tick();
  const port = chrome.ports[0];
  port.onMessage.emit({ kind: "reply", id: "a1", reply: { v: 1, id: "a1", ok: true, body: { type: "status", reader: true } } });
  port.onMessage.emit({ kind: "reply", id: "zzz", reply: { v: 1, id: "zzz", ok: true, body: {} } }); // unknown id: dropped
  port.onMessage.emit({ kind: "event", event: { type: "card_present" } });
  await tick();
  const out = fromExtension();
  assert.deepEqual(out.slice(1), [
    { onshi: 1, dir: "from-helper", id: "a1", reply: { v: 1, id: "a1", ok: true, body: { type: "status", reader: true } } },
    { onshi: 1, dir: "event", event: { type: "card_present" } },
  ]);
});

test("one runtime port serves many requests; if the background goes away, pending ids fail", async () => {
  const { win, chrome, fromExtension } = setup();
  page(win, msg({ type: "status" }, { id: "a1" }));
  page(win, msg({ type: "today" }, { id: "a2" }));
  await tick();
  assert.equal(chrome.ports.length, 1);
  chrome.ports[0].onMessage.emit({ kind: "reply", id: "a1", reply: { v: 1, id: "a1", ok: true, body: {} } });
  chrome.ports[0].onDisconnect.emit();
  await tick();
  const replies = fromExtension().filter((m) => m.dir === "from-helper");
  assert.equal(replies.length, 2);
  assert.equal(replies[1].id, "a2");
  assert.equal(replies[1].reply.error.code, "host_crashed");
  // The next message opens a new port.
  page(win, msg({ type: "status" }, { id: "a3" }));
  await tick();
  assert.equal(chrome.ports.length, 2);
});

test("a cyclic body is answered bad_request", async () => {
  const { win, fromExtension } = setup();
  const body = { type: "status" };
  body.self = body;
  page(win, msg(body));
  await tick();
  const r = fromExtension().find((m) => m.dir === "from-helper");
  assert.equal(r.reply.error.code, "bad_request");
});
