#!/usr/bin/env node
// A FAKE native-messaging host for the browser smoke run only (test-support/browser-smoke.mjs);
// the real one is `onshi-helper native-host`. Speaks envelope.md v1 just enough:
// hello, pair_begin/pair_approve, pairings_list, status, card_confirm with a PIN
// round (event pin_needed → pin_entry), and a reply large enough to be chunked.
// Writes a log of what it saw (never the PIN itself) to $ONSHI_FAKE_HOST_LOG.
import fs from "node:fs";

const LOG = process.env.ONSHI_FAKE_HOST_LOG;
const log = (o) => { if (LOG) fs.appendFileSync(LOG, JSON.stringify(o) + "\n"); };
log({ started: process.argv.slice(2) });

function send(obj) {
  const body = Buffer.from(JSON.stringify(obj), "utf8");
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  process.stdout.write(Buffer.concat([head, body]));
}

const CHUNK = 256 * 1024;
function reply(frame) {
  const text = JSON.stringify(frame);
  if (text.length <= CHUNK) return send(frame);
  const count = Math.ceil(text.length / CHUNK);
  for (let i = count - 1; i >= 0; i--) send({ v: 1, id: frame.id, chunk: { index: i, count, data: text.slice(i * CHUNK, (i + 1) * CHUNK) } });
}
const ok = (id, body) => reply({ v: 1, id, ok: true, body });
const err = (id, code, detail) => reply({ v: 1, id, ok: false, error: { code, message: { ja: `エラー ${code}`, en: `error ${code}` }, retryable: false, detail } });

const paired = new Set();
let pairing = null;
let confirm = null;

function handle(f) {
  const b = f.body ?? {};
  log({ id: f.id, origin: f.origin, via: f.via, type: b.type, has_pin: "pin" in b, keys: Object.keys(b) });
  switch (b.type) {
    case "hello": return ok(f.id, { type: "hello", protocol: 1, helper_version: "fake", paired: paired.has(f.origin) });
    case "pair_begin":
      pairing = { id: "pair-1", code: "7Q4K", origin: f.origin };
      return ok(f.id, { code: pairing.code, pairing_id: pairing.id });
    case "pair_approve":
      if (f.via !== "extension" || !pairing || b.pairing_id !== pairing.id) return err(f.id, "invalid_argument");
      if (b.approve) paired.add(pairing.origin);
      pairing = null;
      return ok(f.id, { type: "pair_approve" });
    case "pairings_list":
      if (f.via !== "extension") return err(f.id, "invalid_argument");
      return ok(f.id, { pairings: [...paired].map((origin) => ({ origin, created_at: "2026-01-01T00:00:00Z" })) });
    case "pair_revoke":
      if (f.via !== "extension") return err(f.id, "invalid_argument");
      paired.delete(b.origin);
      return ok(f.id, { type: "pair_revoke" });
    case "status":
      if (!paired.has(f.origin)) return err(f.id, "not_paired");
      return ok(f.id, { type: "status", reader: "fake reader", card: true });
    case "card_confirm":
      if (!paired.has(f.origin)) return err(f.id, "not_paired");
      confirm = { request: f.id, id: "c-1", origin: f.origin };
      return send({ v: 1, event: { type: "pin_needed", confirm_id: confirm.id, tries_left: 1, origin: f.origin }, origin: f.origin });
    case "pin_entry":
    case "pin_cancel": {
      if (f.via !== "extension" || !confirm || b.confirm_id !== confirm.id) return err(f.id, "invalid_argument");
      const c = confirm;
      confirm = null;
      if (b.type === "pin_cancel") { ok(f.id, {}); return err(c.request, "cancelled"); }
      const good = b.pin === "1234" && b.confirm_last_try === true;
      ok(f.id, {});
      if (!good) return err(c.request, "wrong_pin", { tries_left: 0 });
      // Big enough to need chunks (> 1 MiB in one frame is refused by the browser).
      return ok(c.request, { type: "card_confirm", xml: "<XmlMsg>" + "x".repeat(1_300_000) + "</XmlMsg>" });
    }
    default:
      return err(f.id, "invalid_argument");
  }
}

let buf = Buffer.alloc(0);
process.stdin.on("data", (d) => {
  buf = Buffer.concat([buf, d]);
  while (buf.length >= 4) {
    const n = buf.readUInt32LE(0);
    if (buf.length < 4 + n) break;
    const text = buf.subarray(4, 4 + n).toString("utf8");
    buf = buf.subarray(4 + n);
    try { handle(JSON.parse(text)); } catch (e) { log({ error: String(e) }); }
  }
});
process.stdin.on("end", () => { log({ exit: "stdin closed" }); process.exit(0); });
