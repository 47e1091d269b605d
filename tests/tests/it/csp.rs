//! Issue 15, "the page itself": the built page under its strict
//! Content-Security-Policy (onshi-core `page_policy`) in real headless
//! Chromium. The simulator's host sends the policy as a header and
//! `cargo xtask build` wrote it into index.html's meta element; a script
//! injected into the HTML does not run, `eval` throws, and the page — entry
//! form, the batch table it sizes through the CSSOM, the CSV download from a
//! blob: URL, the 利用状況 SVG chart and its CSV — still works with no
//! violation of its own.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};
use onshi_core::page_policy::{HEADER, META, RESPONSE_HEADERS};
use onshi_tests::browser::{Browser, TempDir};
use onshi_tests::paths;
use onshi_tests::wait::until;
use onshi_tests::web::WebHost;
use serde_json::Value;

/// What the attacker would add: an inline script. It must not run.
const INJECTED: &str = "<script>window.__injected = 1;</script>";

/// A test-only watcher, a same-origin file (which the policy allows), put
/// first in `<head>` so it sees every violation from the start, including
/// those before WebDriver could add a listener. It also tries `eval` and
/// `new Function` from the page's own script context: WebDriver's own
/// execute_script goes through DevTools, which may be let past the policy,
/// so it could not tell.
const WATCH_JS: &str = r#"window.__csp = { violations: [] };
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI,
    policy: e.originalPolicy, source: e.sourceFile, line: e.lineNumber });
});
for (const [name, run] of [["eval", () => eval("1")], ["function", () => new Function("return 1")()]]) {
  try { run(); window.__csp[name] = "ran"; } catch (e) { window.__csp[name] = e.name; }
}
"#;

/// The status line and headers of `GET /` from the host at `url`, each
/// line ending in CRLF.
fn response_head(url: &str) -> Result<String> {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, _) = answer.split_once("\r\n\r\n").context("no end of headers")?;
    Ok(format!("{head}\r\n"))
}

/// A copy of dist/web whose index.html also loads the watcher and carries the
/// injected inline script, both right after the policy's meta element.
fn tampered_copy() -> Result<TempDir> {
    let dist = paths::dist_web()?;
    let site = TempDir::new("onshi-csp")?;
    for entry in std::fs::read_dir(&dist)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::copy(&path, site.0.join(path.file_name().context("file name")?))?;
        }
    }
    let index = std::fs::read_to_string(dist.join("index.html"))?;
    let meta = format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{META}\">");
    ensure!(index.contains(&meta), "dist/web/index.html lacks the policy's meta element (run `cargo xtask build`):\n{index}");
    let tampered = index.replacen(&meta, &format!("{meta}\n  <script src=\"csp-watch.js\"></script>\n  {INJECTED}"), 1);
    std::fs::write(site.0.join("index.html"), tampered)?;
    std::fs::write(site.0.join("csp-watch.js"), WATCH_JS)?;
    Ok(site)
}

async fn js(b: &Browser, script: &str) -> Result<Value> {
    Ok(b.client.execute(script, vec![]).await?)
}

/// The violations the watcher saw: only the injected script's (once per
/// policy: the header's and the meta element's each refuse it) and the
/// watcher's own `eval` / `new Function` — none for the page's own files,
/// styles or WebAssembly.
async fn only_expected_violations(b: &Browser, screen: &str) -> Result<()> {
    let v = js(b, "return window.__csp").await?;
    ensure!(v["eval"] == "EvalError", "{screen}: eval must throw: {v}");
    ensure!(v["function"] == "EvalError", "{screen}: new Function must throw: {v}");
    let violations = v["violations"].as_array().cloned().unwrap_or_default();
    let mut inline_policies = Vec::new();
    for x in &violations {
        match (x["blocked"].as_str(), x["directive"].as_str()) {
            (Some("inline"), Some("script-src-elem")) => inline_policies.push(x["policy"].as_str().unwrap_or_default().to_owned()),
            (Some("eval"), Some("script-src")) if x["source"].as_str().is_some_and(|s| s.ends_with("/csp-watch.js")) => {}
            _ => bail!("{screen}: a violation the page itself caused: {x}\nall: {violations:#?}"),
        }
    }
    inline_policies.sort();
    let mut both = vec![HEADER.to_owned(), META.to_owned()];
    both.sort();
    ensure!(inline_policies == both, "{screen}: the injected script must be refused by the header and by the meta element alike: {inline_policies:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_policy_stops_an_injected_inline_script() -> Result<()> {
    let site = tampered_copy()?;
    let web = WebHost::start_dir(&site.0)?;

    let head = response_head(&web.url)?;
    for (name, value) in RESPONSE_HEADERS {
        assert!(head.contains(&format!("\r\n{name}: {value}\r\n")), "{name} missing or different:\n{head}");
    }
    assert!(HEADER.contains("script-src 'self' 'wasm-unsafe-eval';") && !HEADER.contains("unsafe-inline"), "{HEADER}");

    let b = Browser::start().await?;
    let result = scenario(&b, &web).await;
    let _ = tokio::time::timeout(Duration::from_secs(10), b.close()).await;
    result
}

/// Errors, never panics, so the caller always closes the browser (a panic
/// here would leave Chromium running after the test).
async fn scenario(b: &Browser, web: &WebHost) -> Result<()> {
    b.client.goto(&web.url).await?;
    // The page booted: boot.js ran and the WebAssembly compiled ('wasm-unsafe-eval').
    b.wait_for("#insurer-number").await?;
    ensure!(js(b, "return typeof window.__injected").await? == "undefined", "the injected inline script ran");
    // style.css applied (the stylesheet sets the page's colours and the top bar).
    let styled = js(b, "return [getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(),
        getComputedStyle(document.querySelector('.topbar')).backgroundColor]").await?;
    ensure!(styled == serde_json::json!(["#1f5fbf", "rgb(21, 50, 79)"]), "the stylesheet is not applied: {styled}");
    only_expected_violations(b, "entry").await?;
    // The console says why, for whoever looks: nothing about the page's own files.
    let log = b.browser_log().await?;
    for entry in &log {
        let text = entry["message"].as_str().unwrap_or_default();
        if text.contains("Content Security Policy") {
            ensure!(text.contains("inline script") || text.contains("as JavaScript"), "unexpected policy message: {text}");
        }
    }
    // A screenshot with the policy on; people check the page looks as usual.
    let path = b.screenshot("csp-page").await?;
    let docs = paths::workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&docs)?;
    std::fs::copy(&path, docs.join("csp-page.png"))?;

    // The batch table: its heights and the drawn rows' offset are CSSOM
    // writes (style attributes would be refused), so layout must follow.
    b.client.goto(&format!("{}?page=batch&results=10000", web.url)).await?;
    until("the 10,000-row results table", 20, || async {
        let total = js(b, "const r = document.querySelector('#batch-results'); return r && r.dataset.total").await?;
        Ok((total == "10000").then_some(()))
    })
    .await?;
    let height = js(b, "return document.querySelector('#batch-table').getBoundingClientRect().height").await?;
    ensure!(height.as_f64().is_some_and(|h| (480.0..=484.0).contains(&h)), "table viewport height {height}");
    js(b, "document.querySelector('#batch-table').scrollTop = 32 * 5000; return null").await?;
    let at = until("rows drawn where the table scrolled to", 10, || async {
        let at = js(b, "const t = document.querySelector('#batch-table'); const r = t.querySelector('.vrow');
            return r.getBoundingClientRect().top - t.getBoundingClientRect().top - t.clientTop + t.scrollTop").await?;
        Ok(at.as_f64().filter(|px| *px >= 32.0 * 4990.0))
    })
    .await?;
    ensure!(at <= 32.0 * 5000.0, "first drawn row at {at}px");

    // The CSV export is a download of a blob: URL. A download is a
    // navigation, which the policy does not govern, so no directive lists
    // blob: — and the file still arrives.
    let downloads = TempDir::new("onshi-csp-downloads")?;
    b.cdp("Browser.setDownloadBehavior", serde_json::json!({ "behavior": "allow", "downloadPath": downloads.0 })).await?;
    b.wait_for("#batch-export-csv").await?.click().await?;
    let csv = until("the exported CSV is downloaded", 20, || async {
        let path = downloads.0.join("onshi-batch-results.csv");
        Ok(std::fs::read(&path).ok().filter(|bytes| bytes.len() > 3))
    })
    .await?;
    ensure!(csv.starts_with(b"\xEF\xBB\xBF"), "the UTF-8 CSV starts with its BOM");
    ensure!(js(b, "return typeof window.__injected").await? == "undefined", "the injected inline script ran");
    only_expected_violations(b, "batch").await?;

    // Issue 16: the 利用状況 chart is SVG drawn with attributes and classes
    // only (no style attribute), coloured by the stylesheet; its CSV is a
    // blob: download like the batch export.
    b.client.goto(&format!("{}?page=usage", web.url)).await?;
    b.wait_for("#usage-chart rect.seg").await?;
    let fill = js(b, "return getComputedStyle(document.querySelector('#usage-chart rect.seg-face')).fill").await?;
    ensure!(fill == serde_json::json!("rgb(15, 138, 106)"), "the chart is coloured by style.css: {fill}");
    let path = b.screenshot("usage-demo").await?;
    std::fs::copy(&path, docs.join("usage-demo.png"))?;
    b.wait_for("#usage-csv").await?.click().await?;
    let csv = until("the usage CSV is downloaded", 20, || async {
        let path = downloads.0.join("onshi-usage-20251201-20261130.csv");
        Ok(std::fs::read(&path).ok().filter(|bytes| bytes.len() > 3))
    })
    .await?;
    let text = String::from_utf8(csv).context("UTF-8")?;
    ensure!(text.starts_with("\u{FEFF}区分,期間,マイナ（暗証番号）"), "BOM, then the Japanese header: {}", &text[..text.len().min(80)]);
    ensure!(text.contains("\r\n月,2026-11,") && text.contains("\r\n計,2025-12-01〜2026-11-30,"), "month and range totals");
    only_expected_violations(b, "usage").await
}
