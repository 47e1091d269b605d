//! The APDU codec (ISO 7816-4, short APDUs only): command builders, the
//! status-word enum and response parsing. It knows byte layouts, not
//! applets, and never panics on a short or odd answer. A command that
//! carries a PIN is wiped from memory on drop and never printed.

use std::fmt;

use onshi_core::protocol::pin::Pin;
use zeroize::Zeroize;

/// A command APDU ready to transmit.
pub struct Command {
    bytes: Vec<u8>,
    /// Carries a secret (the PIN): redacted in `Debug`.
    secret: bool,
}

impl Drop for Command {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            let head: String = self.bytes.iter().take(5).map(|b| format!("{b:02X}")).collect();
            write!(f, "Command({head}<{} secret bytes>)", self.bytes.len().saturating_sub(5))
        } else {
            let hex: String = self.bytes.iter().map(|b| format!("{b:02X}")).collect();
            write!(f, "Command({hex})")
        }
    }
}

/// A command that cannot be expressed as a short APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApduError {
    #[error("command data of {len} bytes does not fit a short APDU (1–255)")]
    DataLength { len: usize },
    #[error("expected length {le} is outside 1–256")]
    Le { le: usize },
}

impl Command {
    fn with_data(header: [u8; 4], data: &[u8], le: Option<usize>) -> Result<Command, ApduError> {
        let lc = u8::try_from(data.len()).ok().filter(|&n| n > 0).ok_or(ApduError::DataLength { len: data.len() })?;
        let mut bytes = Vec::with_capacity(4 + 1 + data.len() + 1);
        bytes.extend_from_slice(&header);
        bytes.push(lc);
        bytes.extend_from_slice(data);
        if let Some(le) = le {
            bytes.push(le_byte(le)?);
        }
        Ok(Command { bytes, secret: false })
    }

    /// SELECT by application name: `00 A4 04 0C Lc AID` (no FCI wanted).
    pub fn select_aid(aid: &[u8]) -> Result<Command, ApduError> {
        Self::with_data([0x00, 0xA4, 0x04, 0x0C], aid, None)
    }

    /// SELECT an elementary file by id: `00 A4 02 0C 02 id`.
    pub fn select_ef(id: u16) -> Command {
        let [hi, lo] = id.to_be_bytes();
        Command { bytes: vec![0x00, 0xA4, 0x02, 0x0C, 0x02, hi, lo], secret: false }
    }

    /// READ BINARY `00 B0 off_hi off_lo Le` (offset up to 0x7FFF; Le 256 is written `00`).
    pub fn read_binary(offset: u16, le: usize) -> Result<Command, ApduError> {
        let [hi, lo] = (offset & 0x7FFF).to_be_bytes();
        Ok(Command { bytes: vec![0x00, 0xB0, hi, lo, le_byte(le)?], secret: false })
    }

    /// VERIFY without data `00 20 00 80`: asks how many tries are left.
    pub fn verify_query() -> Command {
        Command { bytes: vec![0x00, 0x20, 0x00, 0x80], secret: false }
    }

    /// VERIFY `00 20 00 80 04 <4 ASCII digits>`. The only place the PIN enters an APDU.
    pub fn verify(pin: &Pin) -> Command {
        let digits = pin.expose_secret().as_bytes();
        let mut bytes = Vec::with_capacity(5 + digits.len());
        bytes.extend_from_slice(&[0x00, 0x20, 0x00, 0x80, 0x04]);
        bytes.extend_from_slice(digits);
        Command { bytes, secret: true }
    }

    /// COMPUTE DIGITAL SIGNATURE `80 2A 00 80 Lc <DigestInfo> 00`.
    pub fn compute_signature(digest_info: &[u8]) -> Result<Command, ApduError> {
        Self::with_data([0x80, 0x2A, 0x00, 0x80], digest_info, Some(256))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

fn le_byte(le: usize) -> Result<u8, ApduError> {
    match le {
        256 => Ok(0),
        1..=255 => Ok(le as u8),
        _ => Err(ApduError::Le { le }),
    }
}

/// A status word, named where the JPKI flows care about it. The table is
/// core's (shared with the simulator's virtual card), so the helper and the
/// card it is tested against read every word alike.
pub use onshi_core::card_sw::Sw;

/// A response APDU split into data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub data: Vec<u8>,
    pub sw: Sw,
    /// The raw status word, for messages.
    pub sw_raw: u16,
}

impl Response {
    /// Splits `data ‖ SW1 SW2`; `None` when fewer than two bytes came back.
    pub fn parse(raw: &[u8]) -> Option<Response> {
        let split = raw.len().checked_sub(2)?;
        let (data, sw) = raw.split_at(split);
        let sw_raw = u16::from_be_bytes([sw[0], sw[1]]);
        Some(Response { data: data.to_vec(), sw: Sw::from_u16(sw_raw), sw_raw })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_produce_the_documented_bytes() {
        let cases: [(Command, &[u8]); 6] = [
            (Command::select_aid(&[0xA0, 0x01]).unwrap(), &[0x00, 0xA4, 0x04, 0x0C, 0x02, 0xA0, 0x01]),
            (Command::select_ef(0x000A), &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A]),
            (Command::read_binary(0x0100, 256).unwrap(), &[0x00, 0xB0, 0x01, 0x00, 0x00]),
            (Command::read_binary(4, 4).unwrap(), &[0x00, 0xB0, 0x00, 0x04, 0x04]),
            (Command::verify_query(), &[0x00, 0x20, 0x00, 0x80]),
            (Command::compute_signature(&[1, 2, 3]).unwrap(), &[0x80, 0x2A, 0x00, 0x80, 0x03, 1, 2, 3, 0x00]),
        ];
        for (cmd, want) in cases {
            assert_eq!(cmd.as_bytes(), want, "{cmd:?}");
        }
    }

    #[test]
    fn verify_carries_the_pin_but_never_prints_it() {
        let pin = Pin::new("4821").unwrap();
        let cmd = Command::verify(&pin);
        assert_eq!(cmd.as_bytes(), b"\x00\x20\x00\x80\x044821");
        let shown = format!("{cmd:?}");
        assert!(!shown.contains("4821") && !shown.contains("34383231"), "{shown}");
        assert!(shown.contains("<4 secret bytes>"), "{shown}");
    }

    #[test]
    fn lengths_outside_short_apdus_are_refused() {
        assert_eq!(Command::select_aid(&[]).unwrap_err(), ApduError::DataLength { len: 0 });
        assert_eq!(Command::compute_signature(&[0; 256]).unwrap_err(), ApduError::DataLength { len: 256 });
        assert_eq!(Command::read_binary(0, 0).unwrap_err(), ApduError::Le { le: 0 });
        assert_eq!(Command::read_binary(0, 257).unwrap_err(), ApduError::Le { le: 257 });
    }

    #[test]
    fn short_answers_and_the_split() {
        assert_eq!(Response::parse(&[]), None);
        assert_eq!(Response::parse(&[0x90]), None);
        let r = Response::parse(&[0xAB, 0x90, 0x00]).unwrap();
        assert_eq!((r.data.as_slice(), r.sw), (&[0xAB][..], Sw::Ok));
        // The meaning comes from core's table (tested there); the raw word is kept.
        let r = Response::parse(&[0x63, 0xC2]).unwrap();
        assert_eq!((r.sw, r.sw_raw), (Sw::WrongPin { tries_left: 2 }, 0x63C2));
    }
}
