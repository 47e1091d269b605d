//! The `oqs-folder` backend: talks to an official OQS terminal through its
//! linkage folders (domain.md §2). A request is written under a dot-named
//! temp file in `req/` and renamed, so the terminal never reads half a file;
//! the answer is the same-named file in `res/` (`req` → `res`), or a
//! `<base>.err` next to a copy of the request when the terminal refused it.
//! Face-recognition readers push results into `face/`; [`FaceWatcher`]
//! surfaces new ones on a channel.
//!
//! This backend never reads the card: the terminal does, so the card
//! challenge and confirm are `Unsupported`. It must not delete anything it did
//! not write (the clinic's receipt software may read `face/` too).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use onshi_core::protocol::Backend as WireBackend;
use tokio::sync::mpsc;

use super::{Backend, BackendError, BoxFuture, CardProof, Challenge, Query};

/// How often `res/` is looked at while a request is outstanding. Only then:
/// an idle helper does not poll `res/` at all.
const RESPONSE_POLL: Duration = Duration::from_millis(20);

/// How often `face/` is listed. Pushed results come when a patient stands at
/// the reader, so a one-second delay is invisible; a directory listing per
/// second costs nothing measurable (docs/benchmarks.md, idle CPU) and avoids
/// a file-notification dependency that differs per OS.
pub const FACE_POLL: Duration = Duration::from_secs(1);

/// The OQS-folder backend.
pub struct FolderBackend {
    root: PathBuf,
    timeout: Duration,
    seq: AtomicU64,
}

impl FolderBackend {
    /// `root` holds `req/ res/ face/`; `timeout` is `folder_response_secs`.
    /// The folders must exist (the terminal creates them); a missing one is
    /// reported by [`Backend::probe`] and by every query.
    pub fn new(root: impl Into<PathBuf>, timeout: Duration) -> Self {
        FolderBackend { root: root.into(), timeout, seq: AtomicU64::new(0) }
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
            // The terminal writes the `.err` last, after the copy: seeing it means both are complete.
            if let Ok(text) = tokio::fs::read(&err).await {
                let _ = tokio::fs::remove_file(&err).await;
                let _ = tokio::fs::remove_file(&copy).await;
                let rejection = onshi_core::message::Rejection::from_text(&decode_lossy(&text));
                return Err(BackendError::Rejected { code: rejection.code, message: rejection.message });
            }
            match tokio::fs::read(&answer).await {
                Ok(bytes) => {
                    let _ = tokio::fs::remove_file(&answer).await;
                    return Ok(bytes);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io("read", &answer, e)),
            }
            if Instant::now() >= deadline {
                // Take the request back so the terminal does not answer it later
                // into a file nobody reads (it may already have taken it).
                let _ = tokio::fs::remove_file(&dest).await;
                return Err(BackendError::Timeout { after: self.timeout });
            }
            tokio::time::sleep(RESPONSE_POLL).await;
        }
    }
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

/// Watches `face/` for new files. Files present when it starts are old news
/// and are not reported; nothing is deleted.
pub struct FaceWatcher {
    dir: PathBuf,
    seen: HashSet<String>,
}

impl FaceWatcher {
    pub fn new(root: &Path) -> Self {
        let dir = root.join("face");
        let seen = list(&dir).into_iter().collect();
        FaceWatcher { dir, seen }
    }

    /// The files that appeared since the last call, in name order. Temp and
    /// hidden files (still being written) are skipped until renamed.
    pub fn poll(&mut self) -> Vec<FaceFile> {
        let mut names = list(&self.dir);
        names.sort();
        let mut out = Vec::new();
        for name in names {
            if self.seen.contains(&name) {
                continue;
            }
            if let Ok(bytes) = std::fs::read(self.dir.join(&name)) {
                self.seen.insert(name.clone());
                out.push(FaceFile { name, bytes });
            }
        }
        out
    }

    /// Polls every [`FACE_POLL`] on a tokio task, sending new files, until
    /// the receiver is dropped.
    pub fn spawn(mut self) -> mpsc::UnboundedReceiver<FaceFile> {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FACE_POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if tx.is_closed() {
                    return;
                }
                for f in self.poll() {
                    if tx.send(f).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }
}

fn list(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.') && !n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use onshi_sim::folder::FolderOptions;

    /// A registry seeded once per test process (seeding takes a moment).
    pub(crate) fn registry() -> PathBuf {
        crate::backend::fake::registry_path()
    }

    /// The simulator's terminal, polling on its own thread until dropped.
    fn sim(dir: &Path) -> onshi_sim::folder::Background {
        let opts = FolderOptions {
            dir: dir.to_path_buf(),
            db: registry(),
            encoding: onshi_core::Encoding::ShiftJis,
            poll: Duration::from_millis(10),
            batch_delay: Duration::from_millis(0),
        };
        onshi_sim::folder::spawn(&opts).expect("responder")
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn request_gets_the_terminals_result() {
        let dir = tempfile::tempdir().unwrap();
        let _sim = sim(dir.path());
        let b = FolderBackend::new(dir.path(), Duration::from_secs(10));
        let req = crate::backend::fake::probe_request(0);
        let bytes = rt().block_on(b.query(Query::Individual, &req)).expect("answer");
        let parsed = onshi_core::parse(&bytes).expect("result parses");
        assert!(matches!(parsed.message, onshi_core::Message::IndividualResult(_)), "{:?}", parsed.message.kind());
        // Nothing is left behind in either folder.
        assert!(list(&dir.path().join("req")).is_empty());
        assert!(list(&dir.path().join("res")).is_empty(), "{:?}", list(&dir.path().join("res")));
    }

    #[test]
    fn refused_request_becomes_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let _sim = sim(dir.path());
        let b = FolderBackend::new(dir.path(), Duration::from_secs(10));
        let e = rt().block_on(b.query(Query::Individual, b"<XmlMsg><broken")).unwrap_err();
        match &e {
            BackendError::Rejected { code, message } => {
                assert!(!code.is_empty(), "{e:?}");
                assert!(!message.is_empty());
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
        assert!(e.explain().ja.contains("受け付けませんでした"));
        assert!(list(&dir.path().join("res")).is_empty(), "the copy and the .err are cleaned up");
    }

    #[test]
    fn no_terminal_times_out_and_takes_the_request_back() {
        let dir = tempfile::tempdir().unwrap();
        for s in ["req", "res", "face"] {
            std::fs::create_dir_all(dir.path().join(s)).unwrap();
        }
        let b = FolderBackend::new(dir.path(), Duration::from_millis(100));
        let e = rt().block_on(b.query(Query::Individual, b"<XmlMsg/>")).unwrap_err();
        assert!(matches!(e, BackendError::Timeout { .. }), "{e:?}");
        assert!(e.retryable());
        assert!(list(&dir.path().join("req")).is_empty());
    }

    #[test]
    fn missing_folder_and_card_calls_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let b = FolderBackend::new(dir.path().join("nowhere"), Duration::from_secs(1));
        let r = rt();
        assert!(matches!(r.block_on(b.probe()), Err(BackendError::Folder { .. })));
        assert!(matches!(r.block_on(b.query(Query::Individual, b"<x/>")), Err(BackendError::Folder { .. })));
        assert!(matches!(r.block_on(b.card_challenge()), Err(BackendError::Unsupported { .. })));
    }

    #[test]
    fn face_watcher_reports_only_new_complete_files() {
        let dir = tempfile::tempdir().unwrap();
        let face = dir.path().join("face");
        std::fs::create_dir_all(&face).unwrap();
        std::fs::write(face.join("OQSsiquc01res_face_old.xml"), b"<old/>").unwrap();
        let mut w = FaceWatcher::new(dir.path());
        assert!(w.poll().is_empty(), "files from before the start are not news");
        std::fs::write(face.join(".OQSsiquc01res_face_new.xml.tmp"), b"<half").unwrap();
        assert!(w.poll().is_empty());
        std::fs::write(face.join("OQSsiquc01res_face_new.xml"), b"<new/>").unwrap();
        let got = w.poll();
        assert_eq!(got, [FaceFile { name: "OQSsiquc01res_face_new.xml".into(), bytes: b"<new/>".to_vec() }]);
        assert!(w.poll().is_empty(), "reported once");
        assert!(face.join("OQSsiquc01res_face_new.xml").exists(), "never deleted");
    }
}
