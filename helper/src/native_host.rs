//! `onshi-helper native-host`: what the browser starts. It relays frames
//! between the browser (stdin/stdout, u32 native-endian length + JSON) and
//! the service's socket (u32 big-endian, see [`crate::ipc`]) without looking
//! inside them. The only thing it adds is the [`Preamble`] with the caller
//! identity the browser passed on the command line.
//!
//! stdout carries frames and nothing else; diagnostics go to stderr. If the
//! service is not running, it is started detached (so it outlives this host;
//! see [`crate::platform::spawn_detached`]) with its log in the per-user log
//! folder, and the endpoint is retried for a few seconds. Ends on stdin EOF,
//! when told to stop, or when the service closes the link.

use std::path::{Path, PathBuf};
use std::time::Duration;

use onshi_core::protocol::{MAX_FROM_HELPER, MAX_TO_HELPER};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ipc::{self, IpcError, Preamble};
use crate::platform::{self, Stream};

/// How long to keep trying the socket after starting the service.
const CONNECT_FOR: Duration = Duration::from_secs(5);

/// How to start the service when it is not running.
pub struct Spawn {
    /// The helper binary.
    pub exe: PathBuf,
    /// Arguments before `service` (e.g. `--config`, `--store`).
    pub global_args: Vec<std::ffi::OsString>,
    /// Where the service's own log goes (`None`: nowhere).
    pub log: Option<PathBuf>,
}

/// Opens the service log for appending, keeping one older file once it
/// passes 5 MB so the log never grows without bound.
fn open_log(path: &Path) -> std::process::Stdio {
    const KEEP: u64 = 5 * 1024 * 1024;
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if std::fs::metadata(path).is_ok_and(|m| m.len() > KEEP) {
        let _ = std::fs::rename(path, path.with_extension("log.1"));
    }
    match std::fs::OpenOptions::new().create(true).append(true).open(path) {
        Ok(f) => f.into(),
        Err(_) => std::process::Stdio::null(),
    }
}

/// Starts `<exe> [global args] service [--socket S]` detached, stdin and
/// stdout closed and stderr into the service log. The one way the service is
/// started on demand: by the native host, and at sign-in by the Windows
/// starter (`onshi-helper-start`, which has no console window to flash).
/// A second service for the same user stops at once by itself (the lock).
pub fn start_service(sp: &Spawn, socket: Option<&Path>) -> std::io::Result<std::process::Child> {
    let mut cmd = std::process::Command::new(&sp.exe);
    cmd.args(&sp.global_args).arg("service");
    if let Some(socket) = socket {
        cmd.arg("--socket").arg(socket);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(sp.log.as_deref().map(open_log).unwrap_or_else(std::process::Stdio::null));
    platform::spawn_detached(&mut cmd)
}

async fn connect(socket: &Path, spawn: Option<&Spawn>) -> Result<Stream, IpcError> {
    if let Ok(s) = platform::connect(socket).await {
        return Ok(s);
    }
    if let Some(sp) = spawn {
        match start_service(sp, Some(socket)) {
            Ok(_child) => eprintln!("onshi-helper native-host: started the service"),
            Err(e) => eprintln!("onshi-helper native-host: cannot start the service: {e}"),
        }
    }
    let deadline = tokio::time::Instant::now() + CONNECT_FOR;
    loop {
        match platform::connect(socket).await {
            Ok(s) => return Ok(s),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Relays until one side ends. `Ok(())` on a clean end (stdin EOF or SIGTERM).
pub async fn run(socket: &Path, caller: Preamble, spawn: Option<Spawn>) -> Result<(), IpcError> {
    let stream = connect(socket, spawn.as_ref()).await?;
    let (mut srd, mut swr) = tokio::io::split(stream);
    let preamble = serde_json::to_vec(&caller).map_err(|e| IpcError::Io(std::io::Error::other(e)))?;
    ipc::write_frame(&mut swr, &preamble, 64 * 1024).await?;

    let up = async move {
        let mut stdin = tokio::io::stdin();
        loop {
            let mut header = [0u8; 4];
            match stdin.read_exact(&mut header).await {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) => return Err(IpcError::from(e)),
            }
            let len = u32::from_ne_bytes(header) as usize;
            if len > MAX_TO_HELPER {
                return Err(IpcError::TooLarge { len, max: MAX_TO_HELPER });
            }
            let mut buf = vec![0u8; len];
            stdin.read_exact(&mut buf).await?;
            ipc::write_frame(&mut swr, &buf, ipc::MAX_UP).await?;
            // The frame may have carried a PIN: wipe our copy.
            buf.iter_mut().for_each(|b| *b = 0);
        }
    };
    let down = async move {
        let mut stdout = tokio::io::stdout();
        while let Some(bytes) = ipc::read_frame(&mut srd, MAX_FROM_HELPER).await? {
            let len = u32::try_from(bytes.len()).map_err(|_| IpcError::TooLarge { len: bytes.len(), max: MAX_FROM_HELPER })?;
            stdout.write_all(&len.to_ne_bytes()).await?;
            stdout.write_all(&bytes).await?;
            stdout.flush().await?;
        }
        Ok::<(), IpcError>(())
    };
    let mut term = platform::Terminate::new()?;
    tokio::pin!(down);
    // On stdin EOF the write half is dropped (the service sees EOF, answers
    // what it still has, and closes), so the replies are drained before exit.
    tokio::select! {
        r = up => {
            r?;
            tokio::select! {
                r = &mut down => r,
                _ = term.recv() => Ok(()),
                _ = tokio::time::sleep(Duration::from_secs(30)) => Ok(()),
            }
        }
        r = &mut down => r,
        _ = term.recv() => Ok(()),
    }
}
