//! Unix: the local link is a Unix socket in a 0700 folder, mode 0600, and
//! every peer's uid is checked against our own (SO_PEERCRED); the service is
//! started in its own process group so the browser's SIGTERM to the native
//! host does not reach it. A secret is read with the terminal's echo turned
//! off by `stty`, which needs no `unsafe` termios call.

use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use super::{SecretInputError, Stream};
use crate::ipc::IpcError;
use crate::paths::Env;

/// `$XDG_RUNTIME_DIR/onshi/helper.sock`, else `<data folder>/onshi/run/helper.sock`.
pub fn default_endpoint(env: &Env) -> Result<PathBuf, IpcError> {
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Ok(run.join("onshi").join("helper.sock"));
    }
    let data = env.data_home().map_err(|_| IpcError::NoSocketPlace)?;
    Ok(data.join("onshi").join("run").join("helper.sock"))
}

/// A private endpoint for a test: a socket in the test's own folder.
#[cfg(test)]
pub fn test_endpoint(dir: &Path, tag: &str) -> PathBuf {
    dir.join(format!("{tag}.sock"))
}

/// The lock file that keeps one service per socket (and so per OS user).
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.file_name().map(|n| n.to_owned()).unwrap_or_default();
    name.push(".lock");
    socket.with_file_name(name)
}

/// Creates the socket's folder if missing, mode 0700 (only when we create it:
/// an existing folder such as a test's temp dir is left as it is).
pub fn prepare_endpoint(socket: &Path) -> Result<(), IpcError> {
    use std::os::unix::fs::DirBuilderExt;
    let Some(dir) = socket.parent() else { return Ok(()) };
    if dir.exists() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| IpcError::Folder { path: dir.to_owned(), source })
}

/// The service's side of the link.
pub struct Listener {
    inner: UnixListener,
    uid: u32,
}

impl Listener {
    /// Binds the socket (the caller holds the instance lock, so a socket file
    /// left here is a dead instance's and is replaced) and makes it 0600.
    pub fn bind(socket: &Path) -> Result<Listener, IpcError> {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::remove_file(socket);
        let inner = UnixListener::bind(socket)?;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
        Ok(Listener { inner, uid: own_uid()? })
    }

    /// The next peer of our own uid; peers of another uid are refused and logged.
    pub async fn accept(&mut self) -> Result<Stream, IpcError> {
        loop {
            let (stream, _) = self.inner.accept().await?;
            let peer = stream.peer_cred().map(|c| c.uid()).ok();
            if peer == Some(self.uid) {
                return Ok(Box::new(stream));
            }
            eprintln!("onshi-helper service: refused a connection from uid {peer:?} (own uid {})", self.uid);
        }
    }

    /// Removes the socket file when the service stops.
    pub fn close(self, socket: &Path) {
        drop(self.inner);
        let _ = std::fs::remove_file(socket);
    }
}

/// Connects to the service's socket.
pub async fn connect(socket: &Path) -> std::io::Result<Stream> {
    Ok(Box::new(tokio::net::UnixStream::connect(socket).await?))
}

/// Starts `cmd` in its own process group, so it outlives the native host.
pub fn spawn_detached(cmd: &mut std::process::Command) -> std::io::Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0).spawn()
}

/// A symbolic link (the systemd enable link `install` writes).
pub fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

/// Whether a failed read means another process still holds the file, so
/// the OQS folder backend waits instead of failing. A local file on Unix is
/// never locked against reading; EBUSY is the errno paired with a Windows
/// sharing violation (Samba's status table), which is what a terminal's
/// share mounted over SMB may report. Nothing else is worth waiting for.
pub fn is_busy(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::ResourceBusy
}

/// This process's effective uid, read from `/proc/self` (owned by it), so no
/// `unsafe` libc call is needed.
fn own_uid() -> Result<u32, IpcError> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// SIGTERM (what browsers, systemd and `kill` send) or Ctrl-C.
pub struct Terminate {
    term: tokio::signal::unix::Signal,
}

impl Terminate {
    pub fn new() -> std::io::Result<Terminate> {
        Ok(Terminate { term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())? })
    }

    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
}

/// The terminal's echo, off (`stty -echo`) until dropped.
pub struct EchoOff(());

impl EchoOff {
    /// Refuses stdin that is not a terminal, then turns echo off.
    pub fn new() -> Result<EchoOff, SecretInputError> {
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() {
            return Err(SecretInputError::NotAConsole);
        }
        if !stty("-echo") {
            return Err(SecretInputError::CannotHideInput { tool: "stty" });
        }
        Ok(EchoOff(()))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        stty("echo");
    }
}

/// Runs `stty ARG` on our stdin (the terminal); true if it succeeded.
fn stty(arg: &str) -> bool {
    std::process::Command::new("stty").arg(arg).stdin(std::process::Stdio::inherit()).status().is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_sits_next_to_the_socket() {
        assert_eq!(lock_path(Path::new("/run/u/onshi/helper.sock")), Path::new("/run/u/onshi/helper.sock.lock"));
    }

    #[test]
    fn only_ebusy_means_a_file_is_held() {
        assert!(is_busy(&std::io::Error::from_raw_os_error(16)), "EBUSY");
        assert!(!is_busy(&std::io::Error::from(std::io::ErrorKind::PermissionDenied)));
        assert!(!is_busy(&std::io::Error::from(std::io::ErrorKind::NotFound)));
    }
}
