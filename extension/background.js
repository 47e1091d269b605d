//! Background of the Onshi bridge: a service worker on Chromium, an event page
//! (background script) on Firefox — the same ES module in both. Only wiring lives
//! here; the logic is in lib/ (HostLink: the native port; Bridge: routing and the
//! trusted windows), which node tests exercise with fakes.

import { Bridge } from "./lib/bridge.js";
import { HostLink, State } from "./lib/hostlink.js";
import { HOST_NAME } from "./lib/protocol.js";
import "./lib/allowlist.js";

const api = globalThis.browser ?? globalThis.chrome;

const own = { extensionId: api.runtime.id, extensionBase: api.runtime.getURL("") };

const link = new HostLink({
  connect: () => api.runtime.connectNative(HOST_NAME),
  // Chromium reports through runtime.lastError (read inside onDisconnect);
  // Firefox through port.error.
  lastErrorOf: (port) => api.runtime.lastError?.message ?? port?.error?.message ?? undefined,
  clock: { setTimeout: (f, ms) => setTimeout(f, ms), clearTimeout: (t) => clearTimeout(t), now: () => Date.now() },
  ownOrigin: own.extensionBase.replace(/\/$/, ""),
  extensionVersion: api.runtime.getManifest().version,
  onEvent: (frame) => bridge.onHostEvent(frame),
  onState: (state) => {
    if (state === State.ready) bridge.refreshPairings();
  },
});

const WINDOW_SIZE = { pair: { width: 480, height: 560 }, pin: { width: 780, height: 700 } };

const bridge = new Bridge({
  link,
  own,
  // Page requests wait until IT's allowlist has been read (Chromium answers the first
  // read of a session only when its policy service is ready: ~3 s after start).
  policyPending: true,
  newToken: () => crypto.randomUUID(),
  windows: {
    open: async (path) => {
      const size = WINDOW_SIZE[path.startsWith("pin") ? "pin" : "pair"];
      const w = await api.windows.create({ url: api.runtime.getURL(path), type: "popup", focused: true, ...size });
      return w.id;
    },
    close: (windowId) => api.windows.remove(windowId).catch(() => {}),
    focus: (windowId) => api.windows.update(windowId, { focused: true }).catch(() => {}),
  },
});

api.runtime.onConnect.addListener((port) => {
  if (port.name === "onshi") bridge.attach(port);
  else port.disconnect();
});

api.windows.onRemoved.addListener((windowId) => bridge.onWindowRemoved(windowId));

// IT's origin allowlist from browser policy, read now and on every change of the
// managed area (registered at the top level, as a service worker's listeners must be).
// Each read is also kept in storage.local, where content scripts find it at once
// while their own first read waits for the browser's policy service.
globalThis.OnshiAllowlist.watchManagedPolicy(api.storage, (policy) => bridge.setPolicy(policy), (m) => console.warn(m), { writeCache: true });

// Connect at start-up: the handshake tells the options page (and the first page
// request) at once whether the helper is installed, and an open native port keeps
// Chromium's service worker alive while a confirm is in flight.
link.start();
