//! Fuzz target: any bytes, with or without a file-name hint, must give a
//! message or a typed error — never a panic, never unbounded memory. A
//! message that parses must also write and parse again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use onshi_core::message::{parse, parse_named};
use onshi_core::Encoding;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = parse(data) {
        let _ = onshi_core::summary::summarize_message(&parsed.message);
        for encoding in [Encoding::ShiftJis, Encoding::Utf8] {
            let bytes = parsed.message.write(encoding);
            let prefix = parsed.message.kind().file_prefix().unwrap_or("x");
            let again = parse_named(&format!("{prefix}_1.xml"), &bytes).expect("our own output parses");
            assert_eq!(again.message, parsed.message, "write/parse round trip");
        }
    }
    let _ = parse_named("OQSsiquc01res_face_1.xml", data);
    let _ = parse_named("x.err", data);
});
