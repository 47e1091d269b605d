//! Issue 5: the helper's own card stack (`onshi_helper::card`: pcsc transport
//! → apdu → jpki → flows) against the virtual My Number card (`onshi-sim
//! card`, a separate process on vpcd) through the real pcscd. Afterwards the
//! card's APDU log is searched: the card-face applets and the PIN digits
//! never appear. Also the real `onshi-helper card status` binary, a card
//! taken away mid-flow, and a 50-run measurement printed for the report.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use onshi_core::protocol::error::ErrorCode;
use onshi_core::protocol::pin::Pin;
use onshi_helper::card::flows::{CardError, confirm_with_pin};
use onshi_helper::card::transport::{Pcsc, PcscCard};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};

use onshi_tests::paths;
use onshi_tests::demo_parts::CardSpec;
use onshi_tests::pcscd::{Pcscd, VPCD_READER};
use onshi_tests::virtual_card::{VirtualCard, person_pki};

const PERSON: &str = "P0003";
const PIN: &str = "4826";
/// The PIN as it would appear in a hex APDU dump.
const PIN_HEX: &str = "34383236";
const FORBIDDEN_HEX: [&str; 2] = ["D3921000310001010408", "D3921000310001010402"];

fn start_card(name: &str, remove_after: Option<u64>) -> Result<VirtualCard> {
    let pki = person_pki(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("helper-card-pki"), PERSON)?;
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let spec = CardSpec { pin: Some(PIN.into()), remove_after, ..CardSpec::person(PERSON) };
    VirtualCard::start(&pki, &spec, log)
}

/// Connects through the helper's transport once pcscd sees the card (it polls every ~400 ms).
fn connect_when_present() -> Result<PcscCard> {
    let pcsc = Pcsc::establish()?;
    let reader = VPCD_READER.to_str()?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if pcsc.readers()?.iter().any(|r| r.name == reader && r.card_present) {
            return Ok(pcsc.connect(Some(reader))?);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("no card appeared in {reader:?}")
}

fn assert_log_clean(log: &str) {
    for aid in FORBIDDEN_HEX {
        assert!(!log.contains(aid), "forbidden applet {aid} appears in the APDU log");
    }
    assert!(!log.contains(PIN_HEX) && !log.contains(PIN), "the PIN appears in the APDU log");
}

#[test]
fn helper_card_confirm_with_pin_through_pcscd() -> Result<()> {
    let _pcscd = Pcscd::acquire()?;
    let vcard = start_card("helper-card", None)?;
    let mut card = connect_when_present()?;

    // Wrong PIN first: a typed error with the tries left, and the card reset after.
    let wrong_pin = Pin::new("0000")?;
    let pin = Pin::new(PIN)?;
    let wrong = card.flow(|t| confirm_with_pin(t, &wrong_pin, b"n0", false));
    assert_eq!(wrong.as_ref().err(), Some(&CardError::WrongPin { tries_left: 2 }), "{wrong:?}");

    // Then the right one: the signature over the nonce verifies with the certificate's key.
    let nonce = b"gateway nonce 0001";
    let proof = card.flow(|t| confirm_with_pin(t, &pin, nonce, false)).context("confirm_with_pin")?;
    let (_, x509) = x509_parser::parse_x509_certificate(&proof.cert_der)?;
    let key = RsaPublicKey::from_public_key_der(x509.public_key().raw)?;
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(nonce), &proof.signature)
        .context("the signature verifies with the card certificate's key")?;

    // A second flow on the same handle works (reconnect after the reset).
    let again = card.flow(|t| confirm_with_pin(t, &pin, b"n2", false));
    assert!(again.is_ok(), "{again:?}");

    // The real binary sees the card and its tries.
    let out = Command::new(paths::binary("onshi-helper")?).args(["card", "status"]).output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("Virtual PCD 00 00: マイナンバーカード、暗証番号の残り3回"), "{stdout}");
    drop(card);

    let log = std::fs::read_to_string(&vcard.log)?;
    assert!(log.contains("00A4040C0AD392F000260100000001"), "the JPKI select is logged");
    assert!(log.contains("0020008004********"), "VERIFY is logged masked");
    assert!(log.contains(r#""event":"reset""#), "the flow ended with a card reset");
    assert_log_clean(&log);
    let _ = std::fs::remove_file(&vcard.log);
    Ok(())
}

#[test]
fn helper_card_removed_mid_flow_is_card_removed() -> Result<()> {
    let _pcscd = Pcscd::acquire()?;
    // Answers select, select PIN EF, tries-left; leaves before the VERIFY.
    let vcard = start_card("helper-card-removed", Some(3))?;
    let mut card = connect_when_present()?;
    let pin = Pin::new(PIN)?;
    let started = Instant::now();
    let e = card.flow(|t| confirm_with_pin(t, &pin, b"n", false)).unwrap_err();
    assert_eq!(e, CardError::CardRemoved);
    assert_eq!(e.to_protocol().code, ErrorCode::CardRemoved);
    assert!(started.elapsed() < Duration::from_secs(10), "prompt");
    let log = std::fs::read_to_string(&vcard.log)?;
    assert!(log.contains(r#""event":"removed""#), "{log}");
    assert_log_clean(&log);
    let _ = std::fs::remove_file(&vcard.log);
    Ok(())
}

/// Benchmark, not a timed test: prints p50/p99 of 50 full confirmations,
/// split into card I/O (inside SCardTransmit) and the helper's own time.
/// `cargo test -p onshi-tests -- --test-threads=1 helper_card_bench --nocapture`
#[test]
fn helper_card_bench() -> Result<()> {
    let _pcscd = Pcscd::acquire()?;
    let vcard = start_card("helper-card-bench", None)?;
    let mut card = connect_when_present()?;
    let pin = Pin::new(PIN)?;
    let (mut total, mut io) = (Vec::new(), Vec::new());
    for i in 0..50u32 {
        let nonce = i.to_be_bytes();
        card.take_io_time();
        let start = Instant::now();
        card.flow(|t| confirm_with_pin(t, &pin, &nonce, false))?;
        total.push(start.elapsed());
        io.push(card.take_io_time());
    }
    let own: Vec<Duration> = total.iter().zip(&io).map(|(t, i)| t.saturating_sub(*i)).collect();
    let pct = |v: &[Duration], p: f64| {
        let mut v = v.to_vec();
        v.sort();
        v[((v.len() as f64 - 1.0) * p).round() as usize]
    };
    for (name, v) in [("total", &total), ("card I/O", &io), ("helper own", &own)] {
        eprintln!("confirm_with_pin x50 {name}: p50 {:?} p99 {:?}", pct(v, 0.5), pct(v, 0.99));
    }
    drop(card);
    let log = std::fs::read_to_string(&vcard.log)?;
    assert_log_clean(&log);
    let _ = std::fs::remove_file(&vcard.log);
    Ok(())
}

