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
pub struct PcscAccess;

impl CardAccess for PcscAccess {
    fn with_card(&self, reader: Option<&str>, flow: FlowFn<'_>) -> Result<(), CardError> {
        let pcsc = Pcsc::establish()?;
        let mut card = pcsc.connect(reader)?;
        card.flow(|t| flow(t))
    }

    fn readers(&self) -> Result<Vec<Reader>, CardError> {
        Ok(Pcsc::establish()?.readers()?)
    }
}
