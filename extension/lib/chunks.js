//! Reassembles replies the helper split into chunks (envelope.md §3): the browser
//! limits host → extension messages to 1 MiB, and replies are never truncated.
//! Pieces are joined by index and the whole text parsed once; anything
//! inconsistent fails that one request with a typed error.

import { makeError } from "./errors.js";
import { MAX_CHUNKS, MAX_REPLY_BYTES } from "./protocol.js";

export class ChunkAssembler {
  constructor({ maxChunks = MAX_CHUNKS, maxBytes = MAX_REPLY_BYTES } = {}) {
    this.maxChunks = maxChunks;
    this.maxBytes = maxBytes;
    /** @type {Map<string, { count: number, parts: (string|undefined)[], received: number, chars: number }>} */
    this.partial = new Map();
  }

  /**
   * Adds one chunk for request `id`.
   * @returns {{ status: "partial" } | { status: "done", reply: object } | { status: "error", error: object }}
   */
  add(id, chunk) {
    const fail = (code, reason, extra) => {
      this.partial.delete(id);
      return { status: "error", error: makeError(code, { reason, ...extra }) };
    };
    if (!chunk || typeof chunk !== "object") return fail("bad_request", "chunk_not_object");
    const { index, count, data } = chunk;
    if (!Number.isInteger(count) || count < 1) return fail("bad_request", "chunk_bad_count");
    if (count > this.maxChunks) return fail("too_large", "too_many_chunks", { count, max: this.maxChunks });
    if (!Number.isInteger(index) || index < 0 || index >= count) return fail("bad_request", "chunk_bad_index", { index, count });
    if (typeof data !== "string") return fail("bad_request", "chunk_bad_data");

    let entry = this.partial.get(id);
    if (!entry) {
      entry = { count, parts: new Array(count), received: 0, chars: 0 };
      this.partial.set(id, entry);
    } else if (entry.count !== count) {
      return fail("bad_request", "chunk_count_changed", { was: entry.count, now: count });
    }
    const prev = entry.parts[index];
    if (prev !== undefined) {
      // A repeated identical piece is harmless; a different one means the stream is corrupt.
      if (prev === data) return { status: "partial" };
      return fail("bad_request", "chunk_conflict", { index });
    }
    entry.chars += data.length;
    // Chars ≤ UTF-8 bytes, so this is a lower bound; the exact cap needs no second pass.
    if (entry.chars > this.maxBytes) return fail("too_large", "reply_too_large", { max: this.maxBytes });
    entry.parts[index] = data;
    entry.received += 1;
    if (entry.received < entry.count) return { status: "partial" };

    this.partial.delete(id);
    let reply;
    try {
      reply = JSON.parse(entry.parts.join(""));
    } catch {
      return { status: "error", error: makeError("bad_request", { reason: "chunk_json_invalid" }) };
    }
    if (!reply || typeof reply !== "object" || reply.id !== id) {
      return { status: "error", error: makeError("bad_request", { reason: "chunk_id_mismatch" }) };
    }
    return { status: "done", reply };
  }

  /** Forgets a request's pieces (timeout or link failure: missing chunks never arrive). */
  drop(id) {
    this.partial.delete(id);
  }

  clear() {
    this.partial.clear();
  }

  get size() {
    return this.partial.size;
  }
}
