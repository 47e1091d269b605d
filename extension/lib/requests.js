//! The table of requests in flight to the helper: wire id → who is waiting, with a
//! per-request timeout. Every request ends exactly once: reply, timeout, or link failure.

import { errorReply } from "./errors.js";

export class RequestTable {
  /** @param {{ setTimeout: Function, clearTimeout: Function }} clock */
  constructor(clock) {
    this.clock = clock;
    /** @type {Map<string, { resolve: (reply: object) => void, timer: any, type: string }>} */
    this.pending = new Map();
  }

  /**
   * Registers `id`; `resolve` is called once with the reply frame (or an error reply).
   * @param {string} id  wire id (unique per link)
   * @param {number} timeoutMs
   * @param {(reply: object) => void} resolve
   * @param {string} [type]  body type, for diagnostics and routing of special replies
   */
  add(id, timeoutMs, resolve, type = "") {
    if (this.pending.has(id)) throw new Error(`duplicate request id ${id}`);
    const timer = this.clock.setTimeout(() => {
      this.settle(id, errorReply(id, "extension_timeout", { timeout_ms: timeoutMs, type }));
    }, timeoutMs);
    this.pending.set(id, { resolve, timer, type });
  }

  has(id) {
    return this.pending.has(id);
  }

  get size() {
    return this.pending.size;
  }

  /** Delivers `reply` to the waiter of `id`. Returns false when nobody waits (late or unknown). */
  settle(id, reply) {
    const entry = this.pending.get(id);
    if (!entry) return false;
    this.pending.delete(id);
    this.clock.clearTimeout(entry.timer);
    entry.resolve(reply);
    return true;
  }

  /** Ends every pending request with an error made by `makeReply(id)`. */
  failAll(makeReply) {
    for (const id of [...this.pending.keys()]) this.settle(id, makeReply(id));
  }
}
