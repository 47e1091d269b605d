//! Today's results: every eligibility answer the helper received, kept as
//! the bytes the system sent (issue 14) plus a few summary columns, so a page
//! reload or a restart loses nothing and an export is the answer byte for
//! byte. Bytes in, bytes out: no encoding is chosen here, so any engine
//! behind this interface keeps a blob. Interpreting the XML is the core's job.

use onshi_core::protocol::{ConfirmMode, Consents, PresentedDocument, Treatment};

use super::engine::pg::Heard;
use super::engine::{vals, Db, Row};
use super::jobs::JobId;
use super::values::{insurer_digits, plain, ErrorCode, Origin, ValueError};
use super::{Store, StoreError};
use crate::time::{Day, Timestamp};

/// A stored result's id: the store's row id, or, negated, the row of a
/// desk check queued in the PC's file while the shared store was down
/// (`outbox.rs`), which has no id on the server yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResultId(pub i64);

impl ResultId {
    /// Kept in the PC's file, not sent to the shared store yet.
    pub fn is_queued(self) -> bool {
        self.0 < 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    CardConfirm,
    InsuranceConfirm,
    /// Pushed by a face-recognition reader (OQS folder `face/`).
    Face,
    Batch,
    Medication,
    HealthCheckup,
}

impl ResultKind {
    /// A check made at a desk (card, numbers, face): what today's list shows.
    pub fn is_desk_check(self) -> bool {
        matches!(self, ResultKind::CardConfirm | ResultKind::InsuranceConfirm | ResultKind::Face)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultStatus {
    /// Eligible (資格有効).
    Valid,
    /// Found but not eligible (資格無効).
    Invalid,
    /// No such insured person (該当資格なし).
    NotFound,
    /// The query failed; see the error code.
    Error,
}

macro_rules! names {
    ($ty:ident { $($v:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$v => $s),* }
            }
            fn parse(s: &str) -> Option<$ty> {
                match s { $($s => Some($ty::$v),)* _ => None }
            }
        }
    };
}

names!(ResultKind {
    CardConfirm => "card_confirm",
    InsuranceConfirm => "insurance_confirm",
    Face => "face",
    Batch => "batch",
    Medication => "medication",
    HealthCheckup => "health_checkup",
});
names!(ResultStatus { Valid => "valid", Invalid => "invalid", NotFound => "not_found", Error => "error" });

/// A result document's bytes exactly as the eligibility system sent them
/// (UTF-8 or Shift_JIS, declaration included). Must look like XML (after an
/// optional UTF-8 byte-order mark and blanks, the first byte is `<`) and stay
/// under 16 MiB; nothing else about it is checked or changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultXml(Vec<u8>);

const MAX_XML: usize = 16 * 1024 * 1024;

impl ResultXml {
    pub fn received(bytes: Vec<u8>) -> Result<Self, ValueError> {
        let field = "result XML";
        if bytes.len() > MAX_XML {
            return Err(ValueError::TooLong { field, max: MAX_XML });
        }
        let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(&bytes);
        if body.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n')) != Some(&b'<') {
            return Err(ValueError::BadShape { field, expected: "an XML document" });
        }
        Ok(ResultXml(bytes))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// How a stored document's bytes came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// Byte for byte as the system sent them (schema 3 on).
    AsReceived,
    /// Stored before schema 3 as UTF-8 text: a Shift_JIS answer was decoded
    /// and its declaration rewritten to UTF-8, so these are not the bytes
    /// the system sent (its `CharacterCodeIdentifier` may still say Shift_JIS).
    Utf8Text,
}

/// A stored result document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredXml {
    pub bytes: Vec<u8>,
    pub kept: Kept,
}

/// How a My Number card check was made, kept with its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardCheck {
    pub mode: ConfirmMode,
    pub consents: Consents,
}

fn mode_str(m: ConfirmMode) -> &'static str {
    match m {
        ConfirmMode::Pin => "pin",
        ConfirmMode::Visual => "visual",
    }
}

/// The five consent flags as a fixed-order string of `0`/`1` (medication,
/// diagnosis/procedure, health check, limit certificate, specified disease):
/// short, and with no free text a reader of the file could mistake for more.
fn consents_str(c: &Consents) -> String {
    [c.medication, c.diagnosis_procedure, c.health_check, c.limit_certificate, c.specified_disease]
        .iter()
        .map(|b| if *b { '1' } else { '0' })
        .collect()
}

fn consents_parse(s: &str) -> Option<Consents> {
    let b: Vec<bool> = s.chars().map(|c| c == '1').collect();
    (s.len() == 5 && s.chars().all(|c| c == '0' || c == '1')).then(|| Consents {
        medication: b[0],
        diagnosis_procedure: b[1],
        health_check: b[2],
        limit_certificate: b[3],
        specified_disease: b[4],
    })
}

/// A result to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResult {
    pub at: Timestamp,
    pub kind: ResultKind,
    /// The page that asked, when one did (not for batch results).
    pub origin: Option<Origin>,
    pub job: Option<JobId>,
    pub status: ResultStatus,
    /// 保険者番号 as in the document (6 or 8 digits).
    pub insurer_number: Option<String>,
    /// カナ氏名 for the today list.
    pub name_kana: Option<String>,
    pub error: Option<ErrorCode>,
    /// Card checks: PIN or visual, and the consents chosen at the desk.
    pub card: Option<CardCheck>,
    /// Checks by numbers: the document they came from, when the page said.
    pub document: Option<PresentedDocument>,
    /// Desk checks (card, numbers, face): where the patient was treated.
    pub treatment: Option<Treatment>,
    pub xml: ResultXml,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    pub id: ResultId,
    pub at: String,
    pub day: String,
    pub kind: ResultKind,
    pub origin: Option<String>,
    pub job: Option<JobId>,
    pub status: ResultStatus,
    pub insurer_number: Option<String>,
    pub name_kana: Option<String>,
    pub error: Option<String>,
    /// `None` for other kinds and for card results stored before schema 2.
    pub card: Option<CardCheck>,
    /// `None` unless a check by numbers named it (schema 4 on).
    pub document: Option<PresentedDocument>,
    /// The desk whose helper stored it (schema 7 on, when the store was
    /// opened from a config).
    pub desk: Option<String>,
    /// `None` for batch and history rows, and desk rows before schema 6.
    pub treatment: Option<Treatment>,
    pub xml: StoredXml,
}

pub(super) const COLUMNS: &str = "id, at, day, kind, origin, job_id, status, insurer_number, name_kana, error_code, xml, \
                       card_mode, consents, received, document, desk, treatment";

impl Store {
    /// Stores a result; the day is the local date of `at`. On a shared
    /// store a desk check that cannot reach the server is kept in this PC's
    /// file and sent later (`outbox.rs`); its id is then negative.
    pub fn insert_result(&mut self, r: &NewResult) -> Result<ResultId, StoreError> {
        if self.shared.is_some() && r.job.is_none() {
            return self.insert_or_queue(r);
        }
        insert(self.db(), r, self.desk.as_ref().map(|d| d.as_str()), None)
    }

    /// Stores many results in one transaction (all or none): one commit
    /// instead of one per row, for seeding statistics and imports.
    pub fn insert_results(&mut self, rs: &[NewResult]) -> Result<Vec<ResultId>, StoreError> {
        let desk = self.desk.as_ref().map(|d| d.as_str());
        self.db().transaction("insert results", None, |db| rs.iter().map(|r| insert(db, r, desk, None)).collect())
    }

    /// The newest stored result of a batch job (its `OQSmuquc02res`).
    pub fn result_for_job(&self, job: JobId) -> Result<Option<StoredResult>, StoreError> {
        let op = "read batch result";
        let sql = format!("SELECT {COLUMNS} FROM results WHERE job_id = ?1 ORDER BY id DESC LIMIT 1");
        self.db().query_opt(op, &sql, vals![job.0])?.map(|r| read(&r)).transpose()
    }

    /// Desk checks as any desk sharing this store stores them ([`Notice`]
    /// payloads, and [`Heard::Listening`] whenever the listener has
    /// (re)connected); `None` for a store on the PC alone, whose helper
    /// knows its own checks.
    pub fn listen_results(&self) -> Result<Option<std::sync::mpsc::Receiver<Heard>>, StoreError> {
        self.shared.as_ref().map(|pg| pg.listen(RESULTS_CHANNEL)).transpose()
    }

    /// One result by id, if it exists (a queued one from the PC's file).
    pub fn result(&self, id: ResultId) -> Result<Option<StoredResult>, StoreError> {
        if id.is_queued() {
            return self.queued_result(id);
        }
        let sql = format!("SELECT {COLUMNS} FROM results WHERE id = ?1");
        self.db().query_opt("read result", &sql, vals![id.0])?.map(|r| read(&r)).transpose()
    }

    /// The results with ids from `first` to `last`, in id order: what a
    /// listener reads for a burst of notices in one statement.
    pub fn results_between(&self, first: ResultId, last: ResultId) -> Result<Vec<StoredResult>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM results WHERE id BETWEEN ?1 AND ?2 ORDER BY id");
        self.db().query("read results", &sql, vals![first.0, last.0])?.iter().map(read).collect()
    }

    /// All results of one local day, in the order they arrived. On a shared
    /// store, followed by this desk's results still queued in the PC's file;
    /// while the server cannot be reached, the day as last read from it
    /// stands in for its rows (`outbox.rs`).
    pub fn results_for_day(&self, day: &Day) -> Result<Vec<StoredResult>, StoreError> {
        if self.shared.is_some() {
            return self.day_with_queue(day);
        }
        self.shared_day(day)
    }

    /// The day's rows in the store's engine alone.
    pub(super) fn shared_day(&self, day: &Day) -> Result<Vec<StoredResult>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM results WHERE day = ?1 ORDER BY id");
        self.db().query("read results", &sql, vals![day.as_str()])?.iter().map(read).collect()
    }
}

/// One row of [`COLUMNS`] as a result; a value no writer of ours makes is
/// reported as corrupt, not guessed.
pub(super) fn read(r: &Row) -> Result<StoredResult, StoreError> {
    let id = r.int(0)?;
    let corrupt = |column| StoreError::Corrupt { table: "results", row: id, column };
    let xml = match (r.opt_text(10)?, r.opt_blob(13)?) {
        (None, Some(bytes)) => StoredXml { bytes, kept: Kept::AsReceived },
        (Some(text), None) => StoredXml { bytes: text.into_bytes(), kept: Kept::Utf8Text },
        _ => return Err(corrupt("received")),
    };
    let document = match r.opt_text(14)? {
        None => None,
        Some(d) => Some(PresentedDocument::from_str_opt(&d).ok_or_else(|| corrupt("document"))?),
    };
    let card = match (r.opt_text(11)?, r.opt_text(12)?) {
        (None, None) => None,
        (Some(mode), Some(consents)) => Some(CardCheck {
            mode: match mode.as_str() {
                "pin" => ConfirmMode::Pin,
                "visual" => ConfirmMode::Visual,
                _ => return Err(corrupt("card_mode")),
            },
            consents: consents_parse(&consents).ok_or_else(|| corrupt("consents"))?,
        }),
        _ => return Err(corrupt("consents")),
    };
    Ok(StoredResult {
        id: ResultId(id),
        at: r.text(1)?,
        day: r.text(2)?,
        kind: ResultKind::parse(&r.text(3)?).ok_or_else(|| corrupt("kind"))?,
        origin: r.opt_text(4)?,
        job: r.opt_int(5)?.map(JobId),
        status: ResultStatus::parse(&r.text(6)?).ok_or_else(|| corrupt("status"))?,
        insurer_number: r.opt_text(7)?,
        name_kana: r.opt_text(8)?,
        error: r.opt_text(9)?,
        card,
        document,
        desk: r.opt_text(15)?,
        treatment: match r.opt_text(16)? {
            None => None,
            Some(t) => Some(Treatment::from_str_opt(&t).ok_or_else(|| corrupt("treatment"))?),
        },
        xml,
    })
}

/// One row into `results`, on the store's engine or inside a transaction.
/// A `uid` (made at the desk, see `outbox.rs`) makes the insert idempotent:
/// a row with the same `uid` already there is left alone and its id returned.
pub(super) fn insert(db: Db<'_>, r: &NewResult, desk: Option<&str>, uid: Option<&str>) -> Result<ResultId, StoreError> {
    if let Some(n) = &r.insurer_number {
        insurer_digits("insurer number", n)?;
    }
    if let Some(n) = &r.name_kana {
        plain("name", n, 100)?;
    }
    let row = db.query_opt(
        "insert result",
        "INSERT INTO results (at, day, kind, origin, job_id, status, insurer_number, name_kana, error_code, received, card_mode, consents, document, desk, treatment, uid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) ON CONFLICT (uid) DO NOTHING RETURNING id",
        vals![
            r.at.as_str(),
            r.at.day().as_str(),
            r.kind.as_str(),
            r.origin.as_ref().map(Origin::as_str),
            r.job.map(|j| j.0),
            r.status.as_str(),
            r.insurer_number.as_deref(),
            r.name_kana.as_deref(),
            r.error.as_ref().map(ErrorCode::as_str),
            r.xml.as_bytes(),
            r.card.map(|c| mode_str(c.mode)),
            r.card.map(|c| consents_str(&c.consents)),
            r.document.map(PresentedDocument::as_str),
            desk,
            r.treatment.map(Treatment::as_str),
            uid,
        ],
    )?;
    let inserted = row.is_some();
    let row = match (row, uid) {
        (Some(row), _) => Some(row),
        // Stored before (a retried flush, or a write whose answer was lost):
        // its id, and no second announcement.
        (None, Some(uid)) => db.query_opt("insert result", "SELECT id FROM results WHERE uid = ?1", vals![uid])?,
        (None, None) => None,
    };
    let id = row.ok_or(StoreError::NotFound { what: "inserted result", id: 0 })?.int(0)?;
    if inserted && r.kind.is_desk_check() {
        // Other desks sharing the store list it within a second (their
        // helpers listen; see `Store::listen_results`). No-op on SQLite.
        db.notify(RESULTS_CHANNEL, &Notice { id: ResultId(id), desk: desk.map(str::to_owned) }.encode())?;
    }
    Ok(ResultId(id))
}

/// The channel desk checks are announced on (PostgreSQL `NOTIFY`).
pub(super) const RESULTS_CHANNEL: &str = "onshi_results";

/// What one announcement says: which result, stored by which desk (so a
/// helper skips its own, which it announced to its pages itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: ResultId,
    pub desk: Option<String>,
}

impl Notice {
    /// `<id>:<desk>` (the desk may hold any character, so it comes last).
    fn encode(&self) -> String {
        format!("{}:{}", self.id.0, self.desk.as_deref().unwrap_or(""))
    }

    /// A payload another writer made; `None` when it is not ours.
    pub fn decode(payload: &str) -> Option<Notice> {
        let (id, desk) = payload.split_once(':')?;
        Some(Notice { id: ResultId(id.parse().ok()?), desk: (!desk.is_empty()).then(|| desk.to_owned()) })
    }
}
