//! The local link between `native-host` processes and the resident
//! `service`: where the socket lives, its framing, and who may use it.
//!
//! Framing on the socket: a **u32 big-endian** length, then that many bytes of
//! UTF-8 JSON (the browser link uses native byte order; the socket is ours,
//! so it uses the fixed network order). Caps: native host → service
//! [`MAX_TO_HELPER`] (64 MiB), service → native host [`MAX_FROM_HELPER`]
//! (1 MiB: the service already split long replies into chunk frames, which
//! the native host relays unchanged).
//!
//! The first frame a native host sends is the [`Preamble`]: the caller
//! identity the browser put on the host's command line. Every later frame is
//! a browser frame, relayed byte for byte.
//!
//! Access: the socket sits in a 0700 folder, the socket file is 0600, and the
//! service checks each peer's uid (SO_PEERCRED) against its own.
//!
//! Socket location: `--socket`, else `$ONSHI_HELPER_SOCKET`, else
//! `$XDG_RUNTIME_DIR/onshi/helper.sock`, else `<data folder>/onshi/run/helper.sock`.
//! On Windows the link would be a named pipe; that is not implemented yet
//! ([`IpcError::Unsupported`]).

use std::path::{Path, PathBuf};

use onshi_core::protocol::{MAX_FROM_HELPER, MAX_TO_HELPER};
use onshi_core::text::{Bilingual, Explain};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::paths::Env;

/// The environment variable that names the socket (tests, and a browser
/// started with it in its environment).
pub const SOCKET_ENV: &str = "ONSHI_HELPER_SOCKET";

/// Largest frame a native host may send to the service.
pub const MAX_UP: usize = MAX_TO_HELPER;
/// Largest frame the service sends (replies are chunked before this).
pub const MAX_DOWN: usize = MAX_FROM_HELPER;

/// What the native host tells the service first: who the browser says started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preamble {
    /// Always 1.
    pub relay: u32,
    /// `chromium` (Chrome, Chromium and Edge look alike on the command line) or `firefox`.
    pub browser: String,
    /// The calling extension: 32 letters a–p, or a Firefox add-on id.
    pub extension_id: String,
}

/// Why the local link failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpcError {
    #[error("no place for the socket: set XDG_RUNTIME_DIR, HOME or {SOCKET_ENV}")]
    NoSocketPlace,
    #[error("cannot prepare the socket folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("socket I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {len} bytes exceeds the {max}-byte cap")]
    TooLarge { len: usize, max: usize },
    /// The local link is a named pipe on Windows, which this build lacks.
    #[error("the local link is not implemented on this OS")]
    Unsupported,
}

impl Explain for IpcError {
    fn explain(&self) -> Bilingual {
        match self {
            IpcError::NoSocketPlace => Bilingual::new(
                format!("ヘルパーの通信用ソケットの場所が決められません。XDG_RUNTIME_DIR か HOME を設定するか、{SOCKET_ENV} を指定してください。"),
                format!("Cannot choose a place for the helper's socket; set XDG_RUNTIME_DIR or HOME, or give {SOCKET_ENV}."),
            ),
            IpcError::Folder { path, source } => Bilingual::new(
                format!("ソケット用フォルダー {} を準備できません（{source}）。権限を確認してください。", path.display()),
                format!("Cannot prepare the socket folder {} ({source}); check its permissions.", path.display()),
            ),
            IpcError::Io(e) => Bilingual::new(
                format!("ヘルパーのサービスとの通信に失敗しました（{e}）。PCを再起動し、続く場合は管理者に連絡してください。"),
                format!("Talking to the helper service failed ({e}). Restart the PC; if it keeps happening, call your IT contact."),
            ),
            IpcError::TooLarge { len, max } => Bilingual::new(
                format!("受け取ったデータが大きすぎます（{len} バイト、上限 {max}）。"),
                format!("A frame of {len} bytes exceeds the {max}-byte cap."),
            ),
            IpcError::Unsupported => Bilingual::new(
                "このOSではヘルパーのサービスとの通信（名前付きパイプ）がまだ実装されていません。",
                "The link to the helper service (a named pipe) is not implemented on this OS yet.",
            ),
        }
    }
}

/// Where the socket is: explicit path, then the environment, then the defaults.
pub fn socket_path(explicit: Option<&Path>, env: &Env) -> Result<PathBuf, IpcError> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os(SOCKET_ENV).map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Ok(p);
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Ok(run.join("onshi").join("helper.sock"));
    }
    let data = env.data_home().map_err(|_| IpcError::NoSocketPlace)?;
    Ok(data.join("onshi").join("run").join("helper.sock"))
}

/// The lock file that keeps one service per socket (and so per OS user).
pub fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.file_name().map(|n| n.to_owned()).unwrap_or_default();
    name.push(".lock");
    socket.with_file_name(name)
}

/// Creates the socket's folder if missing, mode 0700 (only when we create it:
/// an existing folder such as a test's temp dir is left as it is).
#[cfg(unix)]
pub fn prepare_folder(socket: &Path) -> Result<(), IpcError> {
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

/// Reads one frame (u32 big-endian length + bytes), checking the cap before
/// allocating. `Ok(None)` on a clean end of stream before a header.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> Result<Option<Vec<u8>>, IpcError> {
    let mut header = [0u8; 4];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(IpcError::TooLarge { len, max });
    }
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf).await?;
    Ok(Some(buf))
}

/// Writes one frame (u32 big-endian length + bytes).
pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, payload: &[u8], max: usize) -> Result<(), IpcError> {
    let len = payload.len();
    let header = u32::try_from(len).ok().filter(|_| len <= max).ok_or(IpcError::TooLarge { len, max })?;
    w.write_all(&header.to_be_bytes()).await?;
    w.write_all(payload).await?;
    w.flush().await?;
    Ok(())
}

/// This process's effective uid, read from `/proc/self` (owned by it), so no
/// `unsafe` libc call is needed.
#[cfg(target_os = "linux")]
pub fn own_uid() -> Result<u32, IpcError> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata("/proc/self")?.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_caps_hold() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"{\"a\":1}", 100).await.unwrap();
        assert_eq!(&buf[..4], &7u32.to_be_bytes());
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r, 100).await.unwrap().unwrap(), b"{\"a\":1}");
        assert!(read_frame(&mut r, 100).await.unwrap().is_none());
        let mut r = &buf[..];
        assert!(matches!(read_frame(&mut r, 3).await, Err(IpcError::TooLarge { len: 7, max: 3 })));
        assert!(matches!(write_frame(&mut Vec::new(), b"toolong", 3).await, Err(IpcError::TooLarge { .. })));
        // A header that announces more than arrives is an I/O error, not a hang.
        let mut r = &[0u8, 0, 0, 9, b'{'][..];
        assert!(matches!(read_frame(&mut r, 100).await, Err(IpcError::Io(_))));
    }

    #[test]
    fn lock_sits_next_to_the_socket() {
        assert_eq!(lock_path(Path::new("/run/u/onshi/helper.sock")), Path::new("/run/u/onshi/helper.sock.lock"));
    }
}
