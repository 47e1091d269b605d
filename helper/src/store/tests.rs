//! The store's conformance suite: every test that takes an `Engine` runs
//! against a real SQLite file and a real PostgreSQL schema (see
//! `test_engine`); the SQLite-only ones test that engine's own file format,
//! the PostgreSQL-only ones its many desks.

use super::test_engine::{conformance, Engine, Place};
use super::*;
use crate::browser::Browser;
use crate::time::{Day, Timestamp};

conformance!(
    opens_at_the_current_schema,
    migrations_run_step_by_step_and_only_once,
    a_failing_migration_rolls_back_its_step,
    a_newer_schema_is_refused_untouched,
    audit_chain_appends_and_verifies,
    audit_rows_cannot_be_updated_or_deleted,
    audit_tampering_is_located,
    batch_jobs_progress_and_pending_query,
    results_by_local_day,
    results_record_their_desk,
    reference_numbers_are_stored_verbatim,
    a_check_by_numbers_keeps_its_document,
    a_desk_check_keeps_its_treatment_setting,
    results_keep_the_bytes_as_received,
);

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

fn opens_at_the_current_schema(e: Engine) {
    let place = Place::new(e);
    assert_eq!(place.open().schema_version().unwrap(), known_version());
    // Opening again applies nothing.
    assert_eq!(place.open().schema_version().unwrap(), known_version());
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

/// Toy steps valid on both engines.
const TOY: [Step; 2] = [Step::both("CREATE TABLE a (x INTEGER);"), Step::both("CREATE TABLE b (y INTEGER);")];

fn migrations_run_step_by_step_and_only_once(e: Engine) {
    let place = Place::new(e);
    assert_eq!(place.open_with(&TOY[..1]).unwrap().schema_version().unwrap(), 1);
    let s = place.open_with(&TOY).unwrap();
    assert_eq!(s.schema_version().unwrap(), 2);
    drop(s);
    // Reopening with the same list applies nothing (CREATE TABLE would fail).
    assert_eq!(place.open_with(&TOY).unwrap().schema_version().unwrap(), 2);
}

fn a_failing_migration_rolls_back_its_step(e: Engine) {
    let place = Place::new(e);
    let steps = [TOY[0], Step::both("CREATE TABLE b (y INTEGER); THIS IS NOT SQL;")];
    let err = place.open_with(&steps).err().unwrap();
    assert!(matches!(err, StoreError::Migration { to_version: 2, .. }), "{err:?}");
    let s = place.open_with(&steps[..1]).unwrap();
    assert_eq!(s.schema_version().unwrap(), 1);
    assert!(place.raw(&s, "SELECT y FROM b").is_err(), "table b must have been rolled back");
    place.raw(&s, "SELECT x FROM a").unwrap();
}

/// A database written by a newer helper is refused, and nothing is
/// written: not the version, not the rows (on PostgreSQL the server's
/// copy; SQLite's byte-exact check is in the integration tests).
fn a_newer_schema_is_refused_untouched(e: Engine) {
    let place = Place::new(e);
    let mut newer: Vec<Step> = MIGRATIONS.to_vec();
    newer.push(Step::both("CREATE TABLE from_the_future (z INTEGER);"));
    let mut s = place.open_with(&newer).unwrap();
    s.insert_result(&result_at("2026-11-25T09:00:00+09:00", ResultKind::Face)).unwrap();
    drop(s);
    let err = place.open_with(MIGRATIONS).err().unwrap();
    let (found, known) = match err {
        StoreError::SchemaTooNew { found, known, .. } | StoreError::ServerSchemaTooNew { found, known, .. } => (found, known),
        other => panic!("expected a too-new refusal, got {other:?}"),
    };
    assert_eq!((found, known), (known_version() + 1, known_version()));
    let msg = StoreError::ServerSchemaTooNew { server: "db:5432/onshi".into(), found, known }.explain();
    assert!(msg.ja.contains("新しい版") && msg.en.contains("newer helper"), "{msg:?}");
    let s = place.open_with(&newer).unwrap();
    assert_eq!(s.schema_version().unwrap(), known_version() + 1, "the version was left as found");
    assert_eq!(s.results_for_day(&Day::parse("2026-11-25").unwrap()).unwrap().len(), 1);
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

fn audit_chain_appends_and_verifies(e: Engine) {
    let mut store = Place::new(e).open();
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
    assert_eq!(report.chains.len(), 1);
}

fn audit_rows_cannot_be_updated_or_deleted(e: Engine) {
    let place = Place::new(e);
    let mut store = place.open();
    store.append_audit(&ts("2026-11-25T09:00:00Z"), &Actor::Cli, Outcome::Ok, &AuditDetail::Config { action: ConfigAction::Check, problems: 0 }).unwrap();
    for sql in ["UPDATE audit SET outcome = 'failed'", "DELETE FROM audit"] {
        let err = place.raw(&store, sql).unwrap_err();
        let text = format!("{err} {:?}", err);
        assert!(text.contains("append-only"), "{sql}: {text}");
    }
    assert!(store.verify_audit().unwrap().is_intact());
}

/// Tamper in each way an attacker could (with the triggers dropped) and
/// check the exact break reported.
fn audit_tampering_is_located(e: Engine) {
    type Tamper = (&'static str, ChainBreak);
    let cases: [Tamper; 5] = [
        ("UPDATE audit SET outcome = 'failed' WHERE seq = 2", ChainBreak::HashMismatch { seq: 2 }),
        ("DELETE FROM audit WHERE seq = 2", ChainBreak::Gap { expected: 2, found: 3 }),
        ("DELETE FROM audit WHERE seq = 1", ChainBreak::BadGenesis { seq: 2 }),
        ("UPDATE audit SET prev_hash = (SELECT hash FROM audit WHERE seq = 1) WHERE seq = 3", ChainBreak::PrevHashMismatch { seq: 3 }),
        ("UPDATE audit SET prev_hash = 'x' WHERE seq = 1", ChainBreak::BadGenesis { seq: 1 }),
    ];
    for (sql, expected) in cases {
        let place = Place::new(e);
        let mut store = place.open();
        for _ in 0..4 {
            store.append_audit(&ts("2026-11-25T09:00:00Z"), &Actor::Cli, Outcome::Ok, &AuditDetail::Reference { action: ReferenceAction::Register, count: None, rejected: None, error: None }).unwrap();
        }
        place.drop_audit_guards(&store);
        place.raw(&store, sql).unwrap();
        assert_eq!(store.verify_audit().unwrap().first_break, Some(expected), "{sql}");
    }
}

/// Pairings are always the PC's own (SQLite, also beside a shared store).
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

fn batch_jobs_progress_and_pending_query(e: Engine) {
    let mut store = Place::new(e).open();
    let file = FileName::new("batch-1.xml").unwrap();
    let a = store.insert_job(&file, Some(&ReceptionNumber::new("R-20261125-001").unwrap()), &ts("2026-11-24T18:00:00+09:00"), std::time::Duration::from_secs(60)).unwrap();
    let b = store.insert_job(&file, None, &ts("2026-11-24T18:05:00+09:00"), std::time::Duration::from_secs(60)).unwrap();
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

fn results_by_local_day(e: Engine) {
    let mut store = Place::new(e).open();
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

fn results_record_their_desk(e: Engine) {
    let place = Place::new(e);
    let (mut a, mut b) = (place.open_desk("受付1"), place.open_desk("2階外来"));
    let r = result_at("2026-11-25T09:00:00+09:00", ResultKind::Face);
    a.insert_result(&r).unwrap();
    b.insert_result(&r).unwrap();
    let day = Day::parse("2026-11-25").unwrap();
    for s in [&a, &b] {
        let desks: Vec<_> = s.results_for_day(&day).unwrap().into_iter().map(|r| r.desk).collect();
        assert_eq!(desks, [Some("受付1".to_owned()), Some("2階外来".to_owned())], "both desks see both");
    }
    let job = a.insert_job(&FileName::new("b.xml").unwrap(), None, &ts("2026-11-25T09:00:00+09:00"), std::time::Duration::from_secs(60)).unwrap();
    assert_eq!(b.job(job).unwrap().id, job, "a job submitted at one desk is seen at the other");
}

fn reference_numbers_are_stored_verbatim(e: Engine) {
    let mut store = Place::new(e).open();
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

fn a_check_by_numbers_keeps_its_document(e: Engine) {
    use onshi_core::protocol::PresentedDocument as Doc;
    let place = Place::new(e);
    let mut s = place.open();
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
    assert!(place.raw(&s, "UPDATE results SET document = 'passport'").is_err());
}

/// Issue 16: a desk check keeps where the patient was treated; rows without
/// one (batch, history, stored before schema 6) read as `None`.
fn a_desk_check_keeps_its_treatment_setting(e: Engine) {
    use onshi_core::protocol::Treatment;
    let place = Place::new(e);
    let mut s = place.open();
    let at = "2026-12-06T10:00:00+09:00";
    for t in [Some(Treatment::HomeVisit), Some(Treatment::Online), None] {
        s.insert_result(&NewResult { treatment: t, ..result_at(at, ResultKind::InsuranceConfirm) }).unwrap();
    }
    let day = Day::parse("2026-12-06").unwrap();
    let got: Vec<_> = s.results_for_day(&day).unwrap().iter().map(|r| r.treatment).collect();
    assert_eq!(got, [Some(Treatment::HomeVisit), Some(Treatment::Online), None]);
    assert!(place.raw(&s, "UPDATE results SET treatment = 'teleport'").is_err());
}

/// The bytes of a Shift_JIS answer, as a gateway or terminal sends them.
fn shift_jis_answer() -> Vec<u8> {
    let doc = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\r\n<XmlMsg><MessageHeader><CharacterCodeIdentifier>1</CharacterCodeIdentifier></MessageHeader><MessageBody><Name>山田　髙子</Name></MessageBody></XmlMsg>\r\n";
    onshi_core::xml::encode_text(doc, onshi_core::Encoding::ShiftJis)
}

/// Issue 14: a result keeps the bytes it came with — Shift_JIS, CRLF, no
/// declaration rewritten — and gives back exactly those, whatever they are.
fn results_keep_the_bytes_as_received(e: Engine) {
    let mut store = Place::new(e).open();
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

/// Issue 17: two desks append to one shared log interleaved; each has its
/// own chain from seq 1, and `verify` walks both. A row edited in one desk's
/// chain is named with that desk and seq; the other chain stays intact.
#[cfg(unix)]
#[test]
fn postgres_audit_has_one_chain_per_desk() {
    let place = Place::new(Engine::Postgres);
    let (mut a, mut b) = (place.open_desk("受付1"), place.open_desk("受付2"));
    let detail = AuditDetail::EligibilityQuery { query: QueryKind::InsuranceCard, error: None, treatment: None };
    let at = ts("2026-11-25T09:00:00+09:00");
    let mut seqs = Vec::new();
    for i in 0..6 {
        let s = if i % 2 == 0 { &mut a } else { &mut b };
        seqs.push(s.append_audit(&at, &Actor::Cli, Outcome::Ok, &detail).unwrap());
    }
    assert_eq!(seqs, [1, 1, 2, 2, 3, 3]);
    let report = b.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 6);
    let chains: Vec<(&str, u64)> = report.chains.iter().map(|c| (c.desk.as_str(), c.entries)).collect();
    assert_eq!(chains, [("受付1", 3), ("受付2", 3)]);
    assert_eq!(report.head, report.chains[1].head, "the head is the store's own desk's");
    // Both desks see all entries in the order they were written.
    let tail: Vec<(String, i64)> = a.audit_tail(10).unwrap().into_iter().map(|e| (e.desk, e.seq)).collect();
    assert_eq!(tail[..2], [("受付1".to_owned(), 1), ("受付2".to_owned(), 1)]);

    place.drop_audit_guards(&a);
    place.raw(&a, "UPDATE audit SET outcome = 'failed' WHERE desk = '受付2' AND seq = 2").unwrap();
    let report = a.verify_audit().unwrap();
    let breaks: Vec<(&str, &ChainBreak)> = report.breaks().collect();
    assert_eq!(breaks, [("受付2", &ChainBreak::HashMismatch { seq: 2 })]);
    assert_eq!(report.first_break, Some(ChainBreak::HashMismatch { seq: 2 }));
    // An entry moved to another desk's chain breaks both.
    place.raw(&a, "UPDATE audit SET desk = '受付2', seq = 4 WHERE desk = '受付1' AND seq = 3").unwrap();
    let report = a.verify_audit().unwrap();
    let breaks: Vec<(&str, &ChainBreak)> = report.breaks().collect();
    assert_eq!(breaks, [("受付2", &ChainBreak::HashMismatch { seq: 2 })], "受付1 lost its tail (undetectable), 受付2 was already broken");
}

/// Many writers of the same desk's chain (two helpers started for one desk
/// by mistake, or the CLI beside the service) never fork it: the append's
/// transaction holds the chain's advisory lock.
#[cfg(unix)]
#[test]
fn postgres_concurrent_writers_of_one_chain_do_not_fork_it() {
    let place = std::sync::Arc::new(Place::new(Engine::Postgres));
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let mut s = place.open_desk("受付1");
            std::thread::spawn(move || {
                let detail = AuditDetail::Config { action: ConfigAction::Check, problems: 0 };
                for _ in 0..15 {
                    s.append_audit(&ts("2026-11-25T09:00:00Z"), &Actor::Cli, Outcome::Ok, &detail).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let report = place.open().verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 45);
}

/// An unreachable server is a typed error that tells IT what to check, and
/// names the server without its password.
#[cfg(unix)]
#[test]
fn postgres_unreachable_server_is_explained() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let settings = StoreSettings {
        path: dir.path().join("helper.sqlite"),
        desk: DeskName::new("受付1").unwrap(),
        shared: SharedStore::Postgres(PgSettings {
            url: format!("postgres://onshi:secret@127.0.0.1:{port}/hospital?connect_timeout=2"),
            ca: None,
        }),
    };
    let err = Store::open_settings(&settings).err().unwrap();
    let StoreError::ServerUnreachable { server, .. } = &err else { panic!("{err:?}") };
    assert_eq!(server, &format!("127.0.0.1:{port}/hospital"));
    let msg = err.explain();
    assert!(msg.ja.contains("[store] url") && msg.en.contains("firewall"), "{msg:?}");
    assert!(!format!("{err} {err:?} {msg:?}").contains("secret"), "no password in messages");
    // TLS asked without a CA file: a setup error before any connection.
    let tls = StoreSettings {
        shared: SharedStore::Postgres(PgSettings { url: format!("postgres://onshi@127.0.0.1:{port}/h?sslmode=require"), ca: None }),
        ..settings
    };
    assert!(matches!(Store::open_settings(&tls), Err(StoreError::ServerTls { .. })));
}

/// `sslmode=require` in the URL: TLS through rustls, the server's
/// certificate checked against `[store] ca` (the test cluster's CA); a CA
/// file that did not issue it is refused as a TLS problem, not "unreachable".
#[cfg(unix)]
#[test]
fn postgres_tls_when_the_url_asks() {
    let ca = super::test_engine::pg_cluster().1.unwrap_or_else(|| {
        panic!("{} is not set: `cargo xtask test` sets it with the URL", super::test_engine::PG_CA_VAR)
    });
    let place = Place::new(Engine::Postgres);
    let with = |ca: &std::path::Path| {
        let mut settings = place.settings("受付1");
        if let SharedStore::Postgres(pg) = &mut settings.shared {
            pg.url.push_str("&sslmode=require");
            pg.ca = Some(ca.to_owned());
        }
        settings
    };
    let s = Store::open_settings(&with(&ca)).unwrap();
    let rows = s.db().query("test", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", vec![]).unwrap();
    assert_eq!(rows[0].int(0).unwrap(), 1, "the session is encrypted");
    // The server's own certificate is not the CA that issued it.
    let wrong = ca.with_file_name("server.crt");
    let err = Store::open_settings(&with(&wrong)).err().unwrap();
    assert!(matches!(&err, StoreError::ServerTls { reason, .. } if reason.contains("certificate")), "{err:?}");
    assert!(err.explain().ja.contains("[store] ca"));
    // Plain connections still work on the same server (the URL does not ask).
    assert!(place.open().verify_audit().unwrap().is_intact());
}

/// Schema 7 (issue 17): an SQLite file's audit log from before desks (rows
/// without a `desk`) becomes the file's one chain, keyed `''`, and still
/// verifies; new entries extend it.
#[test]
fn schema_7_keeps_an_old_files_audit_chain() {
    let (_a, mut current) = open_temp();
    for _ in 0..3 {
        current.append_audit(&ts("2026-11-25T09:00:00Z"), &Actor::Cli, Outcome::Ok, &AuditDetail::Config { action: ConfigAction::Check, problems: 0 }).unwrap();
    }
    let rows = current.audit_tail(10).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.sqlite");
    {
        let old = Store::open_with(&path, &MIGRATIONS[..6]).unwrap();
        for e in &rows {
            old.conn
                .execute(
                    "INSERT INTO audit (seq, at, actor, kind, outcome, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    rusqlite::params![e.seq, e.at, e.actor, e.kind, e.outcome, e.detail, e.prev_hash, e.hash],
                )
                .unwrap();
        }
    }
    let mut s = Store::open(&path).unwrap();
    assert_eq!(s.schema_version().unwrap(), known_version());
    let seq = s.append_audit(&ts("2026-11-26T09:00:00Z"), &Actor::Cli, Outcome::Ok, &AuditDetail::Config { action: ConfigAction::Check, problems: 1 }).unwrap();
    assert_eq!(seq, 4);
    let report = s.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.entries, report.chains.len(), report.chains[0].desk.as_str()), (4, 1, ""));
}

/// `doctor`'s look at the shared store reads the version and writes
/// nothing: an empty schema stays empty.
#[cfg(unix)]
#[test]
fn postgres_probe_changes_nothing() {
    let place = Place::new(Engine::Postgres);
    let SharedStore::Postgres(pg) = place.settings("受付1").shared else { panic!("a PostgreSQL place") };
    let (server, version) = Store::probe_shared(&pg).unwrap();
    assert!(server.starts_with("127.0.0.1:") && server.ends_with("/onshi_test"), "{server}");
    assert_eq!(version, 0);
    assert_eq!(Store::probe_shared(&pg).unwrap().1, 0, "still empty after a probe");
    drop(place.open());
    assert_eq!(Store::probe_shared(&pg).unwrap().1, known_version());
}
