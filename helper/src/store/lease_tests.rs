//! Batch-job leases against both engines (issue 17): who may claim, poll,
//! store and finish a job, and that its result is stored exactly once; on
//! PostgreSQL, desks claiming at the same moment never share a job.

use std::time::Duration;

use super::super::test_engine::{conformance, Engine, Place};
use super::super::tests::result_at;
use super::super::*;
use crate::time::{Day, Timestamp};

conformance!(
    a_live_lease_of_another_desk_is_not_claimable_an_expired_one_is,
    only_the_holder_polls_stores_and_finishes,
    the_result_of_a_job_is_stored_exactly_once,
    migration_keeps_one_result_per_job,
);

const LEASE: Duration = Duration::from_secs(60);

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn xml() -> ResultXml {
    ResultXml::received(b"<XmlMsg><BulkConfirmUnit/></XmlMsg>".to_vec()).unwrap()
}

const COUNTS: JobCounts = JobCounts { total: 2, succeeded: 2, failed: 0 };

fn submit(s: &mut Store, at: &str) -> JobId {
    s.insert_job(&FileName::new("OQSmuquc01req_R1.xml").unwrap(), Some(&ReceptionNumber::new("R1").unwrap()), &ts(at), LEASE).unwrap()
}

fn ids(claimed: &[Claimed]) -> Vec<(JobId, Option<&str>)> {
    claimed.iter().map(|c| (c.job.id, c.taken_from.as_deref())).collect()
}

fn not_held(r: Result<impl std::fmt::Debug, StoreError>) -> Option<String> {
    match r {
        Err(StoreError::LeaseNotHeld { holder, .. }) => holder,
        other => panic!("expected LeaseNotHeld, got {other:?}"),
    }
}

/// The desks' clocks write different offsets (one in Japan time, one in
/// UTC); leases compare the instants.
fn a_live_lease_of_another_desk_is_not_claimable_an_expired_one_is(e: Engine) {
    let place = Place::new(e);
    let (mut a, mut b) = (place.open_desk("受付1"), place.open_desk("受付2"));
    let mine = submit(&mut a, "2026-11-25T09:00:00+09:00");
    assert_eq!(a.job(mine).unwrap().lease.map(|l| (l.owner, l.until)), Some(("受付1".to_owned(), "2026-11-25T00:01:00Z".to_owned())));
    // A job from before leases (or whose desk never claimed it) is free.
    let old = submit(&mut a, "2026-11-25T09:00:00+09:00");
    place.raw(&a, &format!("UPDATE batch_jobs SET lease_owner = NULL, lease_until = NULL WHERE id = {}", old.0)).unwrap();

    // 10 s later: 受付2 gets only the free one; 受付1's is live.
    assert_eq!(ids(&b.claim_jobs(&ts("2026-11-25T00:00:10Z"), LEASE).unwrap()), [(old, None)]);
    assert_eq!(not_held(b.claim_job(mine, &ts("2026-11-25T00:00:10Z"), LEASE)), Some("受付1".to_owned()));
    // 受付1's sweep renews its own (to 09:01:10) and leaves 受付2's alone.
    assert_eq!(ids(&a.claim_jobs(&ts("2026-11-25T09:00:10+09:00"), LEASE).unwrap()), [(mine, None)]);
    // One second before the renewed lease ends it is still 受付1's…
    assert!(b.claim_jobs(&ts("2026-11-25T00:01:09Z"), LEASE).unwrap().iter().all(|c| c.job.id != mine));
    // …at its end 受付2 takes it over, and says from whom; its own is renewed.
    let taken = b.claim_jobs(&ts("2026-11-25T00:01:10Z"), LEASE).unwrap();
    assert_eq!(ids(&taken), [(mine, Some("受付1")), (old, None)]);
    assert_eq!(b.job(mine).unwrap().lease.unwrap().owner, "受付2");
    // 受付1 can no longer renew it; finished jobs are never claimed.
    assert_eq!(not_held(a.renew_lease(mine, &ts("2026-11-25T09:01:11+09:00"), LEASE)), Some("受付2".to_owned()));
    b.finish_job(old, &ts("2026-11-25T00:01:12Z"), Err(ErrorCode::new("gateway_error").unwrap())).unwrap();
    assert!(matches!(a.claim_job(old, &ts("2026-11-25T10:00:00+09:00"), LEASE), Err(StoreError::JobFinished { .. })));
    assert_eq!(ids(&a.claim_jobs(&ts("2026-11-25T10:00:00+09:00"), LEASE).unwrap()), [(mine, Some("受付2"))]);
}

fn only_the_holder_polls_stores_and_finishes(e: Engine) {
    let place = Place::new(e);
    let (mut a, mut b) = (place.open_desk("受付1"), place.open_desk("受付2"));
    let job = submit(&mut a, "2026-11-25T09:00:00+09:00");
    let later = ts("2026-11-25T09:00:30+09:00");
    assert_eq!(not_held(b.record_poll(job, &later)), Some("受付1".to_owned()));
    assert_eq!(not_held(b.finish_job(job, &later, Ok(COUNTS))), Some("受付1".to_owned()));
    assert_eq!(not_held(b.store_batch_result(job, &later, xml(), COUNTS)), Some("受付1".to_owned()));
    assert_eq!(not_held(b.renew_lease(job, &later, LEASE)), Some("受付1".to_owned()));
    // Nothing of the refused calls was written.
    let j = a.job(job).unwrap();
    assert_eq!((j.state, j.attempts, a.result_for_job(job).unwrap().is_none()), (JobState::Submitted, 0, true));
    // The holder polls, renews and finishes.
    assert_eq!(a.record_poll(job, &later).unwrap().attempts, 1);
    let renewed = a.renew_lease(job, &later, LEASE).unwrap();
    assert_eq!(renewed.lease.unwrap().until, "2026-11-25T00:01:30Z");
    // A job nobody holds is refused too, naming no one.
    place.raw(&a, &format!("UPDATE batch_jobs SET lease_owner = NULL, lease_until = NULL WHERE id = {}", job.0)).unwrap();
    assert_eq!(not_held(a.record_poll(job, &later)), None);
    a.claim_job(job, &later, LEASE).unwrap();
    let done = a.store_batch_result(job, &later, xml(), COUNTS).unwrap();
    assert_eq!((done.state, done.counts), (JobState::Done, Some(COUNTS)));
    assert!(matches!(a.record_poll(job, &later), Err(StoreError::JobFinished { .. })));
    assert!(matches!(a.renew_lease(job, &later, LEASE), Err(StoreError::JobFinished { .. })));
}

fn batch_results(s: &Store, job: JobId) -> usize {
    let day = Day::parse("2026-11-25").unwrap();
    s.results_for_day(&day).unwrap().into_iter().filter(|r| r.job == Some(job)).count()
}

fn the_result_of_a_job_is_stored_exactly_once(e: Engine) {
    let place = Place::new(e);
    let (mut a, mut b) = (place.open_desk("受付1"), place.open_desk("受付2"));
    let job = submit(&mut a, "2026-11-25T09:00:00+09:00");
    let now = ts("2026-11-25T09:00:05+09:00");
    a.store_batch_result(job, &now, xml(), COUNTS).unwrap();
    // The same desk again (its poller and a page's look racing), and the
    // other desk after the lease ran out: both refused, nothing added.
    assert!(matches!(a.store_batch_result(job, &now, xml(), COUNTS), Err(StoreError::JobFinished { .. })));
    assert!(matches!(b.claim_job(job, &ts("2026-11-25T10:00:00+09:00"), LEASE), Err(StoreError::JobFinished { .. })));
    assert!(matches!(b.store_batch_result(job, &now, xml(), COUNTS), Err(StoreError::JobFinished { .. })));
    // Even a writer past every check cannot add a second row (schema 8).
    let second = NewResult { job: Some(job), ..result_at("2026-11-25T09:00:06+09:00", ResultKind::Batch) };
    assert!(matches!(b.insert_result(&second), Err(StoreError::Sql { .. })));
    assert_eq!(batch_results(&b, job), 1);
    assert_eq!(b.job(job).unwrap().state, JobState::Done);
    // A result refused inside the transaction leaves the job unfinished.
    let other = submit(&mut a, "2026-11-25T09:01:00+09:00");
    place.raw(&a, &format!("INSERT INTO results (at, day, kind, job_id, status, xml) VALUES ('2026-11-25T09:01:01+09:00', '2026-11-25', 'batch', {}, 'valid', '<x/>')", other.0)).unwrap();
    assert!(matches!(a.store_batch_result(other, &now, xml(), COUNTS), Err(StoreError::Sql { .. })));
    assert_eq!(a.job(other).unwrap().state, JobState::Submitted, "rolled back with the insert");
}

/// Schema 8: copies of a job's result stored by earlier helpers shrink to
/// the newest, which is the one they showed.
fn migration_keeps_one_result_per_job(e: Engine) {
    let place = Place::new(e);
    let (job, newest) = {
        let mut s = place.open_with(&MIGRATIONS[..7]).unwrap();
        let job = submit(&mut s, "2026-11-25T09:00:00+09:00");
        // As a schema-7 helper wrote them (today's insert names later columns).
        for _ in 0..2 {
            let sql = format!(
                "INSERT INTO results (at, day, kind, job_id, status, received) VALUES ('2026-11-25T09:00:06+09:00', '2026-11-25', 'batch', {}, 'valid', {})",
                job.0,
                if e == Engine::Sqlite { "X'3C782F3E'" } else { "'\\x3c782f3e'" }
            );
            place.raw(&s, &sql).unwrap();
        }
        // The newest of the two (the older one has the id below it).
        let newest = s.result_for_job(job).unwrap().map(|r| r.id);
        assert!(newest.is_some_and(|id| id.0 >= 2), "two copies before the migration: {newest:?}");
        (job, newest)
    };
    let s = place.open();
    assert_eq!(batch_results(&s, job), 1);
    assert_eq!(s.result_for_job(job).unwrap().map(|r| r.id), newest);
}

/// Desks claiming at the same moment, each from its own connection (as
/// separate helpers would): every job ends up claimed by exactly one desk,
/// whether taken in a sweep (`SKIP LOCKED`) or asked for one by one.
#[cfg(unix)]
#[test]
fn postgres_desks_claiming_at_once_never_share_a_job() {
    let place = std::sync::Arc::new(Place::new(Engine::Postgres));
    let jobs: Vec<JobId> = {
        let mut s = place.open_desk("受付0");
        let jobs: Vec<JobId> = (0..40).map(|_| submit(&mut s, "2026-11-25T09:00:00+09:00")).collect();
        place.raw(&s, "UPDATE batch_jobs SET lease_owner = NULL, lease_until = NULL").unwrap();
        jobs
    };
    let desks = 4;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(desks));
    let threads: Vec<_> = (0..desks)
        .map(|d| {
            let mut s = place.open_desk(&format!("受付{}", d + 1));
            let (barrier, jobs) = (barrier.clone(), jobs.clone());
            std::thread::spawn(move || {
                let now = ts("2026-11-25T09:00:10+09:00");
                barrier.wait();
                let mut mine = std::collections::BTreeSet::new();
                for round in 0..5 {
                    mine.extend(s.claim_jobs(&now, LEASE).unwrap().into_iter().map(|c| c.job.id));
                    // One by one, each desk from a different starting point.
                    for j in jobs.iter().cycle().skip(d * 10 + round).take(8) {
                        match s.claim_job(*j, &now, LEASE) {
                            Ok(c) => {
                                mine.insert(c.job.id);
                            }
                            Err(StoreError::LeaseNotHeld { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
                (format!("受付{}", d + 1), mine)
            })
        })
        .collect();
    let claimed: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let s = place.open();
    for j in &jobs {
        let holders: Vec<&str> = claimed.iter().filter(|(_, m)| m.contains(j)).map(|(d, _)| d.as_str()).collect();
        assert_eq!(holders.len(), 1, "job {j:?} claimed by {holders:?}");
        assert_eq!(s.job(*j).unwrap().lease.unwrap().owner, holders[0]);
    }
}
