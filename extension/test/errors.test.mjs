// Mapping of the browser's native-messaging failures to the link that is missing.
import assert from "node:assert/strict";
import test from "node:test";
import { MESSAGES, errorFromLastError, errorReply, makeError } from "../lib/errors.js";

// [browser text, expected code, expected detail.reason]
const CASES = [
  ["Specified native messaging host not found.", "host_not_found", "manifest_missing"],
  ["Invalid native messaging host name specified.", "host_not_found", "bad_name"],
  ["No such native application jp.onshi.helper", "host_not_found", "manifest_missing"],
  ["Access to the specified native messaging host is forbidden.", "host_not_found", "forbidden"],
  ["Failed to start native messaging host.", "host_not_found", "start_failed"],
  ["Native host has exited.", "host_crashed", "exited"],
  ["Error when communicating with the native messaging host.", "host_crashed", "protocol"],
  ["An unexpected error occurred", "host_crashed", "unknown"],
  [undefined, "host_crashed", "disconnected"],
  [null, "host_crashed", "disconnected"],
  ["", "host_crashed", "disconnected"],
];

for (const [text, code, reason] of CASES) {
  test(`lastError ${JSON.stringify(text)} → ${code} (${reason})`, () => {
    const e = errorFromLastError(text);
    assert.equal(e.code, code);
    assert.equal(e.detail.reason, reason);
    assert.equal(typeof e.message.ja, "string");
    assert.equal(typeof e.message.en, "string");
    assert.equal(e.retryable, code === "host_crashed");
  });
}

test("forbidden and start_failed keep the contract code but say what to do", () => {
  assert.match(errorFromLastError("Access to the specified native messaging host is forbidden.").message.en, /extension id/);
  assert.match(errorFromLastError("Failed to start native messaging host.").message.ja, /再インストール/);
  assert.match(errorFromLastError("Specified native messaging host not found.").message.ja, /onshi-helper install/);
});

test("every code has Japanese and English text that says what to do", () => {
  for (const [code, m] of Object.entries(MESSAGES)) {
    assert.ok(m.ja.length > 10 && m.en.length > 10, code);
    assert.match(m.ja, /ください/, `${code}: the Japanese text must ask for an action`);
    assert.equal(typeof m.retryable, "boolean");
  }
});

test("the contract's extension codes all exist", () => {
  for (const code of ["extension_timeout", "host_not_found", "host_crashed", "version_mismatch", "too_large", "bad_request"]) {
    assert.equal(makeError(code).code, code);
  }
});

test("an unknown code becomes bad_request, never a crash", () => {
  assert.equal(makeError("nope").code, "bad_request");
});

test("errorReply has the wire shape", () => {
  assert.deepEqual(errorReply("r1", "too_large", { max: 1 }), {
    v: 1, id: "r1", ok: false, error: { code: "too_large", message: { ja: MESSAGES.too_large.ja, en: MESSAGES.too_large.en }, retryable: false, detail: { max: 1 } },
  });
});
