//! The real `onshi-sim oqs-folder` binary on a temp folder: req → res, a
//! garbage file → copy + `.err`, and a batch upload/download cycle.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use onshi_core::codes::*;
use onshi_core::message::{BatchUploadBody, Msg, SearchInfo};
use onshi_core::{Encoding, Message, parse_named};
use rusqlite::Connection;

use crate::answer::{download_request, probe_at as probe, request};

struct Sim(Child);
impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, db: &Path) -> Sim {
    let mut child = Command::new(env!("CARGO_BIN_EXE_onshi-sim"))
        .args(["oqs-folder", "--dir"])
        .arg(dir)
        .arg("--db")
        .arg(db)
        .args(["--poll-ms", "50", "--batch-delay-ms", "800"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start onshi-sim");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("oqs-folder ready: "), "{line:?}");
    Sim(child)
}

/// Client-style drop: write under a temp name, then rename into req/.
fn drop_request(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join("req").join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join("req").join(name)).unwrap();
}

fn wait_for(path: &Path) -> Vec<u8> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(b) = std::fs::read(path) {
            return b;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} did not appear within 10 s", path.display());
}

fn setup(name: &str) -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let db = root.join("registry.db");
    // Seeded by the real subcommand, as the demo does.
    let out = Command::new(env!("CARGO_BIN_EXE_onshi-sim"))
        .args(["registry", "seed", "--people", "60", "--seed", "3", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (root.join("share"), db)
}

#[test]
fn individual_request_and_garbage() {
    let (dir, db) = setup("folder-individual");
    let _sim = start(&dir, &db);
    assert!(dir.join("face").is_dir());
    let conn = Connection::open(&db).unwrap();
    let (name, kana): (String, String) =
        conn.query_row("SELECT name_returned, name_kana FROM people WHERE case_tag = 'name_outside_jis'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();

    let req = Message::IndividualRequest(request(probe(&db, "name_outside_jis"))).write(Encoding::ShiftJis);
    drop_request(&dir, "OQSsiquc01req_202611250001.xml", &req);
    let res_path = dir.join("res/OQSsiquc01res_202611250001.xml");
    let bytes = wait_for(&res_path);
    let parsed = parse_named("OQSsiquc01res_202611250001.xml", &bytes).unwrap();
    assert_eq!(parsed.encoding, Encoding::ShiftJis);
    let Message::IndividualResult(m) = parsed.message else { panic!("not a result") };
    assert_eq!(m.body.qualification_validity, Some(QualificationValidity::Valid));
    assert_eq!(m.body.results.len(), 1);
    assert_eq!(m.body.results[0].name.as_deref(), Some(name.as_str()));
    assert!(name.contains('●'));
    assert_eq!(m.body.results[0].name_kana.as_deref(), Some(kana.as_str()));
    // The request is removed once answered.
    let start = Instant::now();
    while dir.join("req/OQSsiquc01req_202611250001.xml").exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!dir.join("req/OQSsiquc01req_202611250001.xml").exists());

    // Garbage, then an empty file: both refused, and the watcher carries on.
    drop_request(&dir, "OQSsiquc01req_202611250002.xml", b"this is not xml");
    let err = wait_for(&dir.join("res/OQSsiquc01req_202611250002.err"));
    assert_eq!(std::fs::read(dir.join("res/OQSsiquc01req_202611250002.xml")).unwrap(), b"this is not xml");
    let Message::Rejection(r) = parse_named("OQSsiquc01req_202611250002.err", &err).unwrap().message else { panic!() };
    assert_eq!(r.code, onshi_sim::answer::codes::MALFORMED);
    std::fs::write(dir.join("req/OQSsiquc01req_202611250003.xml"), b"").unwrap();
    wait_for(&dir.join("res/OQSsiquc01req_202611250003.err"));
    drop_request(&dir, "OQSsiquc01req_202611250004.xml", &req);
    wait_for(&dir.join("res/OQSsiquc01res_202611250004.xml"));
    // No temp file is left behind in res/.
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("res")).unwrap().filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with('.')).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn batch_upload_then_download_in_progress_then_done() {
    let (dir, db) = setup("folder-batch");
    let _sim = start(&dir, &db);
    let searches = vec![probe(&db, "valid"), probe(&db, "no_match"), probe(&db, "lost_death")];
    let header = request(SearchInfo::default()).header;
    let upload = Message::BatchUploadRequest(Msg { header, body: BatchUploadBody { searches } });
    drop_request(&dir, "OQSmuquc01req_202611250010.xml", &upload.write(Encoding::ShiftJis));
    let ack = wait_for(&dir.join("res/OQSmuquc01res_202611250010.xml"));
    let Message::BatchUploadResult(ack) = parse_named("OQSmuquc01res_202611250010.xml", &ack).unwrap().message else { panic!() };
    let reception = ack.body.reception_number.clone().expect("reception number");

    let download = download_request(&reception);
    let fetch = |seq: u32| {
        let name = format!("OQSmuquc02req_20261125{seq:04}.xml");
        drop_request(&dir, &name, &download);
        let res = name.replacen("req", "res", 1);
        let bytes = wait_for(&dir.join("res").join(&res));
        let Message::BatchDownloadResult(m) = parse_named(&res, &bytes).unwrap().message else { panic!() };
        m
    };
    let first = fetch(11);
    assert_eq!(first.header.segment_of_result, Some(SegmentOfResult::InProgress));
    assert!(first.body.units.is_empty());
    std::thread::sleep(Duration::from_millis(900));
    let done = fetch(12);
    assert_eq!(done.header.segment_of_result, Some(SegmentOfResult::Normal));
    assert_eq!(done.header.reception_number.as_deref(), Some(reception.as_str()));
    let v: Vec<_> = done.body.units.iter().map(|u| u.qualification_validity.clone()).collect();
    assert_eq!(v, [Some(QualificationValidity::Valid), Some(QualificationValidity::NoMatch), Some(QualificationValidity::Invalid)]);
}

#[test]
fn face_pushes_a_card_result_into_face_and_refuses_unregistered_cards() {
    let (dir, db) = setup("face");
    let face = |person: &str| {
        Command::new(env!("CARGO_BIN_EXE_onshi-sim"))
            .args(["face", "--person", person, "--limit-consent", "--dir"])
            .arg(&dir)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap()
    };
    let out = face("P0001");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let name = path.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with("OQSsiquc01res_face_0110113719_") && name.ends_with(".xml"), "{name}");
    assert_eq!(name.len(), "OQSsiquc01res_face_0110113719_".len() + 14 + 4, "{name}");
    let Message::FaceResult(m) = parse_named(&name, &std::fs::read(&path).unwrap()).unwrap().message else { panic!("not a face result") };
    assert_eq!(m.header.reference_classification, Some(ReferenceClassification::Card));
    assert_eq!(m.body.qualification_validity, Some(QualificationValidity::Valid));
    assert_eq!(m.body.results.len(), 1);
    // Nothing else (no temp file) is left in face/.
    assert_eq!(std::fs::read_dir(dir.join("face")).unwrap().count(), 1);

    // Card not registered for insurance use, and nobody: refused with a message saying so.
    for (person, ja) in [("P0003", "利用登録"), ("Z9999", "該当する資格情報がありません")] {
        let out = face(person);
        assert!(!out.status.success(), "{person}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(ja), "{person}: {}", String::from_utf8_lossy(&out.stderr));
    }
    assert_eq!(std::fs::read_dir(dir.join("face")).unwrap().count(), 1);
}

/// The folder answers the other request kinds too: a reference number
/// registered through `req/` (the registry is opened writable for it) and a
/// medication request for someone without consent refused with an `.err`.
#[test]
fn registration_is_stored_and_history_without_consent_is_refused() {
    use onshi_core::message::{InfoRequestBody, MessageHeader, Registration};
    let (dir, db) = setup("folder-info");
    let _sim = start(&dir, &db);
    let valid = probe(&db, "valid");
    let reg = Message::RegistrationRequest(Msg {
        header: request(SearchInfo::default()).header,
        body: Registration { search: Some(valid), reference_number: Some("K-77".into()), ..Default::default() },
    });
    drop_request(&dir, "OQSsiimm01req_202611250001.xml", &reg.write(Encoding::ShiftJis));
    let bytes = wait_for(&dir.join("res/OQSsiimm01res_202611250001.xml"));
    let Message::RegistrationResult(r) = parse_named("OQSsiimm01res_202611250001.xml", &bytes).unwrap().message else { panic!("not a registration result") };
    assert_eq!(r.body.processing_result_status, Some(ProcessingResultStatus::Normal));
    let conn = Connection::open(&db).unwrap();
    let stored: String = conn.query_row("SELECT reference_number FROM reference_numbers", [], |r| r.get(0)).unwrap();
    assert_eq!(stored, "K-77");

    // Someone whose medication consent is absent ("0" in the seed).
    let (insurer, symbol, number, branch, birthdate): (String, Option<String>, String, Option<String>, String) = conn
        .query_row(
            "SELECT q.insurer_number, q.symbol, q.number, q.branch, p.birthdate FROM people p
               JOIN qualifications q ON q.person_id = p.person_id JOIN consents c ON c.person_id = p.person_id
              WHERE p.case_tag = 'valid' AND q.branch IS NOT NULL AND c.kind = 'pharmacist' AND c.flag = '0' LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap();
    let med = Message::MedicationRequest(Msg {
        header: MessageHeader {
            medical_institution_code: Some("0110113719".into()),
            insurer_number: Some(insurer),
            insurance_card_symbol: symbol,
            insured_person_identification_number: Some(number),
            branch_number: branch,
            birthdate: Some(birthdate),
            file_category: Some(FileCategory::Xml),
            // Viewing requests say where the patient is treated (issue 16).
            medical_treatment_flag: Some(onshi_core::codes::MedicalTreatmentFlag::Outpatient),
            ..Default::default()
        },
        body: InfoRequestBody::default(),
    });
    drop_request(&dir, "YZKsiquc01req_202611250002.xml", &med.write(Encoding::ShiftJis));
    let err = wait_for(&dir.join("res/YZKsiquc01req_202611250002.err"));
    let Message::Rejection(r) = parse_named("YZKsiquc01req_202611250002.err", &err).unwrap().message else { panic!("not a rejection") };
    assert_eq!(r.code, onshi_sim::answer::codes::NO_CONSENT);
    assert!(r.message.contains("同意") && r.message.contains("agree"), "{}", r.message);
}
