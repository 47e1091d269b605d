//! The gateway backend: HTTPS with mutual TLS to the closed network
//! (design.md "Gateway protocol"). reqwest over rustls with the `ring`
//! provider; the gateway CA is pinned from the config (no system roots),
//! and the clinic's client certificate is presented on every connection.
//!
//! Retries with exponential backoff happen only for idempotent queries
//! ([`Query::idempotent`]) and challenges, and only for failures that may
//! pass ([`BackendError::retryable`]); a card confirm or register is sent
//! exactly once, because its nonce is single-use.
//!
//! Answers: 2xx → the body. A refused XML request (HTTP 4xx with an error
//! result document) and a refused card proof (HTTP 4xx with the JSON
//! [`ErrorBody`]) → [`BackendError::Rejected`] with the system's code
//! (for cards, the wire name: `ErrorCode::CardNotRegistered.as_str()` is how
//! reception learns it may offer registration); 5xx → `Http`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use onshi_core::disaster::wire::{GatewaySearch, GatewayStatus};
use onshi_core::gateway_wire::{CardProofRequest, ChallengeResponse, ErrorBody, base64, paths};
use onshi_core::text::{Bilingual, Explain};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{Backend, BackendError, BoxFuture, CardProof, Challenge, Query};
use crate::config::{self, Config};

/// Why a gateway backend could not be built from its files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewaySetupError {
    /// The config selects another backend.
    #[error("the configured backend is not the gateway")]
    NotGateway,
    /// A PEM file is missing or holds no usable certificate or key.
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    /// The certificate and key do not fit together, or TLS refused the setup.
    #[error("TLS setup: {0}")]
    Tls(String),
}

impl Explain for GatewaySetupError {
    fn explain(&self) -> Bilingual {
        let ja = match self {
            GatewaySetupError::NotGateway => "設定の接続方式が gateway ではありません。設定ファイルの [backend] を確認してください。".to_string(),
            GatewaySetupError::Pem { path, .. } => {
                format!("証明書または鍵のファイル {} を読めません。設定ファイルのパスとファイルの中身を IT 担当者に確認してもらってください。", path.display())
            }
            GatewaySetupError::Tls(_) => "クライアント証明書と秘密鍵が対応していません。正しい組み合わせを設定してください。".to_string(),
        };
        Bilingual::new(ja, format!("{self}. Check the [backend] files in the config."))
    }
}

/// Where and how to reach the gateway.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// `https://host:port` (a trailing `/` is ignored).
    pub url: String,
    /// The gateway CA (PEM); the only trust anchor.
    pub ca: PathBuf,
    /// The clinic client certificate (PEM; may hold its chain).
    pub client_cert: PathBuf,
    /// Its private key (PEM, PKCS#8 / SEC1 / PKCS#1).
    pub client_key: PathBuf,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Tries per idempotent call (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; doubled for each further one.
    pub backoff: Duration,
}

/// The HTTPS + mTLS backend.
pub struct GatewayBackend {
    client: reqwest::Client,
    base: String,
    settings: GatewaySettings,
}

impl std::fmt::Debug for GatewayBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBackend").field("url", &self.base).finish_non_exhaustive()
    }
}

fn pem_err(path: &Path, reason: impl std::fmt::Display) -> GatewaySetupError {
    GatewaySetupError::Pem { path: path.to_path_buf(), reason: reason.to_string() }
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, GatewaySetupError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(path, e))?;
    if certs.is_empty() {
        return Err(pem_err(path, "no CERTIFICATE block"));
    }
    Ok(certs)
}

impl GatewayBackend {
    /// The backend the config describes (3 tries, 200 ms first backoff).
    pub fn from_config(config: &Config) -> Result<Self, GatewaySetupError> {
        let config::Backend::Gateway { url, ca, client_cert, client_key } = &config.backend else {
            return Err(GatewaySetupError::NotGateway);
        };
        Self::new(GatewaySettings {
            url: url.clone(),
            ca: ca.clone(),
            client_cert: client_cert.clone(),
            client_key: client_key.clone(),
            connect_timeout: Duration::from_secs(config.timeouts.connect_secs),
            request_timeout: Duration::from_secs(config.timeouts.request_secs),
            attempts: 3,
            backoff: Duration::from_millis(200),
        })
    }

    /// Reads the PEM files and builds the TLS client (no connection yet).
    pub fn new(settings: GatewaySettings) -> Result<Self, GatewaySetupError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in certificates(&settings.ca)? {
            roots.add(cert).map_err(|e| pem_err(&settings.ca, e))?;
        }
        let chain = certificates(&settings.client_cert)?;
        let key = PrivateKeyDer::from_pem_file(&settings.client_key).map_err(|e| pem_err(&settings.client_key, e))?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| GatewaySetupError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| GatewaySetupError::Tls(e.to_string()))?;
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .https_only(true)
            .build()
            .map_err(|e| GatewaySetupError::Tls(e.to_string()))?;
        Ok(GatewayBackend { client, base: settings.url.trim_end_matches('/').to_string(), settings })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// One POST, its failures mapped; `Ok` only for a 2xx answer.
    async fn post_once(&self, path: &str, content_type: &'static str, body: Vec<u8>) -> Result<Vec<u8>, BackendError> {
        let response = self
            .client
            .post(self.url(path))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| self.map_error(&e))?;
        self.body(response).await
    }

    /// An answer's body: `Ok` only for a 2xx status, else the refusal it carries.
    async fn body(&self, response: reqwest::Response) -> Result<Vec<u8>, BackendError> {
        let status = response.status().as_u16();
        let is_json = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let bytes = response.bytes().await.map_err(|e| self.map_error(&e))?.to_vec();
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        Err(refusal(status, is_json, &bytes))
    }

    /// One GET (a read: retried like an idempotent query), its failures mapped.
    async fn get(&self, path: &str) -> Result<Vec<u8>, BackendError> {
        let attempts = self.settings.attempts.max(1);
        let mut wait = self.settings.backoff;
        let mut attempt = 1;
        loop {
            let once = async {
                let response = self.client.get(self.url(path)).send().await.map_err(|e| self.map_error(&e))?;
                self.body(response).await
            };
            match once.await {
                Err(e) if attempt < attempts && e.retryable() => {
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// `post_once`, retried with backoff while the failure is retryable.
    async fn post(&self, path: &str, content_type: &'static str, body: &[u8], retry: bool) -> Result<Vec<u8>, BackendError> {
        let attempts = if retry { self.settings.attempts.max(1) } else { 1 };
        let mut wait = self.settings.backoff;
        let mut attempt = 1;
        loop {
            match self.post_once(path, content_type, body.to_vec()).await {
                Err(e) if attempt < attempts && e.retryable() => {
                    tokio::time::sleep(wait).await;
                    wait = wait.saturating_mul(2);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn map_error(&self, e: &reqwest::Error) -> BackendError {
        if let Some(tls) = tls_cause(e) {
            return BackendError::Tls { detail: tls };
        }
        if e.is_timeout() {
            let after = if e.is_connect() { self.settings.connect_timeout } else { self.settings.request_timeout };
            return BackendError::Timeout { after };
        }
        BackendError::Unreachable { detail: chain(e), retryable: true }
    }

    async fn proof(&self, path: &str, proof: &CardProof) -> Result<Vec<u8>, BackendError> {
        let body = CardProofRequest {
            certificate: base64::encode(&proof.certificate_der),
            signature: base64::encode(&proof.signature),
            nonce: base64::encode(&proof.nonce),
            mode: proof.mode,
            consents: proof.consents,
        };
        let json = serde_json::to_vec(&body).map_err(|e| BackendError::BadAnswer { detail: e.to_string() })?;
        // Never retried: the gateway spends the nonce on the first try.
        self.post(path, "application/json", &json, false).await
    }

    /// `card/register`: registers an unregistered card for insurance use
    /// (after a `card_not_registered` refusal and the patient's consent) and
    /// returns the face-style result. Needs a fresh challenge and signature.
    pub async fn register(&self, proof: &CardProof) -> Result<Vec<u8>, BackendError> {
        self.proof(paths::REGISTER, proof).await
    }
}

/// The whole source chain of an error, for a detail line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A rustls error anywhere in the chain. An `io::Error` hides the error it
/// wraps from `source()` (it returns the inner error's source), and the
/// connectors nest them, so each one is opened with `get_ref`.
fn tls_cause(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(t) = e.downcast_ref::<rustls::Error>() {
        return Some(t.to_string());
    }
    if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
        let inner: &(dyn std::error::Error + 'static) = inner;
        if let Some(t) = tls_cause(inner) {
            return Some(t);
        }
    }
    e.source().and_then(tls_cause)
}

/// A non-2xx answer as a backend error.
fn refusal(status: u16, is_json: bool, body: &[u8]) -> BackendError {
    let excerpt = || String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    if status >= 500 {
        return BackendError::Http { status, body_excerpt: excerpt() };
    }
    if is_json && let Ok(e) = serde_json::from_slice::<ErrorBody>(body) {
        return BackendError::Rejected { code: e.code.as_str().to_string(), message: format!("{} / {}", e.message.ja, e.message.en) };
    }
    // A refused XML request: the error result document carries the code.
    if let Ok(parsed) = onshi_core::parse(body)
        && let onshi_core::Message::IndividualResult(m) = parsed.message
        && let Some(code) = m.body.processing_result_code.or(m.header.error_code)
    {
        let message = m.body.processing_result_message.or(m.header.error_message).unwrap_or_default();
        return BackendError::Rejected { code, message };
    }
    BackendError::Http { status, body_excerpt: excerpt() }
}

impl Backend for GatewayBackend {
    fn kind(&self) -> onshi_core::protocol::Backend {
        onshi_core::protocol::Backend::Gateway
    }

    fn query<'a>(&'a self, query: Query, request_xml: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(async move {
            let path = format!("{}{}", paths::PREFIX, query.prefix());
            self.post(&path, "application/xml", request_xml, query.idempotent()).await
        })
    }

    fn card_challenge(&self) -> BoxFuture<'_, Result<Challenge, BackendError>> {
        Box::pin(async move {
            // Asking twice only issues two nonces; safe to retry.
            let bytes = self.post(paths::CHALLENGE, "application/json", b"{}", true).await?;
            let c: ChallengeResponse =
                serde_json::from_slice(&bytes).map_err(|e| BackendError::BadAnswer { detail: format!("challenge: {e}") })?;
            let nonce = base64::decode(&c.nonce).ok_or_else(|| BackendError::BadAnswer { detail: "challenge: nonce is not base64".into() })?;
            Ok(Challenge { nonce, expires_in: Duration::from_secs(c.expires_in_secs) })
        })
    }

    fn card_confirm<'a>(&'a self, proof: &'a CardProof) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(self.proof(paths::CONFIRM, proof))
    }

    fn disaster_status(&self) -> BoxFuture<'_, Result<GatewayStatus, BackendError>> {
        Box::pin(async move {
            let bytes = self.get(paths::DISASTER).await?;
            serde_json::from_slice(&bytes).map_err(|e| BackendError::BadAnswer { detail: format!("disaster status: {e}") })
        })
    }

    fn disaster_search<'a>(&'a self, search: &'a GatewaySearch) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(async move {
            let json = serde_json::to_vec(search).map_err(|e| BackendError::BadAnswer { detail: e.to_string() })?;
            // A search only reads; asking twice changes nothing.
            self.post(paths::DISASTER_SEARCH, "application/json", &json, true).await
        })
    }

    fn card_register<'a>(&'a self, proof: &'a CardProof) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(self.register(proof))
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            // Any HTTP answer proves the network, TLS and our certificate work.
            self.client.get(self.url(paths::PREFIX)).send().await.map(|_| ()).map_err(|e| self.map_error(&e))
        })
    }
}
