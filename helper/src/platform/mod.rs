//! Everything that differs between operating systems, in one place: the
//! local link between native hosts and the service (a Unix socket or a
//! per-user named pipe), who may use it, how the service is started so it
//! outlives the host, how it is told to stop, which read error means another
//! process still holds a file, and the Windows registry.
//! The rest of the helper calls these functions and has no `cfg` of its own.
//!
//! | concern            | Unix                                        | Windows                                              |
//! |--------------------|---------------------------------------------|------------------------------------------------------|
//! | endpoint           | `$XDG_RUNTIME_DIR/onshi/helper.sock`        | `\\.\pipe\onshi-helper-<user SID>`                   |
//! | only this user     | folder 0700, socket 0600, SO_PEERCRED uid   | DACL (user + SYSTEM), remote clients rejected, client SID checked |
//! | one service        | lock file next to the socket                | lock file under `%LOCALAPPDATA%\onshi\run`, `first_pipe_instance` |
//! | detached start     | own process group                           | `DETACHED_PROCESS`, out of the browser's job when allowed |
//! | stop               | SIGTERM, Ctrl-C                             | Ctrl-C / Ctrl-Break / close / log-off / shutdown     |
//! | file still held    | EBUSY (`is_busy`)                           | sharing / lock violation, errors 32 and 33           |

use tokio::io::{AsyncRead, AsyncWrite};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as os;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as os;

pub use os::{connect, default_endpoint, is_busy, lock_path, prepare_endpoint, spawn_detached, symlink, Listener, Terminate};

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
