//! Test support only: an in-process transport over the simulator's
//! [`VirtualCard`] that records every command, and a card without the JPKI
//! applet. Never compiled into the helper binary.

use std::sync::OnceLock;

use onshi_sim::card::VirtualCard;
use onshi_sim::pki::{self, PersonCard, PkiOptions};

use super::transport::{CardTransport, TransportError};

/// One person's card contents, made once per test process (RSA keygen is slow).
pub fn person() -> PersonCard {
    static PERSON: OnceLock<(tempfile::TempDir, PersonCard)> = OnceLock::new();
    PERSON
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let opts = PkiOptions { people: vec!["P0001".into()], ..PkiOptions::default() };
            pki::init(dir.path(), &opts).expect("pki init");
            let p = pki::load_person(dir.path(), "P0001").expect("load person");
            (dir, p)
        })
        .1
        .clone()
}

/// The day the certificate tests call "today" (issue 14): the cert-case
/// people's certificates are issued relative to it, so no test reads a clock.
pub fn cert_test_today() -> onshi_core::wareki::Date {
    onshi_core::wareki::Date::new(2026, 12, 6).expect("a real date")
}

/// The card of the `pki::CERT_CASES` person in `case`, issued for [`cert_test_today`].
pub fn cert_case_person(case: pki::CertCase) -> PersonCard {
    static PEOPLE: OnceLock<(tempfile::TempDir, Vec<(pki::CertCase, PersonCard)>)> = OnceLock::new();
    let (_, people) = PEOPLE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let opts = PkiOptions { people: Vec::new(), ..PkiOptions::default() }.cert_cases(cert_test_today());
        pki::init(dir.path(), &opts).expect("pki init");
        let people = pki::CERT_CASES.iter().map(|(id, c)| (*c, pki::load_person(dir.path(), id).expect("load person"))).collect();
        (dir, people)
    });
    people.iter().find(|(c, _)| *c == case).map(|(_, p)| p.clone()).expect("every case is issued")
}

/// A virtual card with PIN 1234 and `tries` tries, plus a log of the commands it got.
pub struct SimTransport {
    pub card: VirtualCard,
    pub log: Vec<Vec<u8>>,
    pub resets: usize,
    /// After this many APDUs the card "leaves the reader".
    pub remove_after: Option<usize>,
}

impl SimTransport {
    pub fn new(tries: u8) -> Self {
        Self::for_person(person(), tries)
    }

    /// A card for another person (e.g. one from a PKI a test gateway trusts).
    pub fn for_person(p: PersonCard, tries: u8) -> Self {
        let mut card = VirtualCard::new(p, "1234", tries).expect("virtual card");
        card.power_on();
        SimTransport { card, log: Vec::new(), resets: 0, remove_after: None }
    }

    /// The commands as uppercase hex.
    pub fn log_hex(&self) -> Vec<String> {
        self.log.iter().map(|c| c.iter().map(|b| format!("{b:02X}")).collect()).collect()
    }

    /// Whether any VERIFY with data (a PIN) was sent.
    pub fn sent_pin(&self) -> bool {
        self.log.iter().any(|c| c.len() > 4 && c[1] == 0x20)
    }
}

impl CardTransport for SimTransport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.remove_after.is_some_and(|n| self.log.len() >= n) {
            return Err(TransportError::CardRemoved);
        }
        self.log.push(apdu.to_vec());
        Ok(self.card.transmit(apdu))
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        self.resets += 1;
        self.card.reset();
        Ok(())
    }
}

/// A card with no JPKI applet (a bank card, a transit card): every SELECT → 6A82.
#[derive(Default)]
pub struct ForeignCard {
    pub log: Vec<Vec<u8>>,
}

impl CardTransport for ForeignCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.log.push(apdu.to_vec());
        Ok(vec![0x6A, 0x82])
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

/// A card whose certificate EF holds `file`, to test the reader's bounds.
pub struct FileCard {
    pub file: Vec<u8>,
}

impl CardTransport for FileCard {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        match apdu {
            [0x00, 0xB0, hi, lo, le] => {
                let off = usize::from(u16::from_be_bytes([*hi, *lo]));
                let le = if *le == 0 { 256 } else { usize::from(*le) };
                if off >= self.file.len() {
                    return Ok(vec![0x6B, 0x00]);
                }
                let mut r = self.file[off..(off + le).min(self.file.len())].to_vec();
                r.extend_from_slice(&[0x90, 0x00]);
                Ok(r)
            }
            _ => Ok(vec![0x90, 0x00]),
        }
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        Ok(())
    }
}

/// A [`SimTransport`] behind the service's card trait; `present = false`
/// means the reader is empty.
pub struct SimAccess {
    pub card: std::sync::Mutex<SimTransport>,
    pub present: std::sync::atomic::AtomicBool,
}

impl SimAccess {
    pub fn new(tries: u8) -> Self {
        Self::with(SimTransport::new(tries))
    }

    pub fn with(t: SimTransport) -> Self {
        SimAccess { card: std::sync::Mutex::new(t), present: std::sync::atomic::AtomicBool::new(true) }
    }
}

impl super::access::CardAccess for SimAccess {
    fn with_card(&self, _reader: Option<&str>, flow: super::access::FlowFn<'_>) -> Result<(), super::flows::CardError> {
        if !self.present.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(super::flows::CardError::NoCard);
        }
        let mut t = self.card.lock().map_err(|_| super::flows::CardError::Busy)?;
        flow(&mut *t)
    }

    fn readers(&self) -> Result<Vec<super::transport::Reader>, super::flows::CardError> {
        Ok(vec![super::transport::Reader { name: "Sim Reader 0".into(), card_present: self.present.load(std::sync::atomic::Ordering::SeqCst) }])
    }
}
