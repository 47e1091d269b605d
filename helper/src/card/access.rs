//! How the service reaches a card: one object-safe trait so the service runs
//! the same code over PC/SC and over the in-process virtual card in tests.
//! Each call is one flow in one card transaction (the transport layer ends
//! it with a card reset); callers never hold a card between calls.

use super::flows::CardError;
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
/// name, the readers holding a card are tried in pcscd's order and the first
/// whose card is a My Number card is used: a card that is not one (a transit
/// card left on the second reader) is passed over, which is safe because a
/// flow finds that out from its first SELECT, before a PIN or anything else
/// reaches the card. Two My Number cards: the first reader's is used.
pub struct PcscAccess;

impl CardAccess for PcscAccess {
    fn with_card(&self, reader: Option<&str>, flow: FlowFn<'_>) -> Result<(), CardError> {
        let pcsc = Pcsc::establish()?;
        if reader.is_some() {
            return pcsc.connect(reader)?.flow(|t| flow(t));
        }
        let holding: Vec<String> = pcsc.readers()?.into_iter().filter(|r| r.card_present).map(|r| r.name).collect();
        let Some((last, others)) = holding.split_last() else {
            // No card anywhere: `connect` tells "no reader" from "no card".
            return pcsc.connect(None)?.flow(|t| flow(t));
        };
        for name in others {
            match pcsc.connect(Some(name)).map_err(CardError::from).and_then(|mut c| c.flow(|t| flow(t))) {
                Err(CardError::NotMyNumberCard | CardError::NoCard) => continue,
                done => return done,
            }
        }
        pcsc.connect(Some(last))?.flow(|t| flow(t))
    }

    fn readers(&self) -> Result<Vec<Reader>, CardError> {
        Ok(Pcsc::establish()?.readers()?)
    }
}
