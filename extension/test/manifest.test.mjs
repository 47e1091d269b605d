// The manifest: least permissions, both background styles, stable ids, script order.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import test from "node:test";
import { ROOT } from "../test-support/fakes.mjs";
import { HOST_NAME } from "../lib/protocol.js";

const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, "manifest.json"), "utf8"));

test("the extension id follows from the key and matches extension-id.txt and the docs", () => {
  const der = Buffer.from(manifest.key, "base64");
  const hex = crypto.createHash("sha256").update(der).digest("hex").slice(0, 32);
  const id = [...hex].map((h) => String.fromCharCode(97 + parseInt(h, 16))).join("");
  assert.equal(id, fs.readFileSync(path.join(ROOT, "extension-id.txt"), "utf8").trim());
  assert.ok(fs.readFileSync(path.join(ROOT, "..", "docs", "extension.md"), "utf8").includes(id));
  assert.equal(crypto.createPublicKey({ key: der, format: "der", type: "spki" }).asymmetricKeyDetails.modulusLength, 2048);
});

test("least permissions: nativeMessaging, storage (for IT's policy only), no host permissions, nothing web-accessible", () => {
  assert.deepEqual(manifest.permissions, ["nativeMessaging", "storage"]);
  assert.equal(manifest.host_permissions, undefined);
  assert.equal(manifest.optional_permissions, undefined);
  assert.equal(manifest.web_accessible_resources, undefined);
  assert.equal(manifest.externally_connectable, undefined);
});

test("background works in Chromium (service_worker) and Firefox (scripts), as a module", () => {
  assert.equal(manifest.manifest_version, 3);
  assert.deepEqual(manifest.background, { service_worker: "background.js", scripts: ["background.js"], type: "module" });
  assert.equal(manifest.browser_specific_settings.gecko.id, "onshi-bridge@onshi.example");
});

test("content script: http/https, top frame, shared rules loaded before content.js", () => {
  const [cs, ...rest] = manifest.content_scripts;
  assert.equal(rest.length, 0);
  assert.deepEqual(cs.matches, ["http://*/*", "https://*/*"]);
  assert.deepEqual(cs.js, ["lib/messages.js", "lib/scrub.js", "lib/allowlist.js", "content.js"]);
  assert.equal(cs.all_frames, false);
  for (const f of [...cs.js, "background.js", manifest.options_ui.page, "pair.html", "pin.html"]) {
    assert.ok(fs.existsSync(path.join(ROOT, f)), f);
  }
});

test("managed storage: the schema Chrome checks IT's policy against declares allowed_origins, a list of strings", () => {
  assert.deepEqual(manifest.storage, { managed_schema: "managed_schema.json" });
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, manifest.storage.managed_schema), "utf8"));
  // Chrome refuses to load an extension whose schema it cannot read: top level an
  // object, no additionalProperties there, exactly one type per schema.
  assert.equal(schema.type, "object");
  assert.equal(schema.additionalProperties, undefined);
  assert.deepEqual(Object.keys(schema.properties), ["allowed_origins"]);
  const p = schema.properties.allowed_origins;
  assert.equal(p.type, "array");
  assert.deepEqual(p.items, { type: "string" });
  assert.match(p.description, /Origins/);
  assert.match(p.description, /オリジン/);
  // Only keywords Chrome's schema reader knows.
  const known = new Set(["type", "properties", "items", "title", "description", "additionalProperties", "patternProperties", "enum", "minimum", "maximum", "pattern", "required", "id", "$ref"]);
  const walk = (node) => {
    for (const [k, v] of Object.entries(node)) {
      assert.ok(known.has(k), `unknown schema keyword ${k}`);
      if (k === "properties") for (const sub of Object.values(v)) walk(sub);
      if (k === "items") walk(v);
    }
  };
  walk(schema);
});

test("the native host name", () => {
  assert.equal(HOST_NAME, "jp.onshi.helper");
});
