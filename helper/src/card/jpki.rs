//! The JPKI user-authentication applet of the My Number card (domain.md §5):
//! turns status words into domain errors. It selects only the applet named
//! in a [`Profile`]; the card-face applets have no code path here at all.

use onshi_core::protocol::pin::Pin;

use super::apdu::{Command, Response, Sw};
use super::transport::{CardTransport, TransportError};

/// AIDs and file ids of one card generation, as data, so the next
/// generation (announced for 2026, ECDSA P-384) is a new profile, not new code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// The JPKI applet (公的個人認証 AP).
    pub aid: &'static [u8],
    /// User-authentication certificate (readable without PIN).
    pub ef_auth_cert: u16,
    /// Its CA certificate.
    pub ef_auth_ca_cert: u16,
    /// User-authentication private key.
    pub ef_auth_key: u16,
    /// User-authentication PIN (4 digits).
    pub ef_auth_pin: u16,
}

/// The RSA-2048 card issued since 2016.
pub const PROFILE_2016: Profile = Profile {
    name: "jpki-2016-rsa2048",
    aid: &[0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01],
    ef_auth_cert: 0x000A,
    ef_auth_ca_cert: 0x000B,
    ef_auth_key: 0x0017,
    ef_auth_pin: 0x0018,
};

/// A certificate EF is never larger than this; more means a broken card or a lie.
pub const MAX_CERT_LEN: usize = 8 * 1024;

/// The DER prefix of a SHA-256 DigestInfo.
pub const SHA256_DIGEST_INFO_PREFIX: [u8; 19] =
    [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];

/// Which certificate to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertFile {
    UserAuth,
    Ca,
}

/// What the applet said, in domain terms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JpkiError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The JPKI applet is not on this card.
    #[error("not a My Number card (the JPKI applet is missing)")]
    NotMyNumberCard,
    #[error("wrong PIN, {tries_left} tries left")]
    WrongPin { tries_left: u8 },
    #[error("the PIN is locked")]
    PinLocked,
    #[error("the certificate is {len} bytes, over the {MAX_CERT_LEN}-byte limit")]
    CertificateTooLarge { len: usize },
    #[error("the certificate on the card is unreadable: {reason}")]
    BadCertificate { reason: &'static str },
    #[error("the signature is {len} bytes, expected 256")]
    BadSignature { len: usize },
    /// A status word this step does not expect.
    #[error("the card answered {sw:04X} to {step}")]
    Unexpected { step: &'static str, sw: u16 },
}

/// How many PIN tries are left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinTries {
    Left(u8),
    Locked,
}

/// The applet on one transport, for one flow.
pub struct Jpki<'t, T: CardTransport + ?Sized> {
    t: &'t mut T,
    profile: &'static Profile,
}

impl<'t, T: CardTransport + ?Sized> Jpki<'t, T> {
    pub fn new(t: &'t mut T, profile: &'static Profile) -> Self {
        Jpki { t, profile }
    }

    fn send(&mut self, cmd: &Command) -> Result<Response, JpkiError> {
        let raw = self.t.transmit(cmd.as_bytes())?;
        Response::parse(&raw).ok_or(JpkiError::Transport(TransportError::ShortResponse { len: raw.len() }))
    }

    fn expect_ok(&mut self, cmd: &Command, step: &'static str) -> Result<Response, JpkiError> {
        let r = self.send(cmd)?;
        match r.sw {
            Sw::Ok => Ok(r),
            _ => Err(JpkiError::Unexpected { step, sw: r.sw_raw }),
        }
    }

    /// Selects the applet; the card is recognised by this answer, not by its ATR.
    pub fn select_applet(&mut self) -> Result<(), JpkiError> {
        let cmd = Command::select_aid(self.profile.aid).map_err(|_| JpkiError::NotMyNumberCard)?;
        let r = self.send(&cmd)?;
        match r.sw {
            Sw::Ok => Ok(()),
            // Not found, or a card that does not even understand SELECT.
            Sw::FileNotFound | Sw::WrongP1P2 | Sw::InsNotSupported | Sw::ClaNotSupported | Sw::ConditionsNotSatisfied => {
                Err(JpkiError::NotMyNumberCard)
            }
            _ => Err(JpkiError::Unexpected { step: "select applet", sw: r.sw_raw }),
        }
    }

    /// Reads a certificate EF in ≤ 256-byte chunks, sized by its DER header.
    pub fn read_certificate(&mut self, which: CertFile) -> Result<Vec<u8>, JpkiError> {
        let ef = match which {
            CertFile::UserAuth => self.profile.ef_auth_cert,
            CertFile::Ca => self.profile.ef_auth_ca_cert,
        };
        self.expect_ok(&Command::select_ef(ef), "select certificate")?;
        let mut cert = Vec::new();
        let mut total: Option<usize> = None;
        loop {
            let want = match total {
                Some(t) if cert.len() >= t => break,
                Some(t) => (t - cert.len()).min(256),
                // The first chunk is a full 256 bytes; the header inside it sizes the rest.
                None => 256,
            };
            let offset = u16::try_from(cert.len()).map_err(|_| JpkiError::CertificateTooLarge { len: cert.len() })?;
            let cmd = Command::read_binary(offset, want).map_err(|_| JpkiError::BadCertificate { reason: "length" })?;
            let r = self.send(&cmd)?;
            match r.sw {
                Sw::Ok if r.data.is_empty() => return Err(JpkiError::BadCertificate { reason: "truncated" }),
                Sw::Ok => cert.extend_from_slice(&r.data),
                Sw::WrongOffset => return Err(JpkiError::BadCertificate { reason: "truncated" }),
                _ => return Err(JpkiError::Unexpected { step: "read certificate", sw: r.sw_raw }),
            }
            if total.is_none() {
                let t = der_total_len(&cert)?;
                if t > MAX_CERT_LEN {
                    return Err(JpkiError::CertificateTooLarge { len: t });
                }
                total = Some(t);
            }
        }
        if let Some(t) = total {
            cert.truncate(t);
        }
        Ok(cert)
    }

    /// Tries left on the user-auth PIN, without using one (`00 20 00 80`).
    pub fn tries_left(&mut self) -> Result<PinTries, JpkiError> {
        self.expect_ok(&Command::select_ef(self.profile.ef_auth_pin), "select PIN")?;
        let r = self.send(&Command::verify_query())?;
        match r.sw {
            Sw::WrongPin { tries_left } => Ok(PinTries::Left(tries_left)),
            Sw::Locked => Ok(PinTries::Locked),
            _ => Err(JpkiError::Unexpected { step: "tries-left query", sw: r.sw_raw }),
        }
    }

    /// VERIFY with the PIN (the PIN EF must be current: call [`Self::tries_left`] first
    /// or let this select it).
    pub fn verify(&mut self, pin: &Pin) -> Result<(), JpkiError> {
        self.expect_ok(&Command::select_ef(self.profile.ef_auth_pin), "select PIN")?;
        let r = self.send(&Command::verify(pin))?;
        match r.sw {
            Sw::Ok => Ok(()),
            Sw::WrongPin { tries_left } => Err(JpkiError::WrongPin { tries_left }),
            Sw::Locked => Err(JpkiError::PinLocked),
            _ => Err(JpkiError::Unexpected { step: "verify", sw: r.sw_raw }),
        }
    }

    /// Signs a DER DigestInfo with the user-auth key → 256-byte RSA signature.
    pub fn sign_digest_info(&mut self, digest_info: &[u8]) -> Result<Vec<u8>, JpkiError> {
        self.expect_ok(&Command::select_ef(self.profile.ef_auth_key), "select key")?;
        let cmd = Command::compute_signature(digest_info)
            .map_err(|_| JpkiError::Unexpected { step: "sign (digest too long)", sw: 0 })?;
        let r = self.expect_ok(&cmd, "sign")?;
        if r.data.len() != 256 {
            return Err(JpkiError::BadSignature { len: r.data.len() });
        }
        Ok(r.data)
    }
}

/// The full length of a DER SEQUENCE from its first bytes (short or long form, ≤ 2 length bytes).
fn der_total_len(head: &[u8]) -> Result<usize, JpkiError> {
    let bad = |reason| JpkiError::BadCertificate { reason };
    match head {
        [0x30, 0x82, hi, lo, ..] => Ok(usize::from(u16::from_be_bytes([*hi, *lo])) + 4),
        [0x30, 0x81, n, ..] => Ok(usize::from(*n) + 3),
        [0x30, n, ..] if *n < 0x80 => Ok(usize::from(*n) + 2),
        [0x30, 0x83..=0xFF, ..] => Err(JpkiError::CertificateTooLarge { len: usize::MAX }),
        [0x30, ..] | [] => Err(bad("truncated")),
        _ => Err(bad("not a DER certificate")),
    }
}

/// The SHA-256 DigestInfo of `message`, as the card signs it.
pub fn sha256_digest_info(message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut v = SHA256_DIGEST_INFO_PREFIX.to_vec();
    v.extend_from_slice(&Sha256::digest(message));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::testing::{FileCard, ForeignCard, SimTransport, person};

    #[test]
    fn reads_the_certificate_in_chunks_sized_by_its_header() {
        let mut t = SimTransport::new(3);
        let want = person().auth_cert_der;
        let mut j = Jpki::new(&mut t, &PROFILE_2016);
        j.select_applet().unwrap();
        assert_eq!(j.read_certificate(CertFile::UserAuth).unwrap(), want);
        let log = t.log_hex();
        // Step 1: select the JPKI applet by AID.
        assert_eq!(log[0], "00A4040C0AD392F000260100000001");
        // Step 2: select EF 000A (user-auth certificate).
        assert_eq!(log[1], "00A4020C02000A");
        // Step 3: the first chunk is 256 bytes at offset 0; the rest follow at 256-byte steps.
        assert_eq!(log[2], "00B0000000");
        assert!(log[3].starts_with("00B00100"));
        assert_eq!(log.len(), 2 + want.len().div_ceil(256));
    }

    #[test]
    fn reads_the_ca_certificate() {
        let mut t = SimTransport::new(3);
        let mut j = Jpki::new(&mut t, &PROFILE_2016);
        j.select_applet().unwrap();
        assert_eq!(j.read_certificate(CertFile::Ca).unwrap(), person().ca_cert_der);
    }

    #[test]
    fn bad_certificate_files_are_typed_errors() {
        let cases: [(Vec<u8>, JpkiError); 4] = [
            // Declares 0x2000 + 4 bytes: over the 8 KiB bound, refused before reading on.
            (vec![0x30, 0x82, 0x20, 0x00, 0, 0], JpkiError::CertificateTooLarge { len: 0x2004 }),
            // Declares 600 bytes but the file ends after 300.
            ([vec![0x30, 0x82, 0x02, 0x54], vec![0; 296]].concat(), JpkiError::BadCertificate { reason: "truncated" }),
            (vec![0xFF; 40], JpkiError::BadCertificate { reason: "not a DER certificate" }),
            (vec![0x30], JpkiError::BadCertificate { reason: "truncated" }),
        ];
        for (file, want) in cases {
            let mut t = FileCard { file };
            let got = Jpki::new(&mut t, &PROFILE_2016).read_certificate(CertFile::UserAuth);
            assert_eq!(got, Err(want));
        }
    }

    #[test]
    fn tries_left_needs_no_pin_and_a_foreign_card_is_not_a_my_number_card() {
        let mut t = SimTransport::new(3);
        let mut j = Jpki::new(&mut t, &PROFILE_2016);
        j.select_applet().unwrap();
        assert_eq!(j.tries_left().unwrap(), PinTries::Left(3));
        // select 0018, then VERIFY without data.
        assert_eq!(&t.log_hex()[1..], ["00A4020C020018", "00200080"]);
        let mut f = ForeignCard::default();
        assert_eq!(Jpki::new(&mut f, &PROFILE_2016).select_applet(), Err(JpkiError::NotMyNumberCard));
        assert_eq!(f.log.len(), 1, "nothing after the failed SELECT");
    }

    #[test]
    fn verify_and_sign() {
        let mut t = SimTransport::new(3);
        let mut j = Jpki::new(&mut t, &PROFILE_2016);
        j.select_applet().unwrap();
        assert_eq!(j.verify(&Pin::new("0000").unwrap()), Err(JpkiError::WrongPin { tries_left: 2 }));
        j.verify(&Pin::new("1234").unwrap()).unwrap();
        let sig = j.sign_digest_info(&sha256_digest_info(b"nonce")).unwrap();
        assert_eq!(sig.len(), 256);
    }
}
