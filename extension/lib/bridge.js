//! The background's controller: takes runtime ports from content scripts and from our
//! own pages, stamps each request with the browser-verified origin and `via`, sends it
//! over the HostLink, routes replies back and helper events to the right tabs, and
//! owns the trusted windows (pairing, PIN). Browser APIs are injected (see
//! background.js), so node tests drive it with fake ports and windows.
//!
//! IT's origin allowlist (browser policy, lib/allowlist.js) is checked here too, not
//! only in the content script: a page outside it gets `origin_not_allowed` and nothing
//! of its request reaches the helper, nor can a pairing or PIN window open for it.

import { errorReply } from "./errors.js";
import { EXTENSION_ONLY_TYPES, PUBLIC_TYPES, classifySender, isValidBody, isValidId, timeoutFor } from "./protocol.js";
import "./scrub.js";
import "./allowlist.js";

const { scrubBody } = globalThis.OnshiScrub;
const { policyAllows } = globalThis.OnshiAllowlist;

export class Bridge {
  /**
   * @param {object} deps
   * @param {{ request: Function, status: Function }} deps.link  a HostLink
   * @param {{ extensionId: string, extensionBase: string }} deps.own
   * @param {{ open: (path: string) => Promise<number>, close: (windowId: number) => Promise<void>|void, focus?: (windowId: number) => void }} deps.windows
   * @param {() => string} deps.newToken  unguessable token naming one trusted window
   * @param {boolean} [deps.policyPending]  true: IT's policy is still being read (background.js
   *   calls setPolicy when it is known) and page requests wait for it; absent: no policy.
   */
  constructor({ link, own, windows, newToken, policyPending = false }) {
    this.link = link;
    this.own = own;
    this.ownOrigin = own.extensionBase.replace(/\/$/, "");
    this.windows = windows;
    this.newToken = newToken;
    /** @type {Set<{port: object, via: string, origin: string, tabId: number|null}>} */
    this.clients = new Set();
    /** Origins the helper reports as paired (pairings_list), refined by replies. */
    this.paired = new Set();
    /** token → pairing window state */
    this.pairWindows = new Map();
    /** token → PIN window state */
    this.pinWindows = new Map();
    /** IT's allowlist (OnshiAllowlist.policyFromManaged), or null while it is being read. */
    this.policy = policyPending ? null : { set: false };
    /** Page requests that arrived before the policy was known. */
    this.policyWaiters = [];
  }

  /** IT's policy is known, or changed (storage.onChanged): apply it, also to what is open. */
  setPolicy(policy) {
    this.policy = policy ?? { set: false };
    for (const wake of this.policyWaiters.splice(0)) wake();
    // A window for an origin the new policy leaves out has nothing left to decide.
    for (const [token, e] of this.pairWindows) {
      if (this.allowsNow(e.origin)) continue;
      this.pairWindows.delete(token);
      if (!e.decided) this.sendDecision(e.pairing_id, false);
      if (e.windowId != null) this.windows.close(e.windowId);
    }
    for (const [token, e] of this.pinWindows) {
      if (this.allowsNow(e.origin)) continue;
      this.pinWindows.delete(token);
      if (!e.submitted) this.cancelPin(e.confirm_id);
      if (e.windowId != null) this.windows.close(e.windowId);
    }
  }

  /** Whether a page of `origin` may be served under the policy as known now (unknown = no). */
  allowsNow(origin) {
    return this.policy !== null && policyAllows(this.policy, origin);
  }

  /** The same, waiting for the policy if it is still being read. */
  async allows(origin) {
    if (this.policy === null) await new Promise((wake) => this.policyWaiters.push(wake));
    return policyAllows(this.policy, origin);
  }

  /** A runtime port connected (content script or our own page). Returns the client or null. */
  attach(port) {
    const who = classifySender(port.sender, this.own);
    if (!who) {
      try { port.disconnect(); } catch { /* gone */ }
      return null;
    }
    const client = { port, ...who };
    this.clients.add(client);
    port.onMessage.addListener((msg) => { this.onClientMessage(client, msg); });
    port.onDisconnect.addListener(() => { this.clients.delete(client); });
    return client;
  }

  post(client, msg) {
    try {
      client.port.postMessage(msg);
    } catch {
      this.clients.delete(client); // tab closed meanwhile
    }
  }

  onClientMessage(client, msg) {
    if (!msg || typeof msg !== "object") return;
    if (msg.kind === "request") return this.handleRequest(client, msg);
    if (client.via !== "extension") return; // the rest is for our own windows only
    if (msg.kind === "pair_info") {
      const e = this.pairWindows.get(msg.token);
      if (e) e.ports.add(client);
      this.post(client, { kind: "pair_info", token: msg.token, info: e ? pairView(e) : null });
    } else if (msg.kind === "pin_info") {
      const e = this.pinWindows.get(msg.token);
      if (e) e.ports.add(client);
      this.post(client, { kind: "pin_info", token: msg.token, info: e ? pinView(e) : null });
    } else if (msg.kind === "status") {
      this.post(client, { kind: "status", status: this.link.status(), paired: [...this.paired] });
    }
  }

  /** @returns {Promise<void>} resolves when the reply has been posted (tests await it). */
  async handleRequest(client, msg) {
    const id = msg.id;
    if (!isValidId(id)) return; // nothing to answer to
    const answer = (reply) => this.post(client, { kind: "reply", id, reply: { ...reply, id } });
    let body = msg.body;
    if (!isValidBody(body)) return answer(errorReply(id, "bad_request", { reason: "bad_body" }));
    const type = body.type;
    if (client.via === "page") {
      // Before anything else: a page outside IT's allowlist learns nothing more. The
      // origin is the browser's (classifySender), never the page's word.
      if (!(this.policy !== null ? policyAllows(this.policy, client.origin) : await this.allows(client.origin))) {
        return answer(errorReply(id, "origin_not_allowed", { origin: client.origin, by: "browser_policy" }));
      }
      if (EXTENSION_ONLY.has(type)) return answer(errorReply(id, "bad_request", { reason: "extension_only", type }));
      try {
        body = scrubBody(body);
      } catch {
        return answer(errorReply(id, "bad_request", { reason: "not_json" }));
      }
    } else {
      this.noteExtensionAction(body);
    }
    const reply = await this.link.request({ origin: client.origin, via: client.via, body }, timeoutFor(type));
    // Drop our references to the body (it may carry a PIN) before anything else runs.
    body = null;
    msg.body = null;
    const out = { ...reply };
    delete out.chunk;
    this.afterReply(client, type, out);
    answer(out);
  }

  /** Our own windows act: remember it so closing the window does not cancel/deny too. */
  noteExtensionAction(body) {
    if (body.type === "pin_entry" || body.type === "pin_cancel") {
      for (const e of this.pinWindows.values()) if (e.confirm_id === body.confirm_id) e.submitted = true;
    } else if (body.type === "pair_approve") {
      for (const e of this.pairWindows.values()) if (e.pairing_id === body.pairing_id) e.decided = true;
    }
  }

  afterReply(client, type, reply) {
    if (client.via === "page") {
      if (reply.ok && type === "pair_begin") {
        const { code, pairing_id } = reply.body ?? {};
        if (typeof code === "string" && typeof pairing_id === "string") this.openPair(client.origin, code, pairing_id);
      }
      // The confirm is over (success or not): a PIN window for it has nothing left to do.
      if (type === "card_confirm" || type === "card_register") this.closePinFor(client.origin);
      if (reply.ok && !PUBLIC_TYPES.has(type)) this.paired.add(client.origin);
      if (!reply.ok && reply.error?.code === "not_paired") this.paired.delete(client.origin);
    }
    if (type === "pairings_list" && reply.ok) this.setPaired(reply.body);
    if (reply.ok && (type === "pair_approve" || type === "pair_revoke")) this.refreshPairings();
  }

  setPaired(body) {
    const list = Array.isArray(body?.pairings) ? body.pairings : Array.isArray(body?.origins) ? body.origins : [];
    this.paired = new Set(list.map((p) => (typeof p === "string" ? p : p?.origin)).filter((o) => typeof o === "string"));
  }

  /** Asks the helper which origins are paired (after the handshake and after changes). */
  async refreshPairings() {
    const reply = await this.link.request({ origin: this.ownOrigin, via: "extension", body: { type: "pairings_list" } }, timeoutFor("pairings_list"));
    if (reply?.ok) this.setPaired(reply.body);
  }

  /** An unsolicited helper frame `{ v, event, origin }`. */
  onHostEvent(frame) {
    const ev = frame.event;
    if (!ev || typeof ev.type !== "string") return;
    const origin = typeof frame.origin === "string" ? frame.origin : null;
    if (ev.type === "pin_needed") this.openPin(ev, origin);
    // The helper emits pairing_decided / pairing_revoked (core protocol); pairings_changed is kept for older helpers.
    if (ev.type === "pairing_decided" || ev.type === "pairing_revoked" || ev.type === "pairings_changed") this.refreshPairings();
    for (const c of this.clients) {
      if (c.via !== "page" || !this.allowsNow(c.origin)) continue;
      if (origin === null ? this.paired.has(c.origin) : c.origin === origin) this.post(c, { kind: "event", event: ev });
    }
  }

  // ---- trusted windows -------------------------------------------------

  async openPair(origin, code, pairing_id) {
    // The policy may have changed while pair_begin was on its way: never a window then.
    if (!this.allowsNow(origin)) return this.sendDecision(pairing_id, false);
    for (const e of this.pairWindows.values()) {
      if (e.origin !== origin) continue;
      // The same page asked again: the old code is void; reuse the window.
      if (!e.decided) this.sendDecision(e.pairing_id, false);
      Object.assign(e, { code, pairing_id, decided: false });
      for (const p of e.ports) this.post(p, { kind: "pair_info", token: e.token, info: pairView(e) });
      if (e.windowId != null) this.windows.focus?.(e.windowId);
      return;
    }
    const token = this.newToken();
    const e = { token, origin, code, pairing_id, decided: false, windowId: null, ports: new Set() };
    this.pairWindows.set(token, e);
    try {
      e.windowId = await this.windows.open(`pair.html#${token}`);
    } catch {
      // No window, no decision: deny so the code cannot be approved some other way.
      this.pairWindows.delete(token);
      this.sendDecision(pairing_id, false);
    }
  }

  async openPin(ev, frameOrigin) {
    const origin = typeof ev.origin === "string" ? ev.origin : frameOrigin;
    // No PIN window for a page IT's policy leaves out: the confirm is cancelled instead.
    if (!this.allowsNow(origin)) return this.cancelPin(ev.confirm_id);
    for (const e of this.pinWindows.values()) {
      if (e.confirm_id !== ev.confirm_id) continue;
      // A new try for the same confirm (e.g. after a wrong PIN): refresh the window.
      Object.assign(e, { tries_left: ev.tries_left, purpose: pinPurpose(ev), submitted: false });
      for (const p of e.ports) this.post(p, { kind: "pin_info", token: e.token, info: pinView(e) });
      if (e.windowId != null) this.windows.focus?.(e.windowId);
      return;
    }
    const token = this.newToken();
    const e = { token, origin, confirm_id: ev.confirm_id, tries_left: ev.tries_left, purpose: pinPurpose(ev), submitted: false, closedByUs: false, windowId: null, ports: new Set() };
    this.pinWindows.set(token, e);
    try {
      e.windowId = await this.windows.open(`pin.html#${token}`);
    } catch {
      this.pinWindows.delete(token);
      this.cancelPin(e.confirm_id);
    }
  }

  closePinFor(origin) {
    for (const [token, e] of this.pinWindows) {
      if (e.origin !== origin) continue;
      e.closedByUs = true;
      this.pinWindows.delete(token);
      if (e.windowId != null) this.windows.close(e.windowId);
    }
  }

  /** A browser window closed (by a person, by the page itself, or by us). */
  onWindowRemoved(windowId) {
    for (const [token, e] of this.pairWindows) {
      if (e.windowId !== windowId) continue;
      this.pairWindows.delete(token);
      if (!e.decided) this.sendDecision(e.pairing_id, false); // closing = deny
    }
    for (const [token, e] of this.pinWindows) {
      if (e.windowId !== windowId) continue;
      this.pinWindows.delete(token);
      if (!e.submitted && !e.closedByUs) this.cancelPin(e.confirm_id);
    }
  }

  cancelPin(confirm_id) {
    return this.link.request({ origin: this.ownOrigin, via: "extension", body: { type: "pin_cancel", confirm_id } }, timeoutFor("pin_cancel"));
  }

  sendDecision(pairing_id, approve) {
    return this.link.request({ origin: this.ownOrigin, via: "extension", body: { type: "pair_approve", pairing_id, approve } }, timeoutFor("pair_approve"));
  }
}

const EXTENSION_ONLY = EXTENSION_ONLY_TYPES;

function pairView(e) {
  return { origin: e.origin, code: e.code, pairing_id: e.pairing_id };
}

function pinView(e) {
  return { origin: e.origin, confirm_id: e.confirm_id, tries_left: e.tries_left, purpose: e.purpose };
}

/** What the PIN is for: "register" (card_register) or "confirm" (absent = confirm). */
function pinPurpose(ev) {
  return ev.purpose === "register" ? "register" : "confirm";
}
