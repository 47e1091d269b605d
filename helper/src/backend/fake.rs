//! Test support only: an in-process backend that answers from the
//! simulator's registry logic (`onshi_sim::answer`, the same code the
//! simulator's gateway and folder responder use) with a seeded registry, so
//! service tests run without files, sockets or timers. Never compiled into
//! the helper binary.
//!
//! The card exchange is simplified: the nonce is single-use and the
//! signature is checked against the certificate's key, but every valid proof
//! gets the answer for registry person P0001 (whose certificate the test
//! card carries). `unregistered` makes that card "not registered for
//! insurance use" until a `card_register` succeeds.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use onshi_core::message::{IndividualRequestBody, MessageHeader, Msg, SearchInfo};
use onshi_core::protocol::Backend as WireBackend;
use onshi_core::{Encoding, Message};
use onshi_sim::answer::{self, Answer};
use onshi_sim::folder::BatchBook;
use rusqlite::{Connection, OpenFlags};

use super::{Backend, BackendError, BoxFuture, CardProof, Challenge, Query};

/// A registry seeded once per test process.
pub fn registry_path() -> PathBuf {
    static DB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("registry.sqlite");
        onshi_sim::registry::seed(&db, onshi_sim::registry::MIN_PEOPLE, 7).expect("seed registry");
        (dir, db)
    })
    .1
    .clone()
}

/// One probe row of the seeded registry: (insurer, symbol, number, branch, birth).
pub type Probe = (String, Option<String>, String, Option<String>, String);

/// The `i`-th person the registry says is insured and valid (`expected_validity` 1).
pub fn valid_probe(i: usize) -> Probe {
    let conn = Connection::open_with_flags(registry_path(), OpenFlags::SQLITE_OPEN_READ_ONLY).expect("registry");
    let mut stmt = conn
        .prepare("SELECT insurer_number, symbol, number, branch, birthdate FROM probes WHERE expected_validity = 1 AND expected_people = 1 ORDER BY id")
        .expect("probes");
    let rows: Vec<Probe> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .expect("probes")
        .collect::<Result<_, _>>()
        .expect("probes");
    rows[i % rows.len()].clone()
}

/// An `OQSsiquc01req` for [`valid_probe`] `i`, as UTF-8 bytes.
pub fn probe_request(i: usize) -> Vec<u8> {
    let (insurer, symbol, number, branch, birth) = valid_probe(i);
    let msg = Message::IndividualRequest(Msg {
        header: MessageHeader {
            qualification_confirmation_date: Some("20261125".into()),
            medical_institution_code: Some("0110113719".into()),
            ..Default::default()
        },
        body: IndividualRequestBody {
            search: Some(SearchInfo {
                insurer_number: Some(insurer),
                insured_card_symbol: symbol,
                insured_identification_number: Some(number),
                insured_branch_number: branch,
                birthdate: Some(birth),
                ..Default::default()
            }),
        },
    });
    msg.write(Encoding::Utf8)
}

/// The fake backend. Counts calls so tests can see what reached it.
pub struct FakeBackend {
    conn: Mutex<Connection>,
    batches: Mutex<BatchBook>,
    nonces: Mutex<HashSet<Vec<u8>>>,
    next: AtomicU64,
    /// Every proof received, for assertions (mode, consents).
    pub proofs: Mutex<Vec<CardProof>>,
    /// How many `query` calls were made.
    pub queries: AtomicU64,
    /// Every `query` request document, in order (the request type and bytes).
    pub sent: Mutex<Vec<(Query, Vec<u8>)>>,
    /// The card is not registered for insurance use (until `card_register`).
    pub unregistered: std::sync::atomic::AtomicBool,
    /// The fake's registry is read-only and shared by the tests, so the
    /// simulator's answer logic cannot register here. With this set, the fake
    /// accepts registrations without writing: a normal `OQSsiimm01res`, or
    /// for the bulk form an acknowledgement with a reception number and then
    /// results registering every entry.
    pub accept_references: std::sync::atomic::AtomicBool,
    /// With `accept_references`: how many more times a bulk registration's
    /// results are "still processing" before they come (`u32::MAX`: never).
    pub registration_processing: std::sync::atomic::AtomicU32,
    /// Added before every answer (to test that slow work does not block the service).
    pub delay: Duration,
}

impl FakeBackend {
    /// Batches are "processed" after `batch_delay`.
    pub fn new(batch_delay: Duration) -> Self {
        let conn = Connection::open_with_flags(registry_path(), OpenFlags::SQLITE_OPEN_READ_ONLY).expect("registry");
        FakeBackend {
            conn: Mutex::new(conn),
            batches: Mutex::new(BatchBook::new(batch_delay)),
            nonces: Mutex::new(HashSet::new()),
            next: AtomicU64::new(1),
            proofs: Mutex::new(Vec::new()),
            queries: AtomicU64::new(0),
            sent: Mutex::new(Vec::new()),
            unregistered: std::sync::atomic::AtomicBool::new(false),
            accept_references: std::sync::atomic::AtomicBool::new(false),
            registration_processing: std::sync::atomic::AtomicU32::new(0),
            delay: Duration::ZERO,
        }
    }

    fn answer(&self, query: Query, bytes: &[u8]) -> Result<Vec<u8>, BackendError> {
        let conn = self.conn.lock().map_err(|_| BackendError::Folder { detail: "poisoned".into() })?;
        let mut book = self.batches.lock().map_err(|_| BackendError::Folder { detail: "poisoned".into() })?;
        let name = format!("{}_1.xml", query.prefix());
        let now = onshi_sim::folder::now_jst();
        match answer::answer(&conn, &name, bytes, &now, Encoding::Utf8, &mut *book) {
            Answer::Reply(m) => Ok(m.write(Encoding::Utf8)),
            Answer::Accepted { reply, reception, batch } => {
                book.insert(reception, *batch);
                Ok(reply.write(Encoding::Utf8))
            }
            Answer::Refused { refusal, .. } => {
                Err(BackendError::Rejected { code: refusal.code.to_string(), message: refusal.message.ja.clone() })
            }
            other => Err(BackendError::BadAnswer { detail: format!("{other:?}") }),
        }
    }
}

/// The reception number the fake gives every bulk registration.
pub const FAKE_RECEPTION: &str = "R0000000099";

/// A normal answer to a registration request (see `accept_references`);
/// the results of a bulk one register every entry of `last_bulk`, the
/// last bulk request sent.
fn reference_answer(query: Query, request_xml: &[u8], last_bulk: Option<&[u8]>) -> Option<Vec<u8>> {
    use onshi_core::codes::ProcessingResultStatus;
    use onshi_core::message::{ReceptionBody, Registration};
    let parsed = onshi_core::parse(request_xml).ok()?;
    let header = MessageHeader { medical_institution_code: Some("0110113719".into()), ..Default::default() };
    let reply = match (query, parsed.message) {
        (Query::ReferenceRegister, Message::RegistrationRequest(m)) => Message::RegistrationResult(Msg {
            header,
            body: Registration { processing_result_status: Some(ProcessingResultStatus::Normal), ..m.body },
        }),
        (Query::BulkReferenceRegister, Message::BulkRegistrationRequest(_)) => Message::BatchUploadResult(Msg {
            header: MessageHeader { reception_number: Some(FAKE_RECEPTION.into()), ..header },
            body: ReceptionBody {
                reception_number: Some(FAKE_RECEPTION.into()),
                processing_result_status: Some(ProcessingResultStatus::Normal),
                ..Default::default()
            },
        }),
        (Query::BulkReferenceResult, Message::BatchDownloadRequest(_)) => {
            let Message::BulkRegistrationRequest(bulk) = onshi_core::parse(last_bulk?).ok()?.message else { return None };
            let units = bulk
                .body
                .units
                .into_iter()
                .map(|u| Registration { processing_result_status: Some(ProcessingResultStatus::Normal), ..u })
                .collect();
            Message::BulkRegistrationResult(Msg {
                header,
                body: onshi_core::message::BulkRegistrationBody {
                    processing_result_status: Some(ProcessingResultStatus::Normal),
                    units,
                    ..Default::default()
                },
            })
        }
        _ => return None,
    };
    Some(reply.write(Encoding::Utf8))
}

fn verifies(proof: &CardProof) -> bool {
    use rsa::pkcs8::DecodePublicKey;
    use sha2::{Digest, Sha256};
    let Ok((_, x509)) = x509_parser::parse_x509_certificate(&proof.certificate_der) else { return false };
    let Ok(key) = rsa::RsaPublicKey::from_public_key_der(x509.public_key().raw) else { return false };
    key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&proof.nonce), &proof.signature).is_ok()
}

impl Backend for FakeBackend {
    fn kind(&self) -> WireBackend {
        WireBackend::Gateway
    }

    fn query<'a>(&'a self, query: Query, request_xml: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(async move {
            self.queries.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut s) = self.sent.lock() {
                s.push((query, request_xml.to_vec()));
            }
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            let last_bulk = || {
                let sent = self.sent.lock().ok()?;
                sent.iter().rev().find(|(q, _)| *q == Query::BulkReferenceRegister).map(|(_, xml)| xml.clone())
            };
            let processing = query == Query::BulkReferenceResult
                && self
                    .registration_processing
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                        0 => None,
                        u32::MAX => Some(u32::MAX),
                        n => Some(n - 1),
                    })
                    .is_ok();
            if self.accept_references.load(Ordering::SeqCst) && processing {
                let still = MessageHeader { segment_of_result: Some(onshi_core::codes::SegmentOfResult::InProgress), reception_number: Some(FAKE_RECEPTION.into()), ..Default::default() };
                return Ok(Message::BatchDownloadResult(Msg { header: still, body: Default::default() }).write(Encoding::Utf8));
            }
            if self.accept_references.load(Ordering::SeqCst)
                && let Some(reply) = reference_answer(query, request_xml, last_bulk().as_deref())
            {
                return Ok(reply);
            }
            self.answer(query, request_xml)
        })
    }

    fn card_challenge(&self) -> BoxFuture<'_, Result<Challenge, BackendError>> {
        Box::pin(async move {
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            let nonce = format!("nonce-{}", self.next.fetch_add(1, Ordering::Relaxed)).into_bytes();
            if let Ok(mut n) = self.nonces.lock() {
                n.insert(nonce.clone());
            }
            Ok(Challenge { nonce, expires_in: Duration::from_secs(60) })
        })
    }

    fn card_confirm<'a>(&'a self, proof: &'a CardProof) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(self.card(proof, false))
    }

    fn card_register<'a>(&'a self, proof: &'a CardProof) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(self.card(proof, true))
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async { Ok(()) })
    }
}

impl FakeBackend {
    /// `card/confirm` and `card/register`, in the gateway's order: nonce, signature, registration.
    async fn card(&self, proof: &CardProof, register: bool) -> Result<Vec<u8>, BackendError> {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let fresh = self.nonces.lock().map(|mut n| n.remove(&proof.nonce)).unwrap_or(false);
        if !fresh {
            return Err(BackendError::Rejected { code: "NONCE".into(), message: "unknown or used nonce".into() });
        }
        // Visual check: the card cannot sign without a PIN, so there is no signature to check.
        let visual = proof.mode == onshi_core::protocol::ConfirmMode::Visual && proof.signature.is_empty();
        if !visual && !verifies(proof) {
            return Err(BackendError::Rejected { code: "SIGNATURE".into(), message: "bad signature".into() });
        }
        if let Ok(mut p) = self.proofs.lock() {
            p.push(proof.clone());
        }
        let refuse = |code: onshi_core::gateway_wire::ErrorCode| {
            let m = code.message();
            Err(BackendError::Rejected { code: code.as_str().into(), message: format!("{} / {}", m.ja, m.en) })
        };
        let unregistered = self.unregistered.load(Ordering::SeqCst);
        match (register, unregistered) {
            (false, true) => return refuse(onshi_core::gateway_wire::ErrorCode::CardNotRegistered),
            (true, false) => return refuse(onshi_core::gateway_wire::ErrorCode::AlreadyRegistered),
            (true, true) => self.unregistered.store(false, Ordering::SeqCst),
            (false, false) => {}
        }
        self.answer(Query::Individual, &probe_request(0))
    }
}
