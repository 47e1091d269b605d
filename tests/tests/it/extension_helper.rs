//! Issue 6's last point: the unpacked extension in real headless Chromium
//! talking to the real `onshi-helper` (native host started by the browser
//! from the manifest `install --profile-dir` wrote, relaying to a `service`
//! on a temp socket and store). Page → extension → helper → back; pairing
//! through the extension's own window; a second origin refused; revoking
//! through the options page. The helper's config lists only the page's
//! origin in `allowed_origins` (issue 15): the second origin gets
//! `origin_not_allowed` for everything, and asking to pair opens no window.
//!
//! Every step has a deadline ([`within`]), so a broken link fails with the
//! step's name instead of hanging the test run (`onshi_tests::wait`). (The hang this test used to
//! have: chromedriver keeps HTTP connections open, and the CDP call read the
//! answer to EOF on an async worker — see `Browser::cdp_targets`.)

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use fantoccini::Locator;
use onshi_tests::browser::{Browser, TempDir};
use onshi_tests::paths::{binary, workspace_root};
use onshi_tests::process::Guarded;
use onshi_tests::wait::{until, within};
use onshi_tests::web::WebHost;
use serde_json::Value;

const EXT: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";

// Scripts as files: the simulator's host sends the page's strict
// Content-Security-Policy, which runs no inline script.
const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>t</title><script src="onshi.js"></script>
<script src="page.js"></script>"#;
const PAGE_JS: &str = "window.__c = null; Onshi.connect().then(c => { window.__c = c; });";

/// Runs `body` in the page through onshi.js → `{b}` (reply body) or `{e}` (error).
async fn ask(b: &Browser, body: &str) -> Result<Value> {
    let js = format!(
        "const done = arguments[arguments.length - 1];
         const go = () => window.__c ? window.__c.request({body}).then(b => done({{b}}), e => done({{e}})) : setTimeout(go, 50);
         go();"
    );
    within(&format!("page asks {body}"), 40, async { Ok(b.client.execute_async(&js, vec![]).await?) }).await
}

/// The text of the element `css`, once it is non-empty.
async fn text_of(b: &Browser, css: &str) -> Result<String> {
    until(&format!("{css} has text"), 15, || async {
        let t = b.client.find(Locator::Css(css)).await?.text().await?;
        Ok(if t.trim().is_empty() { None } else { Some(t) })
    })
    .await
}

/// The URL of the extension window whose URL contains `part` (a popup:
/// chromedriver does not list it as a window, the CDP targets do).
async fn find_popup(b: &Browser, part: &str) -> Result<String> {
    until(&format!("a window with {part} is open"), 15, || async {
        let targets = b.cdp_targets().await?;
        Ok(targets.into_iter().find_map(|t| t["url"].as_str().filter(|u| u.contains(part)).map(str::to_owned)))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn page_extension_real_helper_round_trip_pairing_and_revoke() -> Result<()> {
    let root = workspace_root();
    let helper = binary("onshi-helper")?;
    let work = TempDir::new("onshi-exthelper")?;
    let profile = work.0.join("profile");
    let site = work.0.join("site");
    std::fs::create_dir_all(&site)?;
    std::fs::write(site.join("index.html"), PAGE)?;
    std::fs::write(site.join("page.js"), PAGE_JS)?;
    std::fs::copy(root.join("extension/onshi.js"), site.join("onshi.js"))?;
    let socket = work.0.join("h.sock");
    let store = work.0.join("s.sqlite");

    // The browser finds the host manifest in <user-data-dir>/NativeMessagingHosts/.
    let out = Command::new(&helper)
        .args(["install", "--browsers", "chromium", "--profile-dir"])
        .arg(&profile)
        .env("HOME", &work.0)
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(profile.join("NativeMessagingHosts/jp.onshi.helper.json"))?)?;
    assert_eq!(manifest["path"].as_str(), helper.to_str());
    assert_eq!(manifest["allowed_origins"][0], format!("chrome-extension://{EXT}/"));

    let web = WebHost::start_dir(&site)?;
    // IT lists the reception page: only its origin reaches the helper.
    let oqs = work.0.join("oqs");
    for sub in ["req", "res", "face"] {
        std::fs::create_dir_all(oqs.join(sub))?;
    }
    let config = work.0.join("helper.toml");
    std::fs::write(
        &config,
        format!(
            "institution_code = \"0110113719\"\nallowed_origins = [\"{}\"]\n[backend]\nkind = \"oqs-folder\"\npath = {:?}\n",
            web.url.trim_end_matches('/'),
            oqs.display().to_string()
        ),
    )?;
    let mut svc = Command::new(&helper);
    svc.env("HOME", &work.0).arg("--config").arg(&config).arg("--store").arg(&store).args(["service", "--socket"]).arg(&socket);
    let _service = Guarded::spawn("onshi-helper service", svc)?;
    until("the service's socket exists", 15, || async { Ok(socket.exists().then_some(())) }).await?;

    let ext_dir = root.join("extension");
    // The native host inherits chromedriver's → Chromium's environment, so
    // ONSHI_HELPER_SOCKET points it at this test's service.
    let b = within(
        "start chromedriver + Chromium with the extension",
        60,
        Browser::start_with(
            vec![format!("--load-extension={}", ext_dir.display()), format!("--disable-extensions-except={}", ext_dir.display())],
            Some(profile.clone()),
            vec![("ONSHI_HELPER_SOCKET".into(), socket.display().to_string()), ("HOME".into(), work.0.display().to_string())],
        ),
    )
    .await?;
    let result = scenario(&b, &web).await;
    // Close the session even when the scenario failed, then report.
    let _ = tokio::time::timeout(Duration::from_secs(10), b.close()).await;
    result
}

async fn scenario(b: &Browser, web: &WebHost) -> Result<()> {
    let page_url = web.url.trim_end_matches('/').to_owned();
    within("open the page", 20, async { Ok(b.client.goto(&format!("{page_url}/index.html")).await?) }).await?;
    let origin = b.client.current_url().await?.origin().ascii_serialization();

    // hello is answered by the real helper (its version, not the extension's).
    let hello = ask(b, r#"{type:"hello", page_version:"t"}"#).await?;
    assert_eq!(hello["b"]["protocol_version"], 1, "{hello}");
    assert_eq!(hello["b"]["helper_version"], env!("CARGO_PKG_VERSION"), "{hello}");
    assert_eq!(hello["b"]["paired"], false, "{hello}");

    let refused = ask(b, r#"{type:"status"}"#).await?;
    assert_eq!(refused["e"]["code"], "not_paired", "{refused}");
    assert!(refused["e"]["message"]["ja"].as_str().is_some_and(|m| !m.is_empty()), "{refused}");

    // pair_begin: the page gets the code, the extension opens its own window.
    let pair = ask(b, r#"{type:"pair_begin"}"#).await?;
    let code = pair["b"]["code"].as_str().with_context(|| format!("no code in {pair}"))?.to_owned();
    let main = b.client.window().await?;
    let popup = find_popup(b, "pair.html#").await?;
    assert!(popup.starts_with(&format!("chrome-extension://{EXT}/pair.html#")), "{popup}");
    // Drive the same URL (same one-time token) in a tab WebDriver can see.
    let tab = b.client.new_window(true).await?;
    b.client.switch_to_window(tab.handle).await?;
    // The popup's width; tall enough that the screenshot shows the whole window.
    b.client.set_window_size(480, 900).await?;
    within("open the pairing window", 20, async { Ok(b.client.goto(&popup).await?) }).await?;
    assert_eq!(text_of(b, "#origin").await?, origin, "the window shows the origin the browser reported");
    assert_eq!(text_of(b, "#code").await?, code, "the window shows the page's code");
    b.screenshot("extension-pairing-window").await?;
    b.client.find(Locator::Css("#approve")).await?.click().await?;
    let done = until("the pairing window confirms", 15, || async {
        let s = b.client.find(Locator::Css("#status")).await?;
        let class = s.attr("class").await?.unwrap_or_default();
        Ok(if class.contains("ok") || class.contains("bad") { Some((class, s.text().await?)) } else { None })
    })
    .await?;
    assert!(done.0.contains("ok") && done.1.contains(&origin), "{done:?}");
    b.screenshot("extension-pairing-approved").await?;
    b.client.set_window_size(1280, 900).await?;
    b.client.switch_to_window(main.clone()).await?;

    let status = ask(b, r#"{type:"status"}"#).await?;
    assert_eq!(status["b"]["type"], "status", "{status}");
    assert_eq!(status["b"]["paired"], true, "{status}");

    // Another origin (same server, other host name) is not paired by that.
    let other_url = page_url.replace("127.0.0.1", "localhost");
    assert_ne!(other_url, page_url, "the page is served on 127.0.0.1");
    let tab = b.client.new_window(true).await?;
    b.client.switch_to_window(tab.handle).await?;
    within("open the page on a second origin", 20, async { Ok(b.client.goto(&format!("{other_url}/index.html")).await?) })
        .await?;
    let other = ask(b, r#"{type:"status"}"#).await?;
    assert_eq!(other["e"]["code"], "origin_not_allowed", "{other}");
    assert!(other["e"]["message"]["ja"].as_str().is_some_and(|m| m.contains("IT担当者")), "{other}");
    // Asking to pair opens no window: the helper refuses before any pairing exists.
    let pair_windows = || async {
        let targets = b.cdp_targets().await?;
        anyhow::Ok(targets.into_iter().filter_map(|t| t["url"].as_str().filter(|u| u.contains("pair.html#")).map(str::to_owned)).collect::<Vec<_>>())
    };
    // The approved pairing's window may still be closing: only a new one counts.
    let windows_before = pair_windows().await?;
    let begun = ask(b, r#"{type:"pair_begin"}"#).await?;
    assert_eq!(begun["e"]["code"], "origin_not_allowed", "{begun}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let new_windows: Vec<String> = pair_windows().await?.into_iter().filter(|u| !windows_before.contains(u)).collect();
    assert!(new_windows.is_empty(), "a pairing window opened for an origin outside the allowlist: {new_windows:?}");

    // Revoke through the options page (via extension; it asks confirm()).
    b.client.goto(&format!("chrome-extension://{EXT}/options.html")).await?;
    let cell = text_of(b, "#rows td").await?;
    assert_eq!(cell, origin, "the options page lists the paired origin");
    b.client.find(Locator::Css("#rows button")).await?.click().await?;
    until("the revoke confirmation dialog", 10, || async { Ok(b.client.accept_alert().await.ok()) }).await?;
    b.client.switch_to_window(main).await?;
    until("status is refused again after revoking", 15, || async {
        let again = ask(b, r#"{type:"status"}"#).await?;
        Ok((again["e"]["code"] == "not_paired").then_some(()))
    })
    .await?;
    Ok(())
}
