//! The engines the store's conformance tests run against: each test body
//! takes an [`Engine`] and is run once per engine by [`conformance!`]. An
//! SQLite test gets a fresh file in a temp folder; a PostgreSQL test gets a
//! fresh schema of the test cluster's database, so the tests run in
//! parallel. The cluster is the one `cargo xtask test` started
//! (`ONSHI_TEST_PG_URL`); without that variable (a `cargo test` by hand) the
//! tests start their own through the same std-only module, and stop it when
//! the test process has exited. When neither works the PostgreSQL tests
//! fail, with the reason: they are never skipped.
//!
//! The PostgreSQL half is built for unix only: the Windows unit tests run
//! under Wine on this Linux machine, where no PostgreSQL server runs (the
//! engine's code is the same on both systems and is built for Windows).

#[cfg(unix)]
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use super::{DeskName, PgSettings, SharedStore, Step, Store, StoreError, StoreSettings, MIGRATIONS};

#[cfg(unix)]
#[path = "../../../tests/src/pg_cluster.rs"]
#[allow(dead_code)]
mod pg_cluster;

/// The variable `cargo xtask test` sets to its cluster's database URL.
pub const PG_URL_VAR: &str = "ONSHI_TEST_PG_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The variable with the PEM file of the CA that issued the cluster's certificate.
pub const PG_CA_VAR: &str = "ONSHI_TEST_PG_CA";

/// The test cluster's database URL and its CA file: `cargo xtask test`'s, or
/// those of one this test process started (in `target/onshi-pg/by-hand`).
pub fn pg_cluster() -> (String, Option<std::path::PathBuf>) {
    static URL: OnceLock<Result<(String, Option<std::path::PathBuf>), String>> = OnceLock::new();
    let got = URL.get_or_init(|| {
        if let Ok(url) = std::env::var(PG_URL_VAR) {
            return Ok((url, std::env::var_os(PG_CA_VAR).map(Into::into)));
        }
        #[cfg(unix)]
        {
            let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/onshi-pg/by-hand");
            let cluster = pg_cluster::start(&target)?;
            cluster.stop_when_gone(std::process::id())?;
            Ok((cluster.url(), Some(cluster.ca_file())))
        }
        #[cfg(not(unix))]
        Err(format!("{PG_URL_VAR} is not set"))
    });
    match got {
        Ok(c) => c.clone(),
        Err(e) => panic!("no PostgreSQL for the store's PostgreSQL tests: {e}\n(`cargo xtask test` starts one and sets {PG_URL_VAR}; by hand, install the Debian package postgresql)"),
    }
}

pub fn pg_url() -> String {
    pg_cluster().0
}

/// A new, empty schema in the test database, and a URL whose sessions use it.
fn fresh_schema() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let url = pg_url();
    let name = format!("t{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let mut admin = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test cluster at {url}: {e}"));
    admin.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-csearch_path%3D{name}")
}

/// Where one test's store lives: a temp folder for the SQLite file, and on
/// PostgreSQL a schema of its own. Open it as often as the test likes.
pub struct Place {
    pub engine: Engine,
    dir: tempfile::TempDir,
    url: Option<String>,
}

impl Place {
    pub fn new(engine: Engine) -> Place {
        let url = (engine == Engine::Postgres).then(fresh_schema);
        Place { engine, dir: tempfile::tempdir().unwrap(), url }
    }

    pub fn settings(&self, desk: &str) -> StoreSettings {
        StoreSettings {
            path: self.dir.path().join("helper.sqlite"),
            desk: DeskName::new(desk).unwrap(),
            shared: match &self.url {
                None => SharedStore::Local,
                Some(url) => SharedStore::Postgres(PgSettings { url: url.clone(), ca: None }),
            },
        }
    }

    /// This place's stores with the shared store reached at `url` instead
    /// (the same database through a cuttable proxy, `outage_tests.rs`).
    pub fn settings_via(&self, desk: &str, url: impl Fn(&str) -> String) -> StoreSettings {
        let mut s = self.settings(desk);
        if let (SharedStore::Postgres(pg), Some(own)) = (&mut s.shared, &self.url) {
            pg.url = url(own);
        }
        s
    }

    pub fn open_with(&self, steps: &[Step]) -> Result<Store, StoreError> {
        Store::open_settings_with(&self.settings("受付1"), steps)
    }

    pub fn open(&self) -> Store {
        self.open_desk("受付1")
    }

    /// The same shared store as another desk's helper sees it (on SQLite:
    /// the same file).
    pub fn open_desk(&self, desk: &str) -> Store {
        Store::open_settings_with(&self.settings(desk), MIGRATIONS).unwrap()
    }

    /// SQL run as someone with access to the database, not through the store.
    pub fn raw(&self, store: &Store, sql: &str) -> Result<(), StoreError> {
        store.db().batch("test statement", sql)
    }

    /// Removes the triggers that keep honest code from changing the log.
    pub fn drop_audit_guards(&self, store: &Store) {
        let sql = match self.engine {
            Engine::Sqlite => "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;",
            Engine::Postgres => "DROP TRIGGER audit_no_update ON audit; DROP TRIGGER audit_no_delete ON audit;",
        };
        self.raw(store, sql).unwrap();
    }
}

/// Runs each named `fn(Engine)` once per engine, as `sqlite::name` and
/// `postgres::name` (`cargo xtask test` runs the latter in their own step).
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::store::test_engine::Engine::Sqlite) } )*
        }
        #[cfg(unix)]
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::store::test_engine::Engine::Postgres) } )*
        }
    };
}
pub(crate) use conformance;
