//! Benchmark body for `cargo xtask bench core` (native part): generates a
//! deterministic 10,000-unit batch result (OQSmuquc02res, ≈ 20 MB), then
//! measures typed parse + full validation against a bare quick-xml event
//! scan of the same bytes, in UTF-8 and Shift_JIS, and the peak heap.
//!
//! Run: `CARGO_PROFILE_RELEASE_OPT_LEVEL=3 cargo run --release -p onshi-core --example bench_parse [UNITS]`
//! (the workspace release profile optimises for size, which is right for the
//! wasm page but not for a speed measurement).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use onshi_core::message::{parse_named, Message};
use onshi_core::Encoding;

#[path = "../bench-support/doc.rs"]
mod doc;
use doc::{bare_scan, document};

/// Counts live heap bytes and their peak, to report peak memory of a parse.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last: Option<T> = None;
    for _ in 0..runs {
        // Drop the previous result first so the peak is one parse's worth.
        drop(last.take());
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("runs > 0"))
}

fn main() {
    let units: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(10_000);
    for encoding in [Encoding::Utf8, Encoding::ShiftJis] {
        let bytes = document(units, encoding);
        let mb = bytes.len() as f64 / 1e6;
        let (scan_s, events) = best_of(5, || bare_scan(&bytes, encoding));
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let (typed_s, parsed) = best_of(5, || parse_named("OQSmuquc02res_202504020001.xml", &bytes).expect("parse"));
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        let Message::BatchDownloadResult(m) = &parsed.message else { panic!("kind") };
        assert_eq!(m.body.units.len(), units as usize);
        let errors = parsed.diagnostics.iter().filter(|d| d.severity == onshi_core::Severity::Error).count();
        println!(
            "{{\"encoding\":\"{}\",\"units\":{units},\"bytes\":{},\"events\":{events},\"scan_mb_s\":{:.1},\"typed_mb_s\":{:.1},\"ratio\":{:.2},\"peak_heap_bytes\":{peak},\"peak_over_file\":{:.2},\"diagnostics\":{},\"errors\":{errors}}}",
            encoding.label(),
            bytes.len(),
            mb / scan_s,
            mb / typed_s,
            typed_s / scan_s,
            peak as f64 / bytes.len() as f64,
            parsed.diagnostics.len(),
        );
    }
}
