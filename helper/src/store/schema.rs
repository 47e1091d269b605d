//! The schema as one ordered list of migration steps, with each step's SQL
//! for both engines side by side. Step *i* moves a database from version *i*
//! to *i + 1*; steps are only ever appended, never edited, once released.
//! SQLite keeps the version in `PRAGMA user_version`, PostgreSQL in the one
//! row of `onshi_schema` (created with step 1, see `engine::pg`). The local
//! SQLite file always gets every step (it holds the pairings, which are never
//! shared); the PostgreSQL side has no `pairings` table.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// One schema step: the same change in each engine's SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

impl Step {
    /// A step written in SQL both engines accept alike.
    pub const fn both(sql: &'static str) -> Step {
        Step { sqlite: sql, postgres: sql }
    }
}

/// Every schema step in order. `MIGRATIONS.len()` is the version this
/// build knows; a database with a higher version was written by a newer
/// helper and is refused without being touched, on both engines.
pub const MIGRATIONS: &[Step] = &[
    // 1: the first schema. PostgreSQL (issue 17) starts with the audit log
    // already per desk: one hash chain per desk, `seq` counted per desk, and
    // an identity `id` for the order across desks.
    Step {
        sqlite: r#"
    CREATE TABLE pairings (
        id           INTEGER PRIMARY KEY,
        origin       TEXT    NOT NULL,
        extension_id TEXT    NOT NULL,
        browser      TEXT    NOT NULL,
        created_at   TEXT    NOT NULL,
        approved     INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
        approved_at  TEXT,
        revoked_at   TEXT
    );
    -- At most one live pairing per origin and extension; revoked rows stay as history.
    CREATE UNIQUE INDEX pairings_live ON pairings (origin, extension_id) WHERE revoked_at IS NULL;

    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY,
        at        TEXT NOT NULL,
        actor     TEXT NOT NULL,
        kind      TEXT NOT NULL,
        outcome   TEXT NOT NULL,
        detail    TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    -- The log is append-only. The hash chain detects edits made around these
    -- triggers (someone with the file can drop them); the triggers stop
    -- honest code from ever trying.
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

    CREATE TABLE batch_jobs (
        id               INTEGER PRIMARY KEY,
        reception_number TEXT,
        state            TEXT    NOT NULL CHECK (state IN ('submitted', 'polling', 'done', 'failed')),
        request_file     TEXT    NOT NULL,
        submitted_at     TEXT    NOT NULL,
        last_polled_at   TEXT,
        attempts         INTEGER NOT NULL DEFAULT 0,
        total            INTEGER,
        succeeded        INTEGER,
        failed           INTEGER,
        error_code       TEXT
    );
    CREATE INDEX batch_jobs_state ON batch_jobs (state);

    CREATE TABLE results (
        id             INTEGER PRIMARY KEY,
        at             TEXT NOT NULL,
        day            TEXT NOT NULL,
        kind           TEXT NOT NULL,
        origin         TEXT,
        job_id         INTEGER REFERENCES batch_jobs (id),
        status         TEXT NOT NULL,
        insurer_number TEXT,
        name_kana      TEXT,
        error_code     TEXT,
        xml            TEXT NOT NULL
    );
    CREATE INDEX results_day ON results (day);

    CREATE TABLE patient_refs (
        patient_id     TEXT PRIMARY KEY,
        insurer_number TEXT NOT NULL,
        symbol         TEXT,
        number         TEXT NOT NULL,
        branch         TEXT,
        updated_at     TEXT NOT NULL
    );
    "#,
        postgres: r#"
    CREATE TABLE audit (
        id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        desk      TEXT   NOT NULL,
        seq       BIGINT NOT NULL,
        at        TEXT   NOT NULL,
        actor     TEXT   NOT NULL,
        kind      TEXT   NOT NULL,
        outcome   TEXT   NOT NULL,
        detail    TEXT   NOT NULL,
        prev_hash TEXT   NOT NULL,
        hash      TEXT   NOT NULL,
        UNIQUE (desk, seq)
    );
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit log is append-only'; END $$;
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();

    CREATE TABLE batch_jobs (
        id               BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        reception_number TEXT,
        state            TEXT   NOT NULL CHECK (state IN ('submitted', 'polling', 'done', 'failed')),
        request_file     TEXT   NOT NULL,
        submitted_at     TEXT   NOT NULL,
        last_polled_at   TEXT,
        attempts         BIGINT NOT NULL DEFAULT 0,
        total            BIGINT,
        succeeded        BIGINT,
        failed           BIGINT,
        error_code       TEXT
    );
    CREATE INDEX batch_jobs_state ON batch_jobs (state);

    CREATE TABLE results (
        id             BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        at             TEXT   NOT NULL,
        day            TEXT   NOT NULL,
        kind           TEXT   NOT NULL,
        origin         TEXT,
        job_id         BIGINT REFERENCES batch_jobs (id),
        status         TEXT   NOT NULL,
        insurer_number TEXT,
        name_kana      TEXT,
        error_code     TEXT,
        xml            TEXT   NOT NULL
    );
    CREATE INDEX results_day ON results (day);

    CREATE TABLE patient_refs (
        patient_id     TEXT PRIMARY KEY,
        insurer_number TEXT NOT NULL,
        symbol         TEXT,
        number         TEXT NOT NULL,
        branch         TEXT,
        updated_at     TEXT NOT NULL
    );
    "#,
    },
    // 2: card checks remember PIN vs visual and the patient's consents, so
    // the desk shows them after a reload. NULL for other kinds and for card
    // results stored before this step.
    Step::both(
        r#"
    ALTER TABLE results ADD COLUMN card_mode TEXT CHECK (card_mode IN ('pin', 'visual'));
    ALTER TABLE results ADD COLUMN consents  TEXT;
    "#,
    ),
    // 3 (issue 14): results keep the bytes the system sent (`received`), so
    // an export is the answer byte for byte, Shift_JIS and all. Rows from
    // before keep the UTF-8 text they were stored as (`xml`), and say so by
    // having no `received`. SQLite cannot relax NOT NULL in place, so the
    // table is rebuilt (nothing references it); PostgreSQL relaxes it in place.
    Step {
        sqlite: r#"
    CREATE TABLE results_v3 (
        id             INTEGER PRIMARY KEY,
        at             TEXT NOT NULL,
        day            TEXT NOT NULL,
        kind           TEXT NOT NULL,
        origin         TEXT,
        job_id         INTEGER REFERENCES batch_jobs (id),
        status         TEXT NOT NULL,
        insurer_number TEXT,
        name_kana      TEXT,
        error_code     TEXT,
        xml            TEXT,
        card_mode      TEXT CHECK (card_mode IN ('pin', 'visual')),
        consents       TEXT,
        received       BLOB,
        CHECK ((xml IS NULL) <> (received IS NULL))
    );
    INSERT INTO results_v3 (id, at, day, kind, origin, job_id, status, insurer_number, name_kana, error_code, xml, card_mode, consents)
        SELECT id, at, day, kind, origin, job_id, status, insurer_number, name_kana, error_code, xml, card_mode, consents FROM results;
    DROP TABLE results;
    ALTER TABLE results_v3 RENAME TO results;
    CREATE INDEX results_day ON results (day);
    "#,
        postgres: r#"
    ALTER TABLE results ALTER COLUMN xml DROP NOT NULL;
    ALTER TABLE results ADD COLUMN received BYTEA;
    ALTER TABLE results ADD CONSTRAINT results_xml_or_received CHECK ((xml IS NULL) <> (received IS NULL));
    "#,
    },
    // 4 (issue 14): checks by numbers remember the document the patient
    // handed over (資格確認書, 資格情報のお知らせ, the old 保険証), for the
    // day's list and the usage statistics. NULL when the page did not say.
    Step::both(
        r#"
    ALTER TABLE results ADD COLUMN document TEXT
        CHECK (document IN ('insurance_card', 'eligibility_certificate', 'eligibility_notice'));
    "#,
    ),
    // 5 (issue 16): usage statistics group a year of results by day, kind,
    // card mode and document; this index covers that query, so it never
    // touches the table's rows (and their documents). It starts with `day`,
    // so it also serves the day's list, and the old day index goes.
    Step::both(
        r#"
    CREATE INDEX results_usage ON results (day, kind, card_mode, document);
    DROP INDEX results_day;
    "#,
    ),
    // 6 (issue 16): desk checks remember where the patient was treated
    // (外来, 訪問診療, オンライン診療), for the day's list and the viewing
    // requests made from the result. NULL for batch and history rows, and for
    // rows stored before (all of them made at the desk). The same SQL on both.
    Step::both(
        r#"
    ALTER TABLE results ADD COLUMN treatment TEXT
        CHECK (treatment IN ('outpatient', 'home_visit', 'online', 'emergency'));
    "#,
    ),
    // 7 (issue 17): the desk that made each result and submitted each job;
    // in SQLite the audit log gets a desk column too (one chain per file,
    // keyed '': the file's own PC). `lease_owner` / `lease_until` are for
    // batch jobs polled exactly once by one desk (a lease taken with
    // `FOR UPDATE SKIP LOCKED`; set since step 8's build, see `leases.rs`). NULL in old rows.
    Step {
        sqlite: r#"
    ALTER TABLE results ADD COLUMN desk TEXT;
    ALTER TABLE audit ADD COLUMN desk TEXT NOT NULL DEFAULT '';
    CREATE INDEX audit_desk ON audit (desk, seq);
    ALTER TABLE batch_jobs ADD COLUMN desk TEXT;
    ALTER TABLE batch_jobs ADD COLUMN lease_owner TEXT;
    ALTER TABLE batch_jobs ADD COLUMN lease_until TEXT;
    "#,
        postgres: r#"
    ALTER TABLE results ADD COLUMN desk TEXT;
    ALTER TABLE batch_jobs ADD COLUMN desk TEXT, ADD COLUMN lease_owner TEXT, ADD COLUMN lease_until TEXT;
    "#,
    },
    // 8 (issue 17): a batch job has at most one result row, whichever desk
    // stores it: the lease decides who polls, and this index is the last word
    // if two writers ever got past it (the second insert fails and its
    // transaction, which would also finish the job, is rolled back). Earlier
    // helpers could store a job's result twice (the poller and a
    // `batch fetch` at once); those copies are the same answer, and the newest
    // is the one `result_for_job` has always shown, so the older ones go. The
    // lease columns of step 7 stay as they are: `lease_until` is written in
    // UTC (`…Z`, fixed width) so it compares as text on both engines.
    Step::both(
        r#"
    DELETE FROM results WHERE job_id IS NOT NULL
        AND id NOT IN (SELECT MAX(id) FROM results WHERE job_id IS NOT NULL GROUP BY job_id);
    CREATE UNIQUE INDEX results_one_per_job ON results (job_id) WHERE job_id IS NOT NULL;
    "#,
    ),
    // 9 (issue 17, a down shared database): each desk result and audit line
    // written for a shared store carries a `uid` made at the desk, unique,
    // so a write whose answer was lost, or a flush of the local queue cut
    // off half-way and retried, can never store it twice (`ON CONFLICT DO
    // NOTHING`). While the shared store cannot be reached, the PC's file is
    // the queue: desk results in its own `results` table (the rows with a
    // `uid`; a file used alone never sets one) and audit lines in
    // `outbox_audit`, whose lines are chained only when they reach the shared
    // store (the file's own `audit` table is append-only and has its own
    // chain). The PostgreSQL side gets the two columns only.
    Step {
        sqlite: r#"
    ALTER TABLE results ADD COLUMN uid TEXT;
    CREATE UNIQUE INDEX results_uid ON results (uid);
    ALTER TABLE audit ADD COLUMN uid TEXT;
    CREATE UNIQUE INDEX audit_uid ON audit (uid);
    CREATE TABLE outbox_audit (
        id      INTEGER PRIMARY KEY,
        uid     TEXT NOT NULL UNIQUE,
        at      TEXT NOT NULL,
        actor   TEXT NOT NULL,
        kind    TEXT NOT NULL,
        outcome TEXT NOT NULL,
        detail  TEXT NOT NULL
    );
    "#,
        postgres: r#"
    ALTER TABLE results ADD COLUMN uid TEXT;
    CREATE UNIQUE INDEX results_uid ON results (uid);
    ALTER TABLE audit ADD COLUMN uid TEXT;
    CREATE UNIQUE INDEX audit_uid ON audit (uid);
    "#,
    },
];

/// The schema version this build writes.
pub fn known_version() -> i64 {
    MIGRATIONS.len() as i64
}

pub(super) fn user_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Applies the missing steps, each in its own transaction together with the
/// new `user_version`, so a crash leaves the database at a whole step.
pub(super) fn migrate(conn: &mut Connection, path: &Path, steps: &[Step]) -> Result<i64, StoreError> {
    let mut version = user_version(conn).map_err(|source| StoreError::Sql { op: "read schema version", source: source.into() })?;
    let known = steps.len() as i64;
    if version > known {
        return Err(StoreError::SchemaTooNew { path: path.to_owned(), found: version, known });
    }
    while version < known {
        let step = version as usize;
        let fail = |source: rusqlite::Error| StoreError::Migration { to_version: version + 1, source: source.into() };
        let tx = conn.transaction().map_err(fail)?;
        tx.execute_batch(steps[step].sqlite).map_err(fail)?;
        tx.pragma_update(None, "user_version", version + 1).map_err(fail)?;
        tx.commit().map_err(fail)?;
        version += 1;
    }
    Ok(version)
}
