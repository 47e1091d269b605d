//! `cargo xtask bench [core|cli|helper|sim|web|e2e|windows|desks]`: runs the benchmark binaries, which print
//! their own figures. Benchmarks are measurements, never pass/fail tests.
//! `helper` includes the card confirmation through pcscd (it needs root, pcscd
//! and vsmartcard-vpcd, and fails when they are missing).
//! `web` and `e2e` run only when named (they build the WebAssembly page first);
//! so does `windows` (it cross-builds the helper and runs `service_bench`
//! against the exe under Wine, over the named pipe).
//!
//! `core` runs the XML benchmark natively (`examples/bench_parse.rs`) and as
//! WebAssembly in headless Chromium (`tests/wasm_bench.rs`), both over the
//! same generated document, then prints the wasm/native ratios.
//!
//! `helper` also times the `usage` statistics over 60,000 stored results
//! (`examples/usage_bench.rs`, budget 200 ms).
//!
//! `desks` (only when named): 20 desk helpers sharing one PostgreSQL, then
//! one desk on SQLite, under a steady load of checks (issue 17).
//!
//! `cli` times the whole release `onshi-xml parse --summary` process
//! against the floor (`examples/bench_cli.rs`; extra arguments go to it).

use std::process::Command;

use crate::test::wasm_test_in_chromium;
use crate::util::{self, Result};

/// The core benchmark's native and WebAssembly halves get these same
/// settings (speed, and a quicker build than the shipped release's fat LTO),
/// as a profile defined on the command line so neither the release artifacts
/// nor `Cargo.toml` change. `panic` stays "abort" (wasm32 has no unwinding).
/// Whole-process figures (`bench cli`) use `release` itself: what ships.
const SPEED: [(&str, &str); 4] = [("inherits", "\"release\""), ("opt-level", "3"), ("lto", "false"), ("codegen-units", "16")];

fn with_profile(c: &mut Command, name: &str) {
    c.args(["--profile", name]);
    for (key, value) in SPEED {
        c.arg("--config").arg(format!("profile.{name}.{key}={value}"));
    }
}

pub fn run(args: &[String]) -> Result {
    let which = args.first().map(String::as_str);
    if which.is_none() || which == Some("core") {
        core()?;
    }
    if which.is_none() || which == Some("cli") {
        // `onshi-xml parse --summary` as shipped (release) against the floor.
        util::run(util::cargo().args(["build", "--release", "-p", "onshi-core", "--bin", "onshi-xml", "--example", "bench_cli"]))?;
        util::run(Command::new(util::root().join("target/release/examples/bench_cli")).args(&args[args.len().min(1)..]))?;
    }
    if which.is_none() || which == Some("helper") {
        util::run(util::cargo().args(["run", "-p", "onshi-helper", "--example", "audit_bench", "--", "2000"]))?;
        // Issue 16: a year of a busy clinic (200 checks × 300 days) through the `usage` query.
        util::run(util::cargo().args(["run", "--release", "-p", "onshi-helper", "--example", "usage_bench", "--", "300", "200", "50"]))?;
        // The service bench starts the real binary next to it, so build both first.
        util::run(util::cargo().args(["build", "--release", "-p", "onshi-helper", "--bins", "--examples"]))?;
        util::run(util::cargo().args(["run", "--release", "-p", "onshi-helper", "--example", "service_bench", "--", "1000"]))?;
        card_confirm()?;
    }
    if which.is_none() || which == Some("sim") {
        // The gateway under load: 8 mTLS clients for 5 s, then a 10,000-person batch.
        let mut c = util::cargo();
        c.args(["run", "-p", "onshi-sim", "--example", "gateway_bench"]);
        with_profile(&mut c, "native-bench");
        c.args(["--", "5", "10000"]);
        util::run(&mut c)?;
    }
    if which == Some("web") {
        web()?;
    }
    if which == Some("e2e") {
        e2e()?;
    }
    if which == Some("windows") {
        windows()?;
    }
    if which == Some("desks") {
        desks(&args[1..])?;
    }
    Ok(())
}

/// Issue 17: 20 desk helpers (release builds, separate processes) on one
/// PostgreSQL against the simulated gateway for 20 s, then one desk on its
/// own SQLite file under the same load (`tests/examples/desks_bench.rs`;
/// extra arguments: DESKS SECONDS). The client is a release build too: it
/// reads every desk's events, and a debug JSON reader would be the bottleneck.
fn desks(args: &[String]) -> Result {
    util::run(util::cargo().args(["build", "--release", "-p", "onshi-helper", "-p", "onshi-sim", "--bins"]))?;
    util::run(
        util::cargo()
            .args(["run", "--release", "-p", "onshi-tests", "--example", "desks_bench", "--", "--bins", "target/release"])
            .args(args),
    )
}

/// The `status` round trip of the Windows build: the cross-built exe as
/// service and native host under Wine (a fresh prefix), driven by the Linux
/// `service_bench` over Wine's stdio, exactly as the Linux figure is taken.
fn windows() -> Result {
    let (exe, _starter) = crate::windows::build_exes()?;
    let shim = crate::windows::prng_shim()?;
    let prefix = crate::windows::fresh_prefix("wine-bench", &shim)?;
    util::run(util::cargo().args(["build", "--release", "-p", "onshi-helper", "--example", "service_bench"]))?;
    util::run(Command::new(util::root().join("target/release/examples/service_bench")).envs(prefix.env()).env("WINE", crate::wine::WINE64).arg("1000").arg("--wine").arg(&exe))
}

/// A full card confirmation through pcscd + the virtual card + the simulator
/// gateway + the release `onshi-helper service`, 50 runs
/// (`tests/examples/card_bench.rs`). The example starts pcscd itself (the
/// test harness's `Pcscd`); when it cannot, it says why and fails, and so
/// does this command. The client is a debug build: only the binaries under
/// test need the release profile, and their replies carry their own timing.
fn card_confirm() -> Result {
    util::run(util::cargo().args(["build", "--release", "-p", "onshi-helper", "-p", "onshi-sim", "--bins"]))?;
    util::run(util::cargo().args(["run", "-p", "onshi-tests", "--example", "card_bench", "--", "--bins", "target/release", "50"]))
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

/// The whole system in headless Chromium (tests/tests/it/e2e_bench.rs, an
/// ignored test): card check click → result painted, 50 runs in PIN and in
/// visual mode, split into page / extension / helper / card / network; then
/// a 10,000-patient batch from CSV upload to results shown. Needs pcscd and
/// vpcd (the test stack starts pcscd when none runs).
fn e2e() -> Result {
    crate::build::run()?;
    util::run(util::cargo().args([
        "test", "-p", "onshi-tests", "--test", "it", "--", "--ignored", "--exact", "e2e_bench::e2e_bench", "--nocapture",
    ]))
}

fn core() -> Result {
    let mut c = util::cargo();
    c.args(["run", "-p", "onshi-core", "--example", "bench_parse"]);
    with_profile(&mut c, "native-bench");
    let native = lines(&mut c, "")?;

    // `cargo test` ignores the profile's `panic = "abort"` for test crates
    // unless told otherwise; with -Zbuild-std that builds std twice (abort
    // and unwind) and stops on "duplicate lang item `sized`".
    // -Zpanic-abort-tests keeps one std, built with panic=abort.
    let mut c = wasm_test_in_chromium();
    c.args(["-Zpanic-abort-tests", "-p", "onshi-core", "--test", "wasm_bench"]);
    with_profile(&mut c, "wasm-bench");
    c.args(["--", "--nocapture"]);
    let wasm = lines(&mut c, "wasm-bench ")?;

    println!("\nwasm32 in headless Chromium ÷ native (throughput: < 1 is slower; time: > 1 is slower):");
    for n in &native {
        let encoding = field(n, "encoding").unwrap_or_default();
        let Some(w) = wasm.iter().find(|w| field(w, "encoding") == Some(encoding)) else {
            return Err(format!("no WebAssembly figures for {encoding}"));
        };
        let ratio = |key: &str| -> String {
            match (number(w, key), number(n, key)) {
                (Some(w), Some(n)) if n > 0.0 => format!("{:.2}", w / n),
                _ => "?".into(),
            }
        };
        // The issue's target is "WebAssembly ≤ 2× native" in time, i.e.
        // native typed MB/s ÷ wasm typed MB/s ≤ 2.
        let slowdown = match (number(n, "typed_mb_s"), number(w, "typed_mb_s")) {
            (Some(n), Some(w)) if w > 0.0 => format!("{:.2}", n / w),
            _ => "?".into(),
        };
        println!(
            "{{\"encoding\":\"{encoding}\",\"typed_time_wasm_over_native\":{slowdown},\"scan_mb_s\":{},\"typed_mb_s\":{},\"validate_ms\":{},\"diff_us_per_unit\":{},\"peak_heap_bytes\":{}}}",
            ratio("scan_mb_s"),
            ratio("typed_mb_s"),
            ratio("validate_ms"),
            ratio("diff_us_per_unit"),
            ratio("peak_heap_bytes"),
        );
    }
    Ok(())
}

/// Runs a command (output shown live) and returns its JSON figure lines:
/// lines starting with `prefix` then `{`, prefix removed.
fn lines(cmd: &mut Command, prefix: &str) -> Result<Vec<String>> {
    let (ok, output, _) = util::run_capture(cmd);
    if !ok {
        return Err(format!("`{}` failed", util::describe(cmd)));
    }
    let found: Vec<String> = output
        .lines()
        .filter_map(|l| l.trim().strip_prefix(prefix))
        .filter(|l| l.starts_with('{'))
        .map(str::to_string)
        .collect();
    if found.is_empty() {
        return Err(format!("`{}` printed no figures", util::describe(cmd)));
    }
    Ok(found)
}

/// The raw text of a top-level field in one of our flat JSON lines (no
/// nesting, no commas inside values), quotes removed.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"'))
}

fn number(line: &str, key: &str) -> Option<f64> {
    field(line, key)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::{field, number};

    #[test]
    fn fields_are_read_by_name() {
        let line = r#"{"target":"wasm32","encoding":"Shift_JIS","scan_mb_s":134.2,"typed_mb_s":75.7}"#;
        assert_eq!(field(line, "encoding"), Some("Shift_JIS"));
        assert_eq!(number(line, "typed_mb_s"), Some(75.7));
        // "mb_s" is a suffix of other keys; only the exact key matches.
        assert_eq!(field(line, "mb_s"), None);
        assert_eq!(number(line, "encoding"), None);
    }
}
