//! The two engines behind [`Store`](super::Store), seen by the store's
//! modules as one: statements with `?N` parameters, owned [`Value`]s in and
//! rows of them out, transactions, and the few pieces of SQL that differ
//! (named here, never spelled out in the store's modules). SQLite
//! (`sqlite.rs`) is the embedded default; PostgreSQL (`pg.rs`) is the shared
//! store of a hospital with many desks. Nothing here knows about results,
//! jobs or the audit log.

pub(super) mod pg;
mod sqlite;

use super::StoreError;

/// One SQL value, owned so it can cross to the PostgreSQL client's thread.
/// Integers are 64-bit on both engines (PostgreSQL columns are `BIGINT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(i64::from(v))
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Value {
        Value::Blob(v.to_vec())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// `vals![a, b]`: statement parameters from anything that converts to [`Value`].
macro_rules! vals {
    ($($v:expr),* $(,)?) => { vec![$($crate::store::engine::Value::from($v)),*] };
}
pub(crate) use vals;

/// Why an engine call failed, kept for `StoreError`'s source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
    /// A column did not hold the type the store reads it as.
    #[error("column {column} is not {expected}")]
    Type { column: usize, expected: &'static str },
    /// The server went away inside a transaction; nothing of it was kept.
    #[error("the connection to the database server was lost during a transaction")]
    LostInTransaction,
    /// The thread owning the PostgreSQL client is gone.
    #[error("the database client thread has stopped")]
    ClientGone,
}

/// One row read back.
#[derive(Debug, Clone)]
pub struct Row(pub(super) Vec<Value>);

impl Row {
    fn bad(column: usize, expected: &'static str) -> StoreError {
        StoreError::Sql { op: "read row", source: EngineError::Type { column, expected } }
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.0.get(i) {
            Some(Value::Int(v)) => Ok(Some(*v)),
            Some(Value::Null) => Ok(None),
            _ => Err(Row::bad(i, "an integer")),
        }
    }

    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.opt_int(i)?.ok_or_else(|| Row::bad(i, "an integer"))
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.0.get(i) {
            Some(Value::Text(v)) => Ok(Some(v.clone())),
            Some(Value::Null) => Ok(None),
            _ => Err(Row::bad(i, "text")),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        self.opt_text(i)?.ok_or_else(|| Row::bad(i, "text"))
    }

    pub fn opt_blob(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        match self.0.get(i) {
            Some(Value::Blob(v)) => Ok(Some(v.clone())),
            Some(Value::Null) => Ok(None),
            _ => Err(Row::bad(i, "bytes")),
        }
    }
}

/// What a store module talks to: the shared engine of an open store.
#[derive(Clone, Copy)]
pub enum Db<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a pg::Pg),
}

impl Db<'_> {
    /// Runs a statement; the number of rows it changed.
    pub fn execute(&self, op: &'static str, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        match self {
            Db::Sqlite(c) => sqlite::execute(c, op, sql, &params),
            Db::Postgres(p) => p.execute(op, sql, params),
        }
    }

    /// Every row a query returns.
    pub fn query(&self, op: &'static str, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        match self {
            Db::Sqlite(c) => sqlite::query(c, op, sql, &params),
            Db::Postgres(p) => p.query(op, sql, params),
        }
    }

    /// Several statements without parameters, outside the store's own
    /// statements (tests tamper with the log through it).
    #[cfg(test)]
    pub fn batch(&self, op: &'static str, sql: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(c) => c.execute_batch(sql).map_err(StoreError::sql(op)),
            Db::Postgres(p) => p.batch(op, sql),
        }
    }

    /// The first row, if any.
    pub fn query_opt(&self, op: &'static str, sql: &str, params: Vec<Value>) -> Result<Option<Row>, StoreError> {
        Ok(self.query(op, sql, params)?.into_iter().next())
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled
    /// back otherwise. A `chain` names an audit chain whose head the
    /// transaction reads and extends: writers of the same chain are
    /// serialised (SQLite: `BEGIN IMMEDIATE`, a writer lock on the file;
    /// PostgreSQL: a transaction-scoped advisory lock on the chain's name,
    /// so desks writing their own chains never wait for each other).
    pub fn transaction<T>(
        &self,
        op: &'static str,
        chain: Option<&str>,
        f: impl FnOnce(Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self {
            Db::Sqlite(c) => {
                let begin = if chain.is_some() { "BEGIN IMMEDIATE" } else { "BEGIN" };
                c.execute_batch(begin).map_err(StoreError::sql(op))?;
            }
            Db::Postgres(p) => {
                p.begin(op)?;
                if let Some(chain) = chain {
                    let lock = "SELECT pg_advisory_xact_lock(hashtext('onshi-audit:' || ?1))";
                    if let Err(e) = p.execute(op, lock, vals![chain]) {
                        let _ = p.rollback(op);
                        return Err(e);
                    }
                }
            }
        }
        match f(*self) {
            Ok(v) => {
                match self {
                    Db::Sqlite(c) => c.execute_batch("COMMIT").map_err(StoreError::sql(op))?,
                    Db::Postgres(p) => p.commit(op)?,
                }
                Ok(v)
            }
            Err(e) => {
                let _ = match self {
                    Db::Sqlite(c) => c.execute_batch("ROLLBACK").map_err(StoreError::sql(op)),
                    Db::Postgres(p) => p.rollback(op),
                };
                Err(e)
            }
        }
    }

    /// Tells the other connections listening on `channel` (PostgreSQL
    /// `NOTIFY`, delivered when the surrounding transaction commits). An
    /// SQLite file has one writer and nobody to tell: nothing happens.
    pub fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        match self {
            Db::Sqlite(_) => Ok(()),
            Db::Postgres(p) => p.execute("notify", "SELECT pg_notify(?1, ?2)", vals![channel, payload]).map(drop),
        }
    }

    /// The audit log's insertion order: SQLite's `seq` is its rowid (one
    /// chain per file); PostgreSQL's chains share an identity column `id`.
    pub fn audit_order(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "seq",
            Db::Postgres(_) => "id",
        }
    }
}
