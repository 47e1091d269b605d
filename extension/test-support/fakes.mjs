// Shared fakes for the unit tests in test/ (kept out of test/ so node --test does not count it as a test file): a manual clock,
// browser-style events, a fake native port, fake runtime ports and a fake window
// in a vm context that runs the classic scripts (content.js, onshi.js) unchanged.
import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Timers that only move when the test says so. */
export class FakeClock {
  constructor() {
    this.t = 0;
    this.timers = new Map();
    this.seq = 0;
    this.setTimeout = (fn, ms) => {
      this.seq += 1;
      this.timers.set(this.seq, { at: this.t + ms, fn });
      return this.seq;
    };
    this.clearTimeout = (id) => { this.timers.delete(id); };
    this.now = () => this.t;
  }
  /** Runs every timer due within `ms`, in time order. */
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let next = null;
      for (const [id, tm] of this.timers) if (tm.at <= end && (!next || tm.at < next[1].at)) next = [id, tm];
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
  /** Delays of the timers now pending, relative to now. */
  pendingDelays() {
    return [...this.timers.values()].map((tm) => tm.at - this.t);
  }
}

export class FakeEvent {
  constructor() { this.fns = []; }
  addListener(fn) { this.fns.push(fn); }
  removeListener(fn) { this.fns = this.fns.filter((f) => f !== fn); }
  emit(...args) { for (const f of [...this.fns]) f(...args); }
}

/** The browser side of connectNative: records frames; the test plays the helper. */
export class FakeNativePort {
  constructor() {
    this.sent = [];
    this.onMessage = new FakeEvent();
    this.onDisconnect = new FakeEvent();
    this.disconnected = false;
    this.error = null;
  }
  postMessage(frame) {
    if (this.disconnected) throw new Error("Attempting to use a disconnected port object");
    this.sent.push(JSON.parse(JSON.stringify(frame)));
  }
  disconnect() { this.disconnected = true; }
  /** helper → browser */
  deliver(frame) { this.onMessage.emit(frame); }
  /** the helper process died / was never found */
  die(message) {
    this.disconnected = true;
    this.error = message ? { message } : null;
    this.onDisconnect.emit(this);
  }
  lastSent() { return this.sent[this.sent.length - 1]; }
}

/** A runtime port as the background sees it, with a browser-filled `sender`. */
export class FakeRuntimePort {
  constructor(sender, name = "onshi") {
    this.name = name;
    this.sender = sender;
    this.onMessage = new FakeEvent();
    this.onDisconnect = new FakeEvent();
    this.received = [];
    this.disconnected = false;
  }
  postMessage(msg) { this.received.push(JSON.parse(JSON.stringify(msg))); }
  disconnect() { this.disconnected = true; }
  /** client → background */
  send(msg) { this.onMessage.emit(msg); }
}

export const tick = () => new Promise((r) => setImmediate(r));

/**
 * A fake top-level window as a vm context. `postMessage` dispatches asynchronously
 * (like the browser) a structured clone with `source` = this window (`win.global`).
 */
export function makeWindow(origin = "https://clinic.example") {
  const listeners = new Set();
  const posted = [];
  const win = {
    location: { origin, href: origin + "/reception" },
    posted,
    console,
    setTimeout,
    clearTimeout,
    addEventListener(type, fn) { if (type === "message") listeners.add(fn); },
    removeEventListener(type, fn) { if (type === "message") listeners.delete(fn); },
    postMessage(data, targetOrigin) {
      const clone = structuredClone(data);
      posted.push({ data: clone, targetOrigin });
      queueMicrotask(() => win.dispatch(clone, win.global));
    },
    /** Delivers a message event as if posted by `source` (another frame, say). */
    dispatch(data, source) {
      const ev = { data, source, origin };
      for (const fn of [...listeners]) fn(ev);
    },
    listenerCount: () => listeners.size,
  };
  win.window = win;
  vm.createContext(win);
  // Inside the context `window` is the context's global proxy, not `win`: events
  // from "this window" must carry that object as their source.
  win.global = vm.runInContext("globalThis", win);
  return win;
}

export function runClassic(win, file) {
  vm.runInContext(fs.readFileSync(path.join(ROOT, file), "utf8"), win, { filename: file });
}

/** The content scripts in the manifest's order, so tests load exactly what the browser loads. */
export const CONTENT_SCRIPTS = JSON.parse(fs.readFileSync(path.join(ROOT, "manifest.json"), "utf8")).content_scripts[0].js;

export function runContentScripts(win) {
  for (const f of CONTENT_SCRIPTS) runClassic(win, f);
}

/**
 * `chrome.storage` with a managed area set by the test (IT's policy) and a local area
 * (`local`: its initial items). With `hold`, each `managed.get` waits until the test
 * calls `answer()`, like Chromium's first read of a session.
 */
export class FakeStorage {
  constructor({ managed = {}, hold = false, fail = null, local = {} } = {}) {
    this.localItems = structuredClone(local);
    this.local = {
      get: (key) => Promise.resolve(Object.prototype.hasOwnProperty.call(this.localItems, key) ? { [key]: structuredClone(this.localItems[key]) } : {}),
      set: (items) => {
        Object.assign(this.localItems, structuredClone(items));
        this.onChanged.emit(items, "local");
        return Promise.resolve();
      },
    };
    this.value = managed;
    this.hold = hold;
    this.fail = fail;
    this.reads = 0;
    this.waiting = [];
    this.onChanged = new FakeEvent();
    this.managed = {
      get: (key) => {
        this.reads += 1;
        if (this.fail) return Promise.reject(new Error(this.fail));
        const snapshot = () => (Object.prototype.hasOwnProperty.call(this.value, key) ? { [key]: structuredClone(this.value[key]) } : {});
        if (!this.hold) return Promise.resolve(snapshot());
        return new Promise((resolve) => this.waiting.push(() => resolve(snapshot())));
      },
    };
  }
  /** Lets every read in flight answer (with the value as it is now). */
  answer() {
    for (const f of this.waiting.splice(0)) f();
  }
  /** IT changes the policy: the browser fires storage.onChanged for the "managed" area. */
  setManaged(value) {
    this.value = value;
    this.onChanged.emit({}, "managed");
  }
}

/** A fake `chrome` for a content script: runtime.connect returns FakeRuntimePorts. */
export function makeContentChrome({ storage } = {}) {
  const ports = [];
  return {
    ports,
    storage,
    runtime: {
      connect({ name }) {
        const p = new FakeRuntimePort({}, name);
        ports.push(p);
        return p;
      },
    },
  };
}
