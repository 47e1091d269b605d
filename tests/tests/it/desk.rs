//! What the desk scenarios share, whatever the browser: the seeded
//! registry's search keys for each case (the simulator's own probe reader,
//! so the tests ask for exactly what the registry was seeded to answer), and
//! the receptionist's moves on the entry form, through the keyboard.

use std::path::Path;

use anyhow::{Context, Result};
use fantoccini::key::Key;
use fantoccini::Locator;
use onshi_core::message::SearchInfo;
use onshi_sim::registry::{probe_searches, Probes};
use onshi_tests::browser::Browser;
use onshi_tests::wait::until;

/// The first seeded probe of `case` (`valid`, `lost_death`, `no_match` …).
pub fn probe(registry: &Path, case: &str) -> Result<SearchInfo> {
    let conn = rusqlite::Connection::open(registry).with_context(|| format!("opening {}", registry.display()))?;
    let all = probe_searches(&conn, Probes::Tag(case))?;
    all.into_iter().next().with_context(|| format!("the seeded registry has no {case:?} probe"))
}

/// Clears a field and types `text` into it with the keyboard, as a person
/// would; waits until the field holds it (Yew re-renders between keys).
pub async fn type_into(b: &Browser, id: &str, text: &str) -> Result<()> {
    let css = format!("#{id}");
    let input = b.wait_for(&css).await?;
    input.click().await?;
    let (ctrl, release, backspace) = (char::from(Key::Control), char::from(Key::Null), char::from(Key::Backspace));
    input.send_keys(&format!("{ctrl}a{release}{backspace}")).await?;
    if !text.is_empty() {
        input.send_keys(text).await?;
    }
    until(&format!("{css} holds {text:?}"), 15, || async {
        let v = b.client.find(Locator::Css(&css)).await?.prop("value").await?.unwrap_or_default();
        Ok((v == text).then_some(()))
    })
    .await
}

/// Fills the entry form from a search key and presses 照会 (Enter).
pub async fn fill_entry(b: &Browser, s: &SearchInfo) -> Result<()> {
    let fields = [
        ("insurer-number", &s.insurer_number),
        ("card-symbol", &s.insured_card_symbol),
        ("card-number", &s.insured_identification_number),
        ("card-branch", &s.insured_branch_number),
        ("birth-date", &s.birthdate),
    ];
    for (id, value) in fields {
        type_into(b, id, value.as_deref().unwrap_or("")).await?;
    }
    b.wait_for("#entry-submit").await?.click().await?;
    Ok(())
}

/// The result banner's text once its `data-outcome` is `want` (an earlier
/// result may still be on screen while the new one comes).
pub async fn outcome(b: &Browser, want: &str, secs: u64) -> Result<String> {
    let r = until(&format!("the result banner says {want}"), secs, || async {
        let Ok(banner) = b.client.find(Locator::Css("#result-banner")).await else { return Ok(None) };
        let got = banner.attr("data-outcome").await?.unwrap_or_default();
        Ok((got == want).then_some(banner.text().await?))
    })
    .await;
    if r.is_err() {
        let shown = match b.client.find(Locator::Css("main#main")).await {
            Ok(m) => m.text().await.unwrap_or_default(),
            Err(_) => String::from("(no main)"),
        };
        return r.with_context(|| format!("the screen shows: {shown}"));
    }
    r
}
