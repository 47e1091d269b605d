//! Errors the extension itself produces, in the wire shape of envelope.md §3/§5:
//! `{ code, message: { ja, en }, retryable, detail? }`. Every message tells the
//! person at the desk (or the clinic IT person) which link is missing and what to do.

/** @typedef {{ code: string, message: { ja: string, en: string }, retryable: boolean, detail?: object }} OnshiError */

import "./messages.js";

/** Stable codes → bilingual text (lib/messages.js, shared with the content script). */
export const MESSAGES = globalThis.OnshiMessages;

/**
 * Builds an error object for `code` (one of MESSAGES' keys). The optional
 * `message` override keeps the code stable while a reason needs other words.
 * @returns {OnshiError}
 */
export function makeError(code, detail, messageOverride) {
  const entry = MESSAGES[code] ?? MESSAGES.bad_request;
  const err = {
    code: MESSAGES[code] ? code : "bad_request",
    message: messageOverride ?? { ja: entry.ja, en: entry.en },
    retryable: entry.retryable,
  };
  if (detail !== undefined) err.detail = detail;
  return err;
}

/** A reply frame carrying an extension-made error (envelope.md §3 shape). */
export function errorReply(id, code, detail) {
  return { v: 1, id, ok: false, error: makeError(code, detail) };
}

// The browsers' own words for a broken native-messaging link, mapped to the
// link that is missing. Chromium's strings come from
// extensions/browser/api/messaging/native_message_port / native_process_launcher;
// Firefox reports "No such native application …" for any manifest/id/path problem.
const LAST_ERROR_PATTERNS = [
  [/specified native messaging host not found/i, "host_not_found", "manifest_missing"],
  [/invalid native messaging host name/i, "host_not_found", "bad_name"],
  [/no such native application/i, "host_not_found", "manifest_missing"],
  [/access to the specified native messaging host is forbidden/i, "host_not_found", "forbidden"],
  [/failed to start native messaging host/i, "host_not_found", "start_failed"],
  [/native host has exited/i, "host_crashed", "exited"],
  [/error when communicating with the native messaging host/i, "host_crashed", "protocol"],
];

const REASON_MESSAGE_CODE = { forbidden: "host_forbidden", start_failed: "host_start_failed" };

/**
 * Maps the browser's `runtime.lastError.message` (Chromium) or `port.error.message`
 * (Firefox) after a native port disconnected to an OnshiError. The contract's code
 * set is fixed (envelope.md §5), so finer causes go into `detail.reason` and the
 * message, never into new codes.
 * @param {string|undefined|null} lastError
 * @returns {OnshiError}
 */
export function errorFromLastError(lastError) {
  const text = typeof lastError === "string" ? lastError : "";
  for (const [re, code, reason] of LAST_ERROR_PATTERNS) {
    if (re.test(text)) {
      const m = MESSAGES[REASON_MESSAGE_CODE[reason]];
      return makeError(code, { reason, browser: text }, m ? { ja: m.ja, en: m.en } : undefined);
    }
  }
  return makeError("host_crashed", { reason: text ? "unknown" : "disconnected", browser: text || null });
}
