//! Issue 14: the reader troubles clinics report, each told apart every time,
//! through the helper's own card stack (`PcscAccess` → pcsc transport → jpki
//! → flows) and the real pcscd with virtual cards on vpcd:
//!
//! - a card pulled out in the middle of an exchange, 20 times under CPU load
//!   (busy threads on every core): `card_removed` each time, never
//!   "unreadable" — pcscd learns of the empty reader only at its next poll,
//!   and the classification must not depend on that timing;
//! - a transit / bank card: `not_my_number_card`, having sent nothing but the
//!   JPKI SELECT;
//! - a card that gives no ATR (upside down on a contact reader): pcscd shows
//!   the slot empty, so `no_card`, whose text says to check the card's side;
//! - two readers: which one the helper uses with one card, two cards, and a
//!   transit card next to a My Number card.
//!
//! What vpcd cannot show (a reader unplugged, a powered but mute card) is
//! covered by unit tests of the mapping in `helper/src/card/transport.rs`;
//! docs/helper.md says why.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use onshi_core::protocol::error::ErrorCode;
use onshi_core::protocol::pin::Pin;
use onshi_helper::card::access::{CardAccess, PcscAccess};
use onshi_helper::card::flows::{CardError, confirm_with_pin};
use onshi_helper::card::transport::Pcsc;

use onshi_tests::demo_parts::CardSpec;
use onshi_tests::pcscd::{Pcscd, VPCD_ADDR, VPCD_ADDR_2, VPCD_READER, VPCD_READER_2};
use onshi_tests::virtual_card::{VirtualCard, person_pki};

const PERSON: &str = "P0002";
const PIN: &str = "5917";

fn card(name: &str, vpcd: &str, spec: CardSpec) -> Result<VirtualCard> {
    let pki = person_pki(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("card-troubles-pki"), PERSON)?;
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&log);
    VirtualCard::start_on(vpcd, &pki, &CardSpec { pin: Some(PIN.into()), ..spec }, log)
}

fn my_number() -> CardSpec {
    CardSpec::person(PERSON)
}

/// Waits until pcscd shows `present` for each reader (it polls every ~400 ms).
fn wait_readers(want: &[(&std::ffi::CStr, bool)]) -> Result<()> {
    let pcsc = Pcsc::establish()?;
    let start = Instant::now();
    loop {
        let readers = pcsc.readers()?;
        let ok = want.iter().all(|(name, present)| {
            readers.iter().any(|r| r.name.as_str() == name.to_str().unwrap_or_default() && r.card_present == *present)
        });
        if ok {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            bail!("pcscd shows {readers:?}, expected {want:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A PIN confirmation through `PcscAccess`, as the service runs it. The
/// service's flow can run only once (it owns the PIN), so this one counts.
fn confirm(reader: Option<&str>) -> Result<(), CardError> {
    let pin = Pin::new(PIN).map_err(|_| CardError::Card("pin".into()))?;
    let mut runs = 0;
    let out = PcscAccess.with_card(reader, &mut |t| {
        runs += 1;
        confirm_with_pin(t, &pin, b"nonce", false).map(|_| ())
    });
    assert!(runs <= 1, "the flow ran {runs} times");
    out
}

/// Busy threads on every core until dropped: the load under which a pulled
/// card once read as unreadable.
struct CpuLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<u64>>,
}

impl CpuLoad {
    fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let n = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
        let threads = (0..n)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
                    }
                    x
                })
            })
            .collect();
        CpuLoad { stop, threads }
    }
}

impl Drop for CpuLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[test]
fn card_pulled_mid_exchange_is_card_removed_every_time_under_load() -> Result<()> {
    let _pcscd = Pcscd::acquire()?;
    let _load = CpuLoad::start();
    let mut waits = Vec::new();
    for run in 0..20u64 {
        // Pulled while the 1st (SELECT JPKI), 2nd (SELECT PIN EF) or 3rd
        // (tries left) command is in flight: received, never answered.
        let during = run % 3 + 1;
        let _card = card("troubles-pulled", VPCD_ADDR, CardSpec { pull_during: Some(during), ..my_number() })?;
        wait_readers(&[(VPCD_READER, true)])?;
        let started = Instant::now();
        let e = confirm(None).expect_err("the card left mid-exchange");
        waits.push(started.elapsed());
        ensure!(e == CardError::CardRemoved, "run {run} (pulled during APDU {during}): {e:?}");
        ensure!(e.to_protocol().code == ErrorCode::CardRemoved);
        ensure!(e.to_protocol().message.ja.contains("カードが外されました"), "{}", e.to_protocol().message.ja);
        wait_readers(&[(VPCD_READER, false)])?;
    }
    waits.sort();
    eprintln!("card pulled mid-exchange: 20/20 card_removed; classification took {:?} (median) … {:?} (max)", waits[10], waits[19]);
    Ok(())
}

#[test]
fn a_transit_card_is_not_a_my_number_card() -> Result<()> {
    let _pcscd = Pcscd::acquire()?;
    let c = card("troubles-transit", VPCD_ADDR, CardSpec { kind: Some("transit"), ..my_number() })?;
    wait_readers(&[(VPCD_READER, true)])?;
    let e = confirm(None).expect_err("a transit card has no JPKI applet");
    ensure!(e == CardError::NotMyNumberCard, "{e:?}");
    let p = e.to_protocol();
    ensure!(p.code == ErrorCode::NotMyNumberCard && !p.retryable);
    ensure!(p.message.ja.starts_with("マイナンバーカードではないカードです"), "{}", p.message.ja);
    // Only the JPKI SELECT reached it: no PIN command, nothing else.
    let log = std::fs::read_to_string(&c.log)?;
    let commands: Vec<&str> = log.lines().filter(|l| l.contains("\"command\"")).collect();
    ensure!(commands.len() == 1 && commands[0].contains("00A4040C0AD392F000260100000001"), "{log}");
    Ok(())
}

#[test]
fn a_card_without_atr_reads_as_no_card_with_the_side_to_check() -> Result<()> {
    let _pcscd = Pcscd::acquire()?;
    let _c = card("troubles-blank", VPCD_ADDR, CardSpec { kind: Some("blank"), ..my_number() })?;
    // The card process is connected ("card ready"); give pcscd a few polls.
    std::thread::sleep(Duration::from_millis(1500));
    wait_readers(&[(VPCD_READER, false)])?;
    let e = confirm(None).expect_err("nothing answers");
    ensure!(e == CardError::NoCard, "{e:?}");
    let p = e.to_protocol();
    ensure!(p.code == ErrorCode::NoCard && p.retryable);
    ensure!(p.message.ja.contains("向きと表裏"), "{}", p.message.ja);
    Ok(())
}

#[test]
fn two_readers_the_first_my_number_card_is_used() -> Result<()> {
    let _pcscd = Pcscd::acquire()?;
    let (first, second) = (VPCD_READER.to_str()?, VPCD_READER_2.to_str()?);

    // One card, in the second reader: found there.
    let b = card("troubles-second", VPCD_ADDR_2, my_number())?;
    wait_readers(&[(VPCD_READER, false), (VPCD_READER_2, true)])?;
    ensure!(confirm(None).is_ok(), "the card in {second} is used");
    let log = std::fs::read_to_string(&b.log)?;
    ensure!(log.contains("802A0080"), "it signed: {log}");

    // A transit card in the first reader, the My Number card in the second:
    // the transit card is passed over after its SELECT, the check succeeds.
    let t = card("troubles-transit-first", VPCD_ADDR, CardSpec { kind: Some("transit"), ..my_number() })?;
    wait_readers(&[(VPCD_READER, true), (VPCD_READER_2, true)])?;
    ensure!(confirm(None).is_ok(), "the My Number card next to a transit card is found");
    ensure!(std::fs::read_to_string(&t.log)?.lines().filter(|l| l.contains("\"command\"")).count() == 1, "only SELECT reached the transit card");
    // Named, the transit card's reader answers for itself.
    ensure!(confirm(Some(first)) == Err(CardError::NotMyNumberCard));
    drop(t);

    // Two My Number cards: the first reader's is used, the second is not touched.
    wait_readers(&[(VPCD_READER, false)])?;
    let signed = |log: &PathBuf| std::fs::read_to_string(log).map(|l| l.matches("802A0080").count());
    let before = signed(&b.log)?;
    let a = card("troubles-first", VPCD_ADDR, my_number())?;
    wait_readers(&[(VPCD_READER, true), (VPCD_READER_2, true)])?;
    ensure!(confirm(None).is_ok());
    ensure!(signed(&a.log)? == 1 && signed(&b.log)? == before, "the card in {first} signed, the one in {second} did not");
    // Naming the second reader uses it.
    ensure!(confirm(Some(second)).is_ok() && signed(&b.log)? == before + 1);
    Ok(())
}
