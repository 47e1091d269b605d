//! `cargo xtask bench [core|helper|web]`: runs the benchmark binaries, which
//! print their own figures. Benchmarks are measurements, never pass/fail tests.

use crate::util::{self, Result};

pub fn run(args: &[String]) -> Result {
    let which = args.first().map(String::as_str);
    if which.is_none() || which == Some("core") {
        // The workspace release profile optimises for size (right for the
        // page); a speed measurement wants speed, so override it here only.
        let mut c = util::cargo();
        c.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_PANIC", "unwind")
            .args(["run", "--release", "-p", "onshi-core", "--example", "bench_parse"]);
        util::run(&mut c)?;
        // The WebAssembly half (core-wasm/tests/wasm_bench.rs, same document)
        // does not build yet: `cargo test --release` with -Zbuild-std stops on
        // "duplicate lang item `sized`" while building proc-macro crates.
    }
    if which.is_none() || which == Some("helper") {
        util::run(util::cargo().args(["run", "-p", "onshi-helper", "--example", "audit_bench", "--", "2000"]))?;
    }
    if which == Some("web") {
        web()?;
    }
    Ok(())
}

/// The reception page: gzip size of dist/web (budget 400 KB), then in
/// headless Chromium navigation → interactive entry form (budget 700 ms) and
/// a 10,000-row batch table's filter change → repaint (budget 100 ms), both
/// measured by the ignored `web_bench` test in tests/tests/it/batch_page.rs.
/// Not part of the default run: it builds the WebAssembly page first.
fn web() -> Result {
    crate::build::build_web()?;
    crate::build::report_sizes()?;
    util::run(util::cargo().args(["build", "-p", "onshi-sim"]))?;
    util::run(util::cargo().args([
        "test", "-p", "onshi-tests", "--test", "it", "--", "--ignored", "--exact", "batch_page::web_bench", "--nocapture",
    ]))
}
