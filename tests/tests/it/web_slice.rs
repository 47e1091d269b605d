//! The reception page in real headless Chromium (issues 2 and 7): verdicts
//! as the receptionist types, the keyboard flow of the entry form, the
//! plain "no extension" message, and — with a stand-in for the extension
//! injected into the page — a result with its diff. Every screen is
//! photographed into docs/screenshots/.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use onshi_tests::browser::Browser;
use onshi_tests::web::WebHost;
use serde_json::json;

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const ALT: &str = "\u{E00A}";
const CTRL: &str = "\u{E009}";
const BACKSPACE: &str = "\u{E003}";
/// WebDriver: the NULL key releases held modifiers.
const RELEASE: &str = "\u{E000}";

const VALID_XML: &str = include_str!("../../../core-wasm/tests/fixtures/messages/OQSsiquc01res_202504010001.utf8.xml");

/// Saves a screenshot under target/screenshots/ and docs/screenshots/.
async fn shot(b: &Browser, name: &str) -> Result<()> {
    let path = b.screenshot(name).await?;
    let docs = onshi_tests::paths::workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&docs)?;
    std::fs::copy(&path, docs.join(format!("{name}.png")))?;
    Ok(())
}

async fn settle() {
    // Yew re-renders on the next animation frame; give it two.
    tokio::time::sleep(Duration::from_millis(120)).await;
}

/// Clears the field, types `text`, and returns (data-state, verdict text).
async fn type_into(b: &Browser, field: &str, text: &str) -> Result<(String, String)> {
    let input = b.wait_for(&format!("#{field}")).await?;
    // Clearing through the keyboard fires `input` like a person's Backspace
    // does, so the page's state follows; WebDriver's clear() would not, and a
    // late re-render could put the old value back under load.
    let field_css = format!("#{field}");
    for _ in 0..3 {
        input.click().await?;
        input.send_keys(&format!("{CTRL}a{RELEASE}{BACKSPACE}")).await?;
        if wait_value(b, &field_css, "").await.is_ok() {
            break;
        }
    }
    input.send_keys(text).await?;
    wait_value(b, &field_css, text).await?;
    settle().await;
    let verdict = b.wait_for(&format!("#{field}-verdict")).await?;
    let state = verdict.attr("data-state").await?.unwrap_or_default();
    Ok((state, verdict.text().await?))
}

async fn active_id(b: &Browser) -> Result<String> {
    let v = b.client.execute("return document.activeElement && document.activeElement.id", vec![]).await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

async fn text_of(b: &Browser, css: &str) -> Result<String> {
    Ok(b.wait_for(css).await?.text().await?)
}

/// Presses keys on whatever has the focus (as a person at the keyboard would).
async fn keys(b: &Browser, k: &str) -> Result<()> {
    b.client.active_element().await?.send_keys(k).await?;
    settle().await;
    Ok(())
}

/// Waits (up to 10 s) until the input's value is `want`.
async fn wait_value(b: &Browser, css: &str, want: &str) -> Result<()> {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(el) = b.client.find(fantoccini::Locator::Css(css)).await {
            last = el.prop("value").await.ok().flatten().unwrap_or_default();
            if last == want {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{css} holds {last:?}, not {want:?}")
}

/// Waits (up to 15 s: a loaded CI machine renders slowly) until `css` contains `piece`.
async fn wait_text(b: &Browser, css: &str, piece: &str) -> Result<String> {
    for _ in 0..150 {
        if let Ok(el) = b.client.find(fantoccini::Locator::Css(css)).await {
            let t = el.text().await.unwrap_or_default();
            if t.contains(piece) {
                return Ok(t);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{css} never contained {piece:?}: {:?}", text_of(b, css).await.ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn insurer_number_verdict_follows_typing() -> Result<()> {
    let web = WebHost::start()?;
    let b = Browser::start().await?;
    b.client.goto(&web.url).await?;

    let (state, text) = type_into(&b, "insurer-number", "39131156").await?;
    assert_eq!(state, "valid", "{text}");
    assert!(text.contains("形式は正しい") && text.contains("後期高齢者医療"), "{text}");
    assert!(text.contains("Well-formed insurer number"), "English beside it: {text}");

    let (state, text) = type_into(&b, "insurer-number", "39131157").await?;
    assert_eq!(state, "invalid", "{text}");
    assert!(text.contains("検証番号") && text.contains("読み間違い"), "{text}");
    shot(&b, "entry-insurer-invalid").await?;

    let (state, text) = type_into(&b, "insurer-number", "3913").await?;
    assert_eq!(state, "incomplete", "{text}");
    assert!(text.contains("4桁"), "{text}");

    let (state, _) = type_into(&b, "insurer-number", "138057").await?;
    assert_eq!(state, "valid", "6-digit national health insurance number");

    let (state, text) = type_into(&b, "insurer-number", "３９１３１１５６").await?;
    assert_eq!(state, "valid", "full-width digits from the IME: {text}");

    let (state, text) = type_into(&b, "insurer-number", "3913a156").await?;
    assert_eq!(state, "invalid", "{text}");
    assert!(text.contains("5文字目"), "{text}");

    // 和暦 and 西暦 birth dates, read by the core.
    for (typed, expected) in [("R1.5.1", "2019年5月1日"), ("令和元年5月1日", "2019年5月1日"), ("H2.3.4", "1990年3月4日"),
        ("19900304", "平成2年3月4日"), ("1990-03-04", "1990年3月4日")] {
        let (state, text) = type_into(&b, "birth-date", typed).await?;
        assert_eq!(state, "valid", "{typed}: {text}");
        assert!(text.contains(expected), "{typed}: {text}");
    }
    let (state, text) = type_into(&b, "birth-date", "H32.1.1").await?;
    assert_eq!(state, "invalid", "{text}");
    assert!(text.contains("令和2年1月1日"), "suggests the right era: {text}");

    b.close().await
}

/// Issue 7: tab order, Enter submits, Esc clears, focus lands in the first
/// field, and without the extension the page says plainly what is needed.
#[tokio::test(flavor = "multi_thread")]
async fn entry_form_keyboard_flow_without_extension() -> Result<()> {
    let web = WebHost::start()?;
    let b = Browser::start().await?;
    let started = std::time::Instant::now();
    b.client.goto(&web.url).await?;
    b.wait_for("#insurer-number").await?;
    let interactive = started.elapsed();
    assert_eq!(active_id(&b).await?, "insurer-number", "focus lands in the first field");
    eprintln!("navigation → interactive entry form: {} ms", interactive.as_millis());

    // Type the whole card with Tab between fields, as fast typists do.
    keys(&b, &format!("06132013{TAB}記号01{TAB}0012{TAB}01{TAB}S35.1.5")).await?;
    assert_eq!(active_id(&b).await?, "birth-date", "tab order: insurer, symbol, number, branch, birth");
    for (id, state) in [("insurer-number", "valid"), ("card-symbol", "valid"), ("card-number", "valid"), ("card-branch", "valid"), ("birth-date", "valid")] {
        let got = b.wait_for(&format!("#{id}-verdict")).await?.attr("data-state").await?.unwrap_or_default();
        assert_eq!(got, state, "{id}");
    }
    assert!(text_of(&b, "#birth-date-verdict").await?.contains("1960年1月5日（昭和35年1月5日）"));
    shot(&b, "entry-filled").await?;

    // Enter submits; no extension answers within 1 s → the plain message.
    keys(&b, ENTER).await?;
    let notice = wait_text(&b, "#entry-notice", "拡張機能とヘルパー").await?;
    assert!(notice.contains("Online checks need the browser extension"), "{notice}");
    let light = b.wait_for("#lamp-extension").await?.attr("data-light").await?;
    assert_eq!(light.as_deref(), Some("red"), "the status strip shows the missing extension");
    shot(&b, "entry-no-extension").await?;

    // Esc clears every field and puts the focus back at the start.
    keys(&b, ESCAPE).await?;
    for id in ["insurer-number", "card-symbol", "card-number", "card-branch", "birth-date"] {
        let v = b.wait_for(&format!("#{id}")).await?.prop("value").await?.unwrap_or_default();
        assert_eq!(v, "", "{id} cleared");
    }
    assert_eq!(active_id(&b).await?, "insurer-number");

    // Enter on an incomplete form marks the required fields instead of sending.
    keys(&b, &format!("39131156{ENTER}")).await?;
    wait_text(&b, "#entry-notice", "赤い欄").await?;
    let number = b.wait_for("#card-number-verdict").await?.attr("data-state").await?;
    assert_eq!(number.as_deref(), Some("invalid"), "empty required field turns red after submit");

    // Alt+digit switches screens; the settings page says what to do per link.
    keys(&b, &format!("{ALT}7{RELEASE}")).await?;
    let settings = wait_text(&b, "#main", "拡張機能").await?;
    assert!(settings.contains("拡張機能「Onshi」を入れて"), "{settings}");
    shot(&b, "settings-no-extension").await?;
    b.close().await
}

/// A stand-in for the extension's content script + helper: acks every
/// request and answers like a paired helper with a reader and a card. The
/// second insurance check returns a changed contribution ratio so the diff shows.
const FAKE_EXTENSION: &str = r#"
const xml = arguments[0];
let checks = 0;
window.__traffic = [];
window.addEventListener("message", (ev) => {
  const d = ev.data;
  // The last messages seen, for the test's failure report.
  window.__traffic.push(JSON.stringify(d).slice(0, 160));
  if (window.__traffic.length > 40) window.__traffic.shift();
  if (ev.source !== window || !d || d.onshi !== 1 || d.dir !== "to-helper") return;
  window.postMessage({ onshi: 1, dir: "ack", id: d.id }, location.origin);
  const t = d.body.type;
  let body;
  if (t === "hello") body = { type: "hello", protocol_version: 1, helper_version: "test", core_version: "test", paired: true };
  else if (t === "status") body = { type: "status", protocol_version: 1, helper_version: "test", core_version: "test", paired: true,
    backend: "gateway", readers: [{ name: "Virtual PCD 00 00", card_present: true }], pending_batches: 0 };
  else if (t === "today") body = { type: "today", entries: [] };
  else if (t === "pair_begin") body = { type: "pair_begin", pairing_id: "p1", code: "K7Q2", expires_in_s: 120 };
  else if (t === "insurance_confirm") {
    checks += 1;
    const doc = checks === 1 ? xml : xml.replace("<InsuredPartialContributionRatio>030", "<InsuredPartialContributionRatio>020")
      .replace("B04", "B03").replace("<InsurerName>", "<InsuredCardExpirationDate>" + soon() + "</InsuredCardExpirationDate><InsurerName>");
    body = { type: "insurance_confirm", xml: doc, summary: {} };
  } else if (t === "card_confirm") {
    window.postMessage({ onshi: 1, dir: "from-helper", id: d.id, reply: { v: 1, id: d.id, ok: false,
      error: { code: "no_card", message: { ja: "カードがリーダーに置かれていません。", en: "No card on the reader." }, retryable: true } } }, location.origin);
    return;
  } else {
    // Anything else (disaster_status, and whatever the page learns next) as
    // an older helper answers a request it does not know: the page hides the option.
    window.postMessage({ onshi: 1, dir: "from-helper", id: d.id, reply: { v: 1, id: d.id, ok: false,
      error: { code: "unsupported_request", message: { ja: "このヘルパーは対応していません。", en: "Not supported by this helper." }, retryable: false } } }, location.origin);
    return;
  }
  setTimeout(() => window.postMessage({ onshi: 1, dir: "from-helper", id: d.id, reply: { v: 1, id: d.id, ok: true, body } }, location.origin), 50);
});
function soon() {
  const d = new Date(Date.now() + 10 * 86400000);
  return d.getFullYear() + String(d.getMonth() + 1).padStart(2, "0") + String(d.getDate()).padStart(2, "0");
}
"#;

#[tokio::test(flavor = "multi_thread")]
async fn result_view_with_a_stand_in_extension() -> Result<()> {
    let web = WebHost::start()?;
    let b = Browser::start().await?;
    b.client.set_window_size(1280, 1500).await?;
    b.client.goto(&web.url).await?;
    b.wait_for("#insurer-number").await?;
    // Let the load-time hello fail first (no extension yet: no ack within
    // 1 s), as when the extension is installed after the page opened. A
    // stand-in injected earlier would race that late failure.
    for _ in 0..50 {
        if b.wait_for("#lamp-extension").await?.attr("data-light").await?.as_deref() == Some("red") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.client.execute(FAKE_EXTENSION, vec![json!(VALID_XML)]).await?;

    // "Check again" re-runs hello/status/today against the stand-in.
    b.wait_for("#nav-settings").await?.click().await?;
    b.wait_for("#recheck").await?.click().await?;
    // Up to 10 s: on a loaded 2-core machine 3 s was not always enough.
    for _ in 0..100 {
        if b.wait_for("#lamp-card").await?.attr("data-light").await?.as_deref() == Some("green") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for lamp in ["extension", "helper", "reader", "card"] {
        let l = b.wait_for(&format!("#lamp-{lamp}")).await?.attr("data-light").await?;
        assert_eq!(l.as_deref(), Some("green"), "{lamp}");
    }
    b.wait_for("#pair-start").await?.click().await?;
    wait_text(&b, "#pair-code", "K7Q2").await?;
    shot(&b, "settings").await?;

    // Submit the same person twice: the second result is compared with the first.
    for _ in 0..2 {
        b.wait_for("#nav-entry").await?.click().await?;
        b.wait_for("#insurer-number").await.context("entry form")?.click().await?;
        // Esc first: the form keeps what was typed for the previous patient.
        keys(&b, ESCAPE).await?;
        keys(&b, &format!("06132013{TAB}記号01{TAB}0012{TAB}01{TAB}S35.1.5{ENTER}")).await?;
        if let Err(e) = wait_text(&b, "#result-banner", "有効").await {
            let main = text_of(&b, "#main").await.unwrap_or_default();
            let route = b.wait_for("#main").await?.attr("data-route").await?;
            let _ = b.screenshot("web-slice-result-failure").await;
            let traffic = b.client.execute("return (window.__traffic || []).join('\\n')", vec![]).await?;
            eprintln!("page ↔ stand-in traffic:\n{}", traffic.as_str().unwrap_or_default());
            bail!("{e}; route {route:?}; screen: {main}");
        }
    }
    let banner = b.wait_for("#result-banner").await?;
    assert_eq!(banner.attr("data-outcome").await?.as_deref(), Some("Valid"));
    let diff = text_of(&b, "#result-diff").await?;
    assert!(diff.contains("本日の前回の結果"), "{diff}");
    assert!(diff.contains("負担割合") || diff.contains("割合"), "ratio change listed: {diff}");
    let changed = b.client.find_all(fantoccini::Locator::Css("tr.changed")).await?;
    assert!(changed.len() >= 2, "ratio and ceiling rows highlighted, got {}", changed.len());
    let page = text_of(&b, "#main").await?;
    assert!(page.contains("有効期限が近づいています"), "card expiring soon warning");
    assert!(page.contains("同意あり"), "consents shown");
    shot(&b, "result-diff").await?;

    // Today's desk lists both checks and searches by number.
    b.wait_for("#nav-desk").await?.click().await?;
    wait_text(&b, "#main", "髙橋").await?;
    shot(&b, "desk").await?;
    let search = b.wait_for("#desk-search").await?;
    search.send_keys("9999").await?;
    settle().await;
    assert!(!text_of(&b, "#main").await?.contains("髙橋"), "search filters rows");

    // The card screen: lamps, modes, consents; the stand-in has no card flow → a clear error.
    b.wait_for("#nav-card").await?.click().await?;
    b.wait_for("#consent-medication").await?.click().await?;
    shot(&b, "card").await?;
    b.wait_for("#card-start").await?.click().await?;
    wait_text(&b, "#card-step", "カードがリーダーに置かれていません").await?;

    // English on demand; the batch page and the history of the result on screen.
    b.wait_for("#lang-toggle").await?.click().await?;
    wait_text(&b, "#main", "Check with the My Number card").await?;
    shot(&b, "card-english").await?;
    b.wait_for("#lang-toggle").await?.click().await?;
    b.wait_for("#nav-batch").await?.click().await?;
    b.wait_for("#batch-file").await?;
    b.wait_for("#nav-history").await?.click().await?;
    b.wait_for("#history-title").await?;
    b.close().await
}
