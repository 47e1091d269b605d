//! The origin allowlist IT pushes by browser policy (issue 15): which web origins the
//! extension answers at all. One rule, shared with the helper (onshi_core, Rust) through
//! the cases in core-wasm/tests/fixtures/origin-allowlist.json, which both test suites
//! run. An entry is an exact origin (`https://host[:port]`, or `http://` — loopback or a
//! host IT lists on purpose) or `https://*.domain[:port]` for one domain's subdomains.
//!
//! Also here: reading the policy from `storage.managed` (Chrome/Edge: the
//! `3rdparty.extensions.<id>` policy checked against managed_schema.json; Firefox:
//! policies.json `3rdparty.Extensions.<id>`) and following its changes — the content
//! script and the background both need exactly that, so it is written once.
//!
//! Classic-script compatible (no `export`) so the content script can load it; publishes
//! `globalThis.OnshiAllowlist`. Modules import it for that side effect (like scrub.js).
//! Nothing here throws on bad input: a policy value is whatever IT typed.
(function (root) {
  "use strict";

  /** The managed-storage key (managed_schema.json, policies.json). */
  var POLICY_KEY = "allowed_origins";
  /** storage.local key of the last policy read (see watchManagedPolicy). */
  var CACHE_KEY = "onshi_policy_cache";
  var DEFAULT_PORT = { http: "80", https: "443" };
  /** Longer than any real origin; keeps a pasted document out of the parser. */
  var MAX_ENTRY_CHARS = 300;
  var LABEL_RE = /^[a-z0-9_-]{1,63}$/;
  /** The WHATWG URL parser reads a host whose last label looks numeric as IPv4. */
  var NUMERIC_LABEL_RE = /^(0x[0-9a-f]*|[0-9]+)$/;
  var IPV4_PART_RE = /^(0|[1-9][0-9]{0,2})$/;

  function fail(reason) {
    return { ok: false, reason: reason };
  }

  /** A canonical dotted-quad IPv4 address (what a browser writes in an origin). */
  function isIpv4(host) {
    var parts = host.split(".");
    if (parts.length !== 4) return false;
    for (var i = 0; i < 4; i++) {
      if (!IPV4_PART_RE.test(parts[i]) || Number(parts[i]) > 255) return false;
    }
    return true;
  }

  /**
   * A host name as browsers serialise it: ASCII lower case (IDNs as `xn--`), non-empty
   * labels, no trailing dot. A name ending in a numeric label must be a canonical IPv4
   * address, since a browser would rewrite anything else (`127.1`, `0x7f.1`) and the
   * entry could then never match.
   */
  function isHostName(host) {
    if (host.length === 0 || host.length > 253) return false;
    var labels = host.split(".");
    for (var i = 0; i < labels.length; i++) if (!LABEL_RE.test(labels[i])) return false;
    if (NUMERIC_LABEL_RE.test(labels[labels.length - 1])) return isIpv4(host);
    return true;
  }

  /** `[v6]` in the browser's compressed form, or null. */
  function canonicalIpv6(bracketed) {
    if (!/^\[[0-9a-f:.]+\]$/.test(bracketed) || bracketed.indexOf(":") < 0) return null;
    try {
      var h = new URL("http://" + bracketed).hostname;
      return /^\[[0-9a-f:.]+\]$/.test(h) ? h : null;
    } catch (e) {
      return null;
    }
  }

  /**
   * Parses an allowlist entry (`allowWildcard`) or a browser origin into
   * `{ ok: true, scheme, host, port, wildcard, domain }`, or `{ ok: false, reason }`.
   * `port` is "" for the scheme's default; `domain` is set for wildcards only.
   */
  function parse(text, allowWildcard) {
    if (typeof text !== "string") return fail("not_a_string");
    if (text.length === 0) return fail("empty");
    if (text.length > MAX_ENTRY_CHARS) return fail("too_long");
    var m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([\s\S]*)$/.exec(text);
    if (!m) return fail("no_scheme");
    var scheme = m[1].toLowerCase();
    if (scheme !== "http" && scheme !== "https") return fail("scheme");
    var rest = m[2];
    // One trailing slash is what people copy from the address bar; more is a path.
    if (rest.charAt(rest.length - 1) === "/") rest = rest.slice(0, -1);
    if (rest.indexOf("@") >= 0) return fail("userinfo");
    if (/[/\\]/.test(rest)) return fail("path");
    if (rest.indexOf("?") >= 0) return fail("query");
    if (rest.indexOf("#") >= 0) return fail("fragment");

    var host;
    var portText = null;
    if (rest.charAt(0) === "[") {
      var close = rest.indexOf("]");
      if (close < 0) return fail("host");
      host = rest.slice(0, close + 1);
      var after = rest.slice(close + 1);
      if (after !== "") {
        if (after.charAt(0) !== ":") return fail("host");
        portText = after.slice(1);
      }
    } else {
      var colon = rest.indexOf(":");
      if (colon >= 0) {
        if (rest.indexOf(":", colon + 1) >= 0) return fail("host");
        portText = rest.slice(colon + 1);
        host = rest.slice(0, colon);
      } else {
        host = rest;
      }
    }

    var port = "";
    if (portText !== null) {
      // "https://h:" is an empty port: refused, although a URL parser lets it pass.
      if (!/^[0-9]{1,5}$/.test(portText)) return fail("port");
      var n = Number(portText);
      if (n < 1 || n > 65535) return fail("port");
      port = String(n) === DEFAULT_PORT[scheme] ? "" : String(n);
    }

    if (host.length === 0) return fail("host");
    // ASCII case folding only: a non-ASCII letter is not a host a browser serialises.
    host = host.replace(/[A-Z]+/g, function (s) { return s.toLowerCase(); });

    if (host.charAt(0) === "[") {
      var v6 = canonicalIpv6(host);
      if (!v6) return fail("host");
      return { ok: true, scheme: scheme, host: v6, port: port, wildcard: false, domain: null };
    }
    if (host.indexOf("*") >= 0) {
      if (!allowWildcard) return fail("host");
      if (host.slice(0, 2) !== "*.") return fail("wildcard_form");
      var domain = host.slice(2);
      if (domain.indexOf("*") >= 0 || !isHostName(domain) || isIpv4(domain)) return fail("wildcard_form");
      // On plain HTTP anyone on the path can be any subdomain: wildcards are HTTPS only.
      if (scheme !== "https") return fail("wildcard_http");
      // "*.com", "*.jp": a whole top-level domain is never "the clinic's own".
      if (domain.split(".").length < 2) return fail("wildcard_too_broad");
      return { ok: true, scheme: scheme, host: host, port: port, wildcard: true, domain: domain };
    }
    if (!isHostName(host)) return fail("host");
    return { ok: true, scheme: scheme, host: host, port: port, wildcard: false, domain: null };
  }

  function serialise(p) {
    return p.scheme + "://" + p.host + (p.port ? ":" + p.port : "");
  }

  /**
   * An allowlist entry's normal form (lower case, default port and one trailing
   * slash dropped): `{ ok: true, normal }` or `{ ok: false, reason }`, where reason is
   * one of not_a_string, empty, too_long, no_scheme, scheme, userinfo, path, query,
   * fragment, port, host, wildcard_form, wildcard_http, wildcard_too_broad.
   */
  function normaliseEntry(entry) {
    var p = parse(entry, true);
    return p.ok ? { ok: true, normal: serialise(p) } : { ok: false, reason: p.reason };
  }

  /** Does one parsed entry admit one parsed origin? */
  function entryAdmits(e, o) {
    if (e.scheme !== o.scheme || e.port !== o.port) return false;
    if (!e.wildcard) return e.host === o.host;
    // One or more labels in front of the domain, never the domain itself.
    var tail = "." + e.domain;
    return o.host.length > tail.length && o.host.slice(-tail.length) === tail;
  }

  /**
   * Whether the browser-reported `origin` matches any of `entries` (raw policy strings;
   * invalid ones are ignored — they admit nothing). A malformed origin matches nothing.
   */
  function originMatches(origin, entries) {
    var o = parse(origin, false);
    if (!o.ok || !Array.isArray(entries)) return false;
    for (var i = 0; i < entries.length; i++) {
      var e = parse(entries[i], true);
      if (e.ok && entryAdmits(e, o)) return true;
    }
    return false;
  }

  /** Loopback: `localhost`, 127.0.0.0/8, `[::1]` (either scheme, any port). */
  function isLoopback(origin) {
    var o = parse(origin, false);
    if (!o.ok) return false;
    return o.host === "localhost" || o.host === "[::1]" || (isIpv4(o.host) && o.host.split(".")[0] === "127");
  }

  /**
   * What a `storage.managed` value of `allowed_origins` means:
   * `{ set: false }` — no policy (absent, null, or an empty list): behave as before;
   * `{ set: true, origins, invalid }` — only `origins` (normal forms) are answered.
   * Invalid entries are listed in `invalid` ({ entry, reason }) and admit nothing, so a
   * list of only invalid entries allows nothing: a typo must not open every site.
   * A value that is not a list (Firefox does not check the schema) is one invalid entry.
   */
  function policyFromManaged(value) {
    if (value === undefined || value === null) return { set: false };
    if (!Array.isArray(value)) return { set: true, origins: [], invalid: [{ entry: value, reason: "not_a_list" }] };
    if (value.length === 0) return { set: false };
    var origins = [];
    var invalid = [];
    for (var i = 0; i < value.length; i++) {
      var r = normaliseEntry(value[i]);
      if (r.ok) {
        if (origins.indexOf(r.normal) < 0) origins.push(r.normal);
      } else {
        invalid.push({ entry: value[i], reason: r.reason });
      }
    }
    return { set: true, origins: origins, invalid: invalid };
  }

  /** Whether a page of `origin` may be answered under `policy` (policyFromManaged's result). */
  function policyAllows(policy, origin) {
    if (!policy || policy.set !== true) return true;
    return originMatches(origin, policy.origins);
  }

  var NO_POLICY = Object.freeze({ set: false });

  /**
   * Reads the policy from a `storage.managed` area. Never rejects: no area (no
   * permission, an API the browser lacks in this context), an error (Firefox rejects
   * when no policy exists) or a callback-only API all read as "no policy".
   * @returns {Promise<{set: boolean, origins?: string[], invalid?: object[]}>}
   */
  function readManagedPolicy(area) {
    var got;
    try {
      if (!area || typeof area.get !== "function") return Promise.resolve(NO_POLICY);
      got = area.get(POLICY_KEY);
    } catch (e) {
      return Promise.resolve(NO_POLICY);
    }
    if (!got || typeof got.then !== "function") return Promise.resolve(NO_POLICY);
    return Promise.resolve(got).then(
      function (items) { return policyFromManaged(items && typeof items === "object" ? items[POLICY_KEY] : undefined); },
      function () { return NO_POLICY; }
    );
  }

  /** The last policy read, as kept in storage.local: only what the decision needs. */
  function cacheOf(policy) {
    return policy.set ? { set: true, origins: policy.origins.slice() } : { set: false };
  }

  /** A cached policy back, or null when the stored value is missing or not of that shape. */
  function policyFromCache(value) {
    if (!value || typeof value !== "object") return null;
    if (value.set === false) return NO_POLICY;
    if (value.set !== true || !Array.isArray(value.origins)) return null;
    for (var i = 0; i < value.origins.length; i++) if (typeof value.origins[i] !== "string") return null;
    return { set: true, origins: value.origins.slice(), invalid: [] };
  }

  function readCache(area) {
    try {
      var got = area && typeof area.get === "function" ? area.get(CACHE_KEY) : null;
      if (!got || typeof got.then !== "function") return Promise.resolve(null);
      return Promise.resolve(got).then(
        function (items) { return policyFromCache(items && typeof items === "object" ? items[CACHE_KEY] : null); },
        function () { return null; }
      );
    } catch (e) {
      return Promise.resolve(null);
    }
  }

  function writeCache(area, policy) {
    try {
      var item = {};
      item[CACHE_KEY] = cacheOf(policy);
      var done = area && typeof area.set === "function" ? area.set(item) : null;
      if (done && typeof done.then === "function") done.then(null, function () {});
    } catch (e) { /* only a cache: the next start reads the policy anyway */ }
  }

  /**
   * Reads the policy now and again on every `storage.onChanged` of the "managed" area
   * (IT changed it: no reinstall needed), calling `onPolicy(policy)` each time. A later
   * read always wins over an earlier one that answers late. Invalid entries are named
   * through `warn` (console.warn), so IT can find a typo in the browser console.
   *
   * Chromium answers the first `storage.managed` read of a browser session only once
   * its policy service is ready — about 3 s after start here, more on slow PCs — while a
   * page opened at start expects an ack within 1 s. So the background keeps the last
   * policy it read in storage.local (`writeCache`), and the content script acts on that
   * copy at once (`readCache`) until the fresh read answers, which then replaces it.
   * With no copy yet (a profile's first session) it waits `noCopyGraceMs` for the fresh
   * read and then acts as "no policy" until that read answers: otherwise every page
   * opened in a new profile's first seconds would report the extension missing, while
   * the background — which decides only on fresh reads — still refuses what the policy
   * leaves out. The cost: in those first seconds an unlisted page can see the ack.
   * The copy is only ever a hint for the content script's silence: content scripts (any
   * page's renderer) can write storage.local too, so the background never reads it.
   * @param {object|undefined} storage  `browser.storage` / `chrome.storage`
   * @param {{ readCache?: boolean, writeCache?: boolean, noCopyGraceMs?: number }} [options]
   */
  function watchManagedPolicy(storage, onPolicy, warn, options) {
    var opts = options || {};
    var seq = 0;
    var fresh = false;
    /** Something (copy or fresh read) has decided: the grace timer has nothing to do. */
    var decided = false;
    function area(name) {
      try { return storage ? storage[name] : undefined; } catch (e) { return undefined; }
    }
    function load() {
      var mine = ++seq;
      readManagedPolicy(area("managed")).then(function (policy) {
        if (mine !== seq) return;
        fresh = true;
        if (policy.set && policy.invalid.length > 0 && typeof warn === "function") {
          try {
            warn("[onshi] policy " + POLICY_KEY + ": ignored invalid entries " + JSON.stringify(policy.invalid) +
              (policy.origins.length === 0 ? "; no valid entry is left, so no site is answered" : ""));
          } catch (e) { /* a console that throws must not stop the policy */ }
        }
        if (opts.writeCache) writeCache(area("local"), policy);
        decided = true;
        onPolicy(policy);
      });
    }
    try {
      storage.onChanged.addListener(function (_changes, areaName) {
        if (areaName === "managed") load();
      });
    } catch (e) { /* no storage events here: the first read stays in force */ }
    load();
    if (opts.readCache) {
      readCache(area("local")).then(function (cached) {
        if (fresh) return;
        if (cached) {
          decided = true;
          onPolicy(cached);
        } else if (typeof opts.noCopyGraceMs === "number") {
          setTimeout(function () {
            if (decided) return;
            decided = true;
            onPolicy(NO_POLICY);
          }, opts.noCopyGraceMs);
        }
      });
    }
  }

  root.OnshiAllowlist = Object.freeze({
    POLICY_KEY: POLICY_KEY,
    CACHE_KEY: CACHE_KEY,
    normaliseEntry: normaliseEntry,
    originMatches: originMatches,
    isLoopback: isLoopback,
    policyFromManaged: policyFromManaged,
    policyAllows: policyAllows,
    readManagedPolicy: readManagedPolicy,
    watchManagedPolicy: watchManagedPolicy,
  });
})(globalThis);
