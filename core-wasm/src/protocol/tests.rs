//! Protocol tests. The golden JSON below is the contract a JavaScript author
//! copies: each string is exactly what the Rust side writes, and each also
//! appears verbatim in `docs/protocol.md` (checked), so the spec cannot drift.

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::Value;

use super::*;
use crate::text::Explain;

const DOC: &str = include_str!("../../../docs/protocol.md");
const ORIGIN: &str = "https://clinic.example";

/// Request bodies as a page (or the extension) sends them, and as the Rust
/// side writes them back. `pin_entry` is the one body that does not
/// round-trip: the PIN writes as `****` (see `pin_is_redacted_everywhere`).
const REQUESTS: &[&str] = &[
    r#"{"type":"hello","page_version":"onshi-web 0.1.0"}"#,
    r#"{"type":"status"}"#,
    r#"{"type":"pair_begin"}"#,
    r#"{"type":"pair_approve","pairing_id":"p-7f3a","approve":true}"#,
    r#"{"type":"card_confirm","mode":"pin","consents":{"medication":true,"diagnosis_procedure":true,"health_check":false,"limit_certificate":true,"specified_disease":false},"treatment":"outpatient"}"#,
    r#"{"type":"card_confirm","mode":"visual","consents":{"medication":false,"diagnosis_procedure":false,"health_check":false,"limit_certificate":false,"specified_disease":false},"reader":"Virtual PCD 00 00","treatment":"home_visit"}"#,
    r#"{"type":"pin_entry","confirm_id":"c-19","pin":"****","confirm_last_try":false}"#,
    r#"{"type":"pin_cancel","confirm_id":"c-19"}"#,
    r#"{"type":"card_register","consents":{"medication":true,"diagnosis_procedure":false,"health_check":false,"limit_certificate":false,"specified_disease":false}}"#,
    r#"{"type":"insurance_confirm","insured":{"insurer_number":"39131156","symbol":"12-34","number":"5678","branch":"01","birth_date":"19640303"},"document":"eligibility_certificate","limit_certificate":true,"arbitrary_id":"P000123","treatment":"online"}"#,
    r#"{"type":"batch_submit","confirmation_date":"20260126","entries":[{"insured":{"insurer_number":"39131156","number":"00012345","birth_date":"19400401"},"arbitrary_id":"P000124"}]}"#,
    r#"{"type":"batch_status","batch_id":"b-20260125-1"}"#,
    r#"{"type":"batch_results","batch_id":"b-20260125-1"}"#,
    r#"{"type":"reference_register","entries":[{"insured":{"insurer_number":"39131156","number":"00012345","birth_date":"19400401"},"reference_number":"P000124"}]}"#,
    r#"{"type":"medication_fetch","insured":{"insurer_number":"39131156","number":"00012345","birth_date":"19400401"},"start_month":"202505","end_month":"202510","include_diagnosis":true,"treatment":"outpatient"}"#,
    r#"{"type":"checkup_fetch","insured":{"insurer_number":"39131156","number":"00012345","birth_date":"19400401"},"treatment":"home_visit"}"#,
    r#"{"type":"today"}"#,
    r#"{"type":"audit_tail","limit":50}"#,
    r#"{"type":"pairings_list"}"#,
    r#"{"type":"pair_revoke","origin":"https://clinic.example"}"#,
    r#"{"type":"usage","from":"20260101","to":"20260131"}"#,
    r#"{"type":"disaster_status"}"#,
    r#"{"type":"disaster_search","person":{"by":"name_birth_sex","kana":"ﾔﾏﾀﾞ ﾊﾅｺ","birth_date":"19640303","sex":"female"},"reason":"disaster_area_visit","treatment":"outpatient"}"#,
    r#"{"type":"disaster_search","person":{"by":"insured_numbers","insured":{"insurer_number":"39131156","number":"00012345","birth_date":"19400401"}},"reason":"patient_unable_to_consent","treatment":"home_visit"}"#,
];

/// Helper → browser frames: every reply body type, an error, every event, a chunk.
const FROM_HELPER: &[&str] = &[
    r#"{"v":1,"id":"1","ok":true,"body":{"type":"hello","protocol_version":1,"helper_version":"0.1.0","core_version":"0.1.0","paired":true}}"#,
    r#"{"v":1,"id":"2","ok":true,"body":{"type":"status","protocol_version":1,"helper_version":"0.1.0","core_version":"0.1.0","paired":true,"backend":"gateway","institution_code":"1312345678","readers":[{"name":"Virtual PCD 00 00","card_present":true}],"pending_batches":1}}"#,
    r#"{"v":1,"id":"3","ok":true,"body":{"type":"pair_begin","pairing_id":"p-7f3a","code":"K7Q2","expires_in_s":120}}"#,
    r#"{"v":1,"id":"4","ok":true,"body":{"type":"pair_approve","pairing_id":"p-7f3a","origin":"https://clinic.example","approved":true}}"#,
    r#"{"v":1,"id":"5","ok":true,"body":{"type":"card_confirm","xml":"<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg>…</XmlMsg>","summary":{"segment_of_result":"1","processing_result_status":"1","qualification_validity":"1","result_count":1}}}"#,
    r#"{"v":1,"id":"6","ok":true,"body":{"type":"pin_entry"}}"#,
    r#"{"v":1,"id":"7","ok":true,"body":{"type":"pin_cancel"}}"#,
    r#"{"v":1,"id":"8","ok":true,"body":{"type":"insurance_confirm","xml":"<XmlMsg>…</XmlMsg>","summary":{"segment_of_result":"1","processing_result_status":"1","qualification_validity":"3","result_count":1}}}"#,
    r#"{"v":1,"id":"9","ok":true,"body":{"type":"batch_submit","batch_id":"b-20260125-1","accepted":1}}"#,
    r#"{"v":1,"id":"10","ok":true,"body":{"type":"batch_status","batches":[{"batch_id":"b-20260125-1","state":"processing","submitted_at":"2026-01-25T17:02:11+09:00","reception_number":"R0000000042","total":1}]}}"#,
    r#"{"v":1,"id":"11","ok":true,"body":{"type":"batch_results","batch_id":"b-20260125-1","xml":"<XmlMsg>…</XmlMsg>","total":1,"normal":1,"errors":0}}"#,
    r#"{"v":1,"id":"12","ok":true,"body":{"type":"reference_register","xml":"<XmlMsg>…</XmlMsg>","accepted":1}}"#,
    r#"{"v":1,"id":"13","ok":true,"body":{"type":"medication_fetch","xml":"<XmlMsg>…</XmlMsg>"}}"#,
    r#"{"v":1,"id":"14","ok":true,"body":{"type":"checkup_fetch","xml":"<XmlMsg>…</XmlMsg>"}}"#,
    r#"{"v":1,"id":"15","ok":true,"body":{"type":"today","entries":[{"entry_id":"t-3","at":"2026-01-25T09:14:03+09:00","kind":"card_pin","consents":{"medication":true,"diagnosis_procedure":false,"health_check":false,"limit_certificate":false,"specified_disease":false},"xml":"<XmlMsg>…</XmlMsg>","summary":{"segment_of_result":"1","processing_result_status":"1","qualification_validity":"1","result_count":1}}]}}"#,
    r#"{"v":1,"id":"16","ok":true,"body":{"type":"audit_tail","entries":[{"seq":41,"at":"2026-01-25T09:14:03+09:00","origin":"https://clinic.example","action":"card_confirm","outcome":"ok"}]}}"#,
    r#"{"v":1,"id":"17","ok":true,"body":{"type":"pairings_list","pairings":[{"origin":"https://clinic.example","paired_at":"2026-01-20T08:30:00+09:00","last_used":"2026-01-25T09:14:03+09:00"}]}}"#,
    r#"{"v":1,"id":"18","ok":true,"body":{"type":"pair_revoke","origin":"https://clinic.example","revoked":true}}"#,
    r#"{"v":1,"id":"19","ok":false,"error":{"code":"wrong_pin","message":{"ja":"暗証番号が違います。残り2回です。患者さんに確かめて、もう一度入力してください。","en":"Wrong PIN. 2 tries left. Ask the patient to check it and enter it again."},"retryable":true,"detail":{"tries_left":2}}}"#,
    r#"{"v":1,"id":"20","ok":false,"error":{"code":"gateway_error","message":{"ja":"資格確認システムがエラーを返しました（E1234：該当資格なし）。内容を確かめ、必要なら保険証・資格確認書で確認してください。","en":"The eligibility system returned error E1234: 該当資格なし. Check it; if needed, confirm with the insurance card."},"retryable":false,"detail":{"code":"E1234","message":"該当資格なし"}}}"#,
    r#"{"v":1,"event":{"type":"reader_added","reader":"Virtual PCD 00 00"},"origin":null}"#,
    r#"{"v":1,"event":{"type":"reader_removed","reader":"Virtual PCD 00 00"},"origin":null}"#,
    r#"{"v":1,"event":{"type":"card_inserted","reader":"Virtual PCD 00 00"},"origin":null}"#,
    r#"{"v":1,"event":{"type":"card_removed","reader":"Virtual PCD 00 00"},"origin":null}"#,
    r#"{"v":1,"event":{"type":"pin_needed","confirm_id":"c-19","request_id":"42","tries_left":3,"origin":"https://clinic.example"},"origin":"https://clinic.example"}"#,
    r#"{"v":1,"event":{"type":"batch_progress","batch_id":"b-20260125-1","state":"done"},"origin":"https://clinic.example"}"#,
    r#"{"v":1,"event":{"type":"face_result","xml":"<XmlMsg>…</XmlMsg>","summary":{"segment_of_result":"1","processing_result_status":"1","qualification_validity":"1","result_count":1}},"origin":null}"#,
    r#"{"v":1,"event":{"type":"pairing_decided","pairing_id":"p-7f3a","approved":true},"origin":"https://clinic.example"}"#,
    r#"{"v":1,"event":{"type":"pairing_revoked"},"origin":"https://clinic.example"}"#,
    r#"{"v":1,"event":{"type":"today_added","entry":{"entry_id":"t-4","at":"2026-01-25T09:15:40+09:00","kind":"insurance","document":"eligibility_certificate","treatment":"outpatient","desk":"受付2","xml":"<XmlMsg>…</XmlMsg>","summary":{"segment_of_result":"1","processing_result_status":"1","qualification_validity":"1","result_count":1}}},"origin":null}"#,
    r#"{"v":1,"id":"42","chunk":{"index":0,"count":3,"data":"{\"v\":1,\"id\":\"42\",\"ok\":true,\"body\":{\"type\":\"today\",\"entries\":["}}"#,
    // Added with card registration (issue 5): appended so the indexes above stay.
    r#"{"v":1,"id":"21","ok":true,"body":{"type":"card_register","already_registered":false}}"#,
    r#"{"v":1,"event":{"type":"pin_needed","confirm_id":"c-20","request_id":"43","tries_left":3,"origin":"https://clinic.example","purpose":"register"},"origin":"https://clinic.example"}"#,
    CARD_NOT_REGISTERED,
    BULK_REFERENCES,
    r#"{"v":1,"id":"5","ok":true,"body":{"type":"card_confirm","xml":"<XmlMsg>…</XmlMsg>","summary":{"segment_of_result":"1","processing_result_status":"1","qualification_validity":"1","result_count":1},"timing":{"card_ms":61.4,"network_ms":14.2,"helper_ms":3.1,"total_ms":78.7}}}"#,
    // Issue 14: the document's bytes as the system sent them, beside its text.
    RECEIVED,
    // Issue 16: usage statistics.
    USAGE,
    // Issue 16: disaster mode.
    DISASTER_OPEN,
    DISASTER_CLOSED,
    // Issue 17: a desk on a shared database that is down, three checks queued.
    STORE_DOWN,
    DISASTER_FOUND,
    r#"{"v":1,"id":"29","ok":true,"body":{"type":"disaster_search","declaration":{"area":"nationwide","start":"20261201","end":"20261231"},"by":"name_birth_sex","reason":"shelter_or_first_aid_post","outcome":"several_matches"}}"#,
];

/// `disaster_status` replies: open under a declaration, closed after it ended.
const DISASTER_OPEN: &str = r#"{"v":1,"id":"26","ok":true,"body":{"type":"disaster_status","today":"20261206","open":{"area":{"prefectures":["13","14"]},"start":"20261201","end":"20261231"}}}"#;
const DISASTER_CLOSED: &str = r#"{"v":1,"id":"27","ok":true,"body":{"type":"disaster_status","today":"20270105","closed":{"why":"outside_period","declaration":{"area":{"prefectures":["13","14"]},"start":"20261201","end":"20261231"},"today":"20270105"}}}"#;
/// A `disaster_search` reply that found one person.
const DISASTER_FOUND: &str = r#"{"v":1,"id":"28","ok":true,"body":{"type":"disaster_search","declaration":{"area":{"prefectures":["13","14"]},"start":"20261201","end":"20261231"},"by":"name_birth_sex","reason":"disaster_area_visit","outcome":"person","medication_xml":"<XmlMsg>…</XmlMsg>","checkup_xml":"<XmlMsg>…</XmlMsg>"}}"#;

/// A `status` reply of a desk whose shared database cannot be reached.
const STORE_DOWN: &str = r#"{"v":1,"id":"29","ok":true,"body":{"type":"status","protocol_version":1,"helper_version":"0.1.0","core_version":"0.1.0","paired":true,"backend":"gateway","institution_code":"1312345678","readers":[],"pending_batches":0,"store":{"shared":true,"reachable":false,"queued":3}}}"#;

#[test]
fn a_status_without_store_reads_as_no_shared_store() {
    // An older helper's reply (FROM_HELPER[1]) has no `store`.
    let FromHelper::Reply { result: Ok(Response::Status(s)), .. } = FromHelper::parse(FROM_HELPER[1]).unwrap() else { panic!("a status reply") };
    assert_eq!(s.store, None);
    let FromHelper::Reply { result: Ok(Response::Status(s)), .. } = FromHelper::parse(STORE_DOWN).unwrap() else { panic!("a status reply") };
    assert_eq!(s.store, Some(StoreStatus { shared: true, reachable: false, queued: 3 }));
}

/// A `usage` reply: one day with checks in January.
const USAGE: &str = r#"{"v":1,"id":"25","ok":true,"body":{"type":"usage","from":"20260101","to":"20260131","days":[{"day":"20260125","counts":{"card_pin":12,"card_visual":1,"face":20,"eligibility_certificate":6,"eligibility_notice":2,"insurance_card":3,"numbers_unrecorded":0}}],"months":[{"month":"202601","counts":{"card_pin":12,"card_visual":1,"face":20,"eligibility_certificate":6,"eligibility_notice":2,"insurance_card":3,"numbers_unrecorded":0}}]}}"#;

/// A `batch_results` reply with the Shift_JIS bytes as received.
const RECEIVED: &str = r#"{"v":1,"id":"24","ok":true,"body":{"type":"batch_results","batch_id":"b-20260125-1","xml":"<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg></XmlMsg>","received":{"base64":"PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iU2hpZnRfSklTIj8+PFhtbE1zZz48L1htbE1zZz4=","exact":true},"total":1,"normal":1,"errors":0}}"#;

#[test]
fn received_bytes_travel_as_base64_beside_the_text() {
    let FromHelper::Reply { result: Ok(Response::BatchResults(r)), .. } = FromHelper::parse(RECEIVED).unwrap() else { panic!("a batch_results reply") };
    let bytes = r.received.as_ref().and_then(ReceivedXml::bytes).unwrap();
    assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>"));
    assert!(r.xml.contains("UTF-8"), "the text is for reading");
}

/// A card check refused because the card is not registered for insurance use.
const CARD_NOT_REGISTERED: &str = r#"{"v":1,"id":"22","ok":false,"error":{"code":"card_not_registered","message":{"ja":"このマイナンバーカードは健康保険証として利用登録されていません。患者さんが同意したら「保険証利用登録をする」を押し、患者さんに暗証番号を入力してもらってください。登録しない場合は保険証・資格確認書で確認してください。","en":"This My Number card is not registered for health-insurance use. If the patient agrees, press \"Register this card for insurance use\" and have the patient enter the PIN. Otherwise, confirm with the insurance card or eligibility certificate."},"retryable":false}}"#;
/// A bulk registration with one entry refused before sending.
const BULK_REFERENCES: &str = r#"{"v":1,"id":"23","ok":true,"body":{"type":"reference_register","xml":"<XmlMsg>…</XmlMsg>","accepted":2,"rejected":[{"index":1,"error":{"code":"invalid_argument","message":{"ja":"入力内容に誤りがあります。内容を確かめてください。","en":"Some input is not valid. Check what was entered."},"retryable":false,"detail":{"field":"entries[1].insured.birth_date","reason":"EV0104"}}}],"reception_number":"R0000000043"}}"#;

/// The frame the background builds around a body.
fn frame(via: &str, body: &str) -> String {
    format!(r#"{{"v":1,"id":"42","origin":"{ORIGIN}","via":"{via}","body":{body}}}"#)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn golden_requests_parse_and_write_back_exactly() {
    let mut seen = BTreeSet::new();
    for golden in REQUESTS {
        // The PIN window sends real digits; everything else is sent as shown.
        let input = golden.replace(r#""pin":"****""#, r#""pin":"0000""#);
        let parsed = ToHelper::parse(&frame("extension", &input)).unwrap_or_else(|e| panic!("{golden}: {e}"));
        assert_eq!(json(golden)["type"], parsed.body.type_name());
        assert_eq!(serde_json::to_string(&parsed.body).unwrap(), *golden);
        seen.insert(parsed.body.type_name());
    }
    assert_eq!(seen, Request::TYPES.into_iter().collect(), "a golden example for every request type");
}

#[test]
fn golden_frames_from_helper_parse_and_write_back_exactly() {
    let (mut bodies, mut events) = (BTreeSet::new(), BTreeSet::new());
    for golden in FROM_HELPER {
        let parsed = FromHelper::parse(golden).unwrap_or_else(|e| panic!("{golden}: {e}"));
        assert_eq!(parsed.to_json(), *golden);
        match &parsed {
            FromHelper::Reply { result: Ok(_), .. } => {
                bodies.insert(json(golden)["body"]["type"].as_str().unwrap().to_owned());
            }
            FromHelper::Event { event, .. } => {
                // Exhaustive on purpose: a new event fails to compile here until
                // it has a golden example.
                let name = match event {
                    Event::ReaderAdded { .. } => "reader_added",
                    Event::ReaderRemoved { .. } => "reader_removed",
                    Event::CardInserted { .. } => "card_inserted",
                    Event::CardRemoved { .. } => "card_removed",
                    Event::PinNeeded { .. } => "pin_needed",
                    Event::BatchProgress { .. } => "batch_progress",
                    Event::FaceResult { .. } => "face_result",
                    Event::PairingDecided { .. } => "pairing_decided",
                    Event::PairingRevoked => "pairing_revoked",
                    Event::TodayAdded { .. } => "today_added",
                };
                assert_eq!(json(golden)["event"]["type"], name);
                events.insert(name);
            }
            FromHelper::Reply { result: Err(_), .. } | FromHelper::Chunk { .. } => {}
        }
    }
    let want: BTreeSet<String> = Request::TYPES.iter().map(|t| t.to_string()).collect();
    assert_eq!(bodies, want, "a golden reply for every request type");
    assert_eq!(events.len(), 10);
}

#[test]
fn golden_error_replies_match_the_constructors() {
    assert_eq!(FromHelper::err("19", ProtocolError::wrong_pin(2)).to_json(), FROM_HELPER[18]);
    assert_eq!(FromHelper::err("20", ProtocolError::gateway("E1234", "該当資格なし")).to_json(), FROM_HELPER[19]);
    assert_eq!(FromHelper::err("22", ProtocolError::new(ErrorCode::CardNotRegistered)).to_json(), CARD_NOT_REGISTERED);
    let bulk = Response::ReferenceRegister(ReferenceRegisterReply {
        xml: "<XmlMsg>…</XmlMsg>".into(),
        accepted: 2,
        rejected: vec![EntryError { index: 1, error: ProtocolError::invalid_argument("entries[1].insured.birth_date", "EV0104") }],
        reception_number: Some("R0000000043".into()),
        results_pending: false,
    });
    assert_eq!(FromHelper::ok("23", bulk).to_json(), BULK_REFERENCES);
}

#[test]
fn every_golden_example_is_in_the_docs() {
    for golden in REQUESTS.iter().chain(FROM_HELPER) {
        assert!(DOC.contains(golden), "docs/protocol.md lacks {golden}");
    }
    for code in ErrorCode::ALL {
        assert!(DOC.contains(&format!("`{}`", code.as_str())), "docs/protocol.md lacks error code {}", code.as_str());
    }
}

#[test]
fn envelope_and_body_ignore_extra_fields() {
    let text = format!(
        r#"{{"v":1,"id":"a","origin":"{ORIGIN}","via":"page","future":{{"x":1}},"body":{{"type":"card_confirm","mode":"pin","hint":"new","consents":{{"medication":true,"later":true}}}}}}"#
    );
    let f = ToHelper::parse(&text).unwrap();
    let Request::CardConfirm(c) = f.body else { panic!("{:?}", f.body) };
    assert_eq!(c.mode, ConfirmMode::Pin);
    assert_eq!(c.consents, Consents { medication: true, ..Consents::default() });
    let unit = ToHelper::parse(&frame("page", r#"{"type":"status","since":"x"}"#)).unwrap();
    assert_eq!(unit.body, Request::Status);
    let reply = r#"{"v":1,"id":"6","ok":true,"new":1,"body":{"type":"pin_entry","extra":true}}"#;
    assert_eq!(FromHelper::parse(reply).unwrap(), FromHelper::ok("6", Response::PinEntry));
}

/// Refused frames: what the helper can still tell, and which error it sends.
#[test]
fn refused_frames_give_typed_errors() {
    #[track_caller]
    fn check(text: &str, id: Option<&str>, code: &str) {
        let e = ToHelper::parse(text).expect_err(text);
        assert_eq!((e.id(), e.to_protocol_error().code.as_str()), (id, code), "{text}: {e}");
    }
    check(&frame("page", r#"{"type":"format_disk"}"#), Some("42"), "unsupported_request");
    check(&frame("page", r#"{"type":"card_confirm","mode":"face"}"#), Some("42"), "invalid_argument");
    check(&frame("page", r#"{"type":"pair_approve","pairing_id":"p"}"#), Some("42"), "invalid_argument");
    check(&frame("page", r#"{"mode":"pin"}"#), Some("42"), "bad_request");
    check(&frame("page", r#"{"type":7}"#), Some("42"), "bad_request");
    check(&frame("tab", r#"{"type":"status"}"#), Some("42"), "bad_request");
    check(r#"{"v":1,"id":"a","origin":"https://x","body":{"type":"status"}}"#, Some("a"), "bad_request");
    check(r#"{"v":1,"id":"a","via":"page","body":{"type":"status"}}"#, Some("a"), "bad_request");
    check(r#"{"v":1,"id":"a","origin":"https://x","via":"page"}"#, Some("a"), "bad_request");
    check(r#"{"v":2,"id":"a","origin":"https://x","via":"page","body":{"type":"status"}}"#, Some("a"), "version_mismatch");
    check(r#"{"id":"a","origin":"https://x","via":"page","body":{"type":"status"}}"#, Some("a"), "version_mismatch");
    let long = "x".repeat(65);
    check(&format!(r#"{{"v":1,"id":"{long}","origin":"o","via":"page","body":{{"type":"status"}}}}"#), Some(&long), "bad_request");
    check(r#"{"v":1,"id":"","origin":"o","via":"page","body":{"type":"status"}}"#, Some(""), "bad_request");
    check("not json", None, "bad_request");
    check("[1,2]", None, "bad_request");
    check(r#"{"v":"1","id":"a"}"#, Some("a"), "bad_request");
    // 64 characters (not bytes) is the limit: 64 kanji are fine.
    let kanji = "字".repeat(64);
    assert!(ToHelper::parse(&format!(r#"{{"v":1,"id":"{kanji}","origin":"o","via":"page","body":{{"type":"status"}}}}"#)).is_ok());
}

#[test]
fn versions() {
    assert!(check_version(PROTOCOL_VERSION).is_ok());
    let newer = check_version(2).unwrap_err();
    assert_eq!(newer.code, ErrorCode::VersionMismatch);
    assert_eq!((newer.detail.expected, newer.detail.found), (Some(1), Some(2)));
    assert!(newer.message.ja.contains("ヘルパーの更新"), "{}", newer.message.ja);
    let older = check_version(0).unwrap_err();
    assert!(older.message.ja.contains("拡張機能を更新"), "{}", older.message.ja);
    assert_eq!(FromHelper::parse(r#"{"v":2,"id":"1","ok":true,"body":{"type":"pin_entry"}}"#).unwrap_err().code, ErrorCode::VersionMismatch);
    assert_eq!(FromHelper::parse(r#"{"v":1,"id":"1","ok":true}"#).unwrap_err().code, ErrorCode::BadRequest);
}

#[test]
fn access_rules_and_the_extension_proof() {
    let parse = |via: &str, body: &str| ToHelper::parse(&frame(via, body)).unwrap();
    let pin = r#"{"type":"pin_entry","confirm_id":"c","pin":"1234"}"#;
    for body in [pin, r#"{"type":"pair_approve","pairing_id":"p","approve":true}"#, r#"{"type":"pairings_list"}"#, r#"{"type":"pair_revoke","origin":"o"}"#] {
        let from_page = parse("page", body);
        assert_eq!(from_page.body.access(), Access::ExtensionOnly);
        assert_eq!(require_extension(&from_page).unwrap_err().code, ErrorCode::ExtensionOnly);
        // Even a paired page may not approve pairings or send PINs.
        assert_eq!(from_page.authorize(true).unwrap_err().code, ErrorCode::ExtensionOnly);
        let from_ext = parse("extension", body);
        assert!(require_extension(&from_ext).is_ok() && from_ext.authorize(false).is_ok());
    }
    let status = parse("page", r#"{"type":"status"}"#);
    assert_eq!(status.authorize(false).unwrap_err().code, ErrorCode::NotPaired);
    assert!(status.authorize(true).is_ok());
    for body in [r#"{"type":"hello","page_version":"1"}"#, r#"{"type":"pair_begin"}"#] {
        assert!(parse("page", body).authorize(false).is_ok());
    }
}

#[test]
fn pin_is_redacted_everywhere() {
    // Shapes a PIN might arrive in, valid and not, including JSON escapes.
    let bodies = [
        r#"{"type":"pin_entry","confirm_id":"c","pin":"4321","confirm_last_try":true}"#,
        r#"{"type":"pin_entry","confirm_id":"c","pin":"\u0034321"}"#,
        r#"{"type":"pin_entry","confirm_id":"c","pin":4321}"#,
        r#"{"type":"pin_entry","confirm_id":"c","pin":"43210"}"#,
        r#"{"type":"pin_entry","confirm_id":"c","pin":"432"}"#,
        r#"{"type":"pin_entry","confirm_id":"c","pin":"４３２１"}"#,
        r#"{"type":"pin_entry","confirm_id":"c","pin":["4321"]}"#,
        r#"{"type":"pin_entry","confirm_id":"c","pin":{"x":"4321"}}"#,
        r#"{"type":"pin_entry","confirm_id":"c","pin":4321.0}"#,
    ];
    for (i, body) in bodies.iter().enumerate() {
        let out = match ToHelper::parse(&frame("extension", body)) {
            Ok(f) => {
                let Request::PinEntry(e) = &f.body else { panic!() };
                assert_eq!(e.pin.expose_secret(), "4321");
                assert_eq!(e.pin, Pin::new("4321").unwrap());
                assert!(i <= 1, "only a 4-digit string is a PIN: {body}");
                format!("{f:?}\n{e:?}\n{}\n{}\n{}", e.pin, serde_json::to_string(&f).unwrap(), serde_json::to_string(&f.body).unwrap())
            }
            Err(e) => {
                assert!(i > 1, "{body}: {e}");
                assert_eq!(e.to_protocol_error().code, ErrorCode::InvalidArgument);
                format!("{e:?}\n{e}\n{}", serde_json::to_string(&e.to_protocol_error()).unwrap())
            }
        };
        for needle in ["4321", "432", "４３２１", "\\u0034"] {
            assert!(!out.contains(needle), "PIN leaked via {body}:\n{out}");
        }
        assert!(out.contains("****") || out.contains("4 ASCII digits"), "{out}");
    }
    // A redacted PIN is not a PIN: writing and reading back refuses it.
    let f = ToHelper::parse(&frame("extension", bodies[0])).unwrap();
    assert!(ToHelper::parse(&serde_json::to_string(&f).unwrap()).is_err());
}

#[test]
fn pin_constructor() {
    assert_eq!(Pin::new("0000").unwrap().expose_secret(), "0000");
    for bad in ["", "123", "12345", "１２３４", "12a4", " 123", "12.4"] {
        assert_eq!(Pin::new(bad).unwrap_err(), PinError::NotFourDigits, "{bad:?}");
    }
    assert_eq!(format!("{}", Pin::new("9876").unwrap()), "****");
    assert_eq!(format!("{:?}", Pin::new("9876").unwrap()), "Pin(****)");
    assert!(PinError::NotFourDigits.explain().ja.contains("4桁"));
}

#[test]
fn error_codes_are_stable_and_explained() {
    for code in ErrorCode::ALL {
        let wire = serde_json::to_string(&code).unwrap();
        assert_eq!(wire, format!("\"{}\"", code.as_str()));
        let m = code.explain();
        assert!(m.ja.ends_with('。') && !m.en.is_empty(), "{code:?}");
        let e = ProtocolError::new(code);
        assert_eq!(e.retryable, code.retryable());
        let back: ProtocolError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
    let unknown: ErrorCode = serde_json::from_str(r#""quantum_flux""#).unwrap();
    assert_eq!(unknown, ErrorCode::Other);
    assert!(ProtocolError::wrong_pin(2).message.ja.starts_with("暗証番号が違います。残り2回です。"));
    let last = ProtocolError::wrong_pin(1);
    assert!(last.message.ja.contains("残り1回") && last.message.ja.contains("市区町村の窓口"), "{}", last.message.ja);
    assert_eq!(ProtocolError::wrong_pin(0).code, ErrorCode::PinLocked);
    let locked = ProtocolError::new(ErrorCode::PinLocked);
    assert!(locked.message.ja.contains("市区町村の窓口") && !locked.retryable);
    assert!(ProtocolError::network(true).retryable && !ProtocolError::network(false).retryable);
    assert_eq!(ProtocolError::too_large(MAX_TO_HELPER).detail.limit, Some(MAX_TO_HELPER as u64));
    let bad = ProtocolError::invalid_argument("insured.birth_date", "not a date");
    assert_eq!(serde_json::to_value(&bad).unwrap()["detail"], json(r#"{"field":"insured.birth_date","reason":"not a date"}"#));
    // Empty detail is left out of the JSON altogether.
    assert!(serde_json::to_value(ProtocolError::new(ErrorCode::Busy)).unwrap().get("detail").is_none());
}

// --- chunking -------------------------------------------------------------

fn reply_text(entries: usize, note: &str) -> (FromHelper, String) {
    let entry = TodayEntry {
        entry_id: "t".into(),
        at: "2026-01-25T09:14:03+09:00".into(),
        kind: ConfirmKind::CardPin,
        consents: None,
        document: None, treatment: None, desk: None,
        xml: format!("<XmlMsg><Name>髙橋 太郎{note}</Name>\"\\\n\t\u{1}</XmlMsg>"),
        summary: ResultSummary::default(),
    };
    let reply = FromHelper::ok("big", Response::Today(TodayReply { entries: vec![entry; entries] }));
    let text = reply.to_json();
    (reply, text)
}

#[test]
fn a_large_reply_round_trips_through_frames() {
    let (reply, text) = reply_text(40_000, "🏥");
    assert!(text.len() > 3 * MAX_FROM_HELPER, "{}", text.len());
    let frames = encode_from_helper(&reply).unwrap();
    assert!(frames.len() > 3);
    let mut buf: Vec<u8> = frames.concat();
    let mut chunks = Vec::new();
    while !buf.is_empty() {
        let (msg, used) = decode_frame::<FromHelper>(&buf, MAX_FROM_HELPER).unwrap();
        assert!(used <= 4 + MAX_FROM_HELPER);
        chunks.push(msg);
        buf.drain(..used);
    }
    let (id, joined) = join_chunks(chunks).unwrap();
    assert_eq!((id.as_str(), joined.as_str()), ("big", text.as_str()));
    assert_eq!(FromHelper::parse(&joined).unwrap(), reply);
    // A small reply is one plain frame.
    let small = FromHelper::ok("s", Response::PinEntry);
    assert_eq!(encode_from_helper(&small).unwrap(), vec![encode_frame(&small.to_json(), MAX_FROM_HELPER).unwrap()]);
}

#[test]
fn reassembler_refuses_broken_sequences() {
    let c = |index, count, data: &str| Chunk { index, count, data: data.into() };
    assert_eq!(Reassembler::new("a", 0).unwrap_err(), ChunkError::BadCount { count: 0 });
    assert_eq!(Reassembler::new("a", 65).unwrap_err(), ChunkError::BadCount { count: 65 });
    let mut r = Reassembler::new("a", 2).unwrap();
    assert_eq!(r.push("a", c(2, 2, "x")), Err(ChunkError::OutOfRange { index: 2, count: 2 }));
    assert_eq!(r.push("a", c(0, 3, "x")), Err(ChunkError::CountChanged { expected: 2, found: 3 }));
    assert_eq!(r.push("b", c(0, 2, "x")), Err(ChunkError::WrongId { expected: "a".into(), found: "b".into() }));
    r.push("a", c(1, 2, "y")).unwrap();
    assert_eq!(r.push("a", c(1, 2, "y")), Err(ChunkError::Duplicate { index: 1 }));
    assert!(!r.is_complete());
    assert_eq!(r.finish(), Err(ChunkError::Missing { index: 0 }));
    // Out of order is fine.
    let mut r = Reassembler::new("a", 2).unwrap();
    r.push("a", c(1, 2, "y")).unwrap();
    r.push("a", c(0, 2, "x")).unwrap();
    assert!(r.is_complete());
    assert_eq!(r.finish().unwrap(), "xy");
    assert_eq!(join_chunks([FromHelper::ok("a", Response::PinEntry)]), Err(ChunkError::NotAChunk));
    assert_eq!(join_chunks([]), Err(ChunkError::Missing { index: 0 }));
    // The total is capped even when each chunk is within the frame size.
    let big = "a".repeat(MAX_FROM_HELPER);
    let mut r = Reassembler::new("a", MAX_CHUNKS).unwrap();
    for i in 0..MAX_CHUNKS {
        r.push("a", c(i, MAX_CHUNKS, &big)).unwrap();
    }
    let mut r = Reassembler::new("a", 2).unwrap();
    r.push("a", c(0, 2, &"a".repeat(MAX_REPLY))).unwrap();
    assert_eq!(r.push("a", c(1, 2, "b")), Err(ChunkError::TooLarge));
}

#[test]
fn split_refuses_impossible_limits() {
    assert!(matches!(split_reply("id", "{}", 10), Err(ChunkError::LimitTooSmall { limit: 10 })));
    let text = "x".repeat(100_000);
    assert!(matches!(split_reply("id", &text, 500), Err(ChunkError::TooManyChunks { .. })));
    let reply = FromHelper::ok("big", Response::MedicationFetch(XmlReply { xml: "a".repeat(MAX_REPLY) }));
    assert!(matches!(encode_from_helper(&reply), Err(FrameError::Chunk(ChunkError::TooManyChunks { .. }))));
    let event = FromHelper::event(Event::FaceResult { xml: "x".repeat(MAX_FROM_HELPER), summary: ResultSummary::default(), entry_id: None }, None);
    assert!(matches!(encode_from_helper(&event), Err(FrameError::TooLarge { .. })));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Split then join is the identity for any text, including multi-byte
    /// characters and characters JSON must escape; every frame fits the limit.
    // 600 characters escape to at most 3600 bytes; from a 150-byte limit on,
    // 64 chunks always suffice, so every case must split successfully.
    #[test]
    fn split_then_join_is_identity(text in "(\\PC|[\"\\\\\n\t\u{0}-\u{1f}]){0,600}", limit in 150usize..600, id in "[a-z0-9\"\\\\é]{1,8}") {
        let frames = split_reply(&id, &text, limit).unwrap();
        for f in &frames {
            prop_assert!(f.to_json().len() <= limit, "{} > {limit}", f.to_json().len());
            // What the browser receives parses back to the same frame.
            prop_assert_eq!(&FromHelper::parse(&f.to_json()).unwrap(), f);
        }
        let (got_id, joined) = join_chunks(frames.clone()).unwrap();
        prop_assert_eq!(got_id, id.clone());
        prop_assert_eq!(&joined, &text);
        // Any arrival order joins the same way.
        let mut r = Reassembler::new(id.clone(), frames.len() as u32).unwrap();
        for f in frames.into_iter().rev() {
            let FromHelper::Chunk { id, chunk } = f else { unreachable!() };
            r.push(&id, chunk).unwrap();
        }
        prop_assert_eq!(r.finish().unwrap(), text);
    }

    #[test]
    fn decode_frame_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in 0usize..64) {
        let _ = decode_frame::<Value>(&bytes, max);
    }

    #[test]
    fn request_parse_never_panics(text in "\\PC{0,200}") {
        let _ = ToHelper::parse(&text);
    }
}

// --- frame codec ------------------------------------------------------------

#[test]
fn frame_codec() {
    let one = encode_frame(r#"{"a":"髙"}"#, 100).unwrap();
    assert_eq!(&one[..4], &(11u32).to_ne_bytes());
    let mut two = one.clone();
    two.extend(encode_frame("[1]", 100).unwrap());
    let (v, used) = decode_frame::<Value>(&two, 100).unwrap();
    assert_eq!((v, used), (json(r#"{"a":"髙"}"#), 15));
    assert_eq!(decode_frame::<Value>(&two[used..], 100).unwrap(), (json("[1]"), 7));

    assert_eq!(encode_frame("12345", 4), Err(FrameError::TooLarge { len: 5, max: 4 }));
    assert_eq!(split_frame(&[1, 0], 100), Err(FrameError::Truncated { needed: 4, have: 2 }));
    assert_eq!(split_frame(&one[..10], 100), Err(FrameError::Truncated { needed: 15, have: 10 }));
    // A hostile length is refused from the header alone.
    assert_eq!(split_frame(&u32::MAX.to_ne_bytes(), MAX_TO_HELPER), Err(FrameError::TooLarge { len: u32::MAX as usize, max: MAX_TO_HELPER }));
    let mut bad = 2u32.to_ne_bytes().to_vec();
    bad.extend([b'"', 0xFF]);
    assert_eq!(split_frame(&bad, 100), Err(FrameError::NotUtf8 { valid_up_to: 1 }));
    let broken = encode_frame(r#"{"a":}"#, 100).unwrap();
    assert!(matches!(decode_frame::<Value>(&broken, 100), Err(FrameError::BadJson { line: 1, column: 6, .. })));
}

/// Issue 14: a card whose certificate lapsed is refused before any PIN, with
/// its dates; one that expires soon or lapsed within the grace carries a
/// notice on the result. Golden texts are in docs/protocol.md.
mod certificate {
    use super::*;
    use crate::cert_validity::standing;
    use crate::wareki::Date;

    const EXPIRED: &str = r#"{"v":1,"id":"24","ok":false,"error":{"code":"certificate_expired","message":{"ja":"マイナンバーカードの電子証明書は有効期限（2026年6月10日）から3か月以上過ぎているため、保険証として使えません。資格確認書か資格情報のお知らせの番号で確認してください。更新はお住まいの市区町村の窓口です。","en":"The My Number card's certificate expired on 2026-06-10, more than three months ago, so the card cannot be used for insurance. Confirm with the numbers on the eligibility certificate (資格確認書) or the 資格情報のお知らせ. Renewal is at the patient's city office (市区町村の窓口)."},"retryable":false,"detail":{"not_after":"20260610","usable_until":"20260930"}}}"#;
    const IN_GRACE: &str = r#"{"v":1,"id":"25","ok":false,"error":{"code":"certificate_in_grace","message":{"ja":"マイナンバーカードの電子証明書の有効期限（2026年11月5日）が切れています。暗証番号は使えません。顔写真で本人確認し「目視確認」で確認すると、2027年2月28日までは資格情報だけ確認できます（薬剤情報・診療情報は見られません）。更新はお住まいの市区町村の窓口です。","en":"The My Number card's certificate expired on 2026-11-05, so the PIN cannot be used. Check the patient against the card photo and use the visual check: until 2027-02-28 the qualification alone can be confirmed (no medication or diagnosis records). Renewal is at the patient's city office (市区町村の窓口)."},"retryable":true,"detail":{"not_after":"20261105","usable_until":"20270228"}}}"#;
    const GRACE_RESULT: &str = r#"{"v":1,"id":"26","ok":true,"body":{"type":"card_confirm","xml":"<XmlMsg>…</XmlMsg>","summary":{"segment_of_result":"1","processing_result_status":"1","qualification_validity":"1","result_count":1},"certificate":{"state":"lapsed_grace","not_after":"20261105","usable_until":"20270228","message":{"ja":"電子証明書の有効期限（2026年11月5日）が切れています。2027年2月28日までは資格情報だけ確認できますが、薬剤情報・診療情報は見られません。お住まいの市区町村の窓口で更新するよう患者さんにお伝えください。","en":"The card's certificate expired on 2026-11-05. Until 2027-02-28 only the qualification can be confirmed; medication and diagnosis records cannot be viewed. Tell the patient to renew it at their city office (市区町村の窓口)."}}}}"#;
    const SOON_RESULT: &str = r#"{"v":1,"id":"27","ok":true,"body":{"type":"card_confirm","xml":"<XmlMsg>…</XmlMsg>","summary":{"segment_of_result":"1","processing_result_status":"1","qualification_validity":"1","result_count":1},"certificate":{"state":"expires_soon","not_after":"20270105","days_left":30,"message":{"ja":"マイナンバーカードの電子証明書の有効期限が近づいています（2027年1月5日まで、あと30日）。期限が切れる前に、お住まいの市区町村の窓口で更新するよう患者さんにお伝えください。","en":"The My Number card's certificate expires soon (2027-01-05, 30 days left). Tell the patient to renew it at their city office (市区町村の窓口) before then."}}}}"#;

    fn d(s: &str) -> Date {
        Date::parse_yyyymmdd(s).unwrap()
    }

    fn result(id: &str, expiry: &str) -> String {
        let e = d(expiry);
        let body = Eligibility {
            xml: "<XmlMsg>…</XmlMsg>".into(),
            received: None,
            summary: ResultSummary {
                segment_of_result: Some("1".into()),
                processing_result_status: Some("1".into()),
                qualification_validity: Some("1".into()),
                result_count: 1,
            },
            entry_id: None,
            timing: None,
            certificate: CertificateNotice::new(e, standing(e, d("20261206"))),
        };
        FromHelper::ok(id, Response::CardConfirm(body)).to_json()
    }

    #[test]
    fn golden_certificate_frames_match_the_rule_and_the_docs() {
        let today = d("20261206");
        let err = |id: &str, expiry: &str| {
            let e = d(expiry);
            FromHelper::err(id, ProtocolError::certificate(e, standing(e, today)).unwrap()).to_json()
        };
        assert_eq!(err("24", "20260610"), EXPIRED);
        assert_eq!(err("25", "20261105"), IN_GRACE);
        assert_eq!(result("26", "20261105"), GRACE_RESULT);
        assert_eq!(result("27", "20270105"), SOON_RESULT);
        // A valid certificate stops nothing and says nothing.
        assert_eq!(ProtocolError::certificate(d("20300101"), standing(d("20300101"), today)), None);
        assert!(result("28", "20300101").find("certificate").is_none());
        for golden in [EXPIRED, IN_GRACE, GRACE_RESULT, SOON_RESULT] {
            assert!(DOC.contains(golden), "docs/protocol.md lacks {golden}");
            assert_eq!(FromHelper::parse(golden).unwrap().to_json(), golden, "reads back exactly");
        }
    }
}
