//! Eligibility documents on the service's side: building the request
//! documents from protocol bodies (through the core's validation, so the
//! rules live in one place) and reading the few codes the service needs from
//! answers. No I/O; "today" and the institution code are passed in.

use onshi_core::codes::{CodeValue, ProcessingResultStatus, QualificationValidity, SegmentOfResult};
use onshi_core::message::{BatchUploadBody, BulkRegistrationBody, MessageHeader, Msg, ReceptionBody, Registration};
use onshi_core::protocol::{BatchEntry, EntryError, InsuranceConfirm, InsuredPerson, ProtocolError, ReceivedXml, ReferenceEntry, ResultSummary};
use onshi_core::text::Bilingual;
use onshi_core::validate::{build_individual_request, validate_search_input, IndividualRequestInput, SearchInput};
use onshi_core::{Diagnostic, Encoding, Message, Severity};

use crate::store::{PatientId, ReferenceNumbers, ResultStatus};

/// The most entries one batch may carry (the national system's limit is
/// higher; this keeps one upload well under the reply and file caps).
pub const MAX_BATCH: usize = 10_000;

fn search_input(p: &InsuredPerson) -> SearchInput {
    SearchInput {
        insurer_number: p.insurer_number.clone(),
        symbol: p.symbol.clone().unwrap_or_default(),
        number: p.number.clone(),
        branch: p.branch.clone().unwrap_or_default(),
        birthdate: p.birth_date.clone(),
    }
}

/// The first error diagnostic as an `invalid_argument`, keeping the core's
/// bilingual text (it already says what to fix).
pub fn diagnostics_error(prefix: &str, diagnostics: &[Diagnostic]) -> ProtocolError {
    let d = diagnostics.iter().find(|d| d.severity == Severity::Error).or(diagnostics.first());
    match d {
        Some(d) => {
            let field = if prefix.is_empty() { d.path.clone() } else { format!("{prefix}{}", d.path) };
            let mut e = ProtocolError::invalid_argument(field, d.code.clone());
            e.message = d.message.clone();
            e
        }
        None => ProtocolError::invalid_argument(prefix, "invalid"),
    }
}

/// `insurance_confirm` → `OQSsiquc01req` (UTF-8 bytes).
pub fn individual_request(institution: &str, today: &str, body: &InsuranceConfirm) -> Result<Vec<u8>, ProtocolError> {
    let input = IndividualRequestInput {
        institution: institution.to_owned(),
        date: today.to_owned(),
        search: search_input(&body.insured),
        arbitrary_file_identifier: None,
        limit_consent: body.limit_certificate,
    };
    let mut msg = build_individual_request(&input).map_err(|d| diagnostics_error("insured.", &d))?;
    if let (Some(id), Message::IndividualRequest(m)) = (&body.arbitrary_id, &mut msg)
        && let Some(s) = m.body.search.as_mut()
    {
        s.arbitrary_identifier = Some(id.clone());
    }
    Ok(msg.write(Encoding::Utf8))
}

/// `batch_submit` → `OQSmuquc01req`. Every entry is checked; the first bad
/// one is named by its index.
pub fn batch_upload(institution: &str, date: &str, entries: &[BatchEntry]) -> Result<Vec<u8>, ProtocolError> {
    if entries.is_empty() {
        return Err(ProtocolError::invalid_argument("entries", "a batch needs at least one person"));
    }
    if entries.len() > MAX_BATCH {
        return Err(ProtocolError::invalid_argument("entries", format!("at most {MAX_BATCH} people per batch")));
    }
    // The header rules (institution, date) are the individual request's; build one to check them.
    let probe = IndividualRequestInput {
        institution: institution.to_owned(),
        date: date.to_owned(),
        search: search_input(&entries[0].insured),
        ..Default::default()
    };
    let header = match build_individual_request(&probe) {
        Ok(m) => m.header().cloned().unwrap_or_default(),
        Err(d) => return Err(diagnostics_error("entries[0].insured.", &d)),
    };
    let mut searches = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        match validate_search_input(&search_input(&e.insured)) {
            (Some(mut s), _) => {
                s.arbitrary_identifier = e.arbitrary_id.clone();
                searches.push(s);
            }
            (None, d) => return Err(diagnostics_error(&format!("entries[{i}].insured."), &d)),
        }
    }
    let header = MessageHeader {
        qualification_confirmation_date: header.qualification_confirmation_date,
        medical_institution_code: header.medical_institution_code,
        ..Default::default()
    };
    Ok(Message::BatchUploadRequest(Msg { header, body: BatchUploadBody { searches } }).write(Encoding::Utf8))
}

/// Which consented history to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Info {
    /// `YZKsiquc01req`; with diagnosis and procedures when `true`.
    Medication { diagnosis: bool },
    /// `TKKsiquc01req`.
    Checkup,
}

/// `medication_fetch` / `checkup_fetch` → the request document. The
/// patient's consent itself is held and enforced by the national system
/// (it answers "no consent" in the result); the helper only asks.
pub fn info_request(
    institution: &str,
    info: Info,
    insured: &InsuredPerson,
    months: Option<(&str, &str)>,
    treatment: onshi_core::protocol::Treatment,
) -> Result<Vec<u8>, ProtocolError> {
    use onshi_core::codes::FileCategory;
    // The insurance key is checked by the same rules as an insurance-card search.
    let (search, d) = validate_search_input(&search_input(insured));
    let Some(search) = search else { return Err(diagnostics_error("insured.", &d)) };
    let header = MessageHeader {
        medical_institution_code: Some(institution.to_owned()),
        insurer_number: search.insurer_number,
        insurance_card_symbol: search.insured_card_symbol,
        insured_person_identification_number: search.insured_identification_number,
        branch_number: search.insured_branch_number,
        birthdate: search.birthdate,
        start_date: months.map(|m| m.0.to_owned()),
        end_date: months.map(|m| m.1.to_owned()),
        file_category: Some(match info {
            Info::Medication { diagnosis: true } => FileCategory::MedicationDiagnosisXml,
            _ => FileCategory::Xml,
        }),
        medical_treatment_flag: Some(treatment.flag()),
        ..Default::default()
    };
    let msg = Msg { header, body: Default::default() };
    let msg = match info {
        Info::Medication { .. } => Message::MedicationRequest(msg),
        Info::Checkup => Message::CheckupRequest(msg),
    };
    let diagnostics = onshi_core::validate::validate(&msg);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(diagnostics_error("", &diagnostics));
    }
    Ok(msg.write(Encoding::Utf8))
}

/// A checked `reference_register`: the document to send and what it holds.
#[derive(Debug)]
pub struct References {
    /// `OQSsiimm01req` (one entry sent) or `OQSmuimm01req` (more).
    pub request_xml: Vec<u8>,
    /// Whether `request_xml` is the bulk form.
    pub bulk: bool,
    /// The entries in the document, as the store keeps them.
    pub sent: Vec<(PatientId, ReferenceNumbers)>,
    /// For each of `sent`, its index in the request's `entries`.
    pub sent_index: Vec<u32>,
    /// Entries refused before sending, each with its reason.
    pub rejected: Vec<EntryError>,
}

/// The longest 照会番号 the helper sends (the system's field is 20 characters).
pub const MAX_REFERENCE_CHARS: usize = 20;

fn registration(entry: &ReferenceEntry, i: usize) -> Result<(Registration, PatientId, ReferenceNumbers), ProtocolError> {
    let (search, d) = validate_search_input(&search_input(&entry.insured));
    let Some(search) = search else { return Err(diagnostics_error(&format!("entries[{i}].insured."), &d)) };
    let field = format!("entries[{i}].reference_number");
    let reference = entry.reference_number.trim();
    let bad = |reason: &str, ja: &str, en: &str| {
        let mut e = ProtocolError::invalid_argument(field.clone(), reason);
        e.message = Bilingual::new(format!("{}件目の照会番号（患者番号）{ja}", i + 1), format!("Entry {}: the reference (patient) number {en}", i + 1));
        e
    };
    if reference.is_empty() || reference.chars().count() > MAX_REFERENCE_CHARS || reference.chars().any(char::is_control) {
        return Err(bad(
            "1 to 20 characters, no control characters",
            "は1〜20文字で入力してください。",
            "must be 1 to 20 characters.",
        ));
    }
    let patient = PatientId::new(reference).map_err(|e| bad(&e.to_string(), "を確かめてください。", "is not usable; check it."))?;
    let numbers = ReferenceNumbers {
        insurer: entry.insured.insurer_number.trim().to_owned(),
        symbol: entry.insured.symbol.clone().filter(|s| !s.trim().is_empty()),
        number: entry.insured.number.clone(),
        branch: entry.insured.branch.clone().filter(|s| !s.trim().is_empty()),
    };
    let body = Registration { search: Some(search), reference_number: Some(reference.to_owned()), ..Default::default() };
    Ok((body, patient, numbers))
}

/// `reference_register` → the document to send. Every entry is checked on
/// its own (the core's number and date rules, the reference number, no
/// reference number twice); refused entries are reported, not sent. When no
/// entry passes, the first refusal is the answer.
pub fn references(institution: &str, today: &str, entries: &[ReferenceEntry]) -> Result<References, ProtocolError> {
    if entries.is_empty() {
        return Err(ProtocolError::invalid_argument("entries", "at least one entry"));
    }
    if entries.len() > MAX_BATCH {
        return Err(ProtocolError::invalid_argument("entries", format!("at most {MAX_BATCH} entries per request")));
    }
    let mut units = Vec::new();
    let mut sent: Vec<(PatientId, ReferenceNumbers)> = Vec::new();
    let mut sent_index = Vec::new();
    let mut rejected = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let checked = registration(entry, i).and_then(|r| {
            if seen.insert(r.1.as_str().to_owned()) {
                Ok(r)
            } else {
                let mut e = ProtocolError::invalid_argument(format!("entries[{i}].reference_number"), "duplicate in this request");
                e.message = Bilingual::new(
                    format!("{}件目の照会番号「{}」は、同じ依頼の中で既に使われています。重複を直してください。", i + 1, r.1.as_str()),
                    format!("Entry {}: reference number \"{}\" appears earlier in this request. Remove the duplicate.", i + 1, r.1.as_str()),
                );
                Err(e)
            }
        });
        match checked {
            Ok((unit, patient, numbers)) => {
                units.push(unit);
                sent.push((patient, numbers));
                sent_index.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
            Err(error) => rejected.push(EntryError { index: u32::try_from(i).unwrap_or(u32::MAX), error }),
        }
    }
    if units.is_empty() {
        return Err(rejected.swap_remove(0).error);
    }
    let header = MessageHeader {
        qualification_confirmation_date: Some(today.to_owned()),
        medical_institution_code: Some(institution.to_owned()),
        ..Default::default()
    };
    let bulk = units.len() > 1;
    let msg = match (bulk, units.pop()) {
        (false, Some(one)) => Message::RegistrationRequest(Msg { header, body: one }),
        (_, last) => {
            units.extend(last);
            Message::BulkRegistrationRequest(Msg { header, body: BulkRegistrationBody { units, ..Default::default() } })
        }
    };
    let diagnostics = onshi_core::validate::validate(&msg);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(diagnostics_error("", &diagnostics));
    }
    Ok(References { request_xml: msg.write(Encoding::Utf8), bulk, sent, sent_index, rejected })
}

/// `OQSmuquc02req` for a reception number (and `OQSmuimm02req`: the bulk
/// registration's download is the same document under another name).
pub fn batch_download(institution: &str, reception: &str) -> Vec<u8> {
    let header = MessageHeader {
        medical_institution_code: Some(institution.to_owned()),
        reception_number: Some(reception.to_owned()),
        ..Default::default()
    };
    let body = ReceptionBody { reception_number: Some(reception.to_owned()), ..Default::default() };
    Message::BatchDownloadRequest(Msg { header, body }).write(Encoding::Utf8)
}

/// An answer document, read.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The bytes as the system sent them: what is stored and exported.
    pub received: Vec<u8>,
    /// The document as UTF-8 text with a matching declaration (the page
    /// parses it again with the core).
    pub xml: String,
    pub message: Message,
}

/// Reads an answer's bytes (UTF-8 or Shift_JIS).
pub fn read_answer(bytes: &[u8]) -> Result<Answer, ProtocolError> {
    let bad = |detail: String| {
        eprintln!("onshi-helper service: unusable answer: {detail}");
        let mut e = ProtocolError::gateway("BAD_ANSWER", "the answer is not a readable result document");
        e.retryable = false;
        e
    };
    let parsed = onshi_core::parse(bytes).map_err(|e| bad(e.to_string()))?;
    let xml = page_text(bytes).map_err(bad)?;
    Ok(Answer { received: bytes.to_vec(), xml, message: parsed.message })
}

/// A document's bytes as the text the page reads: decoded, and when they
/// were Shift_JIS with the declaration rewritten to UTF-8 (the page would
/// otherwise read the UTF-8 text wrongly). The one place this is done, for
/// fresh answers and stored ones alike; exports use the bytes instead.
pub fn page_text(bytes: &[u8]) -> Result<String, String> {
    let (text, encoding, _) = onshi_core::xml::decode(bytes, 64 << 20).map_err(|e| e.to_string())?;
    Ok(if encoding == Encoding::Utf8 { text.into_owned() } else { utf8_declaration(&text) })
}

/// A stored document for the page: its text, and its bytes for export.
pub fn stored_for_page(doc: &crate::store::StoredXml) -> (String, ReceivedXml) {
    let exact = doc.kept == crate::store::Kept::AsReceived;
    (stored_text(doc), ReceivedXml::new(&doc.bytes, exact))
}

/// A stored document's text for the page. Stored bytes were read once
/// already; should they no longer decode, the page still gets them as lossy
/// text rather than nothing.
pub fn stored_text(doc: &crate::store::StoredXml) -> String {
    page_text(&doc.bytes).unwrap_or_else(|_| String::from_utf8_lossy(&doc.bytes).into_owned())
}

/// Text decoded from Shift_JIS still declares Shift_JIS; the page would read
/// the UTF-8 text wrongly, so the declaration is rewritten.
fn utf8_declaration(text: &str) -> String {
    let body = text.trim_start_matches('\u{feff}');
    match body.strip_prefix("<?xml").and_then(|rest| rest.find("?>").map(|end| &rest[end + 2..])) {
        Some(rest) => format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>{rest}"),
        None => body.to_owned(),
    }
}

/// The codes the page and the today list want, and the stored status.
pub fn summary(message: &Message) -> (ResultSummary, ResultStatus) {
    let mut s = ResultSummary::default();
    let mut status = ResultStatus::Error;
    if let Message::IndividualResult(m) | Message::FaceResult(m) = message {
        s.segment_of_result = m.header.segment_of_result.as_ref().map(|c| c.code().to_owned());
        s.processing_result_status = m.body.processing_result_status.as_ref().map(|c| c.code().to_owned());
        s.qualification_validity = m.body.qualification_validity.as_ref().map(|c| c.code().to_owned());
        s.result_count = u32::try_from(m.body.results.len()).unwrap_or(u32::MAX);
        status = match (&m.body.processing_result_status, &m.body.qualification_validity) {
            (Some(ProcessingResultStatus::Error), _) => ResultStatus::Error,
            (_, Some(QualificationValidity::Valid | QualificationValidity::ValidUnregistered)) => ResultStatus::Valid,
            (_, Some(QualificationValidity::NoMatch)) => ResultStatus::NotFound,
            (_, Some(_)) => ResultStatus::Invalid,
            (_, None) => ResultStatus::Error,
        };
    }
    (s, status)
}

/// An error result document (ProcessingResultStatus 2) as `gateway_error`:
/// eligibility results, registration results and acknowledgements.
pub fn error_of(message: &Message) -> Option<ProtocolError> {
    let (status, code, text, header) = match message {
        Message::IndividualResult(m) | Message::FaceResult(m) => {
            (&m.body.processing_result_status, &m.body.processing_result_code, &m.body.processing_result_message, &m.header)
        }
        Message::RegistrationResult(m) => {
            (&m.body.processing_result_status, &m.body.processing_result_code, &m.body.processing_result_message, &m.header)
        }
        Message::BatchUploadResult(m) => {
            (&m.body.processing_result_status, &m.body.processing_result_code, &m.body.processing_result_message, &m.header)
        }
        _ => return None,
    };
    status_error(status, code, text, header)
}

/// ProcessingResultStatus 2 as `gateway_error` with the system's code and
/// reason (the header's ErrorCode/ErrorMessage when the body has none);
/// `None` for any other status.
fn status_error(
    status: &Option<ProcessingResultStatus>,
    code: &Option<String>,
    text: &Option<String>,
    header: &MessageHeader,
) -> Option<ProtocolError> {
    (*status == Some(ProcessingResultStatus::Error)).then(|| {
        ProtocolError::gateway(
            code.clone().or(header.error_code.clone()).unwrap_or_default(),
            text.clone().or(header.error_message.clone()).unwrap_or_default(),
        )
    })
}

/// The insurer number of the first entry, digits only (for the today list).
pub fn insurer_of(message: &Message) -> Option<String> {
    let (Message::IndividualResult(m) | Message::FaceResult(m)) = message else { return None };
    let n = m.body.search.as_ref().and_then(|s| s.insurer_number.clone())?;
    let n = n.trim().to_owned();
    (matches!(n.len(), 6 | 8) && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

/// A batch download answer: still processing, or done with counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchAnswer {
    Processing,
    Done { total: u32, normal: u32, errors: u32 },
}

/// Reads an `OQSmuquc02res` (SegmentOfResult 2 = still processing).
pub fn batch_answer(message: &Message) -> Option<BatchAnswer> {
    let Message::BatchDownloadResult(m) = message else { return None };
    if m.header.segment_of_result == Some(SegmentOfResult::InProgress) {
        return Some(BatchAnswer::Processing);
    }
    let n = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<u32>().ok());
    let units = u32::try_from(m.body.units.len()).unwrap_or(u32::MAX);
    let total = n(&m.header.number_of_processing_result).unwrap_or(units);
    let errors = n(&m.header.number_of_error).unwrap_or(0);
    let normal = n(&m.header.number_of_normal_processing).unwrap_or(total.saturating_sub(errors));
    Some(BatchAnswer::Done { total, normal, errors })
}

/// What a bulk registration's result (`OQSmuimm02res`) says, by reference
/// number (not by position: an entry is named by its 照会番号, which the
/// helper keeps unique within a request).
#[derive(Debug, Default)]
pub struct Registered {
    /// Reference numbers the system registered.
    pub done: std::collections::HashSet<String>,
    /// Reference numbers it refused, with the system's code and reason.
    pub refused: std::collections::HashMap<String, ProtocolError>,
    /// The whole file refused: an error result that names no entry.
    pub whole: Option<ProtocolError>,
}

/// Reads a bulk registration's result. `Err(true)` while the system is still
/// working on it (ask again), `Err(false)` when the answer is not such a result.
/// A unit whose status is neither 1 nor 2 is in neither set: its outcome is not known.
pub fn registration_outcomes(message: &Message) -> Result<Registered, bool> {
    match message {
        Message::BulkRegistrationResult(m) => {
            let mut r = Registered::default();
            if m.body.units.is_empty() {
                let b = &m.body;
                r.whole = status_error(&b.processing_result_status, &b.processing_result_code, &b.processing_result_message, &m.header);
            }
            for u in &m.body.units {
                let reference = u.reference_number.as_deref().unwrap_or_default().trim().to_owned();
                let refusal = status_error(&u.processing_result_status, &u.processing_result_code, &u.processing_result_message, &m.header);
                match (refusal, &u.processing_result_status) {
                    (Some(e), _) => {
                        r.refused.insert(reference, e);
                    }
                    (None, Some(ProcessingResultStatus::Normal)) => {
                        r.done.insert(reference);
                    }
                    (None, _) => {}
                }
            }
            Ok(r)
        }
        Message::BatchDownloadResult(m) => Err(m.header.segment_of_result == Some(SegmentOfResult::InProgress)),
        _ => Err(false),
    }
}

/// The reception number of an acknowledgement (`OQSmuquc01res`, `OQSmuimm01res`).
pub fn reception_of(message: &Message) -> Option<String> {
    let Message::BatchUploadResult(m) = message else { return None };
    m.header.reception_number.clone().or(m.body.reception_number.clone()).map(|s| s.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Registered, refused and not known are told apart by each unit's
    /// status; an error result naming no entry refuses the whole file.
    #[test]
    fn bulk_registration_outcomes_by_reference_number() {
        let unit = |reference: &str, status: Option<ProcessingResultStatus>| Registration {
            reference_number: Some(reference.into()),
            processing_result_code: (status == Some(ProcessingResultStatus::Error)).then(|| "EQ2001".into()),
            processing_result_status: status,
            ..Default::default()
        };
        let result = |units, status| {
            Message::BulkRegistrationResult(Msg {
                header: MessageHeader::default(),
                body: BulkRegistrationBody { processing_result_status: status, units, ..Default::default() },
            })
        };
        let units = vec![
            unit(" K1 ", Some(ProcessingResultStatus::Normal)),
            unit("K2", Some(ProcessingResultStatus::Error)),
            unit("K3", None),
        ];
        let r = registration_outcomes(&result(units, Some(ProcessingResultStatus::Error))).unwrap();
        assert!(r.done.contains("K1") && r.done.len() == 1, "{r:?}");
        assert_eq!(r.refused.get("K2").and_then(|e| e.detail.code.as_deref()), Some("EQ2001"));
        assert!(!r.refused.contains_key("K3") && r.whole.is_none(), "K3's outcome is not known: {r:?}");
        let whole = registration_outcomes(&result(vec![], Some(ProcessingResultStatus::Error))).unwrap();
        assert!(whole.whole.is_some() && whole.done.is_empty());
        let still = Message::BatchDownloadResult(Msg {
            header: MessageHeader { segment_of_result: Some(SegmentOfResult::InProgress), ..Default::default() },
            body: Default::default(),
        });
        assert!(matches!(registration_outcomes(&still), Err(true)));
    }

    fn person(insurer: &str, birth: &str) -> InsuredPerson {
        InsuredPerson { insurer_number: insurer.into(), symbol: None, number: "1234".into(), branch: None, birth_date: birth.into() }
    }

    #[test]
    fn bad_numbers_become_invalid_argument_with_the_cores_text() {
        let body = InsuranceConfirm { insured: person("39131157", "19600105"), document: None, limit_certificate: false, arbitrary_id: None, treatment: Default::default() };
        let e = individual_request("0110113719", "20261125", &body).unwrap_err();
        assert_eq!(e.code, onshi_core::protocol::ErrorCode::InvalidArgument);
        assert_eq!(e.detail.field.as_deref(), Some("insured.insurer_number"));
        assert!(e.message.ja.contains("保険者番号") || !e.message.ja.is_empty());
        let entries = vec![
            BatchEntry { insured: person("39131156", "19600105"), arbitrary_id: None },
            BatchEntry { insured: person("39131156", "19600230"), arbitrary_id: None },
        ];
        let e = batch_upload("0110113719", "20261126", &entries).unwrap_err();
        assert_eq!(e.detail.field.as_deref(), Some("entries[1].insured.birthdate"));
        assert!(batch_upload("0110113719", "20261126", &entries[..1]).is_ok());
    }

    #[test]
    fn shift_jis_answers_are_handed_on_as_utf8_text() {
        let doc = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><XmlMsg><MessageHeader/><MessageBody><ProcessingResultStatus>1</ProcessingResultStatus><QualificationValidity>1</QualificationValidity></MessageBody></XmlMsg>";
        let bytes = onshi_core::xml::encode_text(doc, Encoding::ShiftJis);
        let a = read_answer(&bytes).unwrap();
        assert!(a.xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "{}", a.xml);
        assert!(onshi_core::parse(a.xml.as_bytes()).is_ok());
        // Issue 14: the bytes the system sent are kept beside the text, unchanged.
        assert_eq!(a.received, bytes);
        assert!(read_answer(b"not xml").is_err());
    }
}
