//! A virtual My Number card as its own process on pcscd's vpcd reader, and
//! the test PKI it is issued from: one way to start both, for the stack and
//! for the tests that speak PC/SC themselves.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Result, ensure};

use crate::demo_parts::{CardSpec, card_command};
use crate::paths;
use crate::pcscd::VPCD_ADDR;
use crate::process::Guarded;

/// `onshi-sim pki init DIR --person PERSON`. Idempotent, so a directory kept
/// between runs saves the RSA key generation (slow in debug builds).
pub fn person_pki(dir: &Path, person: &str) -> Result<PathBuf> {
    let status = Command::new(paths::binary("onshi-sim")?).args(["pki", "init"]).arg(dir).args(["--person", person]).status()?;
    ensure!(status.success(), "onshi-sim pki init failed");
    Ok(dir.to_path_buf())
}

/// A running `onshi-sim card`; the card leaves the reader when this is dropped.
pub struct VirtualCard {
    _process: Guarded,
    /// Its APDU log (JSON lines, PIN masked).
    pub log: PathBuf,
}

impl VirtualCard {
    /// Starts the card for `spec` on the vpcd reader and waits for its
    /// "card ready" line (pcscd may take a moment more to see it).
    pub fn start(pki: &Path, spec: &CardSpec, log: PathBuf) -> Result<Self> {
        Self::start_on(VPCD_ADDR, pki, spec, log)
    }

    /// [`VirtualCard::start`] in the vpcd slot at `vpcd` (the second reader: `VPCD_ADDR_2`).
    pub fn start_on(vpcd: &str, pki: &Path, spec: &CardSpec, log: PathBuf) -> Result<Self> {
        let mut c = card_command(&paths::binary("onshi-sim")?, pki, vpcd, spec, &log);
        c.stdin(Stdio::null());
        let (process, line) = Guarded::spawn_and_read_line("onshi-sim card", c, Duration::from_secs(20))?;
        ensure!(line.starts_with("card ready"), "the virtual card said {line:?}");
        Ok(VirtualCard { _process: process, log })
    }
}
