//! `cargo xtask bench [core|helper|sim]`: runs the benchmark binaries, which print
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
        // The WebAssembly half (core-wasm/tests/wasm_bench.rs, same document)
        // does not build yet: `cargo test --release` with -Zbuild-std stops on
        // "duplicate lang item `sized`" while building proc-macro crates.
    }
    if which.is_none() || which == Some("helper") {
        util::run(util::cargo().args(["run", "-p", "onshi-helper", "--example", "audit_bench", "--", "2000"]))?;
    }
    if which.is_none() || which == Some("sim") {
        // The gateway under load: 8 mTLS clients for 5 s, then a 10,000-person batch.
        let mut c = util::cargo();
        c.env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
            .env("CARGO_PROFILE_RELEASE_LTO", "false")
            .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
            .env("CARGO_PROFILE_RELEASE_PANIC", "unwind")
            .args(["run", "--release", "-p", "onshi-sim", "--example", "gateway_bench", "--", "5", "10000"]);
        util::run(&mut c)?;
    }
    Ok(())
}
