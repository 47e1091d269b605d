//! Benchmark body for `cargo xtask bench core` (native part): generates a
//! deterministic 10,000-unit batch result (OQSmuquc02res, ≈ 30 MB), then
//! measures typed parse + full validation against a bare quick-xml event
//! scan of the same bytes, validation alone, one diff per unit, and the peak
//! heap, in UTF-8 and Shift_JIS. The WebAssembly twin is
//! `tests/wasm_bench.rs`; both use `bench-support/`, so the figures compare.
//!
//! Run: `cargo xtask bench core`. It builds with a speed profile given on
//! the command line (see `xtask/src/bench.rs`), the same for this native half
//! and the WebAssembly one, so their figures compare.
//! An optional argument sets the number of units (default 10,000).

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
        println!("{}", measure::measure(units, encoding, now).json("native"));
    }
}
