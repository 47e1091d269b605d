//! `cargo xtask build`: native crates, then the WebAssembly page with the
//! Debian toolchain (its own target dir, std built from source), then the
//! JS glue by the pinned wasm-bindgen CLI, then `wasm-opt` when installed,
//! into a self-contained `dist/`.
//!
//! Size (issue 7 budget: dist/web ≤ 400 KB gzip) comes from, in order of
//! effect: no name section in what ships, [`SIZE_RUSTFLAGS`] (panics abort
//! without formatting a message), the `wasm-release` profile (`opt-level =
//! "z"`, LTO, one codegen unit; native binaries use `release`, built for
//! speed, issue 13) and wasm-opt. docs/benchmarks.md has the figures per step.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::page_policy::{META, META_PLACEHOLDER};
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

/// A command for Debian's cargo building for `target` (std built from
/// source, into `target_dir`), clean of the rustup environment the outer
/// cargo set (it would otherwise pick rustup's rustc, which has neither the
/// wasm32 nor the Windows std). `linker` is the target's linker. The one
/// recipe behind the WebAssembly page and the Windows helper (toolchain.md).
pub fn debian_cargo(subcommand: &str, target: &str, target_dir: &Path, linker: &str) -> Command {
    let mut c = Command::new(DEBIAN_CARGO);
    c.current_dir(util::root());
    for var in ["CARGO", "RUSTUP_TOOLCHAIN", "RUSTUP_HOME_OVERRIDE", "RUSTC_WRAPPER", "RUSTDOC"] {
        c.env_remove(var);
    }
    let linker_var = format!("CARGO_TARGET_{}_LINKER", target.to_uppercase().replace('-', "_"));
    c.env("RUSTC", DEBIAN_RUSTC)
        .env("RUSTDOC", "/usr/bin/rustdoc")
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", target_dir)
        .env(linker_var, linker)
        .args([subcommand, "--target", target, "-Zbuild-std=std,panic_abort"]);
    c
}

/// [`debian_cargo`] for wasm32.
pub fn wasm_cargo(subcommand: &str) -> Command {
    debian_cargo(subcommand, "wasm32-unknown-unknown", &wasm_target_dir(), WASM_LD)
}

/// RUSTFLAGS for the shipped WebAssembly (page and core package), std included.
///
/// - `panic=immediate-abort`: a panic traps at once instead of formatting
///   its message and location, which drops most of `core::fmt` and every
///   panic string from the page. Nothing in the page panics on input (style:
///   typed errors); a bug would show as "unreachable" in the console
///   instead of a message.
/// - Target features that Debian 12's binaryen (v108) reads: newer rustc
///   enables reference-types (and with it `table.fill`, which binaryen 108
///   rejects: "invalid code after misc prefix: 17"), multivalue and overlong
///   call_indirect by default. The page gains nothing from them;
///   bulk-memory, sign-ext, non-trapping float-to-int and mutable globals stay.
///   rustc warns that `call-indirect-overlong` is unknown to it; it passes
///   the name on to LLVM, which knows it.
pub const SIZE_RUSTFLAGS: [&str; 3] =
    ["-Zunstable-options", "-Cpanic=immediate-abort", "-Ctarget-feature=-reference-types,-multivalue,-call-indirect-overlong"];

/// The Cargo profile the shipped WebAssembly is built with (root Cargo.toml):
/// `release` is tuned for native speed, this one for size (issue 13).
const WASM_PROFILE: &str = "wasm-release";

/// Where [`WASM_PROFILE`] puts a wasm32 artifact named `file`.
fn wasm_artifact(file: &str) -> PathBuf {
    wasm_target_dir().join("wasm32-unknown-unknown").join(WASM_PROFILE).join(file)
}

/// [`wasm_cargo`] with [`SIZE_RUSTFLAGS`] and [`WASM_PROFILE`], for the builds that ship.
fn wasm_release_cargo() -> Command {
    let mut c = wasm_cargo("build");
    c.env("RUSTFLAGS", SIZE_RUSTFLAGS.join(" "));
    c.args(["--profile", WASM_PROFILE]);
    c
}

fn wasm_bindgen(wasm: &Path, out_dir: &Path, out_name: &str, typescript: bool) -> Result {
    let mut c = Command::new(tools_bin().join("wasm-bindgen"));
    // Function names are for debugging; they were a third of the page's bytes.
    c.args(["--target", "web", "--remove-name-section", "--remove-producers-section", "--out-name", out_name, "--out-dir"])
        .arg(out_dir)
        .arg(wasm);
    if !typescript {
        c.arg("--no-typescript");
    }
    util::run(&mut c)
}

pub fn build_web() -> Result {
    util::run(wasm_release_cargo().args(["-p", "onshi-web", "--bin", "onshi-web"]))?;
    let out = util::root().join("dist/web");
    let _ = std::fs::remove_dir_all(&out);
    let wasm = wasm_artifact("onshi-web.wasm");
    wasm_bindgen(&wasm, &out, "onshi_web", false)?;
    wasm_opt(&out.join("onshi_web_bg.wasm"));
    util::copy_dir(&util::root().join("web-app/static"), &out)?;
    write_policy(&out.join("index.html"))
}

/// Writes the page's Content-Security-Policy into the copied `index.html`'s
/// meta element, from its one definition (onshi-core `page_policy`, which the
/// simulator's host also sends as a header), so a clinic that serves
/// `dist/web` without setting headers still gets the policy.
fn write_policy(index: &Path) -> Result {
    let html = std::fs::read_to_string(index).map_err(|e| format!("{}: {e}", index.display()))?;
    let html = fill_policy(&html).map_err(|e| format!("{}: {e}", index.display()))?;
    std::fs::write(index, html).map_err(|e| format!("{}: {e}", index.display()))
}

/// `html` with the policy placeholder replaced; refused unless the
/// placeholder is there exactly once (else the page would ship unprotected,
/// or with a policy the build did not write).
fn fill_policy(html: &str) -> Result<String> {
    match html.matches(META_PLACEHOLDER).count() {
        1 => Ok(html.replace(META_PLACEHOLDER, META)),
        n => Err(format!(
            "the Content-Security-Policy placeholder {META_PLACEHOLDER} is there {n} times, not once \
             (web-app/static/index.html's <meta http-equiv=\"Content-Security-Policy\">)"
        )),
    }
}

/// Features the module uses after [`SIZE_RUSTFLAGS`]; wasm-opt must be told
/// (wasm-bindgen drops the `target_features` section it would read).
const WASM_OPT_FEATURES: [&str; 4] =
    ["--enable-bulk-memory", "--enable-sign-ext", "--enable-nontrapping-float-to-int", "--enable-mutable-globals"];

/// wasm-opt passes. Measured on the page with binaryen 108 (gzip -9 of the
/// wasm, after LTO at `opt-level = "z"`, 2026-11-25): none 415.0 KB, `-Oz`
/// 416.2 KB (smaller raw, larger compressed), `-O2` 414.9 KB, `-O1`
/// 412.5 KB, `-O1` with the two memory assumptions 411.7 KB. Both
/// assumptions hold for rustc's output: nothing lives below address 1024,
/// and the module's own memory starts zeroed (it is not imported).
const WASM_OPT_PASSES: [&str; 3] = ["-O1", "--low-memory-unused", "--zero-filled-memory"];

/// wasm-opt in place, kept only if the gzip size (what the budget counts)
/// shrank. Optional: without it (or if it fails) the build still works and
/// says that the size is not optimised.
fn wasm_opt(wasm: &Path) {
    let Some(bin) = wasm_opt_bin() else {
        eprintln!("note: wasm-opt not found; {} is not size-optimised (`cargo xtask setup` installs binaryen)", wasm.display());
        return;
    };
    let tmp = wasm.with_extension("opt.wasm");
    let mut c = Command::new(&bin);
    c.args(WASM_OPT_PASSES).args(WASM_OPT_FEATURES).arg(wasm).arg("-o").arg(&tmp);
    let (ok, output, _) = util::run_capture(&mut c);
    let gz = |p: &Path| util::sizes(p).ok().map(|(_, g)| g);
    let smaller = ok && gz(&tmp).zip(gz(wasm)).is_some_and(|(t, w)| t < w);
    if smaller && std::fs::rename(&tmp, wasm).is_ok() {
        return;
    }
    let _ = std::fs::remove_file(&tmp);
    eprintln!("note: `{}` did not shrink {} (kept as built): {}", util::describe(&c), wasm.display(), output.trim());
}

/// wasm-opt from binaryen: the project's own copy first, then PATH (Debian's).
fn wasm_opt_bin() -> Option<PathBuf> {
    let own = tools_bin().join("wasm-opt");
    if own.is_file() {
        return Some(own);
    }
    util::command_exists("wasm-opt").then(|| PathBuf::from("wasm-opt"))
}

/// The core's JS façade as a standalone package (for other web-based
/// receipt software), with its TypeScript declarations.
fn build_core_package() -> Result {
    util::run(wasm_release_cargo().args(["-p", "onshi-core", "--lib", "--features", "js-api"]))?;
    let out = util::root().join("dist/core");
    let _ = std::fs::remove_dir_all(&out);
    let wasm = wasm_artifact("onshi_core.wasm");
    wasm_bindgen(&wasm, &out, "onshi_core", true)?;
    wasm_opt(&out.join("onshi_core_bg.wasm"));
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    const STATIC_INDEX: &str = include_str!("../../web-app/static/index.html");

    #[test]
    fn the_built_page_carries_the_policy_and_no_inline_script() {
        let html = fill_policy(STATIC_INDEX).unwrap();
        let meta = format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{META}\">");
        let at = html.find(&meta).expect("the policy's meta element");
        // A policy applies only to what comes after it in the document.
        for later in ["<link", "<script", "<style"] {
            assert!(html.find(later).is_none_or(|i| i > at), "{later} before the policy");
        }
        // Every script is a file: the policy would refuse an inline one.
        for tag in html.split("<script").skip(1) {
            let open = tag.split('>').next().unwrap_or_default();
            assert!(open.contains("src="), "inline script in index.html: <script{open}>");
        }
        assert!(!html.contains(" style=") && !html.contains("<style"), "inline styles are refused too");
    }

    #[test]
    fn a_missing_or_doubled_placeholder_stops_the_build() {
        assert!(fill_policy("<head></head>").is_err());
        assert!(fill_policy(&format!("{META_PLACEHOLDER}{META_PLACEHOLDER}")).is_err());
    }
}
