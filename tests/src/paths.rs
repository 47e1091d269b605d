//! Where things are: the workspace root, the built binaries and `dist/`.

use std::path::PathBuf;

use anyhow::{bail, Result};

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
