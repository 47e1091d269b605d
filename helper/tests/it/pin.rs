//! The PIN never reaches the database: a PIN-shaped value passed to every
//! public API that takes text is refused, and after a card-confirm flow's
//! worth of writes the database files do not contain it (searched, not
//! assumed).
//!
//! Exempt by design, and so not fed the PIN: the clinic patient id and the
//! insurance card's 記号/番号 (stored verbatim; four-digit values are real
//! there, and no PIN-handling flow passes text to them), and the result
//! XML (must be an XML document; it comes from the backend, not a person).

use onshi_helper::store::*;
use onshi_helper::time::{Day, Timestamp};

use super::{helper, run};

/// A sample PIN. Chosen so it does not occur by chance in this test's
/// other data (timestamps, hashes); the test would show it if it did.
const PIN: &str = "7391";
const PIN_FULL_WIDTH: &str = "７３９１";

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

#[test]
fn every_text_api_refuses_the_pin() {
    for pin in [PIN, PIN_FULL_WIDTH, " 7391 "] {
        assert!(matches!(Origin::new(pin), Err(ValueError::PinShaped { .. })));
        assert!(matches!(ExtensionId::new(pin), Err(ValueError::PinShaped { .. })));
        assert!(matches!(DeskName::new(pin), Err(ValueError::PinShaped { .. })));
        assert!(matches!(ReceptionNumber::new(pin), Err(ValueError::PinShaped { .. })));
        assert!(matches!(FileName::new(pin), Err(ValueError::PinShaped { .. })));
        assert!(matches!(ErrorCode::new(pin), Err(ValueError::PinShaped { .. })));
        assert!(Timestamp::parse(pin).is_err());
        assert!(Day::parse(pin).is_err());
        assert!(ResultXml::received(pin.as_bytes().to_vec()).is_err());
        assert!(Actor::decode(&format!("desk:{pin}")).is_none());
    }
}

fn card_confirm_flow(store: &mut Store, pin: &str) {
    let origin = Origin::new("https://clinic.example").unwrap();
    let ext = ExtensionId::new("abcdefghijklmnopabcdefghijklmnop").unwrap();
    let now = ts("2026-11-25T10:15:00+09:00");
    let id = store.begin_pairing(&origin, &ext, onshi_helper::browser::Browser::Chrome, &now).unwrap();
    store.approve_pairing(id, &now).unwrap();
    let actor = Actor::Origin(origin.clone());
    // A wrong PIN first, then the right one: what the audit log would get.
    let wrong = AuditDetail::CardConfirm {
        mode: ConfirmMode::Pin,
        consents: Consents { medication: true, health_checkup: true, surgery: false },
        tries_left: Some(2),
        error: Some(ErrorCode::new("wrong_pin").unwrap()),
        treatment: None,
    };
    store.append_audit(&now, &actor, Outcome::Failed, &wrong).unwrap();
    let ok = AuditDetail::CardConfirm { mode: ConfirmMode::Pin, consents: Consents::default(), tries_left: None, error: None, treatment: None };
    store.append_audit(&now, &actor, Outcome::Ok, &ok).unwrap();
    let result = NewResult {
        at: now.clone(),
        kind: ResultKind::CardConfirm,
        origin: Some(origin.clone()),
        job: None,
        status: ResultStatus::Valid,
        insurer_number: Some("06139993".into()),
        name_kana: Some("ジュシン タロウ".into()),
        error: None,
        card: None,
        document: None, treatment: None,
        xml: ResultXml::received(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><XmlMsg><MessageHeader/></XmlMsg>".to_vec()).unwrap(),
    };
    store.insert_result(&result).unwrap();
    // The same flow trying to sneak the PIN into each text field of a result.
    for sneak in [
        NewResult { insurer_number: Some(pin.into()), ..result.clone() },
        NewResult { name_kana: Some(pin.into()), ..result.clone() },
    ] {
        assert!(matches!(store.insert_result(&sneak), Err(StoreError::Invalid(ValueError::PinShaped { .. }) | StoreError::Invalid(ValueError::BadShape { .. }))));
    }
    let refs = ReferenceNumbers { insurer: pin.into(), symbol: None, number: "1".into(), branch: None };
    assert!(store.put_reference(&PatientId::new("P-1").unwrap(), &refs, &now).is_err());
}

#[test]
fn the_pin_is_absent_from_the_database_files() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("helper.sqlite");
    {
        let mut store = Store::open(&db).unwrap();
        card_confirm_flow(&mut store, PIN);
        card_confirm_flow(&mut store, PIN_FULL_WIDTH);
        assert!(store.verify_audit().unwrap().is_intact());
    }
    // The CLI path that takes text from a person: refused before the store.
    let mut c = helper(home.path());
    c.args(["pairings", "revoke", PIN, "--store"]).arg(&db);
    let (code, _, err) = run(c);
    assert_eq!(code, 1);
    assert!(!err.contains(PIN), "errors do not echo the value: {err}");

    // Search every file SQLite may have written, with and without a checkpoint.
    let mut searched = 0;
    for entry in std::fs::read_dir(home.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        searched += bytes.len();
        for needle in [PIN.as_bytes(), PIN_FULL_WIDTH.as_bytes()] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "PIN found in {}", path.display());
        }
        // UTF-16 too, in case a text encoding pragma ever changes.
        let utf16: Vec<u8> = PIN.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert!(!bytes.windows(utf16.len()).any(|w| w == utf16.as_slice()));
    }
    // The database really holds the flow's data (the search was not vacuous).
    let s = Store::open(&db).unwrap();
    assert_eq!(s.results_for_day(&Day::parse("2026-11-25").unwrap()).unwrap().len(), 2);
    assert!(searched > 4096);
}
