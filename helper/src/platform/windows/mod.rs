//! Windows: the local link is a named pipe per user,
//! `\\.\pipe\onshi-helper-<user SID>`, as private as the Unix socket is:
//!
//! - its DACL (protected, so nothing is inherited) grants access to this
//!   user and SYSTEM only;
//! - remote clients (over SMB) are rejected by the pipe itself;
//! - the server checks each client's user SID against its own, and the
//!   native host checks the server's, so neither talks to another user;
//! - the first instance is created with `FILE_FLAG_FIRST_PIPE_INSTANCE`: if
//!   another process already owns the name, we refuse to start
//!   ([`IpcError::PipeTaken`]) instead of sharing it with a squatter.
//!
//! A secret is read with the console's echo turned off (`console.rs`).
//!
//! This is the only module of the helper with `unsafe` code: the Win32 calls
//! for the security descriptor, the token SIDs and the console mode. Each
//! block says what it relies on.
#![allow(unsafe_code)]

mod console;
pub mod registry;
mod sid;

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::windows::named_pipe::{ClientOptions, NamedPipeServer, ServerOptions};
use windows_sys::Win32::Foundation::{ERROR_ACCESS_DENIED, ERROR_LOCK_VIOLATION, ERROR_PIPE_BUSY, ERROR_SHARING_VIOLATION};

use super::Stream;
use crate::ipc::IpcError;
use crate::paths::Env;
pub use console::EchoOff;
use sid::{PipeSecurity, Sid};

/// The prefix every local pipe name has.
const PIPE_PREFIX: &str = r"\\.\pipe\";

/// `\\.\pipe\onshi-helper-<SID of this user>`: one name per user, so two
/// people signed in to one PC (fast user switching, a terminal server) each
/// have their own service.
pub fn default_endpoint(_env: &Env) -> Result<PathBuf, IpcError> {
    let sid = Sid::of_current_process()?;
    Ok(PathBuf::from(format!("{PIPE_PREFIX}onshi-helper-{}", sid.to_string_form()?)))
}

/// A private endpoint for a test: a pipe name no other test or process
/// uses (pipes have no folder, so `_dir` only matters on Unix).
#[cfg(test)]
pub fn test_endpoint(_dir: &Path, tag: &str) -> PathBuf {
    PathBuf::from(format!("{PIPE_PREFIX}onshi-{tag}-{}", std::process::id()))
}

/// The lock file that keeps one service per pipe name:
/// `%LOCALAPPDATA%\onshi\run\<pipe name>.lock`.
pub fn lock_path(pipe: &Path) -> PathBuf {
    let name = pipe.to_string_lossy();
    let base = name.trim_start_matches(PIPE_PREFIX).replace(['\\', '/', ':'], "_");
    // The one reader of LOCALAPPDATA is `paths::Env`.
    let dir = Env::from_process().local_appdata.unwrap_or_else(std::env::temp_dir);
    dir.join("onshi").join("run").join(format!("{base}.lock"))
}

/// Creates the lock's folder; a pipe name needs nothing else, but it must
/// be a local pipe name.
pub fn prepare_endpoint(pipe: &Path) -> Result<(), IpcError> {
    if !pipe.to_string_lossy().starts_with(PIPE_PREFIX) {
        return Err(IpcError::NotAPipeName { name: pipe.to_string_lossy().into_owned() });
    }
    let lock = lock_path(pipe);
    if let Some(dir) = lock.parent() {
        std::fs::create_dir_all(dir).map_err(|source| IpcError::Folder { path: dir.to_owned(), source })?;
    }
    Ok(())
}

/// The service's side: the instance waiting for the next client.
pub struct Listener {
    name: String,
    next: NamedPipeServer,
    security: PipeSecurity,
    own: Sid,
}

impl Listener {
    /// Creates the first instance of the pipe. The caller holds the instance
    /// lock, so if the name exists, someone else made it: refuse.
    pub fn bind(pipe: &Path) -> Result<Listener, IpcError> {
        let name = pipe.to_string_lossy().into_owned();
        let own = Sid::of_current_process()?;
        let security = PipeSecurity::for_user_and_system(&own)?;
        let next = create(&name, &security, true).map_err(|e| match e.raw_os_error() {
            Some(code) if code == ERROR_ACCESS_DENIED as i32 => IpcError::PipeTaken { name: name.clone() },
            _ => IpcError::Io(e),
        })?;
        Ok(Listener { name, next, security, own })
    }

    /// The next client of our own user; others are refused and logged.
    pub async fn accept(&mut self) -> Result<Stream, IpcError> {
        loop {
            self.next.connect().await?;
            // A new instance must exist before this one is handed out, or a
            // client arriving in between would find no pipe.
            let fresh = create(&self.name, &self.security, false)?;
            let connected = std::mem::replace(&mut self.next, fresh);
            match sid::of_pipe_client(&connected) {
                Ok(peer) if peer == self.own => return Ok(Box::new(connected)),
                Ok(peer) => eprintln!(
                    "onshi-helper service: refused a pipe client of another user ({})",
                    peer.to_string_form().unwrap_or_default()
                ),
                Err(e) => eprintln!("onshi-helper service: refused a pipe client whose user cannot be read: {e}"),
            }
        }
    }

    /// Nothing to remove: a pipe disappears with its last handle.
    pub fn close(self, _pipe: &Path) {}
}

fn create(name: &str, security: &PipeSecurity, first: bool) -> std::io::Result<NamedPipeServer> {
    let mut attributes = security.attributes();
    let mut options = ServerOptions::new();
    options.first_pipe_instance(first).reject_remote_clients(true);
    // SAFETY: `attributes` is a SECURITY_ATTRIBUTES whose descriptor is owned
    // by `security`, which outlives this call; CreateNamedPipeW copies what it
    // needs and keeps no pointer.
    unsafe { options.create_with_security_attributes_raw(name, (&mut attributes as *mut _) as *mut c_void) }
}

/// Connects to the service's pipe, waiting while every instance is busy,
/// and refuses a server that runs as another user (a squatter).
pub async fn connect(pipe: &Path) -> std::io::Result<Stream> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    let client = loop {
        match ClientOptions::new().open(pipe) {
            Ok(c) => break c,
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY as i32) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e),
        }
    };
    let own = Sid::of_current_process()?;
    match sid::of_pipe_server(&client) {
        Ok(server) if server == own => Ok(Box::new(client)),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{} is served by a process of another user", pipe.display()),
        )),
        Err(e) => Err(e),
    }
}

/// Starts `cmd` with no console and outside the browser's job object when
/// the job allows it (Chrome and Firefox put native hosts in a job that is
/// closed with the host; the service must outlive it).
pub fn spawn_detached(cmd: &mut std::process::Command) -> std::io::Result<std::process::Child> {
    use std::os::windows::process::CommandExt;
    use windows_sys::Win32::System::Threading::{CREATE_BREAKAWAY_FROM_JOB, CREATE_NEW_PROCESS_GROUP, DETACHED_PROCESS};
    let base = DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP;
    match cmd.creation_flags(base | CREATE_BREAKAWAY_FROM_JOB).spawn() {
        // A job without JOB_OBJECT_LIMIT_BREAKAWAY_OK refuses the flag.
        Err(e) if e.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => cmd.creation_flags(base).spawn(),
        other => other,
    }
}

/// Symbolic links are only planned for Linux (the systemd enable link).
pub fn symlink(_target: &Path, link: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, format!("no symbolic links on Windows: {}", link.display())))
}

/// Whether a failed read means another process still holds the file: the
/// OQS terminal opened it without sharing read access (ERROR_SHARING_VIOLATION,
/// 32) or locked the range we read (ERROR_LOCK_VIOLATION, 33), locally or
/// through `\\SHIKAKU-PC\OQS\…`. The OQS folder backend waits these out.
pub fn is_busy(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == ERROR_SHARING_VIOLATION as i32 || code == ERROR_LOCK_VIOLATION as i32)
}

/// Ctrl-C, Ctrl-Break, the console closing, log-off and shutdown. A service
/// started detached has no console and ends with the session.
pub struct Terminate {
    brk: tokio::signal::windows::CtrlBreak,
    close: tokio::signal::windows::CtrlClose,
    logoff: tokio::signal::windows::CtrlLogoff,
    shutdown: tokio::signal::windows::CtrlShutdown,
}

impl Terminate {
    pub fn new() -> std::io::Result<Terminate> {
        use tokio::signal::windows::*;
        Ok(Terminate { brk: ctrl_break()?, close: ctrl_close()?, logoff: ctrl_logoff()?, shutdown: ctrl_shutdown()? })
    }

    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.brk.recv() => {}
            _ = self.close.recv() => {}
            _ = self.logoff.recv() => {}
            _ = self.shutdown.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_file_is_named_after_the_pipe() {
        let lock = lock_path(Path::new(r"\\.\pipe\onshi-helper-S-1-5-21-1"));
        assert!(lock.ends_with(r"onshi\run\onshi-helper-S-1-5-21-1.lock"), "{}", lock.display());
    }

    #[test]
    fn default_pipe_carries_the_user_sid() {
        let ep = default_endpoint(&Env::default()).unwrap();
        let s = ep.to_string_lossy();
        assert!(s.starts_with(r"\\.\pipe\onshi-helper-S-1-"), "{s}");
    }

    #[tokio::test]
    async fn a_taken_name_is_refused_and_our_own_client_is_served() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let name = PathBuf::from(format!(r"\\.\pipe\onshi-test-{}", std::process::id()));
        // Someone else got there first (here: a plain pipe of the same name).
        let squatter = ServerOptions::new().first_pipe_instance(true).create(&name).unwrap();
        let taken = Listener::bind(&name);
        assert!(matches!(taken, Err(IpcError::PipeTaken { .. })), "{:?}", taken.err());
        drop(squatter);
        let mut listener = Listener::bind(&name).unwrap();
        let server = tokio::spawn(async move {
            let mut s = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await.unwrap();
            s.write_all(&buf).await.unwrap();
        });
        let mut c = connect(&name).await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 4];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"ping");
        server.await.unwrap();
    }

    #[test]
    fn sharing_and_lock_violations_mean_a_file_is_held() {
        assert!(is_busy(&std::io::Error::from_raw_os_error(32)));
        assert!(is_busy(&std::io::Error::from_raw_os_error(33)));
        assert!(!is_busy(&std::io::Error::from_raw_os_error(5)), "access denied is not waited out");
        assert!(!is_busy(&std::io::Error::from_raw_os_error(2)), "not found");
    }

    #[test]
    fn only_local_pipe_names_are_endpoints() {
        assert!(matches!(prepare_endpoint(Path::new(r"C:\temp\helper.sock")), Err(IpcError::NotAPipeName { .. })));
    }
}
