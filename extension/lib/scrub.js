//! Page-message filtering of envelope.md §1, shared by the content script (a classic
//! script, which cannot import modules) and the background (which re-applies it to
//! page frames as defence in depth). Written without `export` so it runs both as a
//! classic content script and as a side-effect module import; it publishes
//! `globalThis.OnshiScrub`.
(function (root) {
  "use strict";

  /** Fields a page may never set: the browser and our own windows supply them. */
  var STRIP_TOP = ["origin", "via", "pin", "approve", "approval"];
  var MAX_PAGE_BYTES = 8 * 1024 * 1024;
  var MAX_ID_CHARS = 64;

  function utf8Length(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) { n += 4; i++; }
      else n += 3;
    }
    return n;
  }

  function isPlainObject(v) {
    return v !== null && typeof v === "object" && !Array.isArray(v);
  }

  /**
   * Returns a fresh JSON copy of `body` without the top-level fields a page may not
   * set and without any key named `pin` at any depth. Iterative, so a deeply nested
   * body cannot overflow the stack. Throws only if `body` is not JSON-serializable.
   */
  function scrubBody(body) {
    var copy = JSON.parse(JSON.stringify(body));
    if (!isPlainObject(copy)) return copy;
    for (var i = 0; i < STRIP_TOP.length; i++) delete copy[STRIP_TOP[i]];
    var stack = [copy];
    while (stack.length > 0) {
      var node = stack.pop();
      if (Array.isArray(node)) {
        for (var j = 0; j < node.length; j++) if (node[j] !== null && typeof node[j] === "object") stack.push(node[j]);
      } else {
        if (Object.prototype.hasOwnProperty.call(node, "pin")) delete node.pin;
        for (var k in node) {
          if (Object.prototype.hasOwnProperty.call(node, k) && node[k] !== null && typeof node[k] === "object") stack.push(node[k]);
        }
      }
    }
    return copy;
  }

  /**
   * Decides what to do with one `message` event's data from the page's own window.
   * @returns {{action: "drop"} | {action: "reject", id: string, code: string, detail: object}
   *   | {action: "forward", id: string, body: object}}
   *   "drop": not for us (silently ignored, no ack); "reject": acked, then answered
   *   with an error reply; "forward": acked and relayed as `{ id, body }`.
   */
  function filterPageMessage(data) {
    if (!isPlainObject(data) || data.onshi !== 1 || data.dir !== "to-helper") return { action: "drop" };
    var id = data.id;
    if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_CHARS) return { action: "drop" };
    var text;
    try {
      text = JSON.stringify({ id: id, body: data.body });
    } catch (e) {
      return { action: "reject", id: id, code: "bad_request", detail: { reason: "not_json" } };
    }
    if (typeof text !== "string") return { action: "reject", id: id, code: "bad_request", detail: { reason: "not_json" } };
    // Bytes ≥ chars: a long text is rejected before counting its bytes.
    var bytes = text.length > MAX_PAGE_BYTES ? text.length : utf8Length(text);
    if (bytes > MAX_PAGE_BYTES) return { action: "reject", id: id, code: "too_large", detail: { bytes_at_least: bytes, max: MAX_PAGE_BYTES } };
    var body = data.body;
    if (!isPlainObject(body) || typeof body.type !== "string" || !/^[a-z][a-z0-9_]{0,63}$/.test(body.type)) {
      return { action: "reject", id: id, code: "bad_request", detail: { reason: "bad_body" } };
    }
    return { action: "forward", id: id, body: scrubBody(body) };
  }

  root.OnshiScrub = Object.freeze({
    STRIP_TOP: STRIP_TOP,
    MAX_PAGE_BYTES: MAX_PAGE_BYTES,
    MAX_ID_CHARS: MAX_ID_CHARS,
    scrubBody: scrubBody,
    filterPageMessage: filterPageMessage,
    utf8Length: utf8Length,
  });
})(globalThis);
