//! Issue 17, a down database: a desk's helper service on the shared
//! PostgreSQL store ([`onshi_tests::desks`]) checks patients by their
//! numbers before, during (`pg_ctl stop`) and after (restarted) an outage.
//!
//! - during it, each check still answers, its `entry_id` says it is kept on
//!   the PC (`q-…`), `today` lists the day (the rows read before and the
//!   queued ones) and `status` says `store.reachable = false` with the
//!   number queued;
//! - `onshi-helper doctor` names the number kept on the PC and what happens to them;
//! - the PC is switched off (SIGKILL) and on again mid-outage: its service
//!   starts without the server, keeps what was queued and queues more;
//! - once the server is back the service sends the queue by itself, and the
//!   shared database holds every result exactly once, in the order made,
//!   all by this desk; `onshi-helper audit verify` passes.

use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _, Result};
use onshi_tests::desks::{Hospital, HospitalOptions, Link};
use serde_json::{json, Value};

/// One check by numbers; its `entry_id`.
fn check(link: &mut Link, person: &Value) -> Result<String> {
    let reply = link.ok(json!({ "type": "insurance_confirm", "insured": person }))?;
    Ok(reply["entry_id"].as_str().context("the reply names the stored entry")?.to_owned())
}

fn store_status(link: &mut Link) -> Result<Value> {
    let status = link.ok(json!({ "type": "status" }))?;
    Ok(status["store"].clone())
}

#[test]
fn a_desk_checks_through_an_outage_and_the_database_gets_each_result_once_in_order() -> Result<()> {
    let h = Hospital::start(&HospitalOptions::new("outage", 1))?;
    let people = h.insured(7)?;
    let person = |i: usize| &people[i % people.len()];
    let mut link = h.desks[0].connect()?;

    let before: Vec<String> = (0..2).map(|i| check(&mut link, person(i))).collect::<Result<_>>()?;
    ensure!(before.iter().all(|id| id.starts_with("t-")), "{before:?}");
    ensure!(store_status(&mut link)? == json!({ "shared": true, "reachable": true, "queued": 0 }));
    let listed = link.ok(json!({ "type": "today" }))?["entries"].as_array().map_or(0, Vec::len);
    ensure!(listed == 2, "today before the outage: {listed}");

    h.stop_db()?;
    let during: Vec<String> = (2..5).map(|i| check(&mut link, person(i))).collect::<Result<_>>()?;
    ensure!(during.iter().all(|id| id.starts_with("q-")), "checks during the outage are kept on the PC: {during:?}");
    let store = store_status(&mut link)?;
    ensure!(store == json!({ "shared": true, "reachable": false, "queued": 3 }), "status during the outage: {store}");
    let today = link.ok(json!({ "type": "today" }))?;
    let ids: Vec<&str> = today["entries"].as_array().context("entries")?.iter().filter_map(|e| e["entry_id"].as_str()).collect();
    let expected: Vec<&str> = before.iter().chain(&during).map(String::as_str).collect();
    ensure!(ids == expected, "today during the outage lists the day: {ids:?}, expected {expected:?}");

    // `doctor` says the server is away, how many wait on this PC, and that they will be sent.
    let out = h.desks[0].cli(&["doctor"])?;
    let said = String::from_utf8_lossy(&out.stdout);
    ensure!(
        said.lines().any(|l| l.contains("[store]") && l.contains("未送信の結果が 3 件")) && said.contains("sends them automatically"),
        "doctor during the outage:\n{said}"
    );

    // The PC goes off and on while the server is still away.
    drop(link);
    let mut h = h;
    h.desks[0].kill()?;
    h.desks[0].start()?;
    let mut link = h.desks[0].connect()?;
    let more = check(&mut link, person(5))?;
    ensure!(more.starts_with("q-"), "{more}");
    let store = store_status(&mut link)?;
    ensure!(store == json!({ "shared": true, "reachable": false, "queued": 4 }), "after the restart: {store}");

    h.restart_db()?;
    let desk = &h.desks[0];
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let store = store_status(&mut link)?;
        if store == json!({ "shared": true, "reachable": true, "queued": 0 }) {
            break;
        }
        if Instant::now() > deadline {
            bail!("the queue was not sent within 90 s of the restart: {store}\n{}", desk.log_text());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let after = check(&mut link, person(6))?;
    ensure!(after.starts_with("t-"), "{after}");

    // Every result once, in the order made, all this desk's.
    let rows = h.sql("SELECT at, desk, uid IS NOT NULL FROM results ORDER BY id")?;
    let rows: Vec<Vec<&str>> = rows.lines().map(|l| l.split('|').collect()).collect();
    ensure!(rows.len() == 7, "seven checks, seven rows: {rows:?}");
    ensure!(rows.windows(2).all(|w| w[0][0] <= w[1][0]), "in the order made: {rows:?}");
    ensure!(rows.iter().all(|r| r[1] == desk.name && r[2] == "t"), "{rows:?}");
    let dup = h.sql("SELECT count(*) FROM (SELECT uid FROM results GROUP BY uid HAVING count(*) > 1) AS d")?;
    ensure!(dup == "0", "no result twice: {dup}");
    let today = link.ok(json!({ "type": "today" }))?;
    let n = today["entries"].as_array().map_or(0, Vec::len);
    ensure!(n == 7, "today after the outage lists each check once: {today}");

    let out = desk.cli(&["audit", "verify"])?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    ensure!(out.status.success(), "audit verify after the outage: {text}");
    let lines = h.sql(&format!("SELECT count(*) FROM audit WHERE desk = '{}' AND kind = 'eligibility_query'", desk.name))?;
    ensure!(lines == "7", "one audit line per check, the queued ones chained on: {lines}\n{text}");
    if !desk.log_text().contains("sent 4 queued results") {
        bail!("the service log does not say the queue was sent:\n{}", desk.log_text());
    }
    Ok(())
}
