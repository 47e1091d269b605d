// The native port state machine: handshake, ids, timeouts, chunking, disconnects,
// reconnect backoff — with a fake port and a manual clock.
import assert from "node:assert/strict";
import test from "node:test";
import { Backoff } from "../lib/backoff.js";
import { HostLink, State } from "../lib/hostlink.js";
import { RequestTable } from "../lib/requests.js";
import { FakeClock, FakeNativePort } from "../test-support/fakes.mjs";

function setup({ random = () => 0.5 } = {}) {
  const clock = new FakeClock();
  const ports = [];
  const events = [];
  const states = [];
  const link = new HostLink({
    connect: () => {
      const p = new FakeNativePort();
      ports.push(p);
      return p;
    },
    lastErrorOf: (port) => port?.error?.message,
    clock,
    ownOrigin: "chrome-extension://lbhdjimbjnckfihbhjblgoboclngejdi",
    extensionVersion: "0.1.0",
    onEvent: (f) => events.push(f),
    onState: (s) => states.push(s),
    backoff: new Backoff({ baseMs: 1000, maxMs: 30000, jitter: 0.2, random }),
  });
  const port = () => ports[ports.length - 1];
  /** The helper answers the handshake. */
  const helloOk = (p = port(), body = { type: "hello", protocol: 1, helper_version: "0.1.0" }) => {
    const h = p.sent.find((f) => f.body.type === "hello");
    p.deliver({ v: 1, id: h.id, ok: true, body });
  };
  return { clock, ports, port, link, events, states, helloOk };
}

const page = (body) => ({ origin: "https://clinic.example", via: "page", body });

test("handshake first; requests wait for it, then go out with their own ids", async () => {
  const { link, port, helloOk } = setup();
  link.start();
  assert.equal(link.state, State.connecting);
  const hello = port().sent[0];
  assert.deepEqual(hello, {
    v: 1, id: hello.id, origin: "chrome-extension://lbhdjimbjnckfihbhjblgoboclngejdi", via: "extension",
    body: { type: "hello", page_version: "onshi-extension 0.1.0", extension_version: "0.1.0", protocol: 1 },
  });
  const p = link.request(page({ type: "status" }), 30000);
  assert.equal(port().sent.length, 1, "queued until the handshake completes");
  helloOk();
  assert.equal(link.state, State.ready);
  const f = port().lastSent();
  assert.deepEqual(f, { v: 1, id: f.id, origin: "https://clinic.example", via: "page", body: { type: "status" } });
  assert.notEqual(f.id, hello.id);
  port().deliver({ v: 1, id: f.id, ok: true, body: { type: "status", reader: true } });
  assert.deepEqual(await p, { v: 1, id: f.id, ok: true, body: { type: "status", reader: true } });
});

test("a request when idle connects on demand", async () => {
  const { link, ports, helloOk, port } = setup();
  const p = link.request(page({ type: "status" }), 30000);
  assert.equal(ports.length, 1);
  helloOk();
  const f = port().lastSent();
  port().deliver({ v: 1, id: f.id, ok: true, body: {} });
  assert.equal((await p).ok, true);
});

test("replies are matched by id, in any order; unknown ids are dropped", async () => {
  const { link, port, helloOk } = setup();
  link.start();
  helloOk();
  const a = link.request(page({ type: "status" }), 30000);
  const b = link.request(page({ type: "today" }), 30000);
  const [fa, fb] = port().sent.slice(-2);
  port().deliver({ v: 1, id: "nobody", ok: true, body: {} });
  port().deliver({ v: 1, id: fb.id, ok: true, body: { n: 2 } });
  port().deliver({ v: 1, id: fa.id, ok: true, body: { n: 1 } });
  assert.equal((await a).body.n, 1);
  assert.equal((await b).body.n, 2);
});

test("timeout → extension_timeout; the late reply is dropped", async () => {
  const { link, port, helloOk, clock } = setup();
  link.start();
  helloOk();
  const p = link.request(page({ type: "card_confirm" }), 120000);
  const f = port().lastSent();
  clock.advance(119999);
  let settled = false;
  p.then(() => { settled = true; });
  await Promise.resolve();
  assert.equal(settled, false);
  clock.advance(1);
  const r = await p;
  assert.equal(r.ok, false);
  assert.equal(r.error.code, "extension_timeout");
  assert.equal(r.error.retryable, true);
  port().deliver({ v: 1, id: f.id, ok: true, body: {} }); // too late: no throw, no effect
  assert.equal(link.table.size, 0);
});

test("disconnect fails every pending request with the browser's reason, then reconnects with backoff", async () => {
  const { link, port, ports, helloOk, clock } = setup();
  link.start();
  helloOk();
  const a = link.request(page({ type: "status" }), 30000);
  const b = link.request(page({ type: "today" }), 30000);
  port().die("Native host has exited.");
  for (const r of await Promise.all([a, b])) {
    assert.equal(r.error.code, "host_crashed");
    assert.equal(r.error.detail.reason, "exited");
  }
  assert.equal(link.state, State.waiting);
  assert.deepEqual(clock.pendingDelays(), [1000]);
  clock.advance(1000);
  assert.equal(ports.length, 2);
  assert.equal(link.state, State.connecting);
});

test("host not found: the request learns which link is missing", async () => {
  const { link, port } = setup();
  const p = link.request(page({ type: "status" }), 30000);
  port().die("Specified native messaging host not found.");
  const r = await p;
  assert.equal(r.error.code, "host_not_found");
  assert.equal(r.error.retryable, false);
  assert.equal(link.status().error.code, "host_not_found");
});

test("backoff doubles up to the cap and resets after a good handshake", () => {
  const { link, port, clock, helloOk } = setup();
  link.start();
  const delays = [];
  for (let i = 0; i < 8; i++) {
    port().die("Specified native messaging host not found.");
    delays.push(...clock.pendingDelays());
    clock.advance(clock.pendingDelays()[0]);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  helloOk();
  port().die("Native host has exited.");
  assert.deepEqual(clock.pendingDelays(), [1000]);
});

test("jitter stays within ±20% and never exceeds the cap", () => {
  for (const r of [0, 0.999]) {
    const b = new Backoff({ baseMs: 1000, maxMs: 30000, jitter: 0.2, random: () => r });
    const d = Array.from({ length: 8 }, () => b.next());
    assert.ok(d[0] >= 800 && d[0] <= 1200, String(d));
    assert.ok(d.every((x) => x <= 30000), String(d));
  }
});

test("a person's request during backoff tries at once (not sooner than the base delay after the last try)", async () => {
  const { link, ports, port, clock } = setup();
  link.start();
  port().die("Native host has exited.");
  clock.advance(10); // inside the base delay: answered from the last error, no new process
  const r1 = await link.request(page({ type: "status" }), 30000);
  assert.equal(r1.error.code, "host_crashed");
  assert.equal(ports.length, 1);
  port().die("Native host has exited."); // ignored: that port is already gone
  clock.advance(500); // still waiting for the 1000 ms retry timer…
  clock.t += 600; // …but time passed for the person: >= base since the last attempt (fake: skip the timer)
  const p2 = link.request(page({ type: "status" }), 30000);
  assert.equal(ports.length, 2, "reconnected on demand");
  assert.equal(link.state, State.connecting);
  port().die("Native host has exited.");
  assert.equal((await p2).error.code, "host_crashed");
});

test("handshake timeout is treated as a crash", async () => {
  const { link, clock, port } = setup();
  const p = link.request(page({ type: "status" }), 30000);
  clock.advance(10000);
  const r = await p;
  assert.equal(r.error.code, "host_crashed");
  assert.equal(r.error.detail.reason, "handshake_timeout");
  assert.equal(port().disconnected, true);
  assert.equal(link.state, State.waiting);
});

test("the helper speaking another protocol version → version_mismatch, incompatible, slow retry", async () => {
  const { link, port, clock, helloOk } = setup();
  const p = link.request(page({ type: "status" }), 30000);
  helloOk(port(), { type: "hello", protocol: 2 });
  assert.equal((await p).error.code, "version_mismatch");
  assert.equal(link.state, State.incompatible);
  const r = await link.request(page({ type: "status" }), 30000);
  assert.equal(r.error.code, "version_mismatch");
  assert.deepEqual(clock.pendingDelays(), [30000]);
});

test("the helper refusing hello with version_mismatch → version_mismatch", async () => {
  const { link, port } = setup();
  const p = link.request(page({ type: "status" }), 30000);
  const h = port().sent[0];
  port().deliver({ v: 1, id: h.id, ok: false, error: { code: "version_mismatch", message: { ja: "x", en: "x" }, retryable: false } });
  assert.equal((await p).error.code, "version_mismatch");
});

test("a reply frame with another v fails that request with version_mismatch", async () => {
  const { link, port, helloOk } = setup();
  link.start();
  helloOk();
  const p = link.request(page({ type: "status" }), 30000);
  port().deliver({ v: 2, id: port().lastSent().id, ok: true, body: {} });
  assert.equal((await p).error.code, "version_mismatch");
});

test("chunked reply through the link", async () => {
  const { link, port, helloOk } = setup();
  link.start();
  helloOk();
  const p = link.request(page({ type: "batch_results" }), 30000);
  const id = port().lastSent().id;
  const text = JSON.stringify({ v: 1, id, ok: true, body: { type: "batch_results", xml: "x".repeat(3000) } });
  port().deliver({ v: 1, id, chunk: { index: 1, count: 2, data: text.slice(1500) } });
  port().deliver({ v: 1, id, chunk: { index: 0, count: 2, data: text.slice(0, 1500) } });
  const r = await p;
  assert.equal(r.ok, true);
  assert.equal(r.body.xml.length, 3000);
});

test("a broken chunk stream fails that request only", async () => {
  const { link, port, helloOk } = setup();
  link.start();
  helloOk();
  const p = link.request(page({ type: "batch_results" }), 30000);
  const q = link.request(page({ type: "status" }), 30000);
  const [fp, fq] = port().sent.slice(-2);
  port().deliver({ v: 1, id: fp.id, chunk: { index: 0, count: 999, data: "" } });
  assert.equal((await p).error.code, "too_large");
  port().deliver({ v: 1, id: fq.id, ok: true, body: {} });
  assert.equal((await q).ok, true);
});

test("events are passed on, not mistaken for replies", () => {
  const { link, port, helloOk, events } = setup();
  link.start();
  helloOk();
  port().deliver({ v: 1, event: { type: "card_present" }, origin: null });
  assert.deepEqual(events, [{ v: 1, event: { type: "card_present" }, origin: null }]);
});

test("garbage from the helper is ignored", () => {
  const { link, port, helloOk } = setup();
  link.start();
  helloOk();
  for (const g of [null, 5, "x", [], { v: 1 }, { v: 1, id: 3 }]) port().deliver(g);
  assert.equal(link.state, State.ready);
});

test("frames over the browser's 64 MiB limit are refused before sending", async () => {
  const { link, port, helloOk } = setup();
  link.start();
  helloOk();
  const n = port().sent.length;
  const r = await link.request(page({ type: "batch_submit", rows: "x".repeat(64 * 1024 * 1024) }), 30000);
  assert.equal(r.error.code, "too_large");
  assert.equal(port().sent.length, n);
});

test("posting on a port that died synchronously fails the request, not the worker", async () => {
  const { link, port, helloOk } = setup();
  link.start();
  helloOk();
  port().disconnected = true; // postMessage will throw
  const r = await link.request(page({ type: "status" }), 30000);
  assert.equal(r.error.code, "host_crashed");
});

test("request table: each request ends exactly once", () => {
  const clock = new FakeClock();
  const t = new RequestTable(clock);
  const got = [];
  t.add("a", 100, (r) => got.push(r));
  assert.throws(() => t.add("a", 100, () => {}));
  assert.equal(t.settle("a", { ok: true }), true);
  assert.equal(t.settle("a", { ok: true }), false);
  clock.advance(200);
  assert.equal(got.length, 1);
});

test("a PIN leaves no copy in the link: it is deleted from the body once sent, or once refused", async () => {
  const { link, port, helloOk } = setup();
  link.start();
  helloOk();
  const body = { type: "pin_entry", confirm_id: "c1", pin: "1234", confirm_last_try: false };
  const p = link.request({ origin: "chrome-extension://x", via: "extension", body }, 120000);
  assert.equal(port().lastSent().body.pin, "1234", "the helper got it");
  assert.equal("pin" in body, false);
  port().deliver({ v: 1, id: port().lastSent().id, ok: true, body: {} });
  await p;
  port().disconnected = true;
  const body2 = { type: "pin_entry", confirm_id: "c1", pin: "5678", confirm_last_try: false };
  await link.request({ origin: "chrome-extension://x", via: "extension", body: body2 }, 120000);
  assert.equal("pin" in body2, false);
});

test("a PIN queued behind a handshake that fails, or refused while incompatible, is dropped too", async () => {
  const { link, port } = setup();
  const body = { type: "pin_entry", confirm_id: "c1", pin: "1234", confirm_last_try: false };
  const p = link.request({ origin: "chrome-extension://x", via: "extension", body }, 120000);
  port().die("Native host has exited.");
  await p;
  assert.equal("pin" in body, false);
  const { link: l2, port: p2, helloOk: h2 } = setup();
  const q = l2.request({ origin: "o", via: "page", body: { type: "status" } }, 30000);
  h2(p2(), { type: "hello", protocol: 9 });
  await q;
  const body2 = { type: "pin_entry", confirm_id: "c1", pin: "1234", confirm_last_try: false };
  assert.equal((await l2.request({ origin: "o", via: "extension", body: body2 }, 30000)).error.code, "version_mismatch");
  assert.equal("pin" in body2, false);
});
