//! Issue 8, Firefox: the same extension source and the same helper in
//! headless Firefox ESR through geckodriver — pairing through the
//! extension's own window, an insurance-card check through the real
//! reception page against the simulator's mutual-TLS gateway, and a My
//! Number card check: a virtual card on the vpcd reader (pcscd), the PIN
//! typed in the extension's own PIN window.
//!
//! The parts are started the way the demo starts them ([`demo_parts`]);
//! what differs from Chromium is only where the browser looks for the host
//! manifest (`$HOME/.mozilla/native-messaging-hosts/`, written by
//! `onshi-helper install --browsers firefox` with that `HOME`) and how the
//! add-on is loaded (a temporary add-on over geckodriver).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, ensure, Context, Result};
use fantoccini::Locator;
use onshi_tests::browser::{Browser, TempDir};
use onshi_tests::demo_parts::{self as parts, CardSpec};
use onshi_tests::pcscd::{Pcscd, VPCD_ADDR};
use onshi_tests::paths::{binary, workspace_root};
use onshi_tests::process::Guarded;
use onshi_tests::wait::{until, within};
use onshi_tests::web::WebHost;

use crate::desk;

fn run(what: &str, cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("starting {what}"))?;
    ensure!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn firefox_pairing_insurance_and_card_checks() -> Result<()> {
    // First, so the card tests of other processes wait for this one (file lock).
    let _pcscd = tokio::task::block_in_place(Pcscd::acquire)?;
    let work = TempDir::new("onshi-firefox")?;
    let w = work.0.clone();
    let (pki, registry, store, socket) = (w.join("pki"), w.join("registry.sqlite"), w.join("helper.sqlite"), w.join("helper.sock"));
    let (config, helper_log) = (w.join("helper.toml"), w.join("helper.log"));
    let sim = binary("onshi-sim")?;
    let helper = binary("onshi-helper")?;
    run("onshi-sim pki init", Command::new(&sim).args(["pki", "init"]).arg(&pki))?;
    run("onshi-sim registry seed", Command::new(&sim).args(["registry", "seed", "--db"]).arg(&registry))?;

    let port = parts::free_port().map_err(|e| anyhow!(e))?;
    let mut c = parts::gateway_command(&sim, &registry, &pki, port);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut gateway = Guarded { child: c.spawn().context("starting onshi-sim gateway")?, name: "onshi-sim gateway".into() };
    parts::wait_for_port(port, &mut gateway.child, "onshi-sim gateway", Duration::from_secs(20)).map_err(|e| anyhow!(e))?;

    std::fs::write(&config, parts::helper_config("Firefox受付", &store, &parts::gateway_backend_toml(port, &pki)))?;
    let mut c = parts::helper_service_command(&helper, &config, &store, &socket);
    c.env("HOME", &w).stdout(Stdio::null()).stderr(std::fs::File::create(&helper_log)?);
    let mut service = Guarded { child: c.spawn().context("starting onshi-helper service")?, name: "onshi-helper service".into() };
    parts::wait_for_socket(&socket, &mut service.child, &helper_log, Duration::from_secs(15)).map_err(|e| anyhow!(e))?;

    // Firefox finds the host manifest under $HOME, so the browser gets a HOME of its own.
    let home = TempDir::new("onshi-firefox-home")?;
    run(
        "onshi-helper install --browsers firefox",
        Command::new(&helper).args(["install", "--browsers", "firefox", "--no-autostart"]).env("HOME", &home.0),
    )?;
    let manifest_path = home.0.join(".mozilla/native-messaging-hosts/jp.onshi.helper.json");
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest_path)?)?;
    assert_eq!(manifest["allowed_extensions"][0], onshi_helper::install::FIREFOX_EXTENSION_ID, "{manifest}");
    assert_eq!(manifest["path"].as_str(), helper.to_str(), "{manifest}");

    let web = WebHost::start()?;
    let b = within(
        "start geckodriver + Firefox ESR",
        90,
        Browser::start_firefox(home, vec![("ONSHI_HELPER_SOCKET".into(), socket.display().to_string())]),
    )
    .await?;
    let card = (sim.clone(), pki.clone(), w.join("apdu.jsonl"));
    let result = stories(&b, &web, &registry, &card).await;
    if result.is_err() {
        let _ = b.screenshot("firefox-failure").await;
        eprintln!("helper log:\n{}", std::fs::read_to_string(&helper_log).unwrap_or_default());
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), b.close()).await;
    result
}

/// A seeded person whose card is registered for insurance use, and a PIN that is not the default.
const CARD_PERSON: &str = "P0001";
const PIN: &str = "7395";

async fn stories(b: &Browser, web: &WebHost, registry: &Path, card: &(std::path::PathBuf, std::path::PathBuf, std::path::PathBuf)) -> Result<()> {
    let id = within("install the extension as a temporary add-on", 30, b.install_temporary_addon(&workspace_root().join("extension"))).await?;
    assert_eq!(id, onshi_helper::install::FIREFOX_EXTENSION_ID, "the add-on id is the manifest's gecko id");
    let url = web.url.trim_end_matches('/').to_owned();
    within("open the reception page", 30, async { Ok(b.client.goto(&format!("{url}/#settings")).await?) }).await?;
    let origin = b.client.current_url().await?.origin().ascii_serialization();
    let page = b.client.window().await?;

    // The page found the extension and, through it, the helper: the lamps say so.
    until("the extension lamp is lit", 30, || async {
        let light = b.client.find(Locator::Css("#lamp-extension")).await?.attr("data-light").await?.unwrap_or_default();
        Ok((light == "green").then_some(()))
    })
    .await
    .context("the page never saw the extension in Firefox")?;

    // Pairing: the code on the page, the same code and the browser's origin in
    // the extension's own window (in Firefox a real window WebDriver lists).
    within("pairing", 60, async {
        b.wait_for("#pair-start").await?.click().await?;
        let code = text(b, "#pair-code").await?;
        extension_window(b, &page, "/pair.html#").await?;
        ensure!(text(b, "#code").await? == code, "the pairing window shows the page's code");
        ensure!(text(b, "#origin").await? == origin, "the pairing window shows the browser's origin");
        b.screenshot("firefox-pairing-window").await?;
        b.wait_for("#approve").await?.click().await?;
        b.client.switch_to_window(page.clone()).await?;
        let said = until("the page says it is paired", 20, || async {
            let t = b.client.find(Locator::Css("main#main")).await?.text().await?;
            Ok(t.contains("ペアリングしました").then_some(t))
        })
        .await?;
        ensure!(said.contains(&origin) || said.contains("ペアリングしました"), "{said}");
        b.screenshot("firefox-paired").await?;
        Ok(())
    })
    .await?;

    // An insurance-card check: a seeded valid person, typed in, answered by the gateway.
    within("insurance-card check", 60, async {
        b.wait_for("#nav-entry").await?.click().await?;
        let valid = desk::probe(registry, "valid")?;
        desk::fill_entry(b, &valid).await?;
        let banner = desk::outcome(b, "Valid", 30).await?;
        ensure!(banner.contains("有効"), "{banner}");
        b.screenshot("firefox-insurance-valid").await?;
        Ok(())
    })
    .await?;

    // A My Number card check with the PIN typed in the extension's PIN window.
    let (sim, pki, apdu_log) = card;
    let spec = CardSpec { pin: Some(PIN.into()), tries: Some(3), ..CardSpec::person(CARD_PERSON) };
    let mut c = parts::card_command(sim, pki, VPCD_ADDR, &spec, apdu_log);
    c.stdin(Stdio::null());
    let (_card, line) = Guarded::spawn_and_read_line("onshi-sim card", c, Duration::from_secs(20))?;
    ensure!(line.starts_with("card ready"), "the virtual card said {line:?}");
    within("card check with the PIN", 90, async {
        b.wait_for("#nav-card").await?.click().await?;
        until("the card lamp shows the card on the reader", 30, || async {
            let light = b.client.find(Locator::Css("#lamp-card")).await?.attr("data-light").await?.unwrap_or_default();
            Ok((light == "green").then_some(()))
        })
        .await?;
        b.wait_for("#mode-pin").await?.click().await?;
        b.wait_for("#card-start").await?.click().await?;
        let pin_window = extension_window(b, &page, "/pin.html#").await?;
        ensure!(text(b, "#origin").await? == origin, "the PIN window names the page's origin");
        for d in PIN.chars() {
            b.wait_for(&format!("#keypad button[data-d='{d}']")).await?.click().await?;
        }
        b.screenshot("firefox-pin-window").await?;
        let ok = b.wait_for("#ok").await?;
        until("the PIN window's OK is enabled", 10, || async { Ok(ok.is_enabled().await?.then_some(())) }).await?;
        ok.click().await?;
        let _ = pin_window;
        b.client.switch_to_window(page.clone()).await?;
        let banner = desk::outcome(b, "Valid", 40).await?;
        ensure!(banner.contains("有効"), "{banner}");
        // The result came from this card: the helper sent it a VERIFY (the PIN itself is masked in the log).
        let log = std::fs::read_to_string(apdu_log).unwrap_or_default();
        ensure!(log.contains("00200080"), "the card was asked to VERIFY the PIN");
        ensure!(!log.contains("37333935"), "the PIN never appears in the APDU log");
        b.screenshot("firefox-card-valid").await?;
        Ok(())
    })
    .await
}

/// Switches to the extension window whose URL contains `part` (in Firefox
/// extension popups are windows WebDriver lists) and returns its handle.
async fn extension_window(b: &Browser, page: &fantoccini::wd::WindowHandle, part: &str) -> Result<fantoccini::wd::WindowHandle> {
    let handle = until(&format!("the extension opens a {part} window"), 20, || async {
        for h in b.client.windows().await? {
            if h == *page {
                continue;
            }
            b.client.switch_to_window(h.clone()).await?;
            if b.client.current_url().await?.as_str().contains(part) {
                return Ok(Some(h));
            }
        }
        b.client.switch_to_window(page.clone()).await?;
        Ok(None)
    })
    .await?;
    let url = b.client.current_url().await?;
    ensure!(url.scheme() == "moz-extension", "the window is the extension's own page: {url}");
    Ok(handle)
}

/// The text of `css` once it is non-empty.
async fn text(b: &Browser, css: &str) -> Result<String> {
    until(&format!("{css} has text"), 20, || async {
        let t = match b.client.find(Locator::Css(css)).await {
            Ok(e) => e.text().await?,
            Err(_) => return Ok(None),
        };
        Ok(if t.trim().is_empty() { None } else { Some(t) })
    })
    .await
}
