//! Content script: the only thing a web page can reach. It listens to its own
//! window, takes only `{ onshi: 1, dir: "to-helper" }` messages (envelope.md §1),
//! acknowledges them at once (so the page can tell "extension missing" from
//! "helper missing"), strips what a page may not say (lib/scrub.js), and relays
//! `{ id, body }` to the background over a runtime port. Replies and events come
//! back the same way and are posted to this window only. Loaded after
//! lib/messages.js, lib/scrub.js and lib/allowlist.js (manifest order); a classic
//! script, since content scripts cannot be modules.
//!
//! When IT sets `allowed_origins` by browser policy (lib/allowlist.js, docs/helper.md)
//! and this page's origin is not on it, the script does nothing at all — no ack, no
//! relay, no reply — so the page cannot even tell that the extension exists. Reading
//! the policy is asynchronous while pages post their hello at document_start, so
//! messages wait in a short queue until the policy is known (from the background's
//! copy of the last read, then from the fresh read: see watchManagedPolicy; in a
//! profile's first session, with no copy yet, at most NO_COPY_GRACE_MS).
(function () {
  "use strict";
  var api = globalThis.browser || globalThis.chrome;
  var Scrub = globalThis.OnshiScrub;
  var Messages = globalThis.OnshiMessages;
  var Allowlist = globalThis.OnshiAllowlist;
  var ORIGIN = window.location.origin;
  /** More than a page sends before the policy read answers (milliseconds); beyond it, dropped. */
  var MAX_QUEUED = 32;
  /**
   * With no kept copy of the policy (a profile's first session), how long to wait for the
   * browser's first read before acting as "no policy" until it answers: short enough for
   * the page's 1 s ack timeout (onshi.js, the Yew page), so a new profile's first page
   * still finds the extension. See watchManagedPolicy for the trade-off.
   */
  var NO_COPY_GRACE_MS = 500;
  var port = null;
  /** ids relayed and not yet answered, so a lost background can still answer them */
  var pending = new Map();
  /** undefined until the policy is known; then whether this page may be answered. */
  var allowed;
  /** Our messages (raw event data) that arrived before the policy was known, in order. */
  var queue = [];

  function toPage(msg) {
    // Never a word to a page the policy leaves out, not even a late reply.
    if (allowed !== true) return;
    window.postMessage(msg, window.location.origin);
  }

  function errorReply(id, code, detail) {
    var m = Messages[code];
    return { v: 1, id: id, ok: false, error: { code: code, message: { ja: m.ja, en: m.en }, retryable: m.retryable, detail: detail } };
  }

  function answer(id, reply) {
    pending.delete(id);
    toPage({ onshi: 1, dir: "from-helper", id: id, reply: reply });
  }

  function ensurePort() {
    if (port) return port;
    var p = api.runtime.connect({ name: "onshi" });
    p.onMessage.addListener(function (msg) {
      if (!msg || typeof msg !== "object") return;
      if (msg.kind === "reply" && typeof msg.id === "string" && pending.has(msg.id)) answer(msg.id, msg.reply);
      else if (msg.kind === "event" && msg.event && typeof msg.event === "object") toPage({ onshi: 1, dir: "event", event: msg.event });
    });
    p.onDisconnect.addListener(function () {
      if (port === p) port = null;
      // The background went away (extension reloaded or updated): nothing will answer these.
      pending.forEach(function (_v, id) {
        answer(id, errorReply(id, "host_crashed", { reason: "extension_restarted" }));
      });
    });
    port = p;
    return p;
  }

  function relay(id, body) {
    pending.set(id, true);
    try {
      ensurePort().postMessage({ kind: "request", id: id, body: body });
    } catch (e) {
      port = null;
      answer(id, errorReply(id, "host_crashed", { reason: "extension_restarted" }));
    }
  }

  function handle(data) {
    var verdict = Scrub.filterPageMessage(data);
    if (verdict.action === "drop") return;
    toPage({ onshi: 1, dir: "ack", id: verdict.id });
    if (verdict.action === "reject") answer(verdict.id, errorReply(verdict.id, verdict.code, verdict.detail));
    else relay(verdict.id, verdict.body);
  }

  /** Stops talking to the background: the policy now leaves this page out. */
  function goSilent() {
    queue = [];
    pending.clear();
    var p = port;
    port = null;
    if (p) {
      try { p.disconnect(); } catch (e) { /* already gone */ }
    }
  }

  function applyPolicy(policy) {
    allowed = Allowlist.policyAllows(policy, ORIGIN);
    if (!allowed) return goSilent();
    var waiting = queue;
    queue = [];
    for (var i = 0; i < waiting.length; i++) {
      try { handle(waiting[i]); } catch (e) { /* one bad message must not stop the others */ }
    }
  }

  window.addEventListener("message", function (event) {
    try {
      // Only this window's own page: not iframes, not other windows, not other extensions' frames.
      if (event.source !== window) return;
      if (allowed === true) return handle(event.data);
      if (allowed === false) return;
      // Policy not known yet: keep only what looks like ours (pages post plenty of
      // other messages), in order, and bounded.
      var d = event.data;
      if (d !== null && typeof d === "object" && d.onshi === 1 && d.dir === "to-helper" && queue.length < MAX_QUEUED) queue.push(d);
    } catch (e) {
      // Nothing a page sends may break the content script.
    }
  });

  // The background's copy of the last policy decides at once; the fresh read then rules.
  Allowlist.watchManagedPolicy(api && api.storage, applyPolicy, function (m) { console.warn(m); }, { readCache: true, noCopyGraceMs: NO_COPY_GRACE_MS });
})();
