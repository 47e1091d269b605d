//! Consent-gated history (`YZKsiquc01req`, `TKKsiquc01req`) and reference
//! number registration (`OQSsiimm01req`), through the same entry point the
//! gateway and the OQS folder use: each case is a person picked from the
//! seeded registry by their consent state, and the answer or refusal code
//! it must get.

use onshi_core::codes::*;
use onshi_core::message::{InfoRequestBody, IndividualRequestBody, MessageHeader, Msg, Registration, SearchInfo};
use onshi_core::{Encoding, Message};
use onshi_sim::answer::{self, Answer, codes};
use rusqlite::{Connection, params};

use crate::answer::{NOW, NoBatches, probe_at, registry_db};

const INSTITUTION: &str = "0110113719";

/// The insurance key of a person with a still-valid single qualification
/// whose consent of `kind` has flag `flag` (`1` given, `2` expired, `0` none).
fn person_with(conn: &Connection, kind: &str, flag: &str) -> (String, SearchInfo) {
    conn.query_row(
        "SELECT p.person_id, q.insurer_number, q.symbol, q.number, q.branch, p.birthdate
           FROM people p JOIN qualifications q ON q.person_id = p.person_id JOIN consents c ON c.person_id = p.person_id
          WHERE p.case_tag IN ('valid', 'family_member') AND q.disqualification_date IS NULL AND q.branch IS NOT NULL
            AND c.kind = ?1 AND c.flag = ?2
            AND (SELECT count(*) FROM qualifications o WHERE o.person_id = p.person_id) = 1
          ORDER BY p.person_id LIMIT 1",
        params![kind, flag],
        |r| {
            Ok((
                r.get(0)?,
                SearchInfo {
                    insurer_number: r.get(1)?,
                    insured_card_symbol: r.get(2)?,
                    insured_identification_number: r.get(3)?,
                    insured_branch_number: r.get(4)?,
                    birthdate: r.get(5)?,
                    ..Default::default()
                },
            ))
        },
    )
    .unwrap_or_else(|e| panic!("the seeded registry has a person with {kind} consent {flag}: {e}"))
}

/// A history request header for `search` (the key under its header names).
fn info_header(search: &SearchInfo, months: Option<(&str, &str)>, category: FileCategory) -> MessageHeader {
    MessageHeader {
        medical_institution_code: Some(INSTITUTION.into()),
        insurer_number: search.insurer_number.clone(),
        insurance_card_symbol: search.insured_card_symbol.clone(),
        insured_person_identification_number: search.insured_identification_number.clone(),
        branch_number: search.insured_branch_number.clone(),
        birthdate: search.birthdate.clone(),
        start_date: months.map(|m| m.0.into()),
        end_date: months.map(|m| m.1.into()),
        file_category: Some(category),
        medical_treatment_flag: Some(MedicalTreatmentFlag::Outpatient),
        ..Default::default()
    }
}

fn ask(conn: &Connection, name: &str, msg: Message) -> Answer {
    answer::answer(conn, name, &msg.write(Encoding::ShiftJis), NOW, Encoding::ShiftJis, &mut NoBatches)
}

/// What an answer came to: `Ok(kind of reply)` or `Err(refusal code)`.
fn outcome(a: &Answer) -> Result<onshi_core::message::Kind, &'static str> {
    match a {
        Answer::Reply(m) => Ok(m.kind()),
        Answer::Refused { refusal, result } => {
            // The error result carries the code, and the message says what to do in both languages.
            let Message::IndividualResult(r) = result else { panic!("not an error result: {result:?}") };
            assert_eq!(r.body.processing_result_code.as_deref(), Some(refusal.code));
            assert!(!refusal.message.ja.is_empty() && !refusal.message.en.is_empty());
            Err(refusal.code)
        }
        other => panic!("unexpected answer {other:?}"),
    }
}

#[test]
fn history_only_while_the_matching_consent_is_valid() {
    use onshi_core::message::Kind::{CheckupResult, MedicationResult};
    let db = registry_db();
    let conn = Connection::open(&db).unwrap();
    let nobody = probe_at(&db, "no_match");
    let twins = probe_at(&db, "several_matches");
    let lost = probe_at(&db, "lost_death");
    let med = |s: &SearchInfo| Message::MedicationRequest(Msg { header: info_header(s, Some(("202501", "202612")), FileCategory::Xml), body: InfoRequestBody::default() });
    let chk = |s: &SearchInfo| Message::CheckupRequest(Msg { header: info_header(s, None, FileCategory::Xml), body: InfoRequestBody::default() });
    let pdf = |s: &SearchInfo| Message::MedicationRequest(Msg { header: info_header(s, None, FileCategory::Pdf), body: InfoRequestBody::default() });
    let (_, med_given) = person_with(&conn, "pharmacist", "1");
    let (_, med_expired) = person_with(&conn, "pharmacist", "2");
    let (_, med_none) = person_with(&conn, "pharmacist", "0");
    let (_, chk_given) = person_with(&conn, "health_check", "1");
    let (_, chk_expired) = person_with(&conn, "health_check", "2");
    let (_, chk_none) = person_with(&conn, "health_check", "0");
    let mut broken = med(&med_given);
    if let Message::MedicationRequest(m) = &mut broken {
        m.header.insured_person_identification_number = None;
    }
    let cases: Vec<(&str, Message, Result<onshi_core::message::Kind, &str>)> = vec![
        ("medication, consent valid", med(&med_given), Ok(MedicationResult)),
        ("medication, consent expired", med(&med_expired), Err(codes::CONSENT_EXPIRED)),
        ("medication, no consent", med(&med_none), Err(codes::NO_CONSENT)),
        ("medication, unknown person", med(&nobody), Err(codes::UNKNOWN_PERSON)),
        ("medication, several people", med(&twins), Err(codes::SEVERAL_PEOPLE)),
        ("medication, lost qualification", med(&lost), Err(codes::NOT_QUALIFIED)),
        ("medication, PDF asked", pdf(&med_given), Err(codes::UNSUPPORTED)),
        ("medication, no number", broken, Err(codes::INVALID)),
        ("checkup, consent valid", chk(&chk_given), Ok(CheckupResult)),
        ("checkup, consent expired", chk(&chk_expired), Err(codes::CONSENT_EXPIRED)),
        ("checkup, no consent", chk(&chk_none), Err(codes::NO_CONSENT)),
        ("checkup, unknown person", chk(&nobody), Err(codes::UNKNOWN_PERSON)),
    ];
    for (label, msg, want) in cases {
        let name = if msg.kind() == onshi_core::message::Kind::CheckupRequest { "TKKsiquc01req_1.xml" } else { "YZKsiquc01req_1.xml" };
        assert_eq!(outcome(&ask(&conn, name, msg)), want, "{label}");
    }
    // A malformed document to either prefix is refused as such.
    for name in ["YZKsiquc01req_2.xml", "TKKsiquc01req_2.xml", "OQSsiimm01req_2.xml"] {
        match answer::answer(&conn, name, b"<XmlMsg><", NOW, Encoding::Utf8, &mut NoBatches) {
            Answer::Refused { refusal, .. } => assert_eq!(refusal.code, codes::MALFORMED, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// Issue 16: a viewing request says where the patient is treated; the
/// answer echoes it (home visit stays home visit), and one without it, or
/// with a code no table knows, is refused with a message saying which to use.
#[test]
fn viewing_answers_by_the_treatment_setting() {
    let db = registry_db();
    let conn = Connection::open(&db).unwrap();
    let (_, given) = person_with(&conn, "pharmacist", "1");
    let med = |flag: Option<MedicalTreatmentFlag>| {
        let mut header = info_header(&given, Some(("202501", "202612")), FileCategory::Xml);
        header.medical_treatment_flag = flag;
        Message::MedicationRequest(Msg { header, body: InfoRequestBody::default() })
    };
    for flag in [MedicalTreatmentFlag::Outpatient, MedicalTreatmentFlag::HomeVisit, MedicalTreatmentFlag::Online] {
        let answer = ask(&conn, "YZKsiquc01req_1.xml", med(Some(flag.clone())));
        let Answer::Reply(m) = &answer else { panic!("{flag:?}: {answer:?}") };
        assert_eq!(m.header().and_then(|h| h.medical_treatment_flag.clone()), Some(flag));
    }
    for flag in [None, Some(MedicalTreatmentFlag::Unknown("9".into()))] {
        assert_eq!(outcome(&ask(&conn, "YZKsiquc01req_1.xml", med(flag.clone()))), Err(codes::INVALID), "{flag:?}");
    }
}

#[test]
fn medication_comes_by_month_and_dispensing_date_within_the_range() {
    let conn = Connection::open(registry_db()).unwrap();
    let (person, search) = person_with(&conn, "pharmacist", "1");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM medications WHERE person_id = ?1 AND month BETWEEN '202601' AND '202603'", [&person], |r| r.get(0))
        .unwrap();
    assert!(rows > 0, "the seed gives every consenting person the first quarter of 2026");
    let msg = Message::MedicationRequest(Msg { header: info_header(&search, Some(("202601", "202603")), FileCategory::Xml), body: InfoRequestBody::default() });
    let Answer::Reply(Message::MedicationResult(m)) = ask(&conn, "YZKsiquc01req_3.xml", msg) else { panic!("not a medication result") };
    assert_eq!(m.body.result_code.as_deref(), Some("1"));
    assert_eq!(m.header.insured_person_identification_number, search.insured_identification_number, "the key is echoed");
    let months: Vec<_> = m.body.months.iter().filter_map(|x| x.year_month.clone()).collect();
    assert_eq!(months, ["202603", "202602", "202601"], "newest first, only the asked range");
    let mut drugs = 0;
    for month in &m.body.months {
        for day in &month.days {
            let date = day.date.as_deref().unwrap();
            assert!(date.starts_with(month.year_month.as_deref().unwrap()), "{date} in its month");
            for d in &day.drugs {
                assert!(d.name.is_some() && d.code.as_deref().is_some_and(|c| c.len() == 9));
                assert!(d.days.as_deref().is_some_and(|n| n.parse::<u32>().is_ok()));
                assert!(!d.quantity.as_deref().unwrap_or(".").contains('.'), "whole quantities without .0");
                drugs += 1;
            }
        }
    }
    assert_eq!(drugs, rows, "every dispensed drug of the range, once");
    // The written document reads back as the same kind, without error diagnostics.
    let parsed = onshi_core::parse(&Message::MedicationResult(m).write(Encoding::ShiftJis)).unwrap();
    assert!(matches!(parsed.message, Message::MedicationResult(_)));
    assert!(parsed.diagnostics.iter().all(|d| d.severity != onshi_core::diag::Severity::Error), "{:?}", parsed.diagnostics);
}

#[test]
fn a_health_check_lists_its_measurements_with_judgements() {
    let conn = Connection::open(registry_db()).unwrap();
    let (_, search) = person_with(&conn, "health_check", "1");
    let msg = Message::CheckupRequest(Msg { header: info_header(&search, None, FileCategory::Xml), body: InfoRequestBody::default() });
    let Answer::Reply(Message::CheckupResult(m)) = ask(&conn, "TKKsiquc01req_3.xml", msg) else { panic!("not a checkup result") };
    assert_eq!(m.body.checkups.len(), 1);
    let c = &m.body.checkups[0];
    assert!(c.date.as_deref().is_some_and(|d| d.starts_with("2025")));
    let names: Vec<_> = c.items.iter().filter_map(|i| i.name.as_deref()).collect();
    assert!(names.contains(&"身長") && names.contains(&"収縮期血圧") && names.len() == 7, "{names:?}");
    for i in &c.items {
        if i.name.as_deref() == Some("収縮期血圧") {
            let v: f64 = i.value.as_deref().unwrap().parse().unwrap();
            assert_eq!(i.judgement.is_some(), v >= 130.0, "要注意 from 130 mmHg: {i:?}");
        }
    }
}

fn registration(search: SearchInfo, reference: &str) -> Message {
    Message::RegistrationRequest(Msg {
        header: MessageHeader {
            qualification_confirmation_date: Some(NOW[..8].into()),
            medical_institution_code: Some(INSTITUTION.into()),
            ..Default::default()
        },
        body: Registration { search: Some(search), reference_number: Some(reference.into()), ..Default::default() },
    })
}

#[test]
fn a_registered_reference_number_comes_back_in_later_results() {
    // Registration writes: a registry of its own.
    let db = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("info-reg-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    onshi_sim::registry::seed(&db, 120, 7).unwrap();
    let conn = Connection::open(&db).unwrap();
    let valid = probe_at(&db, "valid");
    let cases: [(&str, Message, Result<onshi_core::message::Kind, &str>); 5] = [
        ("known person", registration(valid.clone(), "K-0001"), Ok(onshi_core::message::Kind::RegistrationResult)),
        ("registered again: replaced", registration(valid.clone(), "K-0002"), Ok(onshi_core::message::Kind::RegistrationResult)),
        ("unknown person", registration(probe_at(&db, "no_match"), "K-0003"), Err(codes::UNKNOWN_PERSON)),
        ("several people", registration(probe_at(&db, "several_matches"), "K-0004"), Err(codes::SEVERAL_PEOPLE)),
        ("reference number too long", registration(valid.clone(), "123456789012345678901"), Err(codes::INVALID)),
    ];
    for (label, msg, want) in cases {
        let a = ask(&conn, "OQSsiimm01req_1.xml", msg);
        assert_eq!(outcome(&a), want, "{label}");
        if let Answer::Reply(Message::RegistrationResult(r)) = &a {
            assert_eq!(r.body.processing_result_status, Some(ProcessingResultStatus::Normal), "{label}");
        }
    }
    // The last registration for the person is what an eligibility check returns.
    let check = Message::IndividualRequest(Msg {
        header: MessageHeader { qualification_confirmation_date: Some(NOW[..8].into()), medical_institution_code: Some(INSTITUTION.into()), ..Default::default() },
        body: IndividualRequestBody { search: Some(valid) },
    });
    let Answer::Reply(Message::IndividualResult(r)) = ask(&conn, "OQSsiquc01req_1.xml", check) else { panic!("not a result") };
    assert_eq!(r.body.results[0].reference_number.as_deref(), Some("K-0002"));
}

/// The bulk form: `OQSmuimm01req` is acknowledged with a reception number,
/// and `OQSmuimm02req` under that number gives one unit per entry in the
/// request's order — the entries nobody can be found for are error units,
/// and the others are registered all the same.
#[test]
fn bulk_registration_registers_each_entry_and_reports_the_rest() {
    use onshi_core::message::{BulkRegistrationBody, Kind, ReceptionBody};
    let db = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("info-bulk-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    onshi_sim::registry::seed(&db, 120, 7).unwrap();
    let conn = Connection::open(&db).unwrap();
    let valid: Vec<SearchInfo> = onshi_sim::registry::probe_searches(&conn, onshi_sim::registry::Probes::Tag("valid")).unwrap();
    assert!(valid.len() >= 2, "the seeded registry has two valid people");
    let entries = [
        (valid[0].clone(), "B-0001"),
        (probe_at(&db, "no_match"), "B-0002"),
        (probe_at(&db, "several_matches"), "B-0003"),
        (valid[1].clone(), "B-0004"),
    ];
    let header = MessageHeader {
        qualification_confirmation_date: Some(NOW[..8].into()),
        medical_institution_code: Some(INSTITUTION.into()),
        ..Default::default()
    };
    let units = entries
        .iter()
        .map(|(s, r)| Registration { search: Some(s.clone()), reference_number: Some((*r).into()), ..Default::default() })
        .collect();
    let upload = Message::BulkRegistrationRequest(Msg { header: header.clone(), body: BulkRegistrationBody { units, ..Default::default() } });
    let mut book = onshi_sim::folder::BatchBook::new(std::time::Duration::ZERO);
    let ask_book = |book: &mut onshi_sim::folder::BatchBook, name: &str, msg: &Message, certified: Option<&str>| {
        answer::answer_certified(&conn, name, &msg.write(Encoding::ShiftJis), NOW, Encoding::ShiftJis, book, certified)
    };

    let Answer::Reply(Message::BatchUploadResult(ack)) = ask_book(&mut book, "OQSmuimm01req_1.xml", &upload, None) else {
        panic!("the bulk registration is acknowledged")
    };
    let reception = ack.body.reception_number.clone().expect("a reception number");
    let download = |reception: &str| {
        Message::BatchDownloadRequest(Msg {
            header: MessageHeader { reception_number: Some(reception.into()), ..header.clone() },
            body: ReceptionBody::default(),
        })
    };
    let a = ask_book(&mut book, "OQSmuimm02req_1.xml", &download(&reception), None);
    let Answer::Reply(Message::BulkRegistrationResult(r)) = &a else { panic!("not a bulk registration result: {a:?}") };
    let got: Vec<(Option<&str>, Option<&str>)> =
        r.body.units.iter().map(|u| (u.reference_number.as_deref(), u.processing_result_code.as_deref())).collect();
    assert_eq!(
        got,
        [
            (Some("B-0001"), None),
            (Some("B-0002"), Some(codes::UNKNOWN_PERSON)),
            (Some("B-0003"), Some(codes::SEVERAL_PEOPLE)),
            (Some("B-0004"), None)
        ]
    );
    assert_eq!(r.body.processing_result_status, Some(ProcessingResultStatus::Error), "some entries failed");
    assert_eq!((r.header.number_of_normal_processing.as_deref(), r.header.number_of_error.as_deref()), (Some("2"), Some("2")));
    // The written result reads back as the same kind under its own name.
    let bytes = Message::BulkRegistrationResult(r.clone()).write(Encoding::ShiftJis);
    assert_eq!(onshi_core::parse_named("OQSmuimm02res_1.xml", &bytes).unwrap().message.kind(), Kind::BulkRegistrationResult);
    // And without its name (a gateway answer has none), despite the batch-like counts in its header.
    assert_eq!(onshi_core::parse(&bytes).unwrap().message.kind(), Kind::BulkRegistrationResult);

    // Both registered entries come back in later checks.
    for (search, reference) in [(&entries[0].0, "B-0001"), (&entries[3].0, "B-0004")] {
        let check = Message::IndividualRequest(Msg { header: header.clone(), body: IndividualRequestBody { search: Some(search.clone()) } });
        let Answer::Reply(Message::IndividualResult(r)) = ask(&conn, "OQSsiquc01req_1.xml", check) else { panic!("not a result") };
        assert_eq!(r.body.results[0].reference_number.as_deref(), Some(reference));
    }
    // The number is a registration's, not a batch check's; an unknown number
    // and another institution asking are both "no such reception".
    assert_eq!(outcome(&ask_book(&mut book, "OQSmuquc02req_1.xml", &download(&reception), None)), Err(codes::UNKNOWN_RECEPTION));
    assert_eq!(outcome(&ask_book(&mut book, "OQSmuimm02req_1.xml", &download("R2026112599999"), None)), Err(codes::UNKNOWN_RECEPTION));
    let other = "1311123457";
    let theirs = Message::BatchDownloadRequest(Msg {
        header: MessageHeader { reception_number: Some(reception.clone()), medical_institution_code: Some(other.into()), ..header.clone() },
        body: ReceptionBody::default(),
    });
    assert_eq!(outcome(&ask_book(&mut book, "OQSmuimm02req_1.xml", &theirs, Some(other))), Err(codes::UNKNOWN_RECEPTION));
}
