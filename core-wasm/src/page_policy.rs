//! The reception page's Content-Security-Policy and the other response
//! headers that go with it (issue 15, "the page itself"), defined once.
//!
//! Two readers: the simulator's static host (`onshi_sim::web::serve`) sends
//! [`RESPONSE_HEADERS`] with every answer, and `cargo xtask build` writes
//! [`META`] into `dist/web/index.html` (replacing [`META_PLACEHOLDER`]) for
//! clinics that host `dist/web` on a server whose headers they cannot set.
//! xtask includes this file by path (it has no dependency on this crate), so
//! it must stay plain `core` with no `use` of anything else in the crate.
//!
//! Why so strict: the extension answers any page that asks, so a script
//! injected into the reception page (a compromised clinic server, a
//! rewritten LAN response, a bad dependency) would speak to the helper with
//! the page's paired origin. The policy lets only the page's own files run,
//! talk and style it; nothing inline, nothing from elsewhere.
//!
//! Each directive, and why:
//! - `default-src 'none'` — everything not named below is refused: images,
//!   fonts, media, frames, workers, objects, manifests. The page loads none
//!   of them (a clinic adding a logo adds `img-src 'self'`).
//! - `script-src 'self' 'wasm-unsafe-eval'` — only `boot.js` and the
//!   wasm-bindgen glue from the page's own origin; no inline script (that is
//!   why the boot code is a file) and no `eval` / `new Function`.
//!   `'wasm-unsafe-eval'` lets the page compile its own WebAssembly
//!   (`WebAssembly.instantiateStreaming` counts as code from bytes); unlike
//!   `'unsafe-eval'` it allows nothing for JavaScript. The wasm itself still
//!   has to be fetched under `connect-src`, so only our own module compiles.
//! - `style-src 'self'` — `style.css` only; no `<style>` elements and no
//!   `style="…"` attributes, markup or `setAttribute` (Yew's `style={…}` is
//!   one). Script may still move things through the CSSOM
//!   (`el.style.setProperty`), which the batch table's virtual scrolling does.
//! - `connect-src 'self'` — `fetch` of `onshi_web_bg.wasm`; the page talks to
//!   the helper through `window.postMessage`, which no directive governs, and
//!   to nothing on the network.
//! - `base-uri 'none'` — an injected `<base>` cannot re-point the relative
//!   `boot.js` / `style.css` URLs at another host (`'self'` would be judged
//!   against the rewritten base).
//! - `form-action 'none'` — the page never submits a form to a server; an
//!   injected form cannot post what was typed elsewhere.
//! - `frame-ancestors 'none'` (header only) — no other site may frame the
//!   page to overlay or click-jack the reception screen.
//!
//! The CSV / XML export uses a `blob:` URL on an `<a download>`: a download
//! is a navigation, which none of these directives governs, so `blob:` is
//! not listed anywhere.

/// The directives that work in both a header and a `<meta>` element.
macro_rules! document_policy {
    () => {
        concat!(
            "default-src 'none'; ",
            "script-src 'self' 'wasm-unsafe-eval'; ",
            "style-src 'self'; ",
            "connect-src 'self'; ",
            "base-uri 'none'; ",
            "form-action 'none'"
        )
    };
}

/// The policy as `<meta http-equiv="Content-Security-Policy">` carries it in
/// `dist/web/index.html`. Without `frame-ancestors`: browsers ignore it in a
/// meta element (and say so in the console), so only the header can forbid
/// framing.
pub const META: &str = document_policy!();

/// The `Content-Security-Policy` response header: [`META`] plus what only a
/// header can carry.
pub const HEADER: &str = concat!(document_policy!(), "; frame-ancestors 'none'");

/// Every header a server of `dist/web` sends (the simulator does; docs/helper.md
/// tells clinics hosting the page themselves). `nosniff`: a file is only ever
/// run or styled as the type the server named. `no-referrer`: the page's
/// address is sent to no other site, should a link to one ever be added.
pub const RESPONSE_HEADERS: [(&str, &str); 3] = [
    ("Content-Security-Policy", HEADER),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
];

/// What `web-app/static/index.html` holds where `cargo xtask build` writes [`META`].
pub const META_PLACEHOLDER: &str = "@CONTENT_SECURITY_POLICY@";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_inline_and_no_eval() {
        for policy in [META, HEADER] {
            assert!(!policy.contains("unsafe-inline"), "{policy}");
            assert!(!policy.contains("'unsafe-eval'"), "{policy}");
            assert!(!policy.contains('*') && !policy.contains("data:") && !policy.contains("blob:"), "{policy}");
            assert!(policy.starts_with("default-src 'none';"), "{policy}");
        }
        assert!(HEADER.starts_with(META));
        assert!(!META.contains("frame-ancestors"), "ignored (with a console warning) in a meta element");
    }

    /// The IT guide lists every header for clinics hosting dist/web themselves.
    #[test]
    fn the_hosting_guide_names_the_same_headers() {
        let guide = include_str!("../../docs/helper.md");
        for (name, value) in RESPONSE_HEADERS {
            assert!(guide.contains(&format!("\n{name}: {value}\n")), "docs/helper.md: {name}: {value}");
        }
    }

    #[test]
    fn meta_can_sit_in_a_double_quoted_attribute() {
        assert!(!META.contains(['"', '&', '<', '>']), "{META}");
    }
}
