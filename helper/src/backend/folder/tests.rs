//! The folder backend against real files: the simulator's terminal for the
//! normal exchanges, and a hand-played terminal (a thread) for files that
//! are held open or written in pieces.

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
        log: None,
    };
    onshi_sim::folder::spawn(&opts).expect("responder")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    list(dir).expect("listable")
}

/// `req/ res/ face/` with no terminal behind them.
fn folders() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for s in ["req", "res", "face"] {
        std::fs::create_dir_all(dir.path().join(s)).unwrap();
    }
    dir
}

/// A terminal played by hand: waits for the request, takes it out of
/// `req/` and hands its name to `answer`, on its own thread.
fn terminal(root: &Path, answer: impl FnOnce(&Path, &str) + Send + 'static) -> std::thread::JoinHandle<()> {
    let root = root.to_path_buf();
    std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(10);
        let name = loop {
            if let Some(n) = names(&root.join("req")).into_iter().next() {
                break n;
            }
            assert!(Instant::now() < until, "no request arrived");
            std::thread::sleep(Duration::from_millis(5));
        };
        std::fs::remove_file(root.join("req").join(&name)).unwrap();
        answer(&root.join("res"), &name);
    })
}

const ANSWER: &[u8] = concat!(
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n",
    "<XmlMsg><MessageHeader><SegmentOfResult>1</SegmentOfResult></MessageHeader>\r\n",
    "<MessageBody><ProcessingResultStatus>1</ProcessingResultStatus></MessageBody></XmlMsg>\r\n",
)
.as_bytes();

/// Stands in for "held by the terminal": Linux cannot refuse a read the
/// way Windows does, but reading a directory fails (EISDIR), and the tests'
/// classifier calls that error busy.
fn dir_is_busy(e: &std::io::Error) -> bool {
    // Linux says EISDIR; Windows (and Wine) say access denied for the same read.
    matches!(e.kind(), std::io::ErrorKind::IsADirectory | std::io::ErrorKind::PermissionDenied)
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
    assert!(names(&dir.path().join("req")).is_empty());
    assert!(names(&dir.path().join("res")).is_empty(), "{:?}", names(&dir.path().join("res")));
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
    assert!(names(&dir.path().join("res")).is_empty(), "the copy and the .err are cleaned up");
}

#[test]
fn no_terminal_times_out_and_takes_the_request_back() {
    let dir = folders();
    let b = FolderBackend::new(dir.path(), Duration::from_millis(100));
    let e = rt().block_on(b.query(Query::Individual, b"<XmlMsg/>")).unwrap_err();
    assert!(matches!(e, BackendError::Timeout { .. }), "{e:?}");
    assert!(e.retryable());
    assert!(names(&dir.path().join("req")).is_empty());
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
fn answer_written_in_two_halves_is_read_whole() {
    let dir = folders();
    let b = FolderBackend::new(dir.path(), Duration::from_secs(10));
    let t = terminal(dir.path(), |res, name| {
        use std::io::Write;
        let (first, second) = ANSWER.split_at(ANSWER.len() / 2);
        let mut f = std::fs::File::create(res.join(result_name(name))).unwrap();
        f.write_all(first).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
        f.write_all(second).unwrap();
    });
    let bytes = rt().block_on(b.query(Query::Individual, b"<XmlMsg/>")).expect("answer");
    t.join().unwrap();
    assert_eq!(bytes, ANSWER, "the whole answer, not the first half");
    assert!(names(&dir.path().join("res")).is_empty(), "read in full, then removed");
}

#[test]
fn answer_that_stays_incomplete_is_reported_and_kept() {
    let dir = folders();
    let b = FolderBackend::new(dir.path(), Duration::from_secs(1));
    let half = &ANSWER[..ANSWER.len() / 2];
    let t = terminal(dir.path(), move |res, name| std::fs::write(res.join(result_name(name)), half).unwrap());
    let e = rt().block_on(b.query(Query::Individual, b"<XmlMsg/>")).unwrap_err();
    t.join().unwrap();
    let [kept] = names(&dir.path().join("res")).try_into().expect("the half answer is still there");
    match &e {
        BackendError::Incomplete { path, bytes } => {
            assert_eq!(path, &dir.path().join("res").join(&kept));
            assert_eq!(*bytes, half.len());
        }
        other => panic!("expected Incomplete, got {other:?}"),
    }
    let text = e.explain();
    let size = format!("{}バイト", half.len());
    assert!(text.ja.contains("途中まで") && text.ja.contains(&kept) && text.ja.contains(&size), "{}", text.ja);
    assert!(text.en.contains("incomplete") && text.en.contains(&kept), "{}", text.en);
    assert!(e.retryable());
}

#[test]
fn answer_held_by_the_terminal_is_waited_for() {
    let dir = folders();
    let mut b = FolderBackend::new(dir.path(), Duration::from_secs(10));
    b.is_busy = dir_is_busy;
    let t = terminal(dir.path(), |res, name| {
        let answer = res.join(result_name(name));
        std::fs::create_dir(&answer).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        std::fs::remove_dir(&answer).unwrap();
        std::fs::write(&answer, ANSWER).unwrap();
    });
    let bytes = rt().block_on(b.query(Query::Individual, b"<XmlMsg/>")).expect("answer once released");
    t.join().unwrap();
    assert_eq!(bytes, ANSWER);
}

#[test]
fn answer_held_past_the_deadline_is_file_busy() {
    let dir = folders();
    let mut b = FolderBackend::new(dir.path(), Duration::from_secs(1));
    b.is_busy = dir_is_busy;
    let t = terminal(dir.path(), |res, name| std::fs::create_dir(res.join(result_name(name))).unwrap());
    let e = rt().block_on(b.query(Query::Individual, b"<XmlMsg/>")).unwrap_err();
    t.join().unwrap();
    let BackendError::FileBusy { path, waited } = &e else { panic!("expected FileBusy, got {e:?}") };
    assert!(path.starts_with(dir.path().join("res")) && path.exists(), "{}", path.display());
    assert!(*waited > Duration::ZERO && *waited < Duration::from_secs(5), "{waited:?}");
    assert!(e.explain().ja.contains("開いたまま"), "{}", e.explain().ja);
    assert!(names(&dir.path().join("req")).is_empty(), "the request is taken back");

    // The classifier is what makes it worth waiting: the same read error,
    // not called busy, fails at once as a folder error.
    let dir = folders();
    let b = FolderBackend::new(dir.path(), Duration::from_secs(10));
    let t = terminal(dir.path(), |res, name| std::fs::create_dir(res.join(result_name(name))).unwrap());
    let started = Instant::now();
    let e = rt().block_on(b.query(Query::Individual, b"<XmlMsg/>")).unwrap_err();
    t.join().unwrap();
    assert!(matches!(e, BackendError::Folder { .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn held_err_file_is_waited_for() {
    let dir = folders();
    let mut b = FolderBackend::new(dir.path(), Duration::from_secs(10));
    b.is_busy = dir_is_busy;
    let t = terminal(dir.path(), |res, name| {
        std::fs::write(res.join(name), b"<XmlMsg><broken").unwrap();
        let err = res.join(err_name(name));
        std::fs::create_dir(&err).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        std::fs::remove_dir(&err).unwrap();
        std::fs::write(&err, "E0001,要求の形式が正しくありません\r\n").unwrap();
    });
    let e = rt().block_on(b.query(Query::Individual, b"<XmlMsg/>")).unwrap_err();
    t.join().unwrap();
    match &e {
        BackendError::Rejected { code, message } => {
            assert_eq!(code, "E0001");
            assert_eq!(message, "要求の形式が正しくありません");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(names(&dir.path().join("res")).is_empty());
}

#[test]
fn face_watcher_reports_only_new_complete_files() {
    let dir = tempfile::tempdir().unwrap();
    let face = dir.path().join("face");
    std::fs::create_dir_all(&face).unwrap();
    std::fs::write(face.join("OQSsiquc01res_face_old.xml"), b"<old/>").unwrap();
    let mut w = FaceWatcher::new(dir.path());
    assert!(w.poll().files.is_empty(), "files from before the start are not news");
    std::fs::write(face.join(".OQSsiquc01res_face_new.xml.tmp"), b"<half").unwrap();
    assert!(w.poll().files.is_empty());
    std::fs::write(face.join("OQSsiquc01res_face_new.xml"), b"<new/>").unwrap();
    let got = w.poll();
    assert_eq!(got.files, [FaceFile { name: "OQSsiquc01res_face_new.xml".into(), bytes: b"<new/>".to_vec() }]);
    assert!(got.notes.is_empty());
    assert!(w.poll().files.is_empty(), "reported once");
    assert!(face.join("OQSsiquc01res_face_new.xml").exists(), "never deleted");

    // Written in place, in two pieces: reported once complete, whole.
    let growing = face.join("OQSsiquc01res_face_2.xml");
    let (first, second) = ANSWER.split_at(ANSWER.len() / 2);
    std::fs::write(&growing, first).unwrap();
    assert!(w.poll().files.is_empty(), "half a document is not news yet");
    std::fs::write(&growing, ANSWER).unwrap();
    let got = w.poll().files;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].bytes, [first, second].concat());
}

#[test]
fn face_watcher_gives_up_on_a_file_that_never_finishes_and_says_so_once() {
    let dir = folders();
    let face = dir.path().join("face");
    let mut w = FaceWatcher::new(dir.path());
    std::fs::write(face.join("OQSsiquc01res_face_3.xml"), b"<XmlMsg><MessageHeader>").unwrap();
    assert!(w.poll().notes.is_empty(), "not yet overdue");
    // As if the file had been listed FACE_PATIENCE ago.
    for first in w.waiting.values_mut() {
        *first -= FACE_PATIENCE;
    }
    let p = w.poll();
    assert!(p.files.is_empty());
    let [FaceNote::GaveUp(BackendError::Incomplete { path, bytes: 23 })] = p.notes.as_slice() else { panic!("{:?}", p.notes) };
    assert!(path.ends_with("OQSsiquc01res_face_3.xml"));
    let p = w.poll();
    assert!(p.files.is_empty() && p.notes.is_empty(), "said once");
    assert!(face.join("OQSsiquc01res_face_3.xml").exists(), "never deleted");
}

#[test]
fn face_watcher_rides_out_an_unreachable_share() {
    let dir = folders();
    let face = dir.path().join("face");
    let away = dir.path().join("face-away");
    std::fs::write(face.join("OQSsiquc01res_face_old.xml"), b"<old/>").unwrap();
    let mut w = FaceWatcher::new(dir.path());
    assert!(w.poll().files.is_empty());

    std::fs::rename(&face, &away).unwrap();
    let p = w.poll();
    assert!(matches!(p.notes.as_slice(), [FaceNote::Unreachable(BackendError::Folder { .. })]), "{:?}", p.notes);
    assert!(w.poll().notes.is_empty(), "said once, not every second");

    std::fs::rename(&away, &face).unwrap();
    std::fs::write(face.join("OQSsiquc01res_face_new.xml"), b"<new/>").unwrap();
    let p = w.poll();
    assert!(matches!(p.notes.as_slice(), [FaceNote::Reachable]), "{:?}", p.notes);
    let got: Vec<_> = p.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(got, ["OQSsiquc01res_face_new.xml"], "what came during the outage, not the old file");
}

#[test]
fn face_watcher_started_before_the_share_is_there_takes_its_first_listing_as_old_news() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = FaceWatcher::new(dir.path());
    let p = w.poll();
    assert!(matches!(p.notes.as_slice(), [FaceNote::Unreachable(_)]), "{:?}", p.notes);
    let face = dir.path().join("face");
    std::fs::create_dir(&face).unwrap();
    std::fs::write(face.join("OQSsiquc01res_face_yesterday.xml"), b"<old/>").unwrap();
    let p = w.poll();
    assert!(matches!(p.notes.as_slice(), [FaceNote::Reachable]));
    assert!(p.files.is_empty(), "a day's results are not news because the share came late");
    std::fs::write(face.join("OQSsiquc01res_face_now.xml"), b"<new/>").unwrap();
    assert_eq!(w.poll().files.len(), 1);
}

#[test]
fn held_or_incomplete_files_reach_the_page_as_timeouts_explained_for_it() {
    use onshi_core::protocol::ErrorCode;
    let share = PathBuf::from(r"\\SHIKAKU-PC\OQS\res\OQSsiquc01res_1.xml");
    let busy = BackendError::FileBusy { path: share, waited: Duration::from_secs(120) };
    let half = BackendError::Incomplete { path: PathBuf::from("res/OQSsiquc01res_1.xml"), bytes: 812 };
    for e in [busy, half] {
        let p = crate::service::runtime::backend_error(&e);
        assert_eq!(p.code, ErrorCode::Timeout, "{e:?}");
        assert!(p.retryable);
        assert_eq!(p.message, e.explain());
        assert!(p.message.ja.contains("OQSsiquc01res_1.xml") && p.message.en.contains("OQSsiquc01res_1.xml"));
    }
}
