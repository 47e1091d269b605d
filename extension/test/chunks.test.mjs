// Reassembly of chunked helper replies (envelope.md §3).
import assert from "node:assert/strict";
import test from "node:test";
import { ChunkAssembler } from "../lib/chunks.js";

const reply = { v: 1, id: "r1", ok: true, body: { type: "batch_results", xml: "<XmlMsg>" + "あ".repeat(50) + "</XmlMsg>" } };
const text = JSON.stringify(reply);
function split(s, n) {
  const size = Math.ceil(s.length / n);
  return Array.from({ length: n }, (_, i) => ({ index: i, count: n, data: s.slice(i * size, (i + 1) * size) }));
}

test("in order", () => {
  const a = new ChunkAssembler();
  const parts = split(text, 4);
  for (const c of parts.slice(0, 3)) assert.deepEqual(a.add("r1", c), { status: "partial" });
  assert.deepEqual(a.add("r1", parts[3]), { status: "done", reply });
  assert.equal(a.size, 0);
});

test("out of order", () => {
  const a = new ChunkAssembler();
  const parts = split(text, 5);
  const order = [3, 0, 4, 2, 1];
  let last;
  for (const i of order) last = a.add("r1", parts[i]);
  assert.deepEqual(last, { status: "done", reply });
});

test("a single chunk", () => {
  assert.deepEqual(new ChunkAssembler().add("r1", { index: 0, count: 1, data: text }), { status: "done", reply });
});

test("missing: stays partial until dropped (the request's timeout ends it)", () => {
  const a = new ChunkAssembler();
  const parts = split(text, 3);
  a.add("r1", parts[0]);
  assert.deepEqual(a.add("r1", parts[2]), { status: "partial" });
  assert.equal(a.size, 1);
  a.drop("r1");
  assert.equal(a.size, 0);
});

test("duplicate identical chunk is ignored", () => {
  const a = new ChunkAssembler();
  const parts = split(text, 2);
  a.add("r1", parts[0]);
  assert.deepEqual(a.add("r1", parts[0]), { status: "partial" });
  assert.deepEqual(a.add("r1", parts[1]), { status: "done", reply });
});

test("duplicate index with different data fails the request", () => {
  const a = new ChunkAssembler();
  const parts = split(text, 2);
  a.add("r1", parts[0]);
  const r = a.add("r1", { ...parts[0], data: "x" });
  assert.equal(r.status, "error");
  assert.equal(r.error.code, "bad_request");
  assert.equal(r.error.detail.reason, "chunk_conflict");
  assert.equal(a.size, 0);
});

test("too many chunks → too_large", () => {
  const r = new ChunkAssembler({ maxChunks: 8 }).add("r1", { index: 0, count: 9, data: "" });
  assert.equal(r.error.code, "too_large");
  assert.equal(r.error.detail.reason, "too_many_chunks");
});

test("total size over the cap → too_large", () => {
  const a = new ChunkAssembler({ maxBytes: 10 });
  a.add("r1", { index: 0, count: 3, data: "123456" });
  const r = a.add("r1", { index: 1, count: 3, data: "78901" });
  assert.equal(r.error.code, "too_large");
});

// [chunk, reason]
const BAD = [
  [null, "chunk_not_object"],
  [{ index: 0, count: 0, data: "" }, "chunk_bad_count"],
  [{ index: 0, count: 1.5, data: "" }, "chunk_bad_count"],
  [{ index: 2, count: 2, data: "" }, "chunk_bad_index"],
  [{ index: -1, count: 2, data: "" }, "chunk_bad_index"],
  [{ index: "0", count: 2, data: "" }, "chunk_bad_index"],
  [{ index: 0, count: 2, data: 5 }, "chunk_bad_data"],
];
for (const [chunk, reason] of BAD) {
  test(`malformed chunk ${JSON.stringify(chunk)} → ${reason}`, () => {
    const r = new ChunkAssembler().add("r1", chunk);
    assert.equal(r.status, "error");
    assert.equal(r.error.detail.reason, reason);
  });
}

test("count changing between chunks fails", () => {
  const a = new ChunkAssembler();
  a.add("r1", { index: 0, count: 3, data: "a" });
  assert.equal(a.add("r1", { index: 1, count: 2, data: "b" }).error.detail.reason, "chunk_count_changed");
});

test("joined text that is not JSON, or names another id, fails", () => {
  assert.equal(new ChunkAssembler().add("r1", { index: 0, count: 1, data: "{nope" }).error.detail.reason, "chunk_json_invalid");
  assert.equal(new ChunkAssembler().add("r2", { index: 0, count: 1, data: text }).error.detail.reason, "chunk_id_mismatch");
});

test("two requests reassemble independently", () => {
  const a = new ChunkAssembler();
  const other = JSON.stringify({ ...reply, id: "r2" });
  const p1 = split(text, 2);
  const p2 = split(other, 2);
  a.add("r1", p1[0]);
  a.add("r2", p2[1]);
  assert.equal(a.add("r2", p2[0]).reply.id, "r2");
  assert.equal(a.add("r1", p1[1]).reply.id, "r1");
});
