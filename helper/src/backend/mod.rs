//! Eligibility backends: one trait for the two ways a clinic reaches the
//! closed network — the `gateway` (HTTPS + mutual TLS, design.md "Gateway
//! protocol") and the `oqs-folder` of an official terminal.
//!
//! The service holds an `Arc<dyn Backend>`; tests use an in-process fake.
//! Every method returns a boxed future so the trait stays object-safe (the
//! service picks the backend from the config at run time).
//!
//! Retrying is the backend's business, but only for idempotent queries:
//! a card confirm carries a single-use nonce and is never replayed.

#[cfg(test)]
pub mod fake;
pub mod folder;
pub mod gateway;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use onshi_core::disaster::wire::{GatewaySearch, GatewayStatus};
use onshi_core::protocol::{Consents, ConfirmMode};
use onshi_core::text::Bilingual;

/// A boxed, sendable future: what every backend method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The XML exchanges, one per request message type. `prefix()` is the
/// gateway path segment and the OQS-folder file-name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Query {
    /// `OQSsiquc01req`: one person by insurance-card numbers.
    Individual,
    /// `OQSmuquc01req`: upload a batch (the day-before pre-check).
    BatchUpload,
    /// `OQSmuquc02req`: fetch a batch's results (may be "still processing").
    BatchDownload,
    /// `OQSsiimm01req`: register one patient reference number.
    ReferenceRegister,
    /// `OQSmuimm01req`: register many reference numbers at once (answered by
    /// an `OQSmuimm01res` acknowledgement with a reception number).
    BulkReferenceRegister,
    /// `OQSmuimm02req`: the per-entry results of a bulk registration, by
    /// reception number (the same document as a batch download).
    BulkReferenceResult,
    /// `YZKsiquc01req`: consented medication history.
    Medication,
    /// `TKKsiquc01req`: consented health-check results.
    Checkup,
}

impl Query {
    pub const ALL: [Query; 8] = [
        Query::Individual,
        Query::BatchUpload,
        Query::BatchDownload,
        Query::ReferenceRegister,
        Query::BulkReferenceRegister,
        Query::BulkReferenceResult,
        Query::Medication,
        Query::Checkup,
    ];

    /// The request document's message name, e.g. `OQSsiquc01req`.
    pub fn prefix(self) -> &'static str {
        match self {
            Query::Individual => "OQSsiquc01req",
            Query::BatchUpload => "OQSmuquc01req",
            Query::BatchDownload => "OQSmuquc02req",
            Query::ReferenceRegister => "OQSsiimm01req",
            Query::BulkReferenceRegister => "OQSmuimm01req",
            Query::BulkReferenceResult => "OQSmuimm02req",
            Query::Medication => "YZKsiquc01req",
            Query::Checkup => "TKKsiquc01req",
        }
    }

    /// Whether sending it twice is harmless (so a retry after a dropped
    /// connection is allowed). Uploading a batch twice would make two jobs.
    pub fn idempotent(self) -> bool {
        !matches!(self, Query::BatchUpload | Query::ReferenceRegister | Query::BulkReferenceRegister)
    }
}

/// A one-time nonce from `POST /oqs/v1/card/challenge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The bytes the card signs (PKCS#1 v1.5 over SHA-256 DigestInfo).
    pub nonce: Vec<u8>,
    /// How long the gateway accepts it.
    pub expires_in: Duration,
}

/// What the card produced for a challenge, sent with `card/confirm`.
/// Holds no PIN and no card secret: a certificate is public and the
/// signature is only valid for this nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardProof {
    /// The JPKI user-authentication certificate (DER) read from the card.
    pub certificate_der: Vec<u8>,
    /// The card's signature over the nonce.
    pub signature: Vec<u8>,
    /// The nonce that was signed (the gateway checks it is its own and unused).
    pub nonce: Vec<u8>,
    /// PIN or visual check (目視確認).
    pub mode: ConfirmMode,
    /// What the patient agreed to share.
    pub consents: Consents,
}

/// Why a backend call failed. Each variant maps to one page-visible
/// [`onshi_core::protocol::ErrorCode`] in the service.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// Could not connect or the connection broke (DNS, refused, reset).
    #[error("network unreachable: {detail}")]
    Unreachable { detail: String, retryable: bool },
    /// TLS failed: the gateway certificate is not from the configured CA,
    /// or the gateway refused our client certificate.
    #[error("TLS handshake failed: {detail}")]
    Tls { detail: String },
    /// No answer within the configured time.
    #[error("no answer within {after:?}")]
    Timeout { after: Duration },
    /// The gateway answered with an HTTP error status.
    #[error("gateway answered HTTP {status}")]
    Http { status: u16, body_excerpt: String },
    /// The eligibility system rejected the request (an `.err` file or an
    /// error result); `code` is the system's error code.
    #[error("eligibility system rejected the request: {code} {message}")]
    Rejected { code: String, message: String },
    /// An answer we cannot use (not XML, wrong message type, bad JSON).
    #[error("unusable answer: {detail}")]
    BadAnswer { detail: String },
    /// This backend cannot do this (e.g. a card challenge through the
    /// OQS folder, where the terminal reads the card itself).
    #[error("not supported by the {backend} backend: {what}")]
    Unsupported { backend: &'static str, what: &'static str },
    /// The OQS folder could not be written or read.
    #[error("OQS folder: {detail}")]
    Folder { detail: String },
    /// The terminal still held a file we must read (its answer, `.err` or a
    /// `face/` result) when the wait ended: every read was refused because
    /// it had the file open (on Windows a sharing or lock violation).
    #[error("the terminal still holds {} after {waited:?}", path.display())]
    FileBusy { path: PathBuf, waited: Duration },
    /// A file the terminal writes could be read but was still unfinished
    /// when the wait ended (an XML document whose root element is not
    /// closed, or an `.err` still changing). It is left where it is.
    #[error("{} is still incomplete ({bytes} bytes)", path.display())]
    Incomplete { path: PathBuf, bytes: usize },
}

impl BackendError {
    /// Whether trying the same call again later may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            BackendError::Unreachable { retryable, .. } => *retryable,
            // The terminal may finish the file, or answer a new request in full.
            BackendError::Timeout { .. } | BackendError::FileBusy { .. } | BackendError::Incomplete { .. } => true,
            BackendError::Http { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// What a receptionist or the IT person reads.
    pub fn explain(&self) -> Bilingual {
        match self {
            BackendError::Unreachable { detail, .. } => Bilingual::new(
                format!("資格確認の回線につながりません。ネットワーク機器と回線を確認し、しばらくしてから再度お試しください。({detail})"),
                format!("Cannot reach the eligibility network. Check the network equipment and line, then try again shortly. ({detail})"),
            ),
            BackendError::Tls { detail } => Bilingual::new(
                format!("資格確認サーバーとの暗号化接続に失敗しました。証明書の設定をIT担当者に確認してもらってください。({detail})"),
                format!("The secure connection to the eligibility server failed. Ask IT to check the certificate settings. ({detail})"),
            ),
            BackendError::Timeout { after } => Bilingual::new(
                format!("資格確認サーバーから{}秒以内に応答がありませんでした。再度お試しください。", after.as_secs()),
                format!("The eligibility server did not answer within {} s. Please try again.", after.as_secs()),
            ),
            BackendError::Http { status, .. } => Bilingual::new(
                format!("資格確認サーバーがエラーを返しました (HTTP {status})。しばらくしてから再度お試しください。"),
                format!("The eligibility server returned an error (HTTP {status}). Please try again shortly."),
            ),
            BackendError::Rejected { code, message } => Bilingual::new(
                format!("資格確認システムが要求を受け付けませんでした ({code}: {message})。入力内容を確認してください。"),
                format!("The eligibility system rejected the request ({code}: {message}). Check what was entered."),
            ),
            BackendError::BadAnswer { detail } => Bilingual::new(
                format!("資格確認サーバーの応答を読み取れませんでした。IT担当者に連絡してください。({detail})"),
                format!("The eligibility server's answer could not be read. Contact IT. ({detail})"),
            ),
            BackendError::Unsupported { backend, what } => Bilingual::new(
                format!("この接続方式 ({backend}) では「{what}」はできません。"),
                format!("The {backend} connection cannot do this: {what}."),
            ),
            BackendError::Folder { detail } => Bilingual::new(
                format!("資格確認端末の連携フォルダーを読み書きできません。端末とフォルダー設定を確認してください。({detail})"),
                format!("Cannot read or write the terminal's linkage folder. Check the terminal and folder settings. ({detail})"),
            ),
            BackendError::FileBusy { path, waited } => Bilingual::new(
                format!(
                    "資格確認端末がファイルを開いたままです（{}、{:.1}秒待ちました）。端末が書き込み途中で止まっていないか、IT担当者が端末を確認してください。",
                    path.display(),
                    waited.as_secs_f64()
                ),
                format!(
                    "The eligibility terminal still holds the file {} open (waited {:.1} s). Ask IT to check whether the terminal is stuck writing it.",
                    path.display(),
                    waited.as_secs_f64()
                ),
            ),
            BackendError::Incomplete { path, bytes } => Bilingual::new(
                format!(
                    "資格確認端末のファイルが途中までしか書かれていません（{}、{bytes}バイト）。ファイルはそのまま残してあります。IT担当者が端末を確認してください。",
                    path.display()
                ),
                format!(
                    "The eligibility terminal's file {} is incomplete ({bytes} bytes); it has been left in place. Ask IT to check the terminal.",
                    path.display()
                ),
            ),
        }
    }
}

/// One way to reach the eligibility system.
pub trait Backend: Send + Sync {
    /// Which kind this is, for `status` and the audit log.
    fn kind(&self) -> onshi_core::protocol::Backend;

    /// Sends one request document and returns the result document's bytes
    /// (the standard XML, as the system sent it).
    fn query<'a>(&'a self, query: Query, request_xml: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, BackendError>>;

    /// Asks for a one-time nonce for a My Number card confirm.
    fn card_challenge(&self) -> BoxFuture<'_, Result<Challenge, BackendError>>;

    /// Sends the card's proof; returns the face-style result document.
    /// Never retried: the nonce is single-use.
    fn card_confirm<'a>(&'a self, proof: &'a CardProof) -> BoxFuture<'a, Result<Vec<u8>, BackendError>>;

    /// Registers an unregistered card for insurance use (the patient agreed
    /// after a `card_not_registered` refusal) and returns the face-style
    /// result. A fresh challenge and signature; never retried.
    fn card_register<'a>(&'a self, proof: &'a CardProof) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        let _ = proof;
        Box::pin(async { Err(BackendError::Unsupported { backend: "oqs-folder", what: "card registration" }) })
    }

    /// Whether disaster mode is open to this clinic today (issue 16), as
    /// the system says. Only the gateway has this exchange (our protocol,
    /// docs/gateway.md); the OQS folder answers `Unsupported`.
    fn disaster_status(&self) -> BoxFuture<'_, Result<GatewayStatus, BackendError>> {
        Box::pin(async { Err(BackendError::Unsupported { backend: "oqs-folder", what: "disaster mode" }) })
    }

    /// One card-less history search in disaster mode: the result document
    /// of the one person found. Nobody / several people come back as
    /// `Rejected` with the gateway's `no_match` / `several_matches`.
    fn disaster_search<'a>(&'a self, search: &'a GatewaySearch) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        let _ = search;
        Box::pin(async { Err(BackendError::Unsupported { backend: "oqs-folder", what: "disaster mode" }) })
    }

    /// A cheap reachability check for `status` and `doctor`.
    fn probe(&self) -> BoxFuture<'_, Result<(), BackendError>>;
}
