//! Every message body of protocol v1: [`Request`] (page or extension →
//! helper), [`Response`] (the `ok: true` reply, whose `type` repeats the
//! request's) and [`Event`] (helper → pages, unasked).
//!
//! Bodies only describe; they do not validate numbers or dates (the helper
//! runs the core's number and date rules and answers `invalid_argument`).
//! Eligibility results travel as the standard XML text plus a few raw codes,
//! so this module does not depend on the XML model.

use serde::{Deserialize, Serialize};

use super::error::ProtocolError;
use super::pin::{serialize_redacted, Pin};
use super::timing::Timing;

/// Who may send a request (checked by the helper before anything else).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any origin, paired or not (`hello`, `pair_begin`).
    Anyone,
    /// Pages of a paired origin, and the extension.
    Paired,
    /// Only the extension's own windows (`via: "extension"`).
    ExtensionOnly,
}

/// A request body: `{"type": "<snake_case>", …fields}`. Unknown fields are
/// ignored so an older helper accepts a newer page's extra hints.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Request {
    /// First message after the page loads: versions, and whether this origin is paired.
    Hello(Hello),
    /// Versions, backend, readers and pending work.
    Status,
    /// Start pairing this origin; the helper answers with a short code that the
    /// page shows and the extension's pairing window shows too.
    PairBegin,
    /// Staff approve or deny a pairing in the extension's window. Extension only.
    PairApprove(PairApprove),
    /// Confirm eligibility with the My Number card on the reader.
    CardConfirm(CardConfirm),
    /// The PIN typed in the extension's PIN window. Extension only.
    PinEntry(PinEntry),
    /// Give up on the PIN for a pending card confirm (PIN window closed, or
    /// the page's cancel button); the card confirm then fails with `cancelled`.
    PinCancel(PinCancel),
    /// Register the card on the reader for health-insurance use (利用登録),
    /// after a card check answered `card_not_registered` and the patient
    /// agreed. Always PIN mode: the same `pin_needed` → `pin_entry` flow as
    /// `card_confirm`, with `purpose: "register"` in the event.
    CardRegister(CardRegister),
    /// Confirm eligibility with the numbers on an insurance card / 資格確認書.
    InsuranceConfirm(InsuranceConfirm),
    /// Queue a 一括照会 (batch pre-check).
    BatchSubmit(BatchSubmit),
    /// State of one batch, or of all recent batches.
    BatchStatus(BatchStatus),
    /// The result document of a finished batch.
    BatchResults(BatchResults),
    /// Register the clinic's patient ids (照会番号) for insured persons.
    ReferenceRegister(ReferenceRegister),
    /// Medication (and optionally diagnosis) history; needs the patient's consent.
    MedicationFetch(MedicationFetch),
    /// Specific health-check (特定健診) results; needs the patient's consent.
    CheckupFetch(CheckupFetch),
    /// Today's results on this PC, so a page reload loses nothing.
    Today,
    /// The newest audit-log entries.
    AuditTail(AuditTail),
    /// Usage statistics (利用状況) over a range of days: checks per method
    /// per day and per month (issue 16; the rule is [`crate::usage`]).
    Usage(crate::usage::UsageQuery),
    /// Whether disaster mode (card-less viewing) is open to this clinic today
    /// (issue 16; types in [`super::disaster`]).
    DisasterStatus,
    /// A card-less search and view in disaster mode, with its reason.
    DisasterSearch(super::disaster::DisasterSearch),
    /// The paired origins (the extension's options page). Extension only.
    PairingsList,
    /// Remove a pairing (the extension's options page). Extension only.
    PairRevoke(PairRevoke),
}

impl Request {
    /// Every `type` string this version understands, in declaration order.
    pub const TYPES: [&'static str; 22] = [
        "hello",
        "status",
        "pair_begin",
        "pair_approve",
        "card_confirm",
        "pin_entry",
        "pin_cancel",
        "card_register",
        "insurance_confirm",
        "batch_submit",
        "batch_status",
        "batch_results",
        "reference_register",
        "medication_fetch",
        "checkup_fetch",
        "today",
        "audit_tail",
        "pairings_list",
        "pair_revoke",
        "usage",
        "disaster_status",
        "disaster_search",
    ];

    /// The wire `type` of this request.
    pub fn type_name(&self) -> &'static str {
        match self {
            Request::Hello(_) => "hello",
            Request::Status => "status",
            Request::PairBegin => "pair_begin",
            Request::PairApprove(_) => "pair_approve",
            Request::CardConfirm(_) => "card_confirm",
            Request::PinEntry(_) => "pin_entry",
            Request::PinCancel(_) => "pin_cancel",
            Request::CardRegister(_) => "card_register",
            Request::InsuranceConfirm(_) => "insurance_confirm",
            Request::BatchSubmit(_) => "batch_submit",
            Request::BatchStatus(_) => "batch_status",
            Request::BatchResults(_) => "batch_results",
            Request::ReferenceRegister(_) => "reference_register",
            Request::MedicationFetch(_) => "medication_fetch",
            Request::CheckupFetch(_) => "checkup_fetch",
            Request::Today => "today",
            Request::AuditTail(_) => "audit_tail",
            Request::PairingsList => "pairings_list",
            Request::PairRevoke(_) => "pair_revoke",
            Request::Usage(_) => "usage",
            Request::DisasterStatus => "disaster_status",
            Request::DisasterSearch(_) => "disaster_search",
        }
    }

    /// Who may send this request. Pairing approval, PIN entry and pairing
    /// management change what pages can do, so no page may send them.
    pub fn access(&self) -> Access {
        match self {
            Request::Hello(_) | Request::PairBegin => Access::Anyone,
            Request::PairApprove(_) | Request::PinEntry(_) | Request::PairingsList | Request::PairRevoke(_) => {
                Access::ExtensionOnly
            }
            Request::Status
            | Request::CardConfirm(_)
            | Request::PinCancel(_)
            | Request::CardRegister(_)
            | Request::InsuranceConfirm(_)
            | Request::BatchSubmit(_)
            | Request::BatchStatus(_)
            | Request::BatchResults(_)
            | Request::ReferenceRegister(_)
            | Request::MedicationFetch(_)
            | Request::CheckupFetch(_)
            | Request::Today
            | Request::AuditTail(_)
            | Request::Usage(_)
            | Request::DisasterStatus
            | Request::DisasterSearch(_) => Access::Paired,
        }
    }
}

/// `hello`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The page's own version string (shown in `status` and `doctor`).
    pub page_version: String,
}

/// `pair_approve` (extension only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairApprove {
    /// The id from the `pair_begin` reply the pairing window was opened for.
    pub pairing_id: String,
    /// `true` = staff approved, `false` = denied.
    pub approve: bool,
}

/// How the card holder is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmMode {
    /// The patient types the 4-digit PIN in the extension's PIN window.
    Pin,
    /// Staff compare the card photo with the patient (目視確認); no PIN.
    Visual,
}

/// The patient's consent choices, one per information category. Absent
/// fields mean "no consent".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Consents {
    /// 薬剤情報: medication history (`PharmacistsInfo`).
    pub medication: bool,
    /// 診療情報: diagnosis and procedure history (`DiagnosisInfo`, `OperationInfo`).
    pub diagnosis_procedure: bool,
    /// 特定健診情報: specific health-check results (`SpecificHealthCheckupsInfo`).
    pub health_check: bool,
    /// 限度額適用認定証 information: the high-cost ceiling category.
    pub limit_certificate: bool,
    /// 特定疾病療養受療証 information: specified-disease certificates.
    pub specified_disease: bool,
}

/// `card_confirm`. In PIN mode the helper sends the event `pin_needed`
/// and waits for `pin_entry` / `pin_cancel` before replying.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardConfirm {
    /// PIN or visual check.
    pub mode: ConfirmMode,
    /// What the patient agreed to share.
    #[serde(default)]
    pub consents: Consents,
    /// Reader name from `status`; absent = the only reader with a card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
    /// Where the patient is treated (外来 unless the page says otherwise).
    #[serde(default)]
    pub treatment: Treatment,
}

/// `card_register`: register the card on the reader for insurance use.
/// There is no mode: registration needs the card holder's PIN.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRegister {
    /// What the patient agreed to share (sent with the registration, as
    /// with a card check).
    #[serde(default)]
    pub consents: Consents,
    /// Reader name from `status`; absent = the only reader with a card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reader: Option<String>,
}

/// `pin_entry` (extension only). Its `Debug` and serialized forms show `****`.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct PinEntry {
    /// From the `pin_needed` event.
    pub confirm_id: String,
    /// Exactly 4 ASCII digits; serializes as `"****"`.
    #[serde(serialize_with = "serialize_redacted")]
    pub pin: Pin,
    /// The person ticked "I understand this is the last try". Required when
    /// `tries_left` is 1, otherwise the helper answers `last_try_unconfirmed`.
    #[serde(default)]
    pub confirm_last_try: bool,
}

/// `pin_cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinCancel {
    /// From the `pin_needed` event.
    pub confirm_id: String,
}

/// The insurance key printed on an insurance card / 資格確認書, as typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsuredPerson {
    /// 保険者番号, 6 or 8 digits.
    pub insurer_number: String,
    /// 記号 (may be absent, e.g. on national health insurance cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbol: Option<String>,
    /// 番号.
    pub number: String,
    /// 枝番, 2 digits (absent on older cards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// 生年月日, `YYYYMMDD` (the page converts 和暦 input with the core).
    pub birth_date: String,
}

/// `insurance_confirm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsuranceConfirm {
    /// Whose eligibility to check.
    pub insured: InsuredPerson,
    /// The document the numbers were read from (absent from pages before 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<PresentedDocument>,
    /// Ask for 限度額適用認定証 information (the patient agreed verbally).
    #[serde(default)]
    pub limit_certificate: bool,
    /// Echoed back in the result (`ArbitraryIdentifier`), e.g. the clinic's patient id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arbitrary_id: Option<String>,
    /// Where the patient is treated (外来 unless the page says otherwise).
    #[serde(default)]
    pub treatment: Treatment,
}

/// One person in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchEntry {
    /// Whose eligibility to check.
    pub insured: InsuredPerson,
    /// Echoed back in the unit's result, to match results to appointments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arbitrary_id: Option<String>,
}

/// `batch_submit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSubmit {
    /// The day the check is for (usually tomorrow's visits), `YYYYMMDD`.
    pub confirmation_date: String,
    /// The people to check.
    pub entries: Vec<BatchEntry>,
}

/// `batch_status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchStatus {
    /// One batch; absent = every batch the helper still keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
}

/// `batch_results`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResults {
    /// From the `batch_submit` reply.
    pub batch_id: String,
}

/// One registration: this insured person is this clinic patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceEntry {
    /// The person.
    pub insured: InsuredPerson,
    /// The clinic's patient id (照会番号).
    pub reference_number: String,
}

/// `reference_register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceRegister {
    /// One entry uses the single form (`OQSsiimm01`), more the bulk form.
    pub entries: Vec<ReferenceEntry>,
}

/// Where the patient is being treated (`MedicalTreatmentFlag`): chosen per
/// check on the page (issue 16), stored with the result, audited, and sent
/// in every viewing request made from that result.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    /// 外来: at the desk.
    #[default]
    Outpatient,
    /// 訪問診療: at the patient's home, with a laptop and a reader (居宅同意取得型).
    HomeVisit,
    /// オンライン診療: the patient is elsewhere and gives the numbers.
    Online,
    /// 救急: sent by receipt software; reception does not choose it.
    Emergency,
}

impl Treatment {
    /// The settings a reception page offers, in its order.
    pub const DESK: [Treatment; 3] = [Treatment::Outpatient, Treatment::HomeVisit, Treatment::Online];

    /// The stable name (the serde one), for storage and DOM ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Treatment::Outpatient => "outpatient",
            Treatment::HomeVisit => "home_visit",
            Treatment::Online => "online",
            Treatment::Emergency => "emergency",
        }
    }

    pub fn from_str_opt(s: &str) -> Option<Self> {
        [Treatment::Outpatient, Treatment::HomeVisit, Treatment::Online, Treatment::Emergency]
            .into_iter()
            .find(|t| t.as_str() == s)
    }

    /// The code the viewing requests carry.
    pub fn flag(self) -> crate::codes::MedicalTreatmentFlag {
        use crate::codes::MedicalTreatmentFlag as F;
        match self {
            Treatment::Outpatient => F::Outpatient,
            Treatment::HomeVisit => F::HomeVisit,
            Treatment::Online => F::Online,
            Treatment::Emergency => F::Emergency,
        }
    }

    /// 外来 / 訪問診療 / オンライン診療 / 救急, from the code table.
    pub fn label(self) -> crate::text::Bilingual {
        use crate::text::Explain;
        self.flag().explain()
    }

    /// Whether a card can be read: in an online consultation the patient
    /// and their card are not at this reader, so only the numbers they give
    /// can be checked.
    pub fn card_possible(self) -> bool {
        self != Treatment::Online
    }
}

/// `medication_fetch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicationFetch {
    /// Whose history.
    pub insured: InsuredPerson,
    /// First month, `YYYYMM`.
    pub start_month: String,
    /// Last month, `YYYYMM`.
    pub end_month: String,
    /// Also fetch diagnosis and procedure history (needs that consent too).
    #[serde(default)]
    pub include_diagnosis: bool,
    /// Outpatient unless said otherwise.
    #[serde(default)]
    pub treatment: Treatment,
}

/// `checkup_fetch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckupFetch {
    /// Whose results.
    pub insured: InsuredPerson,
    /// Outpatient unless said otherwise.
    #[serde(default)]
    pub treatment: Treatment,
}

/// `audit_tail`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTail {
    /// How many of the newest entries (the helper caps it at 1000).
    #[serde(default = "AuditTail::default_limit")]
    pub limit: u32,
}

impl AuditTail {
    fn default_limit() -> u32 {
        100
    }
}

/// `pair_revoke` (extension only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairRevoke {
    /// The origin to unpair, as listed by `pairings_list`.
    pub origin: String,
}

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

/// The body of an `ok: true` reply; its `type` is the request's `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Response {
    Hello(HelloReply),
    Status(StatusReply),
    PairBegin(PairBeginReply),
    PairApprove(PairApproveReply),
    CardConfirm(Eligibility),
    /// The PIN was accepted by the card; the `card_confirm` reply follows.
    PinEntry,
    /// The pending card confirm was cancelled.
    PinCancel,
    /// The card is registered for insurance use; the page runs the card check again.
    CardRegister(CardRegistered),
    InsuranceConfirm(Eligibility),
    BatchSubmit(BatchSubmitted),
    BatchStatus(BatchStatusReply),
    BatchResults(BatchResultsReply),
    ReferenceRegister(ReferenceRegisterReply),
    MedicationFetch(XmlReply),
    CheckupFetch(XmlReply),
    Today(TodayReply),
    AuditTail(AuditTailReply),
    PairingsList(PairingsListReply),
    PairRevoke(PairRevokeReply),
    Usage(crate::usage::UsageReply),
    DisasterStatus(super::disaster::DisasterStatusReply),
    DisasterSearch(super::disaster::DisasterSearchReply),
}

/// Versions of every part, so a mismatch can be named precisely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloReply {
    /// The helper's [`PROTOCOL_VERSION`](super::PROTOCOL_VERSION).
    pub protocol_version: u32,
    /// The helper's package version.
    pub helper_version: String,
    /// The core's package version compiled into the helper.
    pub core_version: String,
    /// Whether the asking origin is paired.
    pub paired: bool,
}

/// Which eligibility backend the helper uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// HTTPS with mutual TLS to the closed network.
    Gateway,
    /// The req/res/face folders of an official terminal.
    OqsFolder,
}

/// A card reader and whether a card is on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReaderInfo {
    /// The PC/SC reader name.
    pub name: String,
    /// A card is present.
    pub card_present: bool,
}

/// `status` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReply {
    /// The helper's protocol version.
    pub protocol_version: u32,
    /// The helper's package version.
    pub helper_version: String,
    /// The core's package version compiled into the helper.
    pub core_version: String,
    /// Whether the asking origin is paired.
    pub paired: bool,
    /// Configured backend.
    pub backend: Backend,
    /// The configured 医療機関コード (10 digits), if set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub institution_code: Option<String>,
    /// Readers known right now.
    pub readers: Vec<ReaderInfo>,
    /// Batches not yet finished.
    pub pending_batches: u32,
    /// The shared database of a hospital's desks (issue 17); absent when
    /// this helper keeps everything in the PC's own file, and from older helpers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<StoreStatus>,
}

/// `status.store`: the shared database as this desk sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStatus {
    /// Always `true` when present: a shared database is configured.
    pub shared: bool,
    /// Whether the desk's last use of it reached the server.
    pub reachable: bool,
    /// Desk checks kept on this PC while it could not be reached, sent
    /// automatically (in order, once each) when it answers again.
    pub queued: u32,
}

/// `pair_begin` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairBeginReply {
    /// Identifies this pairing attempt (for `pair_approve`).
    pub pairing_id: String,
    /// 4–6 characters shown on the page and in the pairing window, so staff
    /// can see they approve the page in front of them.
    pub code: String,
    /// Seconds until the attempt expires.
    pub expires_in_s: u32,
}

/// `pair_approve` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairApproveReply {
    /// The attempt decided.
    pub pairing_id: String,
    /// The origin that asked (from the browser at `pair_begin`).
    pub origin: String,
    /// Whether it is now paired.
    pub approved: bool,
}

/// A few raw codes from the result document, so lists can be drawn without
/// parsing; the page interprets them (and the full `xml`) with the core.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultSummary {
    /// `SegmentOfResult` (1 normal, 2 still processing, 9 failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_of_result: Option<String>,
    /// `ProcessingResultStatus` (1 normal, 2 error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_result_status: Option<String>,
    /// `QualificationValidity` (1 valid … 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification_validity: Option<String>,
    /// Number of `ResultOfQualificationConfirmation` entries.
    #[serde(default)]
    pub result_count: u32,
}

/// A result document's bytes exactly as the eligibility system sent them
/// (issue 14), for the file handed to receipt software. A Shift_JIS answer
/// cannot travel in a JSON string unchanged, so the bytes travel as base64;
/// the `xml` text beside it is for reading and showing, and its declaration
/// says UTF-8 whatever the system sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedXml {
    /// The bytes, standard base64 with padding (RFC 4648).
    pub base64: String,
    /// `false` for a result the helper stored before it kept bytes: these are
    /// then the UTF-8 text it kept, not the bytes the system sent.
    pub exact: bool,
}

impl ReceivedXml {
    pub fn new(bytes: &[u8], exact: bool) -> Self {
        ReceivedXml { base64: crate::gateway_wire::base64::encode(bytes), exact }
    }

    /// The bytes; `None` when `base64` is not base64.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        crate::gateway_wire::base64::decode(&self.base64)
    }
}

/// An eligibility result (card, insurance card, or a pushed face result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Eligibility {
    /// The standard result document (`OQSsiquc01res…`) as text.
    pub xml: String,
    /// The same document as the system sent it, for export (absent from
    /// older helpers and from `face_result` events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<ReceivedXml>,
    /// Raw codes from it.
    pub summary: ResultSummary,
    /// The result's `entry_id` in `today` (and in `today_added` events), so
    /// a page lists it once; absent from older helpers and from
    /// `face_result` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<String>,
    /// Where the helper's time went; only in `card_confirm` and
    /// `insurance_confirm` replies (`card_ms` 0 there), and
    /// absent from older helpers (see [`Timing`] for what each field covers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// What the card's certificate needs reception to tell the patient (a
    /// reminder, or the grace notice); only in `card_confirm` replies, and
    /// only when there is something to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateNotice>,
}

/// The state of a card's user-authentication certificate that still lets
/// the check go ahead (core `cert_validity`; a lapsed one is an error instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CertificateState {
    /// Valid, at most 90 days left: remind the patient to renew.
    ExpiresSoon,
    /// Lapsed within the grace: this result is the qualification only.
    LapsedGrace,
    /// A state from a newer helper; show `message` anyway.
    #[serde(other)]
    Other,
}

/// `card_confirm` reply field `certificate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateNotice {
    pub state: CertificateState,
    /// The expiry day, `YYYYMMDD` (the clinic's calendar day of notAfter).
    pub not_after: String,
    /// `expires_soon`: days until the expiry day (0 = today).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days_left: Option<u16>,
    /// `lapsed_grace`: the last day the qualification can be confirmed, `YYYYMMDD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_until: Option<String>,
    /// What to tell the patient, Japanese first.
    #[serde(deserialize_with = "super::error::BilingualDef::deserialize")]
    pub message: crate::text::Bilingual,
}

impl CertificateNotice {
    /// The notice for a certificate that expires on `expiry` and stands at
    /// `s` today; `None` when there is nothing to say (valid, or lapsed —
    /// which is an error, not a notice).
    pub fn new(expiry: crate::wareki::Date, s: crate::cert_validity::Standing) -> Option<Self> {
        use crate::cert_validity::Standing;
        let message = crate::cert_validity::notice(expiry, s)?;
        let (state, days_left, usable_until) = match s {
            Standing::ExpiresSoon { days_left } => (CertificateState::ExpiresSoon, Some(days_left), None),
            Standing::LapsedGrace { usable_until } => (CertificateState::LapsedGrace, None, Some(usable_until.yyyymmdd())),
            Standing::Valid | Standing::Lapsed { .. } => return None,
        };
        Some(CertificateNotice { state, not_after: expiry.yyyymmdd(), days_left, usable_until, message })
    }
}

/// A reply that is one standard XML document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XmlReply {
    /// The result document as text.
    pub xml: String,
}

/// `card_register` reply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRegistered {
    /// The system said the card already was registered (nothing changed);
    /// the card check can go ahead either way.
    #[serde(default)]
    pub already_registered: bool,
}

/// One entry of a request that carries many, refused on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryError {
    /// Position in the request's `entries` (0-based).
    pub index: u32,
    /// Why (usually `invalid_argument` with `detail.field`, e.g. `entries[3].insured.birthdate`).
    pub error: ProtocolError,
}

/// `reference_register` reply. Entries that fail the number and date rules
/// are listed in `rejected` and never sent; the others are sent together
/// (one entry: `OQSsiimm01req`; more: the bulk form `OQSmuimm01req`) and
/// remembered by the helper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceRegisterReply {
    /// The system's answer: the `OQSsiimm01res` result, or for the bulk form
    /// the `OQSmuimm02res` per-entry results (the `OQSmuimm01res`
    /// acknowledgement when those could not be fetched).
    pub xml: String,
    /// Entries registered (for the bulk form without per-entry results:
    /// entries sent and acknowledged).
    #[serde(default)]
    pub accepted: u32,
    /// Entries not registered, each with its reason: refused by the helper
    /// before sending, or by the system (`gateway_error` with its code).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<EntryError>,
    /// Bulk form: the system's `ReceptionNumber` for the registration job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reception_number: Option<String>,
    /// Bulk form: the system acknowledged the entries but its per-entry
    /// results did not come (or did not name every entry), so `accepted`
    /// includes entries whose outcome is not known yet. Tell the person to
    /// check again under `reception_number`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub results_pending: bool,
}

/// `batch_submit` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchSubmitted {
    /// The helper's id for this batch (survives helper restarts).
    pub batch_id: String,
    /// Entries accepted.
    pub accepted: u32,
}

/// Where a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchState {
    /// Stored, not yet sent.
    Queued,
    /// Sent; the system is processing it (SegmentOfResult 2).
    Processing,
    /// Results are ready.
    Done,
    /// Gave up; see `error`.
    Failed,
}

/// One batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchInfo {
    /// The helper's batch id.
    pub batch_id: String,
    /// Where it is.
    pub state: BatchState,
    /// When it was submitted, RFC 3339.
    pub submitted_at: String,
    /// The system's `ReceptionNumber`, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reception_number: Option<String>,
    /// Entries in the batch.
    pub total: u32,
    /// Why it failed, when `state` is `failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ProtocolError>,
}

/// `batch_status` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchStatusReply {
    /// Newest first.
    pub batches: Vec<BatchInfo>,
}

/// `batch_results` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResultsReply {
    /// The batch.
    pub batch_id: String,
    /// The `OQSmuquc02res` document as text.
    pub xml: String,
    /// The same document as the system sent it: what the XML export writes
    /// (absent from older helpers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<ReceivedXml>,
    /// `NumberOfProcessingResult`.
    pub total: u32,
    /// `NumberOfNormalProcessing`.
    pub normal: u32,
    /// `NumberOfError`.
    pub errors: u32,
}

/// What a PIN is asked for (shown in the PIN window).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinPurpose {
    /// An eligibility check (`card_confirm`).
    #[default]
    Confirm,
    /// Registering the card for insurance use (`card_register`).
    Register,
}

impl PinPurpose {
    fn is_confirm(&self) -> bool {
        *self == PinPurpose::Confirm
    }
}

/// The document a patient hands over for a check by numbers. Since
/// 2024-12-02 no new 保険証 are issued; patients bring a 資格確認書 or show a
/// 資格情報のお知らせ together with their My Number card (domain.md §8).
/// Recorded with the result, for the day's list and the usage statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresentedDocument {
    /// 健康保険証 (the old card; no longer valid after the transition).
    InsuranceCard,
    /// 資格確認書: the usual document for a check by numbers from 2026.
    #[default]
    EligibilityCertificate,
    /// 資格情報のお知らせ (paper or the マイナポータル PDF).
    EligibilityNotice,
}

impl PresentedDocument {
    pub const ALL: [PresentedDocument; 3] =
        [PresentedDocument::EligibilityCertificate, PresentedDocument::EligibilityNotice, PresentedDocument::InsuranceCard];

    /// The stable name (the serde one), for storage and DOM ids.
    pub fn as_str(self) -> &'static str {
        match self {
            PresentedDocument::InsuranceCard => "insurance_card",
            PresentedDocument::EligibilityCertificate => "eligibility_certificate",
            PresentedDocument::EligibilityNotice => "eligibility_notice",
        }
    }

    pub fn from_str_opt(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    pub fn label(self) -> crate::text::Bilingual {
        let (ja, en) = match self {
            PresentedDocument::InsuranceCard => ("保険証", "insurance card"),
            PresentedDocument::EligibilityCertificate => ("資格確認書", "eligibility certificate"),
            PresentedDocument::EligibilityNotice => ("資格情報のお知らせ", "eligibility notice"),
        };
        crate::text::Bilingual::new(ja, en)
    }
}

/// How a result of today was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmKind {
    /// My Number card with PIN.
    CardPin,
    /// My Number card, visual check.
    CardVisual,
    /// Insurance-card numbers.
    Insurance,
    /// Pushed by a face-recognition reader (OQS folder).
    Face,
}

/// One of today's results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodayEntry {
    /// Stable id of the stored result.
    pub entry_id: String,
    /// When, RFC 3339.
    pub at: String,
    /// How.
    pub kind: ConfirmKind,
    /// Card checks: what the patient agreed to share (absent for other
    /// kinds, and for card results stored by helpers before 0.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consents: Option<Consents>,
    /// Checks by numbers: the document they came from, when the page said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<PresentedDocument>,
    /// Desk checks: where the patient was treated (absent for results
    /// stored before helper 0.3, which were all at the desk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub treatment: Option<Treatment>,
    /// The desk (the helper config's `desk`) that made it: with a store
    /// shared by a hospital's desks the list holds every desk's checks.
    /// Absent for results stored by a helper without a desk name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk: Option<String>,
    /// The result document as text.
    pub xml: String,
    /// Raw codes from it.
    pub summary: ResultSummary,
}

/// `today` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TodayReply {
    /// Oldest first.
    pub entries: Vec<TodayEntry>,
}

/// One audit-log line (never contains a PIN or card secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the hash chain.
    pub seq: u64,
    /// When, RFC 3339.
    pub at: String,
    /// The origin that asked, if a page did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The request type, e.g. `card_confirm`.
    pub action: String,
    /// `ok` or an error code.
    pub outcome: String,
}

/// `audit_tail` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditTailReply {
    /// Oldest first.
    pub entries: Vec<AuditEntry>,
}

/// A paired origin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingInfo {
    /// e.g. `https://clinic.example`.
    pub origin: String,
    /// When approved, RFC 3339.
    pub paired_at: String,
    /// Last request from it, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used: Option<String>,
}

/// `pairings_list` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingsListReply {
    /// Every paired origin.
    pub pairings: Vec<PairingInfo>,
}

/// `pair_revoke` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairRevokeReply {
    /// The origin.
    pub origin: String,
    /// `false` when it was not paired.
    pub revoked: bool,
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

/// Something the helper tells pages unasked. The frame's `origin` says who
/// may see it (`null` = every paired origin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A reader was plugged in.
    ReaderAdded {
        /// The PC/SC reader name.
        reader: String,
    },
    /// A reader was unplugged.
    ReaderRemoved {
        /// The PC/SC reader name.
        reader: String,
    },
    /// A card was placed on a reader.
    CardInserted {
        /// The PC/SC reader name.
        reader: String,
    },
    /// A card was taken off a reader.
    CardRemoved {
        /// The PC/SC reader name.
        reader: String,
    },
    /// A PIN-mode `card_confirm` waits for the PIN: the extension opens its
    /// PIN window; the page shows "enter the PIN in the PIN window".
    PinNeeded {
        /// Quote it in `pin_entry` / `pin_cancel`.
        confirm_id: String,
        /// The `id` of the `card_confirm` frame this belongs to.
        request_id: String,
        /// PIN tries left on the card (1 = last try: warn loudly).
        tries_left: u8,
        /// The page origin that asked, shown in the PIN window.
        origin: String,
        /// What the PIN is for; the PIN window says "registration" for
        /// `register`. Absent = `confirm`.
        #[serde(default, skip_serializing_if = "PinPurpose::is_confirm")]
        purpose: PinPurpose,
    },
    /// A batch moved on.
    BatchProgress {
        /// Which batch.
        batch_id: String,
        /// Its state now.
        state: BatchState,
    },
    /// A face-recognition reader pushed a result into `face/` (OQS-folder backend).
    FaceResult {
        /// The `OQSsiquc01res_face_…` document as text.
        xml: String,
        /// Raw codes from it.
        summary: ResultSummary,
        /// Its `entry_id` in `today` once stored (absent from older helpers,
        /// and when it could not be stored).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        entry_id: Option<String>,
    },
    /// Staff decided on a pairing attempt of this origin.
    PairingDecided {
        /// From the `pair_begin` reply.
        pairing_id: String,
        /// Whether the origin is now paired.
        approved: bool,
    },
    /// This origin's pairing was revoked; pages must pair again.
    PairingRevoked,
    /// A desk check was stored — at this desk, or (with a store shared by
    /// a hospital's desks) at another one: pages add it to the day's list
    /// unless they list its `entry_id` already.
    TodayAdded {
        /// As `today` lists it.
        entry: TodayEntry,
    },
}
