//! What every window of our own (pairing, PIN, options) starts with: the channel to the
//! background, the one-time token from the URL fragment, an element lookup and the
//! two-line (Japanese, then English) status text. One copy for all three pages.
import { openChannel } from "./channel.js";

/**
 * Writes a status line into `el`: Japanese first, English on its own line under it.
 * `kind` is "", "ok" or "bad" (ui.css colours). textContent only: no markup from data.
 */
export function showLines(el, kind, ja, en) {
  el.className = `status ${kind}`;
  el.textContent = "";
  el.append(ja);
  const e = (el.ownerDocument ?? globalThis.document).createElement("span");
  e.className = "en";
  e.textContent = en;
  el.append(e);
}

/**
 * @param {{ api?: object, doc?: Document, loc?: Location }} [env]  for tests; defaults to the page's globals
 */
export function extensionPage(env = {}) {
  const api = env.api ?? globalThis.browser ?? globalThis.chrome;
  const doc = env.doc ?? globalThis.document;
  const loc = env.loc ?? globalThis.location;
  const $ = (id) => doc.getElementById(id);
  return {
    ch: openChannel(api),
    /** The unguessable token the background put in our URL fragment (pair/pin windows). */
    token: (loc?.hash ?? "").slice(1),
    $,
    /** Status text into the page's `#status` element. */
    show: (kind, ja, en) => showLines($("status"), kind, ja, en),
  };
}
