//! The gateway's JSON wire types for the My Number card endpoints
//! (`/oqs/v1/card/{challenge,confirm,register}`) and its error body, shared
//! by the simulator's gateway and the helper's gateway backend so both sides
//! read and write the same shapes. Binary fields travel as standard base64
//! (RFC 4648, with padding); [`base64`] is the one codec for them.
//!
//! XML endpoints (`/oqs/v1/{prefix}`) carry the standard XmlMsg documents and
//! need nothing here, except that a refusal is an [`ErrorBody`] too.

use serde::{Deserialize, Serialize};

use crate::protocol::{ConfirmMode, Consents};
use crate::text::Bilingual;

/// URL paths, one place for both sides.
pub mod paths {
    /// Prefix of every gateway path; the XML exchanges append the message name.
    pub const PREFIX: &str = "/oqs/v1/";
    pub const CHALLENGE: &str = "/oqs/v1/card/challenge";
    pub const CONFIRM: &str = "/oqs/v1/card/confirm";
    pub const REGISTER: &str = "/oqs/v1/card/register";
    /// `GET`: disaster mode for the clinic (`crate::disaster::wire`).
    pub const DISASTER: &str = "/oqs/v1/disaster";
    /// `POST`: a card-less history search in disaster mode.
    pub const DISASTER_SEARCH: &str = "/oqs/v1/disaster/search";
}

/// `POST /oqs/v1/card/challenge` → 200 with this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// The one-time nonce the card signs, base64.
    pub nonce: String,
    /// How long the gateway accepts it, in seconds.
    pub expires_in_secs: u64,
}

/// Body of `card/confirm` and `card/register`: what the card produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardProofRequest {
    /// The JPKI user-authentication certificate, DER, base64.
    pub certificate: String,
    /// RSA PKCS#1 v1.5 SHA-256 signature over the nonce bytes, base64.
    pub signature: String,
    /// The nonce from the challenge, base64 (as it was received).
    pub nonce: String,
    pub mode: ConfirmMode,
    #[serde(default)]
    pub consents: Consents,
}

/// Why the gateway refused a request. Stable snake_case names on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// The body is not the JSON (or base64) this endpoint expects.
    BadRequest,
    /// The nonce was never issued by this gateway.
    UnknownNonce,
    /// The nonce was already used once.
    ReplayedNonce,
    /// The nonce's time ran out.
    ExpiredNonce,
    /// The certificate is not issued by the JPKI CA (or is unreadable / out of date).
    UntrustedCertificate,
    /// The signature does not match the certificate's key and the nonce.
    BadSignature,
    /// The certificate is valid but belongs to nobody in the registry.
    UnknownCertificate,
    /// The card is not registered for health-insurance use: offer registration.
    CardNotRegistered,
    /// `card/register` for a card that already is.
    AlreadyRegistered,
    /// The card's user-authentication certificate lapsed beyond the grace of
    /// core `cert_validity`: the card cannot be used for insurance.
    CertificateExpired,
    /// A card-less search outside a declared disaster's period or area.
    DisasterClosed,
    /// A card-less search found nobody.
    NoMatch,
    /// A card-less search found several people; the gateway does not guess.
    SeveralMatches,
    /// No such path or method.
    NotFound,
    /// Fault injection or an internal failure; retrying later may help.
    Unavailable,
}

impl ErrorCode {
    /// The wire name (`"replayed_nonce"`), e.g. for `BackendError::Rejected.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownNonce => "unknown_nonce",
            ErrorCode::ReplayedNonce => "replayed_nonce",
            ErrorCode::ExpiredNonce => "expired_nonce",
            ErrorCode::UntrustedCertificate => "untrusted_certificate",
            ErrorCode::BadSignature => "bad_signature",
            ErrorCode::UnknownCertificate => "unknown_certificate",
            ErrorCode::CardNotRegistered => "card_not_registered",
            ErrorCode::AlreadyRegistered => "already_registered",
            ErrorCode::CertificateExpired => "certificate_expired",
            ErrorCode::DisasterClosed => "disaster_closed",
            ErrorCode::NoMatch => "no_match",
            ErrorCode::SeveralMatches => "several_matches",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Unavailable => "unavailable",
        }
    }

    /// The HTTP status the gateway answers this refusal with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::UnknownNonce | ErrorCode::BadSignature | ErrorCode::UntrustedCertificate => 401,
            ErrorCode::UnknownCertificate | ErrorCode::NotFound | ErrorCode::NoMatch => 404,
            ErrorCode::CertificateExpired | ErrorCode::DisasterClosed => 403,
            ErrorCode::ReplayedNonce | ErrorCode::CardNotRegistered | ErrorCode::AlreadyRegistered | ErrorCode::SeveralMatches => 409,
            ErrorCode::ExpiredNonce => 410,
            ErrorCode::Unavailable => 503,
        }
    }

    /// The message a person reads for this refusal: what happened, what to do.
    pub fn message(self) -> Bilingual {
        let (ja, en) = match self {
            ErrorCode::BadRequest => (
                "要求の形式が正しくありません。ヘルパーのバージョンを確認してください。",
                "The request is not in the expected format. Check the helper version.",
            ),
            ErrorCode::UnknownNonce => (
                "確認用の番号が資格確認サーバーで発行されたものではありません。もう一度カードを読み取ってください。",
                "The confirmation nonce was not issued by the server. Read the card again.",
            ),
            ErrorCode::ReplayedNonce => (
                "確認用の番号は使用済みです。もう一度カードを読み取ってください。",
                "The confirmation nonce was already used. Read the card again.",
            ),
            ErrorCode::ExpiredNonce => (
                "確認の有効時間が過ぎました。もう一度カードを読み取ってください。",
                "The confirmation timed out. Read the card again.",
            ),
            ErrorCode::UntrustedCertificate => (
                "カードの証明書を確認できません（発行元が違うか有効期限外です）。カードを確かめ、保険証など別の方法で確認してください。",
                "The card's certificate cannot be trusted (other issuer or out of date). Check the card, or confirm with the insurance card instead.",
            ),
            ErrorCode::BadSignature => (
                "カードの署名が証明書と一致しません。カードを挿し直して、もう一度読み取ってください。",
                "The card's signature does not match its certificate. Reinsert the card and read it again.",
            ),
            ErrorCode::UnknownCertificate => (
                "このカードに該当する資格情報がありません。保険証など別の方法で確認してください。",
                "No insured person matches this card. Confirm with the insurance card instead.",
            ),
            ErrorCode::CardNotRegistered => (
                "このマイナンバーカードは健康保険証として利用登録されていません。患者さんの同意があれば、この場で利用登録できます。",
                "This My Number card is not registered for health-insurance use. With the patient's consent, you can register it now.",
            ),
            ErrorCode::AlreadyRegistered => (
                "このカードは既に健康保険証として利用登録されています。そのまま資格確認してください。",
                "This card is already registered for health-insurance use. Go ahead with the confirmation.",
            ),
            ErrorCode::CertificateExpired => (
                "マイナンバーカードの電子証明書の有効期限から3か月以上過ぎているため、保険証として使えません。資格確認書か資格情報のお知らせの番号で確認してください。",
                "The card's certificate expired more than three months ago; the card cannot be used for insurance. Confirm with the eligibility certificate's numbers instead.",
            ),
            ErrorCode::DisasterClosed => (
                "災害時の特例の期間外、または指定地域外のため、カードなしの閲覧はできません。",
                "Outside the disaster period or area: records cannot be viewed without the card.",
            ),
            ErrorCode::NoMatch => (
                "入力された内容に該当する方がいません。カナ氏名・生年月日・性別（または保険証の番号）を確かめてください。",
                "Nobody matches what was entered. Check the kana name, birth date and sex (or the insurance numbers).",
            ),
            ErrorCode::SeveralMatches => (
                "該当する方が複数います。保険証の番号など、ほかの情報で検索してください。",
                "Several people match. Search with more details, such as the insurance numbers.",
            ),
            ErrorCode::NotFound => (
                "資格確認サーバーがこの要求を知りません。接続先 URL を IT 担当者に確認してもらってください。",
                "The server does not know this request. Ask IT to check the gateway URL.",
            ),
            ErrorCode::Unavailable => (
                "資格確認サーバーが一時的に応答できません。しばらくしてから再度お試しください。",
                "The eligibility server is temporarily unavailable. Please try again shortly.",
            ),
        };
        Bilingual::new(ja, en)
    }
}

/// Every refusal's JSON body: `{"code": "...", "message": {"ja": "...", "en": "..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: Bilingual,
}

impl ErrorBody {
    /// The body for `code` with its standard message.
    pub fn new(code: ErrorCode) -> Self {
        ErrorBody { code, message: code.message() }
    }
}

/// Standard base64 with padding (RFC 4648 §4): enough for certificates,
/// signatures and nonces, without another dependency in the page.
pub mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Encodes with `=` padding.
    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// Decodes; ASCII whitespace is skipped (PEM bodies), padding is optional.
    /// `None` for any other character or an impossible length.
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        fn val(c: u8) -> Option<u32> {
            Some(u32::from(match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            }))
        }
        let clean: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        let body = clean.strip_suffix(b"==").or_else(|| clean.strip_suffix(b"=")).unwrap_or(&clean);
        if body.len() % 4 == 1 || (clean.len() != body.len() && !clean.len().is_multiple_of(4)) {
            return None;
        }
        let mut out = Vec::with_capacity(body.len() * 3 / 4);
        for chunk in body.chunks(4) {
            let mut n = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                n |= val(c)? << (18 - 6 * i);
            }
            let bytes = n.to_be_bytes();
            out.extend_from_slice(&bytes[1..chunk.len()]);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_rfc4648_vectors() {
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")];
        for (plain, coded) in vectors {
            assert_eq!(base64::encode(plain.as_bytes()), coded);
            assert_eq!(base64::decode(coded).as_deref(), Some(plain.as_bytes()));
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64::decode(&base64::encode(&all)), Some(all));
        assert_eq!(base64::decode("Zm9v\nYmFy"), Some(b"foobar".to_vec()));
        for bad in ["Z", "Zm9v!", "Zg=", "Zm9vY===", "é"] {
            assert_eq!(base64::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn error_body_wire_form() {
        let json = serde_json::to_string(&ErrorBody::new(ErrorCode::ReplayedNonce)).unwrap();
        assert!(json.starts_with(r#"{"code":"replayed_nonce","message":{"ja":""#), "{json}");
        let back: ErrorBody = serde_json::from_str(&json).unwrap();
        assert_eq!(back.code, ErrorCode::ReplayedNonce);
        for code in [ErrorCode::BadRequest, ErrorCode::CardNotRegistered, ErrorCode::Unavailable, ErrorCode::ExpiredNonce] {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire.as_str(), Some(code.as_str()));
            assert!(code.http_status() >= 400);
        }
    }

    #[test]
    fn proof_request_reads_with_default_consents() {
        let p: CardProofRequest = serde_json::from_str(r#"{"certificate":"AA==","signature":"AQ==","nonce":"Ag==","mode":"visual"}"#).unwrap();
        assert_eq!(p.mode, ConfirmMode::Visual);
        assert_eq!(p.consents, Consents::default());
    }
}
