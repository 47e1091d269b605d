//! Cards that are not My Number cards, for the reader troubles clinics
//! report (issue 14): what reception puts on the reader by mistake, and what
//! a card that cannot be read looks like to PC/SC. Pure: bytes in, bytes out.
//!
//! - [`Kind::Transit`]: a transit / e-money or bank card. Contactless readers
//!   synthesise an ATR for it (PC/SC part 3; this one is a FeliCa card's),
//!   so only a SELECT tells it apart: every application is "not found"
//!   (`6A82`), any other command "instruction not supported" (`6D00`).
//! - [`Kind::Blank`]: a card that gives no ATR — on a contact reader, one
//!   put in upside down or back to front. vpcd then reports the slot empty,
//!   which is what pcscd shows for it.
//!
//! Not here: a mute card (an ATR, then no answer). Whether it answers with
//! no frame or an empty one, vpcd blocks pcscd's `SCardTransmit` until the
//! card leaves, which would stall the machine's one pcscd.

use onshi_core::card_sw as sw;

/// What is put on the reader instead of a My Number card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Transit,
    Blank,
}

/// A synthesised contactless ATR (PC/SC part 3, FeliCa 212 kbps).
pub const TRANSIT_ATR: [u8; 20] =
    [0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x11, 0x00, 0x3B, 0x00, 0x00, 0x00, 0x00, 0x42];

impl Kind {
    /// The ATR it presents; empty for a card that gives none.
    pub fn atr(self) -> &'static [u8] {
        match self {
            Kind::Transit => &TRANSIT_ATR,
            Kind::Blank => &[],
        }
    }

    /// Its answer to one command APDU.
    pub fn transmit(self, command: &[u8]) -> Vec<u8> {
        let status = match command {
            [_, 0xA4, 0x04, ..] => sw::FILE_NOT_FOUND,
            _ => sw::INS_NOT_SUPPORTED,
        };
        status.to_be_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JPKI SELECT a helper sends first is refused like any application.
    #[test]
    fn a_transit_card_has_no_jpki_applet() {
        let select_jpki = [0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
        assert_eq!(Kind::Transit.transmit(&select_jpki), [0x6A, 0x82]);
        assert_eq!(Kind::Transit.transmit(&[0x00, 0x20, 0x00, 0x80]), [0x6D, 0x00]);
        assert!(Kind::Blank.atr().is_empty());
    }
}
