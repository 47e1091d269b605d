//! The parse benchmark as WebAssembly in headless Chromium (run by
//! `cargo xtask bench core`, release build): the same document and floor as
//! the native `examples/bench_parse.rs`, timed with the browser's clock.
//! It prints one JSON line per encoding; it asserts only that the parse is
//! complete, never a speed.
#![cfg(target_arch = "wasm32")]

#[path = "../bench-support/doc.rs"]
mod doc;

use doc::{bare_scan, document};
use onshi_core::message::{parse_named, Message};
use onshi_core::Encoding;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        let t = js_sys::Date::now();
        let v = f();
        best = best.min((js_sys::Date::now() - t) / 1000.0);
        last = Some(v);
    }
    (best, last.expect("runs > 0"))
}

#[wasm_bindgen_test]
fn parse_throughput_in_the_browser() {
    let units = 10_000u32;
    for encoding in [Encoding::Utf8, Encoding::ShiftJis] {
        let bytes = document(units, encoding);
        let mb = bytes.len() as f64 / 1e6;
        let (scan_s, events) = best_of(3, || bare_scan(&bytes, encoding));
        let (typed_s, parsed) = best_of(3, || parse_named("OQSmuquc02res_202504020001.xml", &bytes).expect("parse"));
        let Message::BatchDownloadResult(m) = &parsed.message else { panic!("not a batch result") };
        assert_eq!(m.body.units.len(), units as usize);
        console_log!(
            "wasm-bench {{\"target\":\"wasm32\",\"encoding\":\"{}\",\"units\":{units},\"bytes\":{},\"events\":{events},\"scan_mb_s\":{:.1},\"typed_mb_s\":{:.1},\"ratio\":{:.2}}}",
            encoding.label(),
            bytes.len(),
            mb / scan_s,
            mb / typed_s,
            typed_s / scan_s
        );
    }
}
