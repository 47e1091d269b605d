//! Measures the store's audit log: append latency (each append is one
//! IMMEDIATE transaction with a WAL commit) and the time `verify` takes to
//! walk the chain. A measurement to print, not a test with a threshold.
//!
//! `cargo run -p onshi-helper --example audit_bench [ENTRIES]`

use std::time::Instant;

use onshi_helper::store::{Actor, AuditDetail, Origin, Outcome, QueryKind, Store};
use onshi_helper::time::Timestamp;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let dir = std::env::temp_dir().join(format!("onshi-audit-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let path = dir.join("bench.sqlite");
    let mut store = Store::open(&path).expect("open store");
    let actor = Actor::Origin(Origin::new("https://clinic.example").expect("origin"));
    let detail = AuditDetail::EligibilityQuery { query: QueryKind::InsuranceCard, error: None, treatment: None };
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let at = Timestamp::from_unix(1_764_028_800 + i as i64, 540).expect("time");
        let t = Instant::now();
        store.append_audit(&at, &actor, Outcome::Ok, &detail).expect("append");
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    println!("append: n={n} p50={:?} p99={:?} max={:?}", pct(0.50), pct(0.99), times[times.len() - 1]);
    let t = Instant::now();
    let report = store.verify_audit().expect("verify");
    println!("verify: {} entries in {:?}, intact={}", report.entries, t.elapsed(), report.is_intact());
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
