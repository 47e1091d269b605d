//! The measurement itself, shared by the native benchmark
//! (`examples/bench_parse.rs`) and the WebAssembly one (`tests/wasm_bench.rs`)
//! so both time the same steps the same way and print the same JSON line;
//! only the clock differs (`Instant` does not exist on wasm32, so the caller
//! passes one in). Including this module installs a counting allocator as
//! the binary's global allocator, to report the peak heap of a parse.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use onshi_core::diff::{diff, record_from};
use onshi_core::message::{parse_named, Message};
use onshi_core::{Encoding, Severity};

use super::doc::{bare_scan, document};

/// Counts live heap bytes and their peak.
struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator (dlmalloc on wasm32) unchanged;
// only counts sizes. `realloc` keeps the default (alloc + copy + dealloc),
// so every byte passes through the two counted functions.
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

/// Runs per step; the best one counts. The build machines are shared, so
/// more runs filter out more of the other builds' noise.
const RUNS: usize = 7;

/// The name the parse is given: a batch result, as the folder would hold it.
const FILE_NAME: &str = "OQSmuquc02res_202504020001.xml";

/// Best wall time of `runs` calls, in seconds, and the last result. The
/// previous result is dropped before each call, so one call's memory is live
/// at a time.
fn best_of<T>(runs: usize, now: fn() -> f64, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last: Option<T> = None;
    for _ in 0..runs.max(1) {
        drop(last.take());
        let t = now();
        let v = f();
        best = best.min(now() - t);
        last = Some(v);
    }
    match last {
        Some(v) => (best, v),
        // `runs.max(1)` ran the loop at least once.
        None => unreachable!("best_of ran no call"),
    }
}

/// What one encoding measured. Times are seconds (best of the runs).
pub struct Figures {
    pub encoding: Encoding,
    pub units: u32,
    pub bytes: usize,
    pub events: usize,
    /// Bare quick-xml event scan (decode + events): the floor.
    pub scan_s: f64,
    /// Typed parse + full validation (`parse_named`), what the page and helper call.
    pub typed_s: f64,
    /// Validation alone on the already-typed message (included in `typed_s`).
    pub validate_s: f64,
    /// One `diff` per unit: each unit's first result against the stored record
    /// made from the next unit's (so every field differs, the busy case).
    pub diff_s: f64,
    pub diffs: usize,
    pub changes: usize,
    /// Heap bytes live at the peak of one typed parse, input bytes excluded.
    pub peak_heap: usize,
    pub diagnostics: usize,
    pub errors: usize,
}

/// Generates the document for `encoding` and measures it. Panics (it is a
/// benchmark on generated input) if the parse is not complete.
pub fn measure(units: u32, encoding: Encoding, now: fn() -> f64) -> Figures {
    let runs = RUNS;
    let bytes = document(units, encoding);
    let (scan_s, events) = best_of(runs, now, || bare_scan(&bytes, encoding));
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let (typed_s, parsed) = best_of(runs, now, || parse_named(FILE_NAME, &bytes).expect("the generated document parses"));
    let peak_heap = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let (validate_s, _) = best_of(runs, now, || onshi_core::validate::validate(&parsed.message));
    let Message::BatchDownloadResult(m) = &parsed.message else { panic!("not a batch result") };
    assert_eq!(m.body.units.len(), units as usize, "every unit parsed");
    let firsts: Vec<_> = m.body.units.iter().filter_map(|u| u.results.first()).collect();
    assert_eq!(firsts.len(), units as usize, "every unit has a result");
    let stored: Vec<_> = firsts.iter().map(|q| record_from(q)).collect();
    let (diff_s, changes) = best_of(runs, now, || {
        let n = firsts.len();
        (0..n).map(|i| diff(&stored[(i + 1) % n], firsts[i]).len()).sum::<usize>()
    });
    let errors = parsed.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    Figures {
        encoding,
        units,
        bytes: bytes.len(),
        events,
        scan_s,
        typed_s,
        validate_s,
        diff_s,
        diffs: firsts.len(),
        changes,
        peak_heap,
        diagnostics: parsed.diagnostics.len(),
        errors,
    }
}

impl Figures {
    /// One JSON line; `cargo xtask bench core` reads these fields by name.
    pub fn json(&self, target: &str) -> String {
        let mb = self.bytes as f64 / 1e6;
        format!(
            concat!(
                "{{\"target\":\"{}\",\"encoding\":\"{}\",\"units\":{},\"bytes\":{},\"events\":{},",
                "\"scan_mb_s\":{:.1},\"typed_mb_s\":{:.1},\"ratio\":{:.2},",
                "\"validate_ms\":{:.1},\"diff_us_per_unit\":{:.2},\"diff_changes\":{},",
                "\"peak_heap_bytes\":{},\"peak_over_file\":{:.2},\"diagnostics\":{},\"errors\":{}}}"
            ),
            target,
            self.encoding.label(),
            self.units,
            self.bytes,
            self.events,
            mb / self.scan_s,
            mb / self.typed_s,
            self.typed_s / self.scan_s,
            self.validate_s * 1e3,
            self.diff_s * 1e6 / self.diffs.max(1) as f64,
            self.changes,
            self.peak_heap,
            self.peak_heap as f64 / self.bytes as f64,
            self.diagnostics,
            self.errors,
        )
    }
}
