//! Every message fixture parses; its JSON form is kept next to it as
//! `<name>.expected.json` (update with `UPDATE_EXPECT=1 cargo test -p onshi-core`);
//! the Shift_JIS copy reads to the same message as the UTF-8 one.

use onshi_core::message::{parse_named, Message};
use onshi_core::summary::{summarize_message, Outcome};
use onshi_core::{Encoding, Severity};

use crate::{fixture_dir, fixture_files};

fn name_of(p: &std::path::Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_fixture_matches_its_snapshot() {
    let files: Vec<_> = fixture_files("messages", ".xml").into_iter().chain(fixture_files("messages", ".err")).collect();
    assert!(files.len() >= 36, "fixtures missing: {}", files.len());
    for path in files {
        let name = name_of(&path);
        let bytes = std::fs::read(&path).unwrap();
        let parsed = parse_named(&name, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let snapshot = serde_json::json!({
            "kind": parsed.message.kind(),
            "encoding": parsed.encoding,
            "diagnostics": parsed.diagnostics.iter().map(|d| format!("{:?} {} {}", d.severity, d.code, d.path)).collect::<Vec<_>>(),
            "summary": summarize_message(&parsed.message).iter().map(|s| format!("{:?}: {}", s.outcome, s.reason.ja)).collect::<Vec<_>>(),
            "message": parsed.message,
        });
        let text = serde_json::to_string_pretty(&snapshot).unwrap() + "\n";
        let stem = name.trim_end_matches(".xml").trim_end_matches(".err");
        expect_test::expect_file![fixture_dir("messages").join(format!("{stem}.expected.json"))].assert_eq(&text);
    }
}

#[test]
fn shift_jis_and_utf8_copies_read_the_same() {
    for utf8 in fixture_files("messages", ".utf8.xml") {
        let sjis = utf8.with_file_name(name_of(&utf8).replace(".utf8.xml", ".sjis.xml"));
        if !sjis.exists() {
            continue;
        }
        let name = name_of(&utf8);
        let a = parse_named(&name, &std::fs::read(&utf8).unwrap()).unwrap();
        let b = parse_named(&name, &std::fs::read(&sjis).unwrap()).unwrap();
        assert_eq!((a.encoding, b.encoding), (Encoding::Utf8, Encoding::ShiftJis));
        assert_eq!(a.message, b.message, "{name}");
        assert_eq!(a.diagnostics, b.diagnostics, "{name}");
    }
}

fn load(name: &str) -> onshi_core::Parsed {
    let path = fixture_dir("messages").join(name);
    parse_named(name, &std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn cp932_characters_survive_in_names_and_addresses() {
    let parsed = load("OQSsiquc01res_202504010001.sjis.xml");
    let Message::IndividualResult(m) = parsed.message else { panic!("kind") };
    let q = &m.body.results[0];
    assert_eq!(q.name.as_deref(), Some("髙橋　一郎"));
    assert!(q.address.as_deref().unwrap().contains('①'));
    assert_eq!(q.name_kana.as_deref(), Some("ﾀｶﾊｼ ｲﾁﾛｳ"));
}

#[test]
fn declaration_less_shift_jis_is_read_with_a_warning() {
    let parsed = load("OQSsiquc01res_202504010011_nodecl.sjis.xml");
    assert_eq!(parsed.encoding, Encoding::ShiftJis);
    assert!(parsed.diagnostics.iter().any(|d| d.code == "encoding_guessed" && d.severity == Severity::Warning));
}

#[test]
fn face_result_with_shuffled_order_and_unpadded_insurer() {
    // Detected from content alone, without the file name.
    let bytes = std::fs::read(fixture_dir("messages").join("OQSsiquc01res_face_0001_20250401093000.utf8.xml")).unwrap();
    let parsed = onshi_core::parse(&bytes).unwrap();
    let Message::FaceResult(m) = &parsed.message else { panic!("{:?}", parsed.message.kind()) };
    let q = &m.body.results[0];
    assert_eq!(q.insurer_number.as_deref(), Some("138057"));
    assert_eq!(q.insured_identification_number.as_deref(), Some("12‐345"), "番号 kept verbatim");
    assert_eq!(q.address.as_deref(), Some(""), "empty, not absent");
    assert_eq!(q.post_number, None);
    assert!(!parsed.diagnostics.iter().any(|d| d.severity == Severity::Error), "{:?}", parsed.diagnostics);
    let unknown: Vec<_> = parsed.diagnostics.iter().filter(|d| d.code == "unknown_element").collect();
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].severity, Severity::Info);
    // No QualificationValidity: never a clean "valid".
    assert_eq!(summarize_message(&parsed.message)[0].outcome, Outcome::Unclear);
}

#[test]
fn content_detection_without_file_names() {
    for (file, kind) in [
        ("OQSsiquc01req_202504010001.utf8.xml", "individual_request"),
        ("OQSsiquc01res_202504010001.utf8.xml", "individual_result"),
        ("OQSmuquc01req_202504010002.utf8.xml", "batch_upload_request"),
        ("OQSmuquc01res_202504010002.utf8.xml", "batch_upload_result"),
        ("OQSmuquc02req_202504010003.utf8.xml", "batch_download_request"),
        ("OQSmuquc02res_202504010003.utf8.xml", "batch_download_result"),
        ("OQSmuquc02res_202504010004_processing.utf8.xml", "batch_download_result"),
        ("OQSsiimm01req_202504010005.utf8.xml", "registration_request"),
        ("OQSsiimm01res_202504010005.utf8.xml", "registration_result"),
        ("OQSmuimm01req_202504010006.utf8.xml", "bulk_registration_request"),
        ("OQSmuimm02res_202504010007.utf8.xml", "bulk_registration_result"),
        ("YZKsiquc01req_202504010008.utf8.xml", "medication_request"),
        ("YZKsiquc01res_202504010008.utf8.xml", "medication_result"),
        ("TKKsiquc01res_202504010009.utf8.xml", "checkup_result"),
    ] {
        let bytes = std::fs::read(fixture_dir("messages").join(file)).unwrap();
        let parsed = onshi_core::parse(&bytes).unwrap();
        assert_eq!(serde_json::to_value(parsed.message.kind()).unwrap(), kind, "{file}");
    }
}

#[test]
fn batch_result_summaries_and_counts() {
    let parsed = load("OQSmuquc02res_202504010003.sjis.xml");
    let outcomes: Vec<_> = summarize_message(&parsed.message).iter().map(|s| s.outcome).collect();
    assert_eq!(outcomes, [Outcome::Valid, Outcome::Invalid, Outcome::NoMatch, Outcome::Error]);
    assert!(!parsed.diagnostics.iter().any(|d| d.code == "count_mismatch"));
    // The same file with a wrong header count is flagged.
    let text = std::fs::read_to_string(fixture_dir("messages").join("OQSmuquc02res_202504010003.utf8.xml")).unwrap();
    let bad = text.replace("<NumberOfProcessingResult>4<", "<NumberOfProcessingResult>5<");
    let parsed = onshi_core::parse(bad.as_bytes()).unwrap();
    let d: Vec<_> = parsed.diagnostics.iter().filter(|d| d.code == "count_mismatch").collect();
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "/XmlMsg/MessageHeader/NumberOfProcessingResult");
}

#[test]
fn diff_against_a_batch_unit() {
    use onshi_core::diff::{diff, record_from, ChangeField};
    let parsed = load("OQSmuquc02res_202504010003.utf8.xml");
    let Message::BatchDownloadResult(m) = parsed.message else { panic!() };
    let valid = m.body.units[0].entries().next().unwrap();
    let lost = m.body.units[1].entries().next().unwrap();
    assert!(diff(&record_from(valid), valid).is_empty());
    let changes = diff(&record_from(valid), lost);
    assert_eq!(changes[0].field, ChangeField::Disqualification);
    assert!(changes.iter().any(|c| c.field == ChangeField::InsurerNumber && c.after.as_deref() == Some("  138057")));
}

#[test]
fn problems_become_diagnostics_not_failures() {
    let parsed = load("OQSsiquc01res_202504010010_problems.utf8.xml");
    let mut codes: Vec<_> = parsed.diagnostics.iter().map(|d| d.code.as_str()).collect();
    codes.sort();
    assert_eq!(codes, [
        "check_digit", "check_digit", "invalid_branch", "invalid_date", "invalid_ratio", "invalid_timestamp",
        "qualified_after_disqualified", "unknown_code", "valid_not_exactly_one",
    ]);
}

#[test]
fn a_repeated_element_keeps_the_first_value_and_says_where() {
    // A code and a leaf of a nested record, each given twice in the second
    // unit; the paths are those the generic walk gave before issue 13 took
    // the path building out of leaf reading, and must not move.
    let text = std::fs::read_to_string(fixture_dir("messages").join("OQSmuquc02res_202504010003.utf8.xml")).unwrap();
    let at = text.match_indices("<BulkConfirmUnit>").nth(1).map(|(i, _)| i).unwrap();
    let (head, tail) = text.split_at(at);
    let tail = tail
        .replacen("<QualificationValidity>", "<QualificationValidity>9</QualificationValidity><QualificationValidity>", 1)
        .replacen("<InsurerNumber>", "<InsurerNumber>99999999</InsurerNumber><InsurerNumber>", 1);
    let parsed = onshi_core::parse(format!("{head}{tail}").as_bytes()).unwrap();
    let found: Vec<_> = parsed.diagnostics.iter().map(|d| format!("{} {}", d.code, d.path)).collect();
    let Message::BatchDownloadResult(m) = parsed.message else { panic!("kind") };
    let unit = &m.body.units[1];
    assert_eq!(unit.search.as_ref().and_then(|s| s.insurer_number.as_deref()), Some("99999999"));
    assert_eq!(found, [
        "unknown_element /XmlMsg/MessageBody/BulkConfirmUnit[1]/ResultOfQualificationConfirmation[1]/Address2",
        "duplicate_element /XmlMsg/MessageBody/BulkConfirmUnit[2]/QualificationConfirmSearchInfo/InsurerNumber",
        "duplicate_element /XmlMsg/MessageBody/BulkConfirmUnit[2]/QualificationValidity",
        // The fixture's first person is 髙橋 (髙 is an IBM extension, not JIS X
        // 0208), the insured person too: one finding on Name that names both.
        "name_outside_jis0208 /XmlMsg/MessageBody/BulkConfirmUnit[1]/ResultOfQualificationConfirmation[1]/Name",
        "unknown_prefecture /XmlMsg/MessageBody/BulkConfirmUnit[2]/QualificationConfirmSearchInfo/InsurerNumber",
        "unknown_code /XmlMsg/MessageBody/BulkConfirmUnit[2]/QualificationValidity",
    ]);
    let name = parsed.diagnostics.iter().find(|d| d.code == "name_outside_jis0208").unwrap();
    assert!(name.message.ja.starts_with("<Name>・<InsuredName>「髙橋"), "{}", name.message.ja);
}
