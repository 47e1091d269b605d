//! `cargo xtask package`: what a clinic installs, in `dist/packages/` — the
//! helper as a Debian package ([`deb`]) and a per-user Windows installer
//! ([`msi`], from the cross-built helper), and the extension as store-ready
//! archives ([`extension`]). Each format is one module with one `build`
//! function that returns the file it wrote; this module only builds the
//! inputs, empties the folder and reports. It never installs anything.

mod deb;
mod extension;
mod msi;

use std::path::{Path, PathBuf};

use crate::{build, windows};
use crate::util::{self, Result};

/// The version every artifact carries: the workspace's (`version.workspace
/// = true` makes xtask's own package version the same number).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `cargo xtask package`: the usual build, then the artifacts.
pub fn run() -> Result {
    build::run()?;
    make().map(|_| ())
}

/// Builds the artifacts from an existing `cargo xtask build` (`dist/extension`)
/// plus the release helper, and prints each one's path and size. `cargo
/// xtask test` calls this after its own build, before the install test.
pub fn make() -> Result<Vec<PathBuf>> {
    let root = util::root();
    // The helper that ships is the release build (the workspace build is debug).
    util::run(util::cargo().args(["build", "--release", "-p", "onshi-helper", "--bin", "onshi-helper"]))?;
    let out = root.join("dist/packages");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;

    let mut artifacts = vec![deb::build(&root.join("target/release/onshi-helper"), &root.join("target/package/deb"), &out)?];
    artifacts.extend(extension::build(&root.join("dist/extension"), &out)?);
    let (exe, starter) = windows::build_exes()?;
    let linux_helper = root.join("target/release/onshi-helper");
    artifacts.push(msi::build(&exe, &starter, &linux_helper, &root.join("target/package/msi"), &out)?);

    eprintln!("packages:");
    for path in &artifacts {
        let size = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len();
        eprintln!("  {}  {size} B ({} KiB)", path.display(), size.div_ceil(1024));
    }
    Ok(artifacts)
}

/// Every file and link below `dir` (folders are walked, not listed, and
/// links are not followed), relative to `dir`, sorted: the one walk behind
/// the package tree and the archives' entry lists.
fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(base: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result {
        let here = base.join(rel);
        for entry in std::fs::read_dir(&here).map_err(|e| format!("{}: {e}", here.display()))? {
            let entry = entry.map_err(|e| format!("{}: {e}", here.display()))?;
            let rel = rel.join(entry.file_name());
            if entry.file_type().map_err(|e| format!("{}: {e}", rel.display()))?.is_dir() {
                walk(base, &rel, out)?;
            } else {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, Path::new(""), &mut out)?;
    out.sort();
    Ok(out)
}
