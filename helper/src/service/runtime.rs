//! The service's moving parts around the synchronous [`Dispatcher`]: the
//! open connections, the backend, the card, the PIN waits and the batch
//! pollers. Routing stays in the dispatcher (under a short-held lock); every
//! slow step here (card I/O, network) runs with no lock held and replies on
//! the connection that asked, later.
//!
//! PIN rule: the PIN only ever arrives in a `pin_entry` from the extension's
//! own window, moves into one card flow and is dropped (wiped) right after.
//! It is never logged, stored, or put in a reply or event.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use onshi_core::gateway_wire::ErrorCode as GatewayCode;
use onshi_core::protocol::frame::encode_from_helper;
use onshi_core::protocol::{
    BatchState, BatchSubmitted, CardRegistered, ConfirmMode, Consents, Eligibility, EntryError, ErrorCode as Code, Event, FromHelper,
    Pin, PinPurpose, ProtocolError, ReaderInfo, Response,
};
use onshi_core::text::Bilingual;
use tokio::sync::mpsc;

use super::dispatch::{batch_id, internal, Caller, Dispatcher, Job, Out, SystemEnv, Work};
use super::eligibility::{self, BatchAnswer};
use super::timing;
use crate::backend::{Backend, BackendError, CardProof, Query};
use crate::card::access::CardAccess;
use crate::card::flows::{self, CardError};
use crate::card::jpki::PinTries;
use crate::store::{
    Actor, AuditDetail, BatchAction, CardCheck, ConfirmMode as AuditMode, Consents as AuditConsents, ErrorCode, ExtensionId,
    FileName, JobCounts, JobId, NewResult, Origin, Outcome, QueryKind, ReceptionNumber, ResultKind, ResultXml, Store,
};

/// Frames to one connection (already JSON, without the socket header).
pub type Sender = mpsc::UnboundedSender<Vec<u8>>;

/// Timings the tests shorten.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// How long a card confirm waits for the PIN window.
    pub pin_timeout: Duration,
    /// The longest wait between polls of an unfinished batch (the first is sooner).
    pub batch_poll: Duration,
    /// The first wait before asking again for a bulk registration's results
    /// (then doubling; four waits in all).
    pub registration_poll: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pin_timeout: Duration::from_secs(120),
            batch_poll: Duration::from_secs(30),
            registration_poll: Duration::from_millis(500),
        }
    }
}

impl Settings {
    /// The defaults, with what the config lets IT change (the batch poll).
    pub fn from_config(config: Option<&crate::config::Config>) -> Self {
        let mut s = Settings::default();
        if let Some(c) = config {
            // 0 is refused by `config check`; treated as 1 s here rather than a busy loop.
            s.batch_poll = Duration::from_secs(c.timeouts.batch_poll_max_secs.max(1));
        }
        s
    }
}

/// What reaches a waiting card confirm.
enum PinMsg {
    /// `received`: when the service read the `pin_entry` (the timing starts there).
    Entry { pin: Pin, confirm_last_try: bool, reply: Reply, received: Instant },
    Cancel { reply: Reply },
}

struct PinWaiter {
    extension: ExtensionId,
    tx: mpsc::UnboundedSender<PinMsg>,
}

/// Where one reply goes: the connection and the request id.
#[derive(Clone)]
pub struct Reply {
    tx: Sender,
    id: String,
}

impl Reply {
    pub fn new(tx: Sender, id: impl Into<String>) -> Self {
        Reply { tx, id: id.into() }
    }

    fn send(&self, result: Result<Response, ProtocolError>) {
        for f in encode(&FromHelper::Reply { id: self.id.clone(), result }) {
            let _ = self.tx.send(f);
        }
    }
}

/// Splits a frame into socket payloads (chunked when over 1 MiB).
pub fn encode(frame: &FromHelper) -> Vec<Vec<u8>> {
    // encode_from_helper adds the browser's native-endian header; the socket
    // carries the JSON only (its own big-endian header is added on write).
    match encode_from_helper(frame) {
        Ok(frames) => frames.into_iter().map(|mut f| f.split_off(4)).collect(),
        Err(e) => {
            eprintln!("onshi-helper service: cannot encode a frame: {e}");
            match frame {
                FromHelper::Reply { id, .. } => {
                    let err = FromHelper::err(id.clone(), ProtocolError::too_large(onshi_core::protocol::MAX_REPLY));
                    vec![err.to_json().into_bytes()]
                }
                _ => Vec::new(),
            }
        }
    }
}

/// Clears the card-busy flag when the card work ends, however it ends.
struct CardSlot<'a>(&'a AtomicBool);

impl Drop for CardSlot<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// The running service's state.
pub struct Runtime {
    dispatcher: Mutex<Dispatcher<SystemEnv>>,
    backend: Option<Arc<dyn Backend>>,
    /// Why there is no backend (shown on every request that needs one).
    no_backend: ProtocolError,
    card: Arc<dyn CardAccess>,
    settings: Settings,
    conns: Mutex<HashMap<u64, (ExtensionId, Sender)>>,
    pins: Mutex<HashMap<String, PinWaiter>>,
    card_busy: AtomicBool,
    next_confirm: AtomicU64,
    polling: Mutex<HashSet<JobId>>,
    readers: Mutex<BTreeMap<String, bool>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind that
    // is still consistent (each update is a single insert or remove).
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Backend failures as page-visible errors (the one place they are mapped).
pub fn backend_error(e: &BackendError) -> ProtocolError {
    let mut p = match e {
        // The one refusal reception can act on: offer `card_register`.
        BackendError::Rejected { code, .. } if code == GatewayCode::CardNotRegistered.as_str() => {
            return ProtocolError::new(Code::CardNotRegistered);
        }
        BackendError::Rejected { code, message } => return ProtocolError::gateway(code.clone(), message.clone()),
        // The terminal's file never became readable in time: to the page that is
        // "no answer in time"; `explain` below says why, for IT.
        BackendError::Timeout { .. } | BackendError::FileBusy { .. } | BackendError::Incomplete { .. } => ProtocolError::new(Code::Timeout),
        BackendError::Unsupported { .. } | BackendError::BadAnswer { .. } => ProtocolError::gateway("", e.to_string()),
        _ => ProtocolError::network(e.retryable()),
    };
    p.message = e.explain();
    p.retryable = e.retryable();
    p
}

impl Runtime {
    /// `backend` is `Err(reason)` when none could be built (no config, or a
    /// gateway this build cannot make yet); requests that need it get `reason`.
    pub fn new(
        store: Store,
        config: Option<crate::config::Config>,
        backend: Result<Arc<dyn Backend>, ProtocolError>,
        card: Arc<dyn CardAccess>,
        settings: Settings,
    ) -> Arc<Runtime> {
        let (backend, no_backend) = match backend {
            Ok(b) => (Some(b), ProtocolError::new(Code::Internal)),
            Err(e) => (None, e),
        };
        Arc::new(Runtime {
            dispatcher: Mutex::new(Dispatcher::new(store, config, SystemEnv)),
            backend,
            no_backend,
            card,
            settings,
            conns: Mutex::new(HashMap::new()),
            pins: Mutex::new(HashMap::new()),
            card_busy: AtomicBool::new(false),
            next_confirm: AtomicU64::new(1),
            polling: Mutex::new(HashSet::new()),
            readers: Mutex::new(BTreeMap::new()),
        })
    }

    /// Resumes polling of every batch not finished yet (after a restart).
    /// Must run inside a tokio runtime.
    pub fn resume_batches(self: &Arc<Self>) {
        let pending = lock(&self.dispatcher).store_mut().pending_jobs().unwrap_or_default();
        for job in pending {
            self.spawn_poller(job.id);
        }
    }

    /// The store, briefly (tests and bookkeeping).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        f(lock(&self.dispatcher).store_mut())
    }

    pub fn connect(&self, conn: u64, extension: ExtensionId, tx: Sender) {
        lock(&self.conns).insert(conn, (extension, tx));
    }

    pub fn disconnect(&self, conn: u64) {
        lock(&self.conns).remove(&conn);
    }

    fn to_extension(&self, to: &ExtensionId, frame: &FromHelper) {
        let targets: Vec<Sender> =
            lock(&self.conns).values().filter(|(ext, _)| ext == to).map(|(_, s)| s.clone()).collect();
        for f in encode(frame) {
            for t in &targets {
                let _ = t.send(f.clone());
            }
        }
    }

    /// An event for every connection (origin `null`: every paired page).
    pub fn broadcast(&self, event: Event) {
        let frame = FromHelper::event(event, None);
        let targets: Vec<Sender> = lock(&self.conns).values().map(|(_, s)| s.clone()).collect();
        for f in encode(&frame) {
            for t in &targets {
                let _ = t.send(f.clone());
            }
        }
    }

    /// A reader/card event from the watcher thread: remembered for `status`, then broadcast.
    pub fn card_event(&self, event: Event) {
        {
            let mut r = lock(&self.readers);
            match &event {
                Event::ReaderAdded { reader } => {
                    r.insert(reader.clone(), false);
                }
                Event::ReaderRemoved { reader } => {
                    r.remove(reader);
                }
                Event::CardInserted { reader } => {
                    r.insert(reader.clone(), true);
                }
                Event::CardRemoved { reader } => {
                    r.insert(reader.clone(), false);
                }
                _ => {}
            }
            let list = r.iter().map(|(name, present)| ReaderInfo { name: name.clone(), card_present: *present }).collect();
            lock(&self.dispatcher).set_readers(list);
        }
        self.broadcast(event);
    }

    /// One browser frame from connection `tx`. Must run inside a tokio runtime.
    pub fn handle(self: &Arc<Self>, caller: &Caller, tx: &Sender, text: &str) {
        let received = Instant::now();
        let outs = lock(&self.dispatcher).handle(caller, text);
        for out in outs {
            match out {
                Out::Reply(frame) => {
                    for f in encode(&frame) {
                        let _ = tx.send(f);
                    }
                }
                Out::Event { to, frame } => self.to_extension(&to, &frame),
                Out::Work(work) => {
                    let me = self.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move { me.work(tx, work, received).await });
                }
            }
        }
    }

    fn backend(&self) -> Result<Arc<dyn Backend>, ProtocolError> {
        self.backend.clone().ok_or_else(|| self.no_backend.clone())
    }

    async fn work(self: Arc<Self>, tx: Sender, w: Work, received: Instant) {
        let reply = Reply::new(tx, w.id.clone());
        match w.job {
            Job::Insurance { request_xml } => {
                let r = self.insurance(Some(&w.origin), &request_xml).await;
                reply.send(r);
            }
            Job::Card { mode, consents, reader } => {
                timing::measure(received, self.card_confirm(reply, &w.caller, &w.origin, mode, consents, reader)).await
            }
            Job::CardRegister { consents, reader } => self.card_register(reply, &w.caller, &w.origin, consents, reader).await,
            Job::References { request } => {
                let r = self.references(Some(&w.origin), request).await;
                reply.send(r);
            }
            Job::PinEntry { confirm_id, pin, confirm_last_try } => {
                self.pin_message(&w.caller, &confirm_id, reply, |reply| PinMsg::Entry { pin, confirm_last_try, reply, received })
            }
            Job::PinCancel { confirm_id } => self.pin_message(&w.caller, &confirm_id, reply, |reply| PinMsg::Cancel { reply }),
            Job::BatchSubmit { request_xml, count } => {
                let r = self.batch_submit(Some(&w.origin), &request_xml, count).await;
                reply.send(r);
            }
            Job::Document { query, request_xml } => {
                let r = self.document(&w.origin, query, &request_xml).await;
                reply.send(r);
            }
            Job::BatchPoll { job } => {
                let r = match self.poll_once(job).await {
                    Ok(BatchAnswer::Done { .. }) => lock(&self.dispatcher)
                        .batch_results(job)
                        .and_then(|r| r.ok_or_else(|| ProtocolError::new(Code::Internal))),
                    Ok(BatchAnswer::Processing) => Err(still_processing()),
                    Err(e) => Err(e),
                };
                reply.send(r);
            }
        }
    }

    // ----- insurance card ------------------------------------------------

    /// Sends an `OQSsiquc01req`, stores and audits the answer. `origin` is
    /// the asking page (absent for the command line).
    pub async fn insurance(&self, origin: Option<&Origin>, request_xml: &[u8]) -> Result<Response, ProtocolError> {
        let answer = match self.backend() {
            Ok(b) => b.query(Query::Individual, request_xml).await.map_err(|e| backend_error(&e)),
            Err(e) => Err(e),
        };
        let result = answer.and_then(|bytes| eligibility::read_answer(&bytes));
        let mut d = lock(&self.dispatcher);
        let reply = match result {
            Ok(a) => store_eligibility(&mut d, ResultKind::InsuranceConfirm, origin, None, &a),
            Err(e) => Err(e),
        };
        let error = reply.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let outcome = if reply.is_ok() { Outcome::Ok } else { Outcome::Failed };
        d.audit(&actor(origin), outcome, &AuditDetail::EligibilityQuery { query: QueryKind::InsuranceCard, error });
        reply.map(Response::InsuranceConfirm)
    }

    /// Medication / health-check history.
    async fn document(&self, origin: &Origin, query: Query, request_xml: &[u8]) -> Result<Response, ProtocolError> {
        let answer = match self.backend() {
            Ok(b) => b.query(query, request_xml).await.map_err(|e| backend_error(&e)),
            Err(e) => Err(e),
        };
        let result = answer.and_then(|bytes| eligibility::read_answer(&bytes)).and_then(|a| match eligibility::error_of(&a.message) {
            Some(e) => Err(e),
            None => Ok(a),
        });
        let mut d = lock(&self.dispatcher);
        let error = result.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let outcome = if result.is_ok() { Outcome::Ok } else { Outcome::Failed };
        let actor = Actor::Origin(origin.clone());
        let (kind, query_kind) = match query {
            Query::Medication => (ResultKind::Medication, QueryKind::Medication),
            Query::Checkup => (ResultKind::HealthCheckup, QueryKind::HealthCheckup),
            _ => return Err(ProtocolError::new(Code::Internal)),
        };
        d.audit(&actor, outcome, &AuditDetail::EligibilityQuery { query: query_kind, error });
        let a = result?;
        let now = d.now()?;
        let xml = ResultXml::new(a.xml.clone()).map_err(|_| ProtocolError::new(Code::Internal))?;
        let r = NewResult { at: now, kind, origin: Some(origin.clone()), job: None, status: crate::store::ResultStatus::Valid, insurer_number: None, name_kana: None, error: None, card: None, xml };
        d.store_mut().insert_result(&r).map_err(internal)?;
        let reply = onshi_core::protocol::XmlReply { xml: a.xml };
        Ok(if query == Query::Medication { Response::MedicationFetch(reply) } else { Response::CheckupFetch(reply) })
    }

    /// `reference_register`: the checked entries go out in one document (the
    /// single form for one, the bulk form for more); what the system
    /// registered is remembered locally (patient id → insurance numbers).
    /// The bulk form is acknowledged first; its per-entry results
    /// (`OQSmuimm02req`) are fetched at once, so entries the system refused
    /// come back in `rejected` with its reason and are not stored. Should the
    /// results not come (still processing, network) or not name an entry,
    /// that entry is stored as the acknowledgement accepted it and the reply
    /// says `results_pending`, so the person knows to check again.
    /// `origin` is the asking page (absent for the command line).
    pub async fn references(&self, origin: Option<&Origin>, request: eligibility::References) -> Result<Response, ProtocolError> {
        let eligibility::References { request_xml, bulk, mut sent, sent_index, mut rejected } = request;
        let query = if bulk { Query::BulkReferenceRegister } else { Query::ReferenceRegister };
        let answer = match self.backend() {
            Ok(b) => b.query(query, &request_xml).await.map_err(|e| backend_error(&e)),
            Err(e) => Err(e),
        };
        let result = answer.and_then(|bytes| eligibility::read_answer(&bytes)).and_then(|a| {
            eligibility::error_of(&a.message).map_or(Ok(()), Err)?;
            let reception = if bulk {
                Some(eligibility::reception_of(&a.message).ok_or_else(|| {
                    ProtocolError::gateway("NO_RECEPTION", "the bulk registration acknowledgement has no reception number")
                })?)
            } else {
                None
            };
            Ok((a, reception))
        });
        let (mut xml, mut refused, mut results_pending) = (None, 0u32, false);
        if let Ok((_, Some(reception))) = &result {
            match self.registration_results(reception).await {
                Some((results, outcome)) => {
                    let mut kept = Vec::with_capacity(sent.len());
                    let mut unknown = 0u32;
                    for ((patient, numbers), index) in sent.into_iter().zip(&sent_index) {
                        match outcome.whole.clone().or_else(|| outcome.refused.get(patient.as_str()).cloned()) {
                            Some(mut error) => {
                                refused += 1;
                                let n = index.saturating_add(1);
                                error.message = Bilingual::new(
                                    format!("{n}件目：{}", error.message.ja),
                                    format!("Entry {n}: {}", error.message.en),
                                );
                                rejected.push(EntryError { index: *index, error });
                            }
                            None => {
                                unknown += u32::from(!outcome.done.contains(patient.as_str()));
                                kept.push((patient, numbers));
                            }
                        }
                    }
                    if unknown > 0 {
                        eprintln!("onshi-helper service: bulk registration {reception}: the results do not name {unknown} of the entries sent");
                        results_pending = true;
                    }
                    sent = kept;
                    rejected.sort_by_key(|e| e.index);
                    xml = Some(results.xml);
                }
                None => results_pending = true,
            }
        }
        let count = u32::try_from(sent.len()).unwrap_or(u32::MAX);
        let mut d = lock(&self.dispatcher);
        let error = result.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let rejected_count = u32::try_from(rejected.len()).unwrap_or(u32::MAX);
        let detail = AuditDetail::Reference { action: crate::store::ReferenceAction::Register, count: Some(count), rejected: Some(rejected_count), error };
        d.audit(&actor(origin), if result.is_ok() { Outcome::Ok } else { Outcome::Failed }, &detail);
        let (a, reception_number) = result?;
        if refused > 0 {
            eprintln!("onshi-helper service: the system refused {refused} of the bulk registration's entries");
        }
        let now = d.now()?;
        d.store_mut().put_references(&sent, &now).map_err(internal)?;
        let xml = xml.unwrap_or(a.xml);
        Ok(Response::ReferenceRegister(onshi_core::protocol::ReferenceRegisterReply {
            xml,
            accepted: count,
            rejected,
            reception_number,
            results_pending,
        }))
    }

    /// The per-entry results of the bulk registration under `reception`:
    /// asked at once, then again after 0.5, 1, 2 and 4 s (`registration_poll`
    /// doubling) while the system is still working on it. `None` when they do
    /// not come in that time or the answer is unusable (the service log says which).
    async fn registration_results(&self, reception: &str) -> Option<(eligibility::Answer, eligibility::Registered)> {
        let institution = lock(&self.dispatcher).institution_and_today().ok()?.0;
        let request = eligibility::batch_download(&institution, reception);
        let mut wait = self.settings.registration_poll;
        for attempt in 0..5 {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            let answer = match self.backend() {
                Ok(b) => b.query(Query::BulkReferenceResult, &request).await.map_err(|e| backend_error(&e)),
                Err(e) => Err(e),
            }
            .and_then(|bytes| eligibility::read_answer(&bytes));
            match answer {
                Ok(a) => match eligibility::registration_outcomes(&a.message) {
                    Ok(outcomes) => return Some((a, outcomes)),
                    Err(true) => {}
                    Err(false) => {
                        let why = eligibility::error_of(&a.message).map_or_else(|| format!("{:?}", a.message.kind()), |e| e.message.en);
                        eprintln!("onshi-helper service: bulk registration {reception}: no per-entry results ({why})");
                        return None;
                    }
                },
                Err(e) => {
                    eprintln!("onshi-helper service: bulk registration {reception}: results not fetched ({})", e.message.en);
                    return None;
                }
            }
        }
        eprintln!("onshi-helper service: bulk registration {reception}: still processing; its entries count as accepted");
        None
    }

    // ----- My Number card ------------------------------------------------

    fn pin_message(&self, caller: &Caller, confirm_id: &str, reply: Reply, make: impl FnOnce(Reply) -> PinMsg) {
        let pins = lock(&self.pins);
        match pins.get(confirm_id) {
            // Only the extension that was asked for the PIN may answer it.
            Some(w) if w.extension == caller.extension_id => {
                if let Err(mpsc::error::SendError(msg)) = w.tx.send(make(reply)) {
                    let (PinMsg::Entry { reply, .. } | PinMsg::Cancel { reply }) = msg;
                    reply.send(Err(unknown_confirm()));
                }
            }
            _ => reply.send(Err(unknown_confirm())),
        }
    }

    /// Runs a card flow on a blocking thread; the flow's result comes back
    /// through `out`, and its PC/SC time goes to the request's [`timing`].
    async fn on_card<T: Send + 'static>(
        &self,
        reader: Option<String>,
        flow: impl FnOnce(&mut dyn crate::card::transport::CardTransport) -> Result<T, CardError> + Send + 'static,
    ) -> Result<T, CardError> {
        let card = self.card.clone();
        let (out, spent) = tokio::task::spawn_blocking(move || {
            let mut flow = Some(flow);
            let mut out = None;
            let mut clock = timing::CardClock::start();
            let done = card.with_card(reader.as_deref(), &mut |t| {
                let f = flow.take().ok_or(CardError::Card("flow ran twice".into()))?;
                out = Some(clock.flow(t, f)?);
                Ok(())
            });
            let out = done.and_then(|()| out.ok_or(CardError::Card("flow did not run".into())));
            (out, clock.card_time())
        })
        .await
        .unwrap_or_else(|_| (Err(CardError::Card("card thread failed".into())), Duration::ZERO));
        timing::on_card(spent);
        // The receptionist reads "the card could not be read"; IT needs what the card or
        // PC/SC actually said. These texts never hold the PIN (CardError carries none).
        if let Err(CardError::Card(why)) = &out {
            eprintln!("onshi-helper service: card failure: {why}");
        }
        out
    }

    fn audit_card(&self, origin: &Origin, mode: ConfirmMode, consents: Consents, tries_left: Option<u8>, result: &Result<(), ProtocolError>) {
        let error = result.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let outcome = match result {
            Ok(()) => Outcome::Ok,
            Err(e) if e.code == Code::Cancelled => Outcome::Cancelled,
            Err(_) => Outcome::Failed,
        };
        let detail = AuditDetail::CardConfirm {
            mode: match mode {
                ConfirmMode::Pin => AuditMode::Pin,
                ConfirmMode::Visual => AuditMode::Visual,
            },
            consents: audit_consents(consents),
            tries_left,
            error,
        };
        lock(&self.dispatcher).audit(&Actor::Origin(origin.clone()), outcome, &detail);
    }

    async fn card_confirm(
        self: &Arc<Self>,
        reply: Reply,
        caller: &Caller,
        origin: &Origin,
        mode: ConfirmMode,
        consents: Consents,
        reader: Option<String>,
    ) {
        // One card operation at a time: a second one would interleave APDUs
        // with the first flow's transaction or wait on it for minutes.
        if self.card_busy.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            reply.send(Err(ProtocolError::new(Code::Busy)));
            return;
        }
        let _slot = CardSlot(&self.card_busy);
        let (result, tries) = match mode {
            ConfirmMode::Pin => {
                let (proof, tries) = self.card_pin(&reply, caller, origin, consents, reader, PinPurpose::Confirm).await;
                let result = match (proof, self.backend()) {
                    (Ok(proof), Ok(backend)) => self.finish_card(origin, &backend, &proof).await,
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                (result, tries)
            }
            ConfirmMode::Visual => (self.card_visual(origin, consents, reader).await, None),
        };
        self.audit_card(origin, mode, consents, tries, &result.as_ref().map(|_| ()).map_err(Clone::clone));
        let timing = timing::finish();
        reply.send(result.map(|e| Response::CardConfirm(Eligibility { timing, ..e })));
    }

    /// `card_register`: the PIN flow of a card check, then the proof goes to
    /// the registration endpoint instead. "Already registered" is a success
    /// for the desk: the card check can go ahead.
    async fn card_register(self: &Arc<Self>, reply: Reply, caller: &Caller, origin: &Origin, consents: Consents, reader: Option<String>) {
        if self.card_busy.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            reply.send(Err(ProtocolError::new(Code::Busy)));
            return;
        }
        let _slot = CardSlot(&self.card_busy);
        // Checked before the PIN window opens: a PIN the backend cannot use is never asked for.
        if self.backend.as_ref().is_some_and(|b| b.kind() == onshi_core::protocol::Backend::OqsFolder) {
            let result = Err(folder_cannot_register());
            self.audit_register(origin, consents, None, &result);
            reply.send(result.map(Response::CardRegister));
            return;
        }
        let (proof, tries) = self.card_pin(&reply, caller, origin, consents, reader, PinPurpose::Register).await;
        let result = match (proof, self.backend()) {
            (Ok(proof), Ok(backend)) => match timing::network(backend.card_register(&proof)).await {
                Ok(bytes) => eligibility::read_answer(&bytes)
                    .and_then(|a| eligibility::error_of(&a.message).map_or(Ok(CardRegistered { already_registered: false }), Err)),
                Err(BackendError::Rejected { code, .. }) if code == GatewayCode::AlreadyRegistered.as_str() => {
                    Ok(CardRegistered { already_registered: true })
                }
                Err(e) => Err(backend_error(&e)),
            },
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        self.audit_register(origin, consents, tries, &result);
        reply.send(result.map(Response::CardRegister));
    }

    fn audit_register(&self, origin: &Origin, consents: Consents, tries_left: Option<u8>, result: &Result<CardRegistered, ProtocolError>) {
        let error = result.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(e) if e.code == Code::Cancelled => Outcome::Cancelled,
            Err(_) => Outcome::Failed,
        };
        let detail = AuditDetail::CardRegister {
            consents: audit_consents(consents),
            tries_left,
            already_registered: matches!(result, Ok(CardRegistered { already_registered: true })),
            error,
        };
        lock(&self.dispatcher).audit(&Actor::Origin(origin.clone()), outcome, &detail);
    }

    /// Visual-check mode (目視確認). The JPKI user-authentication key signs
    /// only after a PIN VERIFY (the card enforces it), so without a PIN there
    /// can be no signature: the certificate alone is read and sent with an
    /// empty signature and mode `visual`; the gateway still checks the chain
    /// and the nonce, and staff vouch for the person by the card photo.
    async fn card_visual(&self, origin: &Origin, consents: Consents, reader: Option<String>) -> Result<Eligibility, ProtocolError> {
        let backend = self.backend()?;
        let certificate_der = self.on_card(reader, |t| flows::read_certificate(t)).await.map_err(|e| e.to_protocol())?;
        let challenge = timing::network(backend.card_challenge()).await.map_err(|e| backend_error(&e))?;
        let proof = CardProof { certificate_der, signature: Vec::new(), nonce: challenge.nonce, mode: ConfirmMode::Visual, consents };
        self.finish_card(origin, &backend, &proof).await
    }

    async fn finish_card(&self, origin: &Origin, backend: &Arc<dyn Backend>, proof: &CardProof) -> Result<Eligibility, ProtocolError> {
        let bytes = timing::network(backend.card_confirm(proof)).await.map_err(|e| backend_error(&e))?;
        let answer = eligibility::read_answer(&bytes)?;
        let card = Some(CardCheck { mode: proof.mode, consents: proof.consents });
        store_eligibility(&mut lock(&self.dispatcher), ResultKind::CardConfirm, Some(origin), card, &answer)
    }

    /// PIN mode up to the card's signature over a fresh challenge; returns
    /// the proof and the tries left last seen (for the audit). `purpose`
    /// only changes what the PIN window says.
    async fn card_pin(
        self: &Arc<Self>,
        reply: &Reply,
        caller: &Caller,
        origin: &Origin,
        consents: Consents,
        reader: Option<String>,
        purpose: PinPurpose,
    ) -> (Result<CardProof, ProtocolError>, Option<u8>) {
        let backend = match self.backend() {
            Ok(b) => b,
            Err(e) => return (Err(e), None),
        };
        let mut tries = match self.on_card(reader.clone(), |t| flows::pin_status(t)).await {
            Ok(PinTries::Left(n)) => n,
            Ok(PinTries::Locked) => return (Err(CardError::PinLocked.to_protocol()), Some(0)),
            Err(e) => return (Err(e.to_protocol()), None),
        };
        let confirm_id = format!("c-{}", self.next_confirm.fetch_add(1, Ordering::Relaxed));
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&self.pins).insert(confirm_id.clone(), PinWaiter { extension: caller.extension_id.clone(), tx });
        // Removes the waiter however this function ends.
        struct Unregister<'a>(&'a Runtime, String);
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                lock(&self.0.pins).remove(&self.1);
            }
        }
        let _unregister = Unregister(self, confirm_id.clone());
        let ask = |tries_left: u8| {
            self.to_extension(
                &caller.extension_id,
                &FromHelper::event(
                    Event::PinNeeded { confirm_id: confirm_id.clone(), request_id: reply.id.clone(), tries_left, origin: origin.to_string(), purpose },
                    Some(origin.to_string()),
                ),
            )
        };
        ask(tries);
        loop {
            let msg = match tokio::time::timeout(self.settings.pin_timeout, rx.recv()).await {
                Ok(Some(m)) => m,
                Ok(None) | Err(_) => return (Err(ProtocolError::new(Code::PinRequired)), Some(tries)),
            };
            let (pin, confirm_last_try, entry_reply) = match msg {
                PinMsg::Cancel { reply: r } => {
                    r.send(Ok(Response::PinCancel));
                    return (Err(ProtocolError::new(Code::Cancelled)), Some(tries));
                }
                PinMsg::Entry { pin, confirm_last_try, reply, received } => {
                    timing::restart(received);
                    (pin, confirm_last_try, reply)
                }
            };
            if tries == 1 && !confirm_last_try {
                // Checked here too (the flow checks again): no challenge is spent and no card touched.
                drop(pin);
                entry_reply.send(Err(CardError::LastTryUnconfirmed { tries_left: 1 }.to_protocol()));
                continue;
            }
            let challenge = match timing::network(backend.card_challenge()).await {
                Ok(c) => c,
                Err(e) => {
                    drop(pin);
                    let err = backend_error(&e);
                    entry_reply.send(Err(err.clone()));
                    return (Err(err), Some(tries));
                }
            };
            let nonce = challenge.nonce.clone();
            // The PIN moves into the flow and is dropped (wiped) when it ends.
            let flow = self
                .on_card(reader.clone(), move |t| {
                    let out = flows::confirm_with_pin(t, &pin, &nonce, confirm_last_try);
                    drop(pin);
                    out
                })
                .await;
            match flow {
                Ok(p) => {
                    entry_reply.send(Ok(Response::PinEntry));
                    let proof = CardProof { certificate_der: p.cert_der, signature: p.signature, nonce: challenge.nonce, mode: ConfirmMode::Pin, consents };
                    return (Ok(proof), Some(tries));
                }
                Err(CardError::WrongPin { tries_left }) => {
                    tries = tries_left;
                    entry_reply.send(Err(CardError::WrongPin { tries_left }.to_protocol()));
                    let wrong = Err(CardError::WrongPin { tries_left }.to_protocol());
                    match purpose {
                        PinPurpose::Confirm => self.audit_card(origin, ConfirmMode::Pin, consents, Some(tries_left), &wrong),
                        PinPurpose::Register => self.audit_register(origin, consents, Some(tries_left), &wrong.map(|()| CardRegistered::default())),
                    }
                    if tries_left == 0 {
                        return (Err(CardError::PinLocked.to_protocol()), Some(0));
                    }
                    ask(tries_left);
                }
                Err(e @ CardError::LastTryUnconfirmed { .. }) => entry_reply.send(Err(e.to_protocol())),
                Err(e) => {
                    let err = e.to_protocol();
                    entry_reply.send(Err(err.clone()));
                    return (Err(err), Some(tries));
                }
            }
        }
    }

    // ----- batches -------------------------------------------------------

    /// Uploads a batch (`OQSmuquc01req`), records the job and starts polling it.
    pub async fn batch_submit(self: &Arc<Self>, origin: Option<&Origin>, request_xml: &[u8], count: u32) -> Result<Response, ProtocolError> {
        let answer = match self.backend() {
            Ok(b) => b.query(Query::BatchUpload, request_xml).await.map_err(|e| backend_error(&e)),
            Err(e) => Err(e),
        };
        let reception = answer.and_then(|bytes| eligibility::read_answer(&bytes)).and_then(|a| {
            eligibility::error_of(&a.message).map_or(Ok(()), Err)?;
            eligibility::reception_of(&a.message)
                .and_then(|r| ReceptionNumber::new(&r).ok())
                .ok_or_else(|| ProtocolError::gateway("NO_RECEPTION", "the batch acknowledgement has no reception number"))
        });
        let mut d = lock(&self.dispatcher);
        let actor = actor(origin);
        let reception = match reception {
            Ok(r) => r,
            Err(e) => {
                let error = ErrorCode::new(e.code.as_str()).ok();
                d.audit(&actor, Outcome::Failed, &AuditDetail::Batch { action: BatchAction::Submit, job: None, reception: None, count: Some(count), error });
                return Err(e);
            }
        };
        let now = d.now()?;
        let file = FileName::new(&format!("OQSmuquc01req_{}.xml", reception.as_str())).map_err(|_| ProtocolError::new(Code::Internal))?;
        let job = d.store_mut().insert_job(&file, Some(&reception), &now).map_err(internal)?;
        d.audit(&actor, Outcome::Ok, &AuditDetail::Batch { action: BatchAction::Submit, job: Some(job.0), reception: Some(reception), count: Some(count), error: None });
        drop(d);
        self.spawn_poller(job);
        Ok(Response::BatchSubmit(BatchSubmitted { batch_id: batch_id(job), accepted: count }))
    }

    /// Polls `job` until it is finished, one poller per job: first after 2 s,
    /// then twice as long each time up to `batch_poll`. A small batch is
    /// often ready within seconds (the receptionist is watching the progress
    /// bar); a large one then costs the eligibility system few requests.
    fn spawn_poller(self: &Arc<Self>, job: JobId) {
        if !lock(&self.polling).insert(job) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut wait = me.settings.batch_poll.min(Duration::from_secs(2));
            loop {
                tokio::time::sleep(wait).await;
                match me.poll_once(job).await {
                    Ok(BatchAnswer::Done { .. }) => break,
                    Ok(BatchAnswer::Processing) => wait = (wait * 2).min(me.settings.batch_poll),
                    // A retryable failure backs off (up to 10 minutes); others end the job in poll_once.
                    Err(e) if e.retryable => wait = (wait * 2).min(Duration::from_secs(600)),
                    Err(_) => break,
                }
                let finished = lock(&me.dispatcher).store_mut().job(job).map(|j| j.state.is_finished()).unwrap_or(true);
                if finished {
                    break;
                }
            }
            lock(&me.polling).remove(&job);
        });
    }

    /// One `OQSmuquc02req` for `job`; stores the result when it is done.
    pub async fn poll_once(&self, job: JobId) -> Result<BatchAnswer, ProtocolError> {
        let (institution, reception) = {
            let mut d = lock(&self.dispatcher);
            let j = d.store_mut().job(job).map_err(internal)?;
            if j.state.is_finished() {
                return Ok(BatchAnswer::Done { total: 0, normal: 0, errors: 0 });
            }
            let (institution, _) = d.institution_and_today()?;
            let reception = j.reception_number.ok_or_else(|| ProtocolError::new(Code::Internal))?;
            (institution, reception)
        };
        let backend = self.backend()?;
        let request = eligibility::batch_download(&institution, reception.as_str());
        let answer = backend
            .query(Query::BatchDownload, &request)
            .await
            .map_err(|e| backend_error(&e))
            .and_then(|bytes| eligibility::read_answer(&bytes))
            .and_then(|a| match eligibility::batch_answer(&a.message) {
                Some(b) => Ok((a, b)),
                None => Err(eligibility::error_of(&a.message)
                    .unwrap_or_else(|| ProtocolError::gateway("BAD_ANSWER", "not a batch result document"))),
            });
        let mut d = lock(&self.dispatcher);
        let now = d.now()?;
        let actor = Actor::Cli;
        let audit = |d: &mut Dispatcher<SystemEnv>, outcome, error| {
            d.audit(&actor, outcome, &AuditDetail::Batch { action: BatchAction::Poll, job: Some(job.0), reception: Some(reception.clone()), count: None, error })
        };
        match answer {
            Ok((_, BatchAnswer::Processing)) => {
                d.store_mut().record_poll(job, &now).map_err(internal)?;
                audit(&mut d, Outcome::Ok, None);
                drop(d);
                self.broadcast(Event::BatchProgress { batch_id: batch_id(job), state: BatchState::Processing });
                Ok(BatchAnswer::Processing)
            }
            Ok((a, done @ BatchAnswer::Done { total, normal, errors })) => {
                let xml = ResultXml::new(a.xml).map_err(|_| ProtocolError::new(Code::Internal))?;
                let result = NewResult {
                    at: now.clone(),
                    kind: ResultKind::Batch,
                    origin: None,
                    job: Some(job),
                    status: crate::store::ResultStatus::Valid,
                    insurer_number: None,
                    name_kana: None,
                    error: None,
                    card: None,
                    xml,
                };
                d.store_mut().insert_result(&result).map_err(internal)?;
                d.store_mut()
                    .finish_job(job, &now, Ok(JobCounts { total, succeeded: normal, failed: errors }))
                    .map_err(internal)?;
                audit(&mut d, Outcome::Ok, None);
                drop(d);
                self.broadcast(Event::BatchProgress { batch_id: batch_id(job), state: BatchState::Done });
                Ok(done)
            }
            Err(e) => {
                let code = ErrorCode::new(e.code.as_str()).ok();
                audit(&mut d, Outcome::Failed, code.clone());
                if !e.retryable {
                    let code = code.unwrap_or_else(|| ErrorCode::new("gateway_error").expect("a valid code"));
                    let _ = d.store_mut().finish_job(job, &now, Err(code));
                    drop(d);
                    self.broadcast(Event::BatchProgress { batch_id: batch_id(job), state: BatchState::Failed });
                }
                Err(e)
            }
        }
    }

    // ----- pushed face results -------------------------------------------

    /// A face-recognition result from the OQS folder: stored and broadcast.
    pub fn face_result(&self, bytes: &[u8]) {
        let Ok(answer) = eligibility::read_answer(bytes) else {
            eprintln!("onshi-helper service: a file in face/ is not a result document; ignored");
            return;
        };
        let (summary, _) = eligibility::summary(&answer.message);
        let stored = store_eligibility(&mut lock(&self.dispatcher), ResultKind::Face, None, None, &answer);
        if let Err(e) = stored {
            eprintln!("onshi-helper service: face result not stored: {e}");
        }
        self.broadcast(Event::FaceResult { xml: answer.xml, summary });
    }
}

/// Stores a result document and turns it into the reply: an error result
/// (ProcessingResultStatus 2) is stored too, and answered as `gateway_error`.
fn store_eligibility(
    d: &mut Dispatcher<SystemEnv>,
    kind: ResultKind,
    origin: Option<&Origin>,
    card: Option<CardCheck>,
    a: &eligibility::Answer,
) -> Result<Eligibility, ProtocolError> {
    let (summary, status) = eligibility::summary(&a.message);
    let failure = eligibility::error_of(&a.message);
    let now = d.now()?;
    let xml = ResultXml::new(a.xml.clone()).map_err(|_| ProtocolError::new(Code::Internal))?;
    let result = NewResult {
        at: now,
        kind,
        origin: origin.cloned(),
        job: None,
        status,
        insurer_number: eligibility::insurer_of(&a.message),
        name_kana: None,
        error: failure.as_ref().and_then(|e| ErrorCode::new(e.code.as_str()).ok()),
        card,
        xml,
    };
    d.store_mut().insert_result(&result).map_err(internal)?;
    match failure {
        Some(e) => Err(e),
        None => Ok(Eligibility { xml: a.xml.clone(), summary, timing: None }),
    }
}

fn audit_consents(c: Consents) -> AuditConsents {
    AuditConsents { medication: c.medication, health_checkup: c.health_check, surgery: c.diagnosis_procedure }
}

fn actor(origin: Option<&Origin>) -> Actor {
    origin.map_or(Actor::Cli, |o| Actor::Origin(o.clone()))
}

/// For the command line: the same steps as a page's request, without the PIN window.
impl Runtime {
    /// A card nonce from the backend.
    pub async fn backend_challenge(&self) -> Result<crate::backend::Challenge, ProtocolError> {
        self.backend()?.card_challenge().await.map_err(|e| backend_error(&e))
    }

    /// Sends a card proof made on this terminal; stores and audits the answer.
    pub async fn card_confirm_cli(&self, proof: &CardProof) -> Result<Eligibility, ProtocolError> {
        let backend = self.backend()?;
        let bytes = backend.card_confirm(proof).await.map_err(|e| backend_error(&e));
        let mut d = lock(&self.dispatcher);
        let card = Some(CardCheck { mode: proof.mode, consents: proof.consents });
        let r = bytes.and_then(|b| eligibility::read_answer(&b)).and_then(|a| store_eligibility(&mut d, ResultKind::CardConfirm, None, card, &a));
        let error = r.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let detail = AuditDetail::CardConfirm {
            mode: if proof.mode == ConfirmMode::Pin { AuditMode::Pin } else { AuditMode::Visual },
            consents: AuditConsents::default(),
            tries_left: None,
            error,
        };
        d.audit(&Actor::Cli, if r.is_ok() { Outcome::Ok } else { Outcome::Failed }, &detail);
        r
    }

    /// The dispatcher, briefly (the command line reads batch results through it).
    pub fn with_dispatcher<R>(&self, f: impl FnOnce(&mut Dispatcher<SystemEnv>) -> R) -> R {
        f(&mut lock(&self.dispatcher))
    }
}

/// With an official terminal, card registration happens at its reader.
fn folder_cannot_register() -> ProtocolError {
    let mut e = backend_error(&BackendError::Unsupported { backend: "oqs-folder", what: "card registration" });
    e.message = Bilingual::new(
        "この接続方式（資格確認端末のフォルダー連携）では、ここから保険証利用登録はできません。患者さんに資格確認端末のカードリーダー（顔認証付きカードリーダー）で登録していただき、その後もう一度カードで確認してください。",
        "With this connection (the official terminal's folders) the card cannot be registered from here. Ask the patient to register at the terminal's card reader, then check the card again.",
    );
    e
}

fn unknown_confirm() -> ProtocolError {
    let mut e = ProtocolError::invalid_argument("confirm_id", "no card confirm is waiting for this PIN");
    e.message = Bilingual::new(
        "この暗証番号入力に対応する確認はもう終わっています。画面からもう一度カード確認を始めてください。",
        "The card confirmation this PIN was for has already ended. Start the card confirmation again from the page.",
    );
    e
}

fn still_processing() -> ProtocolError {
    let mut e = ProtocolError::new(Code::Busy);
    e.message = Bilingual::new(
        "一括照会はまだ処理中です。しばらくしてから結果を確認してください（自動で確認を続けています）。",
        "The batch is still being processed. Check the results again shortly (the helper keeps checking).",
    );
    e.retryable = true;
    e
}
