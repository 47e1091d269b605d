//! The virtual JPKI card driven in-process by recorded APDU scripts, one
//! comment per step. The command bytes follow domain.md §5; the expected
//! status words are the ones the card module documents.

use onshi_sim::card::{self, VirtualCard};
use onshi_sim::pki::PersonCard;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};
use x509_parser::oid_registry::OID_X509_SERIALNUMBER;

use crate::fixture;

/// The SHA-256 DigestInfo prefix (domain.md §5).
const SHA256_PREFIX: [u8; 19] =
    [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("test hex")).collect()
}

fn sw(resp: &[u8]) -> u16 {
    u16::from_be_bytes([resp[resp.len() - 2], resp[resp.len() - 1]])
}

/// Runs `(command hex, expected SW, why)` steps and fails at the first surprise.
fn check(card: &mut VirtualCard, script: &[(&str, u16, &str)]) {
    for (i, (cmd, want, why)) in script.iter().enumerate() {
        let resp = card.transmit(&unhex(cmd));
        assert_eq!(sw(&resp), *want, "step {i} ({why}): {cmd} → {}", card::hex(&resp));
    }
}

fn new_card() -> (VirtualCard, PersonCard) {
    let person = fixture::person();
    let mut card = VirtualCard::new(person.clone(), "1234", 3).expect("card");
    assert_eq!(card.power_on(), &card::ATR);
    (card, person)
}

const SELECT_JPKI: &str = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01";
const SELECT_CERT: &str = "00 A4 02 0C 02 00 0A";
const SELECT_KEY: &str = "00 A4 02 0C 02 00 17";
const SELECT_PIN: &str = "00 A4 02 0C 02 00 18";
const TRIES_LEFT: &str = "00 20 00 80";
const VERIFY_1234: &str = "00 20 00 80 04 31 32 33 34";
const VERIFY_0000: &str = "00 20 00 80 04 30 30 30 30";

fn sign_command(digest_info: &[u8]) -> Vec<u8> {
    let mut c = vec![0x80, 0x2A, 0x00, 0x80, digest_info.len() as u8];
    c.extend_from_slice(digest_info);
    c.push(0x00);
    c
}

fn digest_info(message: &[u8]) -> Vec<u8> {
    let mut di = SHA256_PREFIX.to_vec();
    di.extend_from_slice(&Sha256::digest(message));
    di
}

/// Reads the selected certificate EF the way a host must: the 4-byte DER
/// header first, then ≤ 256-byte chunks up to the length it announces.
fn read_cert(card: &mut VirtualCard) -> Vec<u8> {
    let head = card.transmit(&unhex("00 B0 00 00 04"));
    assert_eq!(sw(&head), 0x9000);
    assert_eq!(&head[..2], &[0x30, 0x82], "a certificate longer than 255 bytes starts 30 82");
    let total = usize::from(u16::from_be_bytes([head[2], head[3]])) + 4;
    let mut out = Vec::new();
    let mut chunks = 0;
    while out.len() < total {
        let [hi, lo] = (out.len() as u16).to_be_bytes();
        // Le 00 means 256; the last chunk comes back shorter.
        let resp = card.transmit(&[0x00, 0xB0, hi, lo, 0x00]);
        assert_eq!(sw(&resp), 0x9000, "chunk at {}", out.len());
        assert!(resp.len() - 2 <= 256);
        out.extend_from_slice(&resp[..resp.len() - 2]);
        chunks += 1;
    }
    assert!(chunks > 1, "a 2048-bit certificate needs several chunks");
    assert_eq!(out.len(), total, "no bytes beyond the certificate");
    out
}

#[test]
fn select_read_verify_sign_and_reset() {
    let (mut card, person) = new_card();
    check(
        &mut card,
        &[
            // Both card-face applets do not exist here; asking is "not found".
            ("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08", 0x6A82, "券面事項入力補助AP is absent"),
            ("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02", 0x6A82, "券面事項確認AP is absent"),
            // An EF cannot be selected before its applet.
            (SELECT_CERT, 0x6A82, "EF before applet"),
            (SELECT_JPKI, 0x9000, "select the JPKI applet"),
            (SELECT_CERT, 0x9000, "select the user-auth certificate EF"),
        ],
    );
    // The whole certificate, chunked, is the one in the PKI and parses as X.509.
    let cert = read_cert(&mut card);
    assert_eq!(cert, person.auth_cert_der);
    let (rest, x509) = x509_parser::parse_x509_certificate(&cert).expect("X.509 DER");
    assert!(rest.is_empty());
    let serial: Vec<_> = x509.subject().iter_by_oid(&OID_X509_SERIALNUMBER).map(|a| a.as_str().unwrap()).collect();
    assert_eq!(serial, [fixture::PERSON], "the person id is the subject serialNumber");
    let public = RsaPublicKey::from_public_key_der(x509.public_key().raw).expect("RSA public key");

    // The CA certificate EF holds the JPKI test CA.
    check(&mut card, &[("00 A4 02 0C 02 00 0B", 0x9000, "select the CA certificate EF")]);
    assert_eq!(read_cert(&mut card), person.ca_cert_der);

    let di = digest_info(b"gateway nonce 0001");
    check(
        &mut card,
        &[
            (SELECT_PIN, 0x9000, "select the auth PIN EF"),
            (TRIES_LEFT, 0x63C3, "three tries left"),
            (SELECT_KEY, 0x9000, "select the auth key EF"),
        ],
    );
    // Signing before VERIFY is refused.
    assert_eq!(sw(&card.transmit(&sign_command(&di))), 0x6982);
    check(
        &mut card,
        &[
            (SELECT_PIN, 0x9000, "back to the PIN EF"),
            (VERIFY_0000, 0x63C2, "wrong PIN: two left"),
            (VERIFY_0000, 0x63C1, "wrong PIN: one left"),
            (VERIFY_1234, 0x9000, "right PIN"),
            (TRIES_LEFT, 0x63C3, "success reset the counter; the query still answers 63Cx"),
            (SELECT_KEY, 0x9000, "select the key EF to sign"),
        ],
    );
    let resp = card.transmit(&sign_command(&di));
    assert_eq!(sw(&resp), 0x9000);
    let signature = &resp[..resp.len() - 2];
    assert_eq!(signature.len(), 256, "RSA-2048");
    // A standard PKCS#1 v1.5 SHA-256 verifier accepts it: the card padded the DigestInfo as given.
    public
        .verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"gateway nonce 0001"), signature)
        .expect("signature verifies against the certificate's key");
    assert!(public.verify(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(b"another nonce"), signature).is_err());

    // A reset ends the session: the applet must be selected again and the PIN re-verified.
    let session = card.session();
    card.reset();
    assert_eq!(card.session(), session + 1);
    check(&mut card, &[(SELECT_KEY, 0x6A82, "nothing selected after reset"), (SELECT_JPKI, 0x9000, "select again")]);
    check(&mut card, &[(SELECT_KEY, 0x9000, "key EF")]);
    assert_eq!(sw(&card.transmit(&sign_command(&di))), 0x6982, "verification did not survive the reset");
    // Power-off does the same.
    check(&mut card, &[(SELECT_PIN, 0x9000, ""), (VERIFY_1234, 0x9000, ""), (SELECT_KEY, 0x9000, "")]);
    card.power_off();
    card.power_on();
    check(&mut card, &[(SELECT_JPKI, 0x9000, ""), (SELECT_KEY, 0x9000, "")]);
    assert_eq!(sw(&card.transmit(&sign_command(&di))), 0x6982, "verification did not survive power-off");
}

#[test]
fn three_wrong_pins_lock_the_card_for_good() {
    let (mut card, _) = new_card();
    check(
        &mut card,
        &[
            (SELECT_JPKI, 0x9000, "select the JPKI applet"),
            (SELECT_PIN, 0x9000, "select the auth PIN EF"),
            (VERIFY_0000, 0x63C2, "wrong: two left"),
            (VERIFY_0000, 0x63C1, "wrong: one left (the helper must warn loudly now)"),
            (VERIFY_0000, 0x63C0, "wrong: none left — this try locks the card"),
            (VERIFY_1234, 0x6983, "even the right PIN is refused once locked"),
            (TRIES_LEFT, 0x6983, "the query reports the lock"),
        ],
    );
    // The counter is persistent: a reset does not unlock.
    card.reset();
    check(&mut card, &[(SELECT_JPKI, 0x9000, ""), (SELECT_PIN, 0x9000, ""), (TRIES_LEFT, 0x6983, "still locked")]);
    assert_eq!(card.tries_left(), 0);
}

/// The card's answers mean to the helper what the card means by them: both
/// read core's one status-word table (`onshi_core::card_sw`), so a lock-out
/// the card signals is a lock-out the helper reports.
#[test]
fn the_helper_reads_each_answer_as_the_card_means_it() {
    use onshi_core::card_sw::Sw;
    let (mut card, _) = new_card();
    let steps: [(&str, Sw); 9] = [
        ("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08", Sw::FileNotFound), // 券面事項入力補助AP: absent
        (SELECT_JPKI, Sw::Ok),
        (SELECT_PIN, Sw::Ok),
        (TRIES_LEFT, Sw::WrongPin { tries_left: 3 }),
        (VERIFY_0000, Sw::WrongPin { tries_left: 2 }),
        (VERIFY_0000, Sw::WrongPin { tries_left: 1 }),
        (VERIFY_0000, Sw::Locked), // 63C0
        (VERIFY_1234, Sw::Locked), // 6983
        ("00 B0 00 00 04", Sw::IncompatibleFile),
    ];
    for (i, (cmd, want)) in steps.into_iter().enumerate() {
        let resp = card.transmit(&unhex(cmd));
        assert_eq!(Sw::from_u16(sw(&resp)), want, "step {i}: {cmd} → {}", card::hex(&resp));
    }
}

#[test]
fn a_wrong_pin_counter_survives_reset_and_resets_on_success() {
    let (mut card, _) = new_card();
    check(&mut card, &[(SELECT_JPKI, 0x9000, ""), (SELECT_PIN, 0x9000, ""), (VERIFY_0000, 0x63C2, "one wrong")]);
    card.reset();
    check(
        &mut card,
        &[
            (SELECT_JPKI, 0x9000, ""),
            (SELECT_PIN, 0x9000, ""),
            (TRIES_LEFT, 0x63C2, "the failed try is remembered across reset"),
            (VERIFY_1234, 0x9000, "right PIN"),
            (TRIES_LEFT, 0x63C3, "counter back to the maximum"),
        ],
    );
}

#[test]
fn malformed_commands_get_the_iso_status_words() {
    let (mut card, _) = new_card();
    check(
        &mut card,
        &[
            ("00 A4", 0x6700, "shorter than a header"),
            ("A0 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", 0x6E00, "unknown class"),
            ("80 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01", 0x6E00, "SELECT needs CLA 00"),
            ("00 2A 00 80 01 00 00", 0x6E00, "COMPUTE DIGITAL SIGNATURE needs CLA 80"),
            ("00 CA 00 00 00", 0x6D00, "GET DATA is not offered"),
            ("00 84 00 00 08", 0x6D00, "GET CHALLENGE is not offered"),
            ("00 A4 04 00 0A D3 92 F0 00 26 01 00 00 00 01", 0x6A86, "SELECT with FCI requested"),
            ("00 A4 01 0C 02 00 0A", 0x6A86, "SELECT by an unsupported P1"),
            ("00 A4 04 0C 05 D3 92 F0 00 26 01 00", 0x6700, "Lc says 5, 7 bytes follow"),
            ("00 A4 04 0C 00 00 0A D3 92 F0 00 26 01 00 00 00 01", 0x6700, "extended length"),
            ("00 A4 04 0C 05 D3 92 F0 00 26", 0x6A82, "a truncated AID is another AID"),
            (SELECT_JPKI, 0x9000, "now select properly"),
            ("00 A4 02 0C 03 00 0A 00", 0x6700, "an EF id is two bytes"),
            ("00 A4 02 0C 02 00 01", 0x6A82, "the signature certificate EF is not on this card"),
            ("00 B0 00 00 00", 0x6986, "READ BINARY with no EF selected"),
            (TRIES_LEFT, 0x6A88, "VERIFY without the PIN EF selected"),
            (SELECT_KEY, 0x9000, "the key EF"),
            ("00 B0 00 00 00", 0x6981, "the private key cannot be read"),
            ("80 2A 00 81 03 01 02 03 00", 0x6A86, "signature with a wrong P2"),
            (SELECT_CERT, 0x9000, "the certificate EF"),
            ("00 B0 7F 00 10", 0x6B00, "offset beyond the file"),
            ("00 B0 80 00 10", 0x6A86, "short EF id in P1 is not supported"),
            ("00 B0 00 00 01 00 10", 0x6700, "READ BINARY carries no data"),
            ("00 B0 00 00", 0x6700, "READ BINARY without Le"),
            ("80 2A 00 80 03 01 02 03 00", 0x6985, "signing with the certificate EF selected"),
            (SELECT_PIN, 0x9000, "the PIN EF"),
            ("00 20 00 81", 0x6A86, "VERIFY with a wrong P2"),
            ("00 20 00 80 05 31 32 33 34 35", 0x6700, "a 5-digit PIN is malformed, not wrong"),
            ("00 20 00 80 04 31 32 61 34", 0x6A80, "a PIN with a letter"),
            (TRIES_LEFT, 0x63C3, "malformed PINs did not cost a try"),
            (VERIFY_1234, 0x9000, "right PIN"),
            (SELECT_KEY, 0x9000, "key EF"),
        ],
    );
    // A DigestInfo too long for PKCS#1 v1.5 type 1 in 256 bytes.
    assert_eq!(sw(&card.transmit(&sign_command(&[0u8; 246]))), 0x6700);
    assert_eq!(sw(&card.transmit(&unhex("80 2A 00 80 03 01 02 03 10"))), 0x6700, "Le must be 00");
}

#[test]
fn logs_never_show_the_pin() {
    assert_eq!(card::redacted_hex(&unhex(VERIFY_1234)), "0020008004********");
    assert_eq!(card::redacted_hex(&unhex(TRIES_LEFT)), "00200080");
    assert_eq!(card::redacted_hex(&unhex(SELECT_JPKI)), "00A4040C0AD392F000260100000001");
}

#[test]
fn bad_card_settings_are_refused() {
    for pin in ["123", "12345", "12a4", "１２３４"] {
        assert_eq!(VirtualCard::new(fixture::person(), pin, 3).err(), Some(card::CardError::BadPin), "{pin}");
    }
    assert_eq!(VirtualCard::new(fixture::person(), "1234", 0).err(), Some(card::CardError::BadTries(0)));
    assert_eq!(VirtualCard::new(fixture::person(), "1234", 16).err(), Some(card::CardError::BadTries(16)));
}
