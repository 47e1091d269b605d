//! Content script: the only thing a web page can reach. It listens to its own
//! window, takes only `{ onshi: 1, dir: "to-helper" }` messages (envelope.md §1),
//! acknowledges them at once (so the page can tell "extension missing" from
//! "helper missing"), strips what a page may not say (lib/scrub.js), and relays
//! `{ id, body }` to the background over a runtime port. Replies and events come
//! back the same way and are posted to this window only. Loaded after
//! lib/messages.js and lib/scrub.js (manifest order); a classic script, since
//! content scripts cannot be modules.
(function () {
  "use strict";
  var api = globalThis.browser || globalThis.chrome;
  var Scrub = globalThis.OnshiScrub;
  var Messages = globalThis.OnshiMessages;
  var port = null;
  /** ids relayed and not yet answered, so a lost background can still answer them */
  var pending = new Map();

  function toPage(msg) {
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

  window.addEventListener("message", function (event) {
    // Only this window's own page: not iframes, not other windows, not other extensions' frames.
    if (event.source !== window) return;
    var verdict = Scrub.filterPageMessage(event.data);
    if (verdict.action === "drop") return;
    toPage({ onshi: 1, dir: "ack", id: verdict.id });
    if (verdict.action === "reject") answer(verdict.id, errorReply(verdict.id, verdict.code, verdict.detail));
    else relay(verdict.id, verdict.body);
  });
})();
