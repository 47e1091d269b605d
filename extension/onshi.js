//! onshi.js — the page-side API for talking to the Onshi helper through the
//! "Onshi reception bridge" extension (envelope.md §1/§4). No framework, no build.
//!
//!   <script src="onshi.js"></script>            → window.Onshi
//!   import { Onshi } from "./onshi.esm.js";          → the same object as an ES module
//!
//!   const onshi = await Onshi.connect();          // rejects {code:"extension_missing"} if no ack in 1 s
//!   onshi.on("card_present", (ev) => …);          // helper events for this (paired) origin
//!   const { code } = await onshi.pair();          // show `code`; staff approve in the extension's window
//!   const body = await onshi.request({ type: "status" });
//!
//! Requests resolve with the reply `body`, or reject with the wire error object
//! `{ code, message: { ja, en }, retryable, detail? }` (docs/extension.md lists the codes).
//! This file is self-contained: reception software may copy it as is.
(function (root) {
  "use strict";

  var PAGE_VERSION = "onshi.js/1";
  var ACK_TIMEOUT_MS = 1000;
  // Longer than the extension's own longest timeout (120 s for a card confirm), so
  // normally the extension's precise error arrives first.
  var DEFAULT_REQUEST_TIMEOUT_MS = 150000;

  var TEXT = {
    extension_missing: {
      ja: "ブラウザ拡張機能「Onshi 受付ブリッジ」が見つかりません。拡張機能を入れて有効にしてから、このページを再読み込みしてください。",
      en: "The browser extension \"Onshi reception bridge\" was not found. Install and enable it, then reload this page.",
      retryable: false,
    },
    extension_timeout: {
      ja: "拡張機能から時間内に応答がありませんでした。もう一度お試しください。繰り返す場合はページを再読み込みしてください。",
      en: "The extension did not answer in time. Try again; if it keeps happening, reload the page.",
      retryable: true,
    },
  };

  function pageError(code, detail) {
    var t = TEXT[code];
    var e = { code: code, message: { ja: t.ja, en: t.en }, retryable: t.retryable };
    if (detail !== undefined) e.detail = detail;
    return e;
  }

  var counter = 0;
  function newId() {
    counter += 1;
    return "p" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2, 8) + "-" + counter;
  }

  /**
   * A connection bound to one window. Use `Onshi.connect()`; the constructor is
   * exposed for tests that pass a fake window and timers.
   * @param {Window} win
   * @param {{ setTimeout?: Function, clearTimeout?: Function }} [timers]
   */
  function Client(win, timers) {
    var self = this;
    this.win = win;
    this.setTimeout = (timers && timers.setTimeout) || root.setTimeout.bind(root);
    this.clearTimeout = (timers && timers.clearTimeout) || root.clearTimeout.bind(root);
    this.waiting = new Map(); // id → { resolve, reject, acked, ackTimer, replyTimer, onAck }
    this.listeners = new Map(); // event type (or "*") → Set<fn>
    this.onMessage = function (event) { self.handle(event); };
    win.addEventListener("message", this.onMessage);
  }

  Client.prototype.handle = function (event) {
    if (event.source !== this.win) return;
    var d = event.data;
    if (!d || typeof d !== "object" || d.onshi !== 1) return;
    if (d.dir === "ack") {
      var w = this.waiting.get(d.id);
      if (w && !w.acked) {
        w.acked = true;
        this.clearTimeout(w.ackTimer);
        if (w.onAck) w.onAck();
      }
    } else if (d.dir === "from-helper") {
      var entry = this.waiting.get(d.id);
      if (!entry) return;
      this.finish(d.id);
      var reply = d.reply || {};
      if (reply.ok === true) entry.resolve(reply.body);
      else entry.reject(reply.error || { code: "bad_request", message: { ja: "不明な応答です。", en: "Unknown reply." }, retryable: false });
    } else if (d.dir === "event" && d.event && typeof d.event.type === "string") {
      this.emit(d.event.type, d.event);
      this.emit("*", d.event);
    }
  };

  Client.prototype.emit = function (type, ev) {
    var set = this.listeners.get(type);
    if (!set) return;
    set.forEach(function (fn) {
      try { fn(ev); } catch (e) { setTimeout(function () { throw e; }, 0); }
    });
  };

  Client.prototype.finish = function (id) {
    var w = this.waiting.get(id);
    if (!w) return;
    this.clearTimeout(w.ackTimer);
    this.clearTimeout(w.replyTimer);
    this.waiting.delete(id);
  };

  /**
   * Sends `body` ({ type: "snake_case", … }) to the helper.
   * @param {object} body
   * @param {{ timeoutMs?: number, ackTimeoutMs?: number, onAck?: Function }} [opts]
   * @returns {Promise<object>} the reply body; rejects with the error object
   */
  Client.prototype.request = function (body, opts) {
    var self = this;
    opts = opts || {};
    var id = newId();
    return new Promise(function (resolve, reject) {
      var w = { resolve: resolve, reject: reject, acked: false, onAck: opts.onAck || null, ackTimer: null, replyTimer: null };
      self.waiting.set(id, w);
      w.ackTimer = self.setTimeout(function () {
        if (w.acked) return;
        self.finish(id);
        reject(pageError("extension_missing"));
      }, opts.ackTimeoutMs || ACK_TIMEOUT_MS);
      w.replyTimer = self.setTimeout(function () {
        self.finish(id);
        reject(pageError("extension_timeout", { timeout_ms: opts.timeoutMs || DEFAULT_REQUEST_TIMEOUT_MS }));
      }, opts.timeoutMs || DEFAULT_REQUEST_TIMEOUT_MS);
      var origin = self.win.location && self.win.location.origin;
      self.win.postMessage({ onshi: 1, dir: "to-helper", id: id, body: body }, origin && origin !== "null" ? origin : "*");
    });
  };

  /** Subscribes to helper events of `type` ("*" = all). Returns an unsubscribe function. */
  Client.prototype.on = function (type, fn) {
    var set = this.listeners.get(type);
    if (!set) { set = new Set(); this.listeners.set(type, set); }
    set.add(fn);
    return function () { set.delete(fn); };
  };

  /** `hello`: the helper's version and this origin's pairing state. */
  Client.prototype.hello = function () {
    return this.request({ type: "hello", page_version: PAGE_VERSION });
  };

  /**
   * Starts pairing this origin: resolves `{ code, pairing_id }`. Show `code` on the
   * page; the extension opens its own window with the same code for staff to approve.
   */
  Client.prototype.pair = function () {
    return this.request({ type: "pair_begin" });
  };

  /** Stops listening; pending requests reject with extension_timeout when they expire. */
  Client.prototype.close = function () {
    this.win.removeEventListener("message", this.onMessage);
  };

  /**
   * Detects the extension: sends `hello` and resolves with a Client as soon as the
   * content script acknowledges (≤ timeoutMs, default 1000). Rejects with
   * `{ code: "extension_missing" }` otherwise. The hello's own reply (which may be
   * an error such as `host_not_found` or `not_paired`) is on `client.ready`.
   * @param {{ timeoutMs?: number, window?: Window, timers?: object }} [opts]
   * @returns {Promise<Client>}
   */
  function connect(opts) {
    opts = opts || {};
    var win = opts.window || root.window || root;
    var client = new Client(win, opts.timers);
    return new Promise(function (resolve, reject) {
      var ready = client.request({ type: "hello", page_version: PAGE_VERSION }, {
        ackTimeoutMs: opts.timeoutMs || ACK_TIMEOUT_MS,
        onAck: function () { resolve(client); },
      });
      client.ready = ready;
      ready.catch(function (err) {
        if (err && err.code === "extension_missing") {
          client.close();
          reject(err);
        }
      });
    });
  }

  root.Onshi = Object.freeze({ connect: connect, Client: Client, PAGE_VERSION: PAGE_VERSION });
})(globalThis);
