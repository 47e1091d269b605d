//! Stable error codes and the error shape every layer (page script,
//! extension, helper) uses: `{code, message: {ja, en}, retryable, detail}`.
//!
//! The codes are a public contract: never rename one, only add. Messages say
//! what happened and what the person should do next, Japanese first. Nothing
//! here may carry a secret (PIN, card nonce, private key material).

use serde::{Deserialize, Serialize};

use crate::cert_validity::{Standing, en_date, ja_date};
use crate::text::{Bilingual, Explain};
use crate::wareki::Date;

/// What went wrong, as a stable snake_case string on the wire.
///
/// Grouped by cause: the page/extension link, pairing and access, the card,
/// the person, the network and gateway, and misuse of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    // --- the link between page and helper (produced by page script / extension) ---
    /// The page got no acknowledgement: the extension is not installed or not enabled.
    ExtensionMissing,
    /// The extension sent the frame but the helper did not answer in time.
    ExtensionTimeout,
    /// The browser could not start the helper: the native-messaging manifest is missing.
    HostNotFound,
    /// The helper process ended (port disconnected) while a request was open.
    HostCrashed,
    /// The two sides speak different protocol versions (`detail.expected`, `detail.found`).
    VersionMismatch,
    /// A message over the size cap (`detail.limit`).
    TooLarge,
    /// A frame that is not valid protocol JSON (`detail.reason`).
    BadRequest,
    /// A `type` this helper does not know (`detail.request_type`); usually an older helper.
    UnsupportedRequest,
    // --- pairing and access ---
    /// The page's origin has not been paired with this PC.
    NotPaired,
    /// An operation only the extension's own windows may send, sent by a page.
    ExtensionOnly,
    /// The page's origin is not on the allowlist IT set, or is plain HTTP to
    /// another machine asking to pair without being listed (issue 15).
    OriginNotAllowed,
    /// Too many requests from pages that are not paired; `detail.retry_after_s`.
    RateLimited,
    // --- reader and card ---
    NoReader,
    NoCard,
    CardRemoved,
    NotMyNumberCard,
    /// A card is on the reader but does not answer (powered but mute, or
    /// unpowered): put in the wrong way round, dirty or damaged (issue 14).
    CardUnreadable,
    /// The PIN was wrong; `detail.tries_left` tells how many tries remain.
    WrongPin,
    /// The card's PIN is locked (no tries left); only the city office can reset it.
    PinLocked,
    /// A PIN is needed but none was entered (PIN window closed or timed out).
    PinRequired,
    /// One try is left and the person did not confirm they want to use it.
    LastTryUnconfirmed,
    /// The person cancelled (PIN window, pairing window).
    Cancelled,
    /// The My Number card is valid but not registered for health-insurance
    /// use (利用登録). Reception may offer `card_register` with the patient's consent.
    CardNotRegistered,
    /// The card's user-authentication certificate lapsed less than the grace
    /// ago (cert_validity): the qualification can be confirmed without a PIN
    /// by a visual check, medication and diagnosis views cannot. Sent
    /// instead of opening the PIN window (`detail.not_after`, `detail.usable_until`).
    CertificateInGrace,
    /// The certificate lapsed more than the grace ago: the card cannot be
    /// used for insurance; use the 資格確認書 / 資格情報のお知らせ numbers.
    CertificateExpired,
    // --- the person ---
    /// Disaster mode is not open to this clinic today (no declaration for its
    /// area, or outside the declared period): no card-less search (issue 16).
    DisasterClosed,
    // --- network and gateway ---
    /// The network to the eligibility system failed; `retryable` says whether to try again.
    Network,
    /// The eligibility system answered with an error (`detail.code`, `detail.message`).
    GatewayError,
    Timeout,
    /// Another card or batch operation is running; try again shortly.
    Busy,
    // --- misuse ---
    /// A field has a value the helper cannot use (`detail.field`, `detail.reason`).
    InvalidArgument,
    /// A fault inside the helper (database, configuration); see the helper's log.
    Internal,
    /// A code from a newer peer that this build does not know; the message
    /// text that came with it is still shown.
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 33] = [
        ErrorCode::ExtensionMissing,
        ErrorCode::ExtensionTimeout,
        ErrorCode::HostNotFound,
        ErrorCode::HostCrashed,
        ErrorCode::VersionMismatch,
        ErrorCode::TooLarge,
        ErrorCode::BadRequest,
        ErrorCode::UnsupportedRequest,
        ErrorCode::NotPaired,
        ErrorCode::ExtensionOnly,
        ErrorCode::OriginNotAllowed,
        ErrorCode::RateLimited,
        ErrorCode::NoReader,
        ErrorCode::NoCard,
        ErrorCode::CardRemoved,
        ErrorCode::NotMyNumberCard,
        ErrorCode::CardUnreadable,
        ErrorCode::WrongPin,
        ErrorCode::PinLocked,
        ErrorCode::PinRequired,
        ErrorCode::LastTryUnconfirmed,
        ErrorCode::Cancelled,
        ErrorCode::CardNotRegistered,
        ErrorCode::CertificateInGrace,
        ErrorCode::CertificateExpired,
        ErrorCode::DisasterClosed,
        ErrorCode::Network,
        ErrorCode::GatewayError,
        ErrorCode::Timeout,
        ErrorCode::Busy,
        ErrorCode::InvalidArgument,
        ErrorCode::Internal,
        ErrorCode::Other,
    ];

    /// The wire string, e.g. `"wrong_pin"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ExtensionMissing => "extension_missing",
            ErrorCode::ExtensionTimeout => "extension_timeout",
            ErrorCode::HostNotFound => "host_not_found",
            ErrorCode::HostCrashed => "host_crashed",
            ErrorCode::VersionMismatch => "version_mismatch",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnsupportedRequest => "unsupported_request",
            ErrorCode::NotPaired => "not_paired",
            ErrorCode::ExtensionOnly => "extension_only",
            ErrorCode::OriginNotAllowed => "origin_not_allowed",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NoReader => "no_reader",
            ErrorCode::NoCard => "no_card",
            ErrorCode::CardRemoved => "card_removed",
            ErrorCode::NotMyNumberCard => "not_my_number_card",
            ErrorCode::CardUnreadable => "card_unreadable",
            ErrorCode::WrongPin => "wrong_pin",
            ErrorCode::PinLocked => "pin_locked",
            ErrorCode::PinRequired => "pin_required",
            ErrorCode::LastTryUnconfirmed => "last_try_unconfirmed",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::CardNotRegistered => "card_not_registered",
            ErrorCode::CertificateInGrace => "certificate_in_grace",
            ErrorCode::CertificateExpired => "certificate_expired",
            ErrorCode::DisasterClosed => "disaster_closed",
            ErrorCode::Network => "network",
            ErrorCode::GatewayError => "gateway_error",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Busy => "busy",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Internal => "internal",
            ErrorCode::Other => "other",
        }
    }

    /// Whether sending the same request again can succeed (possibly after the
    /// person does what the message says, e.g. inserts the card). `network`
    /// defaults to true; [`ProtocolError::network`] can say otherwise.
    pub fn retryable(self) -> bool {
        match self {
            ErrorCode::ExtensionTimeout
            | ErrorCode::HostCrashed
            | ErrorCode::NoReader
            | ErrorCode::NoCard
            | ErrorCode::CardRemoved
            | ErrorCode::CardUnreadable
            | ErrorCode::WrongPin
            | ErrorCode::PinRequired
            | ErrorCode::LastTryUnconfirmed
            | ErrorCode::Cancelled
            | ErrorCode::Network
            | ErrorCode::Timeout
            | ErrorCode::RateLimited
            // The same card succeeds in visual-check mode.
            | ErrorCode::CertificateInGrace
            | ErrorCode::Busy => true,
            ErrorCode::ExtensionMissing
            | ErrorCode::HostNotFound
            | ErrorCode::VersionMismatch
            | ErrorCode::TooLarge
            | ErrorCode::BadRequest
            | ErrorCode::UnsupportedRequest
            | ErrorCode::NotPaired
            | ErrorCode::ExtensionOnly
            | ErrorCode::OriginNotAllowed
            | ErrorCode::NotMyNumberCard
            | ErrorCode::PinLocked
            // The same card check fails the same way until the card is registered.
            | ErrorCode::CardNotRegistered
            // Nothing at the desk helps until the certificate is renewed.
            | ErrorCode::CertificateExpired
            // Open again only when the system declares it.
            | ErrorCode::DisasterClosed
            | ErrorCode::GatewayError
            | ErrorCode::InvalidArgument
            | ErrorCode::Internal
            | ErrorCode::Other => false,
        }
    }
}

impl Explain for ErrorCode {
    /// The default message for the code; [`ProtocolError`] constructors with
    /// data (tries left, gateway message) give more precise ones.
    fn explain(&self) -> Bilingual {
        let (ja, en) = match self {
            ErrorCode::ExtensionMissing => (
                "Onshi拡張機能が見つかりません。拡張機能をインストールして有効にし、ページを再読み込みしてください。",
                "The Onshi browser extension is not available. Install and enable it, then reload the page.",
            ),
            ErrorCode::ExtensionTimeout => (
                "ヘルパーから応答がありません。もう一度お試しください。続く場合はPCを再起動するか管理者に連絡してください。",
                "The helper did not answer in time. Try again; if it keeps happening, restart the PC or call your IT contact.",
            ),
            ErrorCode::HostNotFound => (
                "このPCにOnshiヘルパーが登録されていません。管理者に「onshi-helper install」の実行を依頼してください。",
                "The Onshi helper is not registered with this browser. Ask IT to run \"onshi-helper install\".",
            ),
            ErrorCode::HostCrashed => (
                "Onshiヘルパーが停止しました。もう一度お試しください（自動で再起動します）。続く場合は管理者に連絡してください。",
                "The Onshi helper stopped. Try again (it restarts automatically); if it keeps happening, call your IT contact.",
            ),
            ErrorCode::VersionMismatch => (
                "ページ・拡張機能・ヘルパーのバージョンが合いません。ページを再読み込みし、直らなければ管理者に更新を依頼してください。",
                "The page, extension and helper versions do not match. Reload the page; if that does not help, ask IT to update.",
            ),
            ErrorCode::TooLarge => (
                "送信するデータが大きすぎます。件数を分けて送ってください。",
                "The data is too large to send. Split it into smaller parts.",
            ),
            ErrorCode::BadRequest => (
                "要求の形式が正しくありません。ページを再読み込みしてください。続く場合は開発元に連絡してください。",
                "The request was malformed. Reload the page; if it keeps happening, contact the software vendor.",
            ),
            ErrorCode::UnsupportedRequest => (
                "ヘルパーがこの操作に対応していません。ヘルパーが古い可能性があります。管理者に更新を依頼してください。",
                "The helper does not support this operation; it is probably outdated. Ask IT to update it.",
            ),
            ErrorCode::NotPaired => (
                "このページはまだこのPCとペアリングされていません。「設定・診断」の「ペアリングを始める」を押し、開いた窓で承認してください。入力内容の確認はこのままできます。",
                "This page is not paired with this PC yet. In Settings, click \"Start pairing\" and approve it in the window that opens. Checking what you typed works without it.",
            ),
            ErrorCode::ExtensionOnly => (
                "この操作は拡張機能の画面からのみ行えます。",
                "This operation can only be done from the extension's own window.",
            ),
            ErrorCode::OriginNotAllowed => (
                "このページはこのPCの資格確認ヘルパーを使えません。院内の受付画面のアドレスか、IT担当者に確認してください。",
                "This page may not use this PC's eligibility helper. Check that this is the clinic's reception page, or ask your IT contact.",
            ),
            ErrorCode::RateLimited => (
                "短い間に要求が多すぎたため、しばらく受け付けません。少し待ってからもう一度お試しください。",
                "Too many requests in a short time; they are not accepted for a while. Wait a little and try again.",
            ),
            ErrorCode::NoReader => (
                "カードリーダーが見つかりません。リーダーがPCに接続されているか確かめ、もう一度お試しください。",
                "No card reader found. Check that the reader is plugged in, then try again.",
            ),
            ErrorCode::NoCard => (
                "カードが見つかりません。マイナンバーカードを、向きと表裏を確かめてリーダーに置き、もう一度お試しください。",
                "No card found on the reader. Place the My Number card on it, the right way up and round, and try again.",
            ),
            ErrorCode::CardRemoved => (
                "読み取り中にカードが外されました。カードをリーダーに置いたまま、もう一度お試しください。",
                "The card was removed while it was being read. Keep it on the reader and try again.",
            ),
            ErrorCode::CardUnreadable => (
                "カードが応答しません。カードの向きと表裏を確かめて置き直し、もう一度お試しください。続くときはカードが傷んでいることもあるため、保険証・資格確認書で確認してください。",
                "The card does not respond. Check which way up and which way round it is, place it again and retry. If it keeps failing the card may be damaged: confirm with the insurance card or eligibility certificate.",
            ),
            ErrorCode::NotMyNumberCard => (
                "マイナンバーカードではないカードです。マイナンバーカードを置くか、保険証・資格確認書の番号で確認してください。",
                "This is not a My Number card. Use a My Number card, or confirm with the insurance card's numbers.",
            ),
            ErrorCode::WrongPin => (
                "暗証番号が違います。患者さんに確かめて、もう一度入力してください。",
                "Wrong PIN. Ask the patient to check it and enter it again.",
            ),
            ErrorCode::PinLocked => (
                "暗証番号がロックされています。カードの再設定はお住まいの市区町村の窓口で行います。今日は目視確認か保険証・資格確認書で確認してください。",
                "The card's PIN is locked. The patient must have it reset at their city office (市区町村の窓口). Today, use the visual check or the insurance card.",
            ),
            ErrorCode::PinRequired => (
                "暗証番号が入力されませんでした。拡張機能の暗証番号画面で入力してください。",
                "No PIN was entered. Enter it in the extension's PIN window.",
            ),
            ErrorCode::LastTryUnconfirmed => (
                "残り1回です。間違えるとカードがロックされ、市区町村の窓口での再設定が必要になります。患者さんに確かめ、「残り1回であることを確認しました」にチェックして入力してください。",
                "Only one try is left. A wrong PIN locks the card until it is reset at the city office. Check with the patient, tick \"I understand this is the last try\", and enter it.",
            ),
            ErrorCode::Cancelled => ("操作は取り消されました。", "The operation was cancelled."),
            ErrorCode::CardNotRegistered => (
                "このマイナンバーカードは健康保険証として利用登録されていません。患者さんが同意したら「保険証利用登録をする」を押し、患者さんに暗証番号を入力してもらってください。登録しない場合は保険証・資格確認書で確認してください。",
                "This My Number card is not registered for health-insurance use. If the patient agrees, press \"Register this card for insurance use\" and have the patient enter the PIN. Otherwise, confirm with the insurance card or eligibility certificate.",
            ),
            ErrorCode::CertificateInGrace => (
                "マイナンバーカードの電子証明書の有効期限が切れています。暗証番号は使えません。顔写真で本人確認し「目視確認」で確認すると、資格情報だけ確認できます（薬剤情報・診療情報は見られません）。更新はお住まいの市区町村の窓口です。",
                "The My Number card's certificate has expired, so the PIN cannot be used. Check the patient against the card photo and use the visual check: the qualification alone can be confirmed (no medication or diagnosis records). Renewal is at the patient's city office (市区町村の窓口).",
            ),
            ErrorCode::CertificateExpired => (
                "マイナンバーカードの電子証明書の有効期限から3か月以上過ぎているため、保険証として使えません。資格確認書か資格情報のお知らせの番号で確認してください。更新はお住まいの市区町村の窓口です。",
                "The My Number card's certificate expired more than three months ago, so the card cannot be used for insurance. Confirm with the numbers on the eligibility certificate (資格確認書) or the 資格情報のお知らせ. Renewal is at the patient's city office (市区町村の窓口).",
            ),
            ErrorCode::DisasterClosed => (
                "災害時の特例（カードなしの閲覧）は、この医療機関では今は使えません。指定の期間・地域外です。マイナ保険証か資格確認書で確認してください。",
                "Disaster mode (viewing records without the card) is not open to this clinic now: outside the declared period or area. Confirm with the My Number card or the eligibility certificate.",
            ),
            ErrorCode::Network => (
                "資格確認システムに接続できません。ネットワークを確かめて、しばらくしてからもう一度お試しください。",
                "Cannot reach the eligibility system. Check the network and try again in a moment.",
            ),
            ErrorCode::GatewayError => (
                "資格確認システムがエラーを返しました。表示された内容を確かめてください。",
                "The eligibility system returned an error. Check the details shown.",
            ),
            ErrorCode::Timeout => (
                "時間内に応答がありませんでした。もう一度お試しください。",
                "No answer in time. Try again.",
            ),
            ErrorCode::Busy => (
                "別の確認を処理中です。終わってからもう一度お試しください。",
                "Another confirmation is in progress. Try again when it has finished.",
            ),
            ErrorCode::InvalidArgument => (
                "入力内容に誤りがあります。内容を確かめてください。",
                "Some input is not valid. Check what was entered.",
            ),
            ErrorCode::Internal => (
                "ヘルパー内部でエラーが起きました。PCを再起動し、続く場合は管理者に連絡してください。",
                "An internal error occurred in the helper. Restart the PC; if it keeps happening, call your IT contact.",
            ),
            ErrorCode::Other => (
                "不明なエラーです。ページを再読み込みし、続く場合は管理者に連絡してください。",
                "Unknown error. Reload the page; if it keeps happening, call your IT contact.",
            ),
        };
        Bilingual::new(ja, en)
    }
}

/// Optional data that goes with an error. Every field is optional and
/// omitted when empty; unknown fields from a newer peer are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `wrong_pin`: PIN tries remaining on the card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u8>,
    /// `gateway_error`: the eligibility system's own error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `gateway_error`: the eligibility system's own message, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `version_mismatch`: the version the reporting side speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<u32>,
    /// `version_mismatch`: the version it received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<u32>,
    /// `too_large`: the cap in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// `rate_limited`: seconds until a request can succeed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u32>,
    /// `invalid_argument`: the field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `invalid_argument` / `bad_request`: why, for developers (English).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `unsupported_request`: the unknown `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_type: Option<String>,
    /// `certificate_in_grace` / `certificate_expired`: the certificate's
    /// expiry day (`YYYYMMDD`, the clinic's calendar day of notAfter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<String>,
    /// `certificate_in_grace` / `certificate_expired`: the last day the
    /// qualification could be confirmed with it (`YYYYMMDD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usable_until: Option<String>,
}

impl ErrorDetail {
    fn is_empty(&self) -> bool {
        self == &ErrorDetail::default()
    }
}

/// `Bilingual` lives in `text` with only `Serialize`; this mirror lets the
/// error shape be read back (by the web app) without changing that module.
#[derive(Deserialize)]
#[serde(remote = "Bilingual")]
pub(crate) struct BilingualDef {
    ja: String,
    en: String,
}

/// An error as it travels: `{code, message: {ja, en}, retryable, detail}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {}", code.as_str(), message.en)]
pub struct ProtocolError {
    /// Stable machine-readable code.
    pub code: ErrorCode,
    /// What happened and what to do, for the person at the desk.
    #[serde(deserialize_with = "BilingualDef::deserialize")]
    pub message: Bilingual,
    /// Whether the same request may succeed if sent again.
    pub retryable: bool,
    /// Data for the code (tries left, gateway code, …); omitted when empty.
    #[serde(default, skip_serializing_if = "ErrorDetail::is_empty")]
    pub detail: ErrorDetail,
}

impl ProtocolError {
    /// The error with the code's default message and retryability.
    pub fn new(code: ErrorCode) -> Self {
        ProtocolError { code, message: code.explain(), retryable: code.retryable(), detail: ErrorDetail::default() }
    }

    /// Attach detail data.
    pub fn with_detail(mut self, detail: ErrorDetail) -> Self {
        self.detail = detail;
        self
    }

    /// `wrong_pin` with the tries left, and the loud warning at one try.
    pub fn wrong_pin(tries_left: u8) -> Self {
        if tries_left == 0 {
            return Self::new(ErrorCode::PinLocked);
        }
        let message = if tries_left == 1 {
            Bilingual::new(
                "暗証番号が違います。残り1回です。次も間違えるとカードがロックされ、市区町村の窓口での再設定が必要になります。不安なときは目視確認か保険証・資格確認書で確認してください。",
                "Wrong PIN. Only 1 try is left: another wrong PIN locks the card until it is reset at the city office. If unsure, use the visual check or the insurance card instead.",
            )
        } else {
            Bilingual::new(
                format!("暗証番号が違います。残り{tries_left}回です。患者さんに確かめて、もう一度入力してください。"),
                format!("Wrong PIN. {tries_left} tries left. Ask the patient to check it and enter it again."),
            )
        };
        ProtocolError {
            message,
            detail: ErrorDetail { tries_left: Some(tries_left), ..ErrorDetail::default() },
            ..Self::new(ErrorCode::WrongPin)
        }
    }

    /// `network`, saying whether trying again can help (a TLS certificate
    /// problem cannot; a dropped connection can).
    pub fn network(retryable: bool) -> Self {
        let mut e = Self::new(ErrorCode::Network);
        e.retryable = retryable;
        if !retryable {
            e.message = Bilingual::new(
                "資格確認システムに接続できません（設定または証明書の問題）。管理者に「onshi-helper doctor」の実行を依頼してください。",
                "Cannot connect to the eligibility system (configuration or certificate problem). Ask IT to run \"onshi-helper doctor\".",
            );
        }
        e
    }

    /// `gateway_error` carrying the eligibility system's own code and message.
    pub fn gateway(code: impl Into<String>, message: impl Into<String>) -> Self {
        let (code, text) = (code.into(), message.into());
        // An answer may leave out the code or the reason; say only what it gave.
        let (ja, en) = match (code.trim().is_empty(), text.trim().is_empty()) {
            (false, false) => (format!("（{code}：{text}）"), format!("error {code}: {text}")),
            (false, true) => (format!("（{code}）"), format!("error {code}")),
            (true, false) => (format!("（{text}）"), format!("an error: {text}")),
            (true, true) => (String::new(), "an error".to_string()),
        };
        ProtocolError {
            message: Bilingual::new(
                format!("資格確認システムがエラーを返しました{ja}。内容を確かめ、必要なら保険証・資格確認書で確認してください。"),
                format!("The eligibility system returned {en}. Check it; if needed, confirm with the insurance card."),
            ),
            detail: ErrorDetail { code: Some(code), message: Some(text), ..ErrorDetail::default() },
            ..Self::new(ErrorCode::GatewayError)
        }
    }

    /// `version_mismatch`: `expected` is what the reporting side speaks.
    pub fn version_mismatch(expected: u32, found: u32) -> Self {
        let mut e = Self::new(ErrorCode::VersionMismatch)
            .with_detail(ErrorDetail { expected: Some(expected), found: Some(found), ..ErrorDetail::default() });
        if found > expected {
            e.message = Bilingual::new(
                format!("ヘルパーが古いバージョンです（プロトコル{expected}、ページは{found}）。管理者にヘルパーの更新を依頼してください。"),
                format!("The helper is older than the page (protocol {expected}, page {found}). Ask IT to update the helper."),
            );
        } else {
            e.message = Bilingual::new(
                format!("ページまたは拡張機能が古いバージョンです（プロトコル{found}、ヘルパーは{expected}）。ページを再読み込みし、直らなければ拡張機能を更新してください。"),
                format!("The page or extension is older than the helper (protocol {found}, helper {expected}). Reload the page; if that does not help, update the extension."),
            );
        }
        e
    }

    /// `invalid_argument` naming the field and why (the reason is for developers).
    pub fn invalid_argument(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidArgument).with_detail(ErrorDetail {
            field: Some(field.into()),
            reason: Some(reason.into()),
            ..ErrorDetail::default()
        })
    }

    /// Why a card's certificate stops a card check, with its dates in the
    /// message: `certificate_expired` for a lapsed one, `certificate_in_grace`
    /// for one in its grace (refused only where a PIN would be asked).
    /// `None` for a certificate that does not stop anything.
    pub fn certificate(expiry: Date, standing: Standing) -> Option<Self> {
        let (code, until) = match standing {
            Standing::Lapsed { usable_until } => (ErrorCode::CertificateExpired, usable_until),
            Standing::LapsedGrace { usable_until } => (ErrorCode::CertificateInGrace, usable_until),
            Standing::Valid | Standing::ExpiresSoon { .. } => return None,
        };
        let (ja_exp, en_exp, ja_until, en_until) = (ja_date(expiry), en_date(expiry), ja_date(until), en_date(until));
        let message = match code {
            ErrorCode::CertificateExpired => Bilingual::new(
                format!("マイナンバーカードの電子証明書は有効期限（{ja_exp}）から3か月以上過ぎているため、保険証として使えません。資格確認書か資格情報のお知らせの番号で確認してください。更新はお住まいの市区町村の窓口です。"),
                format!("The My Number card's certificate expired on {en_exp}, more than three months ago, so the card cannot be used for insurance. Confirm with the numbers on the eligibility certificate (資格確認書) or the 資格情報のお知らせ. Renewal is at the patient's city office (市区町村の窓口)."),
            ),
            _ => Bilingual::new(
                format!("マイナンバーカードの電子証明書の有効期限（{ja_exp}）が切れています。暗証番号は使えません。顔写真で本人確認し「目視確認」で確認すると、{ja_until}までは資格情報だけ確認できます（薬剤情報・診療情報は見られません）。更新はお住まいの市区町村の窓口です。"),
                format!("The My Number card's certificate expired on {en_exp}, so the PIN cannot be used. Check the patient against the card photo and use the visual check: until {en_until} the qualification alone can be confirmed (no medication or diagnosis records). Renewal is at the patient's city office (市区町村の窓口)."),
            ),
        };
        Some(ProtocolError {
            message,
            detail: ErrorDetail { not_after: Some(expiry.yyyymmdd()), usable_until: Some(until.yyyymmdd()), ..ErrorDetail::default() },
            ..Self::new(code)
        })
    }

    /// `too_large` with the cap that was exceeded.
    pub fn too_large(limit: usize) -> Self {
        Self::new(ErrorCode::TooLarge).with_detail(ErrorDetail { limit: Some(limit as u64), ..ErrorDetail::default() })
    }
}

impl Explain for ProtocolError {
    fn explain(&self) -> Bilingual {
        self.message.clone()
    }
}
