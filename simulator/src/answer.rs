//! The registry's answer logic: what the national system returns for an
//! individual check (`OQSsiquc01req` → `OQSsiquc01res`) and for a batch
//! (`OQSmuquc01req` → reception number, `OQSmuquc02req` → units); the
//! consent-gated histories and 照会番号 registration live in [`info`], the
//! card-less histories of disaster mode in [`disaster`].
//!
//! Pure given a registry connection and `now` (`YYYYMMDDHHmmss`, passed in):
//! the gateway and the OQS-folder responder share it, so both answer alike.
//! Matching reuses core's comparison form (`onshi_core::diff::normalize`):
//! width, spaces and hyphen variants do not matter for 記号/番号, and a
//! 6-digit insurer number matches whether or not it is space-padded.

use onshi_core::codes::*;
use onshi_core::diag::{Diagnostic, Severity};
use onshi_core::diff::normalize;
use onshi_core::message::{
    BatchResultBody, BatchUnit, BatchUploadBody, BulkRegistrationBody, ElderlyCertificate, IndividualRequestBody, LimitCertificate,
    MedicalTicket, MessageHeader, Msg, Qualification, QualificationResultBody, ReceptionBody, Rejection, SearchInfo,
    SpecificDiseaseCertificate,
};
use onshi_core::numbers::{check_institution, check_insurer};
use onshi_core::text::Bilingual;
use onshi_core::{Encoding, Message};
use rusqlite::{Connection, OptionalExtension, params};

pub mod disaster;
mod info;

/// Error codes this simulator puts in `.err` files and error results. The
/// real codes are not public; these are stable so tests and vendors can match them.
pub mod codes {
    /// The file is empty or could not be read.
    pub const UNREADABLE: &str = "EQ1001";
    /// Not well-formed XML, wrong encoding, not an `XmlMsg`, unknown message.
    pub const MALFORMED: &str = "EQ1002";
    /// Well-formed but breaks a rule (missing field, wrong check digit, bad date).
    pub const INVALID: &str = "EQ1003";
    /// A message kind the terminal does not accept in `req/`.
    pub const UNSUPPORTED: &str = "EQ1004";
    /// A batch download for a reception number that was never issued (or
    /// was issued to another institution).
    pub const UNKNOWN_RECEPTION: &str = "EQ1005";
    /// The request names another 医療機関コード than the client certificate
    /// it came with (gateway only: a clinic may ask only for itself).
    pub const INSTITUTION_MISMATCH: &str = "EQ1006";
    /// No one matches the insurance key of a history or registration request.
    pub const UNKNOWN_PERSON: &str = "EQ2001";
    /// The insurance key matches several people (add the branch number).
    pub const SEVERAL_PEOPLE: &str = "EQ2002";
    /// The qualification the key names is not valid on the request date.
    pub const NOT_QUALIFIED: &str = "EQ2003";
    /// The patient has not consented to sharing this kind of history.
    pub const NO_CONSENT: &str = "EQ2101";
    /// The patient's consent of this kind is past its AvailableTime.
    pub const CONSENT_EXPIRED: &str = "EQ2102";
    /// The registry could not be read.
    pub const REGISTRY: &str = "EQ9001";
}

/// Why a request was refused: a stable code and a two-language reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {}", message.en)]
#[non_exhaustive]
pub struct Refusal {
    pub code: &'static str,
    pub message: Bilingual,
}

impl Refusal {
    pub fn new(code: &'static str, ja: impl Into<String>, en: impl Into<String>) -> Self {
        Refusal { code, message: Bilingual::new(ja, en) }
    }

    /// The first Error diagnostic, as a refusal (`None` when there is none).
    pub fn from_diagnostics(diagnostics: &[Diagnostic]) -> Option<Self> {
        let d = diagnostics.iter().find(|d| d.severity == Severity::Error)?;
        Some(Refusal::new(
            codes::INVALID,
            format!("要求に誤りがあります（{}）：{}", d.path, d.message.ja),
            format!("the request breaks a rule ({}): {}", d.path, d.message.en),
        ))
    }

    /// The `.err` file content (core's rejection type): `CODE,日本語 / English`.
    pub fn rejection(&self) -> Rejection {
        Rejection { code: self.code.to_string(), message: format!("{} / {}", self.message.ja, self.message.en) }
    }
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        Refusal::new(
            codes::REGISTRY,
            "資格情報のデータベースを読めませんでした。シミュレーターの --db を確認してください。",
            format!("the registry could not be read ({e}); check the simulator's --db"),
        )
    }
}

/// The date a check is made for: the request's confirmation date when it is
/// a date, else today's date from `now`.
fn check_date<'a>(header: &'a MessageHeader, now: &'a str) -> &'a str {
    match header.qualification_confirmation_date.as_deref() {
        Some(d) if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) => d,
        _ => now.get(..8).unwrap_or(now),
    }
}

/// One qualification row joined with its person.
#[derive(Debug, Clone)]
struct Row {
    person_id: String,
    card_classification: String,
    insurer_number: String,
    insurer_name: String,
    symbol: Option<String>,
    number: String,
    branch: Option<String>,
    personal_family: String,
    insured_name: String,
    qualification_date: String,
    disqualification_date: Option<String>,
    reason_of_loss: Option<String>,
    ratio: String,
    elderly_ratio: Option<String>,
    elderly_from: Option<String>,
    elderly_to: Option<String>,
    limit_flag: Option<String>,
    specific_disease: Option<String>,
    specific_disease_self_pay: Option<i64>,
    name: String,
    name_kana: String,
    sex: String,
    birthdate: String,
    post_number: Option<String>,
    address: Option<String>,
}

impl Row {
    fn lost_on(&self, date: &str) -> bool {
        self.disqualification_date.as_deref().is_some_and(|d| d <= date)
    }
}

const ROW_SQL: &str = "SELECT q.person_id, q.card_classification, q.insurer_number, q.insurer_name, q.symbol, q.number,
    q.branch, q.personal_family, q.insured_name, q.qualification_date, q.disqualification_date, q.reason_of_loss,
    q.partial_contribution_ratio, q.elderly_ratio, q.elderly_valid_from, q.elderly_valid_to, q.limit_flag,
    q.specific_disease, q.specific_disease_self_pay, p.name_returned, p.name_kana, p.sex, p.birthdate,
    p.post_number, p.address
  FROM qualifications q JOIN people p ON p.person_id = q.person_id";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        person_id: r.get(0)?,
        card_classification: r.get(1)?,
        insurer_number: r.get(2)?,
        insurer_name: r.get(3)?,
        symbol: r.get(4)?,
        number: r.get(5)?,
        branch: r.get(6)?,
        personal_family: r.get(7)?,
        insured_name: r.get(8)?,
        qualification_date: r.get(9)?,
        disqualification_date: r.get(10)?,
        reason_of_loss: r.get(11)?,
        ratio: r.get(12)?,
        elderly_ratio: r.get(13)?,
        elderly_from: r.get(14)?,
        elderly_to: r.get(15)?,
        limit_flag: r.get(16)?,
        specific_disease: r.get(17)?,
        specific_disease_self_pay: r.get(18)?,
        name: r.get(19)?,
        name_kana: r.get(20)?,
        sex: r.get(21)?,
        birthdate: r.get(22)?,
        post_number: r.get(23)?,
        address: r.get(24)?,
    })
}

/// Absent and blank are the same; otherwise core's comparison form.
fn key(v: Option<&str>) -> Option<String> {
    v.map(normalize).filter(|s| !s.is_empty())
}

/// A branch "1" equals "01".
fn branch_key(v: Option<&str>) -> Option<String> {
    key(v).map(|b| if b.len() == 1 { format!("0{b}") } else { b })
}

fn matches(search: &SearchInfo, row: &Row) -> bool {
    let insurer_ok = key(search.insurer_number.as_deref()) == key(Some(&row.insurer_number));
    let symbol_ok = key(search.insured_card_symbol.as_deref()) == key(row.symbol.as_deref());
    let number_ok = key(search.insured_identification_number.as_deref()) == key(Some(&row.number));
    // Without a branch number every family member on the card matches.
    let branch_ok = match branch_key(search.insured_branch_number.as_deref()) {
        None => true,
        Some(b) => branch_key(row.branch.as_deref()).as_deref() == Some(b.as_str()),
    };
    insurer_ok && symbol_ok && number_ok && branch_ok
}

/// The verdict on one search and the rows behind it.
struct Verdict {
    validity: QualificationValidity,
    rows: Vec<Row>,
}

fn lookup(conn: &Connection, search: &SearchInfo, date: &str) -> Result<Verdict, Refusal> {
    let birthdate = search.birthdate.as_deref().map(str::trim).unwrap_or_default();
    // The registry stores 番号 in the comparison form, so the index finds it;
    // everything else is compared in Rust with core's normaliser.
    let number = key(search.insured_identification_number.as_deref()).unwrap_or_default();
    let mut stmt = conn.prepare_cached(&format!("{ROW_SQL} WHERE q.number = ?1 AND p.birthdate = ?2 ORDER BY q.id"))?;
    let found: Vec<Row> = stmt
        .query_map(params![number, birthdate], read_row)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|r| matches(search, r))
        .collect();
    let mut people: Vec<&str> = found.iter().map(|r| r.person_id.as_str()).collect();
    people.dedup();
    if found.is_empty() {
        return Ok(Verdict { validity: QualificationValidity::NoMatch, rows: found });
    }
    if people.len() > 1 {
        return Ok(Verdict { validity: QualificationValidity::SeveralMatches, rows: found });
    }
    let active: Vec<Row> = found.iter().filter(|r| !r.lost_on(date)).cloned().collect();
    match active.len() {
        1 => {
            let validity = if active[0].card_classification == "A1" {
                QualificationValidity::ValidUnregistered
            } else {
                QualificationValidity::Valid
            };
            Ok(Verdict { validity, rows: active })
        }
        0 => {
            // Lost: is there a newer, still-valid qualification for the same person?
            let mut stmt = conn.prepare_cached(&format!("{ROW_SQL} WHERE q.person_id = ?1"))?;
            let all = stmt.query_map(params![found[0].person_id], read_row)?.collect::<Result<Vec<_>, _>>()?;
            let newer = all.iter().any(|r| !r.lost_on(date));
            let validity = if newer { QualificationValidity::NewerExists } else { QualificationValidity::Invalid };
            Ok(Verdict { validity, rows: found })
        }
        _ => Ok(Verdict { validity: QualificationValidity::SeveralMatches, rows: active }),
    }
}

/// A registry date `YYYYMMDD` as a timestamp (end of that day).
fn as_timestamp(v: Option<String>) -> Option<String> {
    v.map(|s| if s.len() == 8 { format!("{s}235959") } else { s })
}

/// The clinic's patient id for a person, when one was registered (table
/// `reference_numbers`, made by the registration flow; absent = none).
fn reference_number(conn: &Connection, institution: &str, person: &str) -> Result<Option<String>, Refusal> {
    // Cached statements: a 10,000-person batch asks this 10,000 times.
    let exists: Option<String> = conn
        .prepare_cached("SELECT name FROM sqlite_master WHERE type='table' AND name='reference_numbers'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    Ok(conn
        .prepare_cached("SELECT reference_number FROM reference_numbers WHERE institution = ?1 AND person_id = ?2")?
        .query_row(params![institution, person], |r| r.get(0))
        .optional()?)
}

fn entry(conn: &Connection, row: &Row, search: &SearchInfo, header: &MessageHeader, now: &str) -> Result<Qualification, Refusal> {
    let opt = |s: &str| Some(s.to_string());
    let insurer = check_insurer(&row.insurer_number).map(|n| n.xml_form()).unwrap_or_else(|_| row.insurer_number.clone());
    let mut q = Qualification {
        card_classification: Some(InsuredCardClassification::from_code(&row.card_classification)),
        insurer_number: Some(insurer),
        insured_card_symbol: row.symbol.clone(),
        insured_identification_number: opt(&row.number),
        insured_branch_number: row.branch.clone(),
        personal_family: Some(PersonalFamilyClassification::from_code(&row.personal_family)),
        insured_name: opt(&row.insured_name),
        name: opt(&row.name),
        name_kana: opt(&row.name_kana),
        sex1: Some(Sex::from_code(&row.sex)),
        birthdate: opt(&row.birthdate),
        address: row.address.clone(),
        post_number: row.post_number.clone(),
        qualification_date: opt(&row.qualification_date),
        disqualification_date: row.disqualification_date.clone(),
        certificate_issuance_date: opt(&row.qualification_date),
        card_valid_date: opt(&row.qualification_date),
        contribution_ratio: opt(&row.ratio),
        reason_of_loss: row.reason_of_loss.as_deref().map(ReasonOfLoss::from_code),
        insurer_name: opt(&row.insurer_name),
        arbitrary_identifier: search.arbitrary_identifier.clone(),
        ..Default::default()
    };
    if let Some(ratio) = &row.elderly_ratio {
        q.elderly = Some(ElderlyCertificate {
            certificate_date: row.elderly_from.clone(),
            valid_start_date: row.elderly_from.clone(),
            valid_end_date: row.elderly_to.clone(),
            contribution_ratio: Some(ratio.clone()),
        });
    }
    // The ceiling category is returned only when the patient agreed to it.
    if search.limit_consent == Some(ConsentFlag::Given) {
        q.limit_consent = Some(ConsentFlag::Given);
        q.limit_consent_time = Some(now.to_string());
        q.limit = row.limit_flag.as_deref().map(|flag| LimitCertificate {
            classification: opt("01"),
            classification_flag: Some(LimitClassificationFlag::from_code(flag)),
            certificate_date: opt("20260801"),
            valid_start_date: opt("20260801"),
            valid_end_date: opt("20270731"),
            long_term_date: None,
        });
    } else {
        q.limit_consent = Some(ConsentFlag::None);
    }
    if let Some(cat) = &row.specific_disease {
        q.specific_disease_consent = Some(ConsentFlag::Given);
        q.specific_disease_consent_time = Some(now.to_string());
        q.specific_diseases.push(SpecificDiseaseCertificate {
            category: Some(SpecificDiseaseCategory::from_code(cat)),
            certificate_date: opt(&row.qualification_date),
            valid_start_date: opt(&row.qualification_date),
            valid_end_date: None,
            self_pay: row.specific_disease_self_pay.map(|n| n.to_string()),
        });
    }
    if row.card_classification == "A1" {
        let mut stmt = conn.prepare_cached(
            "SELECT payer_number, recipient_number, valid_from, valid_to FROM public_assistance WHERE person_id = ?1",
        )?;
        let tickets = stmt.query_map(params![row.person_id], |r| {
            Ok(MedicalTicket {
                payer_number: r.get(0)?,
                recipient_number: r.get(1)?,
                valid_start_date: r.get(2)?,
                valid_end_date: r.get(3)?,
                ticket_type: None,
                // Medical aid is issued by the welfare office named as its payer.
                issuer_name: opt(&row.insurer_name),
            })
        })?;
        for t in tickets {
            q.public_expense.push(t?);
        }
    }
    let mut stmt = conn.prepare_cached("SELECT kind, flag, cons_time, available_time FROM consents WHERE person_id = ?1")?;
    let consents = stmt.query_map(params![row.person_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, Option<String>>(3)?))
    })?;
    for c in consents {
        let (kind, flag, time, until) = c?;
        let (flag, until) = (Some(ConsentFlag::from_code(&flag)), as_timestamp(until));
        match kind.as_str() {
            "health_check" => (q.checkup_consent, q.checkup_consent_time, q.checkup_available_time) = (flag, time, until),
            "pharmacist" => (q.pharmacists_consent, q.pharmacists_consent_time, q.pharmacists_available_time) = (flag, time, until),
            "diagnosis" => (q.diagnosis_consent, q.diagnosis_consent_time, q.diagnosis_available_time) = (flag, time, until),
            "operation" => (q.operation_consent, q.operation_consent_time, q.operation_available_time) = (flag, time, until),
            _ => {}
        }
    }
    let institution = header.medical_institution_code.as_deref().unwrap_or_default();
    q.reference_number = reference_number(conn, institution, &row.person_id)?;
    Ok(q)
}

fn character_code(encoding: Encoding) -> CharacterCodeIdentifier {
    match encoding {
        Encoding::Utf8 => CharacterCodeIdentifier::Utf8,
        Encoding::ShiftJis => CharacterCodeIdentifier::ShiftJis,
    }
}

/// The result header: the request's identifiers echoed, plus time and status.
fn result_header(req: &MessageHeader, now: &str, encoding: Encoding, segment: SegmentOfResult) -> MessageHeader {
    MessageHeader {
        process_execution_time: Some(now.to_string()),
        qualification_confirmation_date: req.qualification_confirmation_date.clone(),
        medical_institution_code: req.medical_institution_code.clone(),
        arbitrary_file_identifier: req.arbitrary_file_identifier.clone(),
        reference_classification: Some(ReferenceClassification::InsuranceCard),
        segment_of_result: Some(segment),
        character_code_identifier: Some(character_code(encoding)),
        ..Default::default()
    }
}

/// Runs `f` inside one read transaction unless one is already open, on a
/// connection set up for answering. Both matter for speed (a batch runs
/// some 50,000 statements):
/// - outside a transaction each statement takes and drops the file lock
///   and checks the file for changes (fcntl, stat, a page read);
/// - the cached statements join two tables on a bound value, which SQLite
///   otherwise marks as "plan depends on the value": every statement taken
///   back from the cache (whose bindings are cleared) was compiled again,
///   ~100 µs each. The query-planner stability guarantee (QPSG) keeps one
///   plan per statement; setting it again is a no-op.
fn in_transaction<T>(conn: &Connection, f: impl FnOnce() -> Result<T, Refusal>) -> Result<T, Refusal> {
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    if !conn.is_autocommit() {
        return f();
    }
    // Dropping it ends the transaction; nothing was written, so nothing is undone.
    let _tx = conn.unchecked_transaction()?;
    f()
}

/// Answers one search: validity and one entry per match.
fn answer_search(
    conn: &Connection,
    header: &MessageHeader,
    search: &SearchInfo,
    now: &str,
) -> Result<(QualificationValidity, Vec<Qualification>), Refusal> {
    in_transaction(conn, || {
        let verdict = lookup(conn, search, check_date(header, now))?;
        let entries = verdict.rows.iter().map(|r| entry(conn, r, search, header, now)).collect::<Result<Vec<_>, _>>()?;
        Ok((verdict.validity, entries))
    })
}

/// `OQSsiquc01req` → `OQSsiquc01res`, as the national system answers it.
/// The request must already have passed core validation ([`answer`] does both).
pub fn individual(
    conn: &Connection,
    req: &Msg<IndividualRequestBody>,
    now: &str,
    encoding: Encoding,
) -> Result<Msg<QualificationResultBody>, Refusal> {
    let search = req.body.search.clone().unwrap_or_default();
    let (validity, results) = answer_search(conn, &req.header, &search, now)?;
    Ok(Msg {
        header: result_header(&req.header, now, encoding, SegmentOfResult::Normal),
        body: QualificationResultBody {
            processing_result_status: Some(ProcessingResultStatus::Normal),
            qualification_validity: Some(validity),
            search: Some(search),
            results,
            ..Default::default()
        },
    })
}

/// The error result for a request that was refused: ProcessingResultStatus 2
/// with the code and message (header ErrorCode/ErrorMessage too).
pub fn error_result(req: Option<&MessageHeader>, refusal: &Refusal, now: &str, encoding: Encoding) -> Msg<QualificationResultBody> {
    let empty = MessageHeader::default();
    let mut header = result_header(req.unwrap_or(&empty), now, encoding, SegmentOfResult::Normal);
    header.error_code = Some(refusal.code.to_string());
    header.error_message = Some(refusal.message.ja.clone());
    Msg {
        header,
        body: QualificationResultBody {
            processing_result_status: Some(ProcessingResultStatus::Error),
            processing_result_code: Some(refusal.code.to_string()),
            processing_result_message: Some(format!("{} / {}", refusal.message.ja, refusal.message.en)),
            ..Default::default()
        },
    }
}

/// `YYYYMMDD` + 5-digit sequence: `R2026112500001`.
pub fn reception_number(now: &str, seq: u32) -> String {
    format!("R{}{:05}", now.get(..8).unwrap_or("00000000"), seq % 100_000)
}

/// `OQSmuquc01req` → `OQSmuquc01res`: the batch is accepted under `reception`.
pub fn batch_accepted(req: &Msg<BatchUploadBody>, reception: &str, now: &str, encoding: Encoding) -> Msg<ReceptionBody> {
    upload_accepted(&req.header, reception, now, encoding)
}

/// The acknowledgement of an upload (`OQSmuquc01res`, `OQSmuimm01res`): the
/// reception number under which its results will be downloaded.
fn upload_accepted(req: &MessageHeader, reception: &str, now: &str, encoding: Encoding) -> Msg<ReceptionBody> {
    let mut header = result_header(req, now, encoding, SegmentOfResult::Normal);
    header.reference_classification = None;
    header.reception_number = Some(reception.to_string());
    Msg {
        header,
        body: ReceptionBody {
            reception_number: Some(reception.to_string()),
            reception_date_time: Some(now.to_string()),
            processing_result_status: Some(ProcessingResultStatus::Normal),
            ..Default::default()
        },
    }
}

/// `OQSmuquc02req` → `OQSmuquc02res`. While `ready` is false (the caller's
/// clock says the batch is still being processed) the answer is
/// SegmentOfResult 2 and no units; then one unit per search.
pub fn batch_result(
    conn: &Connection,
    upload: &Msg<BatchUploadBody>,
    download: &MessageHeader,
    reception: &str,
    ready: bool,
    now: &str,
    encoding: Encoding,
) -> Result<Msg<BatchResultBody>, Refusal> {
    let units = if ready { Some(batch_units(conn, &upload.header, &upload.body.searches, now)?) } else { None };
    Ok(batch_document(upload, download, reception, units, now, encoding))
}

/// The result units of some of a batch's searches, in order. A batch may be
/// split into slices answered on several registry connections at once;
/// `header` is the upload's (its confirmation date and institution apply).
pub fn batch_units(conn: &Connection, header: &MessageHeader, searches: &[SearchInfo], now: &str) -> Result<Vec<BatchUnit>, Refusal> {
    in_transaction(conn, || batch_units_in(conn, header, searches, now))
}

fn batch_units_in(conn: &Connection, header: &MessageHeader, searches: &[SearchInfo], now: &str) -> Result<Vec<BatchUnit>, Refusal> {
    let mut units = Vec::with_capacity(searches.len());
    for search in searches {
        let (validity, results) = answer_search(conn, header, search, now)?;
        let reference_number = results.first().and_then(|q| q.reference_number.clone());
        units.push(BatchUnit {
            search: Some(search.clone()),
            processing_result_status: Some(ProcessingResultStatus::Normal),
            qualification_validity: Some(validity),
            results,
            reference_number,
            ..Default::default()
        });
    }
    Ok(units)
}

/// The `OQSmuquc02res` document: SegmentOfResult 2 without `units`, else the
/// finished result with its counts.
pub fn batch_document(
    upload: &Msg<BatchUploadBody>,
    download: &MessageHeader,
    reception: &str,
    units: Option<Vec<BatchUnit>>,
    now: &str,
    encoding: Encoding,
) -> Msg<BatchResultBody> {
    let mut header = result_header(download, now, encoding, SegmentOfResult::InProgress);
    header.reference_classification = None;
    header.qualification_confirmation_date = upload.header.qualification_confirmation_date.clone();
    header.reception_number = Some(reception.to_string());
    let Some(units) = units else {
        return Msg { header, body: BatchResultBody::default() };
    };
    header.segment_of_result = Some(SegmentOfResult::Normal);
    header.number_of_processing_result = Some(units.len().to_string());
    header.number_of_normal_processing = Some(units.len().to_string());
    header.number_of_error = Some("0".into());
    Msg { header, body: BatchResultBody { processing_result_status: Some(ProcessingResultStatus::Normal), units, ..Default::default() } }
}

/// A finished batch result, written out once in the background so every
/// download only sends bytes. `Debug` shows the size, not 20 MB of XML.
#[derive(Clone, PartialEq, Eq)]
pub struct Written(pub std::sync::Arc<[u8]>);

impl std::fmt::Debug for Written {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Written({} bytes)", self.0.len())
    }
}

/// A batch accepted and not yet fully answered.
#[derive(Debug, Clone)]
pub struct PendingBatch {
    pub upload: Msg<BatchUploadBody>,
}

impl PendingBatch {
    /// The 医療機関コード the batch was uploaded for (its header's).
    pub fn institution(&self) -> Option<&str> {
        self.upload.header.medical_institution_code.as_deref()
    }
}

/// What a request file gets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Answer {
    /// A result document (its kind decides the file name).
    Reply(Message),
    /// A batch upload: the acknowledgement, and the batch the caller keeps
    /// under its reception number until the download.
    Accepted { reply: Message, reception: String, batch: Box<PendingBatch> },
    /// Refused: the `.err` reason, and the error result a gateway would send
    /// (an `OQSsiquc01res` with ProcessingResultStatus 2, whatever the request kind).
    Refused { refusal: Refusal, result: Message },
    /// A batch result written in the background (in the encoding the caller
    /// asked for when it started the work): send these bytes as they are.
    Written(Written),
}

/// Where a batch stands when its results are asked for.
#[derive(Debug, Clone, Copy)]
pub enum BatchStatus<'a> {
    /// Still processing: SegmentOfResult 2.
    Processing(&'a PendingBatch),
    /// Done, and nobody worked on it yet: answer it now.
    Due(&'a PendingBatch),
    /// Done in the background: the written result, or why it failed.
    Finished(&'a PendingBatch, &'a Result<Written, Refusal>),
}

/// How the caller's batch book is consulted on a download.
pub trait Batches {
    /// The next reception number to issue.
    fn next_reception(&mut self, now: &str) -> String;
    /// The batch under `reception` and where it stands.
    fn status(&self, reception: &str) -> Option<BatchStatus<'_>>;
    /// Keeps a bulk registration's per-entry results (`OQSmuimm01req`) under
    /// its reception number, for the `OQSmuimm02req` that asks for them.
    fn keep_registrations(&mut self, reception: String, done: Msg<BulkRegistrationBody>);
    /// The bulk registration under `reception`: the upload's header (whose
    /// institution it is) and the per-entry results.
    fn registrations(&self, reception: &str) -> Option<std::sync::Arc<Msg<BulkRegistrationBody>>>;
}

/// The whole result of a finished batch, as a download will send it: built
/// once, right after the upload, by whoever processes batches in the
/// background. The header echoes the upload (same institution; its file id).
/// Large batches are written on one thread per core ([`written_in_parts`]).
pub fn written_batch(units: Vec<BatchUnit>, batch: &PendingBatch, reception: &str, now: &str, encoding: Encoding) -> Written {
    // Below a few thousand units the threads cost more than they save.
    let parts = if units.len() < 2_000 { 1 } else { std::thread::available_parallelism().map_or(1, |n| n.get()) };
    written_in_parts(units, batch, reception, now, encoding, parts)
}

/// [`written_batch`] in `parts` slices written at once. Writing (XML text
/// and Shift_JIS) is most of a batch's time once the registry is fast, and
/// it is the same work for every unit, so each slice is written as a
/// document of its own and its units' lines are spliced into the first
/// one's, right after its last unit. The writer indents every unit alike,
/// so the result is byte for byte the single-threaded document (tested);
/// should a marker ever be missing, the document is written whole instead.
pub fn written_in_parts(
    mut units: Vec<BatchUnit>,
    batch: &PendingBatch,
    reception: &str,
    now: &str,
    encoding: Encoding,
    parts: usize,
) -> Written {
    let whole = |units| {
        let doc = batch_document(&batch.upload, &batch.upload.header, reception, Some(units), now, encoding);
        Written(Message::BatchDownloadResult(doc).write(encoding).into())
    };
    let total = units.len();
    let size = total.div_ceil(parts.max(1)).max(1);
    if parts <= 1 || total <= size {
        return whole(units);
    }
    let mut slices = Vec::new();
    while units.len() > size {
        let rest = units.split_off(size);
        slices.push(std::mem::replace(&mut units, rest));
    }
    slices.push(units);
    let first_count = slices[0].len();
    // Each worker hands its units back with its document, for the fallback.
    let write = |slice: Vec<BatchUnit>| {
        let doc = Message::BatchDownloadResult(batch_document(&batch.upload, &batch.upload.header, reception, Some(slice), now, encoding));
        let bytes = doc.write(encoding);
        let Message::BatchDownloadResult(doc) = doc else { unreachable!("built as a batch result just above") };
        (bytes, doc.body.units)
    };
    let written: Vec<(Vec<u8>, Vec<BatchUnit>)> = std::thread::scope(|s| {
        let workers: Vec<_> = slices.into_iter().map(|slice| s.spawn(move || write(slice))).collect();
        workers.into_iter().map(|w| w.join()).collect::<Result<_, _>>()
    })
    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let (docs, slices): (Vec<Vec<u8>>, Vec<Vec<BatchUnit>>) = written.into_iter().unzip();
    match splice_units(&docs, first_count, total) {
        Some(bytes) => Written(bytes.into()),
        None => whole(slices.into_iter().flatten().collect()),
    }
}

/// The first document with the unit lines of the others inserted after its
/// last unit and its counts set to `total`; `None` if anything is not where
/// the writer puts it. Tags are ASCII and `<` is never the second byte of a
/// Shift_JIS character, so searching the bytes is safe in both encodings.
fn splice_units(docs: &[Vec<u8>], first_count: usize, total: usize) -> Option<Vec<u8>> {
    const OPEN: &[u8] = b"<BulkConfirmUnit>";
    const CLOSE: &[u8] = b"</BulkConfirmUnit>\n";
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let rfind = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).rposition(|w| w == needle);
    // The unit lines of a document: from the start of the first unit's line to the end of the last's.
    let unit_lines = |doc: &[u8]| -> Option<(usize, usize)> {
        let open = find(doc, OPEN)?;
        let start = doc[..open].iter().rposition(|&b| b == b'\n')? + 1;
        let end = rfind(doc, CLOSE)? + CLOSE.len();
        (start < end).then_some((start, end))
    };
    let (first, others) = docs.split_first()?;
    let (_, insert_at) = unit_lines(first)?;
    let mut out = Vec::with_capacity(first.len() * 2);
    out.extend_from_slice(&first[..insert_at]);
    for doc in others {
        let (start, end) = unit_lines(doc)?;
        out.extend_from_slice(&doc[start..end]);
    }
    out.extend_from_slice(&first[insert_at..]);
    // The first document counted only its own units: the counts say the total.
    for tag in ["NumberOfProcessingResult", "NumberOfNormalProcessing"] {
        let from = format!("<{tag}>{first_count}</{tag}>");
        let pos = find(&out, from.as_bytes())?;
        out.splice(pos..pos + from.len(), format!("<{tag}>{total}</{tag}>").into_bytes());
    }
    Some(out)
}

/// Reads, validates and answers one request document (bytes as the clinic
/// wrote them, `file_name` as a hint for the kind), for a caller whose
/// institution nothing vouches for (the OQS folder is the clinic's own).
pub fn answer(
    conn: &Connection,
    file_name: &str,
    bytes: &[u8],
    now: &str,
    encoding: Encoding,
    batches: &mut dyn Batches,
) -> Answer {
    answer_certified(conn, file_name, bytes, now, encoding, batches, None)
}

/// [`answer`] for a caller whose 医療機関コード a client certificate
/// vouches for (the gateway): a request naming another institution is
/// refused with [`codes::INSTITUTION_MISMATCH`], and another institution's
/// batch is as unknown as a number never issued.
pub fn answer_certified(
    conn: &Connection,
    file_name: &str,
    bytes: &[u8],
    now: &str,
    encoding: Encoding,
    batches: &mut dyn Batches,
    certified: Option<&str>,
) -> Answer {
    let refuse = |refusal: Refusal, header: Option<&MessageHeader>| Answer::Refused {
        result: Message::IndividualResult(error_result(header, &refusal, now, encoding)),
        refusal,
    };
    if bytes.is_empty() {
        return refuse(Refusal::new(codes::UNREADABLE, "要求ファイルが空です。書き込みが終わってから req に置いてください。", "the request file is empty; move it into req/ only once it is fully written"), None);
    }
    let parsed = match onshi_core::parse_named(file_name, bytes) {
        Ok(p) => p,
        Err(e) => {
            return refuse(
                Refusal::new(codes::MALFORMED, format!("要求ファイルを XML として読めません：{e}。ファイルを作り直してください。"), format!("the request is not a readable XmlMsg document: {e}; regenerate the file")),
                None,
            );
        }
    };
    if let Some(refusal) = Refusal::from_diagnostics(&parsed.diagnostics) {
        return refuse(refusal, parsed.message.header());
    }
    if let Some(certified) = certified {
        let named = parsed.message.header().and_then(|h| h.medical_institution_code.as_deref());
        if !same_institution(named, certified) {
            return refuse(institution_mismatch(named, certified), parsed.message.header());
        }
    }
    let outcome = match &parsed.message {
        Message::IndividualRequest(m) => individual(conn, m, now, encoding).map(|r| Answer::Reply(Message::IndividualResult(r))),
        Message::BatchUploadRequest(m) => {
            let reception = batches.next_reception(now);
            Ok(Answer::Accepted {
                reply: Message::BatchUploadResult(batch_accepted(m, &reception, now, encoding)),
                reception,
                batch: Box::new(PendingBatch { upload: m.clone() }),
            })
        }
        Message::BulkRegistrationRequest(m) => info::register_bulk(conn, m, now).map(|done| {
            let reception = batches.next_reception(now);
            let ack = upload_accepted(&m.header, &reception, now, encoding);
            batches.keep_registrations(reception, Msg { header: m.header.clone(), body: done });
            Answer::Reply(Message::BatchUploadResult(ack))
        }),
        // OQSmuimm02req reads exactly like OQSmuquc02req; only its name tells them apart.
        Message::BatchDownloadRequest(m) if is_bulk_registration_download(file_name) => {
            let reception = reception_of(m);
            let found = batches.registrations(reception);
            // Another clinic's reception number is answered like one never issued.
            match found {
                Some(done) if certified.is_none_or(|c| same_institution(done.header.medical_institution_code.as_deref(), c)) => {
                    let mut header = result_header(&m.header, now, encoding, SegmentOfResult::Normal);
                    header.reference_classification = None;
                    header.reception_number = Some(reception.to_string());
                    header.number_of_processing_result = Some(done.body.units.len().to_string());
                    let normal = done.body.units.iter().filter(|u| u.processing_result_status == Some(ProcessingResultStatus::Normal)).count();
                    header.number_of_normal_processing = Some(normal.to_string());
                    header.number_of_error = Some((done.body.units.len() - normal).to_string());
                    Ok(Answer::Reply(Message::BulkRegistrationResult(Msg { header, body: done.body.clone() })))
                }
                _ => Err(unknown_reception(reception, "OQSmuimm01res")),
            }
        }
        Message::BatchDownloadRequest(m) => {
            let reception = reception_of(m);
            let unknown = || unknown_reception(reception, "OQSmuquc01res");
            let status = batches.status(reception);
            let batch = match status {
                Some(BatchStatus::Processing(b) | BatchStatus::Due(b) | BatchStatus::Finished(b, _)) => Some(b),
                None => None,
            };
            // Another clinic's reception number is answered like one never issued.
            let theirs = batch.is_some_and(|b| certified.is_some_and(|c| !same_institution(b.institution(), c)));
            match status {
                _ if theirs => Err(unknown()),
                None => Err(unknown()),
                Some(BatchStatus::Processing(b)) => Ok(Answer::Reply(Message::BatchDownloadResult(batch_document(
                    &b.upload, &m.header, reception, None, now, encoding,
                )))),
                Some(BatchStatus::Due(b)) => batch_result(conn, &b.upload, &m.header, reception, true, now, encoding)
                    .map(|r| Answer::Reply(Message::BatchDownloadResult(r))),
                Some(BatchStatus::Finished(_, done)) => done.clone().map(Answer::Written),
            }
        }
        Message::MedicationRequest(m) => info::medication(conn, m, now, encoding).map(|r| Answer::Reply(Message::MedicationResult(r))),
        Message::CheckupRequest(m) => info::checkup(conn, m, now, encoding).map(|r| Answer::Reply(Message::CheckupResult(r))),
        Message::RegistrationRequest(m) => info::register(conn, m, now, encoding).map(|r| Answer::Reply(Message::RegistrationResult(r))),
        other => Err(Refusal::new(
            codes::UNSUPPORTED,
            format!("この種類の要求（{:?}）にはこの端末は答えません。", other.kind()),
            format!("this terminal does not answer {:?} requests", other.kind()),
        )),
    };
    match outcome {
        Ok(a) => a,
        Err(refusal) => refuse(refusal, parsed.message.header()),
    }
}

/// Whether a download request is for a bulk registration (`OQSmuimm02req…`)
/// rather than a batch check: the file name (the gateway passes its URL's
/// prefix as one) is the only difference.
fn is_bulk_registration_download(file_name: &str) -> bool {
    let name = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    name.get(..10).is_some_and(|p| p.eq_ignore_ascii_case("OQSmuimm02"))
}

/// The reception number a download asks for (header first, then body).
fn reception_of(m: &Msg<ReceptionBody>) -> &str {
    m.header.reception_number.as_deref().or(m.body.reception_number.as_deref()).unwrap_or_default().trim()
}

fn unknown_reception(reception: &str, acknowledgement: &str) -> Refusal {
    Refusal::new(
        codes::UNKNOWN_RECEPTION,
        format!("受付番号 {reception} の受付はありません。受付結果（{acknowledgement}）の受付番号を確かめてください。"),
        format!("nothing was accepted under reception number {reception}; check the number in the acknowledgement ({acknowledgement})"),
    )
}

/// Whether the 医療機関コード a request names is `certified`'s. Compared
/// after core's number rules (full-width digits, spaces), as the code is
/// written by people and tools; a missing code is never the same.
fn same_institution(named: Option<&str>, certified: &str) -> bool {
    let digits = |s: &str| check_institution(s).map(|c| c.digits).unwrap_or_else(|_| s.trim().to_string());
    named.is_some_and(|n| !certified.is_empty() && digits(n) == digits(certified))
}

fn institution_mismatch(named: Option<&str>, certified: &str) -> Refusal {
    let named = named.unwrap_or_default();
    Refusal::new(
        codes::INSTITUTION_MISMATCH,
        format!(
            "要求の医療機関コード（{named}）が、この端末の証明書の医療機関コード（{certified}）と違います。レセコンや設定の医療機関コードを確かめてください。"
        ),
        format!(
            "the request's institution code ({named}) is not the one in this client's certificate ({certified}); check the institution code in the receipt software or the settings"
        ),
    )
}

/// Whether a person's My Number card is registered for insurance use
/// (`people.card_registered`); `None` when the registry has no such person.
pub fn card_registered(conn: &Connection, person_id: &str) -> Result<Option<bool>, Refusal> {
    Ok(conn
        .query_row("SELECT card_registered FROM people WHERE person_id = ?1", params![person_id], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|flag| flag != 0))
}

/// Registers a person's card for insurance use; `false` if it already was
/// (or the person does not exist). Needs a writable connection.
pub fn register_card(conn: &Connection, person_id: &str) -> Result<bool, Refusal> {
    let changed = conn.execute("UPDATE people SET card_registered = 1 WHERE person_id = ?1 AND card_registered = 0", params![person_id])?;
    Ok(changed == 1)
}

/// The face-style result of a My Number card confirmation (the document the
/// card reader pushes as `OQSsiquc01res_face_…`): ReferenceClassification 1,
/// the person's qualifications found by person id instead of card numbers.
/// Validity follows the same rules as [`individual`]: one active row → 1
/// (6 for a public-assistance ticket), none active → 2 or 3, several → 5.
/// The ceiling category is included only with `limit_consent`.
pub fn card_result(
    conn: &Connection,
    person_id: &str,
    institution: &str,
    limit_consent: bool,
    now: &str,
    encoding: Encoding,
) -> Result<Msg<QualificationResultBody>, Refusal> {
    in_transaction(conn, || {
        let today = now.get(..8).unwrap_or(now);
        let req_header = MessageHeader {
            qualification_confirmation_date: Some(today.to_string()),
            medical_institution_code: Some(institution.to_string()),
            ..Default::default()
        };
        let mut stmt = conn.prepare_cached(&format!("{ROW_SQL} WHERE q.person_id = ?1 ORDER BY q.id"))?;
        let all = stmt.query_map(params![person_id], read_row)?.collect::<Result<Vec<_>, _>>()?;
        let active: Vec<Row> = all.iter().filter(|r| !r.lost_on(today)).cloned().collect();
        let (validity, rows) = match active.len() {
            0 if all.is_empty() => (QualificationValidity::NoMatch, all),
            0 => (QualificationValidity::Invalid, all),
            1 if active[0].card_classification == "A1" => (QualificationValidity::ValidUnregistered, active),
            1 => (QualificationValidity::Valid, active),
            _ => (QualificationValidity::SeveralMatches, active),
        };
        let search = SearchInfo {
            limit_consent: Some(if limit_consent { ConsentFlag::Given } else { ConsentFlag::None }),
            ..Default::default()
        };
        let results = rows.iter().map(|r| entry(conn, r, &search, &req_header, now)).collect::<Result<Vec<_>, _>>()?;
        let mut header = result_header(&req_header, now, encoding, SegmentOfResult::Normal);
        header.reference_classification = Some(ReferenceClassification::Card);
        Ok(Msg {
            header,
            body: QualificationResultBody {
                processing_result_status: Some(ProcessingResultStatus::Normal),
                qualification_validity: Some(validity),
                results,
                ..Default::default()
            },
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The splice itself (not its fallback) gives the document written whole.
    #[test]
    fn spliced_units_are_the_whole_document() {
        let unit = |i: usize| BatchUnit {
            search: Some(SearchInfo { insured_identification_number: Some(format!("番号{i}")), ..Default::default() }),
            processing_result_status: Some(ProcessingResultStatus::Normal),
            qualification_validity: Some(QualificationValidity::NoMatch),
            ..Default::default()
        };
        let upload = Msg { header: MessageHeader { medical_institution_code: Some("0110113719".into()), ..Default::default() }, body: BatchUploadBody::default() };
        for encoding in [Encoding::ShiftJis, Encoding::Utf8] {
            let doc = |units: Vec<BatchUnit>| {
                Message::BatchDownloadResult(batch_document(&upload, &upload.header, "R1", Some(units), "20261125093000", encoding)).write(encoding)
            };
            let whole = doc((0..12).map(unit).collect());
            let parts = [doc((0..5).map(unit).collect()), doc((5..6).map(unit).collect()), doc((6..12).map(unit).collect())];
            assert_eq!(splice_units(&parts, 5, 12).as_deref(), Some(whole.as_slice()), "{encoding:?}");
            // A document without units cannot be spliced: the caller writes whole.
            assert_eq!(splice_units(&[doc(Vec::new()), doc(vec![unit(0)])], 0, 1), None);
        }
    }
}
