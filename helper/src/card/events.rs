//! Reader and card events (reader plugged in or out, card placed or taken
//! away) from one dedicated thread that blocks in `SCardGetStatusChange`,
//! including the `\\?PnP?\Notification` pseudo-reader for hot-plug. It never
//! polls in a loop and never talks to a card.
//!
//! Why an earlier version could hang on stop: `SCardCancel` only interrupts a
//! `SCardGetStatusChange` that is *in progress*. When `stop` came while the
//! thread was elsewhere (listing readers, sending an event, or in the pause
//! after a pcscd error), the cancel was lost, the next wait had no timeout,
//! and `join` waited forever. Now a stop flag is checked before every wait
//! and each wait is bounded by [`WAIT`], so stop returns within that time
//! even when the cancel is lost (and at once when it is not).

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use onshi_core::protocol::message::Event;
use pcsc::{Context, ReaderState, Scope, State};

use super::transport::{TransportError, pnp_notification};

/// The longest single wait in PC/SC: bounds how long a lost cancel can
/// delay `stop`. One wake-up per 5 s is no measurable idle CPU.
pub const WAIT: Duration = Duration::from_secs(5);

/// The running watcher. Dropping it (or [`Watcher::stop`]) ends the thread.
pub struct Watcher {
    ctx: Context,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the watcher thread. Events for readers and cards already present
/// are sent first (`reader_added`, then `card_inserted`), so the receiver
/// needs no separate initial listing.
pub fn watch() -> Result<(Watcher, Receiver<Event>), TransportError> {
    let ctx = Context::establish(Scope::User).map_err(|e| TransportError::from_pcsc("establish", e))?;
    let (tx, rx) = channel();
    let thread_ctx = ctx.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let thread_stop = stop.clone();
    let thread = std::thread::Builder::new()
        .name("card-events".into())
        .spawn(move || run(&thread_ctx, &tx, &thread_stop))
        .map_err(|e| TransportError::Pcsc { op: "spawn", message: e.to_string() })?;
    Ok((Watcher { ctx, stop, thread: Some(thread) }, rx))
}

impl Watcher {
    /// Wakes the thread out of `get_status_change` and waits for it to end.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.ctx.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

fn run(ctx: &Context, tx: &Sender<Event>, stop: &AtomicBool) {
    // Index 0 is the PnP pseudo-reader; the rest are real readers.
    let mut states = vec![ReaderState::new(pnp_notification(), State::UNAWARE)];
    if !sync_readers(ctx, &mut states, tx) {
        return;
    }
    loop {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match ctx.get_status_change(Some(WAIT), &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => continue,
            Err(pcsc::Error::Cancelled) => return,
            // A reader that vanished makes the whole call fail; re-list.
            Err(pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable) => {}
            Err(_) => {
                // pcscd stopped or hiccuped: wait a little (not a busy loop),
                // then re-list; the stop flag is checked before the next wait.
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        for s in states.iter_mut().skip(1) {
            let was = s.current_state().contains(State::PRESENT);
            let now = s.event_state().contains(State::PRESENT);
            let gone = s.event_state().intersects(State::UNKNOWN | State::UNAVAILABLE);
            let reader = s.name().to_string_lossy().into_owned();
            let event = match (was, now && !gone) {
                (false, true) => Some(Event::CardInserted { reader }),
                (true, false) => Some(Event::CardRemoved { reader }),
                _ => None,
            };
            if let Some(e) = event
                && tx.send(e).is_err()
            {
                return;
            }
            s.sync_current_state();
        }
        states[0].sync_current_state();
        if !sync_readers(ctx, &mut states, tx) {
            return;
        }
    }
}

/// Adds readers that appeared and drops ones that left, sending events.
/// Returns false once nobody listens any more.
fn sync_readers(ctx: &Context, states: &mut Vec<ReaderState>, tx: &Sender<Event>) -> bool {
    let names: Vec<CString> = ctx.list_readers_owned().unwrap_or_default();
    let mut i = 1;
    while i < states.len() {
        if names.iter().any(|n| n.as_c_str() == states[i].name()) {
            i += 1;
            continue;
        }
        let s = states.remove(i);
        let reader = s.name().to_string_lossy().into_owned();
        if s.current_state().contains(State::PRESENT) && tx.send(Event::CardRemoved { reader: reader.clone() }).is_err() {
            return false;
        }
        if tx.send(Event::ReaderRemoved { reader }).is_err() {
            return false;
        }
    }
    for n in names {
        if states.iter().skip(1).any(|s| s.name() == n.as_c_str()) {
            continue;
        }
        let reader = n.to_string_lossy().into_owned();
        if tx.send(Event::ReaderAdded { reader }).is_err() {
            return false;
        }
        // UNAWARE: the next get_status_change returns at once with the
        // current state, which yields card_inserted for a card already there.
        states.push(ReaderState::new(n, State::UNAWARE));
    }
    true
}
