//! Reducer and form tests, natively (no browser): one `check` helper per
//! table where the cases are data.

use onshi_core::protocol::*;

use super::*;
use crate::i18n::Lang;

const VALID_XML: &str = include_str!("../../../core-wasm/tests/fixtures/messages/OQSsiquc01res_202504010001.utf8.xml");

/// The next request number, in send order (each test runs on its own thread).
fn seq() -> Seq {
    thread_local!(static NEXT: std::cell::Cell<u64> = const { std::cell::Cell::new(0) });
    NEXT.with(|n| {
        n.set(n.get() + 1);
        Seq(n.get())
    })
}

fn state() -> AppState {
    AppState { now: "20250401100000".into(), ..AppState::default() }
}

fn typed(pairs: &[(Field, &str)]) -> AppState {
    let mut s = state();
    for (f, v) in pairs {
        s.apply(Action::Type(*f, v.to_string()));
    }
    s
}

fn good_form() -> AppState {
    typed(&[
        (Field::Insurer, "06132013"),
        (Field::Symbol, "記号01"),
        (Field::Number, "0012"),
        (Field::Branch, "01"),
        (Field::Birth, "S35.1.5"),
    ])
}

/// (field, typed, expected tone, a piece of the Japanese message)
#[test]
fn field_verdicts() {
    let rows: &[(Field, &str, Tone, &str)] = &[
        (Field::Insurer, "", Tone::Empty, ""),
        (Field::Insurer, "391", Tone::Incomplete, ""),
        (Field::Insurer, "39131156", Tone::Valid, "後期高齢者医療"),
        (Field::Insurer, "39131157", Tone::Invalid, "検証番号"),
        (Field::Symbol, "", Tone::Empty, "空欄"),
        (Field::Symbol, "記号01", Tone::Valid, "記号01"),
        (Field::Symbol, "あいうえおかきくけこさしすせそたちつてとな", Tone::Invalid, "20文字"),
        (Field::Number, "", Tone::Empty, "番号を入力"),
        (Field::Number, "12-34", Tone::Valid, "12-34"),
        (Field::Branch, "", Tone::Empty, "枝番"),
        (Field::Branch, "1", Tone::Invalid, "2桁"),
        (Field::Branch, "０１", Tone::Valid, ""),
        (Field::Birth, "", Tone::Empty, "日付を入力"),
        (Field::Birth, "R1.5.1", Tone::Valid, "2019年5月1日（令和元年5月1日）"),
        (Field::Birth, "令和元年5月1日", Tone::Valid, "2019年5月1日"),
        (Field::Birth, "H2.3.4", Tone::Valid, "1990年3月4日"),
        (Field::Birth, "19900304", Tone::Valid, "平成2年3月4日"),
        (Field::Birth, "1990-03-04", Tone::Valid, "1990年3月4日"),
        (Field::Birth, "R1.5", Tone::Incomplete, ""),
        (Field::Birth, "H32.1.1", Tone::Invalid, "令和2年1月1日のことではありませんか"),
        (Field::Birth, "2019-02-29", Tone::Invalid, "うるう年"),
    ];
    for (f, input, tone, piece) in rows {
        let s = typed(&[(*f, input)]);
        let v = s.entry.verdict(*f);
        assert_eq!(v.tone, *tone, "{f:?} {input:?}: {}", v.message.ja);
        assert!(v.message.ja.contains(piece), "{f:?} {input:?}: {}", v.message.ja);
        assert!(!v.message.en.is_empty());
    }
}

#[test]
fn a_good_form_builds_the_request_with_the_western_birth_date() {
    let s = good_form();
    let req = s.entry.request().expect("valid form");
    assert_eq!(req.insured.insurer_number, "06132013");
    assert_eq!(req.insured.symbol.as_deref(), Some("記号01"));
    assert_eq!(req.insured.number, "0012");
    assert_eq!(req.insured.branch.as_deref(), Some("01"));
    assert_eq!(req.insured.birth_date, "19600105");
    // Optional fields left empty are absent, not empty strings.
    let mut s = s;
    s.apply(Action::Type(Field::Symbol, String::new()));
    s.apply(Action::Type(Field::Branch, String::new()));
    let req = s.entry.request().expect("symbol and branch are optional");
    assert_eq!((req.insured.symbol, req.insured.branch), (None, None));
}

#[test]
fn submit_without_helper_explains_and_with_errors_marks_fields() {
    let mut s = good_form();
    // Nothing known yet: try sending (the request itself finds out).
    assert!(matches!(s.submit_plan(), SubmitPlan::Send(_)));
    s.apply(Action::Failed(Op::Insurance, seq(), ProtocolError::new(ErrorCode::ExtensionMissing)));
    assert_eq!(s.links.extension, links::Extension::Missing);
    let text = s.notice.as_ref().map(Notice::text).expect("a notice");
    assert!(text.ja.contains("拡張機能とヘルパー"), "{}", text.ja);
    // Now the shell knows: the next submit is refused without a round trip.
    assert_eq!(s.submit_plan(), SubmitPlan::Refuse(Notice::NeedHelper));

    let mut s = typed(&[(Field::Insurer, "39131156")]);
    assert_eq!(s.entry.verdict(Field::Number).tone, Tone::Empty);
    let SubmitPlan::Refuse(n) = s.submit_plan() else { panic!("must refuse") };
    s.apply(Action::SubmitRefused(n));
    assert_eq!(s.entry.verdict(Field::Number).tone, Tone::Invalid, "empty required turns red after submit");
    assert_eq!(s.entry.verdict(Field::Symbol).tone, Tone::Empty, "optional stays calm");
    s.apply(Action::Go(Route::Desk));
    s.apply(Action::Escape);
    assert_ne!(s.entry, EntryForm::default(), "Esc elsewhere keeps the form");
    s.apply(Action::Go(Route::Entry));
    s.apply(Action::Escape);
    assert_eq!(s.entry, EntryForm::default());
    assert_eq!(s.notice, None);
}

fn eligibility(xml: &str) -> Eligibility {
    Eligibility { xml: xml.into(), received: None, summary: ResultSummary::default(), entry_id: None, timing: None, certificate: None }
}

#[test]
fn a_result_is_shown_with_details_and_consents() {
    let mut s = good_form();
    s.apply(Action::Sent(Op::Insurance, seq()));
    assert!(s.sending);
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(VALID_XML))));
    assert!(!s.sending);
    assert_eq!(s.route, Route::Result);
    assert_eq!(s.links.extension, links::Extension::Present);
    let m = s.shown.as_ref().and_then(|sh| sh.model.as_ref().ok()).expect("model");
    assert_eq!(m.summary.outcome, onshi_core::summary::Outcome::Valid);
    let rows = &m.entries[0].rows;
    let value = |tx: crate::i18n::Tx| rows.iter().find(|r| r.label == tx).map(|r| r.value.ja.clone()).unwrap_or_default();
    assert_eq!(value(t::D_RATIO), "3割");
    assert!(value(t::D_CEILING).contains("2026年3月31日"), "{}", value(t::D_CEILING));
    assert!(value(t::D_ELDERLY).starts_with("2割"), "{}", value(t::D_ELDERLY));
    let med = &m.entries[0].consents[0];
    assert!(med.text.ja.contains("同意あり"), "{}", med.text.ja);
    assert_eq!(m.diff, result::DiffView::NoRecord);
    assert_eq!(s.today.len(), 1);
}

#[test]
fn a_second_result_for_the_same_person_is_diffed_against_the_first() {
    let mut s = state();
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(VALID_XML))));
    let changed = VALID_XML.replace("<InsuredPartialContributionRatio>030", "<InsuredPartialContributionRatio>020");
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(&changed))));
    let m = s.shown.as_ref().and_then(|sh| sh.model.as_ref().ok()).expect("model");
    let result::DiffView::Compared { source, changes } = &m.diff else { panic!("expected a diff: {:?}", m.diff) };
    assert_eq!(*source, RecordSource::Today);
    assert_eq!(changes.len(), 1, "{changes:?}");
    let ratio = m.entries[0].rows.iter().find(|r| r.label == t::D_RATIO).expect("ratio row");
    assert!(ratio.changed.is_some(), "the changed row is highlighted");
    let name = m.entries[0].rows.iter().find(|r| r.label == t::D_NAME).expect("name row");
    assert!(name.changed.is_none());
    // Opening the first row from today's list compares with nothing earlier.
    let first = s.today[0].entry_id.clone();
    s.apply(Action::OpenToday(first));
    let m = s.shown.as_ref().and_then(|sh| sh.model.as_ref().ok()).expect("model");
    assert_eq!(m.diff, result::DiffView::NoRecord);
    assert_eq!(s.today.len(), 2, "opening a row keeps the list");
}

#[test]
fn a_loaded_record_wins_and_can_be_forgotten() {
    let mut s = state();
    let stored = VALID_XML.replace("<InsurerNumber>06132013</InsurerNumber>", "<InsurerNumber>01010016</InsurerNumber>");
    s.apply(Action::LoadStored(stored));
    assert!(s.loaded_record.is_some());
    s.apply(Action::LoadResult(VALID_XML.into()));
    let m = s.shown.as_ref().and_then(|sh| sh.model.as_ref().ok()).expect("model");
    let result::DiffView::Compared { source, changes } = &m.diff else { panic!("diff") };
    assert_eq!(*source, RecordSource::File);
    assert!(changes.iter().any(|c| c.field == onshi_core::diff::ChangeField::InsurerNumber), "{changes:?}");
    s.apply(Action::ForgetStored);
    let m = s.shown.as_ref().and_then(|sh| sh.model.as_ref().ok()).expect("model");
    assert_eq!(m.diff, result::DiffView::NoRecord);
}

#[test]
fn bad_files_give_a_message_not_a_panic() {
    let mut s = state();
    for bad in ["", "not xml", "<XmlMsg><MessageHeader/></XmlMsg>", "<?xml version=\"1.0\"?><XmlMsg><MessageBody><ReceptionNumber>1</ReceptionNumber></MessageBody></XmlMsg>"] {
        s.apply(Action::LoadResult(bad.into()));
        let sh = s.shown.as_ref().expect("shown");
        if let Err(e) = &sh.model {
            assert!(!e.ja.is_empty() && !e.en.is_empty());
        }
    }
    s.apply(Action::LoadStored("garbage".into()));
    assert!(s.loaded_record.is_none());
}

#[test]
fn a_replaced_name_is_explained_and_never_proposed_over_the_earlier_one() {
    let mut s = state();
    let clean = VALID_XML.replace("髙橋　一郎", "高橋　一郎");
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(&clean))));
    let m = s.shown.as_ref().and_then(|sh| sh.model.as_ref().ok()).expect("model");
    assert!(m.name_alert.is_none(), "a JIS X 0208 name needs no alert");
    let replaced = VALID_XML.replace("髙橋　一郎", "●橋　一郎");
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(&replaced))));
    let m = s.shown.as_ref().and_then(|sh| sh.model.as_ref().ok()).expect("model");
    let a = m.name_alert.as_ref().expect("an alert for ●");
    assert!(a.replaced && a.advice.ja.contains("上書きしないでください"), "{a:?}");
    assert_eq!(a.kana.as_deref(), Some("タカハシ イチロウ"), "the kana is shown in full-width");
    let result::DiffView::Compared { changes, .. } = &m.diff else { panic!("expected a diff: {:?}", m.diff) };
    assert!(changes.is_empty(), "●橋 matches 高橋: {changes:?}");
    assert_eq!(m.record.as_ref().and_then(|r| r.name.as_deref()), Some("高橋　一郎"), "the stored spelling stays");
    assert_eq!(a.registered.as_deref(), Some("高橋　一郎"), "the alert names the spelling to keep");
    // A ● name that does not match is a check, and the record keeps its name.
    let other = VALID_XML.replace("髙橋　一郎", "●田　一郎");
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(&other))));
    let m = s.shown.as_ref().and_then(|sh| sh.model.as_ref().ok()).expect("model");
    let result::DiffView::Compared { changes, .. } = &m.diff else { panic!("expected a diff: {:?}", m.diff) };
    let name = changes.iter().find(|c| c.field == onshi_core::diff::ChangeField::Name).expect("a name change");
    assert!(name.keep_stored, "{name:?}");
    let row = m.entries[0].rows.iter().find(|r| r.label == t::D_NAME).expect("name row");
    assert!(row.changed.is_some());
}

#[test]
fn outside_jis_characters_are_named() {
    let m = result::read_result(VALID_XML, "20250401100000", None, None).expect("model");
    let a = m.name_alert.as_ref().expect("髙 is outside JIS X 0208");
    assert!(!a.replaced && a.advice.ja.contains("「髙」"), "{a:?}");
}

#[test]
fn medical_aid_shows_payer_recipient_and_office() {
    let xml = VALID_XML.replace("<InsurerName>", "<PublicExpenseResultList><MedicalTicketInfo><PublicExpensePayerNumber>12136017</PublicExpensePayerNumber><PublicExpenseRecipientNumber>1234567</PublicExpenseRecipientNumber><PublicExpenseIssuerName>テスト市福祉事務所</PublicExpenseIssuerName><MedicalTicketValidStartDate>20250401</MedicalTicketValidStartDate></MedicalTicketInfo></PublicExpenseResultList><InsurerName>");
    let m = result::read_result(&xml, "20250401100000", None, None).expect("model");
    let row = m.entries[0].rows.iter().find(|r| r.label == t::D_PUBLIC).expect("public row");
    assert_eq!(row.value.ja, "負担者番号 12136017・受給者番号 1234567・発行 テスト市福祉事務所・2025年4月1日（令和7年4月1日）から");
}

#[test]
fn the_document_in_hand_is_sent_shown_and_listed() {
    let mut s = good_form();
    assert_eq!(s.entry.document, PresentedDocument::EligibilityCertificate, "the 2026 default");
    s.apply(Action::SetDocument(PresentedDocument::EligibilityNotice));
    let req = s.entry.request().expect("a request");
    assert_eq!(req.document, Some(PresentedDocument::EligibilityNotice));
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(VALID_XML))));
    let sh = s.shown.as_ref().expect("shown");
    assert_eq!(sh.document, Some(PresentedDocument::EligibilityNotice));
    let m = sh.model.as_ref().expect("model");
    let row = &m.entries[0].rows[0];
    assert_eq!((row.label, row.value.ja.as_str()), (t::D_DOCUMENT, "資格情報のお知らせ"));
    assert_eq!(s.today.last().and_then(|r| r.document), Some(PresentedDocument::EligibilityNotice));
}

#[test]
fn a_lapsed_certificate_and_an_old_card_are_warnings() {
    let xml = VALID_XML.replace("<InsurerName>", "<InsuredCardExpirationDate>20261130</InsuredCardExpirationDate><InsurerName>");
    let m = result::read_result(&xml, "20261206100000", None, Some(PresentedDocument::EligibilityCertificate)).expect("model");
    assert!(m.warnings.iter().any(|w| w.ja.starts_with("資格確認書の有効期限（2026年11月30日") && w.ja.contains("保険者に問い合わせる")), "{:?}", m.warnings);
    let m = result::read_result(VALID_XML, "20261206100000", None, Some(PresentedDocument::InsuranceCard)).expect("model");
    assert!(m.warnings.iter().any(|w| w.ja.contains("経過措置（2026年3月31日まで）が終わり")), "{:?}", m.warnings);
    let m = result::read_result(VALID_XML, "20260115100000", None, Some(PresentedDocument::InsuranceCard)).expect("model");
    assert!(m.warnings.iter().any(|w| w.ja.contains("2026年3月31日までは経過措置")), "{:?}", m.warnings);
    let m = result::read_result(VALID_XML, "20251101100000", None, Some(PresentedDocument::InsuranceCard)).expect("model");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn expiring_card_warns() {
    let xml = VALID_XML.replace("<InsurerName>", "<InsuredCardExpirationDate>20250420</InsuredCardExpirationDate><InsurerName>");
    let m = result::read_result(&xml, "20250401100000", None, None).expect("model");
    assert!(m.warnings.iter().any(|w| w.ja.contains("あと19日")), "{:?}", m.warnings);
    let m = result::read_result(&xml, "20250301100000", None, None).expect("model");
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
}

#[test]
fn unregistered_card_offers_registration() {
    let xml = VALID_XML
        .replace("<ProcessingResultStatus>1", "<ProcessingResultStatus>2")
        .replace("<ProcessingResultMessage/>", "<ProcessingResultMessage>保険証利用登録がされていません</ProcessingResultMessage>");
    let mut s = state();
    s.apply(Action::Sent(Op::Card, seq()));
    assert_eq!(s.card.step, CardStep::Reading);
    s.apply(Action::Event(Event::PinNeeded { confirm_id: "c".into(), request_id: "r".into(), tries_left: 1, origin: "o".into(), purpose: PinPurpose::Confirm }));
    assert_eq!(s.card.step, CardStep::WaitingPin { tries_left: 1, confirm_id: "c".into() });
    assert_eq!(s.card.cancel_request(), Some(PinCancel { confirm_id: "c".into() }));
    s.apply(Action::Reply(Op::Card, seq(), Response::CardConfirm(eligibility(&xml))));
    assert_eq!(s.card.step, CardStep::Done);
    assert!(s.card.offer_registration);
    assert_eq!(s.today[0].kind, ConfirmKind::CardPin);
}

/// Issue 16: the treatment setting goes out with both kinds of check, is
/// shown on the result (away from the desk only) and in the day's list,
/// and is the setting the history view asks with.
#[test]
fn the_treatment_setting_is_sent_shown_and_listed() {
    use onshi_core::protocol::Treatment;
    let mut s = good_form();
    assert_eq!(s.treatment, Treatment::Outpatient, "外来 unless chosen");
    s.apply(Action::SetTreatment(Treatment::HomeVisit));
    let SubmitPlan::Send(req) = s.submit_plan() else { panic!("not sent") };
    assert_eq!(req.treatment, Treatment::HomeVisit);
    assert_eq!(s.card_request().treatment, Treatment::HomeVisit);
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(VALID_XML))));
    let sh = s.shown.as_ref().expect("shown");
    assert_eq!(sh.treatment, Some(Treatment::HomeVisit));
    let rows = &sh.model.as_ref().expect("model").entries[0].rows;
    assert_eq!((rows[0].label, rows[0].value.ja.as_str()), (t::D_TREATMENT, "訪問診療"));
    assert_eq!(s.today.last().and_then(|r| r.treatment), Some(Treatment::HomeVisit));
    // Back at the desk: no extra row, the setting is still recorded.
    s.apply(Action::SetTreatment(Treatment::Outpatient));
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(VALID_XML))));
    let sh = s.shown.as_ref().expect("shown");
    assert_eq!(sh.treatment, Some(Treatment::Outpatient));
    assert!(sh.model.as_ref().expect("model").entries[0].rows.iter().all(|r| r.label != t::D_TREATMENT));
    // Reopening the home-visit row from the list brings its setting back.
    let first = s.today[0].entry_id.clone();
    s.apply(Action::OpenToday(first));
    assert_eq!(s.shown.as_ref().and_then(|sh| sh.treatment), Some(Treatment::HomeVisit));
}

#[test]
fn card_request_carries_mode_and_consents() {
    let mut s = state();
    s.apply(Action::CardMode(ConfirmMode::Visual));
    s.apply(Action::ToggleConsent(Consent::Medication));
    s.apply(Action::ToggleConsent(Consent::LimitCertificate));
    s.apply(Action::ToggleConsent(Consent::LimitCertificate));
    let r = s.card.request();
    assert_eq!(r.mode, ConfirmMode::Visual);
    assert_eq!(r.consents, Consents { medication: true, ..Consents::default() });
    s.apply(Action::Failed(Op::Card, seq(), ProtocolError::new(ErrorCode::NoCard)));
    assert!(matches!(s.card.step, CardStep::Failed(_)));
}

/// (error code, expected lamp colours left to right)
#[test]
fn lamps_follow_errors_and_events() {
    use Light::*;
    let check = |s: &AppState, expected: [Light; 5]| {
        let lamps = s.links.lamps();
        let got: Vec<Light> = lamps.iter().map(|l| l.light).collect();
        assert_eq!(got, expected, "{lamps:#?}");
        for l in &lamps {
            assert!(!l.todo.ja.is_empty() && !l.todo.en.is_empty(), "{l:?}");
        }
    };
    let mut s = state();
    check(&s, [Grey, Grey, Grey, Grey, Grey]);
    s.apply(Action::Failed(Op::Hello, seq(), ProtocolError::new(ErrorCode::HostNotFound)));
    check(&s, [Green, Red, Grey, Grey, Grey]);
    s.apply(Action::Failed(Op::Hello, seq(), ProtocolError::new(ErrorCode::NotPaired)));
    check(&s, [Green, Amber, Grey, Grey, Grey]);
    let status = StatusReply {
        protocol_version: 1, helper_version: "0.1.0".into(), core_version: "0.1.0".into(), paired: true,
        backend: Backend::Gateway, institution_code: None, readers: vec![], pending_batches: 0, store: None,
    };
    s.apply(Action::Reply(Op::Status, seq(), Response::Status(status)));
    check(&s, [Green, Green, Red, Grey, Grey]);
    s.apply(Action::Event(Event::CardInserted { reader: "Virtual PCD 00 00".into() }));
    check(&s, [Green, Green, Green, Green, Grey]);
    s.apply(Action::Event(Event::CardRemoved { reader: "Virtual PCD 00 00".into() }));
    check(&s, [Green, Green, Green, Amber, Grey]);
    s.apply(Action::Failed(Op::Insurance, seq(), ProtocolError::network(true)));
    check(&s, [Green, Green, Green, Amber, Red]);
    s.apply(Action::Event(Event::PairingRevoked));
    check(&s, [Green, Amber, Green, Amber, Red]);
}

/// Issue 17: the 共有データベース lamp shows only where the helper has a
/// shared database; amber with the number kept on this PC while it is down.
#[test]
fn shared_database_lamp_follows_status() {
    let status = |store: Option<StoreStatus>| {
        Response::Status(StatusReply {
            protocol_version: 1, helper_version: "0.1.0".into(), core_version: "0.1.0".into(), paired: true,
            backend: Backend::Gateway, institution_code: None, readers: vec![], pending_batches: 0, store,
        })
    };
    let store_lamp = |s: &AppState| s.links.lamps().into_iter().find(|l| l.id == "store");
    let mut s = state();
    s.apply(Action::Reply(Op::Status, seq(), status(None)));
    assert_eq!(s.links.lamps().len(), 5, "no shared database, no lamp");
    assert!(store_lamp(&s).is_none());

    s.apply(Action::Reply(Op::Status, seq(), status(Some(StoreStatus { shared: true, reachable: true, queued: 0 }))));
    let lamp = store_lamp(&s).unwrap();
    assert_eq!((lamp.light, lamp.label.ja), (Light::Green, "共有データベース"));

    s.apply(Action::Reply(Op::Status, seq(), status(Some(StoreStatus { shared: true, reachable: false, queued: 3 }))));
    let lamp = store_lamp(&s).unwrap();
    assert_eq!(lamp.light, Light::Amber);
    assert_eq!(lamp.todo.ja, "共有データベースに接続できません。結果はこのPCに保存し、復旧後に自動で送ります（未送信 3件）。受付での確認は続けられます。長く続くときはIT担当者に連絡してください。");
    assert!(lamp.todo.en.contains("3 not sent yet"), "{:?}", lamp.todo);
    assert!(s.links.can_query(), "checks go on while the database is down");

    // Back: amber while the queue is sent, then green.
    s.apply(Action::Reply(Op::Status, seq(), status(Some(StoreStatus { shared: true, reachable: true, queued: 3 }))));
    assert_eq!(store_lamp(&s).unwrap().light, Light::Amber);
    assert!(store_lamp(&s).unwrap().state.ja.contains("送信中"));
    s.apply(Action::Reply(Op::Status, seq(), status(Some(StoreStatus { shared: true, reachable: true, queued: 0 }))));
    assert_eq!(store_lamp(&s).unwrap().light, Light::Green);
}

#[test]
fn today_rows_search_by_name_kana_and_number() {
    let entry = |id: &str, xml: &str| TodayEntry {
        entry_id: id.into(), at: "2025-04-01T09:15:02+09:00".into(), kind: ConfirmKind::Insurance, consents: None, document: None, treatment: None, desk: None, xml: xml.into(), summary: ResultSummary::default(),
    };
    let other = VALID_XML.replace("髙橋　一郎", "佐藤　花子").replace("ﾀｶﾊｼ ｲﾁﾛｳ", "ｻﾄｳ ﾊﾅｺ").replace(">0012<", ">0099<");
    let mut s = state();
    s.apply(Action::Reply(Op::Today, seq(), Response::Today(TodayReply { entries: vec![entry("a", VALID_XML), entry("b", &other)] })));
    assert!(s.today_loaded);
    assert_eq!(s.today[0].time(), "09:15");
    let ids = |q: &str| desk::search(&s.today, q).iter().map(|r| r.entry_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(""), ["b", "a"], "newest first");
    assert_eq!(ids("髙橋"), ["a"]);
    assert_eq!(ids("ｻﾄｳ"), ["b"]);
    assert_eq!(ids("００９９"), ["b"], "full-width digits match");
    // The stored kana is half-width (ﾀｶﾊｼ ｲﾁﾛｳ): typed in full-width katakana,
    // hiragana or half-width, with or without the space, it is found.
    for q in ["タカハシ", "たかはし", "ﾀｶﾊｼ", "たかはし　いちろう", "ﾀｶﾊｼｲﾁﾛｳ", "ｲﾁﾛｳ"] {
        assert_eq!(ids(q), ["a"], "{q}");
    }
    assert_eq!(ids("さとう"), ["b"]);
    assert_eq!(ids("ﾀｶﾊｼﾞ"), Vec::<String>::new(), "a voiced mark is a different kana");
    assert_eq!(ids("zzz"), Vec::<String>::new());
}

#[test]
fn pairing_shows_the_code_then_the_decision() {
    let mut s = state();
    s.apply(Action::Sent(Op::Pair, seq()));
    assert_eq!(s.pairing, Pairing::Waiting);
    s.apply(Action::Reply(Op::Pair, seq(), Response::PairBegin(PairBeginReply { pairing_id: "p1".into(), code: "K7Q2".into(), expires_in_s: 120 })));
    assert_eq!(s.pairing, Pairing::Code { code: "K7Q2".into(), pairing_id: "p1".into() });
    s.apply(Action::Event(Event::PairingDecided { pairing_id: "p1".into(), approved: true }));
    assert_eq!(s.pairing, Pairing::Approved);
    assert!(matches!(s.links.helper, links::Helper::Ready { .. }));
}

#[test]
fn routes_and_language() {
    assert_eq!(Route::from_digit(1), Some(Route::Desk));
    assert_eq!(Route::from_digit(2), Some(Route::Entry));
    assert_eq!(Route::from_digit(7), Some(Route::Settings));
    assert_eq!(Route::from_digit(8), Some(Route::Usage));
    assert_eq!(Route::from_digit(9), None);
    assert_eq!(Route::from_digit(0), None);
    for r in Route::NAV {
        assert_eq!(Route::from_slug(r.slug()), Some(r));
    }
    let mut s = state();
    assert_eq!(s.lang, Lang::Ja, "Japanese by default");
    s.apply(Action::SetLang(Lang::En));
    assert_eq!(s.lang, Lang::En);
}

fn info(id: &str, state: BatchState) -> BatchInfo {
    BatchInfo { batch_id: id.into(), state, submitted_at: "2025-04-01T10:00:00+09:00".into(), reception_number: None, total: 3, error: None }
}

#[test]
fn a_batch_runs_from_submit_to_results_and_ignores_other_batches() {
    let mut s = state();
    assert!(!s.batch_running());
    s.apply(Action::Reply(Op::BatchSubmit, seq(), Response::BatchSubmit(BatchSubmitted { batch_id: "b1".into(), accepted: 3 })));
    assert!(s.batch_running());
    s.apply(Action::Reply(Op::BatchStatus, seq(), Response::BatchStatus(BatchStatusReply {
        batches: vec![info("b0", BatchState::Done), info("b1", BatchState::Processing)],
    })));
    assert_eq!(s.batch.info.as_ref().map(|i| i.state), Some(BatchState::Processing));
    s.apply(Action::Event(Event::BatchProgress { batch_id: "b0".into(), state: BatchState::Failed }));
    assert_eq!(s.batch.info.as_ref().map(|i| i.state), Some(BatchState::Processing), "another batch's event");
    s.apply(Action::Event(Event::BatchProgress { batch_id: "b1".into(), state: BatchState::Done }));
    assert_eq!(s.batch.info.as_ref().map(|i| i.state), Some(BatchState::Done));
    let other = BatchResultsReply { batch_id: "b0".into(), xml: "<x/>".into(), received: None, total: 1, normal: 1, errors: 0 };
    s.apply(Action::Reply(Op::BatchResults, seq(), Response::BatchResults(other)));
    assert!(s.batch.results_xml.is_none(), "results of another batch are not shown as this one's");
    let mine = BatchResultsReply { batch_id: "b1".into(), xml: "<ok/>".into(), received: Some(onshi_core::protocol::ReceivedXml::new(b"<ok/>", true)), total: 3, normal: 3, errors: 0 };
    s.apply(Action::Reply(Op::BatchResults, seq(), Response::BatchResults(mine)));
    assert_eq!(s.batch.results_xml.as_deref(), Some("<ok/>"));
    assert_eq!(s.batch.results_received.as_deref(), Some("PG9rLz4="), "the bytes as received are kept for the export");
    assert!(!s.batch_running());
}

#[test]
fn a_failed_batch_stops_running_and_errors_reach_the_page() {
    let mut s = state();
    s.apply(Action::Reply(Op::BatchSubmit, seq(), Response::BatchSubmit(BatchSubmitted { batch_id: "b1".into(), accepted: 3 })));
    s.apply(Action::Reply(Op::BatchStatus, seq(), Response::BatchStatus(BatchStatusReply { batches: vec![info("b1", BatchState::Failed)] })));
    assert!(!s.batch_running());
    s.apply(Action::Failed(Op::Medication, seq(), ProtocolError::new(ErrorCode::NotPaired)));
    assert_eq!(s.page_error.as_ref().map(|e| e.code), Some(ErrorCode::NotPaired));
}

#[test]
fn history_belongs_to_the_result_on_screen() {
    let mut s = state();
    assert!(s.history_subject().is_none());
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(VALID_XML))));
    let q = s.history_subject().expect("the result's first entry");
    let who = insured_of(&q).expect("a result entry names the person");
    assert_eq!(who.insurer_number, q.insurer_number.clone().unwrap().trim());
    s.apply(Action::Reply(Op::Medication, seq(), Response::MedicationFetch(XmlReply { xml: "<m/>".into() })));
    assert_eq!(s.history.medication_xml.as_deref(), Some("<m/>"));
    // A new result (maybe another patient) drops the fetched history.
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(VALID_XML))));
    assert!(s.history.medication_xml.is_none());
}

#[test]
fn history_months_cover_the_last_year() {
    for (now, want) in [
        ("20250401120000", Some(("202405", "202504"))),
        ("20251215", Some(("202501", "202512"))),
        ("20250101", Some(("202402", "202501"))),
        ("2025", None),
        ("20251301", None),
    ] {
        let got = last_year_months(now);
        assert_eq!(got.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), want, "{now}");
    }
}

/// Issue 5: the helper's typed `card_not_registered` (not message wording)
/// brings up the registration offer; registering runs the same check again.
#[test]
fn card_not_registered_offers_registration_then_rechecks() {
    let mut s = state();
    s.apply(Action::CardMode(ConfirmMode::Visual));
    s.apply(Action::ToggleConsent(Consent::HealthCheck));
    s.apply(Action::Sent(Op::Card, seq()));
    assert!(!s.card.can_register());
    s.apply(Action::Failed(Op::Card, seq(), ProtocolError::new(ErrorCode::CardNotRegistered)));
    assert!(s.card.offer_registration && s.card.can_register());
    assert!(matches!(&s.card.step, CardStep::Failed(e) if e.code == ErrorCode::CardNotRegistered));
    // Registration is always with the PIN, with the consents on screen.
    assert_eq!(s.card.register_request(), CardRegister { consents: Consents { health_check: true, ..Consents::default() }, reader: None });

    s.apply(Action::Sent(Op::CardRegister, seq()));
    assert!(s.card.registering && s.card.offer_registration, "the offer stays, its button disabled");
    assert!(!s.card.can_register(), "no second registration while one runs");
    s.apply(Action::Event(Event::PinNeeded { confirm_id: "c-2".into(), request_id: "r".into(), tries_left: 3, origin: "o".into(), purpose: PinPurpose::Register }));
    assert_eq!(s.card.step, CardStep::WaitingPin { tries_left: 3, confirm_id: "c-2".into() });
    assert_eq!(s.card.cancel_request(), Some(PinCancel { confirm_id: "c-2".into() }));

    // A cancelled registration can be tried again.
    s.apply(Action::Failed(Op::CardRegister, seq(), ProtocolError::new(ErrorCode::Cancelled)));
    assert!(!s.card.registering && s.card.can_register());

    s.apply(Action::Sent(Op::CardRegister, seq()));
    let body = Response::CardRegister(CardRegistered { already_registered: false });
    let reply = Ok(body.clone());
    // The shell re-runs the check with the same mode and consents…
    assert_eq!(s.card.recheck_after(&reply), Some(s.card.request()));
    assert_eq!(s.card.request().mode, ConfirmMode::Visual);
    // …and no re-run after a failed registration.
    assert_eq!(s.card.recheck_after(&Err(ProtocolError::new(ErrorCode::WrongPin))), None);
    s.apply(Action::Reply(Op::CardRegister, seq(), body));
    assert_eq!(s.card.step, CardStep::Registered);
    assert!(!s.card.offer_registration && !s.card.registering);

    s.apply(Action::Sent(Op::Card, seq()));
    s.apply(Action::Reply(Op::Card, seq(), Response::CardConfirm(eligibility(VALID_XML))));
    assert_eq!(s.card.step, CardStep::Done);
    assert!(!s.card.offer_registration);
    let row = s.today.last().expect("a row");
    assert_eq!((row.kind, row.consents), (ConfirmKind::CardVisual, Some(Consents { health_check: true, ..Consents::default() })));
}

#[test]
fn other_card_errors_do_not_offer_registration() {
    for code in [ErrorCode::NoCard, ErrorCode::GatewayError, ErrorCode::PinLocked, ErrorCode::NotMyNumberCard] {
        let mut s = state();
        s.apply(Action::Sent(Op::Card, seq()));
        s.apply(Action::Failed(Op::Card, seq(), ProtocolError::new(code)));
        assert!(!s.card.offer_registration, "{code:?}");
    }
}

/// After a reload the desk rebuilds from `today`: the mode and consents the
/// helper kept come back with each card row.
#[test]
fn today_rows_keep_card_mode_and_consents() {
    let entry = |id: &str, kind, consents| TodayEntry {
        entry_id: id.into(), at: "2025-04-01T09:15:02+09:00".into(), kind, consents, document: None, treatment: None, desk: None, xml: VALID_XML.into(), summary: ResultSummary::default(),
    };
    let med = Consents { medication: true, diagnosis_procedure: true, ..Consents::default() };
    let mut s = state();
    s.apply(Action::Reply(Op::Today, seq(), Response::Today(TodayReply { entries: vec![
        entry("a", ConfirmKind::CardVisual, Some(med)),
        entry("b", ConfirmKind::CardPin, Some(Consents::default())),
        entry("c", ConfirmKind::Insurance, None),
    ] })));
    let rows: Vec<(ConfirmKind, Option<Consents>)> = s.today.iter().map(|r| (r.kind, r.consents)).collect();
    assert_eq!(rows, [(ConfirmKind::CardVisual, Some(med)), (ConfirmKind::CardPin, Some(Consents::default())), (ConfirmKind::Insurance, None)]);
    let text = Consent::summary(&med);
    assert_eq!((text.ja.as_str(), text.en.as_str()), ("同意：薬剤・診療", "Consented: medication, diagnoses"));
    assert_eq!(Consent::summary(&Consents::default()).ja, "同意なし");
}

/// A late `extension_missing` from an old `hello` (its ack timed out
/// after 1 s) must not turn the lamps red after a newer request succeeded,
/// nor may an old reply of a kind overwrite a newer one's.
#[test]
fn stale_answers_do_not_override_newer_ones() {
    let missing = || ProtocolError::new(ErrorCode::ExtensionMissing);
    let hello = |paired| Response::Hello(HelloReply {
        protocol_version: 1, helper_version: "0.1.0".into(), core_version: "0.1.0".into(), paired,
    });
    let light = |s: &AppState, id: &str| s.links.lamps().into_iter().find(|l| l.id == id).map(|l| l.light);

    // Load-time hello (1) gets no ack; "check again" sends hello (2), which succeeds first.
    let mut s = state();
    let (old, new) = (seq(), seq());
    s.apply(Action::Sent(Op::Hello, old));
    s.apply(Action::Sent(Op::Hello, new));
    s.apply(Action::Reply(Op::Hello, new, hello(true)));
    s.apply(Action::Failed(Op::Hello, old, missing()));
    assert_eq!(light(&s, "extension"), Some(Light::Green));
    assert_eq!(light(&s, "helper"), Some(Light::Green));

    // Across kinds: an insurance check sent after the old hello succeeded.
    let mut s = state();
    let (h, ins) = (seq(), seq());
    s.apply(Action::Sent(Op::Hello, h));
    s.apply(Action::Sent(Op::Insurance, ins));
    s.apply(Action::Reply(Op::Insurance, ins, Response::InsuranceConfirm(eligibility(VALID_XML))));
    s.apply(Action::Failed(Op::Hello, h, missing()));
    assert_eq!(light(&s, "extension"), Some(Light::Green), "{:?}", s.links);
    assert!(s.links.can_query());

    // An old `hello` saying "not paired" arrives after the newer status said paired.
    let mut s = state();
    let (h, st) = (seq(), seq());
    s.apply(Action::Sent(Op::Hello, h));
    s.apply(Action::Sent(Op::Status, st));
    let status = StatusReply {
        protocol_version: 1, helper_version: "0.1.0".into(), core_version: "0.1.0".into(), paired: true,
        backend: Backend::Gateway, institution_code: None, readers: vec![ReaderInfo { name: "R".into(), card_present: true }], pending_batches: 0, store: None,
    };
    s.apply(Action::Reply(Op::Status, st, Response::Status(status)));
    s.apply(Action::Reply(Op::Hello, h, hello(false)));
    assert_eq!(light(&s, "helper"), Some(Light::Green));
    assert_eq!(light(&s, "card"), Some(Light::Green));

    // In order, the same failure still counts: a real missing extension shows red.
    let mut s = state();
    let (ok, later) = (seq(), seq());
    s.apply(Action::Reply(Op::Hello, ok, hello(true)));
    s.apply(Action::Failed(Op::Status, later, missing()));
    assert_eq!(light(&s, "extension"), Some(Light::Red));

    // Same kind: the pairing code of an abandoned pair_begin does not replace the newer one.
    let mut s = state();
    let (p1, p2) = (seq(), seq());
    s.apply(Action::Sent(Op::Pair, p1));
    s.apply(Action::Sent(Op::Pair, p2));
    let code = |c: &str, id: &str| Response::PairBegin(PairBeginReply { pairing_id: id.into(), code: c.into(), expires_in_s: 120 });
    s.apply(Action::Reply(Op::Pair, p2, code("NEW1", "p2")));
    s.apply(Action::Reply(Op::Pair, p1, code("OLD1", "p1")));
    assert_eq!(s.pairing, Pairing::Code { code: "NEW1".into(), pairing_id: "p2".into() });
}

/// Before pairing, `status` and `today` are refused (not paired), and the
/// helper's reader/card events report only changes: approval must make the
/// shell ask again, or the reader and card lamps stay "unknown" (the demo bug).
#[test]
fn pairing_approval_asks_for_status_again() {
    let mut s = state();
    let (h, st) = (seq(), seq());
    s.apply(Action::Reply(Op::Hello, h, Response::Hello(HelloReply {
        protocol_version: 1, helper_version: "0.1.0".into(), core_version: "0.1.0".into(), paired: false,
    })));
    s.apply(Action::Failed(Op::Status, st, ProtocolError::new(ErrorCode::NotPaired)));
    assert_eq!(s.links.readers, links::Readers::Unknown);
    let before = s.refresh;
    s.apply(Action::Event(Event::PairingDecided { pairing_id: "p1".into(), approved: false }));
    assert_eq!(s.refresh, before, "a denied pairing changes nothing to ask");
    s.apply(Action::Event(Event::PairingDecided { pairing_id: "p1".into(), approved: true }));
    assert_eq!(s.refresh, before + 1);
}

/// A page the helper knows but has not paired is told to pair, not that the
/// extension and helper are missing: they are there.
#[test]
fn an_unpaired_page_is_told_to_pair() {
    let mut s = good_form();
    s.apply(Action::Reply(Op::Hello, seq(), Response::Hello(HelloReply {
        protocol_version: 1, helper_version: "0.1.0".into(), core_version: "0.1.0".into(), paired: false,
    })));
    assert_eq!(s.links.helper, links::Helper::NotPaired);
    let SubmitPlan::Refuse(notice) = s.submit_plan() else { panic!("an unpaired page must not send") };
    let text = notice.text();
    assert!(text.ja.contains("ペアリングを始める") && !text.ja.contains("拡張機能とヘルパー"), "{}", text.ja);
    assert!(text.en.contains("Start pairing"), "{}", text.en);
    assert_eq!(s.links.query_blocker().map(|e| e.code), Some(ErrorCode::NotPaired));
    // Once paired, it sends.
    s.apply(Action::Event(Event::PairingDecided { pairing_id: "p1".into(), approved: true }));
    assert!(matches!(s.submit_plan(), SubmitPlan::Send(_)), "{:?}", s.links.helper);
}

/// A page outside IT's allowlist is told so (and who to ask), not to pair:
/// pairing cannot help it.
#[test]
fn a_page_outside_the_allowlist_is_told_to_ask_it() {
    let mut s = good_form();
    s.apply(Action::Failed(Op::Hello, seq(), ProtocolError::new(ErrorCode::OriginNotAllowed)));
    let blocker = s.links.query_blocker().expect("nothing may be sent");
    assert_eq!(blocker.code, ErrorCode::OriginNotAllowed);
    assert!(blocker.message.ja.contains("IT担当者"), "{}", blocker.message.ja);
    assert!(!matches!(s.submit_plan(), SubmitPlan::Send(_)));
}

mod certificate;

/// Issue 17: a check another desk made arrives as `today_added` and is
/// listed once, with its desk; this page's own check is listed once too,
/// whether its reply or its event comes first.
#[test]
fn checks_from_other_desks_are_listed_once_with_their_desk() {
    let entry = |id: &str, desk: &str| TodayEntry {
        entry_id: id.into(), at: "2025-04-01T09:15:02+09:00".into(), kind: ConfirmKind::Insurance, consents: None, document: None,
        treatment: Some(Treatment::Outpatient), desk: Some(desk.into()), xml: VALID_XML.into(), summary: ResultSummary::default(),
    };
    let mut s = state();
    s.apply(Action::Reply(Op::Today, seq(), Response::Today(TodayReply { entries: vec![entry("t-1", "受付1")] })));
    s.apply(Action::Event(Event::TodayAdded { entry: entry("t-2", "受付2") }));
    s.apply(Action::Event(Event::TodayAdded { entry: entry("t-2", "受付2") }));
    let rows = |s: &AppState| s.today.iter().map(|r| (r.entry_id.clone(), r.desk.clone())).collect::<Vec<_>>();
    assert_eq!(rows(&s), [("t-1".to_string(), Some("受付1".to_string())), ("t-2".into(), Some("受付2".into()))]);
    assert!(s.shown.is_none(), "another desk's check is listed, not shown over this desk's work");

    // Own check: the event first, then the reply with the same id.
    s.apply(Action::Event(Event::TodayAdded { entry: entry("t-3", "受付1") }));
    s.apply(Action::Sent(Op::Insurance, seq()));
    let own = Eligibility { entry_id: Some("t-3".into()), ..eligibility(VALID_XML) };
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(own)));
    assert_eq!(s.today.len(), 3, "{:?}", rows(&s));
    assert!(s.shown.is_some(), "the own check is shown");
    // Own check: the reply first, then the event.
    s.apply(Action::Sent(Op::Insurance, seq()));
    let own = Eligibility { entry_id: Some("t-4".into()), ..eligibility(VALID_XML) };
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(own)));
    s.apply(Action::Event(Event::TodayAdded { entry: entry("t-4", "受付1") }));
    assert_eq!(s.today.iter().map(|r| r.entry_id.as_str()).collect::<Vec<_>>(), ["t-1", "t-2", "t-3", "t-4"]);
}
