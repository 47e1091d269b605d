//! Batch leases at the service level (issue 17): two desks' runtimes on one
//! store and one "national system" (a shared fake backend). A batch sent at
//! desk A whose runtime then dies mid-poll is taken over by desk B once A's
//! lease has run out: the takeover audited in B's chain, the result stored
//! once, and the audit log intact.

use super::*;
use crate::store::test_engine::{Engine, Place};
use crate::store::JobState;

fn lease_takeover(engine: Engine) {
    let place = Place::new(engine);
    let dir = tempfile::tempdir().unwrap();
    // The batch is ready 1.5 s after upload; A's first look would be at 2 s.
    let backend = Arc::new(FakeBackend::new(Duration::from_millis(1500)));
    let card = Arc::new(SimAccess::new(3));
    let lease = Duration::from_secs(2);
    let settings = Settings { batch_lease: lease, batch_poll: Duration::from_millis(100), ..quick() };
    let open_desk = |desk: &str| {
        let dyn_backend = backend.clone() as Arc<dyn crate::backend::Backend>;
        open_parts(dir.path(), None, place.open_desk(desk), dyn_backend, backend.clone(), card.clone(), settings)
    };
    let entries = format!(r#"[{{"insured":{}}},{{"insured":{}}}]"#, insured_json(0), insured_json(1));
    let (batch_id, submitted) = {
        let tokio_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let id = tokio_rt.block_on(async {
            let mut a = open_desk("受付A");
            a.rt.resume_batches();
            let id = a.send(PAGE, "page", &format!(r#"{{"type":"batch_submit","confirmation_date":"20261126","entries":{entries}}}"#));
            let Ok(Response::BatchSubmit(b)) = a.reply(&id).await else { panic!("not submitted") };
            b.batch_id
        });
        // A "switched off" before its first look: every task of its runtime ends.
        drop(tokio_rt);
        (id, std::time::Instant::now())
    };
    let job = super::super::dispatch::parse_batch_id(&batch_id).unwrap();
    let tokio_rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    tokio_rt.block_on(async {
        let mut b = open_desk("受付B");
        assert_eq!(b.rt.with_store(|s| s.job(job).unwrap().lease.unwrap().owner), "受付A");
        b.rt.resume_batches();
        // A page at B asking meanwhile is told "still processing"; B does not take A's live lease.
        let id = b.send(PAGE, "page", &format!(r#"{{"type":"batch_results","batch_id":"{batch_id}"}}"#));
        assert!(matches!(b.reply(&id).await, Err(e) if e.code == C::Busy));
        assert_eq!(b.rt.with_store(|s| s.job(job).unwrap().lease.unwrap().owner), "受付A");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while b.rt.with_store(|s| s.job(job).unwrap().state) != JobState::Done {
            assert!(std::time::Instant::now() < deadline, "desk B never finished the job");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Leases are written to the second, so one may end up to a second early.
        assert!(submitted.elapsed() + Duration::from_secs(1) >= lease, "taken over only after the lease ran out");
        b.rt.with_store(|s| {
            let j = s.job(job).unwrap();
            assert_eq!((j.lease.unwrap().owner, j.counts.map(|c| c.total)), ("受付B".to_owned(), Some(2)));
            let day = s.job(job).unwrap().last_polled_at.unwrap()[..10].to_owned();
            let rows = s.results_for_day(&crate::time::Day::parse(&day).unwrap()).unwrap();
            assert_eq!(rows.iter().filter(|r| r.job == Some(job)).count(), 1, "the result stored once");
            let tail = s.audit_tail(50).unwrap();
            let takeovers: Vec<_> = tail.iter().filter(|e| e.detail.contains(r#""action":"takeover""#)).collect();
            assert_eq!(takeovers.len(), 1, "{tail:?}");
            assert_eq!(takeovers[0].actor, "desk:受付B");
            assert!(s.verify_audit().unwrap().is_intact());
        });
    });
}

#[test]
fn sqlite_a_stopped_desks_batch_is_taken_over() {
    lease_takeover(Engine::Sqlite);
}

#[cfg(unix)]
#[test]
fn postgres_a_stopped_desks_batch_is_taken_over() {
    lease_takeover(Engine::Postgres);
}
