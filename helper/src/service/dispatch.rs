//! The request dispatcher: one browser frame in, the frames to send out.
//! Parsing and access rules come from `onshi_core::protocol`; the origin is
//! only ever the envelope's (written by the extension from the browser's
//! sender information), never a body field. Every refusal is audited —
//! those of pages that are not paired through the [`Gate`], which counts
//! them and writes a line now and then instead of one per request.
//!
//! Synchronous on purpose: the store is SQLite and each handler is a few
//! short statements; the service calls it from its connection tasks. Slow
//! work (the card, the network) is only *checked and prepared* here and
//! handed out as an [`Out::Work`]; the service runs it without holding the
//! dispatcher's lock and replies later on the same connection.

use std::collections::HashMap;

use onshi_core::protocol::{
    AuditEntry as WireAuditEntry, AuditTailReply, Backend as WireBackend, BatchInfo, BatchResultsReply, BatchState,
    BatchStatusReply, ErrorCode as Code, ErrorDetail, FromHelper, HelloReply, PresentedDocument, ProtocolError, Request, Treatment,
    Response, StatusReply, ToHelper, TodayReply, Via, require_extension, PROTOCOL_VERSION,
};
use onshi_core::text::{Bilingual, Explain};

use crate::browser::Browser;
use crate::config::{Backend, Config};
use crate::store::{
    Actor, AuditDetail, ErrorCode, ExtensionId, JobId, JobState, Origin, Outcome, RequestType, Store,
    StoreError,
};
use super::connections::Connections;
use super::eligibility;
use super::today;
use super::gate::{Gate, Limits};
use super::pairing::Pending;
pub use super::pairing::{random_code, CODE_ALPHABET, CODE_LEN, PAIRING_TTL_S};
use crate::time::Timestamp;

/// The most audit entries one `audit_tail` returns.
pub const AUDIT_TAIL_CAP: u32 = 1000;

/// Who started the native host that relayed a frame (from the browser's argv).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub extension_id: ExtensionId,
    pub browser: Browser,
}

/// Where an outgoing frame goes.
#[derive(Debug)]
pub enum Out {
    /// Back to the connection that asked.
    Reply(FromHelper),
    /// To every connection of this extension id (the extension filters by origin).
    Event { to: ExtensionId, frame: FromHelper },
    /// Slow work, already authorized and validated; its reply comes later.
    Work(Work),
}

/// A request that passed every check and now needs the card or the network.
#[derive(Debug)]
pub struct Work {
    /// The frame id to reply to.
    pub id: String,
    /// The browser-given origin of the page (or the extension) that asked.
    pub origin: Origin,
    pub caller: Caller,
    pub job: Job,
}

/// What the slow work is.
#[derive(Debug)]
#[non_exhaustive]
pub enum Job {
    /// `insurance_confirm`: send this `OQSsiquc01req`.
    Insurance { request_xml: Vec<u8>, document: Option<PresentedDocument>, treatment: Treatment },
    /// `card_confirm`.
    Card {
        mode: onshi_core::protocol::ConfirmMode,
        consents: onshi_core::protocol::Consents,
        reader: Option<String>,
        treatment: Treatment,
    },
    /// `pin_entry` (already checked to come from the extension's own window).
    /// The PIN moves into the waiting card confirm and is wiped when dropped.
    PinEntry { confirm_id: String, pin: onshi_core::protocol::Pin, confirm_last_try: bool },
    /// `pin_cancel`.
    PinCancel { confirm_id: String },
    /// `batch_submit`: send this `OQSmuquc01req` with `count` people.
    BatchSubmit { request_xml: Vec<u8>, count: u32 },
    /// `batch_results` of a job whose result is not stored yet: poll once now.
    BatchPoll { job: JobId },
    /// `medication_fetch` / `checkup_fetch`: one document, one answer.
    Document { query: crate::backend::Query, request_xml: Vec<u8>, treatment: Treatment },
    /// `card_register` (always PIN mode).
    CardRegister { consents: onshi_core::protocol::Consents, reader: Option<String> },
    /// `reference_register`, checked entry by entry.
    References { request: eligibility::References },
    /// `disaster_status`: ask the system (issue 16).
    DisasterStatus,
    /// `disaster_search`, its key checked by core's rules.
    DisasterSearch { key: onshi_core::disaster::PersonKey, reason: onshi_core::disaster::Reason, treatment: onshi_core::protocol::Treatment },
}


/// The clock and the random source, injected so tests are repeatable.
pub trait Env {
    /// Seconds since the Unix epoch.
    fn now_secs(&self) -> i64;
    /// Milliseconds since the Unix epoch (the rate limits' clock).
    fn now_millis(&self) -> i64 {
        self.now_secs() * 1000
    }
    /// `CODE_LEN` characters from [`CODE_ALPHABET`].
    fn code(&self) -> Result<String, ProtocolError>;
}

/// The real clock and the OS random source.
pub struct SystemEnv;

impl Env for SystemEnv {
    fn now_secs(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }

    fn now_millis(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    }

    fn code(&self) -> Result<String, ProtocolError> {
        random_code(|buf| getrandom::getrandom(buf).map_err(|_| ProtocolError::new(Code::Internal)))
    }
}


/// A request answered at once, or handed to the service as slow work.
enum Routed {
    Now(Response),
    Later(Job),
}

/// `b-17` → job 17.
pub fn parse_batch_id(text: &str) -> Result<JobId, ProtocolError> {
    text.strip_prefix("b-")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n > 0)
        .map(JobId)
        .ok_or_else(|| ProtocolError::invalid_argument("batch_id", "not a batch id from batch_submit"))
}

/// Job 17 → `b-17`.
pub fn batch_id(job: JobId) -> String {
    format!("b-{}", job.0)
}

fn not_configured() -> ProtocolError {
    let mut e = ProtocolError::new(Code::Internal);
    e.message = Bilingual::new(
        "ヘルパーの設定ファイル（医療機関コード・接続方式）がありません。IT担当者に「onshi-helper config check」を実行してもらってください。",
        "The helper has no configuration (institution code, backend). Ask IT to run \"onshi-helper config check\".",
    );
    e
}

/// The dispatcher's state: the store, the configuration, the gate for
/// unpaired pages, pending pairings.
pub struct Dispatcher<E: Env> {
    pub(super) store: Store,
    config: Option<Config>,
    offset_minutes: i32,
    pub(super) env: E,
    gate: Gate,
    pub(super) pending: HashMap<String, Pending>,
    /// The last `p-<n>` pairing id handed out.
    pub(super) next_pairing: u64,
    readers: Vec<onshi_core::protocol::ReaderInfo>,
    /// The open connections, to announce stored results on (the runtime
    /// shares its own; a dispatcher alone has none).
    pub(super) conns: Connections,
}

pub(crate) fn internal(e: StoreError) -> ProtocolError {
    eprintln!("onshi-helper service: store: {e}");
    let mut p = ProtocolError::new(Code::Internal);
    // A shared database that is down is no fault of the page: say what to
    // do (try again once it is back; desk checks go on meanwhile).
    if e.is_unreachable() {
        p.message = e.explain();
        p.retryable = true;
    }
    p
}

fn later(request_type: &str) -> ProtocolError {
    let mut e = ProtocolError::new(Code::UnsupportedRequest)
        .with_detail(ErrorDetail { request_type: Some(request_type.to_owned()), ..ErrorDetail::default() });
    e.message = Bilingual::new(
        format!("この操作（{request_type}）は、このバージョンのヘルパーではまだ使えません。今後の更新で対応します。それまでは従来の方法で確認してください。"),
        format!("This operation ({request_type}) is not available in this helper version yet; it arrives in a later update. Until then, confirm the usual way."),
    );
    e
}

impl<E: Env> Dispatcher<E> {
    pub fn new(store: Store, config: Option<Config>, env: E) -> Self {
        Self::with_limits(store, config, env, Limits::default())
    }

    pub fn with_limits(store: Store, config: Option<Config>, env: E, limits: Limits) -> Self {
        let offset_minutes = config.as_ref().and_then(Config::offset_minutes).unwrap_or(9 * 60);
        let gate = Gate::new(config.as_ref().and_then(Config::allowlist), limits);
        Dispatcher { store, config, offset_minutes, env, gate, pending: HashMap::new(), next_pairing: 0, readers: Vec::new(), conns: Connections::default() }
    }

    /// What the gate has refused since the service started.
    pub fn gate_counts(&self) -> super::gate::Counts {
        self.gate.counts()
    }

    /// The store (tests and the service's own bookkeeping).
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The readers the card watcher reports (for `status`).
    pub fn set_readers(&mut self, readers: Vec<onshi_core::protocol::ReaderInfo>) {
        self.readers = readers;
    }

    /// The configuration the service started with.
    pub fn config(&self) -> Option<&Config> {
        self.config.as_ref()
    }

    /// Now, in the clinic's offset.
    pub fn now(&self) -> Result<Timestamp, ProtocolError> {
        Timestamp::from_unix(self.env.now_secs(), self.offset_minutes).map_err(|_| ProtocolError::new(Code::Internal))
    }

    /// The clinic's UTC offset in minutes (config, default Japan's +540).
    pub fn offset_minutes(&self) -> i32 {
        self.offset_minutes
    }

    /// Today's calendar day in the clinic's offset, by the [`Env`] clock
    /// (the day card certificates are judged on).
    pub fn calendar_day(&self) -> onshi_core::wareki::Date {
        let local = self.env.now_secs().saturating_add(i64::from(self.offset_minutes) * 60);
        onshi_core::wareki::Date::from_days(local.div_euclid(86_400))
    }

    /// Appends to the audit log; a failure is logged, never turned into a different reply.
    pub fn audit(&mut self, actor: &Actor, outcome: Outcome, detail: &AuditDetail) {
        // A failed audit write must not turn into a different reply; it is
        // reported on stderr, where the service log keeps it.
        let result = self.now().ok().map(|now| self.store.append_audit(&now, actor, outcome, detail));
        if let Some(Err(e)) = result {
            eprintln!("onshi-helper service: audit write failed: {e}");
        }
    }

    /// Handles one browser frame's JSON text.
    pub fn handle(&mut self, caller: &Caller, text: &str) -> Vec<Out> {
        let frame = match ToHelper::parse(text) {
            Ok(f) => f,
            Err(e) => {
                let id = e.id().unwrap_or("").to_owned();
                return vec![Out::Reply(FromHelper::err(id, e.to_protocol_error()))];
            }
        };
        // Pages outside the allowlist are refused before the store is asked
        // anything; paired pages pass the gate without a limit.
        if frame.via == Via::Page && !self.gate.admits(&frame.origin) {
            let e = super::gate::Refusal::NotListed.to_error();
            self.audit_refusal(&frame, &e, false);
            return vec![Out::Reply(FromHelper::err(frame.id, e))];
        }
        let paired = match self.paired(caller, &frame.origin) {
            Ok(p) => p,
            Err(e) => return vec![Out::Reply(FromHelper::err(frame.id, e))],
        };
        if frame.via == Via::Page && !paired {
            let pair_begin = matches!(frame.body, Request::PairBegin);
            let pending = self.live_pending();
            if let Err(refusal) = self.gate.check_unpaired(&frame.origin, pair_begin, pending, self.env.now_millis()) {
                let e = refusal.to_error();
                self.audit_refusal(&frame, &e, false);
                return vec![Out::Reply(FromHelper::err(frame.id, e))];
            }
        }
        if matches!(frame.body, Request::PinEntry(_)) {
            return self.pin_entry(caller, frame, paired);
        }
        let mut out = Vec::new();
        let id = frame.id.clone();
        let result = self.route(caller, &frame, paired, &mut out);
        if let Err(err) = &result {
            self.audit_refusal(&frame, err, paired);
        }
        match result {
            Ok(Routed::Now(r)) => out.insert(0, Out::Reply(FromHelper::Reply { id, result: Ok(r) })),
            Err(e) => out.insert(0, Out::Reply(FromHelper::Reply { id, result: Err(e) })),
            Ok(Routed::Later(job)) => match Origin::new(&frame.origin) {
                Ok(origin) => out.insert(0, Out::Work(Work { id, origin, caller: caller.clone(), job })),
                Err(_) => out.insert(
                    0,
                    Out::Reply(FromHelper::err(id, ProtocolError::invalid_argument("origin", "the sender's origin is not usable"))),
                ),
            },
        }
        out
    }

    /// Audits a refusal by the access rules or the gate. A page that is not
    /// paired gets a line only when the gate says one is due (with the count
    /// since the last); a paired page, or the extension, one per refusal.
    fn audit_refusal(&mut self, frame: &ToHelper, err: &ProtocolError, paired: bool) {
        let refused = matches!(
            err.code,
            Code::NotPaired | Code::ExtensionOnly | Code::UnsupportedRequest | Code::BadRequest | Code::OriginNotAllowed | Code::RateLimited
        );
        if !refused {
            return;
        }
        let count = if frame.via == Via::Page && !paired {
            match self.gate.refused(&frame.origin, err.code, self.env.now_millis()) {
                Some(due) => Some(due.count),
                None => return,
            }
        } else {
            None
        };
        let (Ok(request), Ok(code)) = (RequestType::new(frame.body.type_name()), ErrorCode::new(err.code.as_str())) else {
            return;
        };
        let actor = Origin::new(&frame.origin).map(Actor::Origin).unwrap_or(Actor::Cli);
        self.audit(&actor, Outcome::Refused, &AuditDetail::Access { request, code, count });
    }

    fn paired(&self, caller: &Caller, origin: &str) -> Result<bool, ProtocolError> {
        let Ok(origin) = Origin::new(origin) else { return Ok(false) };
        Ok(self.store.live_pairing(&origin, &caller.extension_id).map_err(internal)?.is_some())
    }

    fn route(&mut self, caller: &Caller, frame: &ToHelper, paired: bool, out: &mut Vec<Out>) -> Result<Routed, ProtocolError> {
        frame.authorize(paired)?;
        let later = |job| Ok(Routed::Later(job));
        let now = match &frame.body {
            Request::InsuranceConfirm(b) => {
                let (institution, today) = self.institution_and_today()?;
                let request_xml = eligibility::individual_request(&institution, &today, b)?;
                return later(Job::Insurance { request_xml, document: b.document, treatment: b.treatment });
            }
            Request::CardConfirm(c) => {
                if !c.treatment.card_possible() {
                    // The patient of an online consultation is not at this reader.
                    let mut e = ProtocolError::invalid_argument("treatment", "no card check in an online consultation");
                    e.message = Bilingual::new(
                        "オンライン診療では患者さんのカードをこの読み取り機で読めません。患者さんから保険者番号・記号・番号を聞き、番号で確認してください。",
                        "In an online consultation the patient's card is not at this reader; ask the patient for the insurance numbers and check by numbers.",
                    );
                    return Err(e);
                }
                return later(Job::Card { mode: c.mode, consents: c.consents, reader: c.reader.clone(), treatment: c.treatment });
            }
            Request::CardRegister(c) => return later(Job::CardRegister { consents: c.consents, reader: c.reader.clone() }),
            // Handled before routing, because the PIN is moved out of the frame.
            Request::PinEntry(_) => return Err(ProtocolError::new(Code::Internal)),
            Request::PinCancel(p) => return later(Job::PinCancel { confirm_id: p.confirm_id.clone() }),
            Request::BatchSubmit(b) => {
                let (institution, _) = self.institution_and_today()?;
                let request_xml = eligibility::batch_upload(&institution, &b.confirmation_date, &b.entries)?;
                let count = u32::try_from(b.entries.len()).unwrap_or(u32::MAX);
                return later(Job::BatchSubmit { request_xml, count });
            }
            Request::BatchStatus(b) => return self.batch_status(b.batch_id.as_deref()).map(Routed::Now),
            Request::MedicationFetch(m) => {
                let (institution, _) = self.institution_and_today()?;
                let info = eligibility::Info::Medication { diagnosis: m.include_diagnosis };
                let months = Some((m.start_month.as_str(), m.end_month.as_str()));
                let request_xml = eligibility::info_request(&institution, info, &m.insured, months, m.treatment)?;
                return later(Job::Document { query: crate::backend::Query::Medication, request_xml, treatment: m.treatment });
            }
            Request::CheckupFetch(c) => {
                let (institution, _) = self.institution_and_today()?;
                let request_xml = eligibility::info_request(&institution, eligibility::Info::Checkup, &c.insured, None, c.treatment)?;
                return later(Job::Document { query: crate::backend::Query::Checkup, request_xml, treatment: c.treatment });
            }
            Request::ReferenceRegister(r) => {
                let (institution, today) = self.institution_and_today()?;
                return later(Job::References { request: eligibility::references(&institution, &today, &r.entries)? });
            }
            Request::DisasterStatus => return later(Job::DisasterStatus),
            Request::DisasterSearch(d) => {
                let (_, today) = self.institution_and_today()?;
                let key = d.person.checked(&today).map_err(|e| {
                    let mut p = ProtocolError::invalid_argument(e.field(), e.code());
                    p.message = onshi_core::text::Explain::explain(&e);
                    p
                })?;
                return later(Job::DisasterSearch { key, reason: d.reason, treatment: d.treatment });
            }
            Request::BatchResults(b) => {
                let job = parse_batch_id(&b.batch_id)?;
                return match self.batch_results(job)? {
                    Some(r) => Ok(Routed::Now(r)),
                    None => later(Job::BatchPoll { job }),
                };
            }
            _ => self.route_now(caller, frame, paired, out)?,
        };
        Ok(Routed::Now(now))
    }

    fn route_now(&mut self, caller: &Caller, frame: &ToHelper, paired: bool, out: &mut Vec<Out>) -> Result<Response, ProtocolError> {
        match &frame.body {
            Request::Hello(_) => Ok(Response::Hello(HelloReply {
                protocol_version: PROTOCOL_VERSION,
                helper_version: crate::VERSION.to_owned(),
                core_version: crate::CORE_VERSION.to_owned(),
                paired: paired || frame.via == Via::Extension,
            })),
            Request::Status => Ok(Response::Status(self.status(paired || frame.via == Via::Extension))),
            Request::PairBegin => self.pair_begin(caller, frame),
            Request::PairApprove(a) => {
                let proof = require_extension(frame)?;
                self.pair_approve(proof, caller, &a.pairing_id, a.approve, out)
            }
            Request::PairingsList => {
                let _proof = require_extension(frame)?;
                self.pairings_list(caller)
            }
            Request::PairRevoke(r) => {
                let proof = require_extension(frame)?;
                self.pair_revoke(proof, caller, &r.origin, out)
            }
            Request::Today => self.today(),
            Request::AuditTail(t) => self.audit_tail(t.limit),
            Request::Usage(q) => super::usage::usage(&self.store, q),
            other => Err(later(other.type_name())),
        }
    }

    /// `pin_entry`: the same checks as every request, then the PIN moves (not
    /// copies) out of the frame into the work item.
    fn pin_entry(&mut self, caller: &Caller, frame: ToHelper, paired: bool) -> Vec<Out> {
        let checked = frame
            .authorize(paired)
            .map(|_| ())
            .and_then(|()| require_extension(&frame).map(|_| ()))
            .and_then(|()| Origin::new(&frame.origin).map_err(|_| ProtocolError::invalid_argument("origin", "not an origin")));
        let origin = match checked {
            Ok(o) => o,
            Err(e) => {
                self.audit_refusal(&frame, &e, paired);
                return vec![Out::Reply(FromHelper::err(frame.id, e))];
            }
        };
        let ToHelper { id, body, .. } = frame;
        let Request::PinEntry(p) = body else { return vec![Out::Reply(FromHelper::err(id, ProtocolError::new(Code::Internal)))] };
        let job = Job::PinEntry { confirm_id: p.confirm_id, pin: p.pin, confirm_last_try: p.confirm_last_try };
        vec![Out::Work(Work { id, origin, caller: caller.clone(), job })]
    }

    /// The configured institution code and today's date (`YYYYMMDD`, clinic time).
    pub fn institution_and_today(&self) -> Result<(String, String), ProtocolError> {
        let config = self.config.as_ref().ok_or_else(not_configured)?;
        let day = self.now()?.day();
        Ok((config.institution_code.clone(), day.as_str().replace('-', "")))
    }

    fn batch_info(&self, job: &crate::store::BatchJob) -> BatchInfo {
        BatchInfo {
            batch_id: batch_id(job.id),
            state: match job.state {
                JobState::Submitted => BatchState::Queued,
                JobState::Polling => BatchState::Processing,
                JobState::Done => BatchState::Done,
                JobState::Failed => BatchState::Failed,
            },
            submitted_at: job.submitted_at.clone(),
            reception_number: job.reception_number.as_ref().map(|r| r.as_str().to_owned()),
            total: job.counts.map(|c| c.total).unwrap_or(0),
            error: job.error.as_ref().map(|c| {
                let mut e = ProtocolError::new(Code::GatewayError);
                e.detail.code = Some(c.as_str().to_owned());
                e
            }),
        }
    }

    fn batch_status(&self, id: Option<&str>) -> Result<Response, ProtocolError> {
        let jobs = match id {
            Some(text) => vec![self.store.job(parse_batch_id(text)?).map_err(|e| match e {
                StoreError::NotFound { .. } => ProtocolError::invalid_argument("batch_id", "no such batch"),
                other => internal(other),
            })?],
            None => {
                let mut v = self.store.jobs().map_err(internal)?;
                v.reverse();
                v
            }
        };
        Ok(Response::BatchStatus(BatchStatusReply { batches: jobs.iter().map(|j| self.batch_info(j)).collect() }))
    }

    /// The stored result of a finished batch; `None` when it must be polled first.
    pub fn batch_results(&self, job: JobId) -> Result<Option<Response>, ProtocolError> {
        let j = self.store.job(job).map_err(|e| match e {
            StoreError::NotFound { .. } => ProtocolError::invalid_argument("batch_id", "no such batch"),
            other => internal(other),
        })?;
        match j.state {
            JobState::Done => {
                let Some(stored) = self.store.result_for_job(job).map_err(internal)? else {
                    return Err(ProtocolError::new(Code::Internal));
                };
                let c = j.counts.unwrap_or_default();
                let (xml, received) = eligibility::stored_for_page(&stored.xml);
                Ok(Some(Response::BatchResults(BatchResultsReply {
                    batch_id: batch_id(job),
                    xml,
                    received: Some(received),
                    total: c.total,
                    normal: c.succeeded,
                    errors: c.failed,
                })))
            }
            JobState::Failed => Err(self.batch_info(&j).error.unwrap_or_else(|| ProtocolError::new(Code::GatewayError))),
            JobState::Submitted | JobState::Polling => Ok(None),
        }
    }

    fn status(&self, paired: bool) -> StatusReply {
        let (backend, institution_code) = match &self.config {
            Some(c) => (
                match c.backend {
                    Backend::Gateway { .. } => WireBackend::Gateway,
                    Backend::OqsFolder { .. } => WireBackend::OqsFolder,
                },
                Some(c.institution_code.clone()),
            ),
            None => (WireBackend::Gateway, None),
        };
        // The shared store's state is the desk's own memory and a count in
        // the PC's file: asking it never waits for a server that is down.
        let store = match self.store.shared_state() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("onshi-helper service: store: {e}");
                None
            }
        };
        let down = store.is_some_and(|s| !s.reachable);
        StatusReply {
            protocol_version: PROTOCOL_VERSION,
            helper_version: crate::VERSION.to_owned(),
            core_version: crate::CORE_VERSION.to_owned(),
            paired,
            backend,
            institution_code,
            readers: self.readers.clone(),
            // Jobs live on the shared store: while it is down they are not asked for.
            pending_batches: if down { 0 } else { self.store.pending_jobs().map(|j| j.len() as u32).unwrap_or(0) },
            store: store.map(|s| onshi_core::protocol::StoreStatus { shared: true, reachable: s.reachable, queued: s.queued_results }),
        }
    }

    fn today(&self) -> Result<Response, ProtocolError> {
        let day = self.now()?.day();
        let entries = self.store.results_for_day(&day).map_err(internal)?.into_iter().filter_map(today::entry).collect();
        Ok(Response::Today(TodayReply { entries }))
    }

    fn audit_tail(&self, limit: u32) -> Result<Response, ProtocolError> {
        let entries = self
            .store
            .audit_tail(limit.min(AUDIT_TAIL_CAP))
            .map_err(internal)?
            .into_iter()
            .map(|e| WireAuditEntry {
                seq: e.seq.max(0) as u64,
                at: e.at,
                origin: e.actor.strip_prefix("origin:").map(str::to_owned),
                action: e.kind,
                outcome: e.outcome,
            })
            .collect();
        Ok(Response::AuditTail(AuditTailReply { entries }))
    }
}

#[cfg(test)]
#[path = "dispatch_tests.rs"]
mod tests;
