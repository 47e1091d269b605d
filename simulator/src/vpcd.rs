//! The virtual card's link to pcscd: a TCP client of the vpcd driver
//! (vsmartcard, domain.md §6). This module only moves frames; every answer
//! comes from [`crate::card::VirtualCard`].
//!
//! Frames both ways: 2-byte big-endian length + payload. From vpcd, a 1-byte
//! payload is a control code — `00` power off, `01` power on, `02` reset
//! (none of these is answered), `04` "send the ATR" (answered; vpcd also uses
//! it to poll for presence) — and anything longer is a C-APDU answered with
//! one R-APDU. Closing the socket is pulling the card out of the reader.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::apdu_log::ApduLog;
use crate::card::VirtualCard;

/// vpcd's first slot ("Virtual PCD 00 00"); the second slot is 35964.
pub const DEFAULT_VPCD: &str = "127.0.0.1:35963";

/// Fault injection and logging for one inserted card.
#[derive(Default)]
pub struct Options {
    /// Pull the card out (close the socket) after this many APDUs were answered.
    pub remove_after: Option<u64>,
    /// Pull the card out in the middle of APDU number N (from 1): it is
    /// received and never answered, so pcscd sees the card go while its
    /// exchange is in flight — the timing that once read as "unreadable".
    pub pull_during: Option<u64>,
    /// Put this instead of the My Number card on the reader (a transit card,
    /// a card without ATR); `None` is the My Number card.
    pub foreign: Option<crate::foreign_card::Kind>,
    /// Wait this long before each answer (a slow card or a slow contactless link).
    pub delay: Duration,
    pub log: Option<ApduLog>,
}

/// Why a card session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// vpcd closed the connection (pcscd stopped).
    VpcdClosed,
    /// The card was pulled out by the `remove_after` or `pull_during` fault
    /// after this many APDUs were answered.
    Removed { apdus: u64 },
}

/// Connects to vpcd at `addr`, retrying every 250 ms for up to `patience`
/// (pcscd may still be starting, or vpcd busy with a previous card).
pub fn connect(addr: &str, patience: Duration) -> io::Result<TcpStream> {
    let started = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => {
                // APDUs are small and latency-bound.
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) if started.elapsed() >= patience => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Serves `card` on `stream` until vpcd hangs up or a fault removes the card.
pub fn serve(mut stream: TcpStream, card: &mut VirtualCard, opts: &mut Options) -> io::Result<Ending> {
    let mut answered = 0u64;
    loop {
        quick_ack(&stream);
        let Some(frame) = read_frame(&mut stream)? else { return Ok(Ending::VpcdClosed) };
        match frame.as_slice() {
            [] => {}
            [0x00] => {
                card.power_off();
                log_event(opts, card.session(), "power_off")?;
            }
            [0x01] => {
                card.power_on();
                log_event(opts, card.session(), "power_on")?;
            }
            [0x02] => {
                card.reset();
                log_event(opts, card.session(), "reset")?;
            }
            [0x04] => write_frame(&mut stream, opts.foreign.map_or(&crate::card::ATR[..], |k| k.atr()))?,
            // Unknown control codes are ignored, as vpcd ignores unknown replies.
            [_] => {}
            command => {
                if opts.pull_during.is_some_and(|n| answered + 1 >= n) {
                    log_event(opts, card.session(), "removed")?;
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    return Ok(Ending::Removed { apdus: answered });
                }
                if !opts.delay.is_zero() {
                    std::thread::sleep(opts.delay);
                }
                let response = match opts.foreign {
                    Some(kind) => kind.transmit(command),
                    None => card.transmit(command),
                };
                if let Some(log) = opts.log.as_mut() {
                    log.exchange(card.session(), command, &response)?;
                }
                write_frame(&mut stream, &response)?;
                answered += 1;
                if opts.remove_after.is_some_and(|n| answered >= n) {
                    log_event(opts, card.session(), "removed")?;
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                    return Ok(Ending::Removed { apdus: answered });
                }
            }
        }
    }
}

/// vpcd writes a frame's length and payload separately with Nagle on, so its
/// payload waits for our ACK of the length; a delayed ACK would add ~40 ms to
/// every APDU. Linux drops quick-ACK mode on its own, hence once per frame.
fn quick_ack(stream: &TcpStream) {
    #[cfg(target_os = "linux")]
    let _ = socket2::SockRef::from(stream).set_tcp_quickack(true);
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
}

fn log_event(opts: &mut Options, session: u64, event: &str) -> io::Result<()> {
    match opts.log.as_mut() {
        Some(log) => log.event(session, event),
        None => Ok(()),
    }
}

/// Reads one frame; `None` when vpcd closed the connection between frames.
fn read_frame(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if matches!(e.kind(), ErrorKind::UnexpectedEof | ErrorKind::ConnectionReset) => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut payload)?;
    Ok(Some(payload))
}

fn write_frame(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| io::Error::new(ErrorKind::InvalidInput, "frame too long"))?;
    // One write per frame: vpcd reads the length and payload back to back.
    let mut frame = Vec::with_capacity(payload.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)?;
    stream.flush()
}
