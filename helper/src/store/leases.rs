//! Batch-job leases (issue 17): which desk polls which unfinished job, so
//! that with many desks on one shared store every job is polled by one of
//! them, and a job whose desk was switched off is taken over by another once
//! its lease has run out. A lease is a row's `lease_owner` (the desk's name;
//! `''` for a store opened by path alone, the PC's one local owner) and
//! `lease_until` (UTC, `YYYY-MM-DDTHH:MM:SSZ`: fixed width, so it compares
//! as text on both engines whatever offset the desks' clocks are written in).
//!
//! The owner column is the fence: a desk may count a poll, store the result
//! or finish the job only while the row names it (`check_held`, in the same
//! transaction as the change). An expired lease still held by its desk is
//! kept until another desk claims it — nothing is lost by letting the old
//! holder finish. Nothing here reads a clock or talks to the network.

use std::time::Duration;

use super::engine::{vals, Db};
use super::jobs::{self, BatchJob, JobId, COLUMNS};
use super::{Store, StoreError};
use crate::time::Timestamp;

/// Who polls a job and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The holding desk's name (`''`: a store opened by path alone).
    pub owner: String,
    /// The end of the lease, in UTC (`2026-11-25T00:01:00Z`).
    pub until: String,
}

/// A job this desk now holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub job: BatchJob,
    /// The desk whose expired lease was taken over (`None` when the job was
    /// free or already this desk's): the caller audits the takeover.
    pub taken_from: Option<String>,
}

/// The moment `lease` after `now`, in the stored form. A clock beyond the
/// year 9999 (which `Timestamp` cannot write) holds the lease "for ever"
/// rather than failing: only a broken clock gets there.
pub(super) fn until(now: &Timestamp, lease: Duration) -> String {
    let secs = i64::try_from(lease.as_secs().max(1)).unwrap_or(i64::MAX / 2);
    utc(now.unix_secs().saturating_add(secs))
}

fn utc(secs: i64) -> String {
    Timestamp::from_unix(secs, 0).map(|t| t.as_str().to_owned()).unwrap_or_else(|_| "9999-12-31T23:59:59Z".to_owned())
}

/// Unfinished and free for `?1` to claim at `?2` (UTC): never leased, leased
/// to `?1` already, or leased to another desk whose lease has run out.
const CLAIMABLE: &str = "state IN ('submitted', 'polling')
    AND (lease_owner IS NULL OR lease_owner = ?1 OR lease_until IS NULL OR lease_until <= ?2)";

/// Refuses unless `owner` holds the lease on the unfinished job `id`; inside
/// a write transaction, the row stays locked until the caller's change is
/// committed, so no claim can slip in between the check and the change.
pub(super) fn check_held(db: Db<'_>, id: JobId, owner: &str) -> Result<BatchJob, StoreError> {
    let job = locked_job(db, id)?;
    if job.state.is_finished() {
        return Err(StoreError::JobFinished { id: id.0, state: job.state });
    }
    match &job.lease {
        Some(l) if l.owner == owner => Ok(job),
        lease => Err(StoreError::LeaseNotHeld { id: id.0, holder: lease.as_ref().map(|l| l.owner.clone()) }),
    }
}

/// One job, its row locked until the write transaction ends.
fn locked_job(db: Db<'_>, id: JobId) -> Result<BatchJob, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM batch_jobs WHERE id = ?1{}", db.lock_rows());
    let row = db.query_opt("read batch job", &sql, vals![id.0])?.ok_or(StoreError::NotFound { what: "batch job", id: id.0 })?;
    jobs::row_to_job(&row)
}

impl Store {
    /// The name this store's desk holds leases under: its desk, or `''` for
    /// a store opened by path (one PC, one owner).
    pub(super) fn lease_owner(&self) -> &str {
        self.desk.as_ref().map_or("", |d| d.as_str())
    }

    /// Claims every unfinished job that is free, already this desk's, or
    /// leased to a desk whose lease has run out at `now`, for `lease` from
    /// `now`; oldest first. On PostgreSQL the rows are read `FOR UPDATE SKIP
    /// LOCKED`, so two desks claiming at the same moment take different jobs
    /// and never wait for each other; a row another desk claimed a moment
    /// ago is read again after its commit and then no longer qualifies. This
    /// is also how a desk renews the leases it holds.
    pub fn claim_jobs(&mut self, now: &Timestamp, lease: Duration) -> Result<Vec<Claimed>, StoreError> {
        let owner = self.lease_owner().to_owned();
        let (now_utc, until) = (utc(now.unix_secs()), until(now, lease));
        self.db().write_transaction("claim batch jobs", |db| {
            let sql = format!("SELECT {COLUMNS} FROM batch_jobs WHERE {CLAIMABLE} ORDER BY id{}", db.skip_locked());
            let rows = db.query("claim batch jobs", &sql, vals![owner.as_str(), now_utc.as_str()])?;
            let mut claimed = Vec::with_capacity(rows.len());
            for row in &rows {
                let job = jobs::row_to_job(row)?;
                claimed.push(take(db, job, &owner, &until)?);
            }
            Ok(claimed)
        })
    }

    /// Claims one job, as [`Store::claim_jobs`] would (a page or the command
    /// line asking for a job's result at this desk): `LeaseNotHeld` while
    /// another desk's lease is live, `JobFinished` once it is finished.
    pub fn claim_job(&mut self, id: JobId, now: &Timestamp, lease: Duration) -> Result<Claimed, StoreError> {
        let owner = self.lease_owner().to_owned();
        let (now_utc, until) = (utc(now.unix_secs()), until(now, lease));
        self.db().write_transaction("claim batch job", |db| {
            let job = locked_job(db, id)?;
            if job.state.is_finished() {
                return Err(StoreError::JobFinished { id: id.0, state: job.state });
            }
            match &job.lease {
                Some(l) if l.owner != owner && l.until.as_str() > now_utc.as_str() => {
                    Err(StoreError::LeaseNotHeld { id: id.0, holder: Some(l.owner.clone()) })
                }
                _ => take(db, job, &owner, &until),
            }
        })
    }

    /// Extends this desk's lease on `id` to `lease` from `now`: what a
    /// poller does before each look, so that it stops (`LeaseNotHeld`) as
    /// soon as another desk has taken the job over.
    pub fn renew_lease(&mut self, id: JobId, now: &Timestamp, lease: Duration) -> Result<BatchJob, StoreError> {
        let owner = self.lease_owner().to_owned();
        let until = until(now, lease);
        self.db().write_transaction("renew batch lease", |db| {
            check_held(db, id, &owner)?;
            db.execute("renew batch lease", "UPDATE batch_jobs SET lease_until = ?2 WHERE id = ?1", vals![id.0, until.as_str()])?;
            jobs::read_job(db, id)
        })
    }
}

/// Writes `owner`'s lease on a job read inside the claim's transaction.
fn take(db: Db<'_>, mut job: BatchJob, owner: &str, until: &str) -> Result<Claimed, StoreError> {
    db.execute(
        "claim batch job",
        "UPDATE batch_jobs SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1",
        vals![job.id.0, owner, until],
    )?;
    let taken_from = job.lease.take().map(|l| l.owner).filter(|o| o != owner);
    job.lease = Some(Lease { owner: owner.to_owned(), until: until.to_owned() });
    Ok(Claimed { job, taken_from })
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
