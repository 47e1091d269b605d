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
//! The first frame of a connection is its [`Opening`]. A native host sends
//! the [`Preamble`]: the caller identity the browser put on the host's
//! command line; every later frame is a browser frame, relayed byte for
//! byte. `onshi-helper service --stop` sends a [`Control`] instead (only a
//! process of the same OS user can open the link at all, and a native host
//! never sends one, so no web page can stop the service).
//!
//! The OS object that carries the frames (a Unix socket, a named pipe on
//! Windows) and who may open it are the platform layer's business
//! ([`crate::platform`]); this module only names the endpoint and frames.
//!
//! Endpoint: `--socket`, else `$ONSHI_HELPER_SOCKET`, else the per-user
//! default ([`crate::platform::default_endpoint`]: `$XDG_RUNTIME_DIR/onshi/helper.sock`
//! or `<data folder>/onshi/run/helper.sock`; `\\.\pipe\onshi-helper-<user SID>` on Windows).

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

/// The first frame of a connection: a relay for a browser, or a command
/// from the helper's own command line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Opening {
    Relay(Preamble),
    Control(Control),
}

/// A command to the service from `onshi-helper` on the same account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    pub control: ControlCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlCommand {
    /// Stop listening and exit (an uninstall or upgrade must replace the
    /// exe, which Windows does not allow while it runs).
    Stop,
}

/// The service's answer to a [`Control`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlReply {
    pub stopping: bool,
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
    /// Another process already owns the service's pipe name (Windows): a
    /// squatter, or a service of an older install started another way.
    #[error("the pipe {name} already exists and belongs to another process")]
    PipeTaken { name: String },
    /// `--socket` on Windows must name a local pipe (`\\.\pipe\…`).
    #[error("{name} is not a local pipe name (\\\\.\\pipe\\...)")]
    NotAPipeName { name: String },
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
            IpcError::PipeTaken { name } => Bilingual::new(
                format!("ヘルパーの通信路 {name} を別のプログラムが使っています。安全のためヘルパーは起動しません。PCを再起動し、続く場合は「onshi-helper doctor」の結果をIT担当者に伝えてください。"),
                format!("Another program holds the helper's pipe {name}; for safety the helper does not start. Restart the PC; if it persists, give the output of \"onshi-helper doctor\" to IT."),
            ),
            IpcError::NotAPipeName { name } => Bilingual::new(
                format!("「{name}」は名前付きパイプの名前ではありません。--socket には \\\\.\\pipe\\ で始まる名前を指定してください。"),
                format!("{name:?} is not a named-pipe name; give --socket a name that starts with \\\\.\\pipe\\."),
            ),
        }
    }
}

/// Where the socket is: explicit path, then the environment, then the defaults.
pub fn socket_path(explicit: Option<&Path>, env: &Env) -> Result<PathBuf, IpcError> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    if let Some(p) = std::env::var_os(SOCKET_ENV).map(PathBuf::from).filter(|p| p.is_absolute() || p.to_string_lossy().starts_with(r"\\.\pipe\")) {
        return Ok(p);
    }
    crate::platform::default_endpoint(env)
}

/// The lock file that keeps one service per endpoint (and so per OS user).
pub fn lock_path(endpoint: &Path) -> PathBuf {
    crate::platform::lock_path(endpoint)
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


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openings_tell_a_relay_from_a_control() {
        let relay: Opening = serde_json::from_str(r#"{"relay":1,"browser":"chromium","extension_id":"abc"}"#).unwrap();
        assert!(matches!(relay, Opening::Relay(Preamble { relay: 1, .. })));
        let stop: Opening = serde_json::from_str(r#"{"control":"stop"}"#).unwrap();
        assert_eq!(stop, Opening::Control(Control { control: ControlCommand::Stop }));
        assert!(serde_json::from_str::<Opening>(r#"{"control":"format_disk"}"#).is_err());
        assert!(serde_json::from_str::<Opening>(r#"{"type":"hello"}"#).is_err());
    }

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
}
