//! Issue 16: the 利用状況 screen counts what the desk really did. Through
//! the demo's real parts ([`onshi_tests::stack::Stack`]: the built page in
//! headless Chromium, the extension, the helper, the simulator's gateway,
//! pcscd with a virtual card): checks by numbers with each document named
//! on the entry form, a card check with the PIN and one by photo, then the
//! screen's per-method counts, total and マイナ保険証 rate must equal them.

use anyhow::{ensure, Result};
use fantoccini::Locator;
use onshi_tests::stack::Stack;
use onshi_tests::wait::{until, within};

use crate::desk;

const PERSON: &str = "P0001";
const PIN: &str = "7395";

#[tokio::test(flavor = "multi_thread")]
async fn e2e_usage_counts_match_real_checks() -> Result<()> {
    let mut s = within("start the whole stack", 120, Stack::start()).await?;
    let result = story(&mut s).await;
    s.finish(result, "e2e-usage-failure").await
}

/// A check by numbers from `document` for a seeded `case`; waits for its
/// result screen (the route moves from the entry form to the result).
async fn by_numbers(s: &Stack, document: &str, case: &str, outcome: &str) -> Result<()> {
    s.go("entry").await?;
    s.click(&format!("#doc-{document}")).await?;
    desk::fill_entry(&s.browser, &desk::probe(&s.paths.registry, case)?).await?;
    let b = &s.browser;
    until("the result screen", 30, || async {
        let main = b.client.find(Locator::Css("main#main")).await?;
        Ok((main.attr("data-route").await?.as_deref() == Some("result")).then_some(()))
    })
    .await?;
    desk::outcome(b, outcome, 30).await?;
    Ok(())
}

/// The 利用状況 month total row's cell for `method` (a `data-method`, or
/// `data-col` for `total` / `rate`).
async fn cell(s: &Stack, attr: &str, key: &str) -> Result<String> {
    let css = format!("#usage-days tfoot td[{attr}='{key}']");
    Ok(s.browser.client.find(Locator::Css(&css)).await?.text().await?.trim().to_owned())
}

async fn story(s: &mut Stack) -> Result<()> {
    within("pairing", 60, async { s.pair(true, None).await.map(|_| ()) }).await?;
    // Before anything: the screen answers, with nothing counted today.
    s.go("usage").await?;
    s.text_containing("#usage-rate", "0 / 0", 30).await?;

    within("checks by numbers, each document", 180, async {
        by_numbers(s, "eligibility_certificate", "valid", "Valid").await?;
        by_numbers(s, "eligibility_certificate", "lost_death", "Invalid").await?;
        by_numbers(s, "eligibility_notice", "valid", "Valid").await?;
        by_numbers(s, "insurance_card", "valid", "Valid").await
    })
    .await?;

    s.insert_card(PERSON, PIN, 3).await?;
    within("a card check with the PIN", 90, async {
        s.start_card_check(false).await?;
        s.text_containing("#card-step", "残り3回", 20).await?;
        s.open_extension_window("pin.html#").await?;
        s.type_pin(PIN).await?;
        s.back_to_page().await?;
        let (outcome, text) = s.result(30).await?;
        ensure!(outcome == "Valid", "PIN check: {outcome}: {text}");
        Ok(())
    })
    .await?;
    within("a card check by photo", 60, async {
        s.go("desk").await?;
        s.start_card_check(true).await?;
        until("the visual check's result", 30, || async {
            let main = s.browser.client.find(Locator::Css("main#main")).await?;
            Ok((main.attr("data-route").await?.as_deref() == Some("result")).then_some(()))
        })
        .await?;
        let (outcome, text) = s.result(30).await?;
        ensure!(outcome == "Valid", "visual check: {outcome}: {text}");
        Ok(())
    })
    .await?;

    // What was done: 2 card uses of 6 checks at the desk.
    s.go("usage").await?;
    let rate = s.text_containing("#usage-rate", "2 / 6", 30).await?;
    ensure!(rate.contains("33.3%"), "the rate, one decimal: {rate}");
    ensure!(rate.contains("件数ベース") && rate.contains("Count-based"), "the definition is said, ja then en: {rate}");
    let want = [
        ("card_pin", "1"),
        ("card_visual", "1"),
        ("face", "0"),
        ("eligibility_certificate", "2"),
        ("eligibility_notice", "1"),
        ("insurance_card", "1"),
        ("numbers_unrecorded", "0"),
    ];
    for (method, n) in want {
        let got = cell(s, "data-method", method).await?;
        ensure!(got == n, "{method}: the screen says {got}, {n} were done");
    }
    ensure!(cell(s, "data-col", "total").await? == "6", "total");
    // Today's bar has a segment per method used, drawn as SVG elements.
    let b = &s.browser.client;
    let segs = b.find_all(Locator::Css("#usage-chart g.day rect.seg")).await?;
    ensure!(segs.len() == 5, "five methods used today, five segments: {}", segs.len());
    let months = b.find(Locator::Css("#usage-months tbody tr:first-child td[data-col='rate']")).await?.text().await?;
    ensure!(months.trim() == "33.3%", "the month table's rate: {months}");
    ensure!(b.find(Locator::Css("#usage-csv")).await?.is_enabled().await?, "CSV can be saved");
    s.browser.screenshot("e2e-usage").await?;
    s.click("#lang-toggle").await?;
    s.text_containing("#usage-title", "Usage", 10).await?;
    s.browser.screenshot("e2e-usage-en").await?;
    s.click("#lang-toggle").await?;
    Ok(())
}
