//! The card PIN (JPKI user-authentication PIN, 4 digits) as a type that
//! cannot leak: wiped from memory on drop, printed as `****`, and with no
//! `Serialize` so it cannot end up in a reply, an event or a log line by
//! accident. The only way to the digits is [`Pin::expose_secret`], which is
//! easy to find in review.
//!
//! Limits worth knowing: the JSON frame the PIN arrived in, and serde's
//! internal buffer for tagged enums, are separate copies; the helper should
//! wipe its frame buffer after parsing (see `docs/protocol.md`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::text::{Bilingual, Explain};

/// Four ASCII digits. Not `Clone`: one copy, wiped when dropped.
pub struct Pin([u8; 4]);

impl Drop for Pin {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Pin {}

/// Why a PIN was refused. Never carries the digits typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PinError {
    /// Not exactly four ASCII digits `0`–`9`.
    #[error("a PIN is exactly 4 digits")]
    NotFourDigits,
}

impl Explain for PinError {
    fn explain(&self) -> Bilingual {
        Bilingual::new(
            "暗証番号は数字4桁です。入力し直してください。",
            "The PIN is 4 digits. Enter it again.",
        )
    }
}

impl Pin {
    /// A PIN from exactly four ASCII digits (full-width digits are refused
    /// here; the PIN window's keypad only produces ASCII).
    pub fn new(digits: &str) -> Result<Pin, PinError> {
        match digits.as_bytes() {
            &[a, b, c, d] if [a, b, c, d].iter().all(u8::is_ascii_digit) => Ok(Pin([a, b, c, d])),
            _ => Err(PinError::NotFourDigits),
        }
    }

    /// The digits, for the VERIFY APDU or for writing a `pin_entry` frame
    /// in the extension's tests. Every call is a place the PIN leaves this
    /// type: keep them few and never log the result.
    pub fn expose_secret(&self) -> &str {
        // The constructor admits ASCII digits only, so this cannot fail.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(****)")
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

impl PartialEq for Pin {
    /// Constant-time, so comparing in tests or a simulator leaks no timing.
    fn eq(&self, other: &Pin) -> bool {
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}
impl Eq for Pin {}

/// Reads a PIN from a JSON string only. Every refusal uses the same fixed
/// message: serde's default errors quote the offending value (`invalid type:
/// integer 1234`), which would put the PIN into an error reply or a log.
impl<'de> Deserialize<'de> for Pin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Pin, D::Error> {
        // `deserialize_any`, not `deserialize_str`: for a tagged enum serde buffers the
        // body, and its buffer answers a wrong type with a message that quotes
        // the value (`invalid type: integer 4321`). Through `deserialize_any` every
        // shape reaches our visitor, whose errors never quote.
        deserializer.deserialize_any(PinVisitor)
    }
}

struct PinVisitor;

const PIN_SHAPE: &str = "pin: a string of exactly 4 ASCII digits";

impl<'de> Visitor<'de> for PinVisitor {
    type Value = Pin;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string of exactly 4 ASCII digits")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Pin, E> {
        Pin::new(v).map_err(|_| E::custom(PIN_SHAPE))
    }

    fn visit_string<E: de::Error>(self, mut v: String) -> Result<Pin, E> {
        let pin = Pin::new(&v).map_err(|_| E::custom(PIN_SHAPE));
        v.zeroize();
        pin
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_char<E: de::Error>(self, _: char) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_none<E: de::Error>(self) -> Result<Pin, E> {
        Err(E::custom(PIN_SHAPE))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Pin, A::Error> {
        Err(de::Error::custom(PIN_SHAPE))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Pin, A::Error> {
        Err(de::Error::custom(PIN_SHAPE))
    }
}

/// `serialize_with` for the `pin` field of `pin_entry`: the request type must
/// be `Serialize` (the web app sends requests), but the PIN always writes as
/// `"****"`. A redacted PIN can never be read back as a PIN, so nothing that
/// serializes a request by accident can replay it.
pub(crate) fn serialize_redacted<S: serde::Serializer>(_: &Pin, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("****")
}
