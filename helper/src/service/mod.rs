//! `onshi-helper service`: the resident process. One per OS user (a lock
//! file next to the socket; a second instance exits quietly), listening on
//! the local socket (see [`crate::ipc`]), refusing peers of another uid, and
//! answering browser frames through the [`dispatch::Dispatcher`].
//!
//! Each connection is one native host (one browser profile). Replies go back
//! on the connection that asked, already split into chunk frames when over
//! 1 MiB; events go to every connection of the same extension id.

pub mod dispatch;

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use onshi_core::protocol::frame::encode_from_helper;
use onshi_core::protocol::{ErrorCode, FromHelper, ProtocolError};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::browser::Browser;
use crate::config::Config;
use crate::ipc::{self, IpcError, Preamble, MAX_DOWN, MAX_UP};
use crate::store::{ExtensionId, Store};
use dispatch::{Caller, Dispatcher, Out, SystemEnv};

/// Whether this process became the service.
#[derive(Debug)]
pub enum Started {
    /// Another instance holds the lock; nothing was changed.
    AlreadyRunning,
    /// Ran and was stopped by a signal.
    Stopped,
}

/// Holds the single-instance lock for as long as it lives.
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// `Ok(None)` when another process holds it.
    pub fn acquire(socket: &Path) -> Result<Option<InstanceLock>, IpcError> {
        ipc::prepare_folder(socket)?;
        let path = ipc::lock_path(socket);
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(InstanceLock { _file: file, path })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e.into()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

type Shared = Arc<Mutex<Dispatcher<SystemEnv>>>;
/// Connection id → (extension id, frame sender).
type Conns = Arc<Mutex<HashMap<u64, (ExtensionId, mpsc::UnboundedSender<Vec<u8>>)>>>;

/// Runs the service until SIGTERM/SIGINT. Returns `Started::AlreadyRunning`
/// at once when another instance has the lock.
pub async fn run(socket: &Path, store: Store, config: Option<Config>) -> Result<Started, IpcError> {
    let Some(_lock) = InstanceLock::acquire(socket)? else { return Ok(Started::AlreadyRunning) };
    // We hold the lock, so a socket file left here is a dead instance's.
    let _ = std::fs::remove_file(socket);
    let listener = UnixListener::bind(socket)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    }
    let uid = ipc::own_uid()?;
    eprintln!("onshi-helper service: listening on {}", socket.display());
    let shared: Shared = Arc::new(Mutex::new(Dispatcher::new(store, config, SystemEnv)));
    let conns: Conns = Arc::new(Mutex::new(HashMap::new()));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let peer = stream.peer_cred().map(|c| c.uid()).ok();
                if peer != Some(uid) {
                    eprintln!("onshi-helper service: refused a connection from uid {peer:?} (own uid {uid})");
                    drop(stream);
                    continue;
                }
                next_id += 1;
                tokio::spawn(connection(next_id, stream, shared.clone(), conns.clone()));
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let _ = std::fs::remove_file(socket);
    eprintln!("onshi-helper service: stopped");
    Ok(Started::Stopped)
}

fn encode(frame: &FromHelper) -> Vec<Vec<u8>> {
    // encode_from_helper adds the browser's native-endian header; the socket
    // carries the JSON only (its own big-endian header is added on write).
    match encode_from_helper(frame) {
        Ok(frames) => frames.into_iter().map(|mut f| f.split_off(4)).collect(),
        Err(e) => {
            eprintln!("onshi-helper service: cannot encode a frame: {e}");
            match frame {
                FromHelper::Reply { id, .. } => {
                    let err = FromHelper::err(id.clone(), ProtocolError::too_large(onshi_core::protocol::MAX_REPLY));
                    vec![err.to_json().into_bytes()]
                }
                _ => Vec::new(),
            }
        }
    }
}

async fn connection(id: u64, stream: UnixStream, shared: Shared, conns: Conns) {
    let (mut rd, mut wr) = stream.into_split();
    let caller = match ipc::read_frame(&mut rd, 64 * 1024).await {
        Ok(Some(bytes)) => match serde_json::from_slice::<Preamble>(&bytes) {
            Ok(p) if p.relay == 1 => {
                let browser = if p.browser == "firefox" { Browser::Firefox } else { Browser::Chromium };
                match ExtensionId::new(&p.extension_id) {
                    Ok(extension_id) => Caller { extension_id, browser },
                    Err(e) => {
                        eprintln!("onshi-helper service: bad caller id: {e}");
                        return;
                    }
                }
            }
            _ => {
                eprintln!("onshi-helper service: connection without a valid preamble");
                return;
            }
        },
        _ => return,
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    if let Ok(mut c) = conns.lock() {
        c.insert(id, (caller.extension_id.clone(), tx.clone()));
    }
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if ipc::write_frame(&mut wr, &bytes, MAX_DOWN).await.is_err() {
                break;
            }
        }
    });
    loop {
        let bytes = match ipc::read_frame(&mut rd, MAX_UP).await {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                eprintln!("onshi-helper service: connection {id}: {e}");
                break;
            }
        };
        let outs = match std::str::from_utf8(&bytes) {
            Ok(text) => match shared.lock() {
                Ok(mut d) => d.handle(&caller, text),
                Err(_) => vec![Out::Reply(FromHelper::err("", ProtocolError::new(ErrorCode::Internal)))],
            },
            Err(_) => vec![Out::Reply(FromHelper::err("", ProtocolError::new(ErrorCode::BadRequest)))],
        };
        for out in outs {
            match out {
                Out::Reply(frame) => {
                    for f in encode(&frame) {
                        let _ = tx.send(f);
                    }
                }
                Out::Event { to, frame } => {
                    let targets: Vec<_> = conns
                        .lock()
                        .map(|c| c.values().filter(|(ext, _)| *ext == to).map(|(_, s)| s.clone()).collect())
                        .unwrap_or_default();
                    for f in encode(&frame) {
                        for t in &targets {
                            let _ = t.send(f.clone());
                        }
                    }
                }
            }
        }
    }
    if let Ok(mut c) = conns.lock() {
        c.remove(&id);
    }
    drop(tx);
    let _ = writer.await;
}
