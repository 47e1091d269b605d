//! The local queue of a desk whose shared store cannot be reached (issue 17,
//! a down database): desk results and audit lines are kept in the PC's
//! SQLite file and sent, in their order, when the server answers again, so
//! reception can keep checking patients and nothing they did is lost.
//! Nothing is stored twice: every result and line written for a shared store
//! carries a `uid` made here, at the desk, and the server ignores a `uid` it
//! already has (a write whose answer was lost, a flush cut off and retried).
//! Batch results, jobs and reference numbers are not queued (they live on
//! the server and fail with `ServerUnreachable`). This module holds no
//! clock; it never decides *when* to retry (the service's flusher does).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::audit::{self, Line};
use super::engine::{vals, Db, EngineError};
use super::results::{self, NewResult, ResultId, ResultXml, StoredResult};
use super::values::{ErrorCode, Origin};
use super::{Store, StoreError};
use crate::time::{Day, Timestamp};

/// What a desk knows about its shared store, for `status` and `doctor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedState {
    /// The last statement sent to the server reached it.
    pub reachable: bool,
    /// Desk results kept in the PC's file, not sent yet.
    pub queued_results: u32,
    /// Audit lines kept in the PC's file, not chained yet.
    pub queued_audit: u32,
}

/// What one flush sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flushed {
    pub results: u32,
    pub audit: u32,
}

/// The queue's memory: whether the server is down, and the day's rows as
/// last read from it, which stand in for them while it is down (so a page
/// reloaded during an outage still shows the morning's checks).
#[derive(Default)]
pub(super) struct Outbox {
    down: AtomicBool,
    /// Opened while the server was down: its schema is checked and
    /// migrated before anything is sent to it.
    unmigrated: AtomicBool,
    day: Mutex<Option<(String, Vec<StoredResult>)>>,
}

impl Outbox {
    /// A store opened while its server could not be reached.
    pub(super) fn start_down(&self) {
        self.down.store(true, Ordering::Relaxed);
        self.unmigrated.store(true, Ordering::Relaxed);
    }

    fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    fn remember_day(&self, day: &Day, rows: &[StoredResult]) {
        if let Ok(mut d) = self.day.lock() {
            *d = Some((day.as_str().to_owned(), rows.to_vec()));
        }
    }

    fn remembered_day(&self, day: &Day) -> Vec<StoredResult> {
        match self.day.lock() {
            Ok(d) => d.as_ref().filter(|(k, _)| k == day.as_str()).map(|(_, rows)| rows.clone()).unwrap_or_default(),
            Err(_) => Vec::new(),
        }
    }
}

impl StoreError {
    /// The server could not be reached, or the connection went away during
    /// the statement: what the queue stands in for. (Any other failure —
    /// a refused value, a full disk on the server — is reported as it is.)
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            StoreError::ServerUnreachable { .. }
                | StoreError::Sql { source: EngineError::LostInTransaction | EngineError::ClientGone, .. }
        )
    }
}

/// A unique id made at the desk: 128 random bits from the OS, in hex.
fn new_uid() -> Result<String, StoreError> {
    let mut b = [0u8; 16];
    getrandom::getrandom(&mut b).map_err(|e| StoreError::Random { reason: e.to_string() })?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

const QUEUED_RESULTS: &str = "SELECT count(*) FROM results WHERE uid IS NOT NULL";
const QUEUED_AUDIT: &str = "SELECT count(*) FROM outbox_audit";

impl Store {
    /// The PC's own file, whatever the shared store is.
    fn local(&self) -> Db<'_> {
        Db::Sqlite(&self.conn)
    }

    fn count(&self, sql: &str) -> Result<u32, StoreError> {
        let n = self.local().query_opt("read queue", sql, vec![])?.map(|r| r.int(0)).transpose()?.unwrap_or(0);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// What is queued in the PC's file at `path`: `(results, audit lines)`,
    /// read-only and changing nothing (what `doctor` asks beside the
    /// service). A missing file, or one from before the queue, has none.
    pub fn queued_in(path: &Path) -> Result<(u32, u32), StoreError> {
        if !path.exists() {
            return Ok((0, 0));
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
        let db = Db::Sqlite(&conn);
        let op = "read queue";
        let has_queue = db.query_opt(op, "SELECT count(*) FROM sqlite_master WHERE name = 'outbox_audit'", vec![])?;
        if has_queue.map(|r| r.int(0)).transpose()? != Some(1) {
            return Ok((0, 0));
        }
        let count = |sql| -> Result<u32, StoreError> {
            let n = db.query_opt(op, sql, vec![])?.map(|r| r.int(0)).transpose()?.unwrap_or(0);
            Ok(u32::try_from(n).unwrap_or(u32::MAX))
        };
        Ok((count(QUEUED_RESULTS)?, count(QUEUED_AUDIT)?))
    }

    /// The shared store's state; `None` without one.
    pub fn shared_state(&self) -> Result<Option<SharedState>, StoreError> {
        if self.shared.is_none() {
            return Ok(None);
        }
        Ok(Some(SharedState {
            reachable: !self.outbox.is_down(),
            queued_results: self.count(QUEUED_RESULTS)?,
            queued_audit: self.count(QUEUED_AUDIT)?,
        }))
    }

    /// A desk result for the shared store. Sent at once when the server is
    /// up and nothing is queued before it; otherwise queued behind the rest,
    /// so results reach the server in the order they were made.
    pub(super) fn insert_or_queue(&mut self, r: &NewResult) -> Result<ResultId, StoreError> {
        let uid = new_uid()?;
        let desk = self.desk.as_ref().map(|d| d.as_str().to_owned());
        if !self.outbox.is_down() && self.count(QUEUED_RESULTS)? == 0 {
            match results::insert(self.db(), r, desk.as_deref(), Some(&uid)) {
                Err(e) if e.is_unreachable() => self.outbox.set_down(true),
                done => return done,
            }
        }
        results::insert(self.local(), r, desk.as_deref(), Some(&uid)).map(|id| ResultId(-id.0))
    }

    /// A queued result by its (negative) id.
    pub(super) fn queued_result(&self, id: ResultId) -> Result<Option<StoredResult>, StoreError> {
        let sql = format!("SELECT {} FROM results WHERE id = ?1 AND uid IS NOT NULL", results::COLUMNS);
        let row = self.local().query_opt("read queue", &sql, vals![-id.0])?;
        row.map(|r| results::read(&r).map(|s| StoredResult { id: ResultId(-s.id.0), ..s })).transpose()
    }

    /// An audit line for the shared store, sent or queued as results are.
    /// Returns the seq in the desk's chain, 0 when queued.
    pub(super) fn append_or_queue(&mut self, line: &Line) -> Result<i64, StoreError> {
        let uid = new_uid()?;
        if !self.outbox.is_down() && self.count(QUEUED_AUDIT)? == 0 {
            match audit::append(self.db(), self.chain(), line, Some(&uid)) {
                Err(e) if e.is_unreachable() => self.outbox.set_down(true),
                done => return done,
            }
        }
        self.local().execute(
            "queue audit entry",
            "INSERT INTO outbox_audit (uid, at, actor, kind, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            vals![uid, line.at.as_str(), line.actor.as_str(), line.kind.as_str(), line.outcome.as_str(), line.detail.as_str()],
        )?;
        Ok(0)
    }

    /// The day's list on a shared store: the server's rows (or, while it
    /// cannot be reached, the last ones read), then this desk's queued ones.
    pub(super) fn day_with_queue(&self, day: &Day) -> Result<Vec<StoredResult>, StoreError> {
        let mut rows = match self.shared_day(day) {
            Ok(rows) => {
                self.outbox.remember_day(day, &rows);
                rows
            }
            Err(e) if e.is_unreachable() => {
                self.outbox.set_down(true);
                self.outbox.remembered_day(day)
            }
            Err(e) => return Err(e),
        };
        let sql = format!("SELECT {} FROM results WHERE uid IS NOT NULL AND day = ?1 ORDER BY id", results::COLUMNS);
        for row in self.local().query("read queue", &sql, vals![day.as_str()])? {
            let s = results::read(&row)?;
            rows.push(StoredResult { id: ResultId(-s.id.0), ..s });
        }
        Ok(rows)
    }

    /// Asks the shared store something trivial, to learn whether it is up
    /// (the flusher's heartbeat while nothing is queued).
    pub fn ping_shared(&self) -> Result<(), StoreError> {
        let Some(pg) = &self.shared else { return Ok(()) };
        match pg.query("ping", "SELECT 1", vec![]) {
            Ok(_) => {
                self.outbox.set_down(false);
                Ok(())
            }
            Err(e) => {
                if e.is_unreachable() {
                    self.outbox.set_down(true);
                }
                Err(e)
            }
        }
    }

    /// Sends everything queued, oldest first: results through the same
    /// insert as a desk check (their `uid` makes a repeat harmless), then
    /// audit lines, each chained onto this desk's chain with its original
    /// time. Each row leaves the file only after the server has it, so a
    /// flush cut off anywhere is simply run again. Stops at the first
    /// failure; once all is sent the store writes to the server directly.
    pub fn flush_queue(&mut self) -> Result<Flushed, StoreError> {
        let mut done = Flushed::default();
        let Some(pg) = &self.shared else { return Ok(done) };
        let outcome = if self.outbox.unmigrated.load(Ordering::Relaxed) {
            super::migrate_shared(pg, super::MIGRATIONS).inspect(|()| self.outbox.unmigrated.store(false, Ordering::Relaxed))
        } else {
            Ok(())
        };
        let outcome = outcome.and_then(|()| self.flush_results(&mut done)).and_then(|()| self.flush_audit(&mut done));
        match &outcome {
            Ok(()) => self.outbox.set_down(false),
            Err(e) if e.is_unreachable() => self.outbox.set_down(true),
            Err(_) => {}
        }
        outcome.map(|()| done)
    }

    fn flush_results(&mut self, done: &mut Flushed) -> Result<(), StoreError> {
        const PAGE: u32 = 100;
        let sql = format!("SELECT {}, uid FROM results WHERE uid IS NOT NULL ORDER BY id LIMIT ?1", results::COLUMNS);
        loop {
            let rows = self.local().query("read queue", &sql, vals![PAGE])?;
            for row in &rows {
                let stored = results::read(row)?;
                let uid = row.text(17)?;
                let new = resend(&stored)?;
                results::insert(self.db(), &new, stored.desk.as_deref(), Some(&uid))?;
                self.local().execute("unqueue result", "DELETE FROM results WHERE id = ?1", vals![stored.id.0])?;
                done.results += 1;
            }
            if rows.len() < PAGE as usize {
                return Ok(());
            }
        }
    }

    fn flush_audit(&mut self, done: &mut Flushed) -> Result<(), StoreError> {
        const PAGE: u32 = 100;
        let sql = "SELECT id, uid, at, actor, kind, outcome, detail FROM outbox_audit ORDER BY id LIMIT ?1";
        loop {
            let rows = self.local().query("read queue", sql, vals![PAGE])?;
            for r in &rows {
                let line = Line { at: r.text(2)?, actor: r.text(3)?, kind: r.text(4)?, outcome: r.text(5)?, detail: r.text(6)? };
                audit::append(self.db(), self.chain(), &line, Some(&r.text(1)?))?;
                self.local().execute("unqueue audit entry", "DELETE FROM outbox_audit WHERE id = ?1", vals![r.int(0)?])?;
                done.audit += 1;
            }
            if rows.len() < PAGE as usize {
                return Ok(());
            }
        }
    }
}

/// A queued row as the result it was made from, for the one insert path.
/// Every field was checked when it was queued; one that no longer passes
/// (the file was edited) is reported as corrupt and stays queued.
fn resend(s: &StoredResult) -> Result<NewResult, StoreError> {
    let corrupt = |column| StoreError::Corrupt { table: "results", row: s.id.0, column };
    Ok(NewResult {
        at: Timestamp::parse(&s.at).map_err(|_| corrupt("at"))?,
        kind: s.kind,
        origin: s.origin.as_deref().map(Origin::new).transpose().map_err(|_| corrupt("origin"))?,
        job: None,
        status: s.status,
        insurer_number: s.insurer_number.clone(),
        name_kana: s.name_kana.clone(),
        error: s.error.as_deref().map(ErrorCode::new).transpose().map_err(|_| corrupt("error_code"))?,
        card: s.card,
        document: s.document,
        treatment: s.treatment,
        xml: ResultXml::received(s.xml.bytes.clone()).map_err(|_| corrupt("received"))?,
    })
}
