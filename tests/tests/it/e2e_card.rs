//! Issue 8: a receptionist's day with the My Number card, end to end with
//! the demo's real parts ([`onshi_tests::stack::Stack`]): the built page in
//! headless Chromium, the real extension and its own windows, the helper as
//! native-messaging host and service, pcscd + vpcd with a virtual card, the
//! simulator's mutual-TLS gateway over a seeded registry.
//!
//! One stack is shared by the stories (starting it costs ~10 s); each story
//! leaves the page usable for the next. The stories, in order: pairing
//! denied, then approved; a card check with the right PIN; a wrong PIN then
//! the right one; the one-try-left warning; a locked card; the card pulled
//! out mid-check; and at the end the secrets audit — the
//! card's APDU log free of the forbidden applets, the PIN absent from the
//! page DOM, the browser console, the helper log and the store's bytes.

use anyhow::{ensure, Result};
use fantoccini::Locator;
use onshi_tests::demo_parts::CardSpec;
use onshi_tests::stack::Stack;
use onshi_tests::wait::{until, within};

/// P0001's card is registered for insurance use in the seeded registry.
const PERSON: &str = "P0001";
/// Not the simulator's default (1234), and digits that no id or port here
/// is likely to hold next to non-digits.
const PIN: &str = "7395";
const WRONG_PIN: &str = "0000";
/// 券面事項入力補助AP and 券面事項確認AP: never selected (design.md invariants).
const FORBIDDEN_HEX: [&str; 2] = ["D3921000310001010408", "D3921000310001010402"];
/// The PIN as it would appear in a hex APDU dump.
const PIN_HEX: &str = "37333935";
/// APDUs the helper's check before the PIN window takes (select JPKI, select
/// the certificate EF, 4 chunks of P0001's 976-byte certificate, select PIN
/// EF, tries left: 8, issue 14) ; the card leaves 3 APDUs after that, i.e.
/// inside the confirmation flow, before its VERIFY.
const REMOVE_AFTER: u64 = 11;

/// The visual check (目視確認) on its own stack: the helper sends the
/// certificate with an empty signature (the card signs only after a PIN), and
/// the gateway still checks the nonce, the chain and certificate → person.
#[tokio::test(flavor = "multi_thread")]
async fn e2e_card_visual_check() -> Result<()> {
    let mut s = within("start the whole stack", 120, Stack::start()).await?;
    let result = async {
        within("pairing approved", 60, pairing_approved(&s)).await?;
        s.insert_card(PERSON, PIN, 3).await?;
        within("visual check", 60, visual(&mut s)).await
    }
    .await;
    if result.is_err() {
        let _ = s.browser.screenshot("e2e-card-visual-failure").await;
    }
    s.stop().await?;
    result
}

#[tokio::test(flavor = "multi_thread")]
async fn e2e_card_receptionist_stories() -> Result<()> {
    let mut s = within("start the whole stack", 120, Stack::start()).await?;
    let result = stories(&mut s).await;
    s.finish(result, "e2e-card-failure").await
}

async fn stories(s: &mut Stack) -> Result<()> {
    within("pairing denied", 60, pairing_denied(s)).await?;
    within("pairing approved", 60, pairing_approved(s)).await?;
    s.insert_card(PERSON, PIN, 3).await?;
    within("card check with the right PIN", 60, right_pin(s)).await?;
    within("a wrong PIN, then the right one", 60, wrong_then_right(s)).await?;
    within("the one-try-left warning", 60, one_try_left(s)).await?;
    within("a locked card", 60, locked(s)).await?;
    within("card pulled out mid-check", 90, pulled_out(s)).await?;
    within("secrets audit", 60, secrets(s)).await?;
    Ok(())
}

async fn pairing_denied(s: &Stack) -> Result<()> {
    s.pair(false, None).await?;
    let text = s.text_containing("main#main", "ペアリングは拒否されました", 15).await?;
    ensure!(text.contains("もう一度始めてください"), "the page says what to do: {text}");
    s.browser.screenshot("e2e-pairing-denied").await?;
    Ok(())
}

async fn pairing_approved(s: &Stack) -> Result<()> {
    s.pair(true, Some("e2e-pairing")).await?;
    s.text_containing("main#main", "ペアリングしました", 15).await?;
    Ok(())
}

/// Opens the PIN window for the check just started; checks what it shows.
async fn pin_window(s: &Stack, tries: &str) -> Result<()> {
    s.open_extension_window("pin.html#").await?;
    ensure!(s.text("#origin").await? == s.origin, "the PIN window names the page's origin");
    let shown = s.text("#tries").await?;
    ensure!(shown == tries, "the PIN window shows {shown} tries left, expected {tries}");
    Ok(())
}

async fn expect_valid(s: &Stack, shot: &str) -> Result<()> {
    s.back_to_page().await?;
    let (outcome, text) = s.result(30).await?;
    ensure!(outcome == "Valid", "outcome {outcome}: {text}");
    s.browser.screenshot(shot).await?;
    Ok(())
}

async fn right_pin(s: &Stack) -> Result<()> {
    s.start_card_check(false).await?;
    let step = s.text_containing("#card-step", "残り3回", 20).await?;
    ensure!(step.contains("暗証番号"), "{step}");
    s.browser.screenshot("e2e-card-waiting-pin").await?;
    pin_window(s, "3").await?;
    s.browser.screenshot("e2e-pin-window").await?;
    s.type_pin(PIN).await?;
    let (class, text) = s.pin_status().await?;
    ensure!(class.contains("ok"), "{class}: {text}");
    expect_valid(s, "e2e-card-result").await
}

async fn wrong_then_right(s: &Stack) -> Result<()> {
    s.start_card_check(false).await?;
    pin_window(s, "3").await?;
    s.type_pin(WRONG_PIN).await?;
    // The helper answers wrong_pin and asks again; the same window refreshes.
    until("the PIN window shows 2 tries left", 20, || async {
        Ok((s.browser.client.find(Locator::Css("#tries")).await?.text().await? == "2").then_some(()))
    })
    .await?;
    s.browser.screenshot("e2e-pin-wrong").await?;
    s.browser.client.switch_to_window(s.page.clone()).await?;
    let step = s.text_containing("#card-step", "残り2回", 20).await?;
    ensure!(step.contains("(2 tries left)"), "English second: {step}");
    // Back to the PIN window (still the same one) for the right PIN.
    let handles = s.browser.client.windows().await?;
    let tab = handles.into_iter().find(|h| *h != s.page).ok_or_else(|| anyhow::anyhow!("the PIN tab is gone"))?;
    s.browser.client.switch_to_window(tab).await?;
    s.type_pin(PIN).await?;
    expect_valid(s, "e2e-card-result-after-wrong-pin").await
}

async fn one_try_left(s: &mut Stack) -> Result<()> {
    s.insert_card(PERSON, PIN, 1).await?;
    s.start_card_check(false).await?;
    let step = s.text_containing("#card-step", "あと1回", 20).await?;
    ensure!(step.contains("目視確認"), "the page offers the way out: {step}");
    pin_window(s, "1").await?;
    let warn = s.browser.wait_for("#warn-last").await?;
    ensure!(!warn.attr("class").await?.unwrap_or_default().contains("hidden"), "the last-try warning is shown");
    let digit = s.browser.wait_for("#keypad button[data-d='1']").await?;
    ensure!(!digit.is_enabled().await?, "the keypad waits for the explicit confirmation");
    s.browser.screenshot("e2e-pin-last-try").await?;
    s.click("#anyway").await?;
    s.type_pin(PIN).await?;
    expect_valid(s, "e2e-card-result-last-try").await
}

async fn locked(s: &mut Stack) -> Result<()> {
    s.insert_card(PERSON, PIN, 1).await?;
    s.start_card_check(false).await?;
    pin_window(s, "1").await?;
    s.click("#anyway").await?;
    s.type_pin(WRONG_PIN).await?;
    s.back_to_page().await?;
    let step = s.text_containing("#card-step", "ロックされています", 20).await?;
    ensure!(step.contains("市区町村の窓口") && step.contains("目視確認"), "the message says what to do: {step}");
    ensure!(step.contains("locked"), "English second: {step}");
    s.browser.screenshot("e2e-card-locked").await?;

    // Trying again with the locked card: refused at once, no VERIFY sent.
    let before = s.apdu_log()?.len();
    s.go("settings").await?;
    s.start_card_check(false).await?;
    s.text_containing("#card-step", "ロックされています", 20).await?;
    let log = s.apdu_log()?;
    let again = &log[before.min(log.len())..];
    ensure!(!again.is_empty(), "the second check read the card");
    // `00200080` alone asks the tries left; with `04` + 4 bytes it would send a PIN.
    ensure!(again.contains("\"00200080\""), "the tries were read: {again}");
    ensure!(!again.contains("0020008004"), "no PIN VERIFY to a locked card: {again}");
    Ok(())
}

async fn visual(s: &mut Stack) -> Result<()> {
    s.insert_card(PERSON, PIN, 3).await?;
    let before = s.apdu_log()?.len();
    s.start_card_check(true).await?;
    let (outcome, text) = s.result(30).await?;
    ensure!(outcome == "Valid", "visual check: {outcome}: {text}");
    s.browser.screenshot("e2e-card-visual").await?;
    let log = s.apdu_log()?;
    ensure!(!log[before..].contains("0020008004"), "the visual check sends no PIN VERIFY");
    // The next stories use PIN mode again.
    s.go("card").await?;
    s.click("#mode-pin").await
}

async fn pulled_out(s: &mut Stack) -> Result<()> {
    s.insert(CardSpec { pin: Some(PIN.into()), tries: Some(3), remove_after: Some(REMOVE_AFTER), ..CardSpec::person(PERSON) }).await?;
    s.start_card_check(false).await?;
    pin_window(s, "3").await?;
    s.type_pin(PIN).await?;
    s.back_to_page().await?;
    let step = s.text_containing("#card-step", "カードが外されました", 30).await?;
    ensure!(step.contains("もう一度お試しください") && step.contains("removed"), "{step}");
    s.browser.screenshot("e2e-card-removed").await?;
    let log = s.apdu_log()?;
    ensure!(log.contains(r#""event":"removed""#), "the card left the reader by its fault option");

    // The page stays usable: a card back on the reader, the check works.
    s.insert_card(PERSON, PIN, 3).await?;
    s.start_card_check(false).await?;
    pin_window(s, "3").await?;
    s.type_pin(PIN).await?;
    expect_valid(s, "e2e-card-result-after-removal").await
}

/// Whether `pin` occurs in `hay` as a number of its own (not inside a longer
/// run of digits such as a timestamp's nanoseconds, which would make this
/// search fail by chance).
fn holds_pin(hay: &[u8], pin: &str) -> bool {
    let pin = pin.as_bytes();
    hay.windows(pin.len()).enumerate().any(|(i, w)| {
        w == pin
            && !(i > 0 && hay[i - 1].is_ascii_digit())
            && !hay.get(i + pin.len()).is_some_and(u8::is_ascii_digit)
    })
}

async fn secrets(s: &mut Stack) -> Result<()> {
    s.remove_card().await?;
    let log = s.apdu_log()?;
    ensure!(log.contains("00A4040C0AD392F000260100000001"), "the JPKI applet was selected (the log is the real one)");
    ensure!(log.contains("0020008004********"), "VERIFY is logged masked");
    for aid in FORBIDDEN_HEX {
        ensure!(!log.contains(aid), "forbidden applet {aid} appears in the APDU log");
    }
    ensure!(!log.contains(PIN_HEX) && !holds_pin(log.as_bytes(), PIN), "the PIN appears in the APDU log");

    s.browser.client.switch_to_window(s.page.clone()).await?;
    let dom = s.browser.client.source().await?;
    ensure!(dom.contains("result-banner"), "the DOM searched is the page's");
    ensure!(!holds_pin(dom.as_bytes(), PIN), "the PIN is in the page DOM");
    let console = s.browser.browser_log().await?;
    let console = serde_json::to_string(&console)?;
    ensure!(!holds_pin(console.as_bytes(), PIN), "the PIN is in the browser console: {console}");
    let helper = s.helper_log()?;
    ensure!(!holds_pin(helper.as_bytes(), PIN), "the PIN is in the helper log");
    let store = s.store_bytes()?;
    ensure!(store.len() > 4096, "the store was written ({} bytes)", store.len());
    ensure!(!holds_pin(&store, PIN), "the PIN is in the helper's database");
    Ok(())
}

#[test]
fn holds_pin_ignores_longer_digit_runs() {
    assert!(holds_pin(b"pin=7395;", "7395"));
    assert!(holds_pin(b"7395", "7395"));
    assert!(!holds_pin(b"t=.173951", "7395"));
    assert!(!holds_pin(b"73950", "7395"));
}
