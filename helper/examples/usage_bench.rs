//! Measures the `usage` statistics query (issue 16) on a year of a busy
//! clinic: 200 checks a day × 300 days = 60,000 results (a realistic mix of
//! card, face and numbers checks, plus batch rows that must be skipped) in a
//! real SQLite file, then the whole year's reply (SQL grouping + the core's
//! classification) many times. Budget: ≤ 200 ms. A measurement to print,
//! not a test with a threshold.
//!
//! `cargo run --release -p onshi-helper --example usage_bench [DAYS] [PER_DAY] [RUNS]`

use std::time::{Duration, Instant};

use onshi_core::protocol::{ConfirmMode, Consents, PresentedDocument};
use onshi_core::usage::UsageQuery;
use onshi_helper::store::{CardCheck, NewResult, ResultKind, ResultStatus, ResultXml, Store};
use onshi_helper::time::{Day, Timestamp};

/// A small stand-in for a result document: its size does not matter to a
/// query that reads only the index, and a real one would only slow seeding.
const XML: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader/><MessageBody/></XmlMsg>";

fn check(i: usize, at: Timestamp) -> NewResult {
    // Roughly the 2025-26 national mix: about 40 % card uses.
    let (kind, mode, document) = match i % 20 {
        0..=3 => (ResultKind::Face, None, None),
        4..=6 => (ResultKind::CardConfirm, Some(ConfirmMode::Pin), None),
        7 => (ResultKind::CardConfirm, Some(ConfirmMode::Visual), None),
        8..=12 => (ResultKind::InsuranceConfirm, None, Some(PresentedDocument::EligibilityCertificate)),
        13..=14 => (ResultKind::InsuranceConfirm, None, Some(PresentedDocument::EligibilityNotice)),
        15..=17 => (ResultKind::InsuranceConfirm, None, Some(PresentedDocument::InsuranceCard)),
        18 => (ResultKind::InsuranceConfirm, None, None),
        _ => (ResultKind::Batch, None, None),
    };
    NewResult {
        at,
        kind,
        origin: None,
        job: None,
        status: if i % 50 == 0 { ResultStatus::Invalid } else { ResultStatus::Valid },
        insurer_number: None,
        name_kana: None,
        error: None,
        card: mode.map(|mode| CardCheck { mode, consents: Consents::default() }),
        document,
        treatment: (kind != ResultKind::Batch).then_some(onshi_core::protocol::Treatment::Outpatient),
        xml: ResultXml::received(XML.to_vec()).expect("xml"),
    }
}

fn main() {
    let arg = |n: usize, default: usize| std::env::args().nth(n).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (days, per_day, runs) = (arg(1, 300), arg(2, 200), arg(3, 50));
    let dir = std::env::temp_dir().join(format!("onshi-usage-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let mut store = Store::open(&dir.join("bench.sqlite")).expect("open store");

    // 2026-01-05 09:00 JST; one day per 24 h, checks spread over the morning.
    let start = 1_767_571_200i64;
    let t = Instant::now();
    for d in 0..days {
        let rows: Vec<NewResult> = (0..per_day)
            .map(|i| check(d * per_day + i, Timestamp::from_unix(start + d as i64 * 86_400 + i as i64 * 60, 540).expect("time")))
            .collect();
        store.insert_results(&rows).expect("seed");
    }
    let (last, first) = (
        Timestamp::from_unix(start + (days as i64 - 1) * 86_400, 540).expect("time").day(),
        Timestamp::from_unix(start, 540).expect("time").day(),
    );
    println!("seeded {} results ({days} days × {per_day}) in {:?}", days * per_day, t.elapsed());

    let query = UsageQuery { from: first.as_str().replace('-', ""), to: last.as_str().replace('-', "") };
    let (from, to) = query.days().expect("range");
    let day = |d: onshi_core::wareki::Date| Day::parse(&format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())).expect("day");
    let (from, to) = (day(from), day(to));
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut reply = None;
    for _ in 0..runs {
        let t = Instant::now();
        reply = Some(store.usage(&query, &from, &to).expect("usage"));
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let reply = reply.expect("at least one run");
    let total = reply.total();
    println!(
        "usage {}..{}: {} days, {} months, {} checks counted, rate {}",
        query.from,
        query.to,
        reply.days.len(),
        reply.months.len(),
        total.total(),
        total.rate().percent_text()
    );
    println!("usage query: runs={runs} p50={:?} p99={:?} max={:?} (budget 200 ms)", pct(0.50), pct(0.99), times[times.len() - 1]);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
