//! Issue 2: the WebAssembly slice in real headless Chromium — the insurer
//! number field gives its verdict as the receptionist types.

use std::time::Duration;

use anyhow::Result;
use onshi_tests::browser::Browser;
use onshi_tests::web::WebHost;

/// Clears the field, types `text`, and returns (data-state, verdict text).
async fn type_insurer(b: &Browser, text: &str) -> Result<(String, String)> {
    let input = b.wait_for("#insurer-number").await?;
    input.clear().await?;
    input.send_keys(text).await?;
    // Yew re-renders on the input event; give it a frame.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let verdict = b.wait_for("#insurer-verdict").await?;
    let state = verdict.attr("data-state").await?.unwrap_or_default();
    Ok((state, verdict.text().await?))
}

#[tokio::test(flavor = "multi_thread")]
async fn insurer_number_verdict_follows_typing() -> Result<()> {
    let web = WebHost::start()?;
    let b = Browser::start().await?;
    b.client.goto(&web.url).await?;

    let (state, text) = type_insurer(&b, "39131156").await?;
    assert_eq!(state, "valid", "{text}");
    assert!(text.contains("形式は正しい") && text.contains("後期高齢者医療"), "{text}");
    assert!(text.contains("Well-formed insurer number"), "English line below: {text}");
    b.screenshot("insurer-valid").await?;

    let (state, text) = type_insurer(&b, "39131157").await?;
    assert_eq!(state, "invalid", "{text}");
    assert!(text.contains("検証番号") && text.contains("読み間違い"), "{text}");
    b.screenshot("insurer-invalid").await?;

    let (state, text) = type_insurer(&b, "3913").await?;
    assert_eq!(state, "incomplete", "{text}");
    assert!(text.contains("4桁"), "{text}");

    let (state, _) = type_insurer(&b, "138057").await?;
    assert_eq!(state, "valid", "6-digit national health insurance number");

    let (state, text) = type_insurer(&b, "３９１３１１５６").await?;
    assert_eq!(state, "valid", "full-width digits from the IME: {text}");

    let (state, text) = type_insurer(&b, "3913a156").await?;
    assert_eq!(state, "invalid", "{text}");
    assert!(text.contains("5文字目"), "{text}");

    b.close().await
}
