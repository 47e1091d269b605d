//! The closed network's gateway, simulated: HTTPS with mutual TLS (rustls,
//! `ring` provider) in front of the registry's answer logic and a My Number
//! card confirmation service (design.md "Gateway protocol").
//!
//! - The client certificate must chain to the clinic CA of the test PKI
//!   (no certificate, or one from another CA: the handshake is refused); its
//!   subject serialNumber is the 医療機関コード that goes into the log.
//! - `POST /oqs/v1/{prefix}`: the XmlMsg request is answered by
//!   [`answer::answer`], exactly as the OQS folder answers it; batches live in
//!   the same [`BatchBook`]. The request's MedicalInstitutionCode must be
//!   the certificate's. A refused request gets HTTP 400 (403 for another
//!   institution's code) and the error result document
//!   (ProcessingResultStatus 2) as its body. A batch is worked out in the
//!   background right after its upload; downloads answer SegmentOfResult 2
//!   until it is written (and the configured delay has passed), then send
//!   the written bytes.
//! - `POST /oqs/v1/card/{challenge,confirm,register}`: JSON of
//!   [`onshi_core::gateway_wire`]; refusals are an [`ErrorBody`] with the
//!   status of [`ErrorCode::http_status`]. A nonce is spent by the first
//!   confirm or register that names it, whatever the outcome, so a proof can
//!   never be tried twice. In a visual check (目視確認, `mode: "visual"`)
//!   the staff compared the card photo, and the card cannot sign without the
//!   PIN: the signature is not asked for, every other check still is.
//! - Faults (latency, 5xx, dropped connections, a stalled body) are drawn per
//!   request; the request log is JSON lines without any body content (the
//!   refusal code, when there is one, says why a request was refused; a card
//!   request also logs its confirmation mode, `pin` or `visual`; every answer
//!   its length and SHA-256, so tests can prove an export byte-identical).

use std::collections::HashMap;
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use http_body_util::BodyExt as _;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use onshi_core::protocol::ConfirmMode;
use onshi_core::gateway_wire::{CardProofRequest, ChallengeResponse, ErrorBody, ErrorCode, base64, paths};
use onshi_core::cert_validity::{self, Standing};
use onshi_core::codes::{CodeValue, ConsentFlag};
use onshi_core::text::Bilingual;
use onshi_core::wareki::Date;
use onshi_core::message::BatchUnit;
use onshi_core::{Encoding, Message};
use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::Pkcs1v15Sign;
use rusqlite::{Connection, OpenFlags};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::answer::{self, Answer, PendingBatch, Refusal, Written};
use crate::folder::{BatchBook, SharedBatches, now_jst};
use crate::pki::PkiLayout;

/// The request message names the gateway answers at `/oqs/v1/{prefix}`.
pub const PREFIXES: [&str; 8] = [
    "OQSsiquc01req",
    "OQSmuquc01req",
    "OQSmuquc02req",
    "OQSsiimm01req",
    "OQSmuimm01req",
    "OQSmuimm02req",
    "YZKsiquc01req",
    "TKKsiquc01req",
];

/// Largest request body read (a 10,000-person batch is about 3 MB).
const MAX_BODY: usize = 64 << 20;

/// Fault injection, drawn independently for every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Added before every answer.
    pub latency: Duration,
    /// Percentage of requests answered 503 `unavailable`.
    pub error_percent: u8,
    /// Percentage of requests whose connection is closed without an answer.
    pub drop_percent: u8,
    /// The body stops halfway for this long.
    pub slow_body: Duration,
}

/// Options of `onshi-sim gateway`.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    pub db: PathBuf,
    pub pki: PathBuf,
    /// `127.0.0.1:0` picks a free port (see [`Gateway::addr`]).
    pub listen: String,
    pub batch_delay: Duration,
    /// How long a card challenge nonce is accepted.
    pub nonce_ttl: Duration,
    pub encoding: Encoding,
    pub faults: Faults,
    /// JSON-lines request log.
    pub log: Option<PathBuf>,
    /// The day card certificates are judged on (core `cert_validity`);
    /// `None` = today in Japan by the clock. Tests pin it.
    pub today: Option<Date>,
}

impl GatewayOptions {
    /// Defaults for everything but the files: loopback, any port, 1 s batch delay, 120 s nonces, Shift_JIS.
    pub fn new(db: impl Into<PathBuf>, pki: impl Into<PathBuf>) -> Self {
        GatewayOptions {
            db: db.into(),
            pki: pki.into(),
            listen: "127.0.0.1:0".into(),
            batch_delay: Duration::from_secs(1),
            nonce_ttl: Duration::from_secs(120),
            encoding: Encoding::ShiftJis,
            faults: Faults::default(),
            log: None,
            today: None,
        }
    }
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    #[error("{path}: {reason}")]
    Pki { path: PathBuf, reason: String },
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("cannot open the registry {path}: {source}")]
    Registry { path: PathBuf, source: rusqlite::Error },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
    #[error("cannot open the request log {path}: {source}")]
    Log { path: PathBuf, source: std::io::Error },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl GatewayError {
    pub fn explain(&self) -> Bilingual {
        let ja = match self {
            GatewayError::Pki { path, .. } => {
                format!("証明書または鍵 {} を読めません。`onshi-sim pki init` でテスト用 PKI を作ってください。", path.display())
            }
            GatewayError::Tls(_) => "TLS の設定を作れませんでした。テスト用 PKI を作り直してください。".into(),
            GatewayError::Registry { path, .. } => {
                format!("資格情報データベース {} を開けません。`onshi-sim registry seed` で作ってください。", path.display())
            }
            GatewayError::Listen { addr, .. } => format!("{addr} で待ち受けできません。別のポートを指定してください。"),
            GatewayError::Log { path, .. } => format!("要求ログ {} を開けません。場所と権限を確認してください。", path.display()),
            GatewayError::Runtime(_) => "ゲートウェイを起動できませんでした。".into(),
        };
        Bilingual { ja, en: self.to_string() }
    }
}

fn pki_err(path: &Path, reason: impl std::fmt::Display) -> GatewayError {
    GatewayError::Pki { path: path.to_path_buf(), reason: reason.to_string() }
}

/// The 医療機関コード in a clinic certificate (subject serialNumber, see `pki`).
pub fn institution_of(cert_der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let attr = cert.subject().iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER).next()?;
    attr.as_str().ok().map(str::to_string)
}

/// The JPKI test CA: checks a card certificate and yields its person and key.
struct JpkiTrust {
    subject: Vec<u8>,
    key: RsaPublicKey,
}

impl JpkiTrust {
    fn load(path: &Path) -> Result<Self, GatewayError> {
        let der = CertificateDer::from_pem_file(path).map_err(|e| pki_err(path, e))?;
        let (_, ca) = x509_parser::parse_x509_certificate(&der).map_err(|e| pki_err(path, e))?;
        let key = RsaPublicKey::from_public_key_der(ca.public_key().raw).map_err(|e| pki_err(path, e))?;
        Ok(JpkiTrust { subject: ca.subject().as_raw().to_vec(), key })
    }

    /// The person id (subject serialNumber), public key and certificate
    /// standing (core `cert_validity` on `today`) of a card certificate
    /// issued by this CA. Expiry is judged by the core rule, not by
    /// notAfter alone: a lapsed certificate is still the lookup key for the
    /// qualification during its grace.
    fn verify(&self, der: &[u8], today: Date) -> Result<(String, RsaPublicKey, Standing), ErrorCode> {
        let untrusted = ErrorCode::UntrustedCertificate;
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| untrusted)?;
        let not_yet_valid = cert.validity().not_before.timestamp() > (today.days() + 1) * 86_400;
        if cert.issuer().as_raw() != self.subject.as_slice() || not_yet_valid {
            return Err(untrusted);
        }
        let not_after = cert_validity::not_after_unix(der).ok_or(untrusted)?;
        let standing = cert_validity::standing(cert_validity::expiry_day(not_after, JST_MINUTES), today);
        // sha256WithRSAEncryption is the only algorithm the JPKI test CA uses.
        if cert.signature_algorithm.algorithm.to_id_string() != "1.2.840.113549.1.1.11" {
            return Err(untrusted);
        }
        let digest = Sha256::digest(cert.tbs_certificate.as_ref());
        self.key.verify(Pkcs1v15Sign::new::<Sha256>(), &digest, &cert.signature_value.data).map_err(|_| untrusted)?;
        let person = cert
            .subject()
            .iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER)
            .next()
            .and_then(|a| a.as_str().ok())
            .ok_or(ErrorCode::UnknownCertificate)?
            .to_string();
        let key = RsaPublicKey::from_public_key_der(cert.public_key().raw).map_err(|_| untrusted)?;
        Ok((person, key, standing))
    }
}

/// Issued card nonces: expiry and whether spent.
struct NonceBook {
    ttl: Duration,
    issued: HashMap<[u8; 32], (Instant, bool)>,
}

impl NonceBook {
    fn issue(&mut self) -> Result<[u8; 32], getrandom::Error> {
        let mut nonce = [0u8; 32];
        getrandom::getrandom(&mut nonce)?;
        let now = Instant::now();
        // Forget nonces long past their expiry so the book stays small; a
        // proof that late is refused as unknown instead of expired.
        let keep = self.ttl.max(Duration::from_secs(60));
        self.issued.retain(|_, (expiry, _)| now < *expiry + keep);
        self.issued.insert(nonce, (now + self.ttl, false));
        Ok(nonce)
    }

    /// Spends a nonce; refuses one never issued, already spent or expired.
    fn spend(&mut self, nonce: &[u8]) -> Result<(), ErrorCode> {
        let key: [u8; 32] = nonce.try_into().map_err(|_| ErrorCode::UnknownNonce)?;
        let (expiry, spent) = self.issued.get_mut(&key).ok_or(ErrorCode::UnknownNonce)?;
        if *spent {
            return Err(ErrorCode::ReplayedNonce);
        }
        *spent = true;
        if Instant::now() >= *expiry {
            return Err(ErrorCode::ExpiredNonce);
        }
        Ok(())
    }
}

/// The JSON-lines request log.
struct RequestLog(Mutex<std::fs::File>);

impl RequestLog {
    fn write(&self, line: serde_json::Value) {
        let mut text = line.to_string();
        text.push('\n');
        // One write per line, so concurrent lines never interleave; a failing
        // log must not take the gateway down.
        let _ = lock(&self.0).write_all(text.as_bytes());
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

struct State {
    conns: Vec<Mutex<Connection>>,
    next_conn: AtomicUsize,
    batches: Mutex<BatchBook>,
    nonces: Mutex<NonceBook>,
    jpki: JpkiTrust,
    encoding: Encoding,
    faults: Faults,
    log: Option<RequestLog>,
    today: Option<Date>,
}

/// Japan's offset: the gateway's calendar is the national system's.
const JST_MINUTES: i32 = 9 * 60;

impl State {
    /// The day card certificates are judged on.
    fn today(&self) -> Date {
        self.today.unwrap_or_else(|| Date::parse_yyyymmdd(&now_jst()[..8]).unwrap_or(Date::from_days(0)))
    }

    /// Runs `f` on a free registry connection (blocking; call from a blocking task).
    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let start = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let n = self.conns.len();
        for i in 0..n {
            if let Ok(c) = self.conns[(start + i) % n].try_lock() {
                return f(&c);
            }
        }
        f(&lock(&self.conns[start % n]))
    }
}

/// A running gateway. Dropping it stops accepting connections.
pub struct Gateway {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Loads the PKI and registry, binds and starts serving on the current tokio runtime.
    pub async fn start(opts: &GatewayOptions) -> Result<Gateway, GatewayError> {
        let layout = PkiLayout::new(&opts.pki);
        let tls = server_config(&layout)?;
        let jpki = JpkiTrust::load(&layout.jpki_ca())?;
        // One connection per core, plus one: answers are CPU work in SQLite.
        let n = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            conns.push(Mutex::new(open_registry(&opts.db)?));
        }
        let log = match &opts.log {
            Some(path) => Some(RequestLog(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| GatewayError::Log { path: path.clone(), source })?,
            ))),
            None => None,
        };
        let state = Arc::new(State {
            conns,
            next_conn: AtomicUsize::new(0),
            batches: Mutex::new(BatchBook::new(opts.batch_delay)),
            nonces: Mutex::new(NonceBook { ttl: opts.nonce_ttl, issued: HashMap::new() }),
            jpki,
            encoding: opts.encoding,
            faults: opts.faults,
            log,
            today: opts.today,
        });
        let listener =
            TcpListener::bind(&opts.listen).await.map_err(|source| GatewayError::Listen { addr: opts.listen.clone(), source })?;
        let addr = listener.local_addr().map_err(|source| GatewayError::Listen { addr: opts.listen.clone(), source })?;
        let task = tokio::spawn(accept_loop(listener, TlsAcceptor::from(tls), state));
        Ok(Gateway { addr, task })
    }

    /// The bound address (the port, when `listen` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Runs the gateway until the process ends; prints `gateway ready: https://ADDR/` once listening.
pub fn run(opts: &GatewayOptions) -> Result<(), GatewayError> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(GatewayError::Runtime)?;
    rt.block_on(async {
        let gw = Gateway::start(opts).await?;
        println!("gateway ready: {}/", gw.url());
        let _ = std::io::stdout().flush();
        // SIGINT/SIGTERM keep their default action; this only parks the main task.
        std::future::pending::<()>().await;
        Ok(())
    })
}

fn open_registry(db: &Path) -> Result<Connection, GatewayError> {
    let err = |source| GatewayError::Registry { path: db.to_path_buf(), source };
    // Read-write: `card/register` sets the registration flag.
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
    conn.query_row("SELECT count(*) FROM people", [], |r| r.get::<_, i64>(0)).map_err(err)?;
    Ok(conn)
}

fn server_config(layout: &PkiLayout) -> Result<Arc<rustls::ServerConfig>, GatewayError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let clinic_ca = layout.clinic_ca();
    for cert in CertificateDer::pem_file_iter(&clinic_ca).map_err(|e| pki_err(&clinic_ca, e))? {
        roots.add(cert.map_err(|e| pki_err(&clinic_ca, e))?).map_err(|e| pki_err(&clinic_ca, e))?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| GatewayError::Tls(e.to_string()))?;
    let server = layout.gateway_server();
    let chain = CertificateDer::pem_file_iter(&server)
        .map_err(|e| pki_err(&server, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pki_err(&server, e))?;
    let key_path = layout.gateway_server_key();
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| pki_err(&key_path, e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GatewayError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| GatewayError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn accept_loop(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<State>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                eprintln!("接続を受け付けられません / accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, state) = (acceptor.clone(), state.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    if let Some(log) = &state.log {
                        log.write(serde_json::json!({"ts_ms": epoch_ms(), "peer": peer.to_string(), "event": "tls_refused", "reason": e.to_string()}));
                    }
                    return;
                }
                Err(_) => return,
            };
            let institution: Arc<str> = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| institution_of(c))
                .unwrap_or_default()
                .into();
            let service = hyper::service::service_fn(move |req| handle(state.clone(), institution.clone(), req));
            // A broken or dropped connection is the client's business; nothing to report.
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
        });
    }
}

/// A connection closed without an answer (fault injection).
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
struct Dropped;

async fn handle(state: Arc<State>, institution: Arc<str>, req: Request<Incoming>) -> Result<Response<GwBody>, Dropped> {
    let start = Instant::now();
    let path = req.uri().path().to_string();
    let outcome = route(&state, &institution, req).await;
    if let Some(log) = &state.log {
        // The path names the kind, the refusal code says why; bodies
        // (certificates, signatures, XML) are never logged.
        let status = outcome.as_ref().map_or(0, |r| r.status().as_u16());
        let refusal = outcome.as_ref().ok().and_then(|r| r.extensions().get::<RefusalCode>()).map(|c| c.0.clone());
        let mode = outcome.as_ref().ok().and_then(|r| r.extensions().get::<CardMode>()).map(|m| m.0);
        let treatment = outcome.as_ref().ok().and_then(|r| r.extensions().get::<TreatmentFlag>()).map(|t| t.0.clone());
        let sent = outcome.as_ref().ok().and_then(|r| r.extensions().get::<SentBody>());
        log.write(serde_json::json!({
            "ts_ms": epoch_ms(),
            "institution": &*institution,
            "path": path,
            "status": status,
            "refusal": refusal,
            "mode": mode,
            "treatment_flag": treatment,
            "dropped": outcome.is_err(),
            "body_bytes": sent.map(|b| b.0.len()),
            "body_sha256": sent.map(|b| crate::sent::sha256_hex(&b.0)),
            "duration_ms": start.elapsed().as_millis() as u64,
        }));
    }
    outcome
}

/// The code of a refused request (`"EQ1006"`, `"replayed_nonce"`), kept on
/// the response for the request log.
#[derive(Debug, Clone)]
struct RefusalCode(String);

/// How a card confirmation was made (`"pin"`, `"visual"`), kept on the
/// response for the request log: a visual check is trusted on the staff's
/// word, so the log must say which confirmations rest on it.
#[derive(Debug, Clone, Copy)]
struct CardMode(&'static str);

/// The `MedicalTreatmentFlag` of an answered viewing request (`"2"` for a
/// home visit), for the request log: tests read it to see what was asked.
#[derive(Debug, Clone)]
struct TreatmentFlag(String);

/// The body sent (a cheap reference-counted handle), for the request log's
/// length and SHA-256 ([`crate::sent`]): enough to prove an export
/// byte-identical without logging the body.
#[derive(Debug, Clone)]
struct SentBody(Bytes);

fn chance(percent: u8) -> bool {
    if percent == 0 {
        return false;
    }
    let mut b = [0u8; 4];
    getrandom::getrandom(&mut b).is_ok() && u32::from_le_bytes(b) % 100 < u32::from(percent)
}

async fn route(state: &Arc<State>, institution: &Arc<str>, req: Request<Incoming>) -> Result<Response<GwBody>, Dropped> {
    let faults = state.faults;
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    if chance(faults.drop_percent) {
        return Err(Dropped);
    }
    if chance(faults.error_percent) {
        return Ok(error(ErrorCode::Unavailable, None, faults.slow_body));
    }
    let path = req.uri().path().to_string();
    let kind = match path.as_str() {
        paths::CHALLENGE => Route::Challenge,
        paths::CONFIRM => Route::Card { register: false },
        paths::REGISTER => Route::Card { register: true },
        p => match p.strip_prefix(paths::PREFIX).and_then(|prefix| PREFIXES.iter().find(|k| **k == prefix)) {
            Some(prefix) => Route::Xml(prefix),
            None => return Ok(error(ErrorCode::NotFound, None, faults.slow_body)),
        },
    };
    if req.method() != Method::POST {
        return Ok(error(ErrorCode::NotFound, None, faults.slow_body));
    }
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(error(ErrorCode::BadRequest, None, faults.slow_body)),
    };
    let st = state.clone();
    let inst = institution.clone();
    let work = tokio::task::spawn_blocking(move || match kind {
        Route::Challenge => challenge(&st),
        Route::Card { register } => card(&st, &inst, &body, register),
        Route::Xml(prefix) => xml(&st, &inst, prefix, &body),
    });
    Ok(match work.await {
        Ok(reply) => respond(reply, faults.slow_body),
        Err(_) => error(ErrorCode::Unavailable, None, faults.slow_body),
    })
}

enum Route {
    Challenge,
    Card { register: bool },
    Xml(&'static str),
}

const XML: &str = "application/xml";
const JSON: &str = "application/json";

/// One answer, ready to send.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    bytes: Bytes,
    /// Set for a refusal: its code, for the request log.
    refusal: Option<String>,
    /// Set for a card request whose body was read: its confirmation mode, for the request log.
    mode: Option<&'static str>,
    /// Set for an answered viewing request: the `MedicalTreatmentFlag` it
    /// carried (echoed in the answer), for the request log.
    treatment: Option<String>,
}

impl Reply {
    fn ok(content_type: &'static str, bytes: impl Into<Bytes>) -> Reply {
        Reply { status: StatusCode::OK, content_type, bytes: bytes.into(), refusal: None, mode: None, treatment: None }
    }
}

fn json_error(code: ErrorCode, message: Option<Bilingual>) -> Reply {
    let body = ErrorBody { code, message: message.unwrap_or_else(|| code.message()) };
    let status = StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Reply {
        status,
        content_type: JSON,
        bytes: serde_json::to_vec(&body).unwrap_or_default().into(),
        refusal: Some(code.as_str().into()),
        mode: None,
        treatment: None,
    }
}

fn error(code: ErrorCode, message: Option<Bilingual>, slow: Duration) -> Response<GwBody> {
    respond(json_error(code, message), slow)
}

fn respond(reply: Reply, slow: Duration) -> Response<GwBody> {
    let sent = SentBody(reply.bytes.clone());
    let mut r = Response::new(GwBody::new(reply.bytes, slow));
    r.extensions_mut().insert(sent);
    *r.status_mut() = reply.status;
    r.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(reply.content_type));
    if let Some(code) = reply.refusal {
        r.extensions_mut().insert(RefusalCode(code));
    }
    if let Some(mode) = reply.mode {
        r.extensions_mut().insert(CardMode(mode));
    }
    if let Some(flag) = reply.treatment {
        r.extensions_mut().insert(TreatmentFlag(flag));
    }
    r
}

fn challenge(state: &State) -> Reply {
    let mut book = lock(&state.nonces);
    match book.issue() {
        Ok(nonce) => {
            let body = ChallengeResponse { nonce: base64::encode(&nonce), expires_in_secs: book.ttl.as_secs() };
            Reply::ok(JSON, serde_json::to_vec(&body).unwrap_or_default())
        }
        Err(_) => json_error(ErrorCode::Unavailable, None),
    }
}

fn registry_error(r: &Refusal) -> Reply {
    json_error(ErrorCode::Unavailable, Some(r.message.clone()))
}

/// `card/confirm` and `card/register`: the reply, with the confirmation
/// mode noted for the request log once the body could be read.
fn card(state: &State, institution: &str, body: &[u8], register: bool) -> Reply {
    let Ok(req) = serde_json::from_slice::<CardProofRequest>(body) else {
        return json_error(ErrorCode::BadRequest, None);
    };
    let mode = match req.mode {
        ConfirmMode::Pin => "pin",
        ConfirmMode::Visual => "visual",
    };
    Reply { mode: Some(mode), ..card_checked(state, institution, &req, register) }
}

/// The checks of a card proof: nonce, chain, signature (PIN mode only),
/// person (in that order).
fn card_checked(state: &State, institution: &str, req: &CardProofRequest, register: bool) -> Reply {
    let (Some(nonce), Some(cert), Some(signature)) =
        (base64::decode(&req.nonce), base64::decode(&req.certificate), base64::decode(&req.signature))
    else {
        return json_error(ErrorCode::BadRequest, None);
    };
    if let Err(code) = lock(&state.nonces).spend(&nonce) {
        return json_error(code, None);
    }
    let (person, key, standing) = match state.jpki.verify(&cert, state.today()) {
        Ok(v) => v,
        Err(code) => return json_error(code, None),
    };
    // The same rule as the helper's, so both sides agree: beyond the grace
    // the card is refused in every mode (the helper refuses it before any
    // PIN; this catches a helper whose clock or version disagrees).
    if !standing.qualification_allowed() {
        return json_error(ErrorCode::CertificateExpired, None);
    }
    // A visual check carries no signature: the user-authentication key
    // signs only after the PIN, and the patient typed none. The nonce was
    // still spent and the certificate still names a real person.
    let signed = match req.mode {
        ConfirmMode::Pin => key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(&nonce), &signature).is_ok(),
        ConfirmMode::Visual => true,
    };
    if !signed {
        return json_error(ErrorCode::BadSignature, None);
    }
    let encoding = state.encoding;
    state.with_conn(|conn| {
        let registered = match answer::card_registered(conn, &person) {
            Ok(Some(r)) => r,
            Ok(None) => return json_error(ErrorCode::UnknownCertificate, None),
            Err(r) => return registry_error(&r),
        };
        match (register, registered) {
            (false, false) => return json_error(ErrorCode::CardNotRegistered, None),
            (true, true) => return json_error(ErrorCode::AlreadyRegistered, None),
            (true, false) => {
                if let Err(r) = answer::register_card(conn, &person) {
                    return registry_error(&r);
                }
            }
            (false, true) => {}
        }
        match answer::card_result(conn, &person, institution, req.consents.limit_certificate, &now_jst(), encoding) {
            Ok(mut msg) => {
                qualification_only(&mut msg, standing);
                Reply::ok(XML, Message::FaceResult(msg).write(encoding))
            }
            Err(r) => registry_error(&r),
        }
    })
}

/// A lapsed certificate in its grace confirms the qualification only: the
/// medication, diagnosis, procedure and health-check consents read
/// "could not be obtained" (3), so no history view follows from this check,
/// and ProcessingResultMessage says why. The element text is ours (the
/// official wording is not public).
fn qualification_only(msg: &mut onshi_core::message::Msg<onshi_core::message::QualificationResultBody>, standing: Standing) {
    if standing.history_allowed() {
        return;
    }
    for r in &mut msg.body.results {
        for (flag, time, until) in [
            (&mut r.pharmacists_consent, &mut r.pharmacists_consent_time, &mut r.pharmacists_available_time),
            (&mut r.diagnosis_consent, &mut r.diagnosis_consent_time, &mut r.diagnosis_available_time),
            (&mut r.operation_consent, &mut r.operation_consent_time, &mut r.operation_available_time),
            (&mut r.checkup_consent, &mut r.checkup_consent_time, &mut r.checkup_available_time),
        ] {
            (*flag, *time, *until) = (Some(ConsentFlag::Unobtainable), None, None);
        }
    }
    msg.body.processing_result_message = Some("電子証明書の有効期限切れのため資格情報のみ提供".into());
}

/// An XmlMsg exchange. The request must name the institution of the client
/// certificate it came with. A batch upload is answered at once and its
/// results are worked out right away in the background ([`process_batch`]);
/// downloads see SegmentOfResult 2 until those are written, then the bytes.
fn xml(state: &Arc<State>, institution: &str, prefix: &str, body: &[u8]) -> Reply {
    let now = now_jst();
    // The answer logic takes a file name as the OQS folder gives one: the
    // URL's prefix is the only thing that tells OQSmuimm02req from
    // OQSmuquc02req (the documents are the same), so it must be the name's start.
    let name = format!("{prefix}_gateway.xml");
    let encoding = state.encoding;
    let mut batches = SharedBatches::new(&state.batches);
    let outcome = state.with_conn(|conn| answer::answer_certified(conn, &name, body, &now, encoding, &mut batches, Some(institution)));
    match outcome {
        Answer::Reply(msg) => {
            let treatment = msg.header().and_then(|h| h.medical_treatment_flag.as_ref()).map(|f| f.code().to_string());
            Reply { treatment, ..Reply::ok(XML, msg.write(encoding)) }
        }
        Answer::Written(Written(bytes)) => Reply::ok(XML, Bytes::from_owner(bytes)),
        Answer::Accepted { reply, reception, batch } => {
            let (batch, slot) = lock(&state.batches).insert_background(reception.clone(), *batch);
            let st = state.clone();
            let work = move || {
                // A bug that panics must not leave the batch "processing" for ever.
                let run = std::panic::AssertUnwindSafe(|| process_batch(&st, &batch, &reception));
                slot.fill(std::panic::catch_unwind(run).unwrap_or_else(|_| Err(worker_failed())));
            };
            // Normally on tokio's blocking pool; a caller outside the runtime
            // (not the case today) would wait for the work instead of losing it.
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => drop(rt.spawn_blocking(work)),
                Err(_) => work(),
            }
            Reply::ok(XML, reply.write(encoding))
        }
        Answer::Refused { refusal, result } => {
            // A clinic asking for another institution is forbidden, not malformed.
            let status =
                if refusal.code == answer::codes::INSTITUTION_MISMATCH { StatusCode::FORBIDDEN } else { StatusCode::BAD_REQUEST };
            Reply { status, content_type: XML, bytes: result.write(encoding).into(), refusal: Some(refusal.code.to_string()), mode: None, treatment: None }
        }
    }
}

/// Works out a whole batch right after its upload: the searches are split
/// into one slice per registry connection (at most one per core) and
/// answered at once, then the result document is written once, so every
/// download only sends bytes.
fn process_batch(state: &State, batch: &PendingBatch, reception: &str) -> Result<Written, Refusal> {
    let now = now_jst();
    let searches = &batch.upload.body.searches;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let slice = searches.len().div_ceil(cores.min(state.conns.len()).max(1)).max(1);
    let header = &batch.upload.header;
    let parts: Vec<Result<Vec<BatchUnit>, Refusal>> = std::thread::scope(|s| {
        let workers: Vec<_> = searches
            .chunks(slice)
            .map(|part| s.spawn(|| state.with_conn(|conn| answer::batch_units(conn, header, part, &now))))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or_else(|_| Err(worker_failed()))).collect()
    });
    let mut units = Vec::with_capacity(searches.len());
    for part in parts {
        units.extend(part?);
    }
    Ok(answer::written_batch(units, batch, reception, &now, state.encoding))
}

fn worker_failed() -> Refusal {
    Refusal::new(
        answer::codes::REGISTRY,
        "一括照会の処理中にゲートウェイで障害が起きました。もう一度一括照会を送ってください。",
        "the gateway failed while processing the batch; send the batch again",
    )
}

/// A response body that may stall halfway (the slow-body fault). Its exact
/// length is known up front, so Content-Length is sent.
pub struct GwBody {
    first: Option<Bytes>,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    rest: Option<Bytes>,
    len: u64,
}

impl GwBody {
    fn new(bytes: Bytes, slow: Duration) -> Self {
        let len = bytes.len() as u64;
        let mut all = bytes;
        if slow.is_zero() {
            return GwBody { first: Some(all).filter(|b| !b.is_empty()), pause: None, rest: None, len };
        }
        let rest = all.split_off(all.len() / 2);
        GwBody {
            first: Some(all).filter(|b| !b.is_empty()),
            pause: Some(Box::pin(tokio::time::sleep(slow))),
            rest: Some(rest).filter(|b| !b.is_empty()),
            len,
        }
    }
}

impl Body for GwBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Some(b) = this.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        if let Some(p) = this.pause.as_mut() {
            if p.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.pause = None;
        }
        Poll::Ready(this.rest.take().map(|b| Ok(Frame::data(b))))
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.pause.is_none() && self.rest.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.len)
    }
}

/// A TLS client setup for talking to a gateway from tests and the benchmark
/// (the helper has its own, production one): trusts only `ca` and presents
/// `identity` (certificate PEM, key PEM) when given.
pub fn client_tls(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<rustls::ClientConfig, GatewayError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| pki_err(ca, e))? {
        roots.add(cert.map_err(|e| pki_err(ca, e))?).map_err(|e| pki_err(ca, e))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| GatewayError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| pki_err(cert, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| pki_err(cert, e))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pki_err(key, e))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| GatewayError::Tls(e.to_string()))?
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
