// lib/page.js: the start every extension window shares (channel, token, two-line status).
import assert from "node:assert/strict";
import test from "node:test";
import { extensionPage, showLines } from "../lib/page.js";
import { FakeRuntimePort } from "../test-support/fakes.mjs";

/** Just enough of an element for showLines: className, textContent, append. */
class El {
  constructor(tag = "div") {
    this.tag = tag;
    this.className = "";
    this.children = [];
  }
  set textContent(t) {
    this.children = t === "" ? [] : [t];
  }
  get textContent() {
    return this.children.map((c) => (typeof c === "string" ? c : c.textContent)).join("");
  }
  append(c) {
    this.children.push(c);
  }
}

function fakeDoc(ids) {
  const doc = { createElement: (tag) => new El(tag) };
  doc.els = Object.fromEntries(ids.map((id) => [id, Object.assign(new El(), { ownerDocument: doc })]));
  doc.getElementById = (id) => doc.els[id] ?? null;
  return doc;
}

test("showLines writes Japanese then English, replacing what was there", () => {
  const doc = fakeDoc(["status"]);
  const el = doc.els.status;
  el.textContent = "old";
  showLines(el, "bad", "<b>日本語</b>", "English");
  assert.equal(el.className, "status bad");
  assert.equal(el.children.length, 2);
  assert.equal(el.children[0], "<b>日本語</b>", "text, never parsed as markup");
  assert.equal(el.children[1].className, "en");
  assert.equal(el.children[1].textContent, "English");
  showLines(el, "", "", "");
  assert.equal(el.className, "status ");
  assert.equal(el.textContent, "");
});

test("extensionPage: token from the fragment, show() targets #status, channel on a runtime port", () => {
  const doc = fakeDoc(["status", "origin"]);
  const ports = [];
  const api = { runtime: { connect: (info) => { const p = new FakeRuntimePort(undefined, info?.name); ports.push(p); return p; } } };
  const page = extensionPage({ api, doc, loc: { hash: "#tok123" } });
  assert.equal(page.token, "tok123");
  assert.equal(page.$("origin"), doc.els.origin);
  page.show("ok", "登録しました。", "Paired.");
  assert.equal(doc.els.status.className, "status ok");
  assert.equal(doc.els.status.textContent, "登録しました。Paired.");
  assert.equal(ports.length, 1, "one port to the background");
  assert.equal(ports[0].name, "onshi");
  page.ch.send({ kind: "pair_info", token: page.token });
  assert.deepEqual(ports[0].received.at(-1), { kind: "pair_info", token: "tok123" });
});

test("extensionPage without a fragment has an empty token", () => {
  const api = { runtime: { connect: () => new FakeRuntimePort(undefined, "onshi") } };
  assert.equal(extensionPage({ api, doc: fakeDoc([]), loc: { hash: "" } }).token, "");
});
