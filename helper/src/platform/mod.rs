//! Everything that differs between operating systems, in one place: the
//! local link between native hosts and the service (a Unix socket or a
//! per-user named pipe), who may use it, how the service is started so it
//! outlives the host, how it is told to stop, which read error means another
//! process still holds a file, how a secret is read from the console without
//! echo, and the Windows registry. The rest of the helper calls these
//! functions and has no `cfg` of its own.
//!
//! | concern            | Unix                                        | Windows                                              |
//! |--------------------|---------------------------------------------|------------------------------------------------------|
//! | endpoint           | `$XDG_RUNTIME_DIR/onshi/helper.sock`        | `\\.\pipe\onshi-helper-<user SID>`                   |
//! | only this user     | folder 0700, socket 0600, SO_PEERCRED uid   | DACL (user + SYSTEM), remote clients rejected, client SID checked |
//! | one service        | lock file next to the socket                | lock file under `%LOCALAPPDATA%\onshi\run`, `first_pipe_instance` |
//! | detached start     | own process group                           | `DETACHED_PROCESS`, out of the browser's job when allowed |
//! | stop               | SIGTERM, Ctrl-C                             | Ctrl-C / Ctrl-Break / close / log-off / shutdown     |
//! | file still held    | EBUSY (`is_busy`)                           | sharing / lock violation, errors 32 and 33           |
//! | secret typed       | stdin a terminal; `stty -echo` meanwhile    | stdin a console; mode without `ENABLE_ECHO_INPUT` meanwhile |

use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroizing;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

pub use os::{connect, default_endpoint, is_busy, lock_path, prepare_endpoint, spawn_detached, symlink, Listener, Terminate};
#[cfg(test)]
pub use os::test_endpoint;

/// The registry (Windows only; elsewhere every call says it is unsupported).
pub mod registry {
    #[cfg(windows)]
    pub use super::windows::registry::*;
    #[cfg(not(windows))]
    pub use super::unsupported_registry::*;
}

#[cfg(not(windows))]
mod unsupported_registry;

/// One end of the local link, whichever OS object carries it.
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// A connected local link (boxed: one per connection, so the cost is nil).
pub type Stream = Box<dyn Duplex>;

/// Why a secret could not be read from the console.
#[derive(Debug, thiserror::Error)]
pub enum SecretInputError {
    /// stdin is a pipe or a file. A secret is only taken from a person at a
    /// console: one in a file or a shell history is a leaked secret.
    #[error("stdin is not a console")]
    NotAConsole,
    /// The console's echo could not be turned off (`tool` names the means
    /// that failed), so the secret is not asked at all.
    #[error("cannot turn the console's echo off ({tool})")]
    CannotHideInput { tool: &'static str },
    /// Reading the line failed.
    #[error("cannot read from the console: {0}")]
    Read(std::io::Error),
}

/// Prints `prompt` on stderr and reads one line from the console with echo
/// off, without its line ending. Echo is restored on every path (the guard's
/// drop), and stdin that is not a console is refused before anything is read.
pub fn read_secret_line(prompt: &str) -> Result<Zeroizing<String>, SecretInputError> {
    use std::io::{BufRead, Write};
    let echo_off = os::EchoOff::new()?;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    // Room for any PIN up front: a growing String moves to a new buffer and
    // leaves the old one behind unwiped.
    let mut line = Zeroizing::new(String::with_capacity(64));
    let read = std::io::stdin().lock().read_line(&mut line);
    drop(echo_off);
    // The Enter the person typed was not echoed either.
    eprintln!();
    read.map_err(SecretInputError::Read)?;
    let len = line.trim_end_matches(['\r', '\n']).len();
    line.truncate(len);
    Ok(line)
}
