//! `service --stop` over the real local link (a Unix socket here, the named
//! pipe under Wine): the running service answers, exits, lets go of its
//! lock and audits it; a second stop finds nothing running.

use std::time::Duration;

use super::{run, stop, Started, StopOutcome};
use crate::platform;
use crate::store::Store;

#[tokio::test]
async fn stop_ends_the_running_service_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let endpoint = platform::test_endpoint(dir.path(), "stop-test");
    let db = dir.path().join("helper.sqlite");
    let service = tokio::spawn({
        let (endpoint, store) = (endpoint.clone(), Store::open(&db).unwrap());
        async move { run(&endpoint, store, None).await }
    });
    // Listening once a connection succeeds.
    let mut up = false;
    for _ in 0..200 {
        if platform::connect(&endpoint).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "the service never listened on {}", endpoint.display());

    let stopping = tokio::spawn({
        let endpoint = endpoint.clone();
        async move { stop(&endpoint).await }
    });
    let ended = tokio::time::timeout(Duration::from_secs(5), service).await.expect("run() did not return").unwrap();
    let Ok(Started::Stopped(lock)) = ended else { panic!("{ended:?}") };
    assert!(platform::connect(&endpoint).await.is_err(), "still listening after the stop");
    // `--stop` reports "stopped" only once the process lets go of the lock,
    // which it does last, just before exiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!stopping.is_finished(), "--stop returned while the lock was still held");
    drop(lock);
    assert_eq!(stopping.await.unwrap().unwrap(), StopOutcome::Stopped);
    assert_eq!(stop(&endpoint).await.unwrap(), StopOutcome::NotRunning);

    let store = Store::open(&db).unwrap();
    let last = store.audit_tail(1).unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].actor.as_str(), last[0].kind.as_str(), last[0].outcome.as_str()), ("cli", "service", "ok"), "{:?}", last[0]);
    assert!(last[0].detail.contains("\"stop\""), "{}", last[0].detail);
    assert!(store.verify_audit().unwrap().is_intact(), "the chain breaks after the stop entry");
}
