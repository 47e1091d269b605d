// The origin allowlist rule, run against the cases the helper's Rust tests run too
// (core-wasm/tests/fixtures/origin-allowlist.json): the two sides cannot disagree.
// Then what a managed-storage value means, and reading it.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";
import { ROOT } from "../test-support/fakes.mjs";
import "../lib/allowlist.js";

const A = globalThis.OnshiAllowlist;
const CASES_FILE = path.join(ROOT, "..", "core-wasm", "tests", "fixtures", "origin-allowlist.json");
const CASES = JSON.parse(fs.readFileSync(CASES_FILE, "utf8"));

test("the shared cases file is there and not empty", () => {
  assert.match(CASES.about, /extension\/lib\/allowlist\.js/);
  for (const k of ["valid_entries", "invalid_entries", "matches", "loopback"]) assert.ok(CASES[k].length > 0, k);
});

for (const { entry, normal } of CASES.valid_entries) {
  test(`shared: valid entry ${JSON.stringify(entry)} → ${normal}`, () => {
    assert.deepEqual(A.normaliseEntry(entry), { ok: true, normal });
    // The normal form is a fixed point.
    assert.deepEqual(A.normaliseEntry(normal), { ok: true, normal });
  });
}

for (const entry of CASES.invalid_entries) {
  test(`shared: invalid entry ${JSON.stringify(entry)} is refused with a reason`, () => {
    const r = A.normaliseEntry(entry);
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.equal(typeof r.reason, "string");
    // An invalid entry admits nothing, not even something that looks like it.
    assert.equal(A.originMatches("https://clinic.example", [entry]), false);
  });
}

for (const { entry, origin, match } of CASES.matches) {
  test(`shared: ${origin} ${match ? "matches" : "does not match"} ${entry}`, () => {
    assert.equal(A.originMatches(origin, [entry]), match);
    // Listing the entry's normal form behaves the same as the entry as typed.
    assert.equal(A.originMatches(origin, [A.normaliseEntry(entry).normal]), match);
  });
}

for (const { origin, loopback } of CASES.loopback) {
  test(`shared: isLoopback(${origin}) is ${loopback}`, () => {
    assert.equal(A.isLoopback(origin), loopback);
  });
}

// Beyond the shared file: what this implementation refuses on top (see the report
// of issue 15 for adding these to the shared cases).
const MORE_INVALID = [
  ["a non-string", 42, "not_a_string"],
  ["null", null, "not_a_string"],
  ["a trailing dot", "https://clinic.example.", "host"],
  ["two slashes", "https://clinic.example//", "path"],
  ["a fragment", "https://clinic.example#x", "fragment"],
  ["port 0", "https://clinic.example:0", "port"],
  ["a non-canonical IPv4 (a browser would rewrite it)", "http://127.1:8080", "host"],
  ["a wildcard over an IP address", "https://*.168.1.20", "wildcard_form"],
  ["leading space", " https://clinic.example", "no_scheme"],
  ["non-ASCII host (write it as xn--)", "https://受付.example", "host"],
  ["a huge string", "https://" + "a".repeat(400) + ".example", "too_long"],
];
for (const [name, entry, reason] of MORE_INVALID) {
  test(`entry refused: ${name}`, () => {
    assert.deepEqual(A.normaliseEntry(entry), { ok: false, reason });
  });
}

test("IPv6 entries take the browser's compressed form", () => {
  assert.deepEqual(A.normaliseEntry("http://[0:0:0:0:0:0:0:1]:8080/"), { ok: true, normal: "http://[::1]:8080" });
  assert.equal(A.originMatches("http://[::1]:8080", ["http://[0:0:0:0:0:0:0:1]:8080"]), true);
});

test("bad origins match nothing and never throw", () => {
  for (const o of [undefined, null, "", "null", "file:///x", "https://*.clinic.example", {}, ["https://clinic.example"]]) {
    assert.equal(A.originMatches(o, ["https://clinic.example", "https://*.clinic.example"]), false);
    assert.equal(A.isLoopback(o), false);
  }
  assert.equal(A.originMatches("https://clinic.example", "https://clinic.example"), false, "entries must be a list");
});

test("policy: absent, null or an empty list is no policy", () => {
  for (const v of [undefined, null, []]) {
    const p = A.policyFromManaged(v);
    assert.deepEqual(p, { set: false });
    assert.equal(A.policyAllows(p, "https://anything.example"), true);
  }
});

test("policy: valid entries normalised and deduplicated, invalid ones named and ignored", () => {
  const p = A.policyFromManaged(["HTTPS://Clinic.Example/", "https://clinic.example:443", "ftp://x", "", "http://127.0.0.1:8080"]);
  assert.deepEqual(p.origins, ["https://clinic.example", "http://127.0.0.1:8080"]);
  assert.deepEqual(p.invalid, [{ entry: "ftp://x", reason: "scheme" }, { entry: "", reason: "empty" }]);
  assert.equal(A.policyAllows(p, "https://clinic.example"), true);
  assert.equal(A.policyAllows(p, "https://evil.example"), false);
});

test("policy: a list of only invalid entries allows nothing (not everything)", () => {
  const p = A.policyFromManaged(["clinic.example", "https://*.com"]);
  assert.equal(p.set, true);
  assert.deepEqual(p.origins, []);
  assert.equal(A.policyAllows(p, "https://clinic.example"), false);
  assert.equal(A.policyAllows(p, "http://127.0.0.1:8080"), false);
});

test("policy: a value that is not a list (Firefox does not check the schema) allows nothing", () => {
  for (const v of ["https://clinic.example", 1, { a: 1 }, true]) {
    const p = A.policyFromManaged(v);
    assert.equal(p.set, true);
    assert.equal(A.policyAllows(p, "https://clinic.example"), false);
  }
});

test("readManagedPolicy: a value, nothing, an error, no area, a callback-only API", async () => {
  const area = (get) => ({ get });
  assert.deepEqual((await A.readManagedPolicy(area(async () => ({ allowed_origins: ["https://clinic.example"] })))).origins, ["https://clinic.example"]);
  assert.deepEqual(await A.readManagedPolicy(area(async () => ({}))), { set: false });
  // Firefox without a policy: "Managed storage manifest not found".
  assert.deepEqual(await A.readManagedPolicy(area(() => Promise.reject(new Error("Managed storage manifest not found")))), { set: false });
  assert.deepEqual(await A.readManagedPolicy(area(() => { throw new Error("no"); })), { set: false });
  assert.deepEqual(await A.readManagedPolicy(undefined), { set: false });
  assert.deepEqual(await A.readManagedPolicy(area(() => undefined)), { set: false });
  assert.deepEqual(await A.readManagedPolicy(area(async () => null)), { set: false });
});

test("watchManagedPolicy: first read, re-read on a managed change only, a late answer never wins", async () => {
  const answers = [];
  const listeners = [];
  const storage = {
    managed: { get: () => new Promise((resolve) => answers.push(resolve)) },
    onChanged: { addListener: (fn) => listeners.push(fn) },
  };
  const seen = [];
  const warned = [];
  A.watchManagedPolicy(storage, (p) => seen.push(p), (m) => warned.push(m));
  assert.equal(answers.length, 1);
  listeners[0]({}, "local");
  assert.equal(answers.length, 1, "a change in another area is not a policy change");
  listeners[0]({ allowed_origins: {} }, "managed");
  assert.equal(answers.length, 2);
  answers[1]({ allowed_origins: ["https://new.example", "nope"] });
  await new Promise((r) => setImmediate(r));
  answers[0]({ allowed_origins: ["https://old.example"] }); // the first read answers last
  await new Promise((r) => setImmediate(r));
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0].origins, ["https://new.example"]);
  assert.equal(warned.length, 1);
  assert.match(warned[0], /nope/);
});

test("watchManagedPolicy: no storage at all is no policy", async () => {
  const seen = [];
  A.watchManagedPolicy(undefined, (p) => seen.push(p));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, [{ set: false }]);
});
