//! Batch jobs (一括照会): what was submitted, under which 受付番号, and how
//! far polling got. Rows survive restarts; `pending_jobs` is what the service
//! resumes polling from. No scheduling or network logic lives here.

use super::engine::{vals, Row};
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
}

const COLUMNS: &str = "id, reception_number, state, request_file, submitted_at, last_polled_at, attempts, \
                       total, succeeded, failed, error_code";

fn row_to_job(r: &Row) -> Result<BatchJob, StoreError> {
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
    })
}

impl Store {
    /// Records a submitted batch (with the desk that submitted it).
    pub fn insert_job(
        &mut self,
        request_file: &FileName,
        reception_number: Option<&ReceptionNumber>,
        submitted_at: &Timestamp,
    ) -> Result<JobId, StoreError> {
        let row = self.db().query_opt(
            "insert batch job",
            "INSERT INTO batch_jobs (reception_number, state, request_file, submitted_at, desk)
             VALUES (?1, 'submitted', ?2, ?3, ?4) RETURNING id",
            vals![
                reception_number.map(ReceptionNumber::as_str),
                request_file.as_str(),
                submitted_at.as_str(),
                self.desk.as_ref().map(|d| d.as_str())
            ],
        )?;
        Ok(JobId(row.ok_or(StoreError::NotFound { what: "inserted batch job", id: 0 })?.int(0)?))
    }

    pub fn job(&self, id: JobId) -> Result<BatchJob, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM batch_jobs WHERE id = ?1");
        let row = self.db().query_opt("read batch job", &sql, vals![id.0])?;
        row_to_job(&row.ok_or(StoreError::NotFound { what: "batch job", id: id.0 })?)
    }

    /// Counts one poll that found the result not ready yet.
    pub fn record_poll(&mut self, id: JobId, now: &Timestamp) -> Result<BatchJob, StoreError> {
        let job = self.job(id)?;
        if job.state.is_finished() {
            return Err(StoreError::JobFinished { id: id.0, state: job.state });
        }
        self.db().execute(
            "record poll",
            "UPDATE batch_jobs SET state = 'polling', attempts = attempts + 1, last_polled_at = ?2 WHERE id = ?1",
            vals![id.0, now.as_str()],
        )?;
        self.job(id)
    }

    /// Finishes a job: `Ok(counts)` → done, `Err(code)` → failed.
    pub fn finish_job(
        &mut self,
        id: JobId,
        now: &Timestamp,
        outcome: Result<JobCounts, ErrorCode>,
    ) -> Result<BatchJob, StoreError> {
        let job = self.job(id)?;
        if job.state.is_finished() {
            return Err(StoreError::JobFinished { id: id.0, state: job.state });
        }
        let (state, counts, error) = match &outcome {
            Ok(c) => (JobState::Done, Some(*c), None),
            Err(e) => (JobState::Failed, None, Some(e.as_str())),
        };
        self.db().execute(
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
        self.job(id)
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
