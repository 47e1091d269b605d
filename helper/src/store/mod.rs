//! The helper's local store: one SQLite file holding pairings, the
//! hash-chained audit log, batch jobs, today's results and patient
//! reference numbers. It has no clock (callers pass `now`) and takes only
//! validated value types, never free text that could hold a PIN.

mod audit;
mod jobs;
mod pairings;
mod references;
mod results;
mod schema;
mod usage;
mod values;

use std::path::{Path, PathBuf};
use std::time::Duration;

use onshi_core::text::{Bilingual, Explain};
use rusqlite::{Connection, OpenFlags};

pub use audit::{
    AuditDetail, AuditEntry, AuditKind, BatchAction, ChainBreak, ConfigAction, ConfirmMode, Consents, DisasterFound, Outcome,
    PairingAction, QueryKind, ReferenceAction, ServiceAction, VerifyReport,
};
pub use jobs::{BatchJob, JobCounts, JobId, JobState};
pub use pairings::{Pairing, PairingId};
pub use references::{PatientId, ReferenceNumbers};
pub use results::{CardCheck, Kept, NewResult, ResultId, ResultKind, ResultStatus, ResultXml, StoredResult, StoredXml};
pub use schema::{known_version, MIGRATIONS};
pub use usage::UsageGroup;
pub use values::{pin_shaped, Actor, DeskName, ErrorCode, ExtensionId, FileName, Origin, ReceptionNumber, RequestType, ValueError};

/// How long a writer waits for another process (the service and a CLI
/// command may share the file) before reporting the database as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open store. Writes take `&mut self` because each is a transaction.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Everything that can go wrong with the store, grouped by who can fix it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file could not be opened or created (permissions, missing folder).
    #[error("cannot open the database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    /// The file exists but is not an SQLite database.
    #[error("{path} is not an SQLite database")]
    NotADatabase { path: PathBuf },
    /// Written by a newer helper; refused and left untouched.
    #[error("{path} has schema version {found}, newer than the {known} this helper knows")]
    SchemaTooNew { path: PathBuf, found: i64, known: i64 },
    #[error("schema migration to version {to_version} failed: {source}")]
    Migration { to_version: i64, source: rusqlite::Error },
    /// Another process held the database longer than the busy timeout.
    #[error("database busy during {op}")]
    Busy { op: &'static str },
    #[error("database error during {op}: {source}")]
    Sql { op: &'static str, source: rusqlite::Error },
    /// A value given to the store was refused before touching the file.
    #[error(transparent)]
    Invalid(#[from] ValueError),
    /// A row read back does not parse; someone edited the file.
    #[error("stored row {table}#{row} has an invalid {column}")]
    Corrupt { table: &'static str, row: i64, column: &'static str },
    #[error("no {what} with id {id}")]
    NotFound { what: &'static str, id: i64 },
    /// The job is already finished and cannot change state.
    #[error("batch job {id} is already {state:?}")]
    JobFinished { id: i64, state: JobState },
}

impl StoreError {
    /// Maps a rusqlite error for operation `op`, recognising "busy".
    fn sql(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
        move |source| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy { op }
            }
            _ => StoreError::Sql { op, source },
        }
    }
}

impl Explain for StoreError {
    fn explain(&self) -> Bilingual {
        match self {
            StoreError::Open { path, .. } => Bilingual::new(
                format!("データベース {} を開けません。フォルダーが存在し、このユーザーが書き込めるか確認してください。", path.display()),
                format!("Cannot open the database {}; check that the folder exists and this user can write to it.", path.display()),
            ),
            StoreError::NotADatabase { path } => Bilingual::new(
                format!("{} はデータベースファイルではありません。設定の store_path を確認してください。", path.display()),
                format!("{} is not a database file; check store_path in the configuration.", path.display()),
            ),
            StoreError::SchemaTooNew { path, found, known } => Bilingual::new(
                format!("{} は新しい版のヘルパーで作成されています（スキーマ {found}、この版は {known} まで）。ファイルは変更していません。ヘルパーを更新してください。", path.display()),
                format!("{} was written by a newer helper (schema {found}; this one knows up to {known}). The file was not changed; update the helper.", path.display()),
            ),
            StoreError::Migration { to_version, .. } => Bilingual::new(
                format!("データベースの更新（版 {to_version}）に失敗しました。変更は取り消されています。ディスクの空きと権限を確認してください。"),
                format!("Updating the database to schema {to_version} failed and was rolled back; check disk space and permissions."),
            ),
            StoreError::Busy { .. } => Bilingual::new(
                "データベースが他の処理で使用中です。少し待ってからもう一度実行してください。",
                "The database is in use by another process; wait a moment and try again.",
            ),
            StoreError::Sql { op, .. } => Bilingual::new(
                format!("データベース操作（{op}）に失敗しました。ディスクの空きと権限を確認してください。"),
                format!("A database operation ({op}) failed; check disk space and permissions."),
            ),
            StoreError::Invalid(e) => e.explain(),
            StoreError::Corrupt { table, row, column } => Bilingual::new(
                format!("データベースの {table} #{row} の {column} が不正です。ファイルが外部から変更された可能性があります。`onshi-helper audit verify` を実行してください。"),
                format!("Row {table} #{row} has an invalid {column}; the file may have been edited. Run `onshi-helper audit verify`."),
            ),
            StoreError::NotFound { what, id } => Bilingual::new(
                format!("{what} #{id} が見つかりません。"),
                format!("No {what} with id {id}."),
            ),
            StoreError::JobFinished { id, state } => Bilingual::new(
                format!("一括照会 #{id} はすでに終了しています（{state:?}）。"),
                format!("Batch job #{id} has already finished ({state:?})."),
            ),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store at `path`: busy timeout,
    /// foreign keys, then a schema check *before* anything is written, then
    /// WAL and the missing migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, MIGRATIONS)
    }

    /// As [`Store::open`] with an explicit migration list (tests use a
    /// longer list to play "a newer helper").
    #[doc(hidden)]
    pub fn open_with(path: &Path, steps: &[&str]) -> Result<Store, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags)
            .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
        let not_db = |source: rusqlite::Error| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotADatabase { path: path.to_owned() },
            _ => StoreError::Open { path: path.to_owned(), source },
        };
        conn.busy_timeout(BUSY_TIMEOUT).map_err(not_db)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(not_db)?;
        // Reading the version is the first access to the file's pages, so a
        // non-database file fails here, and a too-new schema is refused
        // before WAL mode (a header change) could be written.
        let found = schema::user_version(&conn).map_err(not_db)?;
        let known = steps.len() as i64;
        if found > known {
            return Err(StoreError::SchemaTooNew { path: path.to_owned(), found, known });
        }
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(not_db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Sql { op: "enable WAL", source: rusqlite::Error::InvalidQuery });
        }
        schema::migrate(&mut conn, path, steps)?;
        Ok(Store { conn, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        schema::user_version(&self.conn).map_err(StoreError::sql("read schema version"))
    }

    /// Folds the WAL into the main file (used before copying the file and by
    /// tests that read its bytes).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(StoreError::sql("checkpoint"))
    }
}

#[cfg(test)]
mod tests;
