//! The one long-lived native-messaging port to the helper, as a state machine:
//!
//!   idle ──start/request──▶ connecting ──hello ok──▶ ready
//!     ▲                        │  │                    │
//!     │                        │  └─hello says other version─▶ incompatible
//!     └──backoff timer── waiting ◀──port disconnected──┘ (pending → host_* error)
//!
//! Everything the browser provides (connectNative, lastError, timers) is injected,
//! so tests drive it with a fake port and a fake clock. Requests never reject:
//! they resolve with a reply frame, `ok: false` on failure (envelope.md §3 shape).

import { Backoff } from "./backoff.js";
import { ChunkAssembler } from "./chunks.js";
import { errorFromLastError, errorReply, makeError } from "./errors.js";
import { MAX_TO_HOST_BYTES, PROTOCOL_VERSION, TIMEOUTS_MS, utf8Length } from "./protocol.js";
import { RequestTable } from "./requests.js";

export const State = Object.freeze({
  idle: "idle",
  connecting: "connecting",
  ready: "ready",
  waiting: "waiting",
  incompatible: "incompatible",
});

export class HostLink {
  /**
   * @param {object} deps
   * @param {() => object} deps.connect  returns a port: { postMessage, disconnect, onMessage.addListener, onDisconnect.addListener }
   * @param {(port: object) => string|undefined} deps.lastErrorOf  browser's reason for a disconnect
   * @param {{ setTimeout: Function, clearTimeout: Function, now: () => number }} deps.clock
   * @param {string} deps.ownOrigin  origin put on frames the extension itself sends
   * @param {string} [deps.extensionVersion]
   * @param {(frame: object) => void} [deps.onEvent]  unsolicited helper events
   * @param {(state: string, info: object) => void} [deps.onState]
   * @param {Backoff} [deps.backoff]
   * @param {ChunkAssembler} [deps.chunks]
   */
  constructor(deps) {
    this.connectPort = deps.connect;
    this.lastErrorOf = deps.lastErrorOf;
    this.clock = deps.clock;
    this.ownOrigin = deps.ownOrigin;
    this.extensionVersion = deps.extensionVersion ?? "0";
    this.onEvent = deps.onEvent ?? (() => {});
    this.onState = deps.onState ?? (() => {});
    this.backoff = deps.backoff ?? new Backoff();
    this.chunks = deps.chunks ?? new ChunkAssembler();
    this.table = new RequestTable(this.clock);
    this.state = State.idle;
    this.port = null;
    this.seq = 0;
    /** Frames waiting for the handshake: id → frame. */
    this.queue = new Map();
    this.retryTimer = null;
    this.lastError = null;
    this.lastAttemptAt = -Infinity;
    this.helloInfo = null;
  }

  /** Opens the port now (also used by the backoff timer). */
  start() {
    if (this.state === State.connecting || this.state === State.ready) return;
    this.cancelRetry();
    this.openPort();
  }

  /** Status for the options page: state, last error, what the helper said in hello. */
  status() {
    return { state: this.state, error: this.lastError, hello: this.helloInfo, pending: this.table.size };
  }

  nextId(prefix = "x") {
    this.seq += 1;
    return `${prefix}${this.seq}`;
  }

  /**
   * Sends `{ v, id, origin, via, body }` and resolves with the helper's reply
   * (reassembled if chunked) or an extension-made error reply.
   * @param {{ origin: string, via: "page"|"extension", body: object }} msg
   * @param {number} timeoutMs
   * @returns {Promise<object>}
   */
  request(msg, timeoutMs) {
    const id = this.nextId("r");
    return new Promise((resolveOuter) => {
      const frame = { v: PROTOCOL_VERSION, id, origin: msg.origin, via: msg.via, body: msg.body };
      // Refused before sending: the PIN (if any) is dropped all the same.
      const resolve = (reply) => {
        dropPin(frame);
        resolveOuter(reply);
      };
      const type = msg.body?.type ?? "";
      let text;
      try {
        text = JSON.stringify(frame);
      } catch {
        resolve(errorReply(id, "bad_request", { reason: "not_json" }));
        return;
      }
      const tooLarge = text.length * 3 > MAX_TO_HOST_BYTES && utf8Length(text) > MAX_TO_HOST_BYTES;
      text = null; // may contain a PIN: keep no copy
      if (tooLarge) {
        resolve(errorReply(id, "too_large", { max: MAX_TO_HOST_BYTES }));
        return;
      }
      switch (this.state) {
        case State.incompatible:
          resolve({ v: PROTOCOL_VERSION, id, ok: false, error: this.lastError ?? makeError("version_mismatch") });
          return;
        case State.waiting:
        case State.idle:
          // A person is waiting: try now rather than at the end of the backoff, but
          // not more often than once per base delay (a page retry loop must not
          // spawn helper processes in a tight loop).
          if (this.state === State.waiting && this.clock.now() - this.lastAttemptAt < this.backoff.baseMs) {
            resolve({ v: PROTOCOL_VERSION, id, ok: false, error: this.lastError ?? makeError("host_crashed") });
            return;
          }
          this.start();
          if (this.state !== State.connecting) {
            resolve({ v: PROTOCOL_VERSION, id, ok: false, error: this.lastError ?? makeError("host_crashed") });
            return;
          }
          break;
        default:
          break;
      }
      this.table.add(id, timeoutMs, (reply) => {
        const queued = this.queue.get(id);
        if (queued) dropPin(queued);
        this.queue.delete(id);
        this.chunks.drop(id);
        resolveOuter(reply);
      }, type);
      // The frame object may hold a PIN: only the port and the queue see it, and
      // both drop it once sent.
      if (this.state === State.ready) this.send(frame);
      else this.queue.set(id, frame);
    });
  }

  // ---- internals -------------------------------------------------------

  setState(state) {
    this.state = state;
    this.onState(state, this.status());
  }

  cancelRetry() {
    if (this.retryTimer !== null) {
      this.clock.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }

  openPort() {
    this.lastAttemptAt = this.clock.now();
    this.setState(State.connecting);
    let port;
    try {
      port = this.connectPort();
    } catch (e) {
      this.handleDisconnect(null, String(e?.message ?? e));
      return;
    }
    this.port = port;
    port.onMessage.addListener((frame) => {
      if (this.port === port) this.handleFrame(frame);
    });
    port.onDisconnect.addListener(() => {
      if (this.port === port) this.handleDisconnect(port, this.lastErrorOf(port));
    });
    // The handshake: the helper must speak protocol v1 before anything else goes out.
    const id = this.nextId("h");
    this.table.add(id, TIMEOUTS_MS.hello, (reply) => this.handleHello(port, reply), "hello");
    this.send({
      v: PROTOCOL_VERSION,
      id,
      origin: this.ownOrigin,
      via: "extension",
      // page_version is the field core's protocol requires in hello.
      body: { type: "hello", page_version: `onshi-extension ${this.extensionVersion}`, extension_version: this.extensionVersion, protocol: PROTOCOL_VERSION },
    });
  }

  send(frame) {
    const port = this.port;
    try {
      port.postMessage(frame); // serializes synchronously
    } catch (e) {
      // Posting on a dead port throws; onDisconnect follows or already happened.
      this.handleDisconnect(port, String(e?.message ?? e));
    } finally {
      dropPin(frame);
    }
  }

  handleHello(port, reply) {
    if (this.port !== port) return;
    if (reply?.ok === true && reply.v === PROTOCOL_VERSION) {
      const v = reply.body?.protocol_version ?? reply.body?.protocol ?? PROTOCOL_VERSION;
      if (v === PROTOCOL_VERSION) {
        this.helloInfo = reply.body ?? {};
        this.lastError = null;
        this.backoff.reset();
        this.setState(State.ready);
        const frames = [...this.queue.values()];
        this.queue.clear();
        for (const f of frames) this.send(f);
        return;
      }
    }
    const code = reply?.error?.code;
    if (code === "extension_timeout") {
      // The port is open but the helper is silent: treat like a crash.
      this.dropPort(port);
      this.fail(makeError("host_crashed", { reason: "handshake_timeout" }), State.waiting);
      return;
    }
    if (code === "host_crashed" || code === "host_not_found") return; // the disconnect path already ran
    // A helper that answers but with another protocol version (or refuses ours).
    const err = reply?.ok === false && reply.error?.code !== "version_mismatch"
      ? makeError("host_crashed", { reason: "handshake_refused", helper_error: reply.error?.code ?? null })
      : makeError("version_mismatch", { extension: PROTOCOL_VERSION, helper: reply?.body?.protocol ?? reply?.v ?? null });
    this.dropPort(port);
    if (err.code === "version_mismatch") this.fail(err, State.incompatible, this.backoff.maxMs);
    else this.fail(err, State.waiting);
  }

  handleFrame(frame) {
    if (!frame || typeof frame !== "object") return;
    if (frame.v !== PROTOCOL_VERSION) {
      if (typeof frame.id === "string" && this.table.has(frame.id)) {
        this.table.settle(frame.id, errorReply(frame.id, "version_mismatch", { helper: frame.v ?? null }));
      }
      return;
    }
    if (frame.event && typeof frame.event === "object") {
      this.onEvent(frame);
      return;
    }
    if (typeof frame.id !== "string" || !this.table.has(frame.id)) return; // late or unknown: dropped
    if (frame.chunk !== undefined) {
      const r = this.chunks.add(frame.id, frame.chunk);
      if (r.status === "done") this.table.settle(frame.id, r.reply);
      else if (r.status === "error") this.table.settle(frame.id, { v: PROTOCOL_VERSION, id: frame.id, ok: false, error: r.error });
      return;
    }
    this.table.settle(frame.id, frame);
  }

  dropPort(port) {
    if (this.port === port) this.port = null;
    try {
      port?.disconnect();
    } catch {
      /* already gone */
    }
  }

  /** Port gone: every waiting request learns which link broke, then retry later. */
  handleDisconnect(port, lastError) {
    if (port && this.port !== port) return;
    this.port = null;
    this.fail(errorFromLastError(lastError), State.waiting);
  }

  fail(err, state, retryDelay) {
    this.lastError = err;
    this.failPending(err);
    this.setState(state);
    this.scheduleRetry(retryDelay);
  }

  failPending(err) {
    for (const f of this.queue.values()) dropPin(f);
    this.queue.clear();
    this.chunks.clear();
    this.table.failAll((id) => ({ v: PROTOCOL_VERSION, id, ok: false, error: err }));
  }

  scheduleRetry(delay) {
    this.cancelRetry();
    const ms = delay ?? this.backoff.next();
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = null;
      this.openPort();
    }, ms);
  }
}

/**
 * The PIN is used once: it is deleted from the body as soon as the frame went out
 * or was refused. (JS strings cannot be zeroized; dropping every reference is what
 * JavaScript allows.)
 */
function dropPin(frame) {
  const body = frame?.body;
  if (body && typeof body === "object" && "pin" in body) delete body.pin;
}
