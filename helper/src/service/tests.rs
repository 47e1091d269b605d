//! Service-level tests: the runtime with the in-process fake backend and
//! the in-process virtual card, driven through the same `handle` entry the
//! socket uses, reading the frames a connection would get.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use onshi_core::protocol::{ErrorCode as C, Event, FromHelper, ProtocolError, Response};
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
    let db = root.join("helper.sqlite");
    let mut store = Store::open(&db).unwrap();
    let caller = Caller { extension_id: ExtensionId::new(EXT).unwrap(), browser: Browser::Chromium };
    let now = Timestamp::parse("2026-11-25T09:00:00+09:00").unwrap();
    let origin = Origin::new(PAGE).unwrap();
    if store.live_pairing(&origin, &caller.extension_id).unwrap().is_none() {
        let row = store.begin_pairing(&origin, &caller.extension_id, Browser::Chromium, &now).unwrap();
        store.approve_pairing(row, &now).unwrap();
    }
    let cfg = config(root);
    let rt = Runtime::new(store, Some(cfg), Ok(backend.clone() as Arc<dyn crate::backend::Backend>), card.clone(), settings);
    let (tx, rx) = mpsc::unbounded_channel();
    rt.connect(1, caller.extension_id.clone(), tx.clone());
    H { _dir: guard, db, rt, tx, rx, caller, backend, card, seen: Vec::new(), queue: Vec::new(), next_id: 0 }
}

fn quick() -> Settings {
    Settings { pin_timeout: Duration::from_secs(5), batch_poll: Duration::from_millis(50) }
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

    /// The next `pin_needed` event: (confirm_id, tries_left).
    async fn pin_needed(&mut self) -> (String, u8) {
        loop {
            if let Some(i) = self.queue.iter().position(|f| matches!(f, FromHelper::Event { event: Event::PinNeeded { .. }, .. })) {
                let FromHelper::Event { event: Event::PinNeeded { confirm_id, tries_left, origin, .. }, origin: to } = self.queue.remove(i) else { unreachable!() };
                assert_eq!(origin, PAGE);
                assert_eq!(to.as_deref(), Some(PAGE), "the event is for the asking page's origin only");
                return (confirm_id, tries_left);
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
    // Other replies do not carry it.
    let body = format!(r#"{{"type":"insurance_confirm","insured":{}}}"#, insured_json(0));
    let ic = h.send(PAGE, "page", &body);
    let Ok(Response::InsuranceConfirm(e)) = h.reply(&ic).await else { panic!("no insurance reply") };
    assert!(e.timing.is_none());
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
    // The simulator's terminal does not answer these kinds: its refusal comes back as gateway_error.
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"medication_fetch","insured":{},"start_month":"202601","end_month":"202610"}}"#, insured_json(0)));
    let e = h.reply(&id).await.unwrap_err();
    assert_eq!((e.code, e.detail.code.as_deref()), (C::GatewayError, Some("EQ1004")), "{e:?}");
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"checkup_fetch","insured":{}}}"#, insured_json(0)));
    assert_eq!(err_code(h.reply(&id).await).0, C::GatewayError);
    // Months in the wrong order are caught by the core before anything is sent.
    let before = h.backend.queries.load(std::sync::atomic::Ordering::Relaxed);
    let id = h.send(PAGE, "page", &format!(r#"{{"type":"medication_fetch","insured":{},"start_month":"202610","end_month":"202601"}}"#, insured_json(0)));
    assert_eq!(err_code(h.reply(&id).await).0, C::InvalidArgument);
    let two = format!(r#"{{"type":"reference_register","entries":[{{"insured":{0},"reference_number":"P1"}},{{"insured":{0},"reference_number":"P2"}}]}}"#, insured_json(0));
    let id = h.send(PAGE, "page", &two);
    assert_eq!(err_code(h.reply(&id).await).0, C::InvalidArgument);
    assert_eq!(h.backend.queries.load(std::sync::atomic::Ordering::Relaxed), before);
    let one = format!(r#"{{"type":"reference_register","entries":[{{"insured":{},"reference_number":"P1"}}]}}"#, insured_json(0));
    let id = h.send(PAGE, "page", &one);
    assert_eq!(err_code(h.reply(&id).await).0, C::GatewayError);
    let tail = h.rt.with_store(|s| s.audit_tail(10).unwrap());
    assert_eq!(tail.iter().filter(|e| e.kind == "eligibility_query" && e.outcome == "failed").count(), 2, "{tail:?}");
    assert!(tail.iter().any(|e| e.kind == "reference"), "{tail:?}");
}
