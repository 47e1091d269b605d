//! Where a card confirmation's time goes (issue 5, "Performance"): inside
//! PC/SC, inside the backend, and the helper's own rest, for the
//! [`Timing`] field of the `card_confirm` reply. It only measures; nothing
//! here changes what a flow does or decides.
//!
//! The stopwatch of the request being served travels as a tokio task-local,
//! so the card and backend helpers of the runtime add their time to it
//! without every flow passing it along: [`measure`] runs a card confirmation
//! with a fresh stopwatch, [`on_card`] and [`network`] add to it, [`restart`]
//! moves its start (PIN mode: to the `pin_entry`), [`finish`] reads it. Outside
//! [`measure`] they are plain pass-throughs, so other requests pay nothing.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use onshi_core::protocol::Timing;

use crate::card::transport::{CardTransport, TransportError};

tokio::task_local! {
    static CURRENT: Stopwatch;
}

/// The running split of one request.
#[derive(Debug)]
pub struct Stopwatch {
    parts: Mutex<Parts>,
}

#[derive(Debug, Clone, Copy)]
struct Parts {
    start: Instant,
    card: Duration,
    network: Duration,
}

impl Stopwatch {
    /// Starts at `received` (when the service read the request), nothing spent yet.
    pub fn new(received: Instant) -> Self {
        Stopwatch { parts: Mutex::new(Parts { start: received, card: Duration::ZERO, network: Duration::ZERO }) }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Parts) -> R) -> R {
        // Plain numbers: a panic elsewhere cannot leave them inconsistent.
        f(&mut self.parts.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn add_card(&self, d: Duration) {
        self.with(|p| p.card += d);
    }

    fn add_network(&self, d: Duration) {
        self.with(|p| p.network += d);
    }

    /// Starts again at `at`, forgetting what was spent before.
    fn restart(&self, at: Instant) {
        self.with(|p| *p = Parts { start: at, card: Duration::ZERO, network: Duration::ZERO });
    }

    /// The split as of `now`.
    pub fn timing_at(&self, now: Instant) -> Timing {
        let p = self.with(|p| *p);
        Timing::from_parts(ms(now.saturating_duration_since(p.start)), ms(p.card), ms(p.network))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `fut` (one card confirmation) with a stopwatch started at `received`.
pub async fn measure<F: Future>(received: Instant, fut: F) -> F::Output {
    CURRENT.scope(Stopwatch::new(received), fut).await
}

/// The split so far, if a stopwatch runs (inside [`measure`]).
pub fn finish() -> Option<Timing> {
    let now = Instant::now();
    CURRENT.try_with(|s| s.timing_at(now)).ok()
}

/// Moves the start to `at` and forgets the time spent so far (PIN mode: the
/// clock runs from the `pin_entry`, not from the `card_confirm` that waited
/// for a person).
pub fn restart(at: Instant) {
    let _ = CURRENT.try_with(|s| s.restart(at));
}

/// Awaits a backend call, counting its time as network time.
pub async fn network<F: Future>(fut: F) -> F::Output {
    let start = Instant::now();
    let out = fut.await;
    let spent = start.elapsed();
    let _ = CURRENT.try_with(|s| s.add_network(spent));
    out
}

/// Counts the PC/SC time of one card access, measured by [`CardClock`] on the
/// blocking thread that ran it.
pub fn on_card(spent: Duration) {
    let _ = CURRENT.try_with(|s| s.add_card(spent));
}

/// Measures one card access on the blocking thread: the whole access
/// (establish, connect, transaction, APDUs, reset, reconnect) minus the time
/// the flow spent outside the card (building commands, parsing answers), so
/// what remains is the time inside PC/SC.
pub struct CardClock {
    started: Instant,
    outside: Duration,
}

impl CardClock {
    pub fn start() -> Self {
        CardClock { started: Instant::now(), outside: Duration::ZERO }
    }

    /// Runs a flow over `t`, noting how long it spent outside the transport.
    pub fn flow<R>(&mut self, t: &mut dyn CardTransport, f: impl FnOnce(&mut dyn CardTransport) -> R) -> R {
        let began = Instant::now();
        let mut timed = Timed { inner: t, inside: Duration::ZERO };
        let out = f(&mut timed);
        self.outside += began.elapsed().saturating_sub(timed.inside);
        out
    }

    /// The time inside PC/SC since [`CardClock::start`].
    pub fn card_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.outside)
    }
}

/// A transport that counts the time spent in the one below it.
struct Timed<'a> {
    inner: &'a mut dyn CardTransport,
    inside: Duration,
}

impl CardTransport for Timed<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let start = Instant::now();
        let out = self.inner.transmit(apdu);
        self.inside += start.elapsed();
        out
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        let start = Instant::now();
        let out = self.inner.reset();
        self.inside += start.elapsed();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn parts_add_up_and_restart_forgets() {
        let t0 = Instant::now();
        let timing = measure(t0, async {
            network(tokio::time::sleep(Duration::from_millis(20))).await;
            std::thread::sleep(Duration::from_millis(5));
            on_card(Duration::from_millis(5));
            let t = finish().expect("inside measure");
            assert!(t.network_ms >= 20.0, "{t:?}");
            assert_eq!(t.card_ms, 5.0);
            assert!(t.total_ms >= t.card_ms + t.network_ms, "{t:?}");
            // PIN mode: the clock moves to the pin_entry; earlier time is forgotten.
            restart(Instant::now());
            on_card(Duration::from_millis(1));
            finish().expect("inside measure")
        })
        .await;
        assert_eq!((timing.card_ms, timing.network_ms), (1.0, 0.0));
        assert!(timing.total_ms < 20.0, "{timing:?}");
        assert!((timing.card_ms + timing.network_ms + timing.helper_ms - timing.total_ms).abs() < 1e-9 || timing.helper_ms == 0.0);
        // Outside a measured request nothing is recorded and nothing fails.
        assert!(finish().is_none());
        network(async {}).await;
        on_card(Duration::from_millis(1));
    }

    /// A transport that takes about 3 ms per command and notes how long it really took.
    struct Slow(Duration);

    impl CardTransport for Slow {
        fn transmit(&mut self, _apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
            let start = Instant::now();
            std::thread::sleep(Duration::from_millis(3));
            self.0 += start.elapsed();
            Ok(vec![0x90, 0x00])
        }
        fn reset(&mut self) -> Result<(), TransportError> {
            Ok(())
        }
    }

    #[test]
    fn card_clock_leaves_out_the_flows_own_work() {
        let mut card = Slow(Duration::ZERO);
        let mut clock = CardClock::start();
        clock.flow(&mut card, |t| {
            t.transmit(&[0]).unwrap();
            // Work of the flow itself, not the card's.
            std::thread::sleep(Duration::from_millis(100));
            t.transmit(&[0]).unwrap();
        });
        let measured = clock.card_time();
        // Bounds from the card's own clock, not from the sleeps: a loaded
        // machine stretches every sleep, but the flow's 100 ms stay out.
        assert!(measured >= card.0, "{measured:?} < {:?}", card.0);
        assert!(measured < card.0 + Duration::from_millis(50), "the flow's own 100 ms are not card time: {measured:?} vs {:?}", card.0);
    }
}
