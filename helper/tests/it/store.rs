//! The store across process boundaries and file edits: tamper detection
//! through the CLI, batch jobs surviving a reopen, migrations from an empty
//! file and refusal of a newer schema.

use onshi_helper::store::*;
use onshi_helper::time::Timestamp;

use super::{helper, run};

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn seed_audit(path: &std::path::Path, n: usize) {
    let mut store = Store::open(path).unwrap();
    let origin = Origin::new("https://clinic.example").unwrap();
    for i in 0..n {
        let detail = if i % 2 == 0 {
            AuditDetail::Pairing { action: PairingAction::Approve, origin: origin.clone() }
        } else {
            AuditDetail::EligibilityQuery { query: QueryKind::InsuranceCard, error: None, treatment: None }
        };
        store.append_audit(&ts("2026-11-25T09:00:00+09:00"), &Actor::Origin(origin.clone()), Outcome::Ok, &detail).unwrap();
    }
}

fn verify(home: &std::path::Path, db: &std::path::Path) -> (i32, String, String) {
    let mut c = helper(home);
    c.args(["audit", "verify", "--store"]).arg(db);
    run(c)
}

#[test]
fn audit_verify_detects_an_attackers_edit() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("helper.sqlite");
    seed_audit(&db, 4);
    let (code, out, err) = verify(home.path(), &db);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 entries"), "{out}");

    let mut c = helper(home.path());
    c.args(["audit", "show", "--last", "2", "--store"]).arg(&db);
    let (code, out, _) = run(c);
    assert_eq!(code, 0);
    assert!(out.starts_with("#3 ") && out.contains("\n#4 "), "{out}");

    // Honest code cannot change a row …
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert!(conn.execute("UPDATE audit SET outcome = 'failed' WHERE seq = 2", []).is_err());
    // … an attacker drops the trigger first.
    conn.execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'failed' WHERE seq = 2;").unwrap();
    drop(conn);
    let (code, _, err) = verify(home.path(), &db);
    assert_eq!(code, 1);
    assert!(err.contains("#2") && err.contains("modified"), "{err}");
}

#[test]
fn audit_verify_detects_a_deleted_entry() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("helper.sqlite");
    seed_audit(&db, 5);
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 3;").unwrap();
    drop(conn);
    let (code, _, err) = verify(home.path(), &db);
    assert_eq!(code, 1);
    assert!(err.contains("#3") && err.contains("missing"), "{err}");
}

#[test]
fn pairings_revoke_through_the_cli_is_audited() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("helper.sqlite");
    {
        let mut s = Store::open(&db).unwrap();
        let o = Origin::new("https://clinic.example").unwrap();
        let id = s.begin_pairing(&o, &ExtensionId::new("abcdefghijklmnopabcdefghijklmnop").unwrap(), onshi_helper::browser::Browser::Chromium, &ts("2026-11-25T09:00:00+09:00")).unwrap();
        s.approve_pairing(id, &ts("2026-11-25T09:00:05+09:00")).unwrap();
    }
    let mut c = helper(home.path());
    c.args(["pairings", "list", "--store"]).arg(&db);
    let (code, out, _) = run(c);
    assert_eq!(code, 0);
    assert!(out.contains("https://clinic.example chromium") && out.contains("approved"), "{out}");
    let mut c = helper(home.path());
    c.args(["pairings", "revoke", "https://clinic.example", "--store"]).arg(&db);
    let (code, _, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let mut c = helper(home.path());
    c.args(["pairings", "revoke", "https://clinic.example", "--store"]).arg(&db);
    assert_eq!(run(c).0, 1, "nothing left to revoke");
    let s = Store::open(&db).unwrap();
    let tail = s.audit_tail(10).unwrap();
    assert_eq!(tail.len(), 1);
    assert_eq!((tail[0].actor.as_str(), tail[0].kind.as_str()), ("cli", "pairing"));
    assert!(tail[0].detail.contains("\"revoke\""));
    assert!(s.verify_audit().unwrap().is_intact());
}

#[test]
fn batch_jobs_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("helper.sqlite");
    let (a, b);
    {
        let mut s = Store::open(&db).unwrap();
        let f = FileName::new("batch-20261124.xml").unwrap();
        a = s.insert_job(&f, Some(&ReceptionNumber::new("R0001").unwrap()), &ts("2026-11-24T18:00:00+09:00"), std::time::Duration::from_secs(60)).unwrap();
        b = s.insert_job(&f, Some(&ReceptionNumber::new("R0002").unwrap()), &ts("2026-11-24T18:01:00+09:00"), std::time::Duration::from_secs(60)).unwrap();
        let c = s.insert_job(&f, None, &ts("2026-11-24T18:02:00+09:00"), std::time::Duration::from_secs(60)).unwrap();
        s.record_poll(a, &ts("2026-11-24T18:05:00+09:00")).unwrap();
        s.finish_job(c, &ts("2026-11-24T18:06:00+09:00"), Ok(JobCounts { total: 3, succeeded: 3, failed: 0 })).unwrap();
        // Dropped without any shutdown step, as a killed process would leave it.
    }
    let s = Store::open(&db).unwrap();
    let pending = s.pending_jobs().unwrap();
    assert_eq!(pending.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!((pending[0].state, pending[0].attempts), (JobState::Polling, 1));
    assert_eq!(pending[0].last_polled_at.as_deref(), Some("2026-11-24T18:05:00+09:00"));
    assert_eq!(pending[1].reception_number.as_ref().map(ReceptionNumber::as_str), Some("R0002"));
}

#[test]
fn migrates_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("helper.sqlite");
    std::fs::write(&db, b"").unwrap();
    let s = Store::open(&db).unwrap();
    assert_eq!(s.schema_version().unwrap(), known_version());
    drop(s);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    assert_eq!(tables, ["audit", "batch_jobs", "outbox_audit", "pairings", "patient_refs", "results"]);
}

#[test]
fn refuses_a_newer_schema_without_touching_it() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("helper.sqlite");
    drop(Store::open(&db).unwrap());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    conn.pragma_update(None, "user_version", known_version() + 1).unwrap();
    drop(conn);
    let before = std::fs::read(&db).unwrap();
    match Store::open(&db) {
        Err(StoreError::SchemaTooNew { found, known, .. }) => assert_eq!((found, known), (known_version() + 1, known_version())),
        other => panic!("expected SchemaTooNew, got {:?}", other.err()),
    }
    let (code, _, err) = verify(home.path(), &db);
    assert_eq!(code, 1);
    assert!(err.contains("新しい版") && err.contains("newer helper"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file is byte-for-byte unchanged");
    assert!(!home.path().join("helper.sqlite-wal").exists(), "not even switched to WAL");
}
