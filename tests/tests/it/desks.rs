//! Issue 17, many desks on one shared PostgreSQL store: two helper services
//! (two reception PCs) on one database, reached over their sockets the way
//! their native hosts reach them ([`onshi_tests::desks`]).
//!
//! - a check by numbers at desk A arrives at desk B as a `today_added`
//!   event naming desk A, and B's `today` lists it; B's check arrives at A;
//! - `onshi-helper audit verify` passes at both desks, then, after one
//!   line of B's chain is changed in the database (as someone with database
//!   access could), it fails and names desk B — and only desk B.

use std::time::Duration;

use anyhow::{ensure, Context as _, Result};
use onshi_tests::desks::{Hospital, HospitalOptions};
use serde_json::json;

fn entry_ids(today: &serde_json::Value) -> Vec<(String, String)> {
    today["entries"]
        .as_array()
        .map(|es| {
            es.iter()
                .map(|e| (e["entry_id"].as_str().unwrap_or("").to_owned(), e["desk"].as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_check_at_one_desk_appears_at_the_other_and_a_tampered_chain_is_named() -> Result<()> {
    let h = Hospital::start(&HospitalOptions::new("live", 2))?;
    let people = h.insured(2)?;
    let (da, db) = (&h.desks[0], &h.desks[1]);
    let (mut a, mut b) = (da.connect()?, db.connect()?);

    let checked = a.ok(json!({ "type": "insurance_confirm", "insured": people[0] }))?;
    let id = checked["entry_id"].as_str().context("the reply names the stored entry")?.to_owned();
    ensure!(checked["timing"]["total_ms"].as_f64().is_some(), "insurance_confirm carries its timing: {checked}");
    let (_, ev) = b.wait_event(Duration::from_secs(5), |e| e["type"] == "today_added" && e["entry"]["entry_id"] == id.as_str())?;
    ensure!(ev["entry"]["desk"] == da.name.as_str(), "the event names desk A: {ev}");
    ensure!(ev["entry"]["kind"] == "insurance", "{ev}");
    // Desk A's own pages hear of it too (another tab at the same desk).
    a.wait_event(Duration::from_secs(5), |e| e["type"] == "today_added" && e["entry"]["entry_id"] == id.as_str())?;
    let listed = entry_ids(&b.ok(json!({ "type": "today" }))?);
    ensure!(listed.contains(&(id.clone(), da.name.clone())), "B's today lists A's check with A's desk: {listed:?}");

    let other = b.ok(json!({ "type": "insurance_confirm", "insured": people[1] }))?;
    let id_b = other["entry_id"].as_str().context("entry_id")?.to_owned();
    let (_, ev) = a.wait_event(Duration::from_secs(5), |e| e["type"] == "today_added" && e["entry"]["entry_id"] == id_b.as_str())?;
    ensure!(ev["entry"]["desk"] == db.name.as_str(), "{ev}");
    // Each check was announced once at each desk.
    let again = |l: &onshi_tests::desks::Link, id: &str| l.events.iter().filter(|(_, e)| e["entry"]["entry_id"] == id).count();
    std::thread::sleep(Duration::from_millis(500));
    let _ = a.ok(json!({ "type": "status" }))?;
    let _ = b.ok(json!({ "type": "status" }))?;
    ensure!(again(&a, &id) == 0 && again(&a, &id_b) == 0 && again(&b, &id) == 0, "a check was announced twice");

    for d in &h.desks {
        let out = d.cli(&["audit", "verify"])?;
        ensure!(out.status.success(), "audit verify at {}: {}{}", d.name, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    }
    let rows = h.sql("SELECT desk, count(*) FROM audit GROUP BY desk ORDER BY desk")?;
    ensure!(rows.contains(&da.name) && rows.contains(&db.name), "one chain per desk: {rows}");

    // Someone with database access rewrites one line of desk B's chain.
    h.sql(&format!(
        "ALTER TABLE audit DISABLE TRIGGER audit_no_update; UPDATE audit SET outcome = 'ok', detail = '{{}}' WHERE desk = '{}' AND seq = (SELECT min(seq) FROM audit WHERE desk = '{}')",
        db.name, db.name
    ))?;
    let out = da.cli(&["audit", "verify"])?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    ensure!(!out.status.success(), "verify passed over a changed line: {text}");
    ensure!(text.contains(&format!("窓口「{}」", db.name)), "the broken desk is named: {text}");
    ensure!(!text.contains(&format!("窓口「{}」", da.name)), "the intact desk is not: {text}");
    Ok(())
}
