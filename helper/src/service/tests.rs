//! Service-level tests: the runtime with the in-process fake backend and
//! the in-process virtual card, driven through the same `handle` entry the
//! socket uses, reading the frames a connection would get.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use onshi_core::protocol::{CardRegistered, ConfirmKind, Consents, ErrorCode as C, Event, FromHelper, PinPurpose, ProtocolError, Response};
use tokio::sync::mpsc;

use super::dispatch::Caller;
use super::runtime::{Runtime, Sender, Settings};
use crate::backend::fake::{valid_probe, FakeBackend};
use crate::browser::Browser;
use crate::card::testing::SimAccess;
use crate::config::Config;
use crate::store::{ExtensionId, Origin, Store};
use crate::time::Timestamp;

const EXT: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";
const PAGE: &str = "https://clinic.example";
/// A wrong PIN no test data contains, so finding it anywhere is a leak.
const WRONG_PIN: &str = "8642";

fn ext_origin() -> String {
    format!("chrome-extension://{EXT}")
}

struct H {
    _dir: Option<tempfile::TempDir>,
    db: PathBuf,
    rt: Arc<Runtime>,
    tx: Sender,
    rx: mpsc::UnboundedReceiver<Vec<u8>>,
    caller: Caller,
    backend: Arc<FakeBackend>,
    card: Arc<SimAccess>,
    /// Every frame text received, for leak searches.
    seen: Vec<String>,
    /// Frames read but not yet asked for.
    queue: Vec<FromHelper>,
    next_id: u32,
}

fn config(dir: &std::path::Path) -> Config {
    let text = "institution_code = \"0110113719\"\n[backend]\nkind = \"oqs-folder\"\npath = \"oqs\"\n";
    Config::parse(text, dir).expect("config")
}

fn open(root: &std::path::Path, guard: Option<tempfile::TempDir>, backend: Arc<FakeBackend>, card: Arc<SimAccess>, settings: Settings) -> H {
    let store = Store::open(&root.join("helper.sqlite")).unwrap();
    let dyn_backend = backend.clone() as Arc<dyn crate::backend::Backend>;
    open_parts(root, guard, store, dyn_backend, backend, card, settings)
}

/// A harness over another backend (the gateway, the folder); `H.backend`
/// is then an idle fake nobody calls.
fn open_with(root: &std::path::Path, store: Store, backend: Arc<dyn crate::backend::Backend>, card: Arc<SimAccess>) -> H {
    open_parts(root, None, store, backend, Arc::new(FakeBackend::new(Duration::ZERO)), card, quick())
}

fn open_parts(
    root: &std::path::Path,
    guard: Option<tempfile::TempDir>,
    mut store: Store,
    dyn_backend: Arc<dyn crate::backend::Backend>,
    backend: Arc<FakeBackend>,
    card: Arc<SimAccess>,
    settings: Settings,
) -> H {
    let db = root.join("helper.sqlite");
    let caller = Caller { extension_id: ExtensionId::new(EXT).unwrap(), browser: Browser::Chromium };
    let now = Timestamp::parse("2026-11-25T09:00:00+09:00").unwrap();
    let origin = Origin::new(PAGE).unwrap();
    if store.live_pairing(&origin, &caller.extension_id).unwrap().is_none() {
        let row = store.begin_pairing(&origin, &caller.extension_id, Browser::Chromium, &now).unwrap();
        store.approve_pairing(row, &now).unwrap();
    }
    let cfg = config(root);
    let rt = Runtime::new(store, Some(cfg), Ok(dyn_backend), card.clone(), settings);
    let (tx, rx) = mpsc::unbounded_channel();
    rt.connect(1, caller.extension_id.clone(), tx.clone());
    H { _dir: guard, db, rt, tx, rx, caller, backend, card, seen: Vec::new(), queue: Vec::new(), next_id: 0 }
}

fn quick() -> Settings {
    Settings { pin_timeout: Duration::from_secs(5), batch_poll: Duration::from_millis(50), registration_poll: Duration::from_millis(10), today: None }
}

fn harness(tries: u8) -> H {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    open(&root, Some(dir), Arc::new(FakeBackend::new(Duration::ZERO)), Arc::new(SimAccess::new(tries)), quick())
}

impl H {
    /// Sends a frame; returns its id.
    fn send(&mut self, origin: &str, via: &str, body: &str) -> String {
        self.next_id += 1;
        let id = format!("r{}", self.next_id);
        let text = format!(r#"{{"v":1,"id":"{id}","origin":"{origin}","via":"{via}","body":{body}}}"#);
        self.rt.handle(&self.caller, &self.tx, &text);
        id
    }

    async fn frame(&mut self) -> FromHelper {
        let bytes = tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a frame within 10 s")
            .expect("channel open");
        let text = String::from_utf8(bytes).unwrap();
        let f = FromHelper::parse(&text).unwrap_or_else(|e| panic!("unparsable frame {text}: {e}"));
        self.seen.push(text);
        f
    }

    /// The reply to `id` (events and other replies that arrive first are queued).
    async fn reply(&mut self, id: &str) -> Result<Response, ProtocolError> {
        loop {
            if let Some(i) = self.queue.iter().position(|f| matches!(f, FromHelper::Reply { id: x, .. } if x == id)) {
                let FromHelper::Reply { result, .. } = self.queue.remove(i) else { unreachable!() };
                return result;
            }
            let f = self.frame().await;
            self.queue.push(f);
        }
    }

    /// The next `pin_needed` event: (confirm_id, tries_left), for a card check.
    async fn pin_needed(&mut self) -> (String, u8) {
        let (id, tries, purpose) = self.pin_needed_for().await;
        assert_eq!(purpose, PinPurpose::Confirm);
        (id, tries)
    }

    /// The next `pin_needed` event: (confirm_id, tries_left, purpose).
    async fn pin_needed_for(&mut self) -> (String, u8, PinPurpose) {
        loop {
            if let Some(i) = self.queue.iter().position(|f| matches!(f, FromHelper::Event { event: Event::PinNeeded { .. }, .. })) {
                let FromHelper::Event { event: Event::PinNeeded { confirm_id, tries_left, origin, purpose, .. }, origin: to } = self.queue.remove(i) else { unreachable!() };
                assert_eq!(origin, PAGE);
                assert_eq!(to.as_deref(), Some(PAGE), "the event is for the asking page's origin only");
                return (confirm_id, tries_left, purpose);
            }
            let f = self.frame().await;
            self.queue.push(f);
        }
    }

    fn pin(&mut self, confirm_id: &str, pin: &str, last: bool) -> String {
        let body = format!(r#"{{"type":"pin_entry","confirm_id":"{confirm_id}","pin":"{pin}","confirm_last_try":{last}}}"#);
        self.send(&ext_origin(), "extension", &body)
    }

    fn card_confirm(&mut self, mode: &str) -> String {
        self.send(PAGE, "page", &format!(r#"{{"type":"card_confirm","mode":"{mode}","consents":{{"medication":true}}}}"#))
    }
}

fn err_code(r: Result<Response, ProtocolError>) -> (C, Option<u8>) {
    let e = r.expect_err("expected an error");
    (e.code, e.detail.tries_left)
}

fn insured_json(i: usize) -> String {
    let (insurer, symbol, number, branch, birth) = valid_probe(i);
    let mut s = format!(r#"{{"insurer_number":"{}","number":"{number}","birth_date":"{birth}""#, insurer.trim());
    if let Some(sym) = symbol {
        s.push_str(&format!(r#","symbol":"{sym}""#));
    }
    if let Some(b) = branch {
        s.push_str(&format!(r#","branch":"{b}""#));
    }
    s.push('}');
    s
}

#[tokio::test]
async fn insurance_confirm_answers_stores_and_audits() {
    let mut h = harness(3);
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"insurance_confirm","insured":{}}}"#, insured_json(0)));
    let Ok(Response::InsuranceConfirm(e)) = h.reply(&id).await else { panic!("no eligibility") };
    assert_eq!(e.summary.qualification_validity.as_deref(), Some("1"), "{}", e.xml);
    assert!(onshi_core::parse(e.xml.as_bytes()).is_ok());
    // Issue 14: the bytes as received travel beside the text; this backend
    // answers UTF-8, so they are the same document byte for byte.
    let received = e.received.as_ref().filter(|r| r.exact).and_then(|r| r.bytes()).expect("the bytes as received");
    assert_eq!(received, e.xml.as_bytes());
    let id = h.send(PAGE, "page", r#"{"type":"today"}"#);
    let Ok(Response::Today(t)) = h.reply(&id).await else { panic!() };
    assert_eq!(t.entries.len(), 1);
    let tail = h.rt.with_store(|s| s.audit_tail(10).unwrap());
    assert!(tail.iter().any(|e| e.kind == "eligibility_query" && e.outcome == "ok"), "{tail:?}");
    // A bad insurer number never reaches the backend.
    let before = h.backend.queries.load(std::sync::atomic::Ordering::Relaxed);
    let id = h.send(PAGE, "page", r#"{"type":"insurance_confirm","insured":{"insurer_number":"39131157","number":"1","birth_date":"19600105"}}"#);
    assert_eq!(err_code(h.reply(&id).await).0, C::InvalidArgument);
    assert_eq!(h.backend.queries.load(std::sync::atomic::Ordering::Relaxed), before);
}

#[tokio::test]
async fn right_pin_confirms() {
    let mut h = harness(3);
    let cc = h.card_confirm("pin");
    let (confirm, tries) = h.pin_needed().await;
    assert_eq!(tries, 3);
    let pe = h.pin(&confirm, "1234", false);
    assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
    let Ok(Response::CardConfirm(e)) = h.reply(&cc).await else { panic!("no eligibility") };
    assert_eq!(e.summary.qualification_validity.as_deref(), Some("1"));
    let proofs = h.backend.proofs.lock().unwrap();
    assert_eq!(proofs.len(), 1);
    assert_eq!(proofs[0].mode, onshi_core::protocol::ConfirmMode::Pin);
    assert!(proofs[0].consents.medication);
    assert!(!h.card.card.lock().unwrap().card.pin_verified(), "the card was reset");
}

/// Issue 5: the `card_confirm` reply says where the time went, and the
/// parts add up. The backend answers each call after 40 ms, so the network
/// share is known; in PIN mode the 400 ms the "person" takes to type the PIN
/// must not count (the clock starts at `pin_entry`).
#[tokio::test]
async fn card_confirm_reply_carries_a_consistent_timing() {
    const NET: f64 = 40.0;
    const TYPING: Duration = Duration::from_millis(400);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let mut backend = FakeBackend::new(Duration::ZERO);
    backend.delay = Duration::from_millis(NET as u64);
    let mut h = open(&root, Some(dir), Arc::new(backend), Arc::new(SimAccess::new(3)), quick());
    for mode in ["pin", "visual"] {
        let cc = h.card_confirm(mode);
        if mode == "pin" {
            let (confirm, _) = h.pin_needed().await;
            tokio::time::sleep(TYPING).await;
            let pe = h.pin(&confirm, "1234", false);
            assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
        }
        let Ok(Response::CardConfirm(e)) = h.reply(&cc).await else { panic!("{mode}: no eligibility") };
        let t = e.timing.unwrap_or_else(|| panic!("{mode}: no timing in the reply"));
        assert!(t.network_ms >= 2.0 * NET, "{mode}: challenge + confirm, 40 ms each: {t:?}");
        assert!(t.card_ms > 0.0, "{mode}: the card was used: {t:?}");
        assert!(t.helper_ms >= 0.0, "{mode}: {t:?}");
        assert!(t.card_ms + t.network_ms <= t.total_ms, "{mode}: parts within the total: {t:?}");
        assert!((t.card_ms + t.network_ms + t.helper_ms - t.total_ms).abs() < 1e-6, "{mode}: {t:?}");
        if mode == "pin" {
            // Counted, the wait would land in the helper's share.
            assert!(t.helper_ms < TYPING.as_secs_f64() * 1000.0, "{mode}: the PIN wait is not counted: {t:?}");
        }
        // On the wire: present under `timing`, with the four fields.
        let wire = serde_json::to_value(Response::CardConfirm(e)).unwrap();
        for field in ["card_ms", "network_ms", "helper_ms", "total_ms"] {
            assert!(wire["timing"][field].is_f64(), "{mode}: {field} in {}", wire["timing"]);
        }
    }
    // A check by numbers carries it too (issue 17's bench reads the
    // helper's share from it), with no card time; and its stored entry's id.
    let body = format!(r#"{{"type":"insurance_confirm","insured":{}}}"#, insured_json(0));
    let ic = h.send(PAGE, "page", &body);
    let Ok(Response::InsuranceConfirm(e)) = h.reply(&ic).await else { panic!("no insurance reply") };
    let t = e.timing.expect("timing in an insurance_confirm reply");
    assert_eq!(t.card_ms, 0.0, "{t:?}");
    assert!(t.network_ms >= NET, "one gateway call of 40 ms: {t:?}");
    assert!((t.network_ms + t.helper_ms - t.total_ms).abs() < 1e-6, "{t:?}");
    assert!(e.entry_id.as_deref().is_some_and(|id| id.starts_with("t-")), "{:?}", e.entry_id);
}

#[tokio::test]
async fn wrong_pin_then_right_reports_tries_left() {
    let mut h = harness(3);
    let cc = h.card_confirm("pin");
    let (confirm, _) = h.pin_needed().await;
    let pe = h.pin(&confirm, WRONG_PIN, false);
    assert_eq!(err_code(h.reply(&pe).await), (C::WrongPin, Some(2)));
    let (again, tries) = h.pin_needed().await;
    assert_eq!((again.as_str(), tries), (confirm.as_str(), 2), "the PIN window is asked again, with the count");
    let pe = h.pin(&confirm, "1234", false);
    assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
    assert!(matches!(h.reply(&cc).await, Ok(Response::CardConfirm(_))));
    let tail = h.rt.with_store(|s| s.audit_tail(10).unwrap());
    assert!(tail.iter().any(|e| e.kind == "card_confirm" && e.outcome == "failed"), "{tail:?}");
    assert!(tail.iter().any(|e| e.kind == "card_confirm" && e.outcome == "ok"));
    leak_check(&h);
}

#[tokio::test]
async fn last_try_is_refused_without_confirmation() {
    let mut h = harness(1);
    let cc = h.card_confirm("pin");
    let (confirm, tries) = h.pin_needed().await;
    assert_eq!(tries, 1);
    let pe = h.pin(&confirm, "1234", false);
    assert_eq!(err_code(h.reply(&pe).await), (C::LastTryUnconfirmed, Some(1)));
    assert!(!h.card.card.lock().unwrap().sent_pin(), "no VERIFY was sent");
    let pe = h.pin(&confirm, "1234", true);
    assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
    assert!(matches!(h.reply(&cc).await, Ok(Response::CardConfirm(_))));
}

#[tokio::test]
async fn locked_card() {
    let mut h = harness(1);
    let cc = h.card_confirm("pin");
    let (confirm, _) = h.pin_needed().await;
    let pe = h.pin(&confirm, WRONG_PIN, true);
    assert_eq!(err_code(h.reply(&pe).await).0, C::PinLocked);
    assert_eq!(err_code(h.reply(&cc).await).0, C::PinLocked);
    // A new confirm on the locked card fails at once, without asking for a PIN.
    let cc = h.card_confirm("pin");
    assert_eq!(err_code(h.reply(&cc).await).0, C::PinLocked);
    assert!(!h.queue.iter().any(|f| matches!(f, FromHelper::Event { event: Event::PinNeeded { .. }, .. })));
    leak_check(&h);
}

#[tokio::test]
async fn cancel_ends_the_confirm() {
    let mut h = harness(3);
    let cc = h.card_confirm("pin");
    let (confirm, _) = h.pin_needed().await;
    let c = h.send(PAGE, "page", &format!(r#"{{"type":"pin_cancel","confirm_id":"{confirm}"}}"#));
    assert!(matches!(h.reply(&c).await, Ok(Response::PinCancel)));
    assert_eq!(err_code(h.reply(&cc).await).0, C::Cancelled);
    // The confirm is gone: a late PIN is refused and never reaches the card.
    let pe = h.pin(&confirm, "1234", false);
    assert_eq!(err_code(h.reply(&pe).await).0, C::InvalidArgument);
    assert!(!h.card.card.lock().unwrap().sent_pin());
    let tail = h.rt.with_store(|s| s.audit_tail(10).unwrap());
    assert!(tail.iter().any(|e| e.kind == "card_confirm" && e.outcome == "cancelled"), "{tail:?}");
}

#[tokio::test]
async fn pin_from_a_page_is_refused() {
    let mut h = harness(3);
    let cc = h.card_confirm("pin");
    let (confirm, _) = h.pin_needed().await;
    let body = format!(r#"{{"type":"pin_entry","confirm_id":"{confirm}","pin":"{WRONG_PIN}"}}"#);
    let pe = h.send(PAGE, "page", &body);
    assert_eq!(err_code(h.reply(&pe).await).0, C::ExtensionOnly);
    assert!(!h.card.card.lock().unwrap().sent_pin());
    // The confirm still waits for the real PIN window.
    let pe = h.pin(&confirm, "1234", false);
    assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
    assert!(matches!(h.reply(&cc).await, Ok(Response::CardConfirm(_))));
    leak_check(&h);
}

#[tokio::test]
async fn no_pin_times_out_and_a_second_card_op_is_busy() {
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings { pin_timeout: Duration::from_millis(300), ..quick() };
    let root = dir.path().to_path_buf();
    let mut h = open(&root, Some(dir), Arc::new(FakeBackend::new(Duration::ZERO)), Arc::new(SimAccess::new(3)), settings);
    let cc = h.card_confirm("pin");
    let _ = h.pin_needed().await;
    let second = h.card_confirm("visual");
    assert_eq!(err_code(h.reply(&second).await).0, C::Busy);
    assert_eq!(err_code(h.reply(&cc).await).0, C::PinRequired);
    // The card is free again.
    let again = h.card_confirm("visual");
    assert!(matches!(h.reply(&again).await, Ok(Response::CardConfirm(_))));
}

#[tokio::test]
async fn visual_mode_reads_the_certificate_only() {
    let mut h = harness(3);
    let cc = h.card_confirm("visual");
    assert!(matches!(h.reply(&cc).await, Ok(Response::CardConfirm(_))));
    assert!(!h.card.card.lock().unwrap().sent_pin(), "no VERIFY in visual mode");
    let p = h.backend.proofs.lock().unwrap();
    assert_eq!(p[0].mode, onshi_core::protocol::ConfirmMode::Visual);
    assert!(p[0].signature.is_empty() && !p[0].certificate_der.is_empty());
}

#[tokio::test]
async fn no_card_is_reported() {
    let mut h = harness(3);
    h.card.present.store(false, std::sync::atomic::Ordering::SeqCst);
    let cc = h.card_confirm("pin");
    assert_eq!(err_code(h.reply(&cc).await).0, C::NoCard);
}

/// The wrong PIN typed in these tests appears nowhere: not in the database
/// file (nor its WAL), not in any frame the service sent.
fn leak_check(h: &H) {
    for f in &h.seen {
        // The reply's timing holds measured floats whose digits can spell any
        // four-digit string (2.864217 holds 8642): they are not the PIN.
        let mut frame: serde_json::Value = serde_json::from_str(f).expect("frames are JSON");
        if let Some(body) = frame.get_mut("body").and_then(|b| b.as_object_mut()) {
            body.remove("timing");
        }
        let f = &frame.to_string();
        assert!(!f.contains(WRONG_PIN), "PIN in a frame: {f}");
        assert!(!f.contains("\"pin\""), "a pin field in a frame: {f}");
    }
    h.rt.with_store(|s| s.checkpoint().unwrap());
    for suffix in ["", "-wal", "-journal"] {
        let mut p = h.db.clone().into_os_string();
        p.push(suffix);
        if let Ok(bytes) = std::fs::read(&p) {
            assert!(!bytes.windows(4).any(|w| w == WRONG_PIN.as_bytes()), "PIN in {p:?}");
        }
    }
}

#[test]
fn batch_resumes_after_the_service_state_is_dropped_and_reopened() {
    let dir = tempfile::tempdir().unwrap();
    // The "national system" keeps the batch across our restart; it is ready after 300 ms.
    let backend = Arc::new(FakeBackend::new(Duration::from_millis(300)));
    let card = Arc::new(SimAccess::new(3));
    let entries = format!(r#"[{{"insured":{}}},{{"insured":{}}}]"#, insured_json(0), insured_json(1));
    let batch_id = {
        let tokio_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let id = tokio_rt.block_on(async {
            // Polling so slow it never happens before the "restart".
            let settings = Settings { batch_poll: Duration::from_secs(3600), ..quick() };
            let mut h = open(dir.path(), None, backend.clone(), card.clone(), settings);
            let id = h.send(PAGE, "page", &format!(r#"{{"type":"batch_submit","confirmation_date":"20261126","entries":{entries}}}"#));
            let Ok(Response::BatchSubmit(b)) = h.reply(&id).await else { panic!("not submitted") };
            assert_eq!(b.accepted, 2);
            let id = h.send(PAGE, "page", &format!(r#"{{"type":"batch_status","batch_id":"{}"}}"#, b.batch_id));
            let Ok(Response::BatchStatus(s)) = h.reply(&id).await else { panic!() };
            assert_eq!(s.batches[0].state, onshi_core::protocol::BatchState::Queued);
            b.batch_id
        });
        // Dropping the tokio runtime ends every task of the first service,
        // pollers included, and with them the last handle on its store.
        drop(tokio_rt);
        id
    };
    let tokio_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tokio_rt.block_on(async {
        let mut h = open(dir.path(), None, backend, card, quick());
        assert_eq!(h.rt.with_store(|s| s.pending_jobs().unwrap().len()), 1);
        h.rt.resume_batches();
        let job = super::dispatch::parse_batch_id(&batch_id).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !h.rt.with_store(|s| s.job(job).unwrap().state.is_finished()) {
            assert!(std::time::Instant::now() < deadline, "the resumed poller never finished the job");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let id = h.send(PAGE, "page", &format!(r#"{{"type":"batch_results","batch_id":"{batch_id}"}}"#));
        let Ok(Response::BatchResults(r)) = h.reply(&id).await else { panic!("no results") };
        assert_eq!((r.total, r.errors), (2, 0));
        assert!(r.xml.contains("BulkConfirmUnit"), "{}", r.xml);
    });
}

#[tokio::test]
async fn history_and_reference_requests_reach_the_backend_and_are_audited() {
    let mut h = harness(3);
    // The seeded person 0 consents to everything: the history comes back.
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"medication_fetch","insured":{},"start_month":"202601","end_month":"202610"}}"#, insured_json(0)));
    let Ok(Response::MedicationFetch(m)) = h.reply(&id).await else { panic!("no medication") };
    assert!(m.xml.contains("MedicationInfoList"), "{}", m.xml);
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"checkup_fetch","insured":{}}}"#, insured_json(0)));
    assert!(matches!(h.reply(&id).await, Ok(Response::CheckupFetch(_))));
    // Someone without a valid consent: the system's refusal comes back as gateway_error with its code.
    let mut refused = None;
    for i in 1..40 {
        let id = h.send(PAGE, "page", &format!(r#"{{"type":"checkup_fetch","insured":{}}}"#, insured_json(i)));
        if let Err(e) = h.reply(&id).await {
            refused = Some(e);
            break;
        }
    }
    let e = refused.expect("a seeded person without a valid health-check consent");
    assert_eq!(e.code, C::GatewayError, "{e:?}");
    assert!(matches!(e.detail.code.as_deref(), Some("EQ2101" | "EQ2102")), "no or expired consent: {e:?}");
    // Months in the wrong order are caught by the core before anything is sent.
    let before = h.backend.queries.load(std::sync::atomic::Ordering::Relaxed);
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"medication_fetch","insured":{},"start_month":"202610","end_month":"202601"}}"#, insured_json(0)));
    assert_eq!(err_code(h.reply(&id).await).0, C::InvalidArgument);
    assert_eq!(h.backend.queries.load(std::sync::atomic::Ordering::Relaxed), before);
    let one = format!(r#"{{"type":"reference_register","entries":[{{"insured":{},"reference_number":"P1"}}]}}"#, insured_json(0));
    let id = h.send(PAGE, "page", &one);
    // The fake backend's registry is read-only, so the registration itself is refused.
    assert_eq!(err_code(h.reply(&id).await).0, C::GatewayError);
    let tail = h.rt.with_store(|s| s.audit_tail(100).unwrap());
    assert!(tail.iter().filter(|e| e.kind == "eligibility_query" && e.outcome == "ok").count() >= 2, "{tail:?}");
    assert!(tail.iter().any(|e| e.kind == "eligibility_query" && e.outcome == "failed"), "{tail:?}");
    assert!(tail.iter().any(|e| e.kind == "reference"), "{tail:?}");
}

// ----- card registration (利用登録) -------------------------------------------

/// The whole desk sequence for an unregistered card: the check is refused
/// with the typed code, `card_register` asks for the PIN (saying what for),
/// registers, and the same check then gives a valid result.
async fn register_sequence(h: &mut H) {
    let cc = h.card_confirm("pin");
    let (confirm, _) = h.pin_needed().await;
    let pe = h.pin(&confirm, "1234", false);
    assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
    let e = h.reply(&cc).await.expect_err("an unregistered card is refused");
    assert_eq!((e.code, e.retryable), (C::CardNotRegistered, false), "{e:?}");
    assert!(e.message.ja.contains("利用登録") && e.message.en.contains("Register this card"), "{:?}", e.message);

    // A wrong PIN first: the registration stays open and asks again.
    let reg = h.send(PAGE, "page", r#"{"type":"card_register","consents":{"medication":true}}"#);
    let (confirm, tries, purpose) = h.pin_needed_for().await;
    assert_eq!((tries, purpose), (3, PinPurpose::Register));
    let pe = h.pin(&confirm, WRONG_PIN, false);
    assert_eq!(err_code(h.reply(&pe).await), (C::WrongPin, Some(2)));
    let (again, tries, purpose) = h.pin_needed_for().await;
    assert_eq!((again.as_str(), tries, purpose), (confirm.as_str(), 2, PinPurpose::Register));
    let pe = h.pin(&confirm, "1234", false);
    assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
    assert_eq!(h.reply(&reg).await, Ok(Response::CardRegister(CardRegistered { already_registered: false })));

    // The page runs the check again: now it is valid.
    let cc = h.card_confirm("pin");
    let (confirm, _) = h.pin_needed().await;
    let pe = h.pin(&confirm, "1234", false);
    assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
    let Ok(Response::CardConfirm(e)) = h.reply(&cc).await else { panic!("no eligibility after registration") };
    assert_eq!(e.summary.qualification_validity.as_deref(), Some("1"), "{}", e.xml);

    // Registering again: the system already has it, which is fine for the desk.
    let reg = h.send(PAGE, "page", r#"{"type":"card_register"}"#);
    let (confirm, _, _) = h.pin_needed_for().await;
    let pe = h.pin(&confirm, "1234", false);
    assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
    assert_eq!(h.reply(&reg).await, Ok(Response::CardRegister(CardRegistered { already_registered: true })));

    let tail = h.rt.with_store(|s| s.audit_tail(30).unwrap());
    let regs: Vec<_> = tail.iter().filter(|e| e.kind == "card_register").map(|e| (e.outcome.as_str(), e.detail.clone())).collect();
    assert_eq!(regs.len(), 3, "{regs:?}");
    assert_eq!(regs[0].0, "failed", "the wrong PIN is audited as a registration attempt");
    assert!(regs[1].0 == "ok" && regs[1].1.contains("\"already_registered\":false"), "{regs:?}");
    assert!(regs[2].1.contains("\"already_registered\":true"), "{regs:?}");
    assert!(tail.iter().any(|e| e.kind == "card_confirm" && e.outcome == "failed" && e.detail.contains("card_not_registered")), "{tail:?}");
    leak_check(h);
}

#[tokio::test]
async fn unregistered_card_is_registered_then_confirms_fake_backend() {
    let mut h = harness(3);
    h.backend.unregistered.store(true, std::sync::atomic::Ordering::SeqCst);
    register_sequence(&mut h).await;
    let proofs = h.backend.proofs.lock().unwrap();
    assert!(proofs.iter().all(|p| p.mode == onshi_core::protocol::ConfirmMode::Pin && !p.signature.is_empty()));
    // Each proof had its own fresh nonce.
    let nonces: std::collections::HashSet<_> = proofs.iter().map(|p| p.nonce.clone()).collect();
    assert_eq!(nonces.len(), proofs.len());
}

/// A PKI whose JPKI CA issued P0003's card (registry person P0003 holds a
/// card not registered for insurance use), made once per test process.
fn gateway_pki() -> &'static (tempfile::TempDir, onshi_sim::pki::PersonCard) {
    static PKI: std::sync::OnceLock<(tempfile::TempDir, onshi_sim::pki::PersonCard)> = std::sync::OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let opts = onshi_sim::pki::PkiOptions { people: vec!["P0003".into()], ..Default::default() };
        onshi_sim::pki::init(dir.path(), &opts).expect("pki init");
        let p3 = onshi_sim::pki::load_person(dir.path(), "P0003").expect("P0003");
        (dir, p3)
    })
}

/// The simulator gateway on loopback over a registry seeded into `dir`
/// (60 people, seed 3), and a gateway backend that trusts it.
async fn simulator_gateway(dir: &std::path::Path) -> (onshi_sim::gateway::Gateway, crate::backend::gateway::GatewayBackend, PathBuf) {
    simulator_gateway_with(dir, |_| {}).await
}

/// As [`simulator_gateway`], with `tweak` applied to the gateway's options
/// before it starts (a declaration file, a fixed day …).
async fn simulator_gateway_with(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut onshi_sim::gateway::GatewayOptions),
) -> (onshi_sim::gateway::Gateway, crate::backend::gateway::GatewayBackend, PathBuf) {
    use crate::backend::gateway::{GatewayBackend, GatewaySettings};
    let (pki_dir, _) = gateway_pki();
    let db = dir.join("registry.sqlite");
    onshi_sim::registry::seed(&db, 60, 3).expect("seed");
    let mut opts = onshi_sim::gateway::GatewayOptions::new(&db, pki_dir.path());
    opts.log = Some(dir.join("gateway.log"));
    tweak(&mut opts);
    let gw = onshi_sim::gateway::Gateway::start(&opts).await.expect("gateway");
    let l = onshi_sim::pki::PkiLayout::new(pki_dir.path());
    let backend = GatewayBackend::new(GatewaySettings {
        url: gw.url(),
        ca: l.gateway_ca(),
        client_cert: l.clinic_client(),
        client_key: l.clinic_client_key(),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(20),
        attempts: 1,
        backoff: Duration::from_millis(10),
    })
    .expect("backend");
    (gw, backend, db)
}

#[tokio::test]
async fn unregistered_card_is_registered_then_confirms_through_the_simulator_gateway() {
    let (_, p3) = gateway_pki();
    let dir = tempfile::tempdir().unwrap();
    let (_gw, backend, _) = simulator_gateway(dir.path()).await;
    let card = Arc::new(SimAccess::with(crate::card::testing::SimTransport::for_person(p3.clone(), 3)));
    let root = dir.path().join("helper");
    std::fs::create_dir_all(&root).unwrap();
    let db_path = root.join("helper.sqlite");
    let store = Store::open(&db_path).unwrap();
    let mut h = open_with(&root, store, Arc::new(backend), card);
    register_sequence(&mut h).await;
}

/// The bulk form against the simulator gateway: the acknowledgement, then
/// the per-entry results; the entry nobody matches comes back refused with
/// the system's code (after the one the helper refused itself) and is not
/// stored, the others are.
#[tokio::test]
async fn bulk_references_report_what_the_system_refused_through_the_simulator_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let (gw, backend, db) = simulator_gateway(dir.path()).await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let probes = |tag| onshi_sim::registry::probe_searches(&conn, onshi_sim::registry::Probes::Tag(tag)).unwrap();
    let valid = probes("valid");
    let nobody = probes("no_match").remove(0);
    let entry = |s: &onshi_core::message::SearchInfo, reference: &str| {
        let opt = |v: &Option<String>| v.as_ref().map_or("null".to_string(), |v| format!("{v:?}"));
        format!(
            r#"{{"insured":{{"insurer_number":{},"symbol":{},"number":{},"branch":{},"birth_date":{}}},"reference_number":"{reference}"}}"#,
            opt(&s.insurer_number), opt(&s.insured_card_symbol), opt(&s.insured_identification_number), opt(&s.insured_branch_number), opt(&s.birthdate)
        )
    };
    let entries = [entry(&valid[0], "G-0001"), entry(&valid[0], "G-0001"), entry(&nobody, "G-0003"), entry(&valid[1], "G-0004")];
    let root = dir.path().join("helper");
    std::fs::create_dir_all(&root).unwrap();
    let store = Store::open(&root.join("helper.sqlite")).unwrap();
    let mut h = open_with(&root, store, Arc::new(backend), Arc::new(SimAccess::new(3)));
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"reference_register","entries":[{}]}}"#, entries.join(",")));
    let r = match h.reply(&id).await {
        Ok(Response::ReferenceRegister(r)) => r,
        other => panic!("{other:?}"),
    };
    let rejected: Vec<(u32, C, Option<&str>)> = r.rejected.iter().map(|e| (e.index, e.error.code, e.error.detail.code.as_deref())).collect();
    assert_eq!(rejected, [(1, C::InvalidArgument, None), (2, C::GatewayError, Some(onshi_sim::answer::codes::UNKNOWN_PERSON))]);
    assert_eq!(r.accepted, 2);
    assert!(r.reception_number.is_some() && !r.results_pending);
    let m = &r.rejected[1].error.message;
    assert!(m.ja.starts_with("3件目") && m.en.starts_with("Entry 3:") && m.ja.contains(onshi_sim::answer::codes::UNKNOWN_PERSON), "{m:?}");
    // The reply carries the per-entry result document, not the acknowledgement.
    assert_eq!(onshi_core::parse(r.xml.as_bytes()).unwrap().message.kind(), onshi_core::message::Kind::BulkRegistrationResult);
    let stored = |id: &str| h.rt.with_store(|s| s.reference(&crate::store::PatientId::new(id).unwrap()).unwrap());
    assert!(stored("G-0001").is_some() && stored("G-0004").is_some());
    assert!(stored("G-0003").is_none(), "an entry the system refused is not remembered");
    // The gateway saw the upload and one download of its results.
    drop(gw);
    let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap_or_default();
    assert_eq!((log.matches("OQSmuimm01req").count(), log.matches("OQSmuimm02req").count()), (1, 1), "{log}");
}

/// The system still working on a bulk registration: asked again (after
/// `registration_poll`, doubling) until the results come; if they never
/// do, the entries count as the acknowledgement accepted them and the
/// reply says the results are pending.
#[tokio::test]
async fn bulk_registration_results_are_waited_for_then_reported_pending() {
    use crate::backend::Query;
    use std::sync::atomic::Ordering::SeqCst;
    let mut h = harness(3);
    h.backend.accept_references.store(true, SeqCst);
    let entries = |from: usize| (from..from + 3).map(|i| reference_json(i, &format!("W{i:05}"))).collect::<Vec<_>>().join(",");
    let downloads = |h: &H| h.backend.sent.lock().unwrap().iter().filter(|s| s.0 == Query::BulkReferenceResult).count();

    h.backend.registration_processing.store(2, SeqCst);
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"reference_register","entries":[{}]}}"#, entries(0)));
    let Ok(Response::ReferenceRegister(r)) = h.reply(&id).await else { panic!("no reply") };
    assert_eq!((r.accepted, r.results_pending, downloads(&h)), (3, false, 3), "two 'still processing', then the results");

    h.backend.registration_processing.store(u32::MAX, SeqCst);
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"reference_register","entries":[{}]}}"#, entries(10)));
    let Ok(Response::ReferenceRegister(r)) = h.reply(&id).await else { panic!("no reply") };
    assert_eq!((r.accepted, r.results_pending), (3, true));
    assert_eq!(downloads(&h), 3 + 5, "asked five times, then gave up");
    assert!(h.rt.with_store(|s| s.reference(&crate::store::PatientId::new("W00010").unwrap()).unwrap()).is_some(), "kept as acknowledged");
}

#[tokio::test]
async fn the_folder_backend_says_registration_is_not_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let folder = crate::backend::folder::FolderBackend::new(dir.path().join("oqs"), Duration::from_secs(1));
    let store = Store::open(&dir.path().join("helper.sqlite")).unwrap();
    let mut h = open_with(dir.path(), store, Arc::new(folder), Arc::new(SimAccess::new(3)));
    let reg = h.send(PAGE, "page", r#"{"type":"card_register"}"#);
    let e = h.reply(&reg).await.expect_err("the folder backend cannot register cards");
    assert!(e.message.ja.contains("資格確認端末") && e.message.en.contains("terminal"), "{:?}", e.message);
    assert!(!e.retryable);
    // Refused before the PIN window: the patient is never asked for a PIN that cannot be used.
    assert!(!h.queue.iter().any(|f| matches!(f, FromHelper::Event { event: Event::PinNeeded { .. }, .. })));
    assert!(!h.card.card.lock().unwrap().sent_pin());
}

// ----- reference numbers (照会番号), one and many ------------------------------

fn reference_json(i: usize, reference: &str) -> String {
    format!(r#"{{"insured":{},"reference_number":"{reference}"}}"#, insured_json(i))
}

#[tokio::test]
async fn bulk_reference_register_checks_each_entry_sends_the_bulk_form_and_stores() {
    let mut h = harness(3);
    h.backend.accept_references.store(true, std::sync::atomic::Ordering::SeqCst);
    // 500 people, three of them bad in different ways.
    let mut entries: Vec<String> = (0..500).map(|i| reference_json(i, &format!("K{i:05}"))).collect();
    entries[7] = r#"{"insured":{"insurer_number":"39131157","number":"1","birth_date":"19600105"},"reference_number":"K00007"}"#.into();
    entries[8] = reference_json(8, "");
    entries[9] = reference_json(9, "K00001");
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"reference_register","entries":[{}]}}"#, entries.join(",")));
    let r = match h.reply(&id).await {
        Ok(Response::ReferenceRegister(r)) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(r.accepted, 497);
    assert_eq!(r.reception_number.as_deref(), Some(crate::backend::fake::FAKE_RECEPTION));
    assert!(!r.results_pending, "every entry's result came");
    let rejected: Vec<(u32, C, Option<&str>)> =
        r.rejected.iter().map(|e| (e.index, e.error.code, e.error.detail.field.as_deref())).collect();
    assert_eq!(rejected, [
        (7, C::InvalidArgument, Some("entries[7].insured.insurer_number")),
        (8, C::InvalidArgument, Some("entries[8].reference_number")),
        (9, C::InvalidArgument, Some("entries[9].reference_number")),
    ]);
    for e in &r.rejected {
        assert!(!e.error.message.ja.is_empty() && !e.error.message.en.is_empty(), "{e:?}");
    }
    assert!(r.rejected[2].error.message.ja.contains("K00001"), "{:?}", r.rejected[2].error.message);
    // One bulk document with the 497 good entries went out, then one
    // download of its per-entry results.
    let sent = h.backend.sent.lock().unwrap().clone();
    let queries: Vec<_> = sent.iter().map(|s| s.0).collect();
    assert_eq!(queries, [crate::backend::Query::BulkReferenceRegister, crate::backend::Query::BulkReferenceResult]);
    let onshi_core::Message::BatchDownloadRequest(d) = onshi_core::parse(&sent[1].1).unwrap().message else { panic!("not a download") };
    assert_eq!(d.header.reception_number.as_deref(), Some(crate::backend::fake::FAKE_RECEPTION));
    let onshi_core::Message::BulkRegistrationRequest(m) = onshi_core::parse(&sent[0].1).unwrap().message else { panic!("not the bulk form") };
    assert_eq!(m.body.units.len(), 497);
    assert_eq!(m.header.medical_institution_code.as_deref(), Some("0110113719"));
    // They are remembered; the refused ones are not.
    let (insurer, _, number, _, _) = valid_probe(499);
    let stored = h.rt.with_store(|s| s.reference(&crate::store::PatientId::new("K00499").unwrap()).unwrap()).expect("stored");
    assert_eq!((stored.insurer.as_str(), stored.number.as_str()), (insurer.trim(), number.as_str()));
    assert!(h.rt.with_store(|s| s.reference(&crate::store::PatientId::new("K00007").unwrap()).unwrap()).is_none());
    let tail = h.rt.with_store(|s| s.audit_tail(5).unwrap());
    assert!(tail.iter().any(|e| e.kind == "reference" && e.detail.contains("\"count\":497") && e.detail.contains("\"rejected\":3")), "{tail:?}");

    // One entry uses the single form.
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"reference_register","entries":[{}]}}"#, reference_json(0, "K90000")));
    let Ok(Response::ReferenceRegister(r)) = h.reply(&id).await else { panic!("no reply") };
    assert_eq!((r.accepted, r.reception_number.as_deref()), (1, None));
    assert_eq!(h.backend.sent.lock().unwrap()[2].0, crate::backend::Query::ReferenceRegister);

    // Nothing valid: the first refusal is the answer, and nothing is sent.
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"reference_register","entries":[{},{}]}}"#, entries[7], entries[8]));
    let e = h.reply(&id).await.unwrap_err();
    assert_eq!((e.code, e.detail.field.as_deref()), (C::InvalidArgument, Some("entries[0].insured.insurer_number")));
    let id = h.send(PAGE, "page", r#"{"type":"reference_register","entries":[]}"#);
    assert_eq!(err_code(h.reply(&id).await).0, C::InvalidArgument);
    assert_eq!(h.backend.sent.lock().unwrap().len(), 3);
}

// ----- today keeps how each card was checked ---------------------------------

#[tokio::test]
async fn today_keeps_card_mode_and_consents_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(FakeBackend::new(Duration::ZERO));
    let card = Arc::new(SimAccess::new(3));
    {
        let mut h = open(dir.path(), None, backend.clone(), card.clone(), quick());
        let cc = h.card_confirm("visual");
        assert!(matches!(h.reply(&cc).await, Ok(Response::CardConfirm(_))));
        let cc = h.send(PAGE, "page", r#"{"type":"card_confirm","mode":"pin","consents":{"health_check":true,"specified_disease":true}}"#);
        let (confirm, _) = h.pin_needed().await;
        let pe = h.pin(&confirm, "1234", false);
        assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
        assert!(matches!(h.reply(&cc).await, Ok(Response::CardConfirm(_))));
        let id = h.send(PAGE, "page", &format!(r#"{{"type":"insurance_confirm","insured":{}}}"#, insured_json(0)));
        assert!(matches!(h.reply(&id).await, Ok(Response::InsuranceConfirm(_))));
    }
    // A new runtime over the same database file: what a reload after a helper restart sees.
    let mut h = open(dir.path(), None, backend, card, quick());
    let id = h.send(PAGE, "page", r#"{"type":"today"}"#);
    let Ok(Response::Today(t)) = h.reply(&id).await else { panic!() };
    let got: Vec<(ConfirmKind, Option<Consents>)> = t.entries.iter().map(|e| (e.kind, e.consents)).collect();
    assert_eq!(got, [
        (ConfirmKind::CardVisual, Some(Consents { medication: true, ..Consents::default() })),
        (ConfirmKind::CardPin, Some(Consents { health_check: true, specified_disease: true, ..Consents::default() })),
        (ConfirmKind::Insurance, None),
    ]);
    // The summary codes are filled in from the stored documents.
    assert!(t.entries.iter().all(|e| e.summary.qualification_validity.as_deref() == Some("1")), "{:?}", t.entries.iter().map(|e| &e.summary).collect::<Vec<_>>());
}

mod certificate;
mod disaster;
