//! Batch jobs (一括照会): what was submitted, under which 受付番号, and how
//! far polling got. Rows survive restarts. Every change after the submit
//! (a poll counted, the result stored, the job finished) is made only by
//! the desk holding the job's lease (`leases.rs`), checked in the same
//! transaction as the change, so with many desks on one store a job is
//! polled by one of them and its result stored exactly once. No scheduling
//! or network logic lives here.

use std::time::Duration;

use super::engine::{vals, Db, Row};
use super::leases::{self, Lease};
use super::results::{self, NewResult, ResultKind, ResultStatus, ResultXml};
use super::values::{ErrorCode, FileName, ReceptionNumber};
use super::{Store, StoreError};
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Accepted by the backend; not polled yet.
    Submitted,
    /// Polled at least once; the result is not ready.
    Polling,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Submitted => "submitted",
            JobState::Polling => "polling",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "submitted" => JobState::Submitted,
            "polling" => JobState::Polling,
            "done" => JobState::Done,
            "failed" => JobState::Failed,
            _ => return None,
        })
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed)
    }
}

/// Result counts of a finished batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobCounts {
    pub total: u32,
    pub succeeded: u32,
    pub failed: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchJob {
    pub id: JobId,
    pub reception_number: Option<ReceptionNumber>,
    pub state: JobState,
    pub request_file: FileName,
    pub submitted_at: String,
    pub last_polled_at: Option<String>,
    pub attempts: u32,
    pub counts: Option<JobCounts>,
    pub error: Option<ErrorCode>,
    /// The desk polling the job, and until when (`None` for jobs from before
    /// leases, until a desk claims them).
    pub lease: Option<Lease>,
}

pub(super) const COLUMNS: &str = "id, reception_number, state, request_file, submitted_at, last_polled_at, attempts, \
                       total, succeeded, failed, error_code, lease_owner, lease_until";

pub(super) fn row_to_job(r: &Row) -> Result<BatchJob, StoreError> {
    let id = r.int(0)?;
    let corrupt = |column| StoreError::Corrupt { table: "batch_jobs", row: id, column };
    let count = |v: i64, column| u32::try_from(v).map_err(|_| corrupt(column));
    Ok(BatchJob {
        id: JobId(id),
        reception_number: r
            .opt_text(1)?
            .as_deref()
            .map(ReceptionNumber::new)
            .transpose()
            .map_err(|_| corrupt("reception_number"))?,
        state: JobState::parse(&r.text(2)?).ok_or_else(|| corrupt("state"))?,
        request_file: FileName::new(&r.text(3)?).map_err(|_| corrupt("request_file"))?,
        submitted_at: r.text(4)?,
        last_polled_at: r.opt_text(5)?,
        attempts: count(r.int(6)?, "attempts")?,
        counts: match (r.opt_int(7)?, r.opt_int(8)?, r.opt_int(9)?) {
            (Some(t), Some(s), Some(f)) => Some(JobCounts {
                total: count(t, "total")?,
                succeeded: count(s, "succeeded")?,
                failed: count(f, "failed")?,
            }),
            _ => None,
        },
        error: r.opt_text(10)?.as_deref().map(ErrorCode::new).transpose().map_err(|_| corrupt("error_code"))?,
        lease: match (r.opt_text(11)?, r.opt_text(12)?) {
            (Some(owner), Some(until)) => Some(Lease { owner, until }),
            (None, _) => None,
            (Some(_), None) => return Err(corrupt("lease_until")),
        },
    })
}

impl Store {
    /// Records a submitted batch (with the desk that submitted it), leased
    /// to this desk for `lease` from `submitted_at`: the desk that sent it
    /// polls it, and no other desk's sweep can take it before that desk has
    /// had a chance to.
    pub fn insert_job(
        &mut self,
        request_file: &FileName,
        reception_number: Option<&ReceptionNumber>,
        submitted_at: &Timestamp,
        lease: Duration,
    ) -> Result<JobId, StoreError> {
        let row = self.db().query_opt(
            "insert batch job",
            "INSERT INTO batch_jobs (reception_number, state, request_file, submitted_at, desk, lease_owner, lease_until)
             VALUES (?1, 'submitted', ?2, ?3, ?4, ?5, ?6) RETURNING id",
            vals![
                reception_number.map(ReceptionNumber::as_str),
                request_file.as_str(),
                submitted_at.as_str(),
                self.desk.as_ref().map(|d| d.as_str()),
                self.lease_owner(),
                leases::until(submitted_at, lease)
            ],
        )?;
        Ok(JobId(row.ok_or(StoreError::NotFound { what: "inserted batch job", id: 0 })?.int(0)?))
    }

    pub fn job(&self, id: JobId) -> Result<BatchJob, StoreError> {
        read_job(self.db(), id)
    }

    /// Counts one poll that found the result not ready yet. Refused with
    /// `LeaseNotHeld` unless this desk holds the job's lease.
    pub fn record_poll(&mut self, id: JobId, now: &Timestamp) -> Result<BatchJob, StoreError> {
        let owner = self.lease_owner().to_owned();
        self.db().write_transaction("record poll", |db| {
            leases::check_held(db, id, &owner)?;
            db.execute(
                "record poll",
                "UPDATE batch_jobs SET state = 'polling', attempts = attempts + 1, last_polled_at = ?2 WHERE id = ?1",
                vals![id.0, now.as_str()],
            )?;
            read_job(db, id)
        })
    }

    /// Finishes a job: `Ok(counts)` → done, `Err(code)` → failed. Refused
    /// with `LeaseNotHeld` unless this desk holds the job's lease. A job
    /// done with a result document is finished by [`Store::store_batch_result`].
    pub fn finish_job(
        &mut self,
        id: JobId,
        now: &Timestamp,
        outcome: Result<JobCounts, ErrorCode>,
    ) -> Result<BatchJob, StoreError> {
        let owner = self.lease_owner().to_owned();
        self.db().write_transaction("finish batch job", |db| {
            leases::check_held(db, id, &owner)?;
            finish(db, id, now, &outcome)?;
            read_job(db, id)
        })
    }

    /// Stores a batch's result document (`OQSmuquc02res`) and finishes the
    /// job as done, in one transaction: either both happen or neither, so a
    /// desk that dies in between leaves the job pending for the next holder
    /// rather than a result without a finished job (or the reverse). Refused
    /// with `LeaseNotHeld` unless this desk holds the lease, and with
    /// `JobFinished` when the result is already stored; the unique index on
    /// `results.job_id` (schema 8) backs both up.
    pub fn store_batch_result(
        &mut self,
        id: JobId,
        now: &Timestamp,
        xml: ResultXml,
        counts: JobCounts,
    ) -> Result<BatchJob, StoreError> {
        let owner = self.lease_owner().to_owned();
        let desk = self.desk.as_ref().map(|d| d.as_str().to_owned());
        let result = NewResult {
            at: now.clone(),
            kind: ResultKind::Batch,
            origin: None,
            job: Some(id),
            status: ResultStatus::Valid,
            insurer_number: None,
            name_kana: None,
            error: None,
            card: None,
            document: None,
            treatment: None,
            xml,
        };
        self.db().write_transaction("store batch result", |db| {
            leases::check_held(db, id, &owner)?;
            results::insert(db, &result, desk.as_deref(), None)?;
            finish(db, id, now, &Ok(counts))?;
            read_job(db, id)
        })
    }

    /// Every job, oldest first.
    pub fn jobs(&self) -> Result<Vec<BatchJob>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM batch_jobs ORDER BY id");
        self.db().query("list jobs", &sql, vec![])?.iter().map(row_to_job).collect()
    }

    /// Jobs still waiting for their result, oldest first: what the service
    /// resumes polling after a restart.
    pub fn pending_jobs(&self) -> Result<Vec<BatchJob>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM batch_jobs WHERE state IN ('submitted', 'polling') ORDER BY id");
        self.db().query("list pending jobs", &sql, vec![])?.iter().map(row_to_job).collect()
    }
}

/// One job, on the store's engine or inside a transaction.
pub(super) fn read_job(db: Db<'_>, id: JobId) -> Result<BatchJob, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM batch_jobs WHERE id = ?1");
    let row = db.query_opt("read batch job", &sql, vals![id.0])?;
    row_to_job(&row.ok_or(StoreError::NotFound { what: "batch job", id: id.0 })?)
}

/// Marks a job done or failed (the caller has checked the lease).
fn finish(db: Db<'_>, id: JobId, now: &Timestamp, outcome: &Result<JobCounts, ErrorCode>) -> Result<(), StoreError> {
    let (state, counts, error) = match outcome {
        Ok(c) => (JobState::Done, Some(*c), None),
        Err(e) => (JobState::Failed, None, Some(e.as_str())),
    };
    db.execute(
        "finish batch job",
        "UPDATE batch_jobs SET state = ?2, last_polled_at = ?3, attempts = attempts + 1,
         total = ?4, succeeded = ?5, failed = ?6, error_code = ?7 WHERE id = ?1",
        vals![
            id.0,
            state.as_str(),
            now.as_str(),
            counts.map(|c| c.total),
            counts.map(|c| c.succeeded),
            counts.map(|c| c.failed),
            error
        ],
    )?;
    Ok(())
}
