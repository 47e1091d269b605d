//! Issue 6's last point: the unpacked extension in real headless Chromium
//! talking to the real `onshi-helper` (native host started by the browser
//! from the manifest `install --profile-dir` wrote, relaying to a `service`
//! on a temp socket and store). Page → extension → helper → back; pairing
//! through the extension's own window; revoking through the options page.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use onshi_tests::browser::{Browser, TempDir};
use onshi_tests::paths::{binary, workspace_root};
use onshi_tests::process::Guarded;
use onshi_tests::web::WebHost;
use serde_json::Value;

const EXT: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";

const PAGE: &str = r#"<!doctype html><meta charset="utf-8"><title>t</title><script src="onshi.js"></script>
<script>window.__c = null; Onshi.connect().then(c => { window.__c = c; });</script>"#;

/// Runs `body` → `{b}` or `{e}` in the page through onshi.js.
async fn ask(b: &Browser, body: &str) -> Result<Value> {
    let js = format!(
        "const done = arguments[arguments.length - 1];
         const go = () => window.__c ? window.__c.request({body}).then(b => done({{b}}), e => done({{e}})) : setTimeout(go, 50);
         go();"
    );
    Ok(b.client.execute_async(&js, vec![]).await?)
}

async fn find_popup(b: &Browser, part: &str) -> Result<String> {
    for _ in 0..100 {
        if let Some(t) = b.cdp_targets().await?.into_iter().find(|t| t["url"].as_str().is_some_and(|u| u.contains(part))) {
            return Ok(t["url"].as_str().unwrap_or_default().to_owned());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("no window with {part} opened")
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "hangs after the service starts (not yet diagnosed); run with --ignored --test-threads=1"]
async fn page_extension_real_helper_round_trip_pairing_and_revoke() -> Result<()> {
    let root = workspace_root();
    let helper = binary("onshi-helper")?;
    let work = TempDir::new("onshi-exthelper")?;
    let profile = work.0.join("profile");
    let site = work.0.join("site");
    std::fs::create_dir_all(&site)?;
    std::fs::write(site.join("index.html"), PAGE)?;
    std::fs::copy(root.join("extension/onshi.js"), site.join("onshi.js"))?;
    let socket = work.0.join("h.sock");
    let store = work.0.join("s.sqlite");

    let out = Command::new(&helper)
        .args(["install", "--browsers", "chromium", "--profile-dir"])
        .arg(&profile)
        .env("HOME", &work.0)
        .output()?;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(profile.join("NativeMessagingHosts/jp.onshi.helper.json"))?)?;
    assert_eq!(manifest["path"].as_str(), helper.to_str());

    let mut svc = Command::new(&helper);
    svc.env("HOME", &work.0).arg("--store").arg(&store).args(["service", "--socket"]).arg(&socket);
    let _service = Guarded::spawn("onshi-helper service", svc)?;
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    let web = WebHost::start_dir(&site)?;
    let ext_dir = root.join("extension");
    let b = Browser::start_with(
        vec![format!("--load-extension={}", ext_dir.display()), format!("--disable-extensions-except={}", ext_dir.display())],
        Some(profile.clone()),
        vec![("ONSHI_HELPER_SOCKET".into(), socket.display().to_string()), ("HOME".into(), work.0.display().to_string())],
    )
    .await?;
    let page_url = web.url.trim_end_matches('/').to_owned();
    b.client.goto(&format!("{page_url}/index.html")).await?;
    let origin = b.client.current_url().await?.origin().ascii_serialization();

    let hello = ask(&b, r#"{type:"hello", page_version:"t"}"#).await?;
    assert_eq!(hello["b"]["protocol_version"], 1, "{hello}");
    assert_eq!(hello["b"]["helper_version"], env!("CARGO_PKG_VERSION"), "{hello}");
    assert_eq!(hello["b"]["paired"], false, "{hello}");

    let refused = ask(&b, r#"{type:"status"}"#).await?;
    assert_eq!(refused["e"]["code"], "not_paired", "{refused}");

    let pair = ask(&b, r#"{type:"pair_begin"}"#).await?;
    let code = pair["b"]["code"].as_str().context("no code")?.to_owned();
    let main = b.client.window().await?;
    let popup = find_popup(&b, "pair.html#").await?;
    let tab = b.client.new_window(true).await?;
    b.client.switch_to_window(tab.handle).await?;
    b.client.goto(&popup).await?;
    let shown_origin = b.wait_for("#origin").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(shown_origin.text().await?, origin);
    assert_eq!(b.wait_for("#code").await?.text().await?, code);
    b.wait_for("#approve").await?.click().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.client.switch_to_window(main.clone()).await?;

    let status = ask(&b, r#"{type:"status"}"#).await?;
    assert_eq!(status["b"]["paired"], true, "{status}");

    // Revoke through the options page (via extension).
    let tab = b.client.new_window(true).await?;
    b.client.switch_to_window(tab.handle).await?;
    b.client.goto(&format!("chrome-extension://{EXT}/options.html")).await?;
    b.wait_for("#rows button").await?.click().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.client.switch_to_window(main).await?;
    let again = ask(&b, r#"{type:"status"}"#).await?;
    assert_eq!(again["e"]["code"], "not_paired", "{again}");

    b.close().await?;
    Ok(())
}
