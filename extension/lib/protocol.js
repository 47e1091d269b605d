//! Wire constants of envelope.md and the one decision the browser alone can make:
//! who sent a runtime message (a web page's content script, or one of our own pages).
//! The origin always comes from the browser's `sender`, never from a message field.

import "./scrub.js";

export const PROTOCOL_VERSION = 1;
export const HOST_NAME = "jp.onshi.helper";
/** Page → extension message cap (envelope.md §1), UTF-8 bytes of the JSON text. */
export const MAX_PAGE_BYTES = 8 * 1024 * 1024;
/** Browser → host frame cap (Chromium/Firefox limit). */
export const MAX_TO_HOST_BYTES = 64 * 1024 * 1024;
/** Reassembled host → browser reply cap, and the number of chunks allowed. */
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;
export const MAX_CHUNKS = 64;
export const MAX_ID_CHARS = 64;

export const DEFAULT_TIMEOUT_MS = 30_000;
/** Types that wait for a person (PIN typing, card handling) get longer. */
export const TIMEOUTS_MS = Object.freeze({
  card_confirm: 120_000,
  card_register: 120_000,
  pin_entry: 120_000,
  batch_submit: 60_000,
  hello: 10_000,
});

export function timeoutFor(type) {
  return TIMEOUTS_MS[type] ?? DEFAULT_TIMEOUT_MS;
}

/** Types valid only with `via: "extension"` (envelope.md §2/§6). Pages get `bad_request`. */
export const EXTENSION_ONLY_TYPES = new Set(["pair_approve", "pin_entry", "pin_cancel", "pair_revoke", "pairings_list"]);

/** Types a page may send before it is paired; an ok reply to them says nothing about pairing. */
export const PUBLIC_TYPES = new Set(["hello", "status", "pair_begin"]);

const TYPE_RE = /^[a-z][a-z0-9_]{0,63}$/;

export function isValidId(id) {
  return typeof id === "string" && id.length > 0 && id.length <= MAX_ID_CHARS;
}

export function isValidBody(body) {
  return body !== null && typeof body === "object" && !Array.isArray(body) && typeof body.type === "string" && TYPE_RE.test(body.type);
}

/** UTF-8 length of a string (one implementation, in scrub.js). */
export const utf8Length = globalThis.OnshiScrub.utf8Length;

/**
 * Decides who is talking, from the browser-provided `sender` only.
 * @param {{id?: string, url?: string, origin?: string, tab?: object}} sender
 * @param {{ extensionId: string, extensionBase: string }} own  extensionBase = runtime.getURL("")
 * @returns {{ via: "page"|"extension", origin: string, tabId: number|null } | null}  null = refuse
 */
export function classifySender(sender, own) {
  if (!sender || sender.id !== own.extensionId || typeof sender.url !== "string") return null;
  const url = sender.url;
  if (url.startsWith(own.extensionBase)) {
    // One of our own pages (pairing, PIN, options window). Its origin is the extension's.
    return { via: "extension", origin: own.extensionBase.replace(/\/$/, ""), tabId: sender.tab?.id ?? null };
  }
  // Anything else must be a content script in a web page tab (http/https).
  if (!sender.tab) return null;
  let origin;
  try {
    origin = new URL(url).origin;
  } catch {
    return null;
  }
  if (!/^https?:\/\//.test(origin)) return null;
  // Chromium also gives sender.origin; when both exist they must agree, else refuse.
  if (typeof sender.origin === "string" && sender.origin !== "null" && sender.origin !== origin) return null;
  return { via: "page", origin, tabId: sender.tab.id ?? null };
}
