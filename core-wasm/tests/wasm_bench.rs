//! The parse benchmark as WebAssembly in headless Chromium, run by
//! `cargo xtask bench core` (never by `cargo xtask test`; it needs a
//! speed-optimised build and takes a while). Same document, floor and steps
//! as the native `examples/bench_parse.rs` (both use `bench-support/`),
//! timed with the browser's `performance.now()`. It prints one JSON line per
//! encoding, prefixed `wasm-bench `; it asserts only that the parse is
//! complete, never a speed.
#![cfg(target_arch = "wasm32")]

#[path = "../bench-support/doc.rs"]
mod doc;
#[path = "../bench-support/measure.rs"]
mod measure;

use onshi_core::Encoding;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen]
extern "C" {
    /// `performance.now()` in milliseconds (sub-millisecond where allowed),
    /// reached through the global object so no web-sys feature is needed.
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

fn now() -> f64 {
    performance_now() / 1000.0
}

#[wasm_bindgen_test]
fn parse_throughput_in_the_browser() {
    for encoding in [Encoding::Utf8, Encoding::ShiftJis] {
        console_log!("wasm-bench {}", measure::measure(10_000, encoding, now).json("wasm32"));
    }
}
