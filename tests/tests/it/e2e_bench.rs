//! `cargo xtask bench e2e` (issue 8, "Performance"): in headless Chromium
//! with the whole stack ([`Stack`]), click → result rendered for a card check
//! with the virtual card, 50 runs in PIN mode and 50 in visual mode, split
//! into page, extension, helper, card and network time; then a
//! 10,000-patient batch end to end (CSV upload → results shown).
//! Ignored in normal runs: it measures, it does not check.
//!
//! How the split is taken (all times from one clock, `performance.timeOrigin
//! + performance.now()`, shared by the page and the extension's PIN window):
//! - a hook in the page notes when the page posts `card_confirm`, when the
//!   reply comes back (with the helper's `timing`, if this helper sends it),
//!   when the `pin_needed` event arrives, and when the result banner is in
//!   the DOM and painted (the next animation frame);
//! - PIN mode: the person's time (from `pin_needed` to pressing 確定) is not
//!   the system's, so "click → result" = (click → `pin_needed` at the page) +
//!   (確定 → result painted). The helper restarts its stopwatch at the
//!   `pin_entry`, so its `timing` covers the part after 確定;
//!   extension = (確定 → reply at the page) − helper total;
//!   page = (click → post) + (reply → painted); "pre-PIN" = post →
//!   `pin_needed` at the page (extension + helper + the card's tries read).
//! - visual mode: round trip = post → reply; extension = round trip − helper
//!   total; page = total − round trip.

use std::cell::Cell;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use onshi_tests::browser::TempDir;
use onshi_tests::stack::Stack;
use onshi_tests::wait::{until, within};
use serde_json::Value;

const PIN: &str = "7395";
const RUNS: usize = 50;

/// Installed once in the page (navigation between screens keeps it).
const HOOK: &str = r##"
if (!window.__bench) {
  const epoch = () => performance.timeOrigin + performance.now();
  const b = window.__bench = { epoch, posts: {}, replies: {}, pin: null, t1: null, dom: null, armed: false };
  const orig = window.postMessage;
  window.postMessage = function (msg, ...rest) {
    if (msg && msg.onshi === 1 && msg.dir === "to-helper" && msg.body) b.posts[msg.id] = { t: epoch(), type: msg.body.type };
    return orig.call(window, msg, ...rest);
  };
  addEventListener("message", (e) => {
    const m = e.data;
    if (e.source !== window || !m || m.onshi !== 1) return;
    if (m.dir === "from-helper" && b.posts[m.id]) {
      const body = m.reply && m.reply.body;
      b.replies[m.id] = { t: epoch(), ok: !!(m.reply && m.reply.ok), timing: (body && body.timing) || null };
    }
    if (m.dir === "event" && m.event && m.event.type === "pin_needed" && b.pin === null) b.pin = epoch();
  }, true);
  new MutationObserver(() => {
    if (b.armed && document.querySelector("#result-banner")) {
      b.armed = false;
      b.dom = epoch();
      requestAnimationFrame(() => { b.t1 = epoch(); });
    }
  }).observe(document.body, { childList: true, subtree: true });
}
return true;"##;

const START: &str = r##"
const b = window.__bench;
Object.assign(b, { posts: {}, replies: {}, pin: null, t1: null, dom: null, armed: true });
const t0 = b.epoch();
document.querySelector("#card-start").click();
return t0;"##;

/// In the PIN window: the digits, then 確定; returns when 確定 was pressed.
const TYPE_PIN: &str = r##"
for (const d of arguments[0]) document.querySelector(`#keypad button[data-d="${d}"]`).click();
const t = performance.timeOrigin + performance.now();
document.querySelector("#ok").click();
return t;"##;

#[derive(Default)]
struct Split {
    total: Vec<f64>,
    page: Vec<f64>,
    extension: Vec<f64>,
    helper: Vec<f64>,
    card: Vec<f64>,
    network: Vec<f64>,
    pre_pin: Vec<f64>,
}

fn pct(v: &[f64], p: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    Some(v[((v.len() as f64 - 1.0) * p).round() as usize])
}

fn show(v: &[f64]) -> String {
    match (pct(v, 0.5), pct(v, 0.99)) {
        (Some(a), Some(b)) => format!("p50 {a:.1} ms, p99 {b:.1} ms"),
        _ => "n/a (the helper's reply has no `timing`)".into(),
    }
}

fn json_pair(v: &[f64]) -> String {
    match (pct(v, 0.5), pct(v, 0.99)) {
        (Some(a), Some(b)) => format!("[{a:.1},{b:.1}]"),
        _ => "null".into(),
    }
}

impl Split {
    fn print(&self, mode: &str) {
        println!("e2e bench, card check ({mode} mode), {} runs, click → result painted:", self.total.len());
        println!("  total      {}", show(&self.total));
        println!("  page       {}", show(&self.page));
        println!("  extension  {}", show(&self.extension));
        println!("  helper     {}", show(&self.helper));
        println!("  card       {}", show(&self.card));
        println!("  network    {}", show(&self.network));
        if !self.pre_pin.is_empty() {
            println!("  pre-PIN    {} (post → pin_needed at the page: extension + helper + tries read)", show(&self.pre_pin));
        }
        println!(
            "e2e-bench {{\"mode\":\"{mode}\",\"runs\":{},\"total\":{},\"page\":{},\"extension\":{},\"helper\":{},\"card\":{},\"network\":{},\"pre_pin\":{}}}",
            self.total.len(),
            json_pair(&self.total),
            json_pair(&self.page),
            json_pair(&self.extension),
            json_pair(&self.helper),
            json_pair(&self.card),
            json_pair(&self.network),
            json_pair(&self.pre_pin),
        );
    }

    /// Adds the helper's own split when its reply carries `timing`; returns its total.
    fn add_timing(&mut self, timing: &Value) -> Option<f64> {
        let f = |k: &str| timing[k].as_f64();
        let (card, network, helper, total) = (f("card_ms")?, f("network_ms")?, f("helper_ms")?, f("total_ms")?);
        self.card.push(card);
        self.network.push(network);
        self.helper.push(helper);
        Some(total)
    }
}

fn num(v: &Value, k: &str) -> Result<f64> {
    v[k].as_f64().with_context(|| format!("no {k} in {v}"))
}

/// The `card_confirm` post and its reply from the hook's notes.
fn confirm_of(b: &Value) -> Result<(f64, Value)> {
    let posts = b["posts"].as_object().context("posts")?;
    let (id, post) = posts.iter().find(|(_, p)| p["type"] == "card_confirm").with_context(|| format!("no card_confirm posted: {b}"))?;
    let reply = b["replies"][id].clone();
    if reply.is_null() {
        bail!("no reply to card_confirm: {b}");
    }
    if reply["ok"] != true {
        bail!("card_confirm failed: {b}");
    }
    Ok((num(post, "t")?, reply))
}

async fn finished(s: &Stack) -> Result<Value> {
    s.browser.client.switch_to_window(s.page.clone()).await?;
    until("the result is painted", 30, || async {
        let b = s.browser.client.execute("return window.__bench", vec![]).await?;
        Ok((!b["t1"].is_null()).then_some(b))
    })
    .await
}

async fn pin_run(s: &Stack, split: &mut Split) -> Result<()> {
    s.go("card").await?;
    let t0 = s.browser.client.execute(START, vec![]).await?.as_f64().context("t0")?;
    s.open_extension_window("pin.html#").await?;
    s.text("#tries").await?;
    let t_ok = s.browser.client.execute(TYPE_PIN, vec![Value::from(PIN)]).await?.as_f64().context("t_ok")?;
    let b = finished(s).await?;
    s.back_to_page().await?;
    let (t_post, reply) = confirm_of(&b)?;
    let (t_pin, t1, t_reply) = (num(&b, "pin")?, num(&b, "t1")?, num(&reply, "t")?);
    split.total.push((t_pin - t0) + (t1 - t_ok));
    split.page.push((t_post - t0) + (t1 - t_reply));
    split.pre_pin.push(t_pin - t_post);
    if let Some(total) = split.add_timing(&reply["timing"]) {
        split.extension.push((t_reply - t_ok) - total);
    }
    Ok(())
}

async fn visual_run(s: &Stack, split: &mut Split) -> Result<()> {
    s.go("card").await?;
    let t0 = s.browser.client.execute(START, vec![]).await?.as_f64().context("t0")?;
    let b = finished(s).await?;
    let (t_post, reply) = confirm_of(&b)?;
    let (t1, t_reply) = (num(&b, "t1")?, num(&reply, "t")?);
    split.total.push(t1 - t0);
    split.page.push((t1 - t0) - (t_reply - t_post));
    if let Some(total) = split.add_timing(&reply["timing"]) {
        split.extension.push((t_reply - t_post) - total);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "benchmark: run with `cargo xtask bench e2e`"]
async fn e2e_bench() -> Result<()> {
    let mut s = within("start the whole stack", 120, Stack::start()).await?;
    let r = bench(&mut s).await;
    if r.is_err() {
        let _ = s.browser.screenshot("e2e-bench-failure").await;
    }
    s.stop().await?;
    r
}

async fn bench(s: &mut Stack) -> Result<()> {
    s.pair(true, None).await?;
    // Enough tries that nothing here can lock the card.
    s.insert_card("P0001", PIN, 15).await?;
    s.browser.client.execute(HOOK, vec![]).await?;

    // One unmeasured run each to warm up (first TLS session, wasm paths).
    pin_run(s, &mut Split::default()).await?;
    let mut pin = Split::default();
    for i in 0..RUNS {
        within(&format!("PIN-mode run {i}"), 60, pin_run(s, &mut pin)).await?;
    }
    pin.print("pin");

    s.go("card").await?;
    s.click("#mode-visual").await?;
    // The visual check fails today (see e2e_card::e2e_card_visual_check);
    // the bench says so and goes on to the batch.
    match within("visual-mode warm-up", 60, visual_run(s, &mut Split::default())).await {
        Ok(()) => {
            let mut visual = Split::default();
            for i in 0..RUNS {
                within(&format!("visual-mode run {i}"), 60, visual_run(s, &mut visual)).await?;
            }
            visual.print("visual");
        }
        Err(e) => println!("e2e bench, card check (visual mode): not measured, the check fails: {e:#}"),
    }

    within("10,000-patient batch", 600, batch(s, 10_000)).await
}

/// A CSV of `n` appointments with well-formed numbers (most find nobody in
/// the registry, which is a result like any other).
fn batch_csv(n: usize) -> String {
    let mut csv = String::from("保険者番号,記号,番号,枝番,生年月日,氏名,予約日,患者ID\r\n");
    for i in 0..n {
        csv.push_str(&format!("39131156,,{},,1960-01-05,試験 {i},2025/4/2,P{i:05}\r\n", 10_000_000 + i));
    }
    csv
}

async fn batch(s: &Stack, n: usize) -> Result<()> {
    let dir = TempDir::new("onshi-e2e-batch")?;
    let path = dir.0.join("appointments.csv");
    std::fs::write(&path, batch_csv(n))?;
    s.go("batch").await?;
    s.browser.wait_for("#batch-file").await?.send_keys(&path.display().to_string()).await?;
    let rows = n.to_string();
    until("the CSV is read", 60, || async {
        let r = s.browser.wait_for("#batch-report").await?.attr("data-rows").await?;
        Ok((r.as_deref() == Some(rows.as_str())).then_some(()))
    })
    .await?;
    let start = Instant::now();
    s.click("#batch-submit").await?;
    let submitted_at = Cell::new(None);
    let outcome = until("the batch results are shown (or refused)", 540, || async {
        let c = &s.browser.client;
        if submitted_at.get().is_none() && c.find(fantoccini::Locator::Css("#batch-progress")).await.is_ok() {
            submitted_at.set(Some(start.elapsed()));
        }
        if let Ok(e) = c.find(fantoccini::Locator::Css("#page-error, #batch-refused, #batch-results-error")).await {
            return Ok(Some(Err(e.text().await?)));
        }
        let total = match c.find(fantoccini::Locator::Css("#batch-results")).await {
            Ok(e) => e.attr("data-total").await?.unwrap_or_default(),
            Err(_) => String::new(),
        };
        Ok((total == rows).then_some(Ok(start.elapsed())))
    })
    .await?;
    match outcome {
        Ok(total) => {
            println!(
                "e2e bench, {n}-patient batch: upload → results shown {:.1} s (progress shown after {:.1} s)",
                total.as_secs_f64(),
                submitted_at.get().unwrap_or_default().as_secs_f64()
            );
            println!("e2e-bench {{\"batch\":{n},\"upload_to_results_s\":{:.1}}}", total.as_secs_f64());
        }
        Err(text) => {
            s.browser.screenshot("e2e-bench-batch-refused").await?;
            println!(
                "e2e bench, {n}-patient batch: refused after {:.1} s: {}",
                start.elapsed().as_secs_f64(),
                text.replace('\n', " / ")
            );
            println!("e2e-bench {{\"batch\":{n},\"refused\":true}}");
        }
    }
    Ok(())
}
