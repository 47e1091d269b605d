//! The registry's answer logic: every probe of the seeded registry gets the
//! QualificationValidity and match count it lists; number forms that differ
//! only in width, padding or spaces match; a bad request gets an error result.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use onshi_core::Message;
use onshi_core::codes::*;
use onshi_core::message::{IndividualRequestBody, MessageHeader, Msg, ReceptionBody, SearchInfo};
use onshi_core::{Encoding, parse};
use onshi_sim::answer::{self, Answer, BatchStatus, Batches};
use onshi_sim::registry;
use rusqlite::Connection;

pub const NOW: &str = "20261125093000";

/// One seeded registry per test run.
pub fn registry_db() -> PathBuf {
    static DB: OnceLock<PathBuf> = OnceLock::new();
    DB.get_or_init(|| {
        let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("answer-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&p);
        registry::seed(&p, 120, 7).expect("seed");
        p
    })
    .clone()
}

/// The first probe of case `tag` in the registry at `db`.
pub fn probe_at(db: &Path, tag: &str) -> SearchInfo {
    let conn = Connection::open(db).unwrap();
    registry::probe_searches(&conn, registry::Probes::Tag(tag)).unwrap().remove(0)
}

/// The `OQSmuquc02req` that asks for the results of batch `reception`
/// (Shift_JIS, as terminals send it).
pub fn download_request(reception: &str) -> Vec<u8> {
    Message::BatchDownloadRequest(Msg {
        header: MessageHeader {
            medical_institution_code: Some("0110113719".into()),
            reception_number: Some(reception.to_string()),
            ..Default::default()
        },
        body: ReceptionBody::default(),
    })
    .write(Encoding::ShiftJis)
}

pub fn request(search: SearchInfo) -> Msg<IndividualRequestBody> {
    Msg {
        header: MessageHeader {
            qualification_confirmation_date: Some(NOW[..8].into()),
            medical_institution_code: Some("0110113719".into()),
            arbitrary_file_identifier: Some("desk1".into()),
            ..Default::default()
        },
        body: IndividualRequestBody { search: Some(search) },
    }
}

struct Probe {
    tag: String,
    search: SearchInfo,
    validity: String,
    people: usize,
}

fn probes(conn: &Connection) -> Vec<Probe> {
    let mut stmt = conn
        .prepare("SELECT case_tag, insurer_number, symbol, number, branch, birthdate, expected_validity, expected_people FROM probes ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Probe {
            tag: r.get(0)?,
            search: SearchInfo {
                insurer_number: r.get(1)?,
                insured_card_symbol: r.get(2)?,
                insured_identification_number: r.get(3)?,
                insured_branch_number: r.get(4)?,
                birthdate: r.get(5)?,
                limit_consent: Some(ConsentFlag::Given),
                ..Default::default()
            },
            validity: r.get::<_, i64>(6)?.to_string(),
            people: r.get::<_, i64>(7)? as usize,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

pub struct NoBatches;
impl Batches for NoBatches {
    fn next_reception(&mut self, now: &str) -> String {
        answer::reception_number(now, 1)
    }
    fn status(&self, _: &str) -> Option<BatchStatus<'_>> {
        None
    }
    fn keep_registrations(&mut self, _: String, _: onshi_core::message::Msg<onshi_core::message::BulkRegistrationBody>) {}
    fn registrations(&self, _: &str) -> Option<std::sync::Arc<onshi_core::message::Msg<onshi_core::message::BulkRegistrationBody>>> {
        None
    }
}

#[test]
fn every_probe_gets_its_validity_and_match_count() {
    let conn = Connection::open(registry_db()).unwrap();
    let probes = probes(&conn);
    assert!(probes.len() >= 40, "{} probes", probes.len());
    let mut seen = std::collections::BTreeSet::new();
    for p in &probes {
        // Through the whole path: written, read back by core, answered, written, parsed.
        let bytes = Message::IndividualRequest(request(p.search.clone())).write(Encoding::ShiftJis);
        let out = match answer::answer(&conn, "OQSsiquc01req_202611250001.xml", &bytes, NOW, Encoding::ShiftJis, &mut NoBatches) {
            Answer::Reply(m) => m,
            other => panic!("probe {} refused: {other:?}", p.tag),
        };
        let parsed = parse(&out.write(Encoding::ShiftJis)).unwrap();
        assert!(!onshi_core::diag::has_errors(&parsed.diagnostics), "{}: {:?}", p.tag, parsed.diagnostics);
        let Message::IndividualResult(m) = parsed.message else { panic!("{}: not a result", p.tag) };
        assert_eq!(m.header.segment_of_result, Some(SegmentOfResult::Normal));
        assert_eq!(m.body.processing_result_status, Some(ProcessingResultStatus::Normal));
        let validity = m.body.qualification_validity.as_ref().map(|v| v.code().to_string());
        assert_eq!(validity.as_deref(), Some(p.validity.as_str()), "probe {}", p.tag);
        assert_eq!(m.body.results.len(), p.people, "probe {}", p.tag);
        seen.insert(p.validity.clone());
        for q in &m.body.results {
            assert!(q.name_kana.as_deref().is_some_and(|k| k.chars().all(|c| !('ァ'..='ヶ').contains(&c))), "{}: half-width kana", p.tag);
            match p.validity.as_str() {
                "2" | "3" => {
                    assert!(q.reason_of_loss.is_some() && q.disqualification_date.is_some(), "{}", p.tag);
                }
                "6" => assert!(!q.public_expense.is_empty(), "{}: medical ticket", p.tag),
                _ => {}
            }
            if p.tag == "limit_category" {
                assert!(q.limit.as_ref().is_some_and(|l| l.classification_flag.as_ref().is_some_and(|f| f.is_known())), "{}", p.tag);
            }
            if p.tag == "specific_disease" {
                assert_eq!(q.specific_diseases.len(), 1);
            }
            if p.tag == "name_outside_jis" {
                assert_eq!(q.name.as_deref(), Some("●田\u{3000}●志"));
            }
            if p.tag == "name_small_kana" {
                assert_eq!(q.name_kana.as_deref(), Some("ﾔﾏﾀﾞ ｼﾞﾕﾘ"));
            }
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["1", "2", "3", "4", "5", "6"]);
}

fn probe(conn: &Connection, tag: &str) -> SearchInfo {
    probes(conn).into_iter().find(|p| p.tag == tag).unwrap().search
}

fn validity(conn: &Connection, search: SearchInfo) -> (QualificationValidity, usize) {
    let r = answer::individual(conn, &request(search), NOW, Encoding::Utf8).unwrap();
    (r.body.qualification_validity.unwrap(), r.body.results.len())
}

#[test]
fn six_digit_insurer_matches_padded_or_not_and_is_returned_padded() {
    let conn = Connection::open(registry_db()).unwrap();
    let mut s = probe(&conn, "national_health_6digit");
    let bare = s.insurer_number.clone().unwrap();
    assert_eq!(bare.len(), 6);
    assert_eq!(validity(&conn, s.clone()), (QualificationValidity::Valid, 1));
    s.insurer_number = Some(format!("  {bare}"));
    assert_eq!(validity(&conn, s.clone()), (QualificationValidity::Valid, 1));
    let r = answer::individual(&conn, &request(s), NOW, Encoding::Utf8).unwrap();
    assert_eq!(r.body.results[0].insurer_number.as_deref(), Some(format!("  {bare}").as_str()));
}

#[test]
fn full_width_number_symbol_and_hyphen_variants_match() {
    let conn = Connection::open(registry_db()).unwrap();
    let mut s = probe(&conn, "national_health_6digit");
    let wide = |t: &str| t.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c }).collect::<String>();
    s.insured_identification_number = s.insured_identification_number.as_deref().map(wide);
    // The symbol is "あ-NN": a full-width hyphen-minus and spaces must not matter.
    s.insured_card_symbol = s.insured_card_symbol.as_deref().map(|t| format!(" {} ", wide(&t.replace('-', "－"))));
    assert_eq!(validity(&conn, s.clone()), (QualificationValidity::Valid, 1));
    s.insured_identification_number = Some("99999".into());
    assert_eq!(validity(&conn, s).0, QualificationValidity::NoMatch);
}

#[test]
fn limit_category_only_with_consent() {
    let conn = Connection::open(registry_db()).unwrap();
    let mut s = probe(&conn, "limit_category");
    s.limit_consent = Some(ConsentFlag::None);
    let r = answer::individual(&conn, &request(s), NOW, Encoding::Utf8).unwrap();
    assert!(r.body.results[0].limit.is_none());
}

#[test]
fn malformed_or_invalid_request_gets_an_error_result() {
    let conn = Connection::open(registry_db()).unwrap();
    // Not XML at all.
    match answer::answer(&conn, "OQSsiquc01req_1.xml", b"garbage", NOW, Encoding::Utf8, &mut NoBatches) {
        Answer::Refused { refusal, result } => {
            assert_eq!(refusal.code, answer::codes::MALFORMED);
            let Message::IndividualResult(m) = result else { panic!() };
            assert_eq!(m.body.processing_result_status, Some(ProcessingResultStatus::Error));
            assert_eq!(m.body.processing_result_code.as_deref(), Some(answer::codes::MALFORMED));
        }
        other => panic!("{other:?}"),
    }
    // Well-formed, but the insurer number's check digit is wrong and the birthdate is missing.
    let mut s = probe(&conn, "valid");
    let mut n = s.insurer_number.clone().unwrap();
    let last = n.pop().unwrap();
    n.push(if last == '0' { '1' } else { '0' });
    s.insurer_number = Some(n);
    s.birthdate = None;
    let bytes = Message::IndividualRequest(request(s)).write(Encoding::ShiftJis);
    match answer::answer(&conn, "OQSsiquc01req_2.xml", &bytes, NOW, Encoding::ShiftJis, &mut NoBatches) {
        Answer::Refused { refusal, result } => {
            assert_eq!(refusal.code, answer::codes::INVALID);
            let Message::IndividualResult(m) = result else { panic!() };
            assert_eq!(m.body.processing_result_status, Some(ProcessingResultStatus::Error));
            assert_eq!(m.header.medical_institution_code.as_deref(), Some("0110113719"), "header echoed");
            // The .err content reads back through core.
            let err = refusal.rejection().write(Encoding::ShiftJis);
            let back = onshi_core::parse_named("OQSsiquc01req_2.err", &err).unwrap();
            let Message::Rejection(r) = back.message else { panic!() };
            assert_eq!(r.code, answer::codes::INVALID);
        }
        other => panic!("{other:?}"),
    }
    // Empty.
    assert!(matches!(
        answer::answer(&conn, "OQSsiquc01req_3.xml", b"", NOW, Encoding::Utf8, &mut NoBatches),
        Answer::Refused { refusal, .. } if refusal.code == answer::codes::UNREADABLE
    ));
}

#[test]
fn batch_in_progress_then_units() {
    let conn = Connection::open(registry_db()).unwrap();
    let ps = probes(&conn);
    let upload = Msg {
        header: request(SearchInfo::default()).header,
        body: onshi_core::message::BatchUploadBody { searches: ps.iter().map(|p| p.search.clone()).collect() },
    };
    let ack = answer::batch_accepted(&upload, "R2026112500001", NOW, Encoding::Utf8);
    assert_eq!(ack.body.reception_number.as_deref(), Some("R2026112500001"));
    let dl = MessageHeader { medical_institution_code: Some("0110113719".into()), ..Default::default() };
    let wait = answer::batch_result(&conn, &upload, &dl, "R2026112500001", false, NOW, Encoding::Utf8).unwrap();
    assert_eq!(wait.header.segment_of_result, Some(SegmentOfResult::InProgress));
    assert!(wait.body.units.is_empty());
    let done = answer::batch_result(&conn, &upload, &dl, "R2026112500001", true, NOW, Encoding::Utf8).unwrap();
    assert_eq!(done.header.segment_of_result, Some(SegmentOfResult::Normal));
    assert_eq!(done.body.units.len(), ps.len());
    for (u, p) in done.body.units.iter().zip(&ps) {
        assert_eq!(u.qualification_validity.as_ref().map(|v| v.code()), Some(p.validity.as_str()), "{}", p.tag);
    }
    let parsed = parse(&Message::BatchDownloadResult(done).write(Encoding::ShiftJis)).unwrap();
    assert!(!onshi_core::diag::has_errors(&parsed.diagnostics), "{:?}", parsed.diagnostics);
}

fn batch_upload(conn: &Connection, tags: &[&str]) -> Vec<u8> {
    let searches = tags.iter().map(|t| probe(conn, t)).collect();
    Message::BatchUploadRequest(Msg { header: request(SearchInfo::default()).header, body: onshi_core::message::BatchUploadBody { searches } })
        .write(Encoding::ShiftJis)
}

fn segment(a: Answer) -> SegmentOfResult {
    let bytes = match a {
        Answer::Reply(m) => m.write(Encoding::Utf8),
        Answer::Written(answer::Written(b)) => b.to_vec(),
        other => panic!("not a batch result: {other:?}"),
    };
    let Message::BatchDownloadResult(m) = parse(&bytes).unwrap().message else { panic!("not a batch result") };
    m.header.segment_of_result.unwrap()
}

/// A batch handed to a background worker stays "processing" until the
/// worker has written it *and* the configured delay has passed; then the
/// download is the written bytes; a worker's failure reaches the download.
#[test]
fn a_background_batch_is_processing_until_written_and_due() {
    use onshi_sim::folder::BatchBook;
    use std::time::Duration;
    let conn = Connection::open(registry_db()).unwrap();
    let upload = batch_upload(&conn, &["valid", "no_match", "lost_death"]);
    let accept = |book: &mut BatchBook| match answer::answer(&conn, "OQSmuquc01req_1.xml", &upload, NOW, Encoding::Utf8, book) {
        Answer::Accepted { reception, batch, .. } => {
            let (batch, slot) = book.insert_background(reception.clone(), *batch);
            (reception, batch, slot)
        }
        other => panic!("{other:?}"),
    };
    let download = |book: &mut BatchBook, reception: &str| {
        answer::answer(&conn, "OQSmuquc02req_1.xml", &download_request(reception), NOW, Encoding::Utf8, book)
    };

    // No delay: processing until written, then the written document.
    let mut book = BatchBook::new(Duration::ZERO);
    let (reception, batch, slot) = accept(&mut book);
    assert_eq!(segment(download(&mut book, &reception)), SegmentOfResult::InProgress);
    let units = answer::batch_units(&conn, &batch.upload.header, &batch.upload.body.searches, NOW).unwrap();
    let written = answer::written_batch(units, &batch, &reception, NOW, Encoding::Utf8);
    slot.fill(Ok(written.clone()));
    match download(&mut book, &reception) {
        Answer::Written(w) => assert_eq!(w, written, "the very bytes written once"),
        other => panic!("{other:?}"),
    }
    let Message::BatchDownloadResult(m) = parse(&written.0).unwrap().message else { panic!() };
    assert_eq!(m.header.number_of_processing_result.as_deref(), Some("3"));
    assert_eq!(m.header.reception_number.as_deref(), Some(reception.as_str()));
    let v: Vec<_> = m.body.units.iter().map(|u| u.qualification_validity.clone().unwrap()).collect();
    assert_eq!(v, [QualificationValidity::Valid, QualificationValidity::NoMatch, QualificationValidity::Invalid]);

    // Written, but the configured delay is not over: still processing.
    let mut slow = BatchBook::new(Duration::from_secs(600));
    let (reception, _, slot) = accept(&mut slow);
    slot.fill(Ok(written));
    assert_eq!(segment(download(&mut slow, &reception)), SegmentOfResult::InProgress);

    // The worker could not read the registry: the download is refused with its code.
    let (reception, _, slot) = accept(&mut book);
    slot.fill(Err(answer::Refusal::new(answer::codes::REGISTRY, "読めません", "unreadable")));
    assert!(matches!(download(&mut book, &reception), Answer::Refused { refusal, .. } if refusal.code == answer::codes::REGISTRY));
}

/// With a certified institution (the gateway's client certificate), a
/// request for another institution is refused with EQ1006, and another
/// institution's batch is answered like a number never issued (EQ1005).
#[test]
fn a_certified_caller_may_ask_only_for_its_own_institution() {
    use onshi_sim::folder::BatchBook;
    let conn = Connection::open(registry_db()).unwrap();
    let individual = Message::IndividualRequest(request(probe(&conn, "valid"))).write(Encoding::ShiftJis);
    let code = |a: Answer| match a {
        Answer::Refused { refusal, result: Message::IndividualResult(m) } => {
            assert_eq!(m.body.processing_result_code.as_deref(), Some(refusal.code));
            assert_eq!(m.header.medical_institution_code.as_deref(), Some("0110113719"), "header echoed");
            refusal.code
        }
        Answer::Reply(_) | Answer::Accepted { .. } | Answer::Written(_) => "ok",
        other => panic!("{other:?}"),
    };
    let mut book = BatchBook::new(std::time::Duration::ZERO);
    let mut ask = |bytes: &[u8], certified: Option<&str>| {
        answer::answer_certified(&conn, "OQSsiquc01req_1.xml", bytes, NOW, Encoding::Utf8, &mut book, certified)
    };
    assert_eq!(code(ask(&individual, Some("0110113719"))), "ok");
    assert_eq!(code(ask(&individual, Some(" 0110113719"))), "ok", "compared by the number rules");
    assert_eq!(code(ask(&individual, None)), "ok", "nothing vouches: nothing to compare (the OQS folder)");
    assert_eq!(code(ask(&individual, Some("1311123457"))), answer::codes::INSTITUTION_MISMATCH);
    assert_eq!(code(ask(&individual, Some(""))), answer::codes::INSTITUTION_MISMATCH, "a certificate without a code");

    let upload = batch_upload(&conn, &["valid"]);
    let accepted = answer::answer_certified(&conn, "OQSmuquc01req_1.xml", &upload, NOW, Encoding::Utf8, &mut book, Some("0110113719"));
    let Answer::Accepted { reception, batch, .. } = accepted else { panic!("{accepted:?}") };
    book.insert(reception.clone(), *batch);
    let mut theirs = parse(&download_request(&reception)).unwrap().message;
    if let Message::BatchDownloadRequest(m) = &mut theirs {
        m.header.medical_institution_code = Some("1311123457".into());
    }
    let theirs = theirs.write(Encoding::ShiftJis);
    let mut ask = |bytes: &[u8], certified: &str| {
        match answer::answer_certified(&conn, "OQSmuquc02req_1.xml", bytes, NOW, Encoding::Utf8, &mut book, Some(certified)) {
            Answer::Refused { refusal, .. } => refusal.code,
            Answer::Reply(Message::BatchDownloadResult(_)) => "ok",
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(ask(&theirs, "1311123457"), answer::codes::UNKNOWN_RECEPTION);
    assert_eq!(ask(&download_request(&reception), "0110113719"), "ok");
}

/// A batch result written in slices on several threads and spliced is the
/// very document written in one piece, in both encodings (every probe case,
/// repeated so that slices hold several units each).
#[test]
fn a_batch_written_in_parts_is_the_document_written_whole() {
    use onshi_sim::answer::PendingBatch;
    let conn = Connection::open(registry_db()).unwrap();
    let one_of_each: Vec<SearchInfo> = probes(&conn).into_iter().map(|p| p.search).collect();
    let searches: Vec<SearchInfo> = one_of_each.iter().cycle().take(130).cloned().collect();
    let batch = PendingBatch { upload: Msg { header: request(SearchInfo::default()).header, body: onshi_core::message::BatchUploadBody { searches } } };
    let units = answer::batch_units(&conn, &batch.upload.header, &batch.upload.body.searches, NOW).unwrap();
    for encoding in [Encoding::ShiftJis, Encoding::Utf8] {
        let whole = answer::written_in_parts(units.clone(), &batch, "R2026112500001", NOW, encoding, 1);
        for parts in [2, 3, 7, 130, 500] {
            let spliced = answer::written_in_parts(units.clone(), &batch, "R2026112500001", NOW, encoding, parts);
            assert!(spliced == whole, "{parts} parts, {encoding:?}: {} vs {} bytes", spliced.0.len(), whole.0.len());
        }
        let Message::BatchDownloadResult(m) = parse(&whole.0).unwrap().message else { panic!() };
        assert_eq!((m.body.units.len(), m.header.number_of_processing_result.as_deref()), (130, Some("130")));
    }
}
