//! Starting and stopping the PC/SC daemon, std only — the one copy that both
//! the test harness ([`crate::pcscd`]) and `cargo xtask demo` use (xtask
//! includes this file by path, so it must not depend on anything outside
//! std).
//!
//! Requires the Debian packages pcscd and vsmartcard-vpcd, and root (pcscd
//! creates /run/pcscd). Readiness of the vpcd reader is the caller's
//! business: the tests list readers through PC/SC, the demo's virtual card
//! retries its vpcd connection until the reader is up.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PCSCD: &str = "/usr/sbin/pcscd";
/// The socket pcscd creates once it listens.
pub const COMM_SOCKET: &str = "/run/pcscd/pcscd.comm";
/// vpcd's first slot ("Virtual PCD 00 00"); a virtual card connects here.
pub const VPCD_ADDR: &str = "127.0.0.1:35963";

/// Whether a pcscd answers on its socket (ours, the demo's, or a system one).
pub fn answering() -> bool {
    std::os::unix::net::UnixStream::connect(COMM_SOCKET).is_ok()
}

/// Starts `pcscd --foreground` and waits (≤ 10 s) until its socket accepts
/// connections. The caller owns the child and stops it with [`stop`].
pub fn start() -> Result<Child, String> {
    if !std::path::Path::new(PCSCD).exists() {
        return Err(format!("{PCSCD} is missing; install the Debian packages pcscd and vsmartcard-vpcd"));
    }
    let mut child = Command::new(PCSCD)
        .arg("--foreground")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {PCSCD}: {e}"))?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if answering() {
            return Ok(child);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{PCSCD} exited at once ({status}); is another pcscd holding /run/pcscd? (run as root)"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{PCSCD} did not open {COMM_SOCKET} within 10 s"))
}

/// Stops a child by its process id: SIGTERM (pcscd then removes its socket
/// and pid file, which a SIGKILLed pcscd leaves behind for the next start to
/// trip over), SIGKILL after `grace`.
pub fn stop(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
