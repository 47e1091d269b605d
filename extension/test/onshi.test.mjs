// onshi.js, the page-side API: extension detection by ack, replies, errors, events —
// against a fake window, and end to end through the real content.js.
import assert from "node:assert/strict";
import test from "node:test";
import { FakeClock, makeContentChrome, makeWindow, runClassic, runContentScripts, tick } from "../test-support/fakes.mjs";

function pageWithOnshi() {
  const win = makeWindow("https://clinic.example");
  runClassic(win, "onshi.js");
  const clock = new FakeClock();
  return { win, clock, Onshi: win.Onshi };
}

/** Plays the content script by hand: acks (optionally) and answers. */
function fakeExtension(win, { ack = true, answer } = {}) {
  win.addEventListener("message", (ev) => {
    const d = ev.data;
    if (ev.source !== win.global || d?.dir !== "to-helper") return;
    if (ack) win.postMessage({ onshi: 1, dir: "ack", id: d.id }, "*");
    const reply = answer?.(d);
    if (reply) win.postMessage({ onshi: 1, dir: "from-helper", id: d.id, reply: { v: 1, id: d.id, ...reply } }, "*");
  });
}

test("no extension: connect rejects with extension_missing after 1 s", async () => {
  const { win, clock, Onshi } = pageWithOnshi();
  let err = null;
  Onshi.connect({ window: win.global, timers: clock }).catch((e) => { err = e; });
  await tick();
  clock.advance(999);
  await tick();
  assert.equal(err, null);
  clock.advance(1);
  await tick();
  assert.equal(err.code, "extension_missing");
  assert.match(err.message.ja, /拡張機能/);
  assert.equal(win.listenerCount(), 0, "listener removed");
});

test("extension present: connect resolves on the ack, before any helper reply", async () => {
  const { win, clock, Onshi } = pageWithOnshi();
  fakeExtension(win);
  const client = await Onshi.connect({ window: win.global, timers: clock });
  assert.equal(typeof client.request, "function");
  const hello = win.posted.find((p) => p.data.dir === "to-helper");
  assert.equal(hello.data.body.type, "hello");
  assert.equal(hello.targetOrigin, "https://clinic.example");
});

test("ack then helper error: connect resolves, client.ready carries the error (helper missing ≠ extension missing)", async () => {
  const { win, clock, Onshi } = pageWithOnshi();
  fakeExtension(win, { answer: () => ({ ok: false, error: { code: "host_not_found", message: { ja: "j", en: "e" }, retryable: false } }) });
  const client = await Onshi.connect({ window: win.global, timers: clock });
  await assert.rejects(client.ready, (e) => e.code === "host_not_found");
});

test("request resolves with the body, rejects with the wire error; pair() and hello() send their types", async () => {
  const { win, clock, Onshi } = pageWithOnshi();
  fakeExtension(win, {
    answer: (d) => {
      if (d.body.type === "pair_begin") return { ok: true, body: { code: "AB12", pairing_id: "p1" } };
      if (d.body.type === "today") return { ok: false, error: { code: "not_paired", message: { ja: "j", en: "e" }, retryable: false } };
      return { ok: true, body: { type: d.body.type } };
    },
  });
  const c = await Onshi.connect({ window: win.global, timers: clock });
  assert.deepEqual(await c.pair(), { code: "AB12", pairing_id: "p1" });
  assert.deepEqual(await c.hello(), { type: "hello" });
  await assert.rejects(c.request({ type: "today" }), (e) => e.code === "not_paired" && e.message.ja === "j");
});

test("a request the extension never acks rejects extension_missing; one never answered rejects extension_timeout", async () => {
  const { win, clock, Onshi } = pageWithOnshi();
  let acking = true;
  win.addEventListener("message", (ev) => {
    const d = ev.data;
    if (d?.dir === "to-helper" && acking) win.postMessage({ onshi: 1, dir: "ack", id: d.id }, "*");
  });
  const c = await Onshi.connect({ window: win.global, timers: clock });
  let e1 = null;
  c.request({ type: "status" }, { timeoutMs: 5000 }).catch((e) => { e1 = e; });
  await tick();
  clock.advance(5000);
  await tick();
  assert.equal(e1.code, "extension_timeout");
  acking = false;
  let e2 = null;
  c.request({ type: "status" }).catch((e) => { e2 = e; });
  await tick();
  clock.advance(1000);
  await tick();
  assert.equal(e2.code, "extension_missing");
});

test("events reach on(type) and on('*') listeners; unsubscribe works; foreign sources ignored", async () => {
  const { win, clock, Onshi } = pageWithOnshi();
  fakeExtension(win);
  const c = await Onshi.connect({ window: win.global, timers: clock });
  const got = [];
  const off = c.on("card_present", (e) => got.push(["card", e.type]));
  c.on("*", (e) => got.push(["all", e.type]));
  win.postMessage({ onshi: 1, dir: "event", event: { type: "card_present" } }, "*");
  win.dispatch({ onshi: 1, dir: "event", event: { type: "card_present" } }, { other: true });
  await tick();
  off();
  win.postMessage({ onshi: 1, dir: "event", event: { type: "card_present" } }, "*");
  await tick();
  assert.deepEqual(got, [["card", "card_present"], ["all", "card_present"], ["all", "card_present"]]);
});

test("end to end through the real content.js: ack, relay, reply back to the page", async () => {
  const { win, clock, Onshi } = pageWithOnshi();
  const chrome = makeContentChrome();
  win.chrome = chrome;
  runContentScripts(win);
  const c = await Onshi.connect({ window: win.global, timers: clock });
  const bg = chrome.ports[0];
  const asked = c.request({ type: "status", pin: "1234" });
  await tick();
  const relayed = bg.received[1];
  assert.deepEqual(relayed.body, { type: "status" });
  bg.onMessage.emit({ kind: "reply", id: relayed.id, reply: { v: 1, id: relayed.id, ok: true, body: { type: "status", reader: "vpcd" } } });
  assert.deepEqual(await asked, { type: "status", reader: "vpcd" });
});

test("the ES-module entry exports the same API", async () => {
  const mod = await import("../onshi.esm.js");
  assert.equal(typeof mod.Onshi.connect, "function");
  assert.equal(mod.default, mod.Onshi);
});
