//! The one integration-test binary of onshi-core: fixtures with snapshot
//! outputs, refusals, round trips (property tests) and the CLI.

mod cli;
mod fixtures;
mod rejected;
mod roundtrip;

use std::path::{Path, PathBuf};

/// `core-wasm/tests/fixtures/<sub>`.
pub fn fixture_dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(sub)
}

/// All files in a fixture folder with the given ending, sorted.
pub fn fixture_files(sub: &str, ending: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir(sub))
        .expect("fixture folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(ending))
        .collect();
    files.sort();
    files
}
