//! Reader and card events through real pcscd + vsmartcard-vpcd + the
//! simulator's virtual card, and a stop that always returns (the watcher
//! once hung on stop: a cancel sent while it was not waiting was lost and
//! its next wait had no timeout; see `card::events`).
//!
//! Uses the machine's one pcscd like the onshi-tests crate does: the file
//! lock `/tmp/onshi-pcscd.lock` serialises card tests across test binaries;
//! a pcscd this test starts it also stops (by its own process id).

use std::fs::OpenOptions;
use std::net::Shutdown;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use onshi_core::protocol::Event;
use onshi_helper::card::events::{watch, WAIT};

const READER: &str = "Virtual PCD 00 00";

struct Pcscd {
    started: Option<Child>,
    _lock: std::fs::File,
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        if let Some(mut c) = self.started.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn pcscd() -> Pcscd {
    let lock = OpenOptions::new().create(true).truncate(false).write(true).open("/tmp/onshi-pcscd.lock").unwrap();
    lock.lock().unwrap();
    let running = pcsc::Context::establish(pcsc::Scope::User).is_ok();
    let started = (!running).then(|| {
        assert!(std::path::Path::new("/usr/sbin/pcscd").exists(), "install the Debian packages pcscd and vsmartcard-vpcd");
        Command::new("/usr/sbin/pcscd").arg("--foreground").stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
    });
    let me = Pcscd { started, _lock: lock };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listed = pcsc::Context::establish(pcsc::Scope::User)
            .and_then(|c| c.list_readers_owned())
            .map(|r| r.iter().any(|n| n.to_string_lossy() == READER))
            .unwrap_or(false);
        if listed {
            return me;
        }
        assert!(Instant::now() < deadline, "pcscd did not list {READER}; is vsmartcard-vpcd installed?");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits (bounded) for an event matching `want`, skipping others.
fn expect(rx: &Receiver<Event>, what: &str, want: impl Fn(&Event) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(e) if want(&e) => return,
            Ok(e) => seen.push(e),
            Err(_) => break,
        }
    }
    panic!("no {what} within 15 s; saw {seen:?}");
}

#[test]
fn reader_card_in_card_out_then_a_prompt_stop() {
    let _pcscd = pcscd();
    let (watcher, rx) = watch().expect("watcher");
    expect(&rx, "reader_added", |e| matches!(e, Event::ReaderAdded { reader } if reader == READER));

    let pki = tempfile::tempdir().unwrap();
    let opts = onshi_sim::pki::PkiOptions { people: vec!["P0001".into()], ..Default::default() };
    onshi_sim::pki::init(pki.path(), &opts).unwrap();
    let person = onshi_sim::pki::load_person(pki.path(), "P0001").unwrap();
    let stream = onshi_sim::vpcd::connect(onshi_sim::vpcd::DEFAULT_VPCD, Duration::from_secs(10)).expect("vpcd");
    let pull = stream.try_clone().unwrap();
    let card = std::thread::spawn(move || {
        let mut card = onshi_sim::card::VirtualCard::new(person, "1234", 3).unwrap();
        let _ = onshi_sim::vpcd::serve(stream, &mut card, &mut onshi_sim::vpcd::Options::default());
    });
    expect(&rx, "card_inserted", |e| matches!(e, Event::CardInserted { reader } if reader == READER));
    let _ = pull.shutdown(Shutdown::Both);
    expect(&rx, "card_removed", |e| matches!(e, Event::CardRemoved { reader } if reader == READER));
    let _ = card.join();

    let t = Instant::now();
    watcher.stop();
    assert!(t.elapsed() < WAIT + Duration::from_secs(1), "stop took {:?}", t.elapsed());
}

#[test]
fn stop_right_after_start_never_hangs() {
    let _pcscd = pcscd();
    // Stopping while the thread is still listing readers is the case that lost the cancel.
    for _ in 0..5 {
        let (watcher, _rx) = watch().expect("watcher");
        let t = Instant::now();
        watcher.stop();
        assert!(t.elapsed() < WAIT + Duration::from_secs(1), "stop took {:?}", t.elapsed());
    }
}
