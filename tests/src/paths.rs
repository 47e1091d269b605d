//! Where things are: the workspace root, the built binaries and `dist/`.

use std::path::PathBuf;

use anyhow::{bail, ensure, Context as _, Result};

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// A binary of this workspace, built by `cargo build --workspace` (which
/// `cargo xtask test` runs first) into the same profile as this test.
pub fn binary(name: &str) -> Result<PathBuf> {
    // The test executable lives in target/<profile>/deps/.
    let exe = std::env::current_exe()?;
    let dir = exe.parent().and_then(|d| d.parent()).map(PathBuf::from).unwrap_or_default();
    let path = dir.join(name);
    if !path.exists() {
        bail!("{} is not built; run `cargo xtask test` (or `cargo build --workspace` first)", path.display());
    }
    Ok(path)
}

/// The built reception page.
pub fn dist_web() -> Result<PathBuf> {
    let dir = workspace_root().join("dist/web");
    if !dir.join("index.html").exists() || !dir.join("onshi_web_bg.wasm").exists() {
        bail!("{} is not built; run `cargo xtask build` (cargo xtask test does it)", dir.display());
    }
    Ok(dir)
}

/// The one file in `dist/packages` whose name starts with `prefix` and ends
/// with `suffix` (what `cargo xtask package` wrote; `cargo xtask test` runs it).
pub fn package(prefix: &str, suffix: &str) -> Result<PathBuf> {
    let dir = workspace_root().join("dist/packages");
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("{} is missing: run `cargo xtask package` (cargo xtask test does)", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix) && n.ends_with(suffix)))
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!("no {prefix}*{suffix} in {}: run `cargo xtask package`", dir.display()),
        many => bail!("more than one {prefix}*{suffix} in {}: {many:?}", dir.display()),
    }
}

/// Runs a command to its end; an error shows its output. Returns stdout and stderr.
pub fn run_ok(cmd: &mut std::process::Command) -> Result<String> {
    let what = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("starting {what}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    ensure!(out.status.success(), "{what} failed ({}):\n{}", out.status, text.trim());
    Ok(text)
}
