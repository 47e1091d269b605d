//! `onshi-helper service`: the resident process. One per OS user (a lock
//! file per endpoint; a second instance exits quietly), listening on the
//! local link (a socket or named pipe, see [`crate::platform`]), which
//! refuses peers of another user, and answering browser frames through the
//! [`dispatch::Dispatcher`].
//!
//! Each connection is one native host (one browser profile). Replies go back
//! on the connection that asked, already split into chunk frames when over
//! 1 MiB; events go to every connection of the same extension id.

// `ProtocolError` is a few hundred bytes (bilingual text plus detail); errors
// are rare and leave the process as JSON at once (same reasoning as the core's
// protocol module), so boxing them would only make every handler noisier.
#![allow(clippy::result_large_err)]

pub mod connections;
pub mod dispatch;
pub mod eligibility;
mod flusher;
pub mod gate;
pub mod pairing;
pub mod runtime;
pub mod timing;
pub mod today;
mod usage;
#[cfg(test)]
mod stop_tests;
#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use onshi_core::protocol::{ErrorCode, FromHelper, ProtocolError};
use tokio::sync::{mpsc, Notify};
use zeroize::Zeroize;

use crate::browser::Browser;
use crate::card::access::PcscAccess;
use crate::config::{Backend, Config};
use crate::ipc::{self, Control, ControlCommand, ControlReply, IpcError, Opening, MAX_DOWN, MAX_UP};
use crate::platform::{self, Listener, Stream};
use crate::store::{Actor, AuditDetail, ExtensionId, Outcome, ServiceAction, Store};
use dispatch::Caller;
use runtime::{encode, Runtime, Settings};

/// Whether this process became the service.
#[derive(Debug)]
pub enum Started {
    /// Another instance holds the lock; nothing was changed.
    AlreadyRunning,
    /// Ran and was stopped (a signal or `service --stop`). The caller holds
    /// the lock until the process is about to exit: `service --stop` takes a
    /// free lock to mean "gone", and an uninstall then deletes the exe, which
    /// Windows refuses while the process still runs (seen under Wine: the
    /// runtime's shutdown after `run` outlasted the installer's wait).
    Stopped(InstanceLock),
}

/// Holds the single-instance lock for as long as it lives.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// `Ok(None)` when another process holds it.
    pub fn acquire(socket: &Path) -> Result<Option<InstanceLock>, IpcError> {
        platform::prepare_endpoint(socket)?;
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

/// The backend the config names. The gateway backend is built elsewhere
/// (`backend::gateway`); until it is wired in, this is its one call site.
pub fn backend_from_config(config: Option<&Config>) -> Result<Arc<dyn crate::backend::Backend>, ProtocolError> {
    let Some(config) = config else {
        let mut e = ProtocolError::new(ErrorCode::Internal);
        e.message = onshi_core::text::Bilingual::new(
            "ヘルパーの設定ファイルがないため、資格確認の接続先がわかりません。IT担当者に「onshi-helper config check」を実行してもらってください。",
            "The helper has no config file, so it does not know how to reach the eligibility system. Ask IT to run \"onshi-helper config check\".",
        );
        return Err(e);
    };
    match &config.backend {
        Backend::OqsFolder { path } => Ok(Arc::new(crate::backend::folder::FolderBackend::new(
            path.clone(),
            std::time::Duration::from_secs(config.timeouts.folder_response_secs),
        ))),
        Backend::Gateway { .. } => gateway_backend(config),
    }
}

/// The gateway backend from the config; a setup failure (unreadable PEM,
/// key not matching the certificate) becomes an `internal` error whose text
/// tells IT which file to fix.
fn gateway_backend(config: &Config) -> Result<Arc<dyn crate::backend::Backend>, ProtocolError> {
    use onshi_core::text::Explain;
    match crate::backend::gateway::GatewayBackend::from_config(config) {
        Ok(b) => Ok(Arc::new(b)),
        Err(err) => {
            let mut e = ProtocolError::new(ErrorCode::Internal);
            e.message = err.explain();
            Err(e)
        }
    }
}

/// Runs the service until it is told to stop: by the OS ([`platform::Terminate`])
/// or by `onshi-helper service --stop` on the link ([`stop`]).
/// Returns `Started::AlreadyRunning` at once when another instance has the lock.
pub async fn run(socket: &Path, store: Store, config: Option<Config>) -> Result<Started, IpcError> {
    let Some(lock) = InstanceLock::acquire(socket)? else { return Ok(Started::AlreadyRunning) };
    let mut listener = Listener::bind(socket)?;
    eprintln!("onshi-helper service: listening on {}", socket.display());
    let backend = backend_from_config(config.as_ref());
    if let Err(e) = &backend {
        eprintln!("onshi-helper service: no backend: {}", e.message.en);
    }
    let folder = match config.as_ref().map(|c| &c.backend) {
        Some(Backend::OqsFolder { path }) => Some(path.clone()),
        _ => None,
    };
    let settings = Settings::from_config(config.as_ref());
    let shared = match config.as_ref().map(|c| &c.store) {
        Some(crate::config::StoreKind::Postgres { url, ca }) => Some(crate::store::PgSettings { url: url.clone(), ca: ca.clone() }),
        _ => None,
    };
    let rt = Runtime::new(store, config, backend, Arc::new(PcscAccess), settings);
    rt.resume_batches();
    rt.listen_shared();
    // A shared store: its heartbeat, and the sender of what was queued on
    // this PC while it was down (issue 17).
    if let Some(pg) = shared {
        tokio::spawn(flusher::run(rt.clone(), pg));
    }
    if let Some(path) = folder {
        let mut faces = crate::backend::folder::FaceWatcher::new(&path).spawn();
        let rt = rt.clone();
        tokio::spawn(async move {
            while let Some(f) = faces.recv().await {
                rt.face_result(&f.bytes);
            }
        });
    }
    // Reader and card events: the watcher blocks in PC/SC on its own thread;
    // a forwarding thread hands them to the runtime. Without pcscd there are
    // simply no events (status shows no readers; doctor explains).
    let _watcher = match crate::card::events::watch() {
        Ok((watcher, events)) => {
            let rt = rt.clone();
            let _ = std::thread::Builder::new().name("card-events-forward".into()).spawn(move || {
                while let Ok(e) = events.recv() {
                    rt.card_event(e);
                }
            });
            Some(watcher)
        }
        Err(e) => {
            eprintln!("onshi-helper service: no reader events: {e}");
            None
        }
    };
    let mut term = platform::Terminate::new()?;
    let stop = Arc::new(Notify::new());
    let mut next_id = 0u64;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("onshi-helper service: accept failed: {e}");
                        // Not a busy loop when the OS keeps failing (e.g. out of handles).
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                };
                next_id += 1;
                tokio::spawn(connection(next_id, stream, rt.clone(), stop.clone()));
            }
            _ = term.recv() => break,
            _ = stop.notified() => break,
        }
    }
    listener.close(socket);
    eprintln!("onshi-helper service: stopped");
    Ok(Started::Stopped(lock))
}

/// What `service --stop` found.
#[derive(Debug, PartialEq, Eq)]
pub enum StopOutcome {
    /// The service answered and has let go of its lock: it has exited or is
    /// about to (nothing is left for it to do but return).
    Stopped,
    /// Nothing listens on the endpoint.
    NotRunning,
    /// It answered but still held its lock after [`STOP_WAIT`].
    StillRunning,
}

/// How long `--stop` waits for the service to let go of its lock.
pub const STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Asks the service on `socket` to stop and waits until its lock is free.
/// Only a process of the same OS user can reach the link (the platform
/// layer's rules), which is what this relies on: there is no other secret.
pub async fn stop(socket: &Path) -> Result<StopOutcome, IpcError> {
    let Ok(stream) = platform::connect(socket).await else {
        return Ok(StopOutcome::NotRunning);
    };
    let (mut rd, mut wr) = tokio::io::split(stream);
    let command = serde_json::to_vec(&Control { control: ControlCommand::Stop }).map_err(|e| IpcError::Io(std::io::Error::other(e)))?;
    ipc::write_frame(&mut wr, &command, 64 * 1024).await?;
    match ipc::read_frame(&mut rd, MAX_DOWN).await? {
        Some(bytes) if serde_json::from_slice::<ControlReply>(&bytes).is_ok_and(|r| r.stopping) => {}
        // An older service that does not know the command closes the link.
        _ => return Ok(StopOutcome::StillRunning),
    }
    let deadline = tokio::time::Instant::now() + STOP_WAIT;
    loop {
        if InstanceLock::acquire(socket)?.is_some() {
            return Ok(StopOutcome::Stopped);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(StopOutcome::StillRunning);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn connection(id: u64, stream: Stream, rt: Arc<Runtime>, stop: Arc<Notify>) {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let caller = match ipc::read_frame(&mut rd, 64 * 1024).await {
        Ok(Some(bytes)) => match serde_json::from_slice::<Opening>(&bytes) {
            Ok(Opening::Control(Control { control: ControlCommand::Stop })) => {
                // Audited before the reply, so the entry exists when `--stop` returns.
                rt.with_dispatcher(|d| d.audit(&Actor::Cli, Outcome::Ok, &AuditDetail::Service { action: ServiceAction::Stop }));
                eprintln!("onshi-helper service: told to stop by onshi-helper service --stop");
                if let Ok(reply) = serde_json::to_vec(&ControlReply { stopping: true }) {
                    let _ = ipc::write_frame(&mut wr, &reply, MAX_DOWN).await;
                }
                stop.notify_one();
                return;
            }
            Ok(Opening::Relay(p)) if p.relay == 1 => {
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
    rt.connect(id, caller.extension_id.clone(), tx.clone());
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if ipc::write_frame(&mut wr, &bytes, MAX_DOWN).await.is_err() {
                break;
            }
        }
    });
    loop {
        let mut bytes = match ipc::read_frame(&mut rd, MAX_UP).await {
            Ok(Some(b)) => b,
            Ok(None) => break,
            Err(e) => {
                eprintln!("onshi-helper service: connection {id}: {e}");
                break;
            }
        };
        match std::str::from_utf8(&bytes) {
            Ok(text) => rt.handle(&caller, &tx, text),
            Err(_) => {
                for f in encode(&FromHelper::err("", ProtocolError::new(ErrorCode::BadRequest))) {
                    let _ = tx.send(f);
                }
            }
        }
        // The frame may have carried a PIN: wipe our copy of the bytes.
        bytes.zeroize();
    }
    rt.disconnect(id);
    drop(tx);
    let _ = writer.await;
}
