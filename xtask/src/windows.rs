//! The Windows helper, built and run on this Linux machine (toolchain.md,
//! "Windows"): Debian's rustc with std built from source for
//! `x86_64-pc-windows-gnu`, linked by mingw-w64, in the `windows` profile
//! (release code without LTO, so the shipped exe and the unit-test binary
//! share one build of the dependencies); the unit tests run under Wine
//! ([`crate::wine`]).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::build::debian_cargo;
use crate::util::{self, Result};
use crate::wine;

pub const TARGET: &str = "x86_64-pc-windows-gnu";
const LINKER: &str = "x86_64-w64-mingw32-gcc";
const PROFILE: &str = "windows";

pub fn target_dir() -> PathBuf {
    util::root().join("target/windows")
}

fn cargo(subcommand: &str) -> Command {
    let mut c = debian_cargo(subcommand, TARGET, &target_dir(), LINKER);
    c.args(["--profile", PROFILE, "-p", "onshi-helper"]);
    c
}

/// Builds `onshi-helper.exe` and the windowless `onshi-helper-start.exe`;
/// returns (helper, starter).
pub fn build_exes() -> Result<(PathBuf, PathBuf)> {
    util::run(cargo("build").args(["--bins"]))?;
    let dir = target_dir().join(TARGET).join(PROFILE);
    Ok((dir.join("onshi-helper.exe"), dir.join("onshi-helper-start.exe")))
}

/// Builds the helper's unit-test binaries (library and each binary) and
/// returns (target name and kind, path) as cargo reports them. The profile aborts on panic, so the
/// test harness runs each test in a child process (`-Zpanic-abort-tests`).
pub fn build_unit_tests() -> Result<Vec<(String, PathBuf)>> {
    let mut c = cargo("test");
    // The starter binary has no tests of its own.
    c.args(["--no-run", "-Zpanic-abort-tests", "--lib", "--bin", "onshi-helper", "--message-format=json-render-diagnostics"])
        .stderr(Stdio::inherit());
    eprintln!("$ {}", util::describe(&c));
    let out = c.output().map_err(|e| format!("cannot start `{}`: {e}", util::describe(&c)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({})", util::describe(&c), out.status));
    }
    let mut exes = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        if msg["reason"] == "compiler-artifact"
            && msg["profile"]["test"] == true
            && let Some(exe) = msg["executable"].as_str()
        {
            let kind = msg["target"]["kind"][0].as_str().unwrap_or("?");
            let name = msg["target"]["name"].as_str().unwrap_or("?");
            exes.push((format!("{name} {kind}"), PathBuf::from(exe)));
        }
    }
    if exes.is_empty() { Err("cargo built no Windows test binary".into()) } else { Ok(exes) }
}

/// Builds the test-only `bcryptprimitives.dll` for Wine ([`wine::PRNG_SHIM_C`]).
pub fn prng_shim() -> Result<PathBuf> {
    let dll = util::root().join(wine::PRNG_SHIM_DLL);
    let dir = dll.parent().map(PathBuf::from).unwrap_or_default();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, text) in [("shim.c", wine::PRNG_SHIM_C), ("shim.def", wine::PRNG_SHIM_DEF)] {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{}: {e}", dir.join(name).display()))?;
    }
    util::run(Command::new(LINKER).current_dir(&dir).args(["-shared", "-O2", "-o"]).arg(&dll).args(["shim.c", "shim.def", "-ladvapi32"]))?;
    Ok(dll)
}

/// Tests Wine cannot run truthfully, each with the reason the summary prints.
/// They still run on Windows itself; under Wine they are named, not passed.
pub const NOT_UNDER_WINE: &[(&str, &str)] = &[(
    "platform::windows::tests::a_taken_name_is_refused_and_our_own_client_is_served",
    "Wine 8 ignores FILE_FLAG_FIRST_PIPE_INSTANCE, so a squatted pipe name cannot be shown refused",
)];

/// A Wine prefix for the unit tests, made afresh each run (a test that
/// writes the registry must not see the last run's values).
pub fn unit_test_prefix(shim: &std::path::Path) -> Result<wine::Prefix> {
    fresh_prefix("wine-unit", shim)
}

/// A new Wine prefix `target/windows/<name>`, replacing any earlier one.
pub fn fresh_prefix(name: &str, shim: &std::path::Path) -> Result<wine::Prefix> {
    let dir = target_dir().join(name);
    if dir.exists() {
        wine::Prefix { dir: dir.clone() }.kill_all();
        std::fs::remove_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    wine::Prefix::create(&dir, shim)
}
