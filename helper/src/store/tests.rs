//! Unit tests of the store against real SQLite files in a temp folder.

use super::*;
use crate::browser::Browser;
use crate::time::{Day, Timestamp};

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn open_temp() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("helper.sqlite")).unwrap();
    (dir, store)
}

fn origin() -> Origin {
    Origin::new("https://clinic.example").unwrap()
}

/// A valid result asked by `origin()`, with nothing optional set; tests
/// change what they are about with `..result_at(…)`.
pub(super) fn result_at(at: &str, kind: ResultKind) -> NewResult {
    NewResult {
        at: ts(at),
        kind,
        origin: Some(origin()),
        job: None,
        status: ResultStatus::Valid,
        insurer_number: None,
        name_kana: None,
        error: None,
        card: None,
        document: None,
        treatment: None,
        xml: ResultXml::received(b"<XmlMsg/>".to_vec()).unwrap(),
    }
}

#[test]
fn opens_with_wal_foreign_keys_and_current_schema() {
    let (_dir, store) = open_temp();
    let mode: String = store.conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let fk: i64 = store.conn.pragma_query_value(None, "foreign_keys", |r| r.get(0)).unwrap();
    assert_eq!(fk, 1);
    assert_eq!(store.schema_version().unwrap(), known_version());
}

#[test]
fn migrations_run_step_by_step_and_only_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sqlite");
    let steps = ["CREATE TABLE a (x);", "CREATE TABLE b (y);"];
    drop(Store::open_with(&path, &steps[..1]).unwrap());
    let s = Store::open_with(&path, &steps).unwrap();
    assert_eq!(s.schema_version().unwrap(), 2);
    drop(s);
    // Reopening with the same list applies nothing (CREATE TABLE would fail).
    assert_eq!(Store::open_with(&path, &steps).unwrap().schema_version().unwrap(), 2);
}

#[test]
fn a_failing_migration_rolls_back_its_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.sqlite");
    let steps = ["CREATE TABLE a (x);", "CREATE TABLE b (y); THIS IS NOT SQL;"];
    let err = Store::open_with(&path, &steps).err().unwrap();
    assert!(matches!(err, StoreError::Migration { to_version: 2, .. }), "{err:?}");
    let s = Store::open_with(&path, &steps[..1]).unwrap();
    assert_eq!(s.schema_version().unwrap(), 1);
    let b: i64 = s.conn.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'b'", [], |r| r.get(0)).unwrap();
    assert_eq!(b, 0, "table b must have been rolled back");
}

#[test]
fn not_a_database_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.sqlite");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let err = Store::open(&path).err().unwrap();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
    assert_eq!(std::fs::read(&path).unwrap(), vec![b'x'; 4096], "file untouched");
}

#[test]
fn audit_chain_appends_and_verifies() {
    let (_dir, mut store) = open_temp();
    let empty = store.verify_audit().unwrap();
    assert_eq!((empty.entries, empty.head.as_str(), empty.is_intact()), (0, audit::GENESIS, true));
    let details = [
        AuditDetail::Pairing { action: PairingAction::Begin, origin: origin() },
        AuditDetail::CardConfirm { mode: ConfirmMode::Pin, consents: Consents::default(), tries_left: Some(2), error: Some(ErrorCode::new("wrong_pin").unwrap()), treatment: None },
        AuditDetail::EligibilityQuery { query: QueryKind::InsuranceCard, error: None, treatment: None },
    ];
    for (i, d) in details.iter().enumerate() {
        let seq = store.append_audit(&ts("2026-11-25T09:00:00+09:00"), &Actor::Origin(origin()), Outcome::Ok, d).unwrap();
        assert_eq!(seq, i as i64 + 1);
    }
    let report = store.verify_audit().unwrap();
    assert_eq!(report.entries, 3);
    assert!(report.is_intact());
    let tail = store.audit_tail(2).unwrap();
    assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(tail[0].kind, "card_confirm");
    assert_eq!(tail[1].prev_hash, tail[0].hash);
    assert_eq!(report.head, tail[1].hash);
}

#[test]
fn audit_rows_cannot_be_updated_or_deleted() {
    let (_dir, mut store) = open_temp();
    store.append_audit(&ts("2026-11-25T09:00:00Z"), &Actor::Cli, Outcome::Ok, &AuditDetail::Config { action: ConfigAction::Check, problems: 0 }).unwrap();
    for sql in ["UPDATE audit SET outcome = 'failed'", "DELETE FROM audit"] {
        let err = store.conn.execute(sql, []).unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert!(store.verify_audit().unwrap().is_intact());
}

/// Tamper in each way an attacker could (with the triggers dropped) and
/// check the exact break reported.
#[test]
fn audit_tampering_is_located() {
    type Tamper = (&'static str, ChainBreak);
    let cases: [Tamper; 5] = [
        ("UPDATE audit SET outcome = 'failed' WHERE seq = 2", ChainBreak::HashMismatch { seq: 2 }),
        ("DELETE FROM audit WHERE seq = 2", ChainBreak::Gap { expected: 2, found: 3 }),
        ("DELETE FROM audit WHERE seq = 1", ChainBreak::BadGenesis { seq: 2 }),
        ("UPDATE audit SET prev_hash = (SELECT hash FROM audit WHERE seq = 1) WHERE seq = 3", ChainBreak::PrevHashMismatch { seq: 3 }),
        ("UPDATE audit SET prev_hash = 'x' WHERE seq = 1", ChainBreak::BadGenesis { seq: 1 }),
    ];
    for (sql, expected) in cases {
        let (_dir, mut store) = open_temp();
        for _ in 0..4 {
            store.append_audit(&ts("2026-11-25T09:00:00Z"), &Actor::Cli, Outcome::Ok, &AuditDetail::Reference { action: ReferenceAction::Register, count: None, rejected: None, error: None }).unwrap();
        }
        store.conn.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;").unwrap();
        store.conn.execute(sql, []).unwrap();
        assert_eq!(store.verify_audit().unwrap().first_break, Some(expected), "{sql}");
    }
}

#[test]
fn pairings_lifecycle() {
    let (_dir, mut store) = open_temp();
    let ext = ExtensionId::new("abcdefghijklmnopabcdefghijklmnop").unwrap();
    let id = store.begin_pairing(&origin(), &ext, Browser::Chromium, &ts("2026-11-25T09:00:00Z")).unwrap();
    assert!(store.live_pairing(&origin(), &ext).unwrap().is_none(), "pending is not live");
    store.approve_pairing(id, &ts("2026-11-25T09:01:00Z")).unwrap();
    assert!(store.live_pairing(&origin(), &ext).unwrap().unwrap().is_live());
    // Re-pairing revokes the old one and needs a new approval.
    let id2 = store.begin_pairing(&origin(), &ext, Browser::Chromium, &ts("2026-11-25T09:02:00Z")).unwrap();
    assert!(store.live_pairing(&origin(), &ext).unwrap().is_none());
    assert!(matches!(store.approve_pairing(id, &ts("2026-11-25T09:03:00Z")), Err(StoreError::NotFound { .. })));
    store.approve_pairing(id2, &ts("2026-11-25T09:03:00Z")).unwrap();
    assert_eq!(store.revoke_pairings(&origin(), &ts("2026-11-25T10:00:00Z")).unwrap(), 1);
    assert!(store.live_pairing(&origin(), &ext).unwrap().is_none());
    let all = store.pairings().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|p| p.revoked_at.is_some()));
}

#[test]
fn batch_jobs_progress_and_pending_query() {
    let (_dir, mut store) = open_temp();
    let file = FileName::new("batch-1.xml").unwrap();
    let a = store.insert_job(&file, Some(&ReceptionNumber::new("R-20261125-001").unwrap()), &ts("2026-11-24T18:00:00+09:00")).unwrap();
    let b = store.insert_job(&file, None, &ts("2026-11-24T18:05:00+09:00")).unwrap();
    let polled = store.record_poll(a, &ts("2026-11-24T18:10:00+09:00")).unwrap();
    assert_eq!((polled.state, polled.attempts), (JobState::Polling, 1));
    let done = store.finish_job(b, &ts("2026-11-24T18:20:00+09:00"), Ok(JobCounts { total: 10, succeeded: 9, failed: 1 })).unwrap();
    assert_eq!(done.state, JobState::Done);
    assert!(matches!(store.record_poll(b, &ts("2026-11-24T18:30:00+09:00")), Err(StoreError::JobFinished { .. })));
    let pending = store.pending_jobs().unwrap();
    assert_eq!(pending.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a]);
    let failed = store.finish_job(a, &ts("2026-11-24T19:00:00+09:00"), Err(ErrorCode::new("gateway_error").unwrap())).unwrap();
    assert_eq!((failed.state, failed.error.as_ref().map(ErrorCode::as_str)), (JobState::Failed, Some("gateway_error")));
    assert!(store.pending_jobs().unwrap().is_empty());
}

#[test]
fn results_by_local_day() {
    let (_dir, mut store) = open_temp();
    let mk = |at: &str, status| NewResult {
        status,
        insurer_number: Some("39131156".into()),
        name_kana: Some("ヤマダ タロウ".into()),
        xml: ResultXml::received(b"<?xml version=\"1.0\"?><XmlMsg/>".to_vec()).unwrap(),
        ..result_at(at, ResultKind::InsuranceConfirm)
    };
    // 23:30 on the 24th in Japan is a different clinic day from 00:30 on the 25th.
    store.insert_result(&mk("2026-11-24T23:30:00+09:00", ResultStatus::Valid)).unwrap();
    store.insert_result(&mk("2026-11-25T00:30:00+09:00", ResultStatus::Invalid)).unwrap();
    store.insert_result(&mk("2026-11-25T17:00:00+09:00", ResultStatus::NotFound)).unwrap();
    let today = store.results_for_day(&Day::parse("2026-11-25").unwrap()).unwrap();
    assert_eq!(today.iter().map(|r| r.status).collect::<Vec<_>>(), vec![ResultStatus::Invalid, ResultStatus::NotFound]);
    assert_eq!(today[0].xml, StoredXml { bytes: b"<?xml version=\"1.0\"?><XmlMsg/>".to_vec(), kept: Kept::AsReceived });
    let mut bad = mk("2026-11-25T17:00:00+09:00", ResultStatus::Valid);
    bad.insurer_number = Some("1234".into());
    assert!(matches!(store.insert_result(&bad), Err(StoreError::Invalid(_))));
    // A batch result must point at an existing job (foreign key).
    let mut orphan = mk("2026-11-25T17:00:00+09:00", ResultStatus::Valid);
    orphan.job = Some(JobId(999));
    assert!(matches!(store.insert_result(&orphan), Err(StoreError::Sql { .. })));
    assert!(ResultXml::received(b"not xml".to_vec()).is_err());
}

#[test]
fn reference_numbers_are_stored_verbatim() {
    let (_dir, mut store) = open_temp();
    let p = PatientId::new("0042").unwrap();
    let nums = ReferenceNumbers { insurer: "  138057".into(), symbol: Some("１２・あ".into()), number: "００１".into(), branch: Some("01".into()) };
    store.put_reference(&p, &nums, &ts("2026-11-25T09:00:00Z")).unwrap();
    assert_eq!(store.reference(&p).unwrap().as_ref(), Some(&nums));
    let nums2 = ReferenceNumbers { branch: None, ..nums.clone() };
    store.put_reference(&p, &nums2, &ts("2026-11-25T09:05:00Z")).unwrap();
    assert_eq!(store.reference(&p).unwrap(), Some(nums2));
    assert!(store.delete_reference(&p).unwrap());
    assert!(!store.delete_reference(&p).unwrap());
    let bad = ReferenceNumbers { branch: Some("1a".into()), ..nums };
    assert!(store.put_reference(&p, &bad, &ts("2026-11-25T09:00:00Z")).is_err());
}

/// Schema 2 (issue 5): a version-1 file with a card result keeps it, read as
/// "mode unknown"; new card results keep PIN/visual and the consents; a
/// corrupted consents column is reported, not guessed.
#[test]
fn schema_2_adds_card_mode_and_consents_to_results() {
    use onshi_core::protocol::{ConfirmMode as Mode, Consents as C5};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.sqlite");
    let xml = || ResultXml::received(b"<XmlMsg/>".to_vec()).unwrap();
    {
        let s = Store::open_with(&path, &MIGRATIONS[..1]).unwrap();
        assert_eq!(s.schema_version().unwrap(), 1);
        s.conn
            .execute(
                "INSERT INTO results (at, day, kind, status, xml) VALUES ('2026-11-25T09:00:00+09:00', '2026-11-25', 'card_confirm', 'valid', '<XmlMsg/>')",
                [],
            )
            .unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), known_version());
    let card = CardCheck { mode: Mode::Visual, consents: C5 { medication: true, specified_disease: true, ..C5::default() } };
    let new = NewResult {
        card: Some(card),
        xml: xml(),
        ..result_at("2026-11-25T10:00:00+09:00", ResultKind::CardConfirm)
    };
    s.insert_result(&new).unwrap();
    s.insert_result(&NewResult { kind: ResultKind::Face, card: None, ..new.clone() }).unwrap();
    let day = Day::parse("2026-11-25").unwrap();
    let rows = s.results_for_day(&day).unwrap();
    let got: Vec<(ResultKind, Option<CardCheck>)> = rows.iter().map(|r| (r.kind, r.card)).collect();
    assert_eq!(got, [(ResultKind::CardConfirm, None), (ResultKind::CardConfirm, Some(card)), (ResultKind::Face, None)]);
    s.conn.execute("UPDATE results SET consents = '10x01' WHERE card_mode = 'visual'", []).unwrap();
    assert!(matches!(s.results_for_day(&day), Err(StoreError::Corrupt { column: "consents", .. })));
    // The CHECK constraint keeps anything but pin/visual out of the mode column.
    assert!(s.conn.execute("UPDATE results SET card_mode = 'face' WHERE card_mode = 'visual'", []).is_err());
}

#[test]
fn a_check_by_numbers_keeps_its_document() {
    use onshi_core::protocol::PresentedDocument as Doc;
    let (_dir, mut s) = open_temp();
    let new = NewResult {
        document: Some(Doc::EligibilityNotice),
        ..result_at("2026-12-06T10:00:00+09:00", ResultKind::InsuranceConfirm)
    };
    s.insert_result(&new).unwrap();
    s.insert_result(&NewResult { document: None, ..new.clone() }).unwrap();
    let day = Day::parse("2026-12-06").unwrap();
    let got: Vec<_> = s.results_for_day(&day).unwrap().iter().map(|r| r.document).collect();
    assert_eq!(got, [Some(Doc::EligibilityNotice), None]);
    // Only the three documents fit the column; a stray value reads as corrupt.
    assert!(s.conn.execute("UPDATE results SET document = 'passport'", []).is_err());
}

/// Issue 16: a desk check keeps where the patient was treated; rows without
/// one (batch, history, stored before schema 6) read as `None`.
#[test]
fn a_desk_check_keeps_its_treatment_setting() {
    use onshi_core::protocol::Treatment;
    let (_dir, mut s) = open_temp();
    let at = "2026-12-06T10:00:00+09:00";
    for t in [Some(Treatment::HomeVisit), Some(Treatment::Online), None] {
        s.insert_result(&NewResult { treatment: t, ..result_at(at, ResultKind::InsuranceConfirm) }).unwrap();
    }
    let day = Day::parse("2026-12-06").unwrap();
    let got: Vec<_> = s.results_for_day(&day).unwrap().iter().map(|r| r.treatment).collect();
    assert_eq!(got, [Some(Treatment::HomeVisit), Some(Treatment::Online), None]);
    assert!(s.conn.execute("UPDATE results SET treatment = 'teleport'", []).is_err());
}

/// The bytes of a Shift_JIS answer, as a gateway or terminal sends them.
fn shift_jis_answer() -> Vec<u8> {
    let doc = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\r\n<XmlMsg><MessageHeader><CharacterCodeIdentifier>1</CharacterCodeIdentifier></MessageHeader><MessageBody><Name>山田　髙子</Name></MessageBody></XmlMsg>\r\n";
    onshi_core::xml::encode_text(doc, onshi_core::Encoding::ShiftJis)
}

/// Issue 14: a result keeps the bytes it came with — Shift_JIS, CRLF, no
/// declaration rewritten — and gives back exactly those, whatever they are.
#[test]
fn results_keep_the_bytes_as_received() {
    let (_dir, mut store) = open_temp();
    let bytes = shift_jis_answer();
    assert!(std::str::from_utf8(&bytes).is_err(), "the test document really is Shift_JIS");
    let new = NewResult {
        xml: ResultXml::received(bytes.clone()).unwrap(),
        ..result_at("2026-11-25T09:00:00+09:00", ResultKind::InsuranceConfirm)
    };
    store.insert_result(&new).unwrap();
    // A UTF-8 answer with a byte-order mark and leading blanks is a document too.
    let bom = b"\xEF\xBB\xBF \r\n<XmlMsg/>".to_vec();
    store.insert_result(&NewResult { xml: ResultXml::received(bom.clone()).unwrap(), ..new.clone() }).unwrap();
    let rows = store.results_for_day(&Day::parse("2026-11-25").unwrap()).unwrap();
    assert_eq!(rows[0].xml, StoredXml { bytes, kept: Kept::AsReceived });
    assert_eq!(rows[1].xml, StoredXml { bytes: bom, kept: Kept::AsReceived });
    for bad in [&b""[..], b"   ", b"\xEF\xBB\xBFnot xml", b"\x82\xa0<XmlMsg/>"] {
        assert!(ResultXml::received(bad.to_vec()).is_err(), "{bad:?}");
    }
}

/// Schema 3 (issue 14): a version-2 file keeps its rows, which say they were
/// stored as UTF-8 text; new rows keep bytes; a row must have exactly one of
/// the two, and a row with neither is reported, not guessed.
#[test]
fn schema_3_keeps_old_text_rows_and_stores_new_rows_as_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.sqlite");
    let old_text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageBody><Name>山田</Name></MessageBody></XmlMsg>";
    {
        let s = Store::open_with(&path, &MIGRATIONS[..2]).unwrap();
        s.conn
            .execute(
                "INSERT INTO results (at, day, kind, status, xml, card_mode, consents) VALUES ('2026-11-25T09:00:00+09:00', '2026-11-25', 'card_confirm', 'valid', ?1, 'pin', '10000')",
                [old_text],
            )
            .unwrap();
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), known_version());
    let new = NewResult {
        origin: None,
        xml: ResultXml::received(shift_jis_answer()).unwrap(),
        ..result_at("2026-11-25T10:00:00+09:00", ResultKind::Face)
    };
    s.insert_result(&new).unwrap();
    let day = Day::parse("2026-11-25").unwrap();
    let rows = s.results_for_day(&day).unwrap();
    assert_eq!(rows[0].xml, StoredXml { bytes: old_text.as_bytes().to_vec(), kept: Kept::Utf8Text });
    assert_eq!(rows[0].card.map(|c| c.consents.medication), Some(true), "the other columns came across");
    assert_eq!(rows[1].xml, StoredXml { bytes: shift_jis_answer(), kept: Kept::AsReceived });
    // Exactly one of text and bytes.
    assert!(s.conn.execute("UPDATE results SET xml = 'x' WHERE received IS NOT NULL", []).is_err());
    assert!(s.conn.execute("UPDATE results SET received = NULL WHERE received IS NOT NULL", []).is_err());
    // Behind the CHECK (someone with the file): reported as corrupt.
    s.conn.execute_batch("PRAGMA ignore_check_constraints = ON; UPDATE results SET received = NULL WHERE received IS NOT NULL;").unwrap();
    assert!(matches!(s.results_for_day(&day), Err(StoreError::Corrupt { column: "received", .. })));
}
