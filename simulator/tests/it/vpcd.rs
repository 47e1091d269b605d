//! The vpcd link without pcscd: a fake vpcd (TCP server on loopback) sends
//! frames the way the real driver does, and checks each answer.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use onshi_sim::apdu_log::ApduLog;
use onshi_sim::card::{ATR, VirtualCard};
use onshi_sim::vpcd::{self, Ending, Options};

use crate::fixture;

fn send(s: &mut TcpStream, payload: &[u8]) {
    let mut f = (payload.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(payload);
    s.write_all(&f).unwrap();
}

fn recv(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut p = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut p).unwrap();
    p
}

/// Runs the card against a fake vpcd driven by `script`; returns how the card's session ended.
fn with_fake_vpcd(opts: Options, script: impl FnOnce(&mut TcpStream) + Send + 'static) -> Ending {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let driver = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        script(&mut s);
    });
    let mut card = VirtualCard::new(fixture::person(), "1234", 3).unwrap();
    let stream = vpcd::connect(&addr, Duration::from_secs(5)).unwrap();
    let mut opts = opts;
    let ending = vpcd::serve(stream, &mut card, &mut opts).unwrap();
    driver.join().unwrap();
    ending
}

#[test]
fn control_codes_and_apdus_over_the_frame_protocol() {
    let log_path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("vpcd-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&log_path);
    let opts = Options { log: Some(ApduLog::open(&log_path).unwrap()), ..Default::default() };
    let ending = with_fake_vpcd(opts, |s| {
        send(s, &[0x04]); // "send ATR" — also the presence poll
        assert_eq!(recv(s), ATR);
        send(s, &[0x01]); // power on: no answer expected
        send(s, &[0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]);
        assert_eq!(recv(s), [0x90, 0x00], "select JPKI");
        send(s, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18]);
        assert_eq!(recv(s), [0x90, 0x00]);
        send(s, &[0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4']);
        assert_eq!(recv(s), [0x90, 0x00], "verify");
        send(s, &[0x02]); // reset: no answer, and the session starts over
        send(s, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18]);
        assert_eq!(recv(s), [0x6A, 0x82], "nothing selected after reset");
        send(s, &[0x00, 0xB0]);
        assert_eq!(recv(s), [0x67, 0x00], "a 2-byte frame is a (malformed) APDU");
        send(s, &[0x00]); // power off
        // Closing the socket ends the session (pcscd stopped).
    });
    assert_eq!(ending, Ending::VpcdClosed);
    let log = std::fs::read_to_string(&log_path).unwrap();
    let events: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| v["event"].as_str().map(str::to_string).unwrap_or_else(|| v["command"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        events,
        [
            "power_on", "00A4040C0AD392F000260100000001", "00A4020C020018", "0020008004********", "reset",
            "00A4020C020018", "00B0", "power_off",
        ]
    );
    assert!(!log.contains("31323334"), "no PIN in the log");
    std::fs::remove_file(log_path).unwrap();
}

#[test]
fn remove_after_and_delay_faults() {
    let opts = Options { remove_after: Some(2), delay: Duration::from_millis(100), ..Default::default() };
    let ending = with_fake_vpcd(opts, |s| {
        send(s, &[0x01]);
        let started = Instant::now();
        for _ in 0..2 {
            send(s, &[0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]);
            assert_eq!(recv(s), [0x90, 0x00]);
        }
        assert!(started.elapsed() >= Duration::from_millis(200), "each answer was delayed");
        // The card is gone: the connection closes.
        let mut buf = [0u8; 1];
        assert_eq!(s.read(&mut buf).unwrap(), 0, "socket closed after the second APDU");
    });
    assert_eq!(ending, Ending::Removed { apdus: 2 });
}
