//! Card flows the helper offers: the check before any PIN (read the
//! certificate, put its notAfter through core `cert_validity`, and only
//! then ask the tries left), confirm with PIN (select → tries left →
//! VERIFY → read certificate → sign the gateway's nonce → reset) and read
//! the certificate without PIN. Here, and only here, card errors become the
//! protocol's [`ErrorCode`]s. Flows never send a PIN on their own initiative:
//! the caller passes the one the person typed, and with one try left the
//! person must have confirmed using it.

use onshi_core::cert_validity::{self, Standing};
use onshi_core::protocol::error::{ErrorCode, ProtocolError};
use onshi_core::protocol::pin::Pin;
use onshi_core::text::{Bilingual, Explain};
use onshi_core::wareki::Date;

use super::jpki::{CertFile, Jpki, JpkiError, PROFILE_2016, PinTries, Profile, sha256_digest_info};
use super::transport::{CardTransport, TransportError};

/// What a PIN confirmation proves: the card's certificate and its signature over the nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardProof {
    /// The user-authentication certificate, DER.
    pub cert_der: Vec<u8>,
    /// RSA PKCS#1 v1.5 signature over SHA-256(nonce).
    pub signature: Vec<u8>,
}

/// Why a card flow failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    #[error("the PC/SC service is not running")]
    ServiceNotRunning,
    #[error("no card reader")]
    NoReader,
    #[error("no card on the reader")]
    NoCard,
    #[error("the card was removed during the operation")]
    CardRemoved,
    #[error("not a My Number card")]
    NotMyNumberCard,
    /// A card is on the reader but does not answer (mute or unpowered).
    #[error("the card does not respond")]
    Unresponsive,
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the PIN is locked")]
    PinLocked,
    /// One try is left and the person did not confirm using it; no VERIFY was sent.
    #[error("one PIN try left and not confirmed")]
    LastTryUnconfirmed { tries_left: u8 },
    #[error("another program is using the card")]
    Busy,
    /// The certificate stops this check before any PIN: lapsed beyond the
    /// grace, or (where a PIN would be asked) lapsed within it.
    #[error("the card's certificate expired on {expiry:?} ({standing:?})")]
    Certificate { expiry: Date, standing: Standing },
    /// The card answered something this helper cannot use.
    #[error("card failure: {0}")]
    Card(String),
}

impl From<TransportError> for CardError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::ServiceNotRunning => CardError::ServiceNotRunning,
            TransportError::NoReader { .. } => CardError::NoReader,
            TransportError::NoCard => CardError::NoCard,
            TransportError::CardRemoved => CardError::CardRemoved,
            TransportError::Unresponsive => CardError::Unresponsive,
            TransportError::Busy => CardError::Busy,
            other => CardError::Card(other.to_string()),
        }
    }
}

impl From<JpkiError> for CardError {
    fn from(e: JpkiError) -> Self {
        match e {
            JpkiError::Transport(t) => t.into(),
            JpkiError::NotMyNumberCard => CardError::NotMyNumberCard,
            JpkiError::WrongPin { tries_left } => CardError::WrongPin { tries_left },
            JpkiError::PinLocked => CardError::PinLocked,
            other => CardError::Card(other.to_string()),
        }
    }
}

impl CardError {
    /// The one place card errors become protocol errors.
    pub fn to_protocol(&self) -> ProtocolError {
        match self {
            CardError::ServiceNotRunning => ProtocolError {
                message: Bilingual::new(
                    "カードリーダーのサービス（pcscd）が動いていません。管理者に「onshi-helper doctor」の実行を依頼してください。",
                    "The PC/SC service (pcscd) is not running. Ask IT to run \"onshi-helper doctor\".",
                ),
                ..ProtocolError::new(ErrorCode::NoReader)
            },
            CardError::NoReader => ProtocolError::new(ErrorCode::NoReader),
            CardError::NoCard => ProtocolError::new(ErrorCode::NoCard),
            CardError::CardRemoved => ProtocolError::new(ErrorCode::CardRemoved),
            CardError::NotMyNumberCard => ProtocolError::new(ErrorCode::NotMyNumberCard),
            CardError::Unresponsive => ProtocolError::new(ErrorCode::CardUnreadable),
            CardError::WrongPin { tries_left } => ProtocolError::wrong_pin(*tries_left),
            CardError::PinLocked => ProtocolError::new(ErrorCode::PinLocked),
            CardError::LastTryUnconfirmed { tries_left } => {
                let mut e = ProtocolError::new(ErrorCode::LastTryUnconfirmed);
                e.detail.tries_left = Some(*tries_left);
                e
            }
            CardError::Busy => ProtocolError::new(ErrorCode::Busy),
            CardError::Certificate { expiry, standing } => ProtocolError::certificate(*expiry, *standing)
                // Only built for the standings that stop a check; anything else is a bug, shown as one.
                .unwrap_or_else(|| ProtocolError::new(ErrorCode::Internal)),
            CardError::Card(_) => ProtocolError {
                message: Bilingual::new(
                    "カードを読み取れませんでした。カードを置き直してもう一度お試しください。続くときは保険証・資格確認書で確認してください。",
                    "The card could not be read. Place it on the reader again and retry; if it keeps failing, use the insurance card.",
                ),
                retryable: true,
                ..ProtocolError::new(ErrorCode::Internal)
            },
        }
    }
}

impl Explain for CardError {
    fn explain(&self) -> Bilingual {
        self.to_protocol().message
    }
}

/// Runs `body` then resets the card, keeping the first error.
fn with_reset<T: CardTransport + ?Sized, R>(
    t: &mut T,
    body: impl FnOnce(&mut Jpki<'_, T>) -> Result<R, CardError>,
) -> Result<R, CardError> {
    let out = body(&mut Jpki::new(t, PROFILE));
    let reset = t.reset();
    let out = out?;
    reset?;
    Ok(out)
}

/// The profile flows use today (also what `access` probes readers with).
pub(crate) const PROFILE: &Profile = &PROFILE_2016;

/// PIN confirmation: proves the card is present and the person knows its PIN
/// by signing SHA-256(`nonce`) (the gateway's one-time challenge).
pub fn confirm_with_pin<T: CardTransport + ?Sized>(
    t: &mut T,
    pin: &Pin,
    nonce: &[u8],
    confirm_last_try: bool,
) -> Result<CardProof, CardError> {
    with_reset(t, |card| {
        card.select_applet()?;
        match card.tries_left()? {
            PinTries::Locked => return Err(CardError::PinLocked),
            // A wrong PIN now would lock the card: only with the person's explicit yes.
            PinTries::Left(n @ 1) if !confirm_last_try => return Err(CardError::LastTryUnconfirmed { tries_left: n }),
            PinTries::Left(_) => {}
        }
        card.verify(pin)?;
        let cert_der = card.read_certificate(CertFile::UserAuth)?;
        let signature = card.sign_digest_info(&sha256_digest_info(nonce))?;
        Ok(CardProof { cert_der, signature })
    })
}

/// "Today" for the certificate rule: the clinic's calendar day and its UTC
/// offset (the expiry day is notAfter's day at the same offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Today {
    pub date: Date,
    pub offset_minutes: i32,
}

/// The certificate's expiry day and where it stands today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertStanding {
    pub expiry: Date,
    pub standing: Standing,
}

impl CertStanding {
    /// Reads notAfter from the DER and applies the core rule.
    pub fn of(cert_der: &[u8], today: Today) -> Result<Self, CardError> {
        let not_after = cert_validity::not_after_unix(cert_der)
            .ok_or_else(|| CardError::Card("the certificate's notAfter is unreadable".into()))?;
        let expiry = cert_validity::expiry_day(not_after, today.offset_minutes);
        Ok(CertStanding { expiry, standing: cert_validity::standing(expiry, today.date) })
    }

    /// The notice for the result (reminder / grace), if any.
    pub fn notice(self) -> Option<onshi_core::protocol::CertificateNotice> {
        onshi_core::protocol::CertificateNotice::new(self.expiry, self.standing)
    }
}

/// What the card says before a PIN is asked (one transaction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BeforePin {
    pub certificate: CertStanding,
    pub tries: PinTries,
}

/// The check before the PIN window: the certificate first, and only when a
/// PIN can lead anywhere (core [`Standing::pin_useful`]) the tries-left
/// query. A lapsed certificate — within the grace or beyond — ends the flow
/// with [`CardError::Certificate`] having sent no VERIFY of any kind, so no
/// PIN try can be spent on a card that cannot succeed.
pub fn before_pin<T: CardTransport + ?Sized>(t: &mut T, today: Today) -> Result<BeforePin, CardError> {
    with_reset(t, |card| {
        card.select_applet()?;
        let cert = card.read_certificate(CertFile::UserAuth)?;
        let certificate = CertStanding::of(&cert, today)?;
        if !certificate.standing.pin_useful() {
            return Err(CardError::Certificate { expiry: certificate.expiry, standing: certificate.standing });
        }
        Ok(BeforePin { certificate, tries: card.tries_left()? })
    })
}

/// The certificate for a visual check (no PIN), refused when it is lapsed
/// beyond the grace: the card cannot be used for insurance at all then.
pub fn certificate_for_visual<T: CardTransport + ?Sized>(t: &mut T, today: Today) -> Result<(Vec<u8>, CertStanding), CardError> {
    let cert = read_certificate(t)?;
    let certificate = CertStanding::of(&cert, today)?;
    if !certificate.standing.qualification_allowed() {
        return Err(CardError::Certificate { expiry: certificate.expiry, standing: certificate.standing });
    }
    Ok((cert, certificate))
}

/// The user-authentication certificate, without PIN (visual-check mode, `card read-cert`).
pub fn read_certificate<T: CardTransport + ?Sized>(t: &mut T) -> Result<Vec<u8>, CardError> {
    with_reset(t, |card| {
        card.select_applet()?;
        Ok(card.read_certificate(CertFile::UserAuth)?)
    })
}

/// Whether the card is a My Number card and its PIN tries, without PIN (`card status`).
pub fn pin_status<T: CardTransport + ?Sized>(t: &mut T) -> Result<PinTries, CardError> {
    with_reset(t, |card| {
        card.select_applet()?;
        Ok(card.tries_left()?)
    })
}

#[cfg(test)]
mod tests {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::{Pkcs1v15Sign, RsaPublicKey};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::card::testing::{ForeignCard, SimTransport};

    fn pin(s: &str) -> Pin {
        Pin::new(s).unwrap()
    }

    fn verifies(proof: &CardProof, nonce: &[u8]) -> bool {
        let (_, x509) = x509_parser::parse_x509_certificate(&proof.cert_der).unwrap();
        let key = RsaPublicKey::from_public_key_der(x509.public_key().raw).unwrap();
        key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(nonce), &proof.signature).is_ok()
    }

    #[test]
    fn right_pin_signs_the_nonce_with_the_certificates_key() {
        let mut t = SimTransport::new(3);
        let proof = confirm_with_pin(&mut t, &pin("1234"), b"nonce-1", false).unwrap();
        assert!(verifies(&proof, b"nonce-1"));
        assert!(!verifies(&proof, b"nonce-2"), "the signature is bound to the nonce");
        let log = t.log_hex();
        // select applet → select PIN EF → tries-left query → (select PIN EF) → VERIFY (masked here).
        assert_eq!(&log[..4], ["00A4040C0AD392F000260100000001", "00A4020C020018", "00200080", "00A4020C020018"]);
        assert!(log[4].starts_with("0020008004"));
        // ... read the certificate (EF 000A) → select key EF 0017 → sign, then a reset.
        assert!(log.contains(&"00A4020C02000A".to_string()));
        assert!(log.iter().any(|c| c.starts_with("802A0080333031300D")), "{log:?}");
        assert_eq!(t.resets, 1);
        assert!(!t.card.pin_verified(), "the reset left no verified PIN");
    }

    #[test]
    fn wrong_pin_then_right() {
        let mut t = SimTransport::new(3);
        let e = confirm_with_pin(&mut t, &pin("9999"), b"n", false).unwrap_err();
        assert_eq!(e, CardError::WrongPin { tries_left: 2 });
        let p = e.to_protocol();
        assert_eq!((p.code, p.detail.tries_left), (ErrorCode::WrongPin, Some(2)));
        assert_eq!(t.resets, 1, "reset after a failure too");
        assert!(verifies(&confirm_with_pin(&mut t, &pin("1234"), b"n", false).unwrap(), b"n"));
        assert_eq!(t.card.tries_left(), 3, "a right PIN restores the counter");
    }

    #[test]
    fn one_try_left_is_refused_without_verify_unless_confirmed() {
        let mut t = SimTransport::new(1);
        let e = confirm_with_pin(&mut t, &pin("1234"), b"n", false).unwrap_err();
        assert_eq!(e, CardError::LastTryUnconfirmed { tries_left: 1 });
        assert_eq!(e.to_protocol().code, ErrorCode::LastTryUnconfirmed);
        assert!(!t.sent_pin(), "no VERIFY with data: {:?}", t.log_hex());
        assert_eq!(t.card.tries_left(), 1);
        // Confirmed by the person: the PIN is used.
        assert!(confirm_with_pin(&mut t, &pin("1234"), b"n", true).is_ok());
        assert!(t.sent_pin());
    }

    #[test]
    fn locked_card() {
        let mut t = SimTransport::new(1);
        assert_eq!(confirm_with_pin(&mut t, &pin("0000"), b"n", true), Err(CardError::PinLocked));
        let before = t.log.len();
        let e = confirm_with_pin(&mut t, &pin("1234"), b"n", true).unwrap_err();
        assert_eq!(e, CardError::PinLocked);
        assert_eq!(e.to_protocol().code, ErrorCode::PinLocked);
        assert!(!t.log[before..].iter().any(|c| c.len() > 4 && c[1] == 0x20), "no PIN sent to a locked card");
        assert_eq!(pin_status(&mut t), Ok(PinTries::Locked));
    }

    #[test]
    fn not_a_my_number_card() {
        let mut f = ForeignCard::default();
        let e = confirm_with_pin(&mut f, &pin("1234"), b"n", true).unwrap_err();
        assert_eq!(e, CardError::NotMyNumberCard);
        assert_eq!(e.to_protocol().code, ErrorCode::NotMyNumberCard);
        assert_eq!(f.log.len(), 1);
        assert_eq!(read_certificate(&mut f), Err(CardError::NotMyNumberCard));
    }

    #[test]
    fn card_removed_mid_flow_at_every_step() {
        for n in 0..12 {
            let mut t = SimTransport::new(3);
            t.remove_after = Some(n);
            let e = confirm_with_pin(&mut t, &pin("1234"), b"n", false).unwrap_err();
            assert_eq!(e, CardError::CardRemoved, "removed after {n} APDUs");
            assert_eq!(e.to_protocol().code, ErrorCode::CardRemoved);
        }
    }

    #[test]
    fn read_certificate_without_pin() {
        let mut t = SimTransport::new(3);
        let cert = read_certificate(&mut t).unwrap();
        assert!(x509_parser::parse_x509_certificate(&cert).is_ok());
        assert!(!t.sent_pin());
        assert_eq!(t.log.iter().filter(|c| c[1] == 0x20).count(), 0, "not even a tries-left query");
    }

    /// Issue 14: the certificate is judged before any PIN, and a card that
    /// cannot succeed never sees a VERIFY (not even the tries-left query).
    mod certificate {
        use super::*;
        use crate::card::testing::{cert_case_person, cert_test_today};
        use onshi_sim::pki::CertCase;

        fn today() -> Today {
            Today { date: cert_test_today(), offset_minutes: 540 }
        }

        fn card(case: CertCase) -> SimTransport {
            SimTransport::for_person(cert_case_person(case), 3)
        }

        fn verify_commands(t: &SimTransport) -> usize {
            t.log.iter().filter(|c| c[1] == 0x20).count()
        }

        #[test]
        fn lapsed_beyond_the_grace_is_refused_before_any_verify() {
            let mut t = card(CertCase::Lapsed);
            let e = before_pin(&mut t, today()).unwrap_err();
            let CardError::Certificate { expiry, standing } = e else { panic!("{e:?}") };
            assert_eq!(expiry, Date::from_days(cert_test_today().days() - 200));
            assert!(matches!(standing, Standing::Lapsed { .. }));
            let p = e.to_protocol();
            assert_eq!((p.code, p.retryable), (ErrorCode::CertificateExpired, false));
            assert!(p.message.ja.contains("資格確認書") && p.message.ja.contains("市区町村の窓口"), "{}", p.message.ja);
            assert_eq!(p.detail.not_after, Some(expiry.yyyymmdd()));
            assert_eq!(verify_commands(&t), 0, "no VERIFY of any kind: {:?}", t.log_hex());
            assert_eq!((t.card.tries_left(), t.resets), (3, 1));
            // A visual check is refused too: the card cannot be used for insurance at all.
            let e = certificate_for_visual(&mut t, today()).unwrap_err();
            assert_eq!(e.to_protocol().code, ErrorCode::CertificateExpired);
            assert_eq!(verify_commands(&t), 0);
        }

        #[test]
        fn lapsed_within_the_grace_takes_no_pin_but_passes_a_visual_check() {
            let mut t = card(CertCase::LapsedGrace);
            let e = before_pin(&mut t, today()).unwrap_err();
            let p = e.to_protocol();
            assert_eq!((p.code, p.retryable), (ErrorCode::CertificateInGrace, true));
            assert!(p.message.ja.contains("目視確認"), "{}", p.message.ja);
            assert_eq!(verify_commands(&t), 0, "{:?}", t.log_hex());
            let (cert, standing) = certificate_for_visual(&mut t, today()).unwrap();
            assert_eq!(cert, cert_case_person(CertCase::LapsedGrace).auth_cert_der);
            let notice = standing.notice().unwrap();
            assert_eq!(notice.state, onshi_core::protocol::CertificateState::LapsedGrace);
            assert!(notice.message.ja.contains("資格情報だけ"), "{}", notice.message.ja);
            assert_eq!((verify_commands(&t), t.card.tries_left()), (0, 3), "the tries counter is untouched");
        }

        #[test]
        fn expiring_soon_goes_ahead_with_a_reminder() {
            let mut t = card(CertCase::ExpiresSoon);
            let b = before_pin(&mut t, today()).unwrap();
            assert_eq!(b.tries, PinTries::Left(3));
            assert_eq!(b.certificate.standing, Standing::ExpiresSoon { days_left: 30 });
            let notice = b.certificate.notice().unwrap();
            assert!(notice.message.ja.contains("あと30日"), "{}", notice.message.ja);
            // The certificate first, then the tries-left query, and no PIN.
            let log = t.log_hex();
            assert_eq!(log[1], "00A4020C02000A");
            assert_eq!(&log[log.len() - 2..], ["00A4020C020018", "00200080"]);
            assert!(!t.sent_pin());
        }

        #[test]
        fn the_2049_certificate_is_plainly_valid() {
            let mut t = SimTransport::new(3);
            let b = before_pin(&mut t, today()).unwrap();
            assert_eq!((b.certificate.standing, b.certificate.notice()), (Standing::Valid, None));
            assert_eq!(b.certificate.expiry, Date::new(2049, 12, 31).unwrap());
        }
    }

    #[test]
    fn service_not_running_is_explained() {
        let e: CardError = TransportError::ServiceNotRunning.into();
        let p = e.to_protocol();
        assert_eq!(p.code, ErrorCode::NoReader);
        assert!(p.message.ja.contains("pcscd") && p.message.en.contains("not running"));
    }
}
