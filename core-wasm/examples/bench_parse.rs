//! Benchmark body for `cargo xtask bench core` (native part): generates a
//! deterministic 10,000-unit batch result (OQSmuquc02res, ≈ 30 MB), then
//! measures typed parse + full validation against a bare quick-xml event
//! scan of the same bytes, validation alone, one diff per unit, and the peak
//! heap, in UTF-8 and Shift_JIS. The WebAssembly twin is
//! `tests/wasm_bench.rs`; both use `bench-support/`, so the figures compare.
//!
//! Run: `cargo xtask bench core` (it sets a speed-optimised profile; the
//! workspace release profile optimises for size, right for the page only).
//! By hand: `cargo run --profile bench -p onshi-core --example bench_parse [UNITS]`.

use std::sync::OnceLock;
use std::time::Instant;

use onshi_core::Encoding;

#[path = "../bench-support/doc.rs"]
mod doc;
#[path = "../bench-support/measure.rs"]
mod measure;

/// Seconds since the first call: the clock `measure` is given.
fn now() -> f64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

fn main() {
    let units: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    for encoding in [Encoding::Utf8, Encoding::ShiftJis] {
        println!("{}", measure::measure(units, encoding, 5, now).json("native"));
    }
}
