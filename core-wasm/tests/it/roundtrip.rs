//! `parse(write(x)) == x` for every message kind, in both encodings. The
//! values are the fixtures' messages with their text leaves replaced or
//! removed at random (through the serde form, so every field of every kind
//! is reached without a hand-written generator per type).

use onshi_core::message::{parse_named, Message, Rejection};
use onshi_core::Encoding;
use proptest::prelude::*;
use serde_json::Value;

use crate::fixture_files;

fn bases() -> Vec<Message> {
    fixture_files("messages", ".utf8.xml")
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            parse_named(&name, &std::fs::read(&p).unwrap()).unwrap().message
        })
        .collect()
}

/// Text with the characters that matter here: markup characters, spaces,
/// kana (full and half width), CP932 extensions, a U+2010 hyphen and
/// characters Shift_JIS cannot hold (written as character references).
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            proptest::char::range('0', '9'),
            proptest::char::range('A', 'z'),
            Just(' '), Just('&'), Just('<'), Just('>'), Just('"'), Just('\''), Just('\n'), Just('\t'), Just('\r'),
            Just('髙'), Just('①'), Just('ｶ'), Just('ﾞ'), Just('あ'), Just('記'), Just('\u{3000}'), Just('‐'), Just('０'),
            Just('😀'), Just('é'), Just(']'),
        ],
        0..12,
    )
    .prop_map(|v| v.into_iter().collect())
}

/// Replaces (choice 0–1), removes (2) or keeps (3+) each string leaf in turn.
fn perturb(v: &mut Value, edits: &[(u8, String)], i: &mut usize) {
    match v {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if k == "kind" {
                    continue;
                }
                let Some(child) = map.get_mut(&k) else { continue };
                if let Value::String(s) = child {
                    let (choice, new) = &edits[*i % edits.len()];
                    *i += 1;
                    match choice {
                        0 | 1 => *s = new.clone(),
                        2 => {
                            map.remove(&k);
                        }
                        _ => {}
                    }
                } else {
                    perturb(child, edits, i);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                perturb(item, edits, i);
            }
        }
        _ => {}
    }
}

fn round_trip(message: &Message) -> Result<(), TestCaseError> {
    let prefix = message.kind().file_prefix().unwrap_or("x");
    let name = format!("{prefix}_202504010001.xml");
    for encoding in [Encoding::ShiftJis, Encoding::Utf8] {
        let bytes = message.write(encoding);
        let parsed = parse_named(&name, &bytes).map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(&parsed.message, message, "{:?}", encoding);
        prop_assert_eq!(parsed.encoding, encoding);
    }
    Ok(())
}

#[test]
fn fixtures_round_trip_unchanged() {
    for m in bases() {
        round_trip(&m).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_kind_round_trips_with_arbitrary_text(edits in proptest::collection::vec((0u8..6, text()), 1..64)) {
        for base in bases() {
            let mut v = serde_json::to_value(&base).unwrap();
            let mut i = 0;
            perturb(&mut v, &edits, &mut i);
            let message: Message = serde_json::from_value(v).unwrap();
            round_trip(&message)?;
        }
    }

    #[test]
    fn rejections_round_trip(code in "[A-Z0-9]{1,8}", message in "[A-Za-z0-9あ-ん髙①][A-Za-z0-9あ-ん髙① ]{0,20}[A-Za-z0-9あ-ん髙①]") {
        let r = Message::Rejection(Rejection { code, message });
        for encoding in [Encoding::ShiftJis, Encoding::Utf8] {
            let parsed = parse_named("OQSsiquc01req_202504010001.err", &r.write(encoding)).unwrap();
            prop_assert_eq!(&parsed.message, &r);
        }
    }
}
