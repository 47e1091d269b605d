//! Card transport: moves raw APDU bytes to a card and back, nothing more.
//! It knows no status words and no applets (that is `apdu` and `jpki`).
//!
//! The real implementation runs over PC/SC (`pcsc` crate → pcscd / WinSCard):
//! [`Pcsc::connect`] picks a reader, [`PcscCard::flow`] wraps one flow in one
//! PC/SC transaction (so no other program can slip an APDU between our
//! VERIFY and our signature) and ends it with `Disposition::ResetCard`, so no
//! selected file and no verified PIN survive the flow.

use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};

/// Moves one command APDU to the card and returns its whole response (data + SW1 SW2).
pub trait CardTransport {
    /// One command APDU in, one response APDU out.
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError>;
    /// Ends the card session so no PIN state survives. Over PC/SC the reset
    /// happens when the flow's transaction ends (`Disposition::ResetCard`);
    /// flows call this anyway so every transport behaves the same.
    fn reset(&mut self) -> Result<(), TransportError>;
}

/// Why bytes could not reach the card. Carries no APDU data (it could hold a PIN).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// pcscd (Linux/macOS) or the smart-card service (Windows) is not running.
    #[error("the PC/SC service is not running")]
    ServiceNotRunning,
    /// No reader is connected, or the named reader does not exist.
    #[error("no card reader{}", reader.as_deref().map(|r| format!(" named {r:?}")).unwrap_or_default())]
    NoReader { reader: Option<String> },
    /// The reader is there but holds no card.
    #[error("no card on the reader")]
    NoCard,
    /// The card left the reader during the flow.
    #[error("the card was removed")]
    CardRemoved,
    /// The card did not answer or could not be powered.
    #[error("the card does not respond")]
    Unresponsive,
    /// Another program holds the card exclusively.
    #[error("the card is in use by another program")]
    Busy,
    /// Any other PC/SC failure, with the operation and pcsc's text.
    #[error("PC/SC {op} failed: {message}")]
    Pcsc { op: &'static str, message: String },
    /// A response shorter than a status word.
    #[error("the card answered {len} bytes, fewer than a status word")]
    ShortResponse { len: usize },
}

impl TransportError {
    /// The one mapping from pcsc's error codes to ours.
    pub fn from_pcsc(op: &'static str, e: pcsc::Error) -> Self {
        use pcsc::Error as E;
        match e {
            E::NoService | E::ServiceStopped => TransportError::ServiceNotRunning,
            E::NoReadersAvailable | E::UnknownReader | E::ReaderUnavailable => TransportError::NoReader { reader: None },
            E::NoSmartcard => TransportError::NoCard,
            // pcscd drops a transaction whose card left the reader; the next
            // transmit then reports "no such transaction" rather than removal.
            E::RemovedCard | E::NotTransacted => TransportError::CardRemoved,
            E::UnpoweredCard | E::UnresponsiveCard | E::UnsupportedCard => TransportError::Unresponsive,
            E::SharingViolation => TransportError::Busy,
            other => TransportError::Pcsc { op, message: other.to_string() },
        }
    }
}

/// A reader and whether it holds a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub name: String,
    pub card_present: bool,
}

/// An established PC/SC context.
pub struct Pcsc {
    ctx: Context,
}

impl Pcsc {
    /// Talks to pcscd / the smart-card service.
    pub fn establish() -> Result<Self, TransportError> {
        let ctx = Context::establish(Scope::User).map_err(|e| TransportError::from_pcsc("establish", e))?;
        Ok(Pcsc { ctx })
    }

    /// Every reader and whether a card is on it (no waiting).
    pub fn readers(&self) -> Result<Vec<Reader>, TransportError> {
        let names = match self.ctx.list_readers_owned() {
            Ok(n) => n,
            Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
            Err(e) => return Err(TransportError::from_pcsc("list_readers", e)),
        };
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut states: Vec<ReaderState> = names.iter().map(|n| ReaderState::new(n.clone(), State::UNAWARE)).collect();
        // Zero timeout: with UNAWARE states pcscd answers at once with the current state.
        match self.ctx.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(e) => return Err(TransportError::from_pcsc("get_status_change", e)),
        }
        Ok(states
            .iter()
            .map(|s| Reader {
                name: s.name().to_string_lossy().into_owned(),
                card_present: s.event_state().contains(State::PRESENT),
            })
            .collect())
    }

    /// Connects to `reader`, or to the first reader holding a card.
    pub fn connect(&self, reader: Option<&str>) -> Result<PcscCard, TransportError> {
        let readers = self.readers()?;
        let chosen = match reader {
            Some(want) => readers
                .iter()
                .find(|r| r.name == want)
                .ok_or(TransportError::NoReader { reader: Some(want.to_string()) })?,
            None => match readers.iter().find(|r| r.card_present) {
                Some(r) => r,
                None if readers.is_empty() => return Err(TransportError::NoReader { reader: None }),
                None => return Err(TransportError::NoCard),
            },
        };
        let name = CString::new(chosen.name.clone())
            .map_err(|_| TransportError::NoReader { reader: Some(chosen.name.clone()) })?;
        let card = self
            .ctx
            .connect(&name, ShareMode::Shared, Protocols::ANY)
            .map_err(|e| TransportError::from_pcsc("connect", e))?;
        Ok(PcscCard { card, reader: chosen.name.clone(), io: Duration::ZERO })
    }
}

/// A connected card. Use it through [`PcscCard::flow`].
pub struct PcscCard {
    card: pcsc::Card,
    reader: String,
    io: Duration,
}

impl PcscCard {
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// Time spent inside `SCardTransmit` since the last call (for benchmarks).
    pub fn take_io_time(&mut self) -> Duration {
        std::mem::take(&mut self.io)
    }

    /// Runs `f` inside one PC/SC transaction and ends it with a card reset,
    /// whatever `f` returned. Afterwards the handle is reconnected, because
    /// PC/SC reports the reset to every handle (`SCARD_W_RESET_CARD`).
    pub fn flow<T, E: From<TransportError>>(
        &mut self,
        f: impl FnOnce(&mut dyn CardTransport) -> Result<T, E>,
    ) -> Result<T, E> {
        // Someone (often our own previous flow) may have reset the card; PC/SC
        // then refuses the handle once with SCARD_W_RESET_CARD: reconnect and go on.
        let needs_reconnect = match self.card.transaction() {
            Ok(tx) => {
                // Release at once; a fresh transaction is taken below with a clean borrow.
                tx.end(Disposition::LeaveCard).map_err(|(_, e)| TransportError::from_pcsc("end_transaction", e))?;
                false
            }
            Err(pcsc::Error::ResetCard) => true,
            Err(e) => return Err(TransportError::from_pcsc("begin_transaction", e).into()),
        };
        if needs_reconnect {
            self.card
                .reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)
                .map_err(|e| TransportError::from_pcsc("reconnect", e))?;
        }
        let tx = self.card.transaction().map_err(|e| TransportError::from_pcsc("begin_transaction", e))?;
        let mut session = PcscSession { tx: &tx, io: Duration::ZERO };
        let out = f(&mut session);
        let io = session.io;
        let ended = tx.end(Disposition::ResetCard).map_err(|(_, e)| e);
        self.io += io;
        // The next flow reconnects on demand; doing it here keeps `flow` cheap to retry.
        let _ = self.card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard);
        let out = out?;
        match ended {
            // A card that left after our last APDU has nothing left to reset.
            Ok(()) | Err(pcsc::Error::RemovedCard) => Ok(out),
            Err(e) => Err(TransportError::from_pcsc("end_transaction", e).into()),
        }
    }
}

impl PcscSession<'_, '_> {
    /// A card pulled out in the middle of an APDU is not always reported as
    /// removed: depending on timing, pcscd (and vpcd) answer with a
    /// communication error, "unresponsive" or an empty response, and pcscd
    /// itself learns that the reader is empty only at its next look (it polls
    /// a reader without card-change interrupts about every 400 ms). The
    /// receptionist must read "the card was removed", so a failure is checked
    /// against the reader's state for up to [`REMOVAL_SETTLE`]; a card still
    /// present after that keeps its own error. Only failures wait: a good
    /// exchange never comes here.
    fn removed_or(&self, err: TransportError) -> TransportError {
        if !matches!(err, TransportError::Pcsc { .. } | TransportError::Unresponsive | TransportError::ShortResponse { .. }) {
            return err;
        }
        let deadline = Instant::now() + REMOVAL_SETTLE;
        loop {
            let gone = match self.tx.status2_owned() {
                Ok(st) => !st.status().contains(pcsc::Status::PRESENT),
                Err(pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard) => true,
                Err(_) => false,
            };
            if gone {
                return TransportError::CardRemoved;
            }
            if Instant::now() >= deadline {
                return err;
            }
            std::thread::sleep(REMOVAL_STEP);
        }
    }
}

/// How long a failed exchange waits for pcscd to notice a pulled card
/// (several of its ~400 ms polls), and how often it looks meanwhile.
const REMOVAL_SETTLE: Duration = Duration::from_millis(1500);
const REMOVAL_STEP: Duration = Duration::from_millis(50);

/// The transport inside one PC/SC transaction.
struct PcscSession<'a, 'tx> {
    tx: &'a pcsc::Transaction<'tx>,
    io: Duration,
}

impl CardTransport for PcscSession<'_, '_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
        let start = Instant::now();
        let result = self.tx.transmit(apdu, &mut buf).map(<[u8]>::to_vec);
        self.io += start.elapsed();
        // The buffer may hold nothing secret (responses never carry the PIN),
        // but wipe it anyway: it is cheap and keeps the rule simple.
        zeroize::Zeroize::zeroize(&mut buf);
        match result {
            // vpcd answers a pulled-out card with zero bytes rather than an error.
            Ok(r) if r.len() < 2 => Err(self.removed_or(TransportError::ShortResponse { len: r.len() })),
            Ok(r) => Ok(r),
            Err(e) => Err(self.removed_or(TransportError::from_pcsc("transmit", e))),
        }
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        // Done by `PcscCard::flow` when the transaction ends with ResetCard.
        Ok(())
    }
}

/// The name of the hot-plug pseudo-reader.
pub fn pnp_notification() -> &'static CStr {
    pcsc::PNP_NOTIFICATION()
}

/// What vpcd cannot show through pcscd (issue 14): its readers come from a
/// driver loaded at pcscd's start and never leave, and a card's presence is
/// its ATR, so a reader unplugged mid-check and a card that is on the reader
/// but mute or unpowered are checked at the mapping.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::flows::CardError;
    use onshi_core::protocol::error::ErrorCode;

    fn code(e: pcsc::Error) -> ErrorCode {
        CardError::from(TransportError::from_pcsc("transmit", e)).to_protocol().code
    }

    #[test]
    fn reader_and_card_troubles_each_have_their_code() {
        // The reader unplugged (during a check or before it).
        assert_eq!(code(pcsc::Error::ReaderUnavailable), ErrorCode::NoReader);
        assert_eq!(code(pcsc::Error::UnknownReader), ErrorCode::NoReader);
        assert_eq!(code(pcsc::Error::NoReadersAvailable), ErrorCode::NoReader);
        // A card on the reader that gives no answer: put in the wrong way, dirty, broken.
        assert_eq!(code(pcsc::Error::UnresponsiveCard), ErrorCode::CardUnreadable);
        assert_eq!(code(pcsc::Error::UnpoweredCard), ErrorCode::CardUnreadable);
        assert_eq!(code(pcsc::Error::RemovedCard), ErrorCode::CardRemoved);
        assert_eq!(code(pcsc::Error::NoSmartcard), ErrorCode::NoCard);
        assert_eq!(code(pcsc::Error::NoService), ErrorCode::NoReader);
        let unreadable = CardError::Unresponsive.to_protocol();
        assert!(unreadable.retryable && unreadable.message.ja.contains("向きと表裏"), "{}", unreadable.message.ja);
    }
}
