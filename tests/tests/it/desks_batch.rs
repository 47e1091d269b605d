//! Issue 17, a batch polled exactly once across desks: two helper services
//! on one PostgreSQL store ([`onshi_tests::desks`]), a batch sent at desk A,
//! desk A SIGKILLed while it polls (the PC switched off), and desk B — once
//! A's lease has run out — takes the job over and finishes it. Afterwards
//! the job is `done`, its result row exists exactly once, the takeover is in
//! B's audit chain, a page at B reads the result, and `onshi-helper audit
//! verify` passes.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use onshi_tests::desks::{Hospital, HospitalOptions};
use serde_json::json;

/// Short leases so the takeover comes within seconds (the default is 60 s).
const LEASE_SECS: u64 = 3;

/// Polls `query` on the shared database until it returns `want`.
fn wait_sql(h: &Hospital, query: &str, want: &str, secs: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let got = h.sql(query)?;
        if got.trim() == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{query} gave {got:?}, not {want:?}, within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_batch_is_finished_by_another_desk_after_its_desk_is_killed() -> Result<()> {
    let mut opts = HospitalOptions::new("batch", 2);
    // Ready only well after A is gone and B has taken over.
    opts.batch_delay_ms = 9_000;
    opts.extra_toml = format!("[timeouts]\nbatch_lease_secs = {LEASE_SECS}\nbatch_poll_max_secs = 1\n");
    let mut h = Hospital::start(&opts)?;
    let people = h.insured(2)?;
    let (a_name, b_name) = (h.desks[0].name.clone(), h.desks[1].name.clone());
    let entries: Vec<_> = people.iter().map(|p| json!({ "insured": p })).collect();

    let mut a = h.desks[0].connect()?;
    let sent = a.ok(json!({ "type": "batch_submit", "confirmation_date": "20261126", "entries": entries }))?;
    let batch_id = sent["batch_id"].as_str().context("batch_submit names the batch")?.to_owned();
    let job: i64 = batch_id.strip_prefix("b-").and_then(|n| n.parse().ok()).context("batch id b-<n>")?;
    let row = |cols: &str| format!("SELECT {cols} FROM batch_jobs WHERE id = {job}");
    // Claimed by A at once; A polls it (and the result is not ready yet).
    ensure!(h.sql(&row("lease_owner"))?.trim() == a_name, "the submitting desk holds the job");
    wait_sql(&h, &row("state"), "polling", 20)?;
    // The PC is switched off mid-job.
    h.desks[0].kill()?;
    let killed = Instant::now();

    // B takes the job over once A's lease has run out, and finishes it.
    wait_sql(&h, &row("lease_owner"), &b_name, 30)?;
    ensure!(killed.elapsed() < Duration::from_secs(LEASE_SECS + 10), "the takeover took {:?}", killed.elapsed());
    wait_sql(&h, &row("state"), "done", 40)?;
    ensure!(h.sql(&row("total"))?.trim() == people.len().to_string(), "the counts: {}", h.sql(&row("total, succeeded, failed"))?);
    let results = h.sql(&format!("SELECT count(*), min(desk) FROM results WHERE job_id = {job}"))?;
    ensure!(results.trim() == format!("1|{b_name}"), "one result row, stored by B: {results}");
    let takeovers = h.sql("SELECT desk, actor FROM audit WHERE detail LIKE '%\"action\":\"takeover\"%'")?;
    ensure!(takeovers.trim() == format!("{b_name}|desk:{b_name}"), "one takeover, in B's chain: {takeovers}");

    // A page at B reads the result the lease holder stored.
    let mut b = h.desks[1].connect()?;
    let got = b.ok(json!({ "type": "batch_results", "batch_id": batch_id }))?;
    ensure!(got["total"] == people.len() as u64 && got["errors"] == 0, "{got}");
    // Still exactly one row after that look.
    ensure!(h.sql(&format!("SELECT count(*) FROM results WHERE job_id = {job}"))?.trim() == "1", "a second result row");

    let out = h.desks[1].cli(&["audit", "verify"])?;
    ensure!(out.status.success(), "audit verify at B: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok(())
}
