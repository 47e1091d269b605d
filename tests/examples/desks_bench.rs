//! Many desks, one hospital (issue 17), measured: N desk helpers (separate
//! `onshi-helper service` processes) on one PostgreSQL, against the
//! simulated gateway, each with one receptionist checking patients by their
//! numbers for D seconds at a steady offered rate (R checks per second in
//! all, spread evenly over the desks; a desk that falls behind sends its
//! next check as soon as the last is answered, so an overloaded system shows
//! as a lower answered rate, not as an ever longer queue). Printed:
//!
//! - sustained checks per second across all desks;
//! - the helper's own share of each check (`timing.total_ms −
//!   timing.network_ms` from the reply: parsing, the store, the audit chain),
//!   p50/p99;
//! - the time for a result to appear at another desk: from the checking
//!   desk's reply to the `today_added` event at each other desk, p50/p99;
//! - lost or doubled rows: every answered check is one row in the shared
//!   `results` table, and every other desk heard of it exactly once.
//!
//! Then the same load on one desk with its SQLite file (no server), the
//! single-PC default, for comparison. Measurements to print, not a test.
//!
//! `cargo build --release -p onshi-helper -p onshi-sim --bins`, then
//! `cargo run --release -p onshi-tests --example desks_bench -- --bins target/release [DESKS] [SECONDS] [RATE]`
//! (`cargo xtask bench desks` does both: 20 desks, 20 s, 200 checks/s offered).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context as _, Result};
use onshi_tests::desks::{Hospital, HospitalOptions, Link};
use serde_json::{json, Value};

/// What one desk's receptionist saw.
struct DeskRun {
    /// (entry_id, reply arrival, request sent) of each answered check.
    made: Vec<(String, Instant, Instant)>,
    /// The helper's own share of each check, ms.
    helper_ms: Vec<f64>,
    /// Whole round trips, ms.
    round_ms: Vec<f64>,
    /// Other desks' checks heard: entry_id → arrival times (once each, we hope).
    heard: HashMap<String, Vec<Instant>>,
    failed: Vec<String>,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// Keeps only what the figures need of the events that came in.
fn note_events(link: &mut Link, own: &str, heard: &mut HashMap<String, Vec<Instant>>) {
    for (at, e) in link.events.drain(..) {
        if e["type"] == "today_added" && e["entry"]["desk"] != own {
            if let Some(id) = e["entry"]["entry_id"].as_str() {
                heard.entry(id.to_owned()).or_default().push(at);
            }
        }
    }
}

/// One desk's receptionist: a check every `every`, from `first` on.
fn run_desk(mut link: Link, own: String, people: Vec<Value>, start: usize, first: Instant, every: Duration, until: Instant) -> DeskRun {
    let mut r = DeskRun { made: Vec::new(), helper_ms: Vec::new(), round_ms: Vec::new(), heard: HashMap::new(), failed: Vec::new() };
    let mut i = start;
    let mut next = first;
    while next < until {
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        next += every;
        let person = people[i % people.len()].clone();
        i += 1;
        let t = Instant::now();
        match link.ask(json!({ "type": "insurance_confirm", "insured": person })) {
            Ok(reply) if reply["ok"] == true => {
                let done = Instant::now();
                let b = &reply["body"];
                r.round_ms.push(done.duration_since(t).as_secs_f64() * 1000.0);
                if let (Some(total), Some(net)) = (b["timing"]["total_ms"].as_f64(), b["timing"]["network_ms"].as_f64()) {
                    r.helper_ms.push(total - net);
                }
                match b["entry_id"].as_str() {
                    Some(id) => r.made.push((id.to_owned(), done, t)),
                    None => r.failed.push(format!("no entry_id: {b}")),
                }
            }
            Ok(reply) => r.failed.push(reply.to_string()),
            Err(e) => r.failed.push(e.to_string()),
        }
        note_events(&mut link, &own, &mut r.heard);
    }
    // Late events: the other desks' last checks.
    link.collect(Duration::from_secs(2));
    note_events(&mut link, &own, &mut r.heard);
    r
}

/// Runs the load on every desk of `h` for `secs`; prints and returns nothing
/// but the figures (and an error when rows were lost or doubled).
fn measure(h: &Hospital, label: &str, secs: u64, rate: f64) -> Result<()> {
    let people = h.insured(400)?;
    let links: Vec<(Link, String)> = h.desks.iter().map(|d| Ok((d.connect()?, d.name.clone()))).collect::<Result<_>>()?;
    // Warm-up: one check per desk (TLS sessions, prepared statements).
    let mut warm = Vec::new();
    for (mut l, name) in links {
        l.ok(json!({ "type": "insurance_confirm", "insured": people[0] }))?;
        warm.push((l, name));
    }
    std::thread::sleep(Duration::from_millis(500));
    let t0 = Instant::now();
    let until = t0 + Duration::from_secs(secs);
    let n = warm.len();
    let every = Duration::from_secs_f64(n as f64 / rate);
    let runs: Vec<DeskRun> = std::thread::scope(|s| {
        let handles: Vec<_> = warm
            .into_iter()
            .enumerate()
            .map(|(k, (mut l, name))| {
                l.events.clear();
                let people = people.clone();
                // Desks start staggered, so the offered load is even.
                let first = t0 + every.mul_f64(k as f64 / n as f64);
                s.spawn(move || run_desk(l, name, people, k * 17, first, every, until))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("a desk thread panicked")).collect()
    });
    // Up to the last answer (not the wait for late events after it).
    let last = runs.iter().flat_map(|r| r.made.iter().map(|m| m.1)).max().unwrap_or(t0);
    let elapsed = last.duration_since(t0).as_secs_f64().max(secs as f64);
    let checks: usize = runs.iter().map(|r| r.made.len()).sum();
    let failed: Vec<&String> = runs.iter().flat_map(|r| &r.failed).collect();
    let mut helper: Vec<f64> = runs.iter().flat_map(|r| r.helper_ms.iter().copied()).collect();
    let mut round: Vec<f64> = runs.iter().flat_map(|r| r.round_ms.iter().copied()).collect();

    // Cross-desk appearance, and exactly-once at every other desk.
    let made: HashMap<&str, (usize, Instant, Instant)> =
        runs.iter().enumerate().flat_map(|(k, r)| r.made.iter().map(move |(id, at, sent)| (id.as_str(), (k, *at, *sent)))).collect();
    // From the checking desk's reply (0 when the other desk heard first),
    // and from the moment the check was sent (the gateway's time included).
    let (mut appear, mut from_sent, mut before_reply) = (Vec::new(), Vec::new(), 0usize);
    let (mut missing, mut doubled) = (0usize, 0usize);
    for (k, r) in runs.iter().enumerate() {
        for (id, (maker, done, sent)) in &made {
            if *maker == k {
                continue;
            }
            let at = match r.heard.get(*id).map(Vec::as_slice) {
                None | Some([]) => {
                    missing += 1;
                    continue;
                }
                Some([at]) => *at,
                Some([at, ..]) => {
                    doubled += 1;
                    *at
                }
            };
            before_reply += usize::from(at < *done);
            appear.push(at.saturating_duration_since(*done).as_secs_f64() * 1000.0);
            from_sent.push(at.saturating_duration_since(*sent).as_secs_f64() * 1000.0);
        }
    }
    let deliveries = appear.len();
    let rows = match &h.cluster {
        Some(_) => {
            let text = h.sql("SELECT count(*), count(DISTINCT id) FROM results WHERE kind = 'insurance_confirm'")?;
            let (all, distinct) = text.split_once('|').context("count row")?;
            let (all, distinct): (usize, usize) = (all.trim().parse()?, distinct.trim().parse()?);
            // The warm-up's one check per desk is in the table too.
            let want = checks + h.desks.len();
            format!("{all} rows for {want} answered checks ({} lost, {} doubled)", want.saturating_sub(all), all - distinct)
        }
        None => "rows: in the desk's own SQLite file".into(),
    };
    println!("── {label}: {} desk(s), {secs} s, {rate:.0} checks/s offered ──", h.desks.len());
    println!("  checks answered      {checks} ({:.1} checks/s in total), {} failed", checks as f64 / elapsed, failed.len());
    println!("  round trip           p50 {:.1} ms  p99 {:.1} ms", pct(&mut round, 0.5), pct(&mut round, 0.99));
    println!("  helper's own share   p50 {:.2} ms  p99 {:.2} ms", pct(&mut helper, 0.5), pct(&mut helper, 0.99));
    if h.desks.len() > 1 {
        println!(
            "  at another desk      after the reply: p50 {:.1} ms  p99 {:.1} ms ({before_reply} of {deliveries} heard before the checking desk's reply)",
            pct(&mut appear, 0.5),
            pct(&mut appear, 0.99),
        );
        println!(
            "                       after sending:   p50 {:.1} ms  p99 {:.1} ms  ({missing} missing, {doubled} doubled)",
            pct(&mut from_sent, 0.5),
            pct(&mut from_sent, 0.99),
        );
    }
    println!("  {rows}");
    for f in failed.iter().take(3) {
        println!("  failure: {}", f.chars().take(300).collect::<String>());
    }
    ensure!(missing == 0 && doubled == 0, "{missing} deliveries missing, {doubled} doubled");
    Ok(())
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut bins, mut rest) = (None, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bins" => bins = Some(PathBuf::from(args.next().context("--bins needs a folder")?)),
            _ => rest.push(a),
        }
    }
    let desks: usize = rest.first().map(|s| s.parse()).transpose()?.unwrap_or(20);
    let secs: u64 = rest.get(1).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let rate: f64 = rest.get(2).map(|s| s.parse()).transpose()?.unwrap_or(200.0);
    let bins = bins.map(|b| if b.is_absolute() { b } else { onshi_tests::paths::workspace_root().join(b) });

    let mut opts = HospitalOptions::new("bench", desks);
    opts.bins = bins.clone();
    let h = Hospital::start(&opts)?;
    let shared = measure(&h, "shared PostgreSQL", secs, rate);
    drop(h);

    let mut single = HospitalOptions::new("bench-sqlite", 1);
    single.shared = false;
    single.bins = bins;
    let h = Hospital::start(&single)?;
    measure(&h, "one desk, its own SQLite file", secs, rate)?;
    shared
}
