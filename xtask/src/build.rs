//! `cargo xtask build`: native crates, then the WebAssembly page with the
//! Debian toolchain (its own target dir, std built from source), then the
//! JS glue by the pinned wasm-bindgen CLI, into a self-contained `dist/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::setup::{tools_bin, DEBIAN_CARGO, DEBIAN_RUSTC, WASM_LD};
use crate::util::{self, Result};

pub fn run() -> Result {
    util::run(util::cargo().args(["build", "--workspace"]))?;
    build_web()?;
    build_core_package()?;
    copy_extension()?;
    report_sizes()
}

pub fn wasm_target_dir() -> PathBuf {
    util::root().join("target/wasm")
}

/// A command for Debian's cargo targeting wasm32, clean of the rustup
/// environment the outer cargo set (it would otherwise pick rustup's rustc,
/// which has no wasm32 std).
pub fn wasm_cargo(subcommand: &str) -> Command {
    let mut c = Command::new(DEBIAN_CARGO);
    c.current_dir(util::root());
    for var in ["CARGO", "RUSTUP_TOOLCHAIN", "RUSTUP_HOME_OVERRIDE", "RUSTC_WRAPPER", "RUSTDOC"] {
        c.env_remove(var);
    }
    c.env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTDOC", "/usr/bin/rustdoc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", wasm_target_dir())
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER", WASM_LD)
        .args([subcommand, "--target", "wasm32-unknown-unknown", "-Zbuild-std=std,panic_abort"]);
    c
}

fn wasm_bindgen(wasm: &Path, out_dir: &Path, out_name: &str, typescript: bool) -> Result {
    let mut c = Command::new(tools_bin().join("wasm-bindgen"));
    c.args(["--target", "web", "--out-name", out_name, "--out-dir"]).arg(out_dir).arg(wasm);
    if !typescript {
        c.arg("--no-typescript");
    }
    util::run(&mut c)
}

pub fn build_web() -> Result {
    util::run(wasm_cargo("build").args(["--release", "-p", "onshi-web", "--bin", "onshi-web"]))?;
    let out = util::root().join("dist/web");
    let _ = std::fs::remove_dir_all(&out);
    let wasm = wasm_target_dir().join("wasm32-unknown-unknown/release/onshi-web.wasm");
    wasm_bindgen(&wasm, &out, "onshi_web", false)?;
    util::copy_dir(&util::root().join("web-app/static"), &out)
}

/// The core's JS façade as a standalone package (for other web-based
/// receipt software), with its TypeScript declarations.
fn build_core_package() -> Result {
    util::run(wasm_cargo("build").args(["--release", "-p", "onshi-core", "--lib", "--features", "js-api"]))?;
    let out = util::root().join("dist/core");
    let _ = std::fs::remove_dir_all(&out);
    let wasm = wasm_target_dir().join("wasm32-unknown-unknown/release/onshi_core.wasm");
    wasm_bindgen(&wasm, &out, "onshi_core", true)
}

fn copy_extension() -> Result {
    let out = util::root().join("dist/extension");
    let _ = std::fs::remove_dir_all(&out);
    util::copy_dir(&util::root().join("extension"), &out)?;
    // Unit tests are not part of what a browser loads.
    let _ = std::fs::remove_dir_all(out.join("test"));
    Ok(())
}

/// Prints raw and gzip sizes of what the page downloads.
pub fn report_sizes() -> Result {
    let dir = util::root().join("dist/web");
    let (mut raw, mut gz) = (0, 0);
    let mut entries: Vec<_> = std::fs::read_dir(&dir).map_err(|e| e.to_string())?.flatten().map(|e| e.path()).collect();
    entries.sort();
    eprintln!("dist/web:");
    for path in entries.iter().filter(|p| p.is_file()) {
        let (r, g) = util::sizes(path)?;
        raw += r;
        gz += g;
        eprintln!("  {:<24} {:>9} B raw {:>9} B gzip", path.file_name().unwrap_or_default().to_string_lossy(), r, g);
    }
    eprintln!("  {:<24} {:>9} B raw {:>9} B gzip", "total", raw, gz);
    Ok(())
}
