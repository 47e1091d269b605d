//! A virtual My Number card's JPKI applet as one pure APDU state machine
//! (domain.md §5): bytes in, bytes out, no I/O, no clock.
//!
//! The same machine answers in-process tests and, through `vpcd`, real pcscd.
//! Only the JPKI user-authentication applet exists; the card-face applets
//! (券面事項入力補助AP, 券面事項確認AP) answer "file not found" exactly like any
//! unknown AID, because this project must never read them.
//!
//! Behaviour, in brief (short APDUs only; extended length → `6700`):
//! - `00 A4 04 0C Lc AID` selects an application (a fresh security context);
//!   `00 A4 02 0C 02 id` selects EF `000A` (auth cert), `000B` (CA cert),
//!   `0017` (auth key) or `0018` (auth PIN) inside the JPKI applet.
//! - `00 B0 off_hi off_lo Le` reads a certificate EF; Le `00` means 256; the
//!   last chunk may be shorter than Le and still ends in `9000`.
//! - `00 20 00 80` (PIN EF selected) returns `63Cx`, or `6983` once locked;
//!   with 4 ASCII digits it answers `9000` (counter reset) or `63Cx`
//!   (`63C0` on the try that locks the card; `6983` afterwards).
//! - `80 2A 00 80 Lc DigestInfo [00]` with EF `0017` selected and the PIN
//!   verified in this session signs the DigestInfo with RSA PKCS#1 v1.5
//!   (type 1 padding over the bytes as given) → 256 bytes + `9000`.
//! - Power-off, power-on and reset end the session: selection and the
//!   verified state are cleared; the tries counter persists (it is in EEPROM).

use onshi_core::card_sw as sw;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};

use crate::pki::PersonCard;

/// The JPKI applet (公的個人認証 AP).
pub const JPKI_AID: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
/// 券面事項入力補助AP: exposes the individual number. Never implemented, never to be selected.
pub const FORBIDDEN_AID_INPUT_SUPPORT: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
/// 券面事項確認AP: exposes the card face. Never implemented, never to be selected.
pub const FORBIDDEN_AID_FACE: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02];
/// The ATR the virtual card presents: T=1 only, no historical bytes
/// (clients must detect the card by SELECT, not by ATR).
pub const ATR: [u8; 5] = [0x3B, 0x80, 0x80, 0x01, 0x01];

/// EF ids inside the JPKI applet.
pub const EF_AUTH_CERT: u16 = 0x000A;
pub const EF_AUTH_CA_CERT: u16 = 0x000B;
pub const EF_AUTH_KEY: u16 = 0x0017;
pub const EF_AUTH_PIN: u16 = 0x0018;

/// Instruction bytes whose data is a PIN and must never be logged.
const PIN_INS: [u8; 3] = [0x20, 0x24, 0x2C];

/// A status word this card answers with: a value of core's one table
/// ([`onshi_core::card_sw`]), which the helper reads with the same meanings.
type Status = u16;

/// Settings that are wrong before the card ever sees an APDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    #[error("the card PIN must be exactly 4 ASCII digits")]
    BadPin,
    #[error("tries must be 1–15, not {0}")]
    BadTries(u8),
}

impl CardError {
    pub fn explain(&self) -> onshi_core::text::Bilingual {
        let ja = match self {
            CardError::BadPin => "カードの暗証番号は半角数字4桁で指定してください。".to_string(),
            CardError::BadTries(n) => format!("残り回数 {n} は使えません。1〜15 を指定してください。"),
        };
        onshi_core::text::Bilingual { ja, en: format!("{self}; fix the option and start the card again.") }
    }
}

/// A parsed short APDU. `le` is the expected length with `00` already read as 256.
#[derive(Debug)]
struct Apdu<'a> {
    cla: u8,
    ins: u8,
    p1: u8,
    p2: u8,
    data: &'a [u8],
    le: Option<usize>,
}

fn parse(b: &[u8]) -> Result<Apdu<'_>, Status> {
    let [cla, ins, p1, p2, rest @ ..] = b else { return Err(sw::WRONG_LENGTH) };
    let le_of = |x: u8| if x == 0 { 256 } else { usize::from(x) };
    let (data, le): (&[u8], Option<usize>) = match rest {
        [] => (&[], None),
        [le] => (&[], Some(le_of(*le))),
        // Lc = 00 followed by more bytes is extended length, which this card lacks.
        [0, ..] => return Err(sw::WRONG_LENGTH),
        [lc, body @ ..] => {
            let lc = usize::from(*lc);
            if body.len() == lc {
                (body, None)
            } else if body.len() == lc + 1 {
                (&body[..lc], Some(le_of(body[lc])))
            } else {
                return Err(sw::WRONG_LENGTH);
            }
        }
    };
    Ok(Apdu { cla: *cla, ins: *ins, p1: *p1, p2: *p2, data, le })
}

/// The files of the JPKI applet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ef {
    AuthCert,
    CaCert,
    AuthKey,
    AuthPin,
}

/// One virtual My Number card. Construct with [`VirtualCard::new`], then
/// [`power_on`](Self::power_on) and [`transmit`](Self::transmit).
pub struct VirtualCard {
    auth_cert: Vec<u8>,
    ca_cert: Vec<u8>,
    auth_key: RsaPrivateKey,
    pin: [u8; 4],
    max_tries: u8,
    tries_left: u8,
    /// Counts power-ons and resets; 0 until the first power-on.
    session: u64,
    powered: bool,
    app_selected: bool,
    current_ef: Option<Ef>,
    pin_verified: bool,
}

impl std::fmt::Debug for VirtualCard {
    // Neither the PIN nor the key is printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualCard")
            .field("tries_left", &self.tries_left)
            .field("session", &self.session)
            .field("pin_verified", &self.pin_verified)
            .finish_non_exhaustive()
    }
}

impl VirtualCard {
    /// A card holding `person`'s certificate and key, protected by `pin`
    /// (4 ASCII digits) with `tries` attempts (1–15), powered off.
    pub fn new(person: PersonCard, pin: &str, tries: u8) -> Result<Self, CardError> {
        let pin: [u8; 4] = pin.as_bytes().try_into().map_err(|_| CardError::BadPin)?;
        if !pin.iter().all(u8::is_ascii_digit) {
            return Err(CardError::BadPin);
        }
        if !(1..=15).contains(&tries) {
            return Err(CardError::BadTries(tries));
        }
        Ok(VirtualCard {
            auth_cert: person.auth_cert_der,
            ca_cert: person.ca_cert_der,
            auth_key: person.auth_key,
            pin,
            max_tries: tries,
            tries_left: tries,
            session: 0,
            powered: false,
            app_selected: false,
            current_ef: None,
            pin_verified: false,
        })
    }

    /// Cold start: a new session; returns the ATR.
    pub fn power_on(&mut self) -> &'static [u8] {
        self.start_session();
        &ATR
    }

    /// Warm reset: like power-on, a new session with nothing selected or verified.
    pub fn reset(&mut self) -> &'static [u8] {
        self.start_session();
        &ATR
    }

    /// The card loses power: volatile state is gone, the tries counter stays.
    pub fn power_off(&mut self) {
        self.powered = false;
        self.clear_volatile();
    }

    pub fn is_powered(&self) -> bool {
        self.powered
    }

    pub fn session(&self) -> u64 {
        self.session
    }

    pub fn tries_left(&self) -> u8 {
        self.tries_left
    }

    pub fn pin_verified(&self) -> bool {
        self.pin_verified
    }

    fn start_session(&mut self) {
        self.session += 1;
        self.powered = true;
        self.clear_volatile();
    }

    fn clear_volatile(&mut self) {
        self.app_selected = false;
        self.current_ef = None;
        self.pin_verified = false;
    }

    /// Answers one command APDU with one response APDU (data + SW1 SW2).
    /// A card that is not powered is powered on first, as a reader would.
    pub fn transmit(&mut self, command: &[u8]) -> Vec<u8> {
        if !self.powered {
            self.start_session();
        }
        match parse(command).and_then(|apdu| self.dispatch(&apdu)) {
            Ok(mut data) => {
                data.extend_from_slice(&sw::OK.to_be_bytes());
                data
            }
            Err(status) => status.to_be_bytes().to_vec(),
        }
    }

    fn dispatch(&mut self, a: &Apdu<'_>) -> Result<Vec<u8>, Status> {
        // CLA first (ISO 7816-4 order), then INS, then the CLA each INS needs.
        if a.cla != 0x00 && a.cla != 0x80 {
            return Err(sw::CLA_NOT_SUPPORTED);
        }
        let needed_cla = match a.ins {
            0xA4 | 0xB0 | 0x20 => 0x00,
            0x2A => 0x80,
            _ => return Err(sw::INS_NOT_SUPPORTED),
        };
        if a.cla != needed_cla {
            return Err(sw::CLA_NOT_SUPPORTED);
        }
        match a.ins {
            0xA4 => self.select(a),
            0xB0 => self.read_binary(a),
            0x20 => self.verify(a),
            _ => self.sign(a),
        }
    }

    fn select(&mut self, a: &Apdu<'_>) -> Result<Vec<u8>, Status> {
        if a.p2 != 0x0C {
            return Err(sw::WRONG_P1P2);
        }
        match a.p1 {
            0x04 => {
                if a.data.is_empty() {
                    return Err(sw::WRONG_LENGTH);
                }
                // Forbidden applets fall through here like any unknown AID:
                // they do not exist on this card.
                if a.data != JPKI_AID {
                    return Err(sw::FILE_NOT_FOUND);
                }
                self.clear_volatile();
                self.app_selected = true;
                Ok(Vec::new())
            }
            0x02 => {
                let [hi, lo] = a.data else { return Err(sw::WRONG_LENGTH) };
                if !self.app_selected {
                    return Err(sw::FILE_NOT_FOUND);
                }
                let ef = match u16::from_be_bytes([*hi, *lo]) {
                    EF_AUTH_CERT => Ef::AuthCert,
                    EF_AUTH_CA_CERT => Ef::CaCert,
                    EF_AUTH_KEY => Ef::AuthKey,
                    EF_AUTH_PIN => Ef::AuthPin,
                    _ => return Err(sw::FILE_NOT_FOUND),
                };
                self.current_ef = Some(ef);
                Ok(Vec::new())
            }
            _ => Err(sw::WRONG_P1P2),
        }
    }

    fn read_binary(&mut self, a: &Apdu<'_>) -> Result<Vec<u8>, Status> {
        // P1 bit 8 would name a short EF id, which this card does not offer.
        if a.p1 & 0x80 != 0 {
            return Err(sw::WRONG_P1P2);
        }
        let (false, Some(le)) = (!a.data.is_empty(), a.le) else { return Err(sw::WRONG_LENGTH) };
        let file = match self.current_ef {
            None => return Err(sw::NO_CURRENT_EF),
            Some(Ef::AuthCert) => &self.auth_cert,
            Some(Ef::CaCert) => &self.ca_cert,
            Some(Ef::AuthKey | Ef::AuthPin) => return Err(sw::INCOMPATIBLE_FILE),
        };
        let offset = usize::from(u16::from_be_bytes([a.p1, a.p2]));
        if offset >= file.len() {
            return Err(sw::WRONG_OFFSET);
        }
        let end = (offset + le).min(file.len());
        Ok(file[offset..end].to_vec())
    }

    fn verify(&mut self, a: &Apdu<'_>) -> Result<Vec<u8>, Status> {
        if a.p1 != 0x00 || a.p2 != 0x80 {
            return Err(sw::WRONG_P1P2);
        }
        if self.current_ef != Some(Ef::AuthPin) {
            return Err(sw::REFERENCE_NOT_FOUND);
        }
        if a.le.is_some() {
            return Err(sw::WRONG_LENGTH);
        }
        if self.tries_left == 0 {
            return Err(sw::PIN_BLOCKED);
        }
        if a.data.is_empty() {
            // The tries-left query; it answers 63Cx even after a successful VERIFY.
            return Err(sw::tries_left(self.tries_left));
        }
        let Ok(given) = <[u8; 4]>::try_from(a.data) else { return Err(sw::WRONG_LENGTH) };
        if !given.iter().all(u8::is_ascii_digit) {
            return Err(sw::WRONG_DATA);
        }
        if given == self.pin {
            self.tries_left = self.max_tries;
            self.pin_verified = true;
            Ok(Vec::new())
        } else {
            self.tries_left -= 1;
            self.pin_verified = false;
            Err(sw::tries_left(self.tries_left))
        }
    }

    fn sign(&mut self, a: &Apdu<'_>) -> Result<Vec<u8>, Status> {
        if a.p1 != 0x00 || a.p2 != 0x80 {
            return Err(sw::WRONG_P1P2);
        }
        if self.current_ef != Some(Ef::AuthKey) {
            return Err(sw::CONDITIONS_NOT_SATISFIED);
        }
        if !self.pin_verified {
            return Err(sw::SECURITY_NOT_SATISFIED);
        }
        // PKCS#1 v1.5 type 1 needs at least 11 bytes of padding in 256.
        if a.data.is_empty() || a.data.len() > 256 - 11 || !matches!(a.le, None | Some(256)) {
            return Err(sw::WRONG_LENGTH);
        }
        self.auth_key.sign(Pkcs1v15Sign::new_unprefixed(), a.data).map_err(|_| sw::INTERNAL)
    }
}

/// The command as uppercase hex for logs, with PIN bytes replaced by `*`
/// (`0020008004********`), so no log ever holds a PIN.
pub fn redacted_hex(command: &[u8]) -> String {
    let mask = command.len() > 5 && PIN_INS.contains(&command[1]);
    command
        .iter()
        .enumerate()
        .map(|(i, b)| if mask && i >= 5 { "**".to_string() } else { format!("{b:02X}") })
        .collect()
}

/// Uppercase hex without separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}
