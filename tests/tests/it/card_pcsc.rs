//! Issue 4: the virtual My Number card (`onshi-sim card`, a separate process)
//! in vpcd's slot, used through a real pcscd with the `pcsc` crate exactly as
//! the helper will: select, chunked certificate read, tries-left, verify,
//! sign; then the card's APDU log proves the card-face applets were never
//! selected and the PIN never written down.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use pcsc::{Context, Disposition, Protocols, ReaderState, Scope, ShareMode, State};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};

use onshi_tests::demo_parts::CardSpec;
use onshi_tests::pcscd::{Pcscd, VPCD_READER};
use onshi_tests::virtual_card::{VirtualCard, person_pki};

const PERSON: &str = "P0002";
const SHA256_PREFIX: [u8; 19] =
    [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];
const SELECT_JPKI: [u8; 15] = [0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];
const FORBIDDEN_HEX: [&str; 2] = ["D3921000310001010408", "D3921000310001010402"];

/// The test PKI, kept between runs.
fn pki_dir() -> Result<PathBuf> {
    person_pki(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("card-pcsc-pki"), PERSON)
}

fn start_card(pki: &Path, name: &str, remove_after: Option<u64>) -> Result<VirtualCard> {
    let log = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let spec = CardSpec { pin: Some("1234".into()), remove_after, ..CardSpec::person(PERSON) };
    VirtualCard::start(pki, &spec, log)
}

/// Waits until pcscd reports a card in the vpcd reader (it polls every ~400 ms).
fn wait_for_card(ctx: &Context) -> Result<()> {
    let mut states = [ReaderState::new(VPCD_READER, State::UNAWARE)];
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        ctx.get_status_change(Duration::from_millis(500), &mut states).or_else(|e| match e {
            pcsc::Error::Timeout => Ok(()),
            e => Err(e),
        })?;
        if states[0].event_state().contains(State::PRESENT) {
            return Ok(());
        }
        states[0].sync_current_state();
    }
    bail!("no card appeared in {VPCD_READER:?}")
}

fn tx(card: &pcsc::Card, apdu: &[u8]) -> Result<(Vec<u8>, u16)> {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    let resp = card.transmit(apdu, &mut buf).with_context(|| format!("transmit {apdu:02X?}"))?;
    ensure!(resp.len() >= 2, "short response {resp:02X?}");
    let (data, sw) = resp.split_at(resp.len() - 2);
    Ok((data.to_vec(), u16::from_be_bytes([sw[0], sw[1]])))
}

fn sign_apdu(digest_info: &[u8]) -> Vec<u8> {
    let mut c = vec![0x80, 0x2A, 0x00, 0x80, digest_info.len() as u8];
    c.extend_from_slice(digest_info);
    c.push(0x00);
    c
}

#[test]
fn select_read_verify_sign_through_real_pcscd() -> Result<()> {
    let _pcscd = Pcscd::acquire()?;
    let pki = pki_dir()?;
    let vcard = start_card(&pki, "card-pcsc", None)?;
    let ctx = Context::establish(Scope::User)?;
    wait_for_card(&ctx)?;
    let mut card = ctx.connect(VPCD_READER, ShareMode::Shared, Protocols::ANY)?;

    let nonce = b"challenge from the gateway";
    let mut digest_info = SHA256_PREFIX.to_vec();
    digest_info.extend_from_slice(&Sha256::digest(nonce));
    {
        // One flow = one PC/SC transaction (domain.md §5).
        let t = card.transaction()?;
        let flow = Instant::now();
        assert_eq!(tx(&t, &SELECT_JPKI)?.1, 0x9000, "select JPKI applet");
        assert_eq!(tx(&t, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A])?.1, 0x9000, "select auth cert EF");
        let (head, sw) = tx(&t, &[0x00, 0xB0, 0x00, 0x00, 0x04])?;
        assert_eq!(sw, 0x9000);
        assert_eq!(&head[..2], &[0x30, 0x82]);
        let total = usize::from(u16::from_be_bytes([head[2], head[3]])) + 4;
        let mut cert = Vec::new();
        while cert.len() < total {
            let [hi, lo] = (cert.len() as u16).to_be_bytes();
            let want = (total - cert.len()).min(256);
            let (chunk, sw) = tx(&t, &[0x00, 0xB0, hi, lo, want as u8])?;
            assert_eq!(sw, 0x9000, "chunk at {}", cert.len());
            assert_eq!(chunk.len(), want);
            cert.extend_from_slice(&chunk);
        }
        let (_, x509) = x509_parser::parse_x509_certificate(&cert).context("certificate read through pcscd")?;
        let serial: Vec<_> = x509
            .subject()
            .iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER)
            .filter_map(|a| a.as_str().ok())
            .collect();
        assert_eq!(serial, [PERSON]);
        let public = RsaPublicKey::from_public_key_der(x509.public_key().raw)?;

        assert_eq!(tx(&t, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x18])?.1, 0x9000, "select auth PIN EF");
        assert_eq!(tx(&t, &[0x00, 0x20, 0x00, 0x80])?.1, 0x63C3, "three tries left");
        assert_eq!(tx(&t, &[0x00, 0x20, 0x00, 0x80, 0x04, b'1', b'2', b'3', b'4'])?.1, 0x9000, "verify");
        assert_eq!(tx(&t, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17])?.1, 0x9000, "select auth key EF");
        let (signature, sw) = tx(&t, &sign_apdu(&digest_info))?;
        assert_eq!(sw, 0x9000);
        assert_eq!(signature.len(), 256);
        public
            .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(nonce), &signature)
            .context("signature made through pcscd verifies with the certificate's key")?;
        // A figure for the report: the whole select/read/verify/sign flow.
        eprintln!("select/read/tries/verify/sign through pcscd: {:?}", flow.elapsed());
        // End the flow with a card reset so no PIN state survives.
        t.end(Disposition::ResetCard).map_err(|(_, e)| e)?;
    }

    // After the reset the PIN state is gone: signing is refused again. Our
    // handle learns of the reset (SCARD_W_RESET_CARD) and must reconnect.
    card.reconnect(ShareMode::Shared, Protocols::ANY, Disposition::LeaveCard)?;
    {
        let t = card.transaction()?;
        assert_eq!(tx(&t, &SELECT_JPKI)?.1, 0x9000);
        assert_eq!(tx(&t, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x17])?.1, 0x9000);
        assert_eq!(tx(&t, &sign_apdu(&digest_info))?.1, 0x6982, "reset cleared the verified PIN");
        t.end(Disposition::LeaveCard).map_err(|(_, e)| e)?;
    }
    card.disconnect(Disposition::ResetCard).map_err(|(_, e)| e)?;

    // The card's own log: every APDU is there, the card-face applets never, the PIN never.
    let log = std::fs::read_to_string(&vcard.log)?;
    let lines: Vec<serde_json::Value> =
        log.lines().map(serde_json::from_str).collect::<Result<_, _>>().context("APDU log is JSON lines")?;
    let commands: Vec<&str> = lines.iter().filter_map(|l| l["command"].as_str()).collect();
    assert!(commands.contains(&"00A4040C0AD392F000260100000001"), "the JPKI select is logged: {commands:?}");
    assert!(commands.contains(&"0020008004********"), "VERIFY is logged masked");
    assert!(commands.len() >= 12, "{} APDUs logged", commands.len());
    for aid in FORBIDDEN_HEX {
        assert!(!log.contains(aid), "forbidden applet {aid} appears in the APDU log");
    }
    assert!(!log.contains("0020008004313233"), "the PIN is never logged");
    assert!(lines.iter().any(|l| l["event"] == "reset"), "pcscd's reset reached the card");
    // Kept on failure for diagnosis; removed on success.
    let _ = std::fs::remove_file(&vcard.log);
    Ok(())
}

#[test]
fn card_removed_mid_flow_is_an_error_not_a_hang() -> Result<()> {
    let _pcscd = Pcscd::acquire()?;
    let pki = pki_dir()?;
    // The card answers two APDUs, then leaves the reader.
    let vcard = start_card(&pki, "card-pcsc-removed", Some(2))?;
    let ctx = Context::establish(Scope::User)?;
    wait_for_card(&ctx)?;
    let card = ctx.connect(VPCD_READER, ShareMode::Shared, Protocols::ANY)?;
    assert_eq!(tx(&card, &SELECT_JPKI)?.1, 0x9000);
    assert_eq!(tx(&card, &[0x00, 0xA4, 0x02, 0x0C, 0x02, 0x00, 0x0A])?.1, 0x9000);
    let started = Instant::now();
    let third = tx(&card, &[0x00, 0xB0, 0x00, 0x00, 0x04]);
    assert!(third.is_err(), "the third APDU must fail once the card is gone: {third:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "failure is prompt");
    let log = std::fs::read_to_string(&vcard.log)?;
    assert!(log.contains(r#""event":"removed""#), "{log}");
    let _ = std::fs::remove_file(&vcard.log);
    Ok(())
}
