//! The `oqs-folder` backend: talks to an official OQS terminal through its
//! linkage folders (domain.md §2), on a local path or a share
//! (`\\SHIKAKU-PC\OQS`). A request is written under a dot-named temp file
//! in `req/` and renamed, so the terminal never reads half a file; the
//! answer is the same-named file in `res/` (`req` → `res`), or a
//! `<base>.err` next to a copy of the request when the terminal refused it.
//! Face-recognition readers push results into `face/`; [`FaceWatcher`]
//! surfaces new ones on a channel. The terminal does not write atomically,
//! so every file is read through [`readiness`]: one that is held open or
//! half written is waited for, not reported broken.
//!
//! This backend never reads the card: the terminal does, so the card
//! challenge and confirm are `Unsupported`. It must not delete anything it did
//! not write (the clinic's receipt software may read `face/` too), nor an
//! answer it has not read in full.

mod readiness;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use onshi_core::protocol::Backend as WireBackend;
use onshi_core::text::Bilingual;
use tokio::sync::mpsc;

use super::{Backend, BackendError, BoxFuture, CardProof, Challenge, Query};
use readiness::{read_when_ready, Attempt, IsBusy, Shape};

/// How often `res/` is looked at while a request is outstanding. Only then:
/// an idle helper does not poll `res/` at all.
const RESPONSE_POLL: Duration = Duration::from_millis(20);

/// How often `face/` is listed. Pushed results come when a patient stands at
/// the reader, so a one-second delay is invisible; a directory listing per
/// second costs nothing measurable (docs/benchmarks.md, idle CPU) and avoids
/// a file-notification dependency that differs per OS (and that a share
/// may not deliver at all).
pub const FACE_POLL: Duration = Duration::from_secs(1);

/// How long a file in `face/` may stay held or unfinished before the
/// watcher gives up on it and says so. A result is a few kilobytes; a
/// terminal that has not finished one in a minute has stopped.
pub const FACE_PATIENCE: Duration = Duration::from_secs(60);

/// The OQS-folder backend.
pub struct FolderBackend {
    root: PathBuf,
    timeout: Duration,
    seq: AtomicU64,
    is_busy: IsBusy,
}

impl FolderBackend {
    /// `root` holds `req/ res/ face/`; `timeout` is `folder_response_secs`.
    /// The folders must exist (the terminal creates them); a missing one is
    /// reported by [`Backend::probe`] and by every query.
    pub fn new(root: impl Into<PathBuf>, timeout: Duration) -> Self {
        FolderBackend { root: root.into(), timeout, seq: AtomicU64::new(0), is_busy: crate::platform::is_busy }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file name no other request of this process (or an earlier run) uses:
    /// `<prefix>_<unix millis><pid><seq>.xml`.
    fn request_name(&self, query: Query) -> String {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        format!("{}_{millis}{:06}{seq:04}.xml", query.prefix(), std::process::id() % 1_000_000)
    }

    async fn exchange(&self, query: Query, request_xml: &[u8]) -> Result<Vec<u8>, BackendError> {
        let req = self.root.join("req");
        let res = self.root.join("res");
        for dir in [&req, &res] {
            if !dir.is_dir() {
                return Err(BackendError::Folder { detail: format!("{} is not a folder", dir.display()) });
            }
        }
        let name = self.request_name(query);
        let tmp = req.join(format!(".{name}.tmp"));
        let io = |what: &str, p: &Path, e: std::io::Error| BackendError::Folder { detail: format!("{what} {}: {e}", p.display()) };
        tokio::fs::write(&tmp, request_xml).await.map_err(|e| io("write", &tmp, e))?;
        let dest = req.join(&name);
        if let Err(e) = tokio::fs::rename(&tmp, &dest).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io("rename into", &dest, e));
        }
        let answer = res.join(result_name(&name));
        let err = res.join(err_name(&name));
        let copy = res.join(&name);
        let deadline = Instant::now() + self.timeout;
        loop {
            // The terminal writes the `.err` last, after the copy: a complete `.err` means both are there.
            match read_when_ready(&err, Shape::Text, deadline, self.is_busy).await {
                Ok(Some(text)) => {
                    let _ = tokio::fs::remove_file(&err).await;
                    let _ = tokio::fs::remove_file(&copy).await;
                    let rejection = onshi_core::message::Rejection::from_text(&decode_lossy(&text));
                    return Err(BackendError::Rejected { code: rejection.code, message: rejection.message });
                }
                Ok(None) => {}
                Err(e) => return Err(take_back(&dest, e).await),
            }
            match read_when_ready(&answer, Shape::Xml, deadline, self.is_busy).await {
                Ok(Some(bytes)) => {
                    // Read in full: only now is the answer ours to remove.
                    let _ = tokio::fs::remove_file(&answer).await;
                    return Ok(bytes);
                }
                Ok(None) => {}
                Err(e) => return Err(take_back(&dest, e).await),
            }
            if Instant::now() >= deadline {
                return Err(take_back(&dest, BackendError::Timeout { after: self.timeout }).await);
            }
            tokio::time::sleep(RESPONSE_POLL).await;
        }
    }
}

/// Takes a request back out of `req/` when its exchange fails, so the
/// terminal does not answer it later into a file nobody reads (it may
/// already have taken it: then there is nothing to remove).
async fn take_back(request: &Path, e: BackendError) -> BackendError {
    let _ = tokio::fs::remove_file(request).await;
    e
}

/// `.err` files are short text, UTF-8 or Shift_JIS (the core's decoder guesses).
fn decode_lossy(bytes: &[u8]) -> String {
    match onshi_core::xml::decode(bytes, 1 << 20) {
        Ok((text, _, _)) => text.into_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// `OQSsiquc01req_1.xml` → `OQSsiquc01res_1.xml` (the terminal's rule).
pub fn result_name(request: &str) -> String {
    request.replacen("req", "res", 1)
}

/// `OQSsiquc01req_1.xml` → `OQSsiquc01req_1.err`.
pub fn err_name(request: &str) -> String {
    let base = request.rsplit_once('.').map_or(request, |(b, _)| b);
    format!("{base}.err")
}

impl Backend for FolderBackend {
    fn kind(&self) -> WireBackend {
        WireBackend::OqsFolder
    }

    fn query<'a>(&'a self, query: Query, request_xml: &'a [u8]) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(self.exchange(query, request_xml))
    }

    fn card_challenge(&self) -> BoxFuture<'_, Result<Challenge, BackendError>> {
        Box::pin(async { Err(BackendError::Unsupported { backend: "oqs-folder", what: "card challenge" }) })
    }

    fn card_confirm<'a>(&'a self, _proof: &'a CardProof) -> BoxFuture<'a, Result<Vec<u8>, BackendError>> {
        Box::pin(async { Err(BackendError::Unsupported { backend: "oqs-folder", what: "card confirm" }) })
    }

    fn probe(&self) -> BoxFuture<'_, Result<(), BackendError>> {
        Box::pin(async move {
            for sub in ["req", "res", "face"] {
                let dir = self.root.join(sub);
                if !dir.is_dir() {
                    return Err(BackendError::Folder { detail: format!("{} is not a folder", dir.display()) });
                }
            }
            Ok(())
        })
    }
}

/// A result document a face-recognition reader pushed into `face/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What the watcher tells the service log. No request waits for a face
/// file, so there is nobody else to tell.
#[derive(Debug)]
pub enum FaceNote {
    /// `face/` cannot be listed (a share unreachable for a moment). Said
    /// once; the watcher keeps trying.
    Unreachable(BackendError),
    /// `face/` can be listed again after [`FaceNote::Unreachable`].
    Reachable,
    /// A file stayed held, unfinished or unreadable for [`FACE_PATIENCE`].
    /// It is left where it is and not tried again.
    GaveUp(BackendError),
}

impl FaceNote {
    pub fn explain(&self) -> Bilingual {
        match self {
            FaceNote::Unreachable(e) | FaceNote::GaveUp(e) => e.explain(),
            FaceNote::Reachable => Bilingual::new(
                "資格確認端末の face/ フォルダーを再び読めるようになりました。",
                "The terminal's face/ folder can be read again.",
            ),
        }
    }
}

/// One [`FaceWatcher::poll`]: the new complete files, and what to log.
#[derive(Debug)]
pub struct FacePoll {
    pub files: Vec<FaceFile>,
    pub notes: Vec<FaceNote>,
}

/// Watches `face/` for new files. Files present when it starts are old news
/// and are not reported; nothing is deleted.
pub struct FaceWatcher {
    dir: PathBuf,
    /// Names already reported, given up on, or there before the start.
    seen: HashSet<String>,
    /// Whether `face/` has been listed once. A watcher started while the
    /// share was unreachable takes its first listing as the old news, so
    /// a day's results are not all reported when the share comes back.
    started: bool,
    /// Files listed but not ready yet, and when each was first listed.
    waiting: HashMap<String, Instant>,
    /// Whether the last listing failed (so failure and recovery are each said once).
    unreachable: bool,
    notes: Vec<FaceNote>,
    is_busy: IsBusy,
}

impl FaceWatcher {
    pub fn new(root: &Path) -> Self {
        let mut w = FaceWatcher {
            dir: root.join("face"),
            seen: HashSet::new(),
            started: false,
            waiting: HashMap::new(),
            unreachable: false,
            notes: Vec::new(),
            is_busy: crate::platform::is_busy,
        };
        w.listing();
        w
    }

    /// Lists `face/`; on the first success everything listed is old news.
    /// `None` when it cannot be listed (noted once).
    fn listing(&mut self) -> Option<Vec<String>> {
        match list(&self.dir) {
            Ok(names) => {
                if std::mem::take(&mut self.unreachable) {
                    self.notes.push(FaceNote::Reachable);
                }
                if !std::mem::replace(&mut self.started, true) {
                    self.seen.extend(names);
                    return Some(Vec::new());
                }
                Some(names)
            }
            Err(e) => {
                if !std::mem::replace(&mut self.unreachable, true) {
                    let detail = format!("list {}: {e}", self.dir.display());
                    self.notes.push(FaceNote::Unreachable(BackendError::Folder { detail }));
                }
                None
            }
        }
    }

    /// The files that became complete since the last call, in name order.
    /// Temp and hidden files are skipped until renamed; a file being written
    /// is reported once [`readiness`] says it is complete.
    pub fn poll(&mut self) -> FacePoll {
        let mut files = Vec::new();
        let mut names = self.listing().unwrap_or_default();
        names.sort();
        let now = Instant::now();
        for name in names {
            if self.seen.contains(&name) {
                continue;
            }
            let path = self.dir.join(&name);
            let first = *self.waiting.entry(name.clone()).or_insert(now);
            let waited = now - first;
            let overdue = match readiness::judge(std::fs::read(&path), Shape::Xml, None, self.is_busy) {
                Attempt::Ready(bytes) => {
                    files.push(FaceFile { name: name.clone(), bytes });
                    None
                }
                Attempt::Missing => {
                    self.waiting.remove(&name);
                    continue;
                }
                Attempt::NotYet(n) => Some(n.overdue(&path, waited)),
                // Unreadable for a moment (a share dropping mid-read) is retried like the rest.
                Attempt::Failed(e) => Some(BackendError::Folder { detail: format!("read {}: {e}", path.display()) }),
            };
            match overdue {
                Some(_) if waited < FACE_PATIENCE => continue,
                Some(e) => self.notes.push(FaceNote::GaveUp(e)),
                None => {}
            }
            self.waiting.remove(&name);
            self.seen.insert(name);
        }
        FacePoll { files, notes: std::mem::take(&mut self.notes) }
    }

    /// Polls every [`FACE_POLL`] on a tokio task, sending new files and
    /// logging notes, until the receiver is dropped.
    pub fn spawn(self) -> mpsc::UnboundedReceiver<FaceFile> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut watcher = self;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FACE_POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if tx.is_closed() {
                    return;
                }
                // Listing and reading a share can block for many seconds while
                // it is unreachable: keep that off the runtime's threads.
                let polled = tokio::task::spawn_blocking(move || {
                    let news = watcher.poll();
                    (watcher, news)
                });
                let news = match polled.await {
                    Ok((back, news)) => {
                        watcher = back;
                        news
                    }
                    Err(e) => {
                        eprintln!("onshi-helper service: face/ watcher stopped: {e}");
                        return;
                    }
                };
                for note in news.notes {
                    eprintln!("onshi-helper service: {}", note.explain().en);
                }
                for f in news.files {
                    if tx.send(f).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }
}

fn list(dir: &Path) -> std::io::Result<Vec<String>> {
    Ok(std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.') && !n.ends_with(".tmp"))
        .collect())
}
