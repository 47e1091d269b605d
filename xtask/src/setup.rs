//! `cargo xtask setup`: installs what this machine lacks, and nothing twice.
//!
//! Debian packages (toolchain.md, domain.md §6): the WebAssembly toolchain
//! (Debian's rustc-web knows wasm32 and ships std's sources for build-std),
//! Chromium + chromedriver for browser tests, pcscd + vpcd for the virtual
//! card, Firefox ESR for the same scenarios in Firefox, a Japanese font so
//! screenshots show Japanese, and binaryen's wasm-opt (Debian 12's v108 reads
//! what the size flags in build.rs emit), and for the Windows helper mingw-w64,
//! Wine and wixl (toolchain.md, "Windows"). Then the wasm-bindgen CLI at exactly
//! the version Cargo.lock pins, and geckodriver (Firefox's WebDriver), both
//! into `target/tools/bin`.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{self, Result};

/// (package, why) — the why is printed when apt is not available.
pub const PACKAGES: &[(&str, &str)] = &[
    ("rustc-web", "rustc that targets wasm32 (/usr/bin/rustc)"),
    ("cargo-web", "its cargo (/usr/bin/cargo)"),
    ("rust-web-src", "std sources for -Zbuild-std"),
    ("lld-19", "wasm-ld, the WebAssembly linker"),
    ("chromium", "the browser for tests and the demo"),
    ("chromium-driver", "chromedriver, to drive it over WebDriver"),
    ("firefox-esr", "Firefox ESR, for the same scenarios in Firefox (docs/firefox.md)"),
    ("pcscd", "the PC/SC daemon the card reader talks through"),
    ("libpcsclite-dev", "PC/SC headers for the pcsc crate"),
    ("vsmartcard-vpcd", "virtual card reader for pcscd"),
    ("pkgconf", "finds libpcsclite when building"),
    ("fonts-noto-cjk", "Japanese glyphs in screenshots"),
    ("nodejs", "runs the extension's unit tests (node --test)"),
    ("binaryen", "wasm-opt, which shrinks the page's WebAssembly (optional: without it dist/web is larger)"),
    ("dpkg-dev", "dpkg-shlibdeps, which names the libraries the helper's .deb depends on (cargo xtask package)"),
    ("gcc-mingw-w64-x86-64", "links the Windows helper (x86_64-pc-windows-gnu) cross-built here"),
    ("wine64", "runs the Windows helper, its unit tests and its MSI here (/usr/lib/wine/wine64)"),
    ("wixl", "builds the helper's Windows installer (.msi) on Linux (msitools)"),
    ("postgresql", "the shared store's server, started by `cargo xtask test` in target/ for the store's PostgreSQL tests (issue 17)"),
];

pub const DEBIAN_CARGO: &str = "/usr/bin/cargo";
pub const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
pub const WASM_LD: &str = "/usr/lib/llvm-19/bin/wasm-ld";

pub fn run() -> Result {
    install_packages()?;
    install_wasm_bindgen()?;
    install_geckodriver()?;
    Ok(())
}

fn installed(pkg: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn install_packages() -> Result {
    // Node.js may come from elsewhere than Debian (this machine kind ships its own).
    let missing: Vec<&str> = PACKAGES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| !(*p == "nodejs" && util::command_exists("node")))
        .filter(|p| !installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !util::command_exists("apt-get") {
        let mut msg = String::from("these Debian packages are needed but apt-get is not available; install them by hand:\n");
        for (p, why) in PACKAGES.iter().filter(|(p, _)| missing.contains(p)) {
            msg.push_str(&format!("  {p:<18} {why}\n"));
        }
        return Err(msg);
    }
    eprintln!("xtask setup: installing {}", missing.join(" "));
    let sudo = !util::is_root();
    if sudo && !util::command_exists("sudo") {
        return Err(format!("not root and no sudo: run as root `apt-get install {}`", missing.join(" ")));
    }
    let apt = |args: &[&str]| {
        let mut c = if sudo { Command::new("sudo") } else { Command::new("apt-get") };
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    util::run(&mut apt(&["update", "-q"]))?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(&missing);
    util::run(&mut install)?;
    // The downloaded .deb files are of no further use; on a small disk the
    // build needs that room (Chromium and Firefox alone are ~250 MB).
    util::run(&mut apt(&["clean"]))
}

/// The wasm-bindgen version Cargo.lock pins; the CLI must equal it exactly.
pub fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(util::root().join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_string());
        }
    }
    Err("wasm-bindgen not found in Cargo.lock".into())
}

pub fn tools_bin() -> PathBuf {
    util::root().join("target/tools/bin")
}

fn install_wasm_bindgen() -> Result {
    let version = wasm_bindgen_version()?;
    let bin = tools_bin().join("wasm-bindgen");
    let current = Command::new(&bin).arg("--version").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if current.as_deref().map(str::trim) == Some(&format!("wasm-bindgen {version}")) {
        return Ok(());
    }
    eprintln!("xtask setup: building wasm-bindgen-cli {version} (once per checkout, a few minutes)");
    // Not --locked: the CLI's own lock names a dependency release that the
    // registry mirror here lacks; the version of the CLI itself is exact.
    let mut c = util::cargo();
    c.args(["install", "wasm-bindgen-cli", "--version", &format!("={version}"), "--root"])
        .arg(util::root().join("target/tools"));
    util::run(&mut c)
}

/// geckodriver's release, pinned so every checkout drives Firefox the same way.
pub const GECKODRIVER_VERSION: &str = "0.37.1";

/// Builds geckodriver from crates.io (Mozilla ships it there as source; about
/// 75 s on an idle 2-core machine, docs/firefox.md).
fn install_geckodriver() -> Result {
    let bin = tools_bin().join("geckodriver");
    let current = Command::new(&bin).arg("--version").output().ok().map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if current.as_deref().is_some_and(|v| v.starts_with(&format!("geckodriver {GECKODRIVER_VERSION}"))) {
        return Ok(());
    }
    eprintln!("xtask setup: building geckodriver {GECKODRIVER_VERSION} (once per checkout, about a minute)");
    let mut c = util::cargo();
    c.args(["install", "geckodriver", "--version", &format!("={GECKODRIVER_VERSION}"), "--root"])
        .arg(util::root().join("target/tools"));
    util::run(&mut c)
}
