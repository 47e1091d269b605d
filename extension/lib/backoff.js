//! Exponential reconnect backoff for the native port: base·2ⁿ capped at max,
//! with a little jitter so several browsers on one PC do not restart the helper in step.

export class Backoff {
  /** @param {{ baseMs?: number, maxMs?: number, jitter?: number, random?: () => number }} [opts] */
  constructor({ baseMs = 1000, maxMs = 30_000, jitter = 0.2, random = Math.random } = {}) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.jitter = jitter;
    this.random = random;
    this.attempt = 0;
  }

  /** Delay before the next attempt, in ms; each call doubles the following one. */
  next() {
    const raw = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const spread = raw * this.jitter * (this.random() * 2 - 1);
    return Math.max(0, Math.min(this.maxMs, Math.round(raw + spread)));
  }

  /** After a successful handshake. */
  reset() {
    this.attempt = 0;
  }
}
