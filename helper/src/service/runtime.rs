//! The service's moving parts around the synchronous [`Dispatcher`]: the
//! open connections, the backend, the card, the PIN waits and the batch
//! pollers. Routing stays in the dispatcher (under a short-held lock); every
//! slow step here (card I/O, network) runs with no lock held and replies on
//! the connection that asked, later.
//!
//! The slow work lives in one child module per kind: `queries.rs` (no
//! card), `card.rs` (the card and the PIN waits), `batch.rs` (upload and
//! pollers), `disaster.rs` (disaster mode's status and card-less search); this file keeps the connections, routing of work, events and
//! the shared helpers.
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
    Pin, PinPurpose, PresentedDocument, ProtocolError, ReaderInfo, ReceivedXml, Response, Treatment,
};
use onshi_core::text::Bilingual;
use tokio::sync::mpsc;

use super::connections::Connections;
use super::dispatch::{batch_id, internal, Caller, Dispatcher, Job, Out, SystemEnv, Work};
use super::today;
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

mod batch;
mod card;
mod disaster;
mod queries;
mod shared;

pub use super::connections::Sender;

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
    /// Tests only: the day card certificates are judged on instead of the
    /// dispatcher's clock (`None` in the service).
    pub today: Option<onshi_core::wareki::Date>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            pin_timeout: Duration::from_secs(120),
            batch_poll: Duration::from_secs(30),
            registration_poll: Duration::from_millis(500),
            today: None,
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


/// The running service's state.
pub struct Runtime {
    dispatcher: Mutex<Dispatcher<SystemEnv>>,
    backend: Option<Arc<dyn Backend>>,
    /// Why there is no backend (shown on every request that needs one).
    no_backend: ProtocolError,
    card: Arc<dyn CardAccess>,
    settings: Settings,
    /// Shared with the dispatcher, which announces stored results.
    conns: Connections,
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
        // The gateway judged the certificate lapsed (the helper's clock may disagree):
        // the same code and advice as the helper's own refusal.
        BackendError::Rejected { code, .. } if code == GatewayCode::CertificateExpired.as_str() => {
            return ProtocolError::new(Code::CertificateExpired);
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
        let conns = Connections::default();
        let mut dispatcher = Dispatcher::new(store, config, SystemEnv);
        dispatcher.conns = conns.clone();
        Arc::new(Runtime {
            dispatcher: Mutex::new(dispatcher),
            backend,
            no_backend,
            card,
            settings,
            conns,
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
        self.conns.insert(conn, extension, tx);
    }

    pub fn disconnect(&self, conn: u64) {
        self.conns.remove(conn);
    }

    fn to_extension(&self, to: &ExtensionId, frame: &FromHelper) {
        self.conns.to_extension(to, frame);
    }

    /// An event for every connection (origin `null`: every paired page).
    pub fn broadcast(&self, event: Event) {
        self.conns.broadcast(event);
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
            Job::Insurance { request_xml, document, treatment } => {
                let check = async {
                    let r = self.insurance(Some(&w.origin), &request_xml, document, treatment).await;
                    // The same split as a card check's, with no card.
                    let timing = timing::finish();
                    r.map(|r| match r {
                        Response::InsuranceConfirm(e) => Response::InsuranceConfirm(Eligibility { timing, ..e }),
                        other => other,
                    })
                };
                reply.send(timing::measure(received, check).await);
            }
            Job::Card { mode, consents, reader, treatment } => {
                let confirm = self.card_confirm(reply, &w.caller, &w.origin, card::Asked { mode, consents, reader, treatment });
                timing::measure(received, confirm).await
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
            Job::Document { query, request_xml, treatment } => {
                let r = self.document(&w.origin, query, &request_xml, treatment).await;
                reply.send(r);
            }
            Job::DisasterStatus => reply.send(self.disaster_status().await),
            Job::DisasterSearch { key, reason, treatment } => {
                let r = self.disaster_search(&w.origin, key, reason, treatment).await;
                reply.send(r);
            }
            Job::BatchPoll { job } => {
                let r = match self.poll_once(job).await {
                    Ok(BatchAnswer::Done { .. }) => lock(&self.dispatcher)
                        .batch_results(job)
                        .and_then(|r| r.ok_or_else(|| ProtocolError::new(Code::Internal))),
                    Ok(BatchAnswer::Processing) => Err(batch::still_processing()),
                    Err(e) => Err(e),
                };
                reply.send(r);
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
        // A face-recognition reader stands at the clinic's desk.
        let made = Made { treatment: Some(Treatment::Outpatient), ..Made::default() };
        let stored = store_eligibility(&mut lock(&self.dispatcher), ResultKind::Face, None, made, &answer);
        let entry_id = match stored {
            Ok(e) => e.entry_id,
            Err(e) => {
                eprintln!("onshi-helper service: face result not stored: {e}");
                None
            }
        };
        self.broadcast(Event::FaceResult { xml: answer.xml, summary, entry_id });
    }
}

/// How a desk check was made, kept with its result: the card mode and
/// consents, the document handed over, where the patient was treated.
#[derive(Debug, Clone, Copy, Default)]
struct Made {
    card: Option<CardCheck>,
    document: Option<PresentedDocument>,
    treatment: Option<Treatment>,
}

/// Stores a result document and turns it into the reply: an error result
/// (ProcessingResultStatus 2) is stored too, and answered as `gateway_error`.
fn store_eligibility(
    d: &mut Dispatcher<SystemEnv>,
    kind: ResultKind,
    origin: Option<&Origin>,
    made: Made,
    a: &eligibility::Answer,
) -> Result<Eligibility, ProtocolError> {
    let (summary, status) = eligibility::summary(&a.message);
    let failure = eligibility::error_of(&a.message);
    let now = d.now()?;
    let xml = ResultXml::received(a.received.clone()).map_err(|_| ProtocolError::new(Code::Internal))?;
    let result = NewResult {
        at: now,
        kind,
        origin: origin.cloned(),
        job: None,
        status,
        insurer_number: eligibility::insurer_of(&a.message),
        name_kana: None,
        error: failure.as_ref().and_then(|e| ErrorCode::new(e.code.as_str()).ok()),
        card: made.card,
        document: made.document,
        treatment: made.treatment,
        xml,
    };
    let id = d.store_mut().insert_result(&result).map_err(internal)?;
    // A face result has an event of its own, which carries the id.
    if kind != ResultKind::Face {
        d.announce(id);
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(Eligibility {
            xml: a.xml.clone(),
            received: Some(ReceivedXml::new(&a.received, true)),
            summary,
            entry_id: Some(today::entry_id(id)),
            timing: None,
            certificate: None,
        }),
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
        // The command line is run at the clinic, by IT.
        let made = Made { card: Some(CardCheck { mode: proof.mode, consents: proof.consents }), treatment: Some(Treatment::Outpatient), ..Made::default() };
        let r = bytes.and_then(|b| eligibility::read_answer(&b)).and_then(|a| store_eligibility(&mut d, ResultKind::CardConfirm, None, made, &a));
        let error = r.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let detail = AuditDetail::CardConfirm {
            mode: if proof.mode == ConfirmMode::Pin { AuditMode::Pin } else { AuditMode::Visual },
            consents: AuditConsents::default(),
            tries_left: None,
            error,
            treatment: Some(Treatment::Outpatient),
        };
        d.audit(&Actor::Cli, if r.is_ok() { Outcome::Ok } else { Outcome::Failed }, &detail);
        r
    }

    /// The dispatcher, briefly (the command line reads batch results through it).
    pub fn with_dispatcher<R>(&self, f: impl FnOnce(&mut Dispatcher<SystemEnv>) -> R) -> R {
        f(&mut lock(&self.dispatcher))
    }
}



