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
        // The WebAssembly half (core-wasm/tests/wasm_bench.rs, same document)
        // does not build yet: `cargo test --release` with -Zbuild-std stops on
        // "duplicate lang item `sized`" while building proc-macro crates.
    }
    if which.is_none() || which == Some("helper") {
        util::run(util::cargo().args(["run", "-p", "onshi-helper", "--example", "audit_bench", "--", "2000"]))?;
        // The service bench starts the real binary next to it, so build both first.
        util::run(util::cargo().args(["build", "--release", "-p", "onshi-helper", "--bins", "--examples"]))?;
        util::run(util::cargo().args(["run", "--release", "-p", "onshi-helper", "--example", "service_bench", "--", "1000"]))?;
    }
    Ok(())
}
