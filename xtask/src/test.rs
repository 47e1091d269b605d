//! `cargo xtask test`: every test of the project, one step after another,
//! then a summary with the number of tests each step ran. Any failure makes
//! the exit code non-zero; a step with no tests says so instead of passing.

use std::process::Command;

use crate::build::{self, wasm_cargo};
use crate::package;
use crate::pg_cluster;
use crate::setup::tools_bin;
use crate::util::{self, Result};
use crate::windows;

struct Step {
    name: String,
    ok: bool,
    passed: u64,
    failed: u64,
    seconds: f64,
    note: String,
}

/// Adds up the counts test runners print: libtest and wasm-bindgen-test
/// ("test result: ok. 12 passed; 0 failed") and node ("# pass 3", "# fail 0").
fn count(output: &str) -> (u64, u64) {
    let (mut passed, mut failed) = (0, 0);
    let number_before = |line: &str, word: &str| -> Option<u64> {
        let at = line.find(word)?;
        line[..at].trim_end().rsplit([' ', '.']).next()?.parse().ok()
    };
    for line in output.lines() {
        let line = line.trim();
        if line.starts_with("test result:") {
            passed += number_before(line, " passed").unwrap_or(0);
            failed += number_before(line, " failed").unwrap_or(0);
        } else if let Some((p, f)) = plain_counts(line) {
            passed += p;
            failed += f;
        } else if let Some(n) = line.strip_prefix("# pass ") {
            passed += n.trim().parse().unwrap_or(0);
        } else if let Some(n) = line.strip_prefix("# fail ") {
            failed += n.trim().parse().unwrap_or(0);
        }
    }
    (passed, failed)
}

/// The plain closing line "N passed, M failed" (one word and a colon may
/// stand before it), which our own scripts print.
fn plain_counts(line: &str) -> Option<(u64, u64)> {
    let rest = match line.split_once(": ") {
        Some((word, rest)) if !word.contains(' ') => rest,
        _ => line,
    };
    let (p, f) = rest.split_once(", ")?;
    let p = p.strip_suffix(" passed")?.parse().ok()?;
    let f = f.strip_suffix(" failed")?.parse().ok()?;
    Some((p, f))
}

fn step(name: impl Into<String>, cmd: &mut Command) -> Step {
    let name = name.into();
    eprintln!("\n━━ {name} ━━");
    let (ok, output, seconds) = util::run_capture(cmd);
    let (passed, failed) = count(&output);
    let note = if ok && passed == 0 { "ran no test".into() } else { String::new() };
    Step { name, ok: ok && failed == 0, passed, failed, seconds, note }
}

/// `cargo test` for wasm32 whose runner is wasm-bindgen-test-runner, which
/// drives headless Chromium through chromedriver (core-wasm/webdriver.json
/// carries Chromium's flags).
pub fn wasm_test_in_chromium() -> Command {
    let mut c = wasm_cargo("test");
    c.env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", tools_bin().join("wasm-bindgen-test-runner"))
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "300");
    c
}

/// The helper cross-built for Windows, its unit tests run under Wine. A
/// build or prefix failure is a failed step (with the reason), not a skip.
fn windows_unit_tests() -> Vec<Step> {
    let failed = |name: &str, e: String| Step { name: name.into(), ok: false, passed: 0, failed: 0, seconds: 0.0, note: e };
    let start = std::time::Instant::now();
    let built = windows::prng_shim().and_then(|shim| Ok((shim, windows::build_unit_tests()?)));
    let (shim, exes) = match built {
        Ok(b) => b,
        Err(e) => return vec![failed("Windows: cross-build of the helper's tests", e)],
    };
    let build = Step {
        name: "Windows: cross-build (mingw, build-std)".into(),
        ok: true,
        passed: 0,
        failed: 0,
        seconds: start.elapsed().as_secs_f64(),
        note: "build only".into(),
    };
    let prefix = match windows::unit_test_prefix(&shim) {
        Ok(p) => p,
        Err(e) => return vec![build, failed("Windows: Wine prefix", e)],
    };
    let mut steps = vec![build];
    for (name, exe) in exes {
        let mut c = prefix.command(&exe);
        // `--exact --skip` names whole test paths; a name that no longer
        // exists skips nothing, and the test then fails visibly.
        c.arg("--exact");
        for (test, _) in windows::NOT_UNDER_WINE {
            c.args(["--skip", test]);
        }
        let mut s = step(format!("Windows: {name} unit tests under Wine"), &mut c);
        if name.ends_with(" lib") {
            let why: Vec<&str> = windows::NOT_UNDER_WINE.iter().map(|(_, why)| *why).collect();
            s.note = format!("{} not run under Wine: {}", why.len(), why.join("; "));
        }
        steps.push(s);
    }
    steps
}

/// The variable the store's PostgreSQL tests read the cluster's URL from
/// (helper/src/store/test_engine.rs).
const PG_URL_VAR: &str = "ONSHI_TEST_PG_URL";
/// … and the PEM file of the CA that issued the cluster's TLS certificate.
const PG_CA_VAR: &str = "ONSHI_TEST_PG_CA";
/// Which tests need the cluster: the store's conformance suite names its
/// PostgreSQL half `…::postgres::…`, its PostgreSQL-only tests `postgres_…`.
const PG_TESTS: &str = "postgres";

/// The run's PostgreSQL cluster, stopped when the run ends, however it ends.
struct PgCluster(pg_cluster::Cluster);

impl Drop for PgCluster {
    fn drop(&mut self) {
        if let Err(e) = self.0.stop() {
            eprintln!("xtask test: stopping the PostgreSQL test cluster: {e}");
        }
    }
}

/// Starts the cluster in target/onshi-pg/xtask (initdb only the first time
/// that folder is used), as a step of its own so its time shows in the summary.
fn start_pg() -> (Step, Option<PgCluster>) {
    eprintln!("\n━━ PostgreSQL test cluster ━━");
    let start = std::time::Instant::now();
    let fresh = !util::root().join("target/onshi-pg/xtask/data/PG_VERSION").exists();
    let started = pg_cluster::start(&util::root().join("target/onshi-pg/xtask"));
    let seconds = start.elapsed().as_secs_f64();
    let name = "PostgreSQL test cluster (initdb, pg_ctl start)".to_string();
    match started {
        Ok(c) => {
            let note = format!("{} {}", if fresh { "initdb + start," } else { "reused data dir," }, c.url());
            eprintln!("{note}");
            (Step { name, ok: true, passed: 0, failed: 0, seconds, note }, Some(PgCluster(c)))
        }
        Err(e) => {
            eprintln!("{e}");
            (Step { name, ok: false, passed: 0, failed: 0, seconds, note: e }, None)
        }
    }
}

/// The store's conformance suite on PostgreSQL (and its PostgreSQL-only
/// tests) against the run's cluster; without one, a failed step.
fn pg_store_tests(cluster: Option<&PgCluster>) -> Step {
    let name = "store conformance on PostgreSQL (helper store::)";
    match cluster {
        Some(c) => {
            let mut cmd = util::cargo();
            cmd.args(["test", "-p", "onshi-helper", "--lib", PG_TESTS])
                .env(PG_URL_VAR, c.0.url())
                .env(PG_CA_VAR, c.0.ca_file());
            step(name, &mut cmd)
        }
        None => Step { name: name.into(), ok: false, passed: 0, failed: 0, seconds: 0.0, note: "not run: no cluster".into() },
    }
}

pub fn run(args: &[String]) -> Result {
    let only = args.first().map(String::as_str);
    eprintln!("xtask test: {}", util::disk_report());
    build::run().map_err(|e| format!("{e}\n{}", util::disk_report()))?;
    let mut steps = Vec::new();

    if only.is_none() || only == Some("native") || only == Some("postgres") {
        let (started, cluster) = start_pg();
        steps.push(started);
        if only != Some("postgres") {
            // The PostgreSQL tests run in their own step below, against the cluster.
            steps.push(step(
                "native unit tests",
                util::cargo().args(["test", "--workspace", "--exclude", "onshi-tests", "--", "--skip", PG_TESTS]),
            ));
        }
        steps.push(pg_store_tests(cluster.as_ref()));
        // Stopped here: nothing after this needs it.
        drop(cluster);
    }
    if only.is_none() || only == Some("wasm") {
        let mut c = wasm_test_in_chromium();
        c.args(["-p", "onshi-core", "--lib", "--features", "js-api"]);
        steps.push(step("WebAssembly tests in headless Chromium", &mut c));
    }
    if only.is_none() || only == Some("extension") {
        let mut c = Command::new("node");
        c.current_dir(util::root().join("extension")).args(["--test", "test/"]);
        steps.push(step("extension unit tests (node --test)", &mut c));
        // The extension loaded in real headless Chromium against a test
        // native host written in node; the real helper joins in issue 8.
        let mut c = Command::new("node");
        c.current_dir(util::root().join("extension")).arg("test-support/browser-smoke.mjs");
        steps.push(step("extension in headless Chromium (test host)", &mut c));
    }
    if only.is_none() || only == Some("windows") {
        steps.extend(windows_unit_tests());
    }
    if only.is_none() || only == Some("cross") {
        // The install test (package_deb) installs dist/packages' .deb.
        package::make().map_err(|e| format!("cargo xtask package: {e}"))?;
        // The MSI test's Wine prefix needs the test-only shim (built by the windows step too).
        windows::prng_shim()?;
        steps.push(step(
            "cross-process tests (real Chromium, real processes)",
            util::cargo().args(["test", "-p", "onshi-tests", "--", "--test-threads=1"]),
        ));
    }
    if only.is_none() || only == Some("demo") {
        // Everything the demo starts, for real, then page → extension → helper once.
        // Through `cargo run`, not this process's own file: the workspace build
        // above may have replaced that file (features unify differently for the
        // whole workspace), and a deleted executable cannot be started again.
        let mut c = util::cargo();
        c.args(["run", "-q", "-p", "xtask", "--", "demo", "--smoke", "--no-build", "--backend", "oqs-folder"]);
        steps.push(step("demo smoke (all processes, extension → helper)", &mut c));
        // Issue 17: three desks (three helpers, three browser profiles) on one PostgreSQL.
        let mut c = util::cargo();
        c.args(["run", "-q", "-p", "xtask", "--", "demo", "--smoke", "--no-build", "--desks", "3"]);
        steps.push(step("demo smoke, 3 desks sharing PostgreSQL", &mut c));
    }

    eprintln!("\n━━ summary ━━");
    let (mut passed, mut failed, mut all_ok) = (0, 0, true);
    for s in &steps {
        let mark = if !s.ok { "FAIL" } else if s.passed == 0 { "----" } else { " ok " };
        eprintln!(
            "[{mark}] {:<52} {:>4} passed {:>3} failed {:>7.1}s {}",
            s.name, s.passed, s.failed, s.seconds, s.note
        );
        passed += s.passed;
        failed += s.failed;
        all_ok &= s.ok;
    }
    eprintln!("{}", util::disk_report());
    // The plain closing line CI reads, alone on its line.
    println!("summary: {passed} passed, {failed} failed");
    if all_ok { Ok(()) } else { Err("some tests failed (see above)".into()) }
}
