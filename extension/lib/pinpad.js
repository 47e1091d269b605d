//! The PIN window's state, pure so it is testable: digits typed so far (never shown,
//! only masked), whether the last-try warning was explicitly accepted, and whether
//! OK may be pressed. The JPKI user-authentication PIN is exactly 4 digits.

export const PIN_LENGTH = 4;

export class PinPad {
  constructor(length = PIN_LENGTH) {
    this.length = length;
    this.digits = [];
  }

  /** Adds one digit ("0"–"9"); ignored when full or not a digit. Returns true if taken. */
  press(d) {
    if (typeof d !== "string" || !/^[0-9]$/.test(d) || this.digits.length >= this.length) return false;
    this.digits.push(d);
    return true;
  }

  backspace() {
    this.digits.pop();
  }

  clear() {
    this.digits.fill("0");
    this.digits.length = 0;
  }

  get count() {
    return this.digits.length;
  }

  get complete() {
    return this.digits.length === this.length;
  }

  /** "●●○○": filled and empty places, for the display and screen readers. */
  masked() {
    return "●".repeat(this.digits.length) + "○".repeat(this.length - this.digits.length);
  }

  /** Hands the PIN over once and forgets it. */
  take() {
    const pin = this.digits.join("");
    this.clear();
    return pin;
  }
}

/** "last" at one try left (a wrong PIN locks the card), "low" at two, else null. */
export function warningLevel(triesLeft) {
  if (triesLeft === 1) return "last";
  if (triesLeft === 2) return "low";
  return null;
}

/** OK is allowed with a full PIN, tries left, and — at the last try — an explicit confirmation. */
export function canSubmit(pad, triesLeft, lastTryConfirmed) {
  if (!pad.complete) return false;
  if (typeof triesLeft === "number" && triesLeft <= 0) return false;
  if (warningLevel(triesLeft) === "last" && !lastTryConfirmed) return false;
  return true;
}
