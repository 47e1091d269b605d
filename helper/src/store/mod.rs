//! The helper's store: pairings, the hash-chained audit log, batch jobs,
//! today's results and patient reference numbers. Behind one `Store` there
//! are two engines (issue 17): an SQLite file on the PC (the default, and
//! always the home of the pairings, which bind a browser on this PC), and
//! optionally a PostgreSQL server shared by a hospital's desks for results,
//! jobs, reference numbers and the audit log (one hash chain per desk). The
//! store's modules write SQL once against `engine::Db`; what differs per
//! engine lives in `engine/` and in `schema.rs`'s side-by-side steps. It has
//! no clock (callers pass `now`) and takes only validated value types, never
//! free text that could hold a PIN.

mod audit;
mod engine;
mod jobs;
mod leases;
mod outbox;
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
    AuditDetail, AuditEntry, AuditKind, BatchAction, ChainBreak, ChainReport, ConfigAction, ConfirmMode, Consents, DisasterFound,
    Outcome, PairingAction, QueryKind, ReferenceAction, ServiceAction, VerifyReport,
};
pub use engine::pg::{Heard, PgSettings};
pub use engine::EngineError;
pub use jobs::{BatchJob, JobCounts, JobId, JobState};
pub use leases::{Claimed, Lease};
pub use outbox::{Flushed, SharedState};
pub use pairings::{Pairing, PairingId};
pub use references::{PatientId, ReferenceNumbers};
pub use results::{CardCheck, Kept, NewResult, Notice, ResultId, ResultKind, ResultStatus, ResultXml, StoredResult, StoredXml};
pub use schema::{known_version, Step, MIGRATIONS};
pub use usage::UsageGroup;
pub use values::{pin_shaped, Actor, DeskName, ErrorCode, ExtensionId, FileName, Origin, ReceptionNumber, RequestType, ValueError};

/// How long a writer waits for another process (the service and a CLI
/// command may share the file) before reporting the database as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open store. Writes take `&mut self` because each is a transaction.
pub struct Store {
    /// The PC's own SQLite file: pairings always, and everything else when
    /// no shared store is configured.
    conn: Connection,
    path: PathBuf,
    /// The shared PostgreSQL store, when the config names one.
    shared: Option<engine::pg::Pg>,
    /// The desk this helper serves (the config's `desk`); `None` for a store
    /// opened by path alone. Results and jobs record it.
    desk: Option<DeskName>,
    /// The local queue's memory while the shared store is down (`outbox.rs`).
    outbox: outbox::Outbox,
}

/// Where results, jobs, reference numbers and the audit log are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SharedStore {
    /// In the PC's own SQLite file, with the pairings.
    Local,
    /// On a PostgreSQL server shared by the hospital's desks.
    Postgres(PgSettings),
}

/// What [`Store::open_settings`] opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// The PC's own SQLite file.
    pub path: PathBuf,
    pub desk: DeskName,
    pub shared: SharedStore,
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
    Migration { to_version: i64, source: EngineError },
    /// Another process held the database longer than the busy timeout.
    #[error("database busy during {op}")]
    Busy { op: &'static str },
    #[error("database error during {op}: {source}")]
    Sql { op: &'static str, source: EngineError },
    /// The shared store's server did not answer (or refused the login).
    #[error("cannot reach the database server {server}: {reason}")]
    ServerUnreachable { server: String, reason: String },
    /// TLS to the shared store's server cannot be set up from the config,
    /// or the server's certificate was not accepted.
    #[error("cannot connect to the database server {server} over TLS: {reason}")]
    ServerTls { server: String, reason: String },
    /// The shared store was migrated by a newer helper; refused untouched.
    #[error("the database on {server} has schema version {found}, newer than the {known} this helper knows")]
    ServerSchemaTooNew { server: String, found: i64, known: i64 },
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
    /// Another desk holds the job's lease (or none does yet): this desk may
    /// not poll it, store its result or finish it. `holder`: that desk's
    /// name (`''` for an SQLite file's own PC), `None` when nobody holds it.
    #[error("batch job {id} is leased to {holder:?}, not to this desk")]
    LeaseNotHeld { id: i64, holder: Option<String> },
    /// The OS gave no random bytes for a result's unique id.
    #[error("no random bytes from the operating system: {reason}")]
    Random { reason: String },
}

impl StoreError {
    /// Maps a rusqlite error for operation `op`, recognising "busy".
    fn sql(op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
        move |source| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy) | Some(rusqlite::ErrorCode::DatabaseLocked) => {
                StoreError::Busy { op }
            }
            _ => StoreError::Sql { op, source: source.into() },
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
            StoreError::Sql { op, source: EngineError::Sqlite(_) | EngineError::Type { .. } } => Bilingual::new(
                format!("データベース操作（{op}）に失敗しました。ディスクの空きと権限を確認してください。"),
                format!("A database operation ({op}) failed; check disk space and permissions."),
            ),
            StoreError::Sql { op, .. } => Bilingual::new(
                format!("共有データベースの操作（{op}）に失敗しました。変更は取り消されています。もう一度実行し、続くときはデータベースサーバーのログ（ディスクの空き、接続数、権限）を確認してください。"),
                format!("An operation on the shared database ({op}) failed and was rolled back; try again, and if it persists check the database server's log (disk space, connections, permissions)."),
            ),
            // Shown for what needs the server itself (batch, reference
            // numbers, history): desk checks are queued and never see it.
            StoreError::ServerUnreachable { server, .. } => Bilingual::new(
                format!("共有データベースのサーバー {server} に接続できません。この操作はサーバーの復旧後にもう一度行ってください（受付での資格確認は続けられ、結果はこの PC に保存されて復旧後に自動で送られます）。サーバーが動いているか、この PC からサーバーへのネットワーク（ファイアウォール、ポート）、設定の [store] url のホスト名・ポート・データベース名・ユーザー・パスワードを確認してください。"),
                format!("Cannot reach the shared database server {server}. Do this again once the server is back (checks at the desk go on: their results are kept on this PC and sent automatically when it is back). Check that the server is running, that this PC can reach it (firewall, port), and the host, port, database, user and password in [store] url."),
            ),
            StoreError::ServerTls { server, reason } => Bilingual::new(
                format!("共有データベースのサーバー {server} と TLS で接続できません（{reason}）。設定の [store] ca がサーバー証明書を発行した CA の PEM ファイルか、[store] url のホスト名が証明書の名前と合っているかを確認してください。"),
                format!("Cannot connect to the shared database server {server} over TLS ({reason}); check that [store] ca is the PEM file of the CA that issued the server's certificate, and that the host in [store] url is a name the certificate carries."),
            ),
            StoreError::ServerSchemaTooNew { server, found, known } => Bilingual::new(
                format!("共有データベース {server} は新しい版のヘルパーで更新されています（スキーマ {found}、この版は {known} まで）。データベースは変更していません。この PC のヘルパーを更新してください。"),
                format!("The shared database {server} was updated by a newer helper (schema {found}; this one knows up to {known}). Nothing was changed; update the helper on this PC."),
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
            StoreError::Random { .. } => Bilingual::new(
                "OS から乱数を取得できず、結果を保存できませんでした。PC を再起動し、続くときはシステム管理者に連絡してください。",
                "The operating system gave no random numbers, so the result could not be stored; restart the PC, and if it persists contact your administrator.",
            ),
            StoreError::JobFinished { id, state } => Bilingual::new(
                format!("一括照会 #{id} はすでに終了しています（{state:?}）。"),
                format!("Batch job #{id} has already finished ({state:?})."),
            ),
            StoreError::LeaseNotHeld { id, holder: Some(holder) } => Bilingual::new(
                format!("一括照会 #{id} の結果確認は別の受付（{holder}）が担当しています。この受付では結果を保存しません。担当の受付が止まっている場合は、しばらくすると自動でこの受付が引き継ぎます。"),
                format!("Batch job #{id} is being followed by another desk ({holder}); this desk does not store its result. If that desk has stopped, this desk takes the job over by itself shortly."),
            ),
            StoreError::LeaseNotHeld { id, holder: None } => Bilingual::new(
                format!("一括照会 #{id} はまだどの受付も結果確認を担当していません。しばらくすると動いている受付のどれかが引き継ぎます。"),
                format!("No desk is following batch job #{id} yet; a running desk takes it over shortly."),
            ),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite store at `path`, with no shared
    /// store and no desk name: busy timeout, foreign keys, then a schema check
    /// *before* anything is written, then WAL and the missing migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Store::open_with(path, MIGRATIONS)
    }

    /// As [`Store::open`] with an explicit migration list (tests use a
    /// longer list to play "a newer helper").
    #[doc(hidden)]
    pub fn open_with(path: &Path, steps: &[Step]) -> Result<Store, StoreError> {
        let conn = open_sqlite(path, steps)?;
        Ok(Store { conn, path: path.to_owned(), shared: None, desk: None, outbox: Default::default() })
    }

    /// Opens what the config describes: the PC's SQLite file, and the shared
    /// PostgreSQL store when one is named (connected, checked for a too-new
    /// schema before anything is written, then migrated).
    pub fn open_settings(settings: &StoreSettings) -> Result<Store, StoreError> {
        Store::open_settings_with(settings, MIGRATIONS)
    }

    #[doc(hidden)]
    pub fn open_settings_with(settings: &StoreSettings, steps: &[Step]) -> Result<Store, StoreError> {
        let shared = match &settings.shared {
            SharedStore::Local => None,
            SharedStore::Postgres(pg) => {
                let pg = engine::pg::Pg::open(pg)?;
                migrate_shared(&pg, steps)?;
                Some(pg)
            }
        };
        let conn = open_sqlite(&settings.path, steps)?;
        Ok(Store { conn, path: settings.path.clone(), shared, desk: Some(settings.desk.clone()), outbox: Default::default() })
    }

    /// As [`Store::open_settings`], for the service: a shared store that
    /// cannot be reached now does not stop it (issue 17, a down database).
    /// The store then starts as down — desk checks are queued in the PC's
    /// file — and the server's schema is checked and migrated before the
    /// queue is first sent to it (`Store::flush_queue`).
    pub fn open_settings_or_queue(settings: &StoreSettings) -> Result<Store, StoreError> {
        let SharedStore::Postgres(pg) = &settings.shared else { return Store::open_settings(settings) };
        let (pg, connected) = engine::pg::Pg::open_or_later(pg)?;
        if connected {
            migrate_shared(&pg, MIGRATIONS)?;
        }
        let conn = open_sqlite(&settings.path, MIGRATIONS)?;
        let outbox = outbox::Outbox::default();
        if !connected {
            outbox.start_down();
        }
        Ok(Store { conn, path: settings.path.clone(), shared: Some(pg), desk: Some(settings.desk.clone()), outbox })
    }

    /// Connects to a shared store and reads its schema version, changing
    /// nothing (no migration): what `doctor` asks. `Ok((server, version))`;
    /// a version newer than this build is `ServerSchemaTooNew`.
    pub fn probe_shared(settings: &PgSettings) -> Result<(String, i64), StoreError> {
        let pg = engine::pg::Pg::open(settings)?;
        let (found, known) = (pg.version()?, known_version());
        if found > known {
            return Err(StoreError::ServerSchemaTooNew { server: pg.server().to_owned(), found, known });
        }
        Ok((pg.server().to_owned(), found))
    }

    /// The engine results, jobs, reference numbers and the audit log use.
    fn db(&self) -> engine::Db<'_> {
        match &self.shared {
            Some(pg) => engine::Db::Postgres(pg),
            None => engine::Db::Sqlite(&self.conn),
        }
    }

    /// The audit chain this store appends to: the desk's own on the shared
    /// store; the file's single chain (`''`) in SQLite, whoever the desk is.
    fn chain(&self) -> &str {
        match (&self.shared, &self.desk) {
            (Some(_), Some(d)) => d.as_str(),
            _ => "",
        }
    }

    /// The shared store's `host:port/database`, when there is one.
    pub fn shared_server(&self) -> Option<&str> {
        self.shared.as_ref().map(|p| p.server())
    }

    pub fn desk(&self) -> Option<&DeskName> {
        self.desk.as_ref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the shared store (the open file's without one).
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        match &self.shared {
            Some(pg) => pg.version(),
            None => schema::user_version(&self.conn).map_err(StoreError::sql("read schema version")),
        }
    }

    /// Folds the WAL into the main file (used before copying the file and by
    /// tests that read its bytes).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(StoreError::sql("checkpoint"))
    }
}

/// The shared store's side of opening: the too-new check before any write,
/// then the missing steps.
fn migrate_shared(pg: &engine::pg::Pg, steps: &[Step]) -> Result<(), StoreError> {
    let (found, known) = (pg.version()?, steps.len() as i64);
    if found > known {
        return Err(StoreError::ServerSchemaTooNew { server: pg.server().to_owned(), found, known });
    }
    let pg_steps: Vec<&str> = steps.iter().map(|s| s.postgres).collect();
    pg.migrate(&pg_steps)?;
    Ok(())
}

/// The SQLite side of opening: busy timeout, foreign keys, the too-new
/// check before any write, WAL, then the missing steps.
fn open_sqlite(path: &Path, steps: &[Step]) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn =
        Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
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
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(not_db)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sql { op: "enable WAL", source: rusqlite::Error::InvalidQuery.into() });
    }
    schema::migrate(&mut conn, path, steps)?;
    Ok(conn)
}

#[cfg(test)]
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) mod test_engine;
#[cfg(test)]
mod tests;
#[cfg(all(test, unix))]
mod outage_tests;
