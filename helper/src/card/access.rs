//! How the service reaches a card: one object-safe trait so the service runs
//! the same code over PC/SC and over the in-process virtual card in tests.
//! Each call is one flow in one card transaction (the transport layer ends
//! it with a card reset); callers never hold a card between calls.

use super::flows::{CardError, PROFILE};
use super::jpki::Jpki;
use super::transport::{CardTransport, Pcsc, Reader};

/// A flow to run inside one card transaction.
pub type FlowFn<'a> = &'a mut dyn FnMut(&mut dyn CardTransport) -> Result<(), CardError>;

/// Somewhere a card can be: PC/SC readers, or a test card.
pub trait CardAccess: Send + Sync {
    /// Runs `flow` on the card in `reader` (absent = the first reader with a
    /// card) in one transaction. Blocking: call it from a blocking thread.
    fn with_card(&self, reader: Option<&str>, flow: FlowFn<'_>) -> Result<(), CardError>;

    /// The readers right now (for `doctor`).
    fn readers(&self) -> Result<Vec<Reader>, CardError>;
}

/// The real readers over PC/SC. A context is established per flow: it is
/// cheap, and a pcscd restart between flows then needs no special handling.
///
/// Several readers (issue 14): a named reader is used as named. Without a
/// name and with one card, its reader is used. With cards in several
/// readers, each is first asked for the JPKI applet alone (a SELECT in its
/// own transaction, ended with a reset; nothing else, never a PIN) and the
/// flow runs once, on the first reader whose card is a My Number card — so a
/// transit card left on the other reader is passed over. Two My Number
/// cards: the first reader's. No My Number card at all: the first reader's
/// card answers for itself (`not_my_number_card`).
pub struct PcscAccess;

impl CardAccess for PcscAccess {
    fn with_card(&self, reader: Option<&str>, flow: FlowFn<'_>) -> Result<(), CardError> {
        let pcsc = Pcsc::establish()?;
        let chosen = match reader {
            Some(name) => Some(name.to_owned()),
            None => {
                let holding: Vec<String> = pcsc.readers()?.into_iter().filter(|r| r.card_present).map(|r| r.name).collect();
                match holding.as_slice() {
                    // None: `connect` tells "no reader" from "no card".
                    [] | [_] => holding.into_iter().next(),
                    several => several.iter().find(|name| is_my_number_card(&pcsc, name)).or(several.first()).cloned(),
                }
            }
        };
        pcsc.connect(chosen.as_deref())?.flow(|t| flow(t))
    }

    fn readers(&self) -> Result<Vec<Reader>, CardError> {
        Ok(Pcsc::establish()?.readers()?)
    }
}

/// Whether the card in `reader` has the JPKI applet: one SELECT, nothing else.
fn is_my_number_card(pcsc: &Pcsc, reader: &str) -> bool {
    pcsc.connect(Some(reader))
        .map_err(CardError::from)
        .and_then(|mut card| card.flow(|t| Jpki::new(t, PROFILE).select_applet().map_err(CardError::from)))
        .is_ok()
}
