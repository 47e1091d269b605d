//! A shared store that goes away (issue 17, a down database): desk results
//! and audit lines made meanwhile are queued in the PC's file, listed with
//! the day, and sent once each, in order, when it is back — also when a
//! flush is cut off after the server took a row and before the file let go
//! of it. The server "goes away" through a TCP proxy in front of the test
//! cluster that the test cuts (live connections shut, new ones dropped), so
//! these tests run beside the others on the one cluster; the cross-process
//! test `desks_outage` stops a real server instead.

use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::test_engine::{Engine, Place};
use super::*;
use crate::time::{Day, Timestamp};

/// A loopback TCP proxy to the test cluster that can be cut and restored.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn to(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, live) = (Arc::new(AtomicBool::new(true)), Arc::new(Mutex::new(Vec::<TcpStream>::new())));
        let (up2, live2) = (up.clone(), live.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                let mut l = live2.lock().unwrap();
                l.push(client.try_clone().unwrap());
                l.push(server.try_clone().unwrap());
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, live }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

/// A check by numbers at `at`, told apart by its kana name.
fn check(at: &str, n: usize) -> NewResult {
    NewResult {
        name_kana: Some(format!("ｼﾝｻﾂ ﾀﾛｳ{n}")),
        ..super::tests::result_at(at, ResultKind::InsuranceConfirm)
    }
}

fn line(store: &mut Store, at: &str) -> i64 {
    let detail = AuditDetail::EligibilityQuery { query: QueryKind::InsuranceCard, error: None, treatment: None };
    store.append_audit(&ts(at), &Actor::Cli, Outcome::Ok, &detail).unwrap()
}

/// A proxy to the place's server, and desk 受付1's settings through it.
fn proxied(place: &Place) -> (Proxy, StoreSettings) {
    let target = {
        let StoreSettings { shared: SharedStore::Postgres(pg), .. } = place.settings("受付1") else { panic!("a shared store") };
        let rest = pg.url.split_once("127.0.0.1:").unwrap().1;
        format!("127.0.0.1:{}", rest.split(['/', '?']).next().unwrap())
    };
    let proxy = Proxy::to(target.clone());
    let port = proxy.port;
    (proxy, place.settings_via("受付1", |url| url.replacen(&target, &format!("127.0.0.1:{port}"), 1)))
}

/// Desk 受付1 through the proxy, and an observer (another desk, its own
/// PC file) straight to the cluster.
fn desk_and_observer(place: &Place) -> (Proxy, Store, Store, tempfile::TempDir) {
    let (proxy, settings) = proxied(place);
    let desk = Store::open_settings(&settings).unwrap();
    let other_pc = tempfile::tempdir().unwrap();
    let observer = Store::open_settings(&StoreSettings { path: other_pc.path().join("helper.sqlite"), ..place.settings("受付2") }).unwrap();
    (proxy, desk, observer, other_pc)
}

fn kana(rows: &[StoredResult]) -> Vec<(String, bool)> {
    rows.iter().map(|r| (r.name_kana.clone().unwrap_or_default(), r.id.is_queued())).collect()
}

/// Issue 17: results and audit lines made while the server is down are
/// kept on the PC, listed with the day, and reach the server once each, in
/// order, with their own times; the desk's chain verifies afterwards.
#[test]
fn postgres_a_down_server_queues_results_and_sends_them_once_in_order() {
    let place = Place::new(Engine::Postgres);
    let (proxy, mut desk, observer, _pc) = desk_and_observer(&place);
    let day = Day::parse("2026-12-07").unwrap();
    desk.insert_result(&check("2026-12-07T09:00:00+09:00", 1)).unwrap();
    line(&mut desk, "2026-12-07T09:00:00+09:00");
    assert_eq!(kana(&desk.results_for_day(&day).unwrap()), [("ｼﾝｻﾂ ﾀﾛｳ1".into(), false)]);
    assert_eq!(desk.shared_state().unwrap(), Some(SharedState { reachable: true, queued_results: 0, queued_audit: 0 }));

    proxy.cut();
    for n in 2..=4 {
        let at = format!("2026-12-07T09:0{n}:00+09:00");
        let id = desk.insert_result(&check(&at, n)).unwrap();
        assert!(id.is_queued(), "{id:?}");
        assert_eq!(desk.result(id).unwrap().and_then(|r| r.name_kana), Some(format!("ｼﾝｻﾂ ﾀﾛｳ{n}")));
        assert_eq!(line(&mut desk, &at), 0, "queued lines have no seq yet");
    }
    assert_eq!(desk.shared_state().unwrap(), Some(SharedState { reachable: false, queued_results: 3, queued_audit: 3 }));
    // Reception keeps its day: the rows read before, then the queued ones.
    let listed = kana(&desk.results_for_day(&day).unwrap());
    let expected: Vec<(String, bool)> =
        (1..=4).map(|n| (format!("ｼﾝｻﾂ ﾀﾛｳ{n}"), n > 1)).collect();
    assert_eq!(listed, expected);
    // Still down: the flush fails as unreachable and nothing is lost.
    assert!(desk.flush_queue().unwrap_err().is_unreachable());
    assert_eq!(desk.shared_state().unwrap().unwrap().queued_results, 3);

    proxy.restore();
    // Back, but the queue is not sent yet: a new check waits behind it.
    desk.insert_result(&check("2026-12-07T09:05:00+09:00", 5)).unwrap();
    assert_eq!(desk.shared_state().unwrap().unwrap().queued_results, 4);
    assert_eq!(desk.flush_queue().unwrap(), Flushed { results: 4, audit: 3 });
    assert_eq!(desk.shared_state().unwrap(), Some(SharedState { reachable: true, queued_results: 0, queued_audit: 0 }));
    assert_eq!(desk.flush_queue().unwrap(), Flushed::default(), "nothing is sent twice");
    // Now straight to the server again.
    desk.insert_result(&check("2026-12-07T09:06:00+09:00", 6)).unwrap();
    assert_eq!(line(&mut desk, "2026-12-07T09:06:00+09:00"), 5);

    let seen = observer.results_for_day(&day).unwrap();
    let expected: Vec<(String, bool)> = (1..=6).map(|n| (format!("ｼﾝｻﾂ ﾀﾛｳ{n}"), false)).collect();
    assert_eq!(kana(&seen), expected, "every result once, in the order made");
    assert!(seen.iter().all(|r| r.desk.as_deref() == Some("受付1")));
    let report = observer.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 5);
    let times: Vec<String> = observer.audit_tail(10).unwrap().into_iter().map(|e| e.at).collect();
    assert_eq!(times[1], "2026-12-07T09:02:00+09:00", "a queued line keeps its own time");
}

/// A flush cut off after the server took the rows but before the PC's file
/// let go of them is run again: the unique ids keep every row single.
#[test]
fn postgres_a_retried_flush_stores_nothing_twice() {
    let place = Place::new(Engine::Postgres);
    let (proxy, mut desk, observer, _pc) = desk_and_observer(&place);
    proxy.cut();
    for n in 1..=3 {
        let at = format!("2026-12-07T10:0{n}:00+09:00");
        desk.insert_result(&check(&at, n)).unwrap();
        line(&mut desk, &at);
    }
    // What the file holds before the flush, put back after it: as if each
    // row had reached the server and the delete had never happened.
    desk.conn
        .execute_batch("CREATE TABLE keep_r AS SELECT * FROM results; CREATE TABLE keep_a AS SELECT * FROM outbox_audit;")
        .unwrap();
    proxy.restore();
    assert_eq!(desk.flush_queue().unwrap(), Flushed { results: 3, audit: 3 });
    desk.conn
        .execute_batch("INSERT INTO results SELECT * FROM keep_r; INSERT INTO outbox_audit SELECT * FROM keep_a;")
        .unwrap();
    assert_eq!(desk.flush_queue().unwrap(), Flushed { results: 3, audit: 3 }, "sent again, stored once");
    let day = Day::parse("2026-12-07").unwrap();
    assert_eq!(observer.results_for_day(&day).unwrap().len(), 3);
    let report = observer.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.entries, 3);
}

/// The service (re)started while the server is away still opens its store:
/// checks are queued; the server's schema (here: never created) is made
/// before the queue is sent. The command line's `open_settings` still
/// refuses, with what to check.
#[test]
fn postgres_a_service_started_during_an_outage_queues_until_the_server_answers() {
    let place = Place::new(Engine::Postgres);
    let (proxy, settings) = proxied(&place);
    proxy.cut();
    assert!(Store::open_settings(&settings).err().is_some_and(|e| e.is_unreachable()));
    let mut desk = Store::open_settings_or_queue(&settings).unwrap();
    assert_eq!(desk.shared_state().unwrap(), Some(SharedState { reachable: false, queued_results: 0, queued_audit: 0 }));
    assert!(desk.insert_result(&check("2026-12-07T11:00:00+09:00", 1)).unwrap().is_queued());
    line(&mut desk, "2026-12-07T11:00:00+09:00");
    assert!(desk.flush_queue().unwrap_err().is_unreachable());
    proxy.restore();
    assert_eq!(desk.flush_queue().unwrap(), Flushed { results: 1, audit: 1 });
    assert_eq!(desk.schema_version().unwrap(), known_version(), "migrated before sending");
    let other_pc = tempfile::tempdir().unwrap();
    let observer = Store::open_settings(&StoreSettings { path: other_pc.path().join("helper.sqlite"), ..place.settings("受付2") }).unwrap();
    assert_eq!(observer.results_for_day(&Day::parse("2026-12-07").unwrap()).unwrap().len(), 1);
    assert!(observer.verify_audit().unwrap().is_intact());
}

/// An SQLite store alone has no shared store: nothing is ever queued.
#[test]
fn a_store_without_a_shared_one_never_queues() {
    let place = Place::new(Engine::Sqlite);
    let mut s = place.open();
    s.insert_result(&check("2026-12-07T09:00:00+09:00", 1)).unwrap();
    assert_eq!(s.shared_state().unwrap(), None);
    assert_eq!(s.flush_queue().unwrap(), Flushed::default());
    let rows = s.results_for_day(&Day::parse("2026-12-07").unwrap()).unwrap();
    assert!(rows.iter().all(|r| !r.id.is_queued()));
    assert_eq!(Store::queued_in(s.path()).unwrap(), (0, 0));
}
