//! The one pcscd of this machine, for tests that talk to (virtual) cards
//! through real PC/SC (domain.md §6).
//!
//! [`Pcscd::acquire`] takes two locks — a process-wide mutex and an advisory
//! file lock on `/tmp/onshi-pcscd.lock`, so card tests run one at a time even
//! across test binaries — then starts `/usr/sbin/pcscd --foreground` unless a
//! pcscd already answers, and waits until the vpcd reader is listed.
//!
//! Lifetime: a pcscd this harness started is stopped (SIGTERM, then SIGKILL
//! after 3 s) when the guard drops, so no test leaves a daemon behind; a
//! pcscd that was already running (the demo's, or one started by hand) is
//! left alone. Requires the Debian packages pcscd and vsmartcard-vpcd, and
//! root (pcscd creates /run/pcscd).

use std::fs::{File, OpenOptions};
use std::process::Child;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use pcsc::{Context, Scope};

pub use crate::pcscd_daemon::{COMM_SOCKET, PCSCD, VPCD_ADDR};
use crate::pcscd_daemon;

/// vpcd's first slot; a virtual card connects to [`VPCD_ADDR`] for it.
pub const VPCD_READER: &std::ffi::CStr = c"Virtual PCD 00 00";
/// vpcd's second slot; a virtual card connects to [`VPCD_ADDR_2`] for it.
pub const VPCD_READER_2: &std::ffi::CStr = c"Virtual PCD 00 01";
pub const VPCD_ADDR_2: &str = "127.0.0.1:35964";
const LOCK_FILE: &str = "/tmp/onshi-pcscd.lock";

static IN_PROCESS: Mutex<()> = Mutex::new(());

/// Exclusive use of pcscd while it lives.
pub struct Pcscd {
    started: Option<Child>,
    _file_lock: File,
    _in_process: MutexGuard<'static, ()>,
}

impl Pcscd {
    /// Waits for exclusive use, makes sure pcscd runs and lists the vpcd reader.
    pub fn acquire() -> Result<Self> {
        // A test that panicked while holding the lock leaves it poisoned; the
        // daemon is still usable, so take the lock anyway.
        let in_process = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(LOCK_FILE)?;
        file.lock().with_context(|| format!("locking {LOCK_FILE}"))?;
        if Context::establish(Scope::User).is_ok() {
            // Someone else's pcscd (the demo's, or one started by hand): use it as it is.
            let me = Pcscd { started: None, _file_lock: file, _in_process: in_process };
            me.wait_for_reader(Duration::from_secs(15))?;
            return Ok(me);
        }
        // Our own: a pcscd started right after another one stopped sometimes
        // comes up without the vpcd reader (seen once in a full test run:
        // "readers: []" for 15 s). Starting it again is what a person would do.
        let mut me = Pcscd { started: Some(pcscd_daemon::start().map_err(|e| anyhow!(e))?), _file_lock: file, _in_process: in_process };
        let mut tries = 1;
        loop {
            match me.wait_for_reader(Duration::from_secs(6)) {
                Ok(()) => return Ok(me),
                Err(e) if tries >= 3 => return Err(e),
                Err(e) => {
                    eprintln!("pcscd try {tries}: {e}; restarting it");
                    if let Some(mut child) = me.started.take() {
                        pcscd_daemon::stop(&mut child, Duration::from_secs(3));
                    }
                    std::thread::sleep(Duration::from_millis(500));
                    me.started = Some(pcscd_daemon::start().map_err(|e| anyhow!(e))?);
                    tries += 1;
                }
            }
        }
    }

    /// Whether this guard started the daemon (and will stop it).
    pub fn started_here(&self) -> bool {
        self.started.is_some()
    }

    fn wait_for_reader(&self, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        let mut last = String::from("pcscd not answering");
        while start.elapsed() < timeout {
            match Context::establish(Scope::User) {
                Ok(ctx) => match ctx.list_readers_owned() {
                    Ok(readers) if readers.iter().any(|r| r.as_c_str() == VPCD_READER) => return Ok(()),
                    Ok(readers) => last = format!("readers: {readers:?}"),
                    Err(e) => last = format!("list_readers: {e}"),
                },
                Err(e) => last = format!("establish: {e}"),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("pcscd did not list {VPCD_READER:?} within {timeout:?} ({last}); is vsmartcard-vpcd installed?")
    }
}

impl Drop for Pcscd {
    fn drop(&mut self) {
        let Some(mut child) = self.started.take() else { return };
        pcscd_daemon::stop(&mut child, Duration::from_secs(3));
    }
}
