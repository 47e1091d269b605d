//! The append-only, hash-chained audit log. Entries are built only from the
//! typed [`AuditDetail`], whose fields are enums, counts, origins and
//! snake_case codes, so there is no place where a PIN or other free text
//! could be written. It must never grow a free-text field.
//!
//! Chain: `hash = SHA-256(canonical(prev_hash, seq, at, actor, kind,
//! outcome, detail))`, the first entry has seq 1 and a prev_hash of 64
//! zeros. `verify` finds edits, insertions and gaps; like any chain without
//! an external anchor, it cannot tell that the newest entries were cut off.
//!
//! Many writers (issue 17): entries belong to a chain named by their `desk`
//! column, each chain with its own seq and prev_hash, so desks sharing one
//! PostgreSQL store never wait for each other's chain. SQLite files have one
//! chain, keyed `''` (hashed exactly as before desks existed); a named
//! desk's entries also hash the desk's name, so an entry moved to another
//! desk's chain breaks it. `verify` walks every chain and names the first
//! break of each.

use onshi_core::protocol::Treatment;
use serde::Serialize;
use sha2::{Digest, Sha256};

use onshi_core::disaster::{History as DisasterHistory, Reason, SearchBy};

use super::engine::{vals, Row};
use super::values::{Actor, ErrorCode, Origin, ReceptionNumber, RequestType};
use super::{Store, StoreError};
use crate::time::Timestamp;

/// The prev_hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Which kind of event an entry records (derived from the detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    EligibilityQuery,
    CardConfirm,
    /// Registering a My Number card for insurance use (利用登録).
    CardRegister,
    Pairing,
    Batch,
    Reference,
    Config,
    /// A page request refused before any work (not paired, extension only …).
    Access,
    /// The service itself: told to stop by `onshi-helper service --stop`.
    Service,
    /// A card-less view of a patient's history in disaster mode (issue 16).
    DisasterView,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::EligibilityQuery => "eligibility_query",
            AuditKind::CardConfirm => "card_confirm",
            AuditKind::CardRegister => "card_register",
            AuditKind::Pairing => "pairing",
            AuditKind::Batch => "batch",
            AuditKind::Reference => "reference",
            AuditKind::Config => "config",
            AuditKind::Access => "access",
            AuditKind::Service => "service",
            AuditKind::DisasterView => "disaster_view",
        }
    }
}

/// How the recorded action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// Refused by policy (unpaired origin, one PIN try left without confirmation …).
    Refused,
    Failed,
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    InsuranceCard,
    Medication,
    HealthCheckup,
    Batch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmMode {
    Pin,
    Visual,
}

/// The consent choices the patient made on the card-confirm screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Consents {
    pub medication: bool,
    pub health_checkup: bool,
    pub surgery: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PairingAction {
    Begin,
    Approve,
    Reject,
    Revoke,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchAction {
    Submit,
    Poll,
    Fetch,
    /// This desk (the entry's actor) took over a job whose lease another
    /// desk let run out (issue 17: that PC stopped mid-job).
    Takeover,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceAction {
    Register,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigAction {
    Check,
    Install,
    Uninstall,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceAction {
    /// Stopped on request of the same OS user (an uninstall or upgrade).
    Stop,
}

/// What an audit entry says. Every field is typed; there is deliberately no
/// `String` anywhere in here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditDetail {
    /// `treatment`: where the patient was treated (issue 16); absent in
    /// entries written before, and for queries that are not a patient's.
    EligibilityQuery {
        query: QueryKind,
        error: Option<ErrorCode>,
        #[serde(skip_serializing_if = "Option::is_none")]
        treatment: Option<Treatment>,
    },
    CardConfirm {
        mode: ConfirmMode,
        consents: Consents,
        tries_left: Option<u8>,
        error: Option<ErrorCode>,
        #[serde(skip_serializing_if = "Option::is_none")]
        treatment: Option<Treatment>,
    },
    /// `card_register` (always PIN). `already_registered`: the system had it already.
    CardRegister { consents: Consents, tries_left: Option<u8>, already_registered: bool, error: Option<ErrorCode> },
    Pairing { action: PairingAction, origin: Origin },
    Batch { action: BatchAction, job: Option<i64>, reception: Option<ReceptionNumber>, count: Option<u32>, error: Option<ErrorCode> },
    /// `count`: entries sent; `rejected`: entries refused before sending
    /// (both absent in entries written before bulk registration).
    Reference {
        action: ReferenceAction,
        #[serde(skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        rejected: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<ErrorCode>,
    },
    Config { action: ConfigAction, problems: u32 },
    /// A request refused by the access rules: which type, and the error code
    /// sent. `count`: for pages that are not paired, how many such refusals
    /// from this origin this one line stands for (the gate writes one line
    /// now and then, not one per request); absent when the line is one refusal.
    Access {
        request: RequestType,
        code: ErrorCode,
        #[serde(skip_serializing_if = "Option::is_none")]
        count: Option<u32>,
    },
    Service { action: ServiceAction },
    /// A card-less history view in disaster mode: which history, the kind of
    /// search, the reason chosen and the treatment setting — all fixed codes from core `disaster`,
    /// never the name, birth date or numbers typed — and what was found.
    DisasterView {
        history: DisasterHistory,
        by: SearchBy,
        reason: Reason,
        treatment: Treatment,
        #[serde(skip_serializing_if = "Option::is_none")]
        found: Option<DisasterFound>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<ErrorCode>,
    },
}

/// What a disaster-mode search found (the audit's words for core's outcome).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DisasterFound {
    Person,
    NoMatch,
    SeveralMatches,
}

impl AuditDetail {
    pub fn kind(&self) -> AuditKind {
        match self {
            AuditDetail::EligibilityQuery { .. } => AuditKind::EligibilityQuery,
            AuditDetail::CardConfirm { .. } => AuditKind::CardConfirm,
            AuditDetail::CardRegister { .. } => AuditKind::CardRegister,
            AuditDetail::Pairing { .. } => AuditKind::Pairing,
            AuditDetail::Batch { .. } => AuditKind::Batch,
            AuditDetail::Reference { .. } => AuditKind::Reference,
            AuditDetail::Config { .. } => AuditKind::Config,
            AuditDetail::Access { .. } => AuditKind::Access,
            AuditDetail::Service { .. } => AuditKind::Service,
            AuditDetail::DisasterView { .. } => AuditKind::DisasterView,
        }
    }

    /// The stored JSON. serde_json writes struct fields in declaration order,
    /// so the same detail always gives the same bytes.
    fn to_json(&self) -> String {
        // Serialising these plain types cannot fail (no maps with non-string
        // keys, no failing Serialize impls); fall back to a marker regardless.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }
}

/// One stored entry, as read back. `detail` is the JSON text as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The chain: the desk's name on a shared store, `""` in an SQLite file.
    pub desk: String,
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub outcome: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The first place the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainBreak {
    /// The first entry is not seq 1 with the all-zero prev_hash: entries
    /// were removed from the start, or a forged first entry was inserted.
    #[error("the first entry (seq {seq}) is not a valid start of the chain")]
    BadGenesis { seq: i64 },
    /// Entries are missing between `expected` and `found`.
    #[error("seq {expected} expected, found {found}: entries are missing")]
    Gap { expected: i64, found: i64 },
    /// The entry does not point at its predecessor's hash.
    #[error("entry {seq} does not link to the previous entry")]
    PrevHashMismatch { seq: i64 },
    /// The entry's contents were changed after it was written.
    #[error("entry {seq} was modified (hash mismatch)")]
    HashMismatch { seq: i64 },
}

impl onshi_core::text::Explain for ChainBreak {
    fn explain(&self) -> onshi_core::text::Bilingual {
        use onshi_core::text::Bilingual;
        let advice_ja = "データベースが外部から変更されています。ファイルを保全し、システム管理者に連絡してください。";
        let advice_en = "The database was changed outside the helper; preserve the file and contact your administrator.";
        match self {
            ChainBreak::BadGenesis { seq } => Bilingual::new(
                format!("監査ログの先頭（#{seq}）が正しくありません。{advice_ja}"),
                format!("The audit log does not start correctly (entry #{seq}). {advice_en}"),
            ),
            ChainBreak::Gap { expected, found } => Bilingual::new(
                format!("監査ログの #{expected} から #{found} の手前までが欠けています。{advice_ja}"),
                format!("Audit entries from #{expected} up to #{found} are missing. {advice_en}"),
            ),
            ChainBreak::PrevHashMismatch { seq } => Bilingual::new(
                format!("監査ログ #{seq} が直前の記録とつながっていません。{advice_ja}"),
                format!("Audit entry #{seq} does not link to the one before. {advice_en}"),
            ),
            ChainBreak::HashMismatch { seq } => Bilingual::new(
                format!("監査ログ #{seq} の内容が書き換えられています。{advice_ja}"),
                format!("Audit entry #{seq} was modified. {advice_en}"),
            ),
        }
    }
}

/// The result of walking one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The chain's desk (`""`: an SQLite file's own chain).
    pub desk: String,
    pub entries: u64,
    /// Hash of the last entry before any break.
    pub head: String,
    pub first_break: Option<ChainBreak>,
}

/// The result of walking every chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries read, all chains together.
    pub entries: u64,
    /// Hash of the last entry of this store's own chain (GENESIS when
    /// empty); write it down elsewhere to detect a cut-off tail later.
    pub head: String,
    /// The first break of the first broken chain (by desk name).
    pub first_break: Option<ChainBreak>,
    /// Every chain, by desk name.
    pub chains: Vec<ChainReport>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }

    /// The chains with a break, each with its first one.
    pub fn breaks(&self) -> impl Iterator<Item = (&str, &ChainBreak)> {
        self.chains.iter().filter_map(|c| c.first_break.as_ref().map(|b| (c.desk.as_str(), b)))
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The hashed bytes: a domain tag, then each field length-prefixed so no
/// two different entries can encode alike. A named desk's chain has its
/// own tag and hashes the desk's name first; the unnamed chain (`""`, SQLite)
/// hashes exactly as before desks existed, so old files still verify.
#[allow(clippy::too_many_arguments)]
fn chain_hash(desk: &str, prev_hash: &str, seq: i64, at: &str, actor: &str, kind: &str, outcome: &str, detail: &str) -> String {
    if desk.is_empty() {
        return entry_hash(prev_hash, seq, at, actor, kind, outcome, detail);
    }
    let mut h = Sha256::new();
    h.update(b"onshi-audit-v2\0");
    let seq_text = seq.to_string();
    for field in [desk, prev_hash, &seq_text, at, actor, kind, outcome, detail] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex(&h.finalize())
}

fn entry_hash(prev_hash: &str, seq: i64, at: &str, actor: &str, kind: &str, outcome: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"onshi-audit-v1\0");
    let seq_text = seq.to_string();
    for field in [prev_hash, &seq_text, at, actor, kind, outcome, detail] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex(&h.finalize())
}

const COLUMNS: &str = "desk, seq, at, actor, kind, outcome, detail, prev_hash, hash";

impl Store {
    /// Appends one entry to this store's chain and returns its seq. The
    /// read of the chain's head and the insert share a transaction that
    /// serialises the chain's writers (see `engine::Db::transaction`), so
    /// two writers cannot both extend the same predecessor. On a shared
    /// store that cannot be reached the line is queued in the PC's file and
    /// chained when it is sent (`outbox.rs`); the seq is then 0.
    pub fn append_audit(
        &mut self,
        at: &Timestamp,
        actor: &Actor,
        outcome: Outcome,
        detail: &AuditDetail,
    ) -> Result<i64, StoreError> {
        let line = Line {
            at: at.as_str().to_owned(),
            actor: actor.encode(),
            kind: detail.kind().as_str().to_owned(),
            outcome: outcome.as_str().to_owned(),
            detail: detail.to_json(),
        };
        if self.shared.is_some() {
            return self.append_or_queue(&line);
        }
        append(self.db(), "", &line, None)
    }

    /// The newest `n` entries of all chains, oldest first.
    pub fn audit_tail(&self, n: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let db = self.db();
        let order = db.audit_order();
        let sql = format!(
            "SELECT {COLUMNS} FROM (SELECT {order} AS o, {COLUMNS} FROM audit ORDER BY {order} DESC LIMIT ?1) AS t ORDER BY o"
        );
        db.query("read audit", &sql, vals![n])?.iter().map(row_to_entry).collect()
    }

    /// Walks every chain in seq order and reports the first break of each.
    /// Reads the log a page at a time (keyset on `(desk, seq)`), so a log of
    /// years holds one page in memory, on either engine.
    pub fn verify_audit(&self) -> Result<VerifyReport, StoreError> {
        // Tests page by 3, so their short logs cross page boundaries.
        const PAGE: u32 = if cfg!(test) { 3 } else { 5000 };
        let sql = format!("SELECT {COLUMNS} FROM audit WHERE (desk, seq) > (?1, ?2) ORDER BY desk, seq LIMIT ?3");
        let mut chains: Vec<ChainReport> = Vec::new();
        let mut expected_seq = 1i64;
        let mut after = (String::new(), i64::MIN);
        loop {
            let rows = self.db().query("read audit", &sql, vals![after.0.as_str(), after.1, PAGE])?;
            for row in &rows {
                let e = row_to_entry(row)?;
                after = (e.desk.clone(), e.seq);
                if chains.last().is_none_or(|c| c.desk != e.desk) {
                    chains.push(ChainReport { desk: e.desk.clone(), entries: 0, head: GENESIS.to_owned(), first_break: None });
                    expected_seq = 1;
                }
                let Some(chain) = chains.last_mut() else { continue };
                if chain.first_break.is_some() {
                    continue;
                }
                chain.entries += 1;
                let brk = if chain.entries == 1 && (e.seq != 1 || e.prev_hash != GENESIS) {
                    Some(ChainBreak::BadGenesis { seq: e.seq })
                } else if e.seq != expected_seq {
                    Some(ChainBreak::Gap { expected: expected_seq, found: e.seq })
                } else if e.prev_hash != chain.head {
                    Some(ChainBreak::PrevHashMismatch { seq: e.seq })
                } else if chain_hash(&e.desk, &e.prev_hash, e.seq, &e.at, &e.actor, &e.kind, &e.outcome, &e.detail) != e.hash {
                    Some(ChainBreak::HashMismatch { seq: e.seq })
                } else {
                    None
                };
                if brk.is_some() {
                    chain.first_break = brk;
                    continue;
                }
                expected_seq = e.seq + 1;
                chain.head = e.hash;
            }
            if rows.len() < PAGE as usize {
                break;
            }
        }
        let own = self.chain();
        Ok(VerifyReport {
            entries: chains.iter().map(|c| c.entries).sum(),
            head: chains.iter().find(|c| c.desk == own).map_or_else(|| GENESIS.to_owned(), |c| c.head.clone()),
            first_break: chains.iter().find_map(|c| c.first_break.clone()),
            chains,
        })
    }
}

/// One audit line before it is chained: the stored text of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Line {
    pub at: String,
    pub actor: String,
    pub kind: String,
    pub outcome: String,
    pub detail: String,
}

/// Chains `line` onto `desk`'s chain in one transaction; the seq it got. A
/// `uid` already in the log (a queued line whose earlier send did reach the
/// server) is not appended again: its seq is returned.
pub(super) fn append(db: super::engine::Db<'_>, desk: &str, line: &Line, uid: Option<&str>) -> Result<i64, StoreError> {
    db.transaction("append audit entry", Some(desk), |db| {
        let logged = match uid {
            Some(uid) => db.query_opt("read audit entry", "SELECT seq FROM audit WHERE uid = ?1", vals![uid])?,
            None => None,
        };
        if let Some(r) = logged {
            return r.int(0);
        }
        let head = db.query_opt(
            "read audit head",
            "SELECT seq, hash FROM audit WHERE desk = ?1 ORDER BY seq DESC LIMIT 1",
            vals![desk],
        )?;
        let (seq, prev) = match head {
            Some(r) => (r.int(0)? + 1, r.text(1)?),
            None => (1, GENESIS.to_owned()),
        };
        let Line { at, actor, kind, outcome, detail } = line;
        let hash = chain_hash(desk, &prev, seq, at, actor, kind, outcome, detail);
        db.execute(
            "append audit entry",
            "INSERT INTO audit (desk, seq, at, actor, kind, outcome, detail, prev_hash, hash, uid)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            vals![desk, seq, at.as_str(), actor.as_str(), kind.as_str(), outcome.as_str(), detail.as_str(), prev, hash, uid],
        )?;
        Ok(seq)
    })
}

fn row_to_entry(r: &Row) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        desk: r.text(0)?,
        seq: r.int(1)?,
        at: r.text(2)?,
        actor: r.text(3)?,
        kind: r.text(4)?,
        outcome: r.text(5)?,
        detail: r.text(6)?,
        prev_hash: r.text(7)?,
        hash: r.text(8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_field_boundaries_matter() {
        // A fixed vector: if this changes, every existing log stops verifying.
        let h = entry_hash(GENESIS, 1, "2026-11-25T09:00:00+09:00", "cli", "config", "ok", "{}");
        assert_eq!(h.len(), 64);
        assert_eq!(h, entry_hash(GENESIS, 1, "2026-11-25T09:00:00+09:00", "cli", "config", "ok", "{}"));
        assert_ne!(h, entry_hash(GENESIS, 1, "2026-11-25T09:00:00+09:00", "cl", "iconfig", "ok", "{}"));
        assert_ne!(h, entry_hash(GENESIS, 2, "2026-11-25T09:00:00+09:00", "cli", "config", "ok", "{}"));
    }

    /// Issue 17: the unnamed chain (every SQLite file, old rows included)
    /// hashes exactly as before desks existed; a desk's name is part of its
    /// entries' hashes, so an entry cannot move between desks unnoticed.
    #[test]
    fn only_named_desks_hash_their_name() {
        let fields = (GENESIS, 1, "2026-11-25T09:00:00+09:00", "cli", "config", "ok", "{}");
        let v1 = entry_hash(fields.0, fields.1, fields.2, fields.3, fields.4, fields.5, fields.6);
        assert_eq!(chain_hash("", fields.0, fields.1, fields.2, fields.3, fields.4, fields.5, fields.6), v1);
        let a = chain_hash("受付1", fields.0, fields.1, fields.2, fields.3, fields.4, fields.5, fields.6);
        let b = chain_hash("受付2", fields.0, fields.1, fields.2, fields.3, fields.4, fields.5, fields.6);
        assert!(a != v1 && a != b);
    }

    #[test]
    fn sha256_hex_matches_known_vector() {
        // FIPS 180-2 test vector for "abc".
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn detail_json_is_typed_and_stable() {
        let d = AuditDetail::CardConfirm {
            mode: ConfirmMode::Pin,
            consents: Consents { medication: true, ..Consents::default() },
            tries_left: Some(3),
            error: None,
            treatment: None,
        };
        // Without a treatment the bytes are those written before issue 16.
        assert_eq!(
            d.to_json(),
            r#"{"kind":"card_confirm","mode":"pin","consents":{"medication":true,"health_checkup":false,"surgery":false},"tries_left":3,"error":null}"#
        );
        assert_eq!(d.kind(), AuditKind::CardConfirm);
        let visit = AuditDetail::EligibilityQuery { query: QueryKind::Medication, error: None, treatment: Some(Treatment::HomeVisit) };
        assert_eq!(visit.to_json(), r#"{"kind":"eligibility_query","query":"medication","error":null,"treatment":"home_visit"}"#);
    }
}
