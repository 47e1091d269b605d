// The PIN window's pure state: 4 digits, masked, taken once; last-try confirmation.
import assert from "node:assert/strict";
import test from "node:test";
import { PinPad, canSubmit, warningLevel } from "../lib/pinpad.js";

test("digits only, at most 4, masked", () => {
  const p = new PinPad();
  for (const k of ["1", "a", "", "12", "2", "3", "4", "5"]) p.press(k);
  assert.equal(p.count, 4);
  assert.equal(p.masked(), "●●●●");
  p.backspace();
  assert.equal(p.masked(), "●●●○");
});

test("take() hands the PIN over once and forgets it", () => {
  const p = new PinPad();
  for (const d of "0479") p.press(d);
  assert.equal(p.take(), "0479");
  assert.equal(p.count, 0);
  assert.equal(p.take(), "");
});

test("clear empties", () => {
  const p = new PinPad();
  p.press("1");
  p.clear();
  assert.equal(p.masked(), "○○○○");
});

// [tries_left, level]
for (const [tries, level] of [[3, null], [2, "low"], [1, "last"], [0, null], [undefined, null]]) {
  test(`warning at ${tries} tries left: ${level}`, () => assert.equal(warningLevel(tries), level));
}

test("OK needs 4 digits, tries left, and at the last try an explicit confirmation", () => {
  const p = new PinPad();
  for (const d of "123") p.press(d);
  assert.equal(canSubmit(p, 3, false), false);
  p.press("4");
  assert.equal(canSubmit(p, 3, false), true);
  assert.equal(canSubmit(p, 1, false), false);
  assert.equal(canSubmit(p, 1, true), true);
  assert.equal(canSubmit(p, 0, true), false);
});
