//! Typed eligibility messages: one `Message` enum over every kind, read from
//! bytes by content (and optionally by file name), written back in
//! Shift_JIS or UTF-8, validated into diagnostics.
//!
//! ```
//! use onshi_core::message::{parse, Message};
//! let xml = br#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>
//!   <QualificationConfirmationDate>20250401</QualificationConfirmationDate>
//!   <MedicalInstitutionCode>0110113719</MedicalInstitutionCode></MessageHeader>
//!   <MessageBody><QualificationConfirmSearchInfo><InsurerNumber>39131156</InsurerNumber>
//!   <InsuredIdentificationNumber>12345678</InsuredIdentificationNumber>
//!   <Birthdate>19400101</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#;
//! let parsed = parse(xml).unwrap();
//! assert!(matches!(parsed.message, Message::IndividualRequest(_)));
//! assert!(parsed.diagnostics.is_empty());
//! ```

pub(crate) mod model;
mod records;
mod rejection;

use serde::{Deserialize, Serialize};

pub use model::{Field, FieldValue, Record};
pub use records::*;
pub use rejection::Rejection;

use crate::diag::{Diagnostic, Severity};
use crate::text::Bilingual;
use crate::xml::{self, Element, Encoding, Limits, ParseError, XmlWriter};
use model::{read_record, Cx};

/// A whole `XmlMsg` document: header plus a body of type `B`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Msg<B> {
    #[serde(rename = "MessageHeader")]
    pub header: MessageHeader,
    #[serde(rename = "MessageBody")]
    pub body: B,
}

impl<B: Record + FieldValue> Msg<B> {
    fn read(root: &Element<'_>, cx: &mut Cx) -> Self {
        let mut msg = Msg::default();
        let mark = cx.enter("XmlMsg", None);
        for child in &root.children {
            let m = cx.enter(&child.name, None);
            match child.name.as_ref() {
                "MessageHeader" => msg.header = read_record(child, cx),
                "MessageBody" => msg.body = read_record(child, cx),
                other => {
                    let other = other.to_string();
                    cx.leave(m);
                    cx.report(Some(&other), Severity::Info, "unknown_element", Bilingual::new(
                        format!("未知の要素<{other}>は読み飛ばしました。"),
                        format!("Unknown element <{other}> was skipped."),
                    ));
                    continue;
                }
            }
            cx.leave(m);
        }
        cx.leave(mark);
        msg
    }

    fn write(&self, w: &mut XmlWriter) {
        w.open("XmlMsg");
        self.header.emit("MessageHeader", w);
        self.body.emit("MessageBody", w);
        w.close("XmlMsg");
    }

    fn check(&self, cx: &mut Cx) {
        let mark = cx.enter("XmlMsg", None);
        let m = cx.enter("MessageHeader", None);
        self.header.check(cx);
        cx.leave(m);
        let m = cx.enter("MessageBody", None);
        self.body.check(cx);
        cx.leave(m);
        cx.leave(mark);
    }
}

/// Every message kind of the interface. The serialised form is tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Message {
    /// `OQSsiquc01req`
    IndividualRequest(Msg<IndividualRequestBody>),
    /// `OQSsiquc01res`
    IndividualResult(Msg<QualificationResultBody>),
    /// `OQSsiquc01res_face_…`: pushed by the card reader.
    FaceResult(Msg<QualificationResultBody>),
    /// `OQSmuquc01req`
    BatchUploadRequest(Msg<BatchUploadBody>),
    /// `OQSmuquc01res` (and the bulk registration's acknowledgement `OQSmuimm01res`).
    BatchUploadResult(Msg<ReceptionBody>),
    /// `OQSmuquc02req` (and `OQSmuimm02req`).
    BatchDownloadRequest(Msg<ReceptionBody>),
    /// `OQSmuquc02res`, including SegmentOfResult 2 "still processing".
    BatchDownloadResult(Msg<BatchResultBody>),
    /// `OQSsiimm01req`
    RegistrationRequest(Msg<Registration>),
    /// `OQSsiimm01res`
    RegistrationResult(Msg<Registration>),
    /// `OQSmuimm01req`
    BulkRegistrationRequest(Msg<BulkRegistrationBody>),
    /// `OQSmuimm02res`
    BulkRegistrationResult(Msg<BulkRegistrationBody>),
    /// `YZKsiquc01req`
    MedicationRequest(Msg<InfoRequestBody>),
    /// `YZKsiquc01res`
    MedicationResult(Msg<MedicationResultBody>),
    /// `TKKsiquc01req`
    CheckupRequest(Msg<InfoRequestBody>),
    /// `TKKsiquc01res`
    CheckupResult(Msg<CheckupResultBody>),
    /// A `.err` file: the terminal refused a request.
    Rejection(Rejection),
}

/// The kind of a message without its content, for dispatch and file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Kind {
    IndividualRequest,
    IndividualResult,
    FaceResult,
    BatchUploadRequest,
    BatchUploadResult,
    BatchDownloadRequest,
    BatchDownloadResult,
    RegistrationRequest,
    RegistrationResult,
    BulkRegistrationRequest,
    BulkRegistrationResult,
    MedicationRequest,
    MedicationResult,
    CheckupRequest,
    CheckupResult,
    Rejection,
}

/// File-name prefixes, longest first so `OQSsiquc01res_face` wins over `OQSsiquc01res`.
const PREFIXES: &[(&str, Kind)] = &[
    ("OQSsiquc01res_face", Kind::FaceResult),
    ("OQSsiquc01req", Kind::IndividualRequest),
    ("OQSsiquc01res", Kind::IndividualResult),
    ("OQSmuquc01req", Kind::BatchUploadRequest),
    ("OQSmuquc01res", Kind::BatchUploadResult),
    ("OQSmuquc02req", Kind::BatchDownloadRequest),
    ("OQSmuquc02res", Kind::BatchDownloadResult),
    ("OQSsiimm01req", Kind::RegistrationRequest),
    ("OQSsiimm01res", Kind::RegistrationResult),
    ("OQSmuimm01req", Kind::BulkRegistrationRequest),
    ("OQSmuimm01res", Kind::BatchUploadResult),
    ("OQSmuimm02req", Kind::BatchDownloadRequest),
    ("OQSmuimm02res", Kind::BulkRegistrationResult),
    ("YZKsiquc01req", Kind::MedicationRequest),
    ("YZKsiquc01res", Kind::MedicationResult),
    ("TKKsiquc01req", Kind::CheckupRequest),
    ("TKKsiquc01res", Kind::CheckupResult),
];

impl Kind {
    /// The kind a file name says, if any (`…/OQSsiquc01res_202504010001.xml`).
    pub fn from_file_name(name: &str) -> Option<Kind> {
        let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
        if base.to_ascii_lowercase().ends_with(".err") {
            return Some(Kind::Rejection);
        }
        PREFIXES.iter().find(|(p, _)| base.starts_with(p)).map(|(_, k)| *k)
    }

    /// The file-name prefix for this kind (`None` for a rejection).
    pub fn file_prefix(self) -> Option<&'static str> {
        PREFIXES.iter().find(|(_, k)| *k == self).map(|(p, _)| *p)
    }

    /// Whether clinic software sends this kind (as opposed to receiving it).
    pub fn is_request(self) -> bool {
        matches!(
            self,
            Kind::IndividualRequest
                | Kind::BatchUploadRequest
                | Kind::BatchDownloadRequest
                | Kind::RegistrationRequest
                | Kind::BulkRegistrationRequest
                | Kind::MedicationRequest
                | Kind::CheckupRequest
        )
    }
}

/// A parsed document: the message, what was noticed about it, and the
/// encoding it was read in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parsed {
    pub message: Message,
    pub diagnostics: Vec<Diagnostic>,
    pub encoding: Encoding,
}

/// Reads and validates a document, recognising its kind by content.
pub fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    parse_with(bytes, None, &Limits::default())
}

/// As [`parse`], with the file name as a hint for the kind (the name wins
/// when content alone is ambiguous, e.g. a one-patient batch upload).
pub fn parse_named(file_name: &str, bytes: &[u8]) -> Result<Parsed, ParseError> {
    parse_with(bytes, Some(file_name), &Limits::default())
}

/// The full form: optional file name and explicit limits.
pub fn parse_with(bytes: &[u8], file_name: Option<&str>, limits: &Limits) -> Result<Parsed, ParseError> {
    let hint = file_name.and_then(Kind::from_file_name);
    if hint == Some(Kind::Rejection) {
        let (text, encoding, mut diagnostics) = xml::decode(bytes, limits.max_bytes)?;
        let rejection = Rejection::from_text(&text);
        diagnostics.extend(rejection.check());
        return Ok(Parsed { message: Message::Rejection(rejection), diagnostics, encoding });
    }
    let (text, encoding, mut diagnostics) = xml::decode(bytes, limits.max_bytes)?;
    let mut cx = Cx::default();
    // Batch units are typed as soon as each one closes, so a large batch
    // result never exists as a whole element tree.
    let mut units: Vec<BatchUnit> = Vec::new();
    let root = {
        let cx = &mut cx;
        let units = &mut units;
        xml::build(&text, limits, &["BulkConfirmUnit"], move |el, i| {
            let mark = cx.enter("XmlMsg/MessageBody/BulkConfirmUnit", Some(i));
            units.push(read_record(&el, cx));
            cx.leave(mark);
        })?
    };
    if root.name != "XmlMsg" {
        return Err(ParseError::NotXmlMsg { root: root.name.chars().take(64).collect() });
    }
    let kind = match hint {
        Some(k) => k,
        None => detect(&root, !units.is_empty()).ok_or(ParseError::UnknownMessage)?,
    };
    let message = read_message(kind, &root, &mut cx, units);
    drop(root);
    diagnostics.append(&mut cx.diagnostics);
    diagnostics.extend(crate::validate::validate(&message));
    Ok(Parsed { message, diagnostics, encoding })
}

fn read_message(kind: Kind, root: &Element<'_>, cx: &mut Cx, units: Vec<BatchUnit>) -> Message {
    match kind {
        Kind::IndividualRequest => Message::IndividualRequest(Msg::read(root, cx)),
        Kind::IndividualResult => Message::IndividualResult(Msg::read(root, cx)),
        Kind::FaceResult => Message::FaceResult(Msg::read(root, cx)),
        Kind::BatchUploadRequest => Message::BatchUploadRequest(Msg::read(root, cx)),
        Kind::BatchUploadResult => Message::BatchUploadResult(Msg::read(root, cx)),
        Kind::BatchDownloadRequest => Message::BatchDownloadRequest(Msg::read(root, cx)),
        Kind::BatchDownloadResult => {
            let mut msg: Msg<BatchResultBody> = Msg::read(root, cx);
            msg.body.units = units;
            Message::BatchDownloadResult(msg)
        }
        Kind::RegistrationRequest => Message::RegistrationRequest(Msg::read(root, cx)),
        Kind::RegistrationResult => Message::RegistrationResult(Msg::read(root, cx)),
        Kind::BulkRegistrationRequest => Message::BulkRegistrationRequest(Msg::read(root, cx)),
        Kind::BulkRegistrationResult => Message::BulkRegistrationResult(Msg::read(root, cx)),
        Kind::MedicationRequest => Message::MedicationRequest(Msg::read(root, cx)),
        Kind::MedicationResult => Message::MedicationResult(Msg::read(root, cx)),
        Kind::CheckupRequest => Message::CheckupRequest(Msg::read(root, cx)),
        Kind::CheckupResult => Message::CheckupResult(Msg::read(root, cx)),
        Kind::Rejection => {
            // An XML rejection: the header's error code and message.
            let msg: Msg<InfoRequestBody> = Msg::read(root, cx);
            Message::Rejection(Rejection {
                code: msg.header.error_code.unwrap_or_default(),
                message: msg.header.error_message.unwrap_or_default(),
            })
        }
    }
}

/// Recognises the kind from the element names present (never their order).
fn detect(root: &Element<'_>, has_units: bool) -> Option<Kind> {
    let empty = Element::default();
    let header = root.child("MessageHeader").unwrap_or(&empty);
    let body = root.child("MessageBody").unwrap_or(&empty);
    let h = |n: &str| header.child(n).is_some();
    let b = |n: &str| body.child(n).is_some();
    let is_result = h("ProcessExecutionTime") || h("SegmentOfResult") || b("ProcessingResultStatus") || b("ResultCode");
    let searches = body.children.iter().filter(|c| c.name == "QualificationConfirmSearchInfo").count();
    // Before the batch check: a bulk registration's result has the same counts in its header.
    if b("ReferenceNumberRegistrationInfo") {
        return Some(if is_result { Kind::BulkRegistrationResult } else { Kind::BulkRegistrationRequest });
    }
    if has_units || b("BulkConfirmUnit") || h("NumberOfProcessingResult") {
        return Some(Kind::BatchDownloadResult);
    }
    if b("MedicationInfoList") {
        return Some(Kind::MedicationResult);
    }
    if b("SpecificHealthCheckupInfoList") {
        return Some(Kind::CheckupResult);
    }
    if b("ResultCode") || b("MessageContents") || b("FileData") {
        // A medication or health-check answer without content: FileCategory
        // 3/4 exist only for medication, so without it we cannot tell; medication is more common.
        return Some(Kind::MedicationResult);
    }
    if h("InsuredPersonIdentificationNumber") || h("FileCategory") {
        return Some(Kind::MedicationRequest);
    }
    if b("ReferenceNumber") {
        return Some(if is_result { Kind::RegistrationResult } else { Kind::RegistrationRequest });
    }
    if b("ResultList") || b("QualificationValidity") || (is_result && searches <= 1 && !h("ReceptionNumber") && !b("ReceptionNumber")) {
        let card = header.child("ReferenceClassification").is_some_and(|c| c.text.trim() == "1");
        return Some(if card { Kind::FaceResult } else { Kind::IndividualResult });
    }
    let reception = h("ReceptionNumber") || b("ReceptionNumber");
    if reception {
        let still_processing = header.child("SegmentOfResult").is_some_and(|c| c.text.trim() == "2");
        return Some(if still_processing {
            Kind::BatchDownloadResult
        } else if is_result || h("ReceptionDateTime") || b("ReceptionDateTime") {
            Kind::BatchUploadResult
        } else {
            Kind::BatchDownloadRequest
        });
    }
    match searches {
        0 if h("ErrorCode") => Some(Kind::Rejection),
        0 => None,
        1 => Some(Kind::IndividualRequest),
        _ => Some(Kind::BatchUploadRequest),
    }
}

impl Message {
    pub fn kind(&self) -> Kind {
        match self {
            Message::IndividualRequest(_) => Kind::IndividualRequest,
            Message::IndividualResult(_) => Kind::IndividualResult,
            Message::FaceResult(_) => Kind::FaceResult,
            Message::BatchUploadRequest(_) => Kind::BatchUploadRequest,
            Message::BatchUploadResult(_) => Kind::BatchUploadResult,
            Message::BatchDownloadRequest(_) => Kind::BatchDownloadRequest,
            Message::BatchDownloadResult(_) => Kind::BatchDownloadResult,
            Message::RegistrationRequest(_) => Kind::RegistrationRequest,
            Message::RegistrationResult(_) => Kind::RegistrationResult,
            Message::BulkRegistrationRequest(_) => Kind::BulkRegistrationRequest,
            Message::BulkRegistrationResult(_) => Kind::BulkRegistrationResult,
            Message::MedicationRequest(_) => Kind::MedicationRequest,
            Message::MedicationResult(_) => Kind::MedicationResult,
            Message::CheckupRequest(_) => Kind::CheckupRequest,
            Message::CheckupResult(_) => Kind::CheckupResult,
            Message::Rejection(_) => Kind::Rejection,
        }
    }

    /// The header, for every kind but a `.err` rejection.
    pub fn header(&self) -> Option<&MessageHeader> {
        Some(match self {
            Message::IndividualRequest(m) => &m.header,
            Message::IndividualResult(m) | Message::FaceResult(m) => &m.header,
            Message::BatchUploadRequest(m) => &m.header,
            Message::BatchUploadResult(m) | Message::BatchDownloadRequest(m) => &m.header,
            Message::BatchDownloadResult(m) => &m.header,
            Message::RegistrationRequest(m) | Message::RegistrationResult(m) => &m.header,
            Message::BulkRegistrationRequest(m) | Message::BulkRegistrationResult(m) => &m.header,
            Message::MedicationRequest(m) | Message::CheckupRequest(m) => &m.header,
            Message::MedicationResult(m) => &m.header,
            Message::CheckupResult(m) => &m.header,
            Message::Rejection(_) => return None,
        })
    }

    /// The document in the standard form: declaration, then the message,
    /// in Shift_JIS (the interface's default) or UTF-8.
    pub fn write(&self, encoding: Encoding) -> Vec<u8> {
        let mut w = XmlWriter::new();
        match self {
            Message::IndividualRequest(m) => m.write(&mut w),
            Message::IndividualResult(m) | Message::FaceResult(m) => m.write(&mut w),
            Message::BatchUploadRequest(m) => m.write(&mut w),
            Message::BatchUploadResult(m) | Message::BatchDownloadRequest(m) => m.write(&mut w),
            Message::BatchDownloadResult(m) => m.write(&mut w),
            Message::RegistrationRequest(m) | Message::RegistrationResult(m) => m.write(&mut w),
            Message::BulkRegistrationRequest(m) | Message::BulkRegistrationResult(m) => m.write(&mut w),
            Message::MedicationRequest(m) | Message::CheckupRequest(m) => m.write(&mut w),
            Message::MedicationResult(m) => m.write(&mut w),
            Message::CheckupResult(m) => m.write(&mut w),
            Message::Rejection(r) => return r.write(encoding),
        }
        w.finish(encoding)
    }

    /// The generic walk of every field (codes, dates, numbers, record rules).
    pub(crate) fn check_fields(&self, cx: &mut Cx) {
        match self {
            Message::IndividualRequest(m) => m.check(cx),
            Message::IndividualResult(m) | Message::FaceResult(m) => m.check(cx),
            Message::BatchUploadRequest(m) => m.check(cx),
            Message::BatchUploadResult(m) | Message::BatchDownloadRequest(m) => m.check(cx),
            Message::BatchDownloadResult(m) => m.check(cx),
            Message::RegistrationRequest(m) | Message::RegistrationResult(m) => m.check(cx),
            Message::BulkRegistrationRequest(m) | Message::BulkRegistrationResult(m) => m.check(cx),
            Message::MedicationRequest(m) | Message::CheckupRequest(m) => m.check(cx),
            Message::MedicationResult(m) => m.check(cx),
            Message::CheckupResult(m) => m.check(cx),
            Message::Rejection(_) => {}
        }
    }
}
