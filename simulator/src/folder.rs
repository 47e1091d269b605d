//! The OQS-folder responder: emulates the official terminal's linkage app on
//! a shared folder (domain.md §2). Watches `req/` by polling, answers each
//! request into `res/` under the matching name (`req` → `res`), writes a
//! copy plus `<base>.err` for a refused request, then deletes the request.
//!
//! Every output is written to a dot-named temp file in `res/` and renamed,
//! so a reader never sees half a file; for a refusal the copy is renamed
//! first and the `.err` last, so whoever sees the `.err` finds the copy.

use std::collections::HashMap;
use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use onshi_core::Encoding;
use onshi_core::message::{BulkRegistrationBody, Msg};
use rusqlite::{Connection, OpenFlags};

use crate::answer::{self, Answer, BatchStatus, Batches, PendingBatch, Written};
use crate::sent::SentLog;

/// Options of `onshi-sim oqs-folder`.
#[derive(Debug, Clone)]
pub struct FolderOptions {
    pub dir: PathBuf,
    pub db: PathBuf,
    pub encoding: Encoding,
    pub poll: Duration,
    pub batch_delay: Duration,
    /// Append a JSON line per answer file (length and SHA-256, never the
    /// body) to this file ([`crate::sent`]).
    pub log: Option<PathBuf>,
}

/// Why the responder could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FolderError {
    #[error("cannot prepare {path}: {source}")]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("cannot open the registry {path}: {source}")]
    Registry { path: PathBuf, source: rusqlite::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    /// A face result cannot be pushed for this person (unknown, card not
    /// registered, registry unreadable); the message says which.
    #[error("no face result for {person}: {}", message.en)]
    Card { person: String, message: onshi_core::text::Bilingual },
}

impl FolderError {
    pub fn explain(&self) -> onshi_core::text::Bilingual {
        let ja = match self {
            FolderError::Dir { path, .. } => format!("フォルダ {} を用意できません。場所と権限を確認してください。", path.display()),
            FolderError::Registry { path, .. } => {
                format!("資格情報データベース {} を開けません。`onshi-sim registry seed` で作ってください。", path.display())
            }
            FolderError::Write { path, .. } => format!("{} に書き込めません。空き容量と権限を確認してください。", path.display()),
            FolderError::Card { message, .. } => message.ja.clone(),
        };
        onshi_core::text::Bilingual { ja, en: self.to_string() }
    }
}

/// Accepted batches, in memory (a restart forgets them, as a reboot of the
/// terminal would not — good enough for tests and training). Shared by the
/// OQS-folder responder and the gateway (through [`SharedBatches`]).
///
/// A batch is "still processing" until the configured delay has passed and,
/// for one handed to a background worker ([`BatchBook::insert_background`]),
/// until the worker has filled its [`BatchSlot`] too. A batch kept with
/// [`BatchBook::insert`] is answered at its first download after the delay.
#[derive(Default)]
pub struct BatchBook {
    next: u32,
    delay: Duration,
    batches: HashMap<String, Entry>,
    /// Bulk registrations, answered at once (registering is quick), kept
    /// until downloaded as often as asked.
    registrations: HashMap<String, Arc<Msg<BulkRegistrationBody>>>,
}

#[derive(Clone)]
struct Entry {
    batch: Arc<PendingBatch>,
    ready_at: Instant,
    /// `None`: answered on download; `Some`: written by a background worker.
    slot: Option<BatchSlot>,
}

impl Entry {
    /// The one place that decides "processing" versus done.
    fn status(&self) -> BatchStatus<'_> {
        let delay_over = Instant::now() >= self.ready_at;
        match (&self.slot, delay_over) {
            (None, true) => BatchStatus::Due(&self.batch),
            (Some(slot), true) => match slot.get() {
                Some(result) => BatchStatus::Finished(&self.batch, result),
                None => BatchStatus::Processing(&self.batch),
            },
            (_, false) => BatchStatus::Processing(&self.batch),
        }
    }
}

/// Where a background worker leaves a batch's written result.
#[derive(Clone, Default)]
pub struct BatchSlot(Arc<OnceLock<Result<Written, answer::Refusal>>>);

impl BatchSlot {
    /// Stores the result; later calls are ignored (a batch is done once).
    pub fn fill(&self, result: Result<Written, answer::Refusal>) {
        let _ = self.0.set(result);
    }

    fn get(&self) -> Option<&Result<Written, answer::Refusal>> {
        self.0.get()
    }
}

impl BatchBook {
    pub fn new(delay: Duration) -> Self {
        BatchBook { next: 1, delay, batches: HashMap::new(), registrations: HashMap::new() }
    }

    /// Keeps an accepted batch, answered at the first download after the delay.
    pub fn insert(&mut self, reception: String, batch: PendingBatch) {
        let entry = Entry { batch: Arc::new(batch), ready_at: Instant::now() + self.delay, slot: None };
        self.batches.insert(reception, entry);
    }

    /// Keeps an accepted batch that a background worker answers: the batch
    /// to work on and the slot to fill. It stays "processing" until both
    /// the delay has passed and the slot is filled.
    pub fn insert_background(&mut self, reception: String, batch: PendingBatch) -> (Arc<PendingBatch>, BatchSlot) {
        let (batch, slot) = (Arc::new(batch), BatchSlot::default());
        let entry = Entry { batch: batch.clone(), ready_at: Instant::now() + self.delay, slot: Some(slot.clone()) };
        self.batches.insert(reception, entry);
        (batch, slot)
    }
}

impl Batches for BatchBook {
    fn next_reception(&mut self, now: &str) -> String {
        let n = answer::reception_number(now, self.next);
        self.next += 1;
        n
    }

    fn status(&self, reception: &str) -> Option<BatchStatus<'_>> {
        self.batches.get(reception).map(Entry::status)
    }

    fn keep_registrations(&mut self, reception: String, done: Msg<BulkRegistrationBody>) {
        self.registrations.insert(reception, Arc::new(done));
    }

    fn registrations(&self, reception: &str) -> Option<Arc<Msg<BulkRegistrationBody>>> {
        self.registrations.get(reception).cloned()
    }
}

/// A [`BatchBook`] behind a mutex, seen by one request: the lock is held only
/// to issue a number or to fetch a batch, never while a batch is answered,
/// so concurrent requests (the gateway) do not wait on each other.
/// One request looks up at most one reception number (what [`answer::answer`] does).
pub struct SharedBatches<'a> {
    book: &'a Mutex<BatchBook>,
    found: OnceCell<Option<Entry>>,
}

impl<'a> SharedBatches<'a> {
    pub fn new(book: &'a Mutex<BatchBook>) -> Self {
        SharedBatches { book, found: OnceCell::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'a, BatchBook> {
        // A panic elsewhere while holding the lock leaves a usable book.
        self.book.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Batches for SharedBatches<'_> {
    fn next_reception(&mut self, now: &str) -> String {
        self.lock().next_reception(now)
    }

    fn status(&self, reception: &str) -> Option<BatchStatus<'_>> {
        // A copy of the entry (two `Arc`s and an instant), so the lock is released at once.
        self.found.get_or_init(|| self.lock().batches.get(reception).cloned()).as_ref().map(Entry::status)
    }

    fn keep_registrations(&mut self, reception: String, done: Msg<BulkRegistrationBody>) {
        self.lock().keep_registrations(reception, done);
    }

    fn registrations(&self, reception: &str) -> Option<Arc<Msg<BulkRegistrationBody>>> {
        // A copy of the `Arc` only: the lock is not held while it is written out.
        self.lock().registrations(reception)
    }
}

/// Now in Japan time (UTC+9, no daylight saving) as `YYYYMMDDHHmmss`.
pub fn now_jst() -> String {
    let secs = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0) + 9 * 3600;
    let date = onshi_core::wareki::Date::from_days(secs.div_euclid(86_400));
    let (y, m, d) = (date.year(), date.month(), date.day());
    let s = secs.rem_euclid(86_400);
    format!("{y:04}{m:02}{d:02}{:02}{:02}{:02}", s / 3600, s % 3600 / 60, s % 60)
}

/// `OQSsiquc01req_202611250001.xml` → `OQSsiquc01res_202611250001.xml`.
pub fn result_name(request: &str) -> String {
    request.replacen("req", "res", 1)
}

/// `OQSsiquc01req_202611250001.xml` → `OQSsiquc01req_202611250001.err`.
pub fn err_name(request: &str) -> String {
    let base = request.rsplit_once('.').map_or(request, |(b, _)| b);
    format!("{base}.err")
}

/// Whether a name in `req/` is a finished request (not a temp or hidden file).
fn is_request(name: &str) -> bool {
    !name.starts_with('.') && !name.ends_with(".tmp")
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), FolderError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let dest = dir.join(name);
    std::fs::write(&tmp, bytes).map_err(|source| FolderError::Write { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, &dest).map_err(|source| FolderError::Write { path: dest, source })
}

/// The responder: folders, registry and batch book.
pub struct Responder {
    req: PathBuf,
    res: PathBuf,
    conn: Connection,
    encoding: Encoding,
    batches: BatchBook,
    log: Option<SentLog>,
}

impl Responder {
    /// Creates `req/ res/ face/` if missing and opens the registry
    /// read-write (`OQSsiimm01req` stores the clinic's reference numbers).
    pub fn open(opts: &FolderOptions) -> Result<Self, FolderError> {
        for sub in ["req", "res", "face"] {
            let path = opts.dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| FolderError::Dir { path, source })?;
        }
        let conn = Connection::open_with_flags(&opts.db, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|source| FolderError::Registry { path: opts.db.clone(), source })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|source| FolderError::Registry { path: opts.db.clone(), source })?;
        // Opening is lazy; a query proves the file is a registry.
        conn.query_row("SELECT count(*) FROM qualifications", [], |r| r.get::<_, i64>(0))
            .map_err(|source| FolderError::Registry { path: opts.db.clone(), source })?;
        let log = match &opts.log {
            Some(path) => Some(SentLog::open(path).map_err(|source| FolderError::Write { path: path.clone(), source })?),
            None => None,
        };
        Ok(Responder {
            log,
            req: opts.dir.join("req"),
            res: opts.dir.join("res"),
            conn,
            encoding: opts.encoding,
            batches: BatchBook::new(opts.batch_delay),
        })
    }

    /// Answers every finished request now in `req/` (in name order) and
    /// returns how many were handled. A file that fails is reported on
    /// stderr and the rest carry on.
    pub fn poll_once(&mut self) -> Result<usize, FolderError> {
        let entries = std::fs::read_dir(&self.req).map_err(|source| FolderError::Dir { path: self.req.clone(), source })?;
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| is_request(n))
            .collect();
        names.sort();
        for name in &names {
            if let Err(e) = self.handle(name) {
                let m = e.explain();
                eprintln!("{}\n{}", m.ja, m.en);
            }
        }
        Ok(names.len())
    }

    fn handle(&mut self, name: &str) -> Result<(), FolderError> {
        let path = self.req.join(name);
        let now = now_jst();
        // An unreadable file is answered like an empty one.
        let bytes = std::fs::read(&path).unwrap_or_default();
        let outcome = answer::answer(&self.conn, name, &bytes, &now, self.encoding, &mut self.batches);
        // Written answers (batch results) are shared, not copied.
        let answer: (String, std::sync::Arc<[u8]>) = match outcome {
            Answer::Reply(msg) => (result_name(name), msg.write(self.encoding).into()),
            Answer::Accepted { reply, reception, batch } => {
                self.batches.insert(reception, *batch);
                (result_name(name), reply.write(self.encoding).into())
            }
            Answer::Written(Written(bytes)) => (result_name(name), bytes),
            Answer::Refused { refusal, .. } => {
                eprintln!("refused {name}: {refusal}");
                write_atomic(&self.res, name, &bytes)?;
                (err_name(name), refusal.rejection().write(self.encoding).into())
            }
        };
        write_atomic(&self.res, &answer.0, &answer.1)?;
        if let Some(log) = &self.log {
            log.wrote(name, &answer.0, &answer.1);
        }
        // The request is deleted once answered (the answer or the copy is in res/).
        std::fs::remove_file(&path).map_err(|source| FolderError::Write { path, source })
    }
}

/// The terminal read a My Number card: writes its face-style result
/// (`OQSsiquc01res_face_<institution>_<yyyyMMddHHmmss>.xml`, the name pattern
/// of domain.md §2) into `dir/face/`, atomically, and returns its path. The
/// person must exist and have a card registered for insurance use. Two pushes
/// in one second would share a name, so the second waits for the next second.
pub fn push_face(
    dir: &Path,
    db: &Path,
    person: &str,
    institution: &str,
    limit_consent: bool,
    encoding: Encoding,
) -> Result<PathBuf, FolderError> {
    let face = dir.join("face");
    std::fs::create_dir_all(&face).map_err(|source| FolderError::Dir { path: face.clone(), source })?;
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|source| FolderError::Registry { path: db.to_path_buf(), source })?;
    let card_error = |message: onshi_core::text::Bilingual| FolderError::Card { person: person.to_string(), message };
    match answer::card_registered(&conn, person) {
        Ok(Some(true)) => {}
        Ok(Some(false)) => {
            return Err(card_error(onshi_core::gateway_wire::ErrorCode::CardNotRegistered.message()));
        }
        Ok(None) => return Err(card_error(onshi_core::gateway_wire::ErrorCode::UnknownCertificate.message())),
        Err(r) => return Err(card_error(r.message)),
    }
    let (name, now) = loop {
        let now = now_jst();
        let name = format!("OQSsiquc01res_face_{institution}_{now}.xml");
        if !face.join(&name).exists() {
            break (name, now);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let msg = answer::card_result(&conn, person, institution, limit_consent, &now, encoding).map_err(|r| card_error(r.message))?;
    write_atomic(&face, &name, &onshi_core::Message::FaceResult(msg).write(encoding))?;
    Ok(face.join(name))
}

/// A responder polling on its own thread until this guard drops — how tests
/// and the demo-less tools run "the terminal" in-process.
pub struct Background {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Opens the responder (errors surface here, not on the thread) and polls it
/// every `opts.poll` until the returned guard drops.
pub fn spawn(opts: &FolderOptions) -> Result<Background, FolderError> {
    let mut r = Responder::open(opts)?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = stop.clone();
    let poll = opts.poll;
    let thread = std::thread::spawn(move || {
        while !s.load(std::sync::atomic::Ordering::Relaxed) {
            // A failed round (a file vanished mid-read) is retried next round.
            let _ = r.poll_once();
            std::thread::sleep(poll);
        }
    });
    Ok(Background { stop, thread: Some(thread) })
}

/// Runs the responder until the process ends; prints `oqs-folder ready: DIR` once watching.
pub fn run(opts: &FolderOptions) -> Result<(), FolderError> {
    let mut responder = Responder::open(opts)?;
    println!("oqs-folder ready: {}", opts.dir.display());
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    loop {
        responder.poll_once()?;
        std::thread::sleep(opts.poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(result_name("OQSsiquc01req_202611250001.xml"), "OQSsiquc01res_202611250001.xml");
        assert_eq!(err_name("OQSsiquc01req_202611250001.xml"), "OQSsiquc01req_202611250001.err");
        assert!(!is_request(".x.xml") && !is_request("a.xml.tmp") && is_request("OQSsiquc01req_1.xml"));
    }

    #[test]
    fn civil_dates() {
        // The folder's timestamps use core's calendar; check the dates it relies on.
        let civil = |days| {
            let d = onshi_core::wareki::Date::from_days(days);
            (d.year(), d.month(), d.day())
        };
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_417), (2025, 11, 25));
        assert_eq!(civil(11_016), (2000, 2, 29));
    }
}
