//! `cargo xtask bench [core|helper]`: runs the benchmark binaries, which print
//! their own figures. Benchmarks are measurements, never pass/fail tests.

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
        // The same document parsed as WebAssembly in headless Chromium, with
        // the same optimisation level, so the two are comparable.
        let mut c = crate::test::wasm_test_in_chromium();
        c.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .args(["--release", "-p", "onshi-core", "--test", "wasm_bench", "--", "--nocapture"]);
        util::run(&mut c)?;
    }
    if which.is_none() || which == Some("helper") {
        util::run(util::cargo().args(["run", "-p", "onshi-helper", "--example", "audit_bench", "--", "2000"]))?;
    }
    Ok(())
}
