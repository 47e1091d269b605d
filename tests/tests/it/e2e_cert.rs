//! Issue 14, end to end: lapsed card certificates at the desk, with every
//! real part ([`Stack::start_with_cert_cases`]): the simulator issues the
//! `pki::CERT_CASES` people certificates relative to today, the helper
//! judges them before any PIN, the gateway applies the same core rule.
//!
//! Stories: a card lapsed more than three months is refused before the PIN
//! window opens (no VERIFY of any kind reaches the card); a card lapsed
//! within the grace takes no PIN either, and the photo check gives a
//! qualification-only result with the card's tries untouched; a card that
//! expires within 90 days takes the PIN and the result carries the reminder.

use anyhow::{ensure, Result};
use fantoccini::Locator;
use onshi_tests::stack::Stack;
use onshi_tests::wait::within;

/// `pki::CERT_CASES`: expires in 30 days, lapsed 20 days ago, lapsed 200 days ago.
const SOON: &str = "P0042";
const GRACE: &str = "P0043";
const LAPSED: &str = "P0044";
const PIN: &str = "7395";

#[tokio::test(flavor = "multi_thread")]
async fn e2e_card_certificate_states() -> Result<()> {
    let mut s = within("start the whole stack", 180, Stack::start_with_cert_cases()).await?;
    let result = stories(&mut s).await;
    s.finish(result, "e2e-card-certificate-failure").await
}

async fn stories(s: &mut Stack) -> Result<()> {
    within("pairing approved", 60, async {
        s.pair(true, None).await?;
        s.text_containing("main#main", "ペアリングしました", 15).await?;
        Ok(())
    })
    .await?;
    within("a card lapsed beyond the grace", 60, lapsed(s)).await?;
    within("a card lapsed within the grace", 60, grace(s)).await?;
    within("a card expiring soon", 60, soon(s)).await?;
    Ok(())
}

/// Saves a screenshot under target/screenshots/ and docs/screenshots/, with
/// `css` scrolled to the top of the view so the state it shows is in the picture.
async fn shot(s: &Stack, name: &str, css: &str) -> Result<()> {
    let script = format!("document.querySelector('{css}')?.scrollIntoView({{block: 'start'}})");
    s.browser.client.execute(&script, vec![]).await?;
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let path = s.browser.screenshot(name).await?;
    let docs = onshi_tests::paths::workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&docs)?;
    std::fs::copy(&path, docs.join(format!("{name}.png")))?;
    Ok(())
}

/// The card's APDUs since `from` in the log: any VERIFY (`00 20 …`), even the tries-left query?
fn verify_since(log: &str, from: usize) -> bool {
    log[from..].contains("\"00200080")
}

async fn lapsed(s: &mut Stack) -> Result<()> {
    s.insert_card(LAPSED, PIN, 3).await?;
    let before = s.apdu_log()?.len();
    s.start_card_check(false).await?;
    let step = s.text_containing("#card-step", "3か月以上過ぎている", 20).await?;
    ensure!(step.contains("資格確認書") && step.contains("市区町村の窓口"), "says what to do: {step}");
    // The way on: the numbers of the 資格確認書 / お知らせ.
    let to_numbers = s.browser.client.find(Locator::Css("#card-to-numbers")).await?;
    ensure!(to_numbers.text().await?.contains("資格確認書"), "the button to the numbers");
    shot(s, "e2e-card-certificate-expired", "#card-progress").await?;
    let log = s.apdu_log()?;
    ensure!(log[before..].contains("00A4020C02000A"), "the certificate was read");
    ensure!(!verify_since(&log, before), "no VERIFY of any kind before the refusal: {}", &log[before..]);
    Ok(())
}

async fn grace(s: &mut Stack) -> Result<()> {
    s.insert_card(GRACE, PIN, 3).await?;
    let before = s.apdu_log()?.len();
    s.start_card_check(false).await?;
    let step = s.text_containing("#card-step", "目視確認", 20).await?;
    ensure!(step.contains("暗証番号は使えません"), "{step}");
    // The page switched to the photo check for the next press.
    let visual = s.browser.client.find(Locator::Css("#mode-visual")).await?;
    ensure!(visual.prop("checked").await?.as_deref() == Some("true"), "目視確認 is chosen");
    shot(s, "e2e-card-certificate-grace-no-pin", "#card-progress").await?;
    s.click("#card-start").await?;
    let (outcome, text) = s.result(30).await?;
    ensure!(outcome == "Valid", "the qualification is confirmed: {outcome}: {text}");
    let notice = s.browser.client.find(Locator::Css("#result-certificate")).await?;
    ensure!(notice.attr("data-state").await?.as_deref() == Some("lapsed_grace"));
    let words = notice.text().await?;
    ensure!(words.contains("資格情報のみ") && words.contains("薬剤情報") && words.contains("市区町村の窓口"), "{words}");
    shot(s, "e2e-card-certificate-grace-result", "#result-title").await?;
    // No PIN try was spent: nothing VERIFY-like ever reached this card, so its counter stands at 3.
    let log = s.apdu_log()?;
    ensure!(!verify_since(&log, before), "no VERIFY on a card in its grace: {}", &log[before..]);
    Ok(())
}

async fn soon(s: &mut Stack) -> Result<()> {
    s.insert_card(SOON, PIN, 3).await?;
    s.start_card_check(false).await?;
    s.text_containing("#card-step", "残り3回", 20).await?;
    s.open_extension_window("pin.html#").await?;
    s.type_pin(PIN).await?;
    let (class, text) = s.pin_status().await?;
    ensure!(class.contains("ok"), "{class}: {text}");
    s.back_to_page().await?;
    let (outcome, text) = s.result(30).await?;
    ensure!(outcome == "Valid", "{outcome}: {text}");
    let notice = s.browser.client.find(Locator::Css("#result-certificate")).await?;
    ensure!(notice.attr("data-state").await?.as_deref() == Some("expires_soon"));
    let words = notice.text().await?;
    ensure!(words.contains("あと30日") && words.contains("市区町村の窓口"), "{words}");
    shot(s, "e2e-card-certificate-reminder", "#result-title").await?;
    Ok(())
}
