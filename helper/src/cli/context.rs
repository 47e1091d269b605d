//! What most commands stand on: where the config and the store are, the
//! clinic's UTC offset, and the runtimes a command runs on (tokio, and the
//! service's own runtime in this process). Reading commands never create a
//! database here.

use std::path::PathBuf;

use onshi_core::text::Bilingual;
use onshi_helper::config::{Config, ConfigError};
use onshi_helper::paths::{self, Env, Os};
use onshi_helper::service;
use onshi_helper::store::Store;
use onshi_helper::time::Timestamp;

use super::output::Fail;

/// A single-threaded tokio runtime for one command.
pub fn runtime() -> Result<tokio::runtime::Runtime, Fail> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        Fail(Bilingual::new(
            format!("ヘルパーの実行環境を準備できません（{e}）。PCを再起動してください。"),
            format!("Cannot set up the helper's runtime ({e}); restart the PC."),
        ))
    })
}

/// The service's runtime, in this process, for one command-line operation:
/// the same code paths (and the same audit log) as requests from a page.
pub fn cli_runtime(ctx: &Context) -> Result<std::sync::Arc<service::runtime::Runtime>, Fail> {
    if let Some(dir) = ctx.store_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let store = ctx.open_store()?;
    let backend = service::backend_from_config(ctx.config.as_ref());
    if let Err(e) = &backend {
        return Err(Fail(e.message.clone()));
    }
    Ok(service::runtime::Runtime::new(
        store,
        ctx.config.clone(),
        backend,
        std::sync::Arc::new(onshi_helper::card::access::PcscAccess),
        service::runtime::Settings::from_config(ctx.config.as_ref()),
    ))
}

/// Where the config and the store are, and the clinic's UTC offset.
pub struct Context {
    pub store_path: PathBuf,
    offset_minutes: i32,
    pub config: Option<Config>,
}

impl Context {
    pub fn new(config: Option<PathBuf>, store: Option<PathBuf>, env: &Env, os: Os) -> Result<Context, Fail> {
        let explicit = config.is_some();
        let config_path = match config {
            Some(p) => p,
            None => paths::config_file(env, os)?,
        };
        // Without a config file the defaults apply; a config that exists but
        // cannot be read is an error, so a typo never silently changes paths.
        let cfg = match Config::load(&config_path) {
            Ok(c) => Some(c),
            Err(ConfigError::NotFound { .. }) if !explicit => None,
            Err(e) => return Err(e.into()),
        };
        let store_path = match (store, cfg.as_ref().and_then(|c| c.store_path.clone())) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => paths::data_file(env, os)?,
        };
        let offset_minutes = match &cfg {
            Some(c) => c.offset_minutes().ok_or_else(|| {
                Fail(Bilingual::new(
                    "設定の utc_offset が不正です。`onshi-helper config check` で確認してください。",
                    "utc_offset in the config is invalid; run `onshi-helper config check`.",
                ))
            })?,
            None => 9 * 60,
        };
        Ok(Context { store_path, offset_minutes, config: cfg })
    }

    /// Opens the store only if it exists: reading commands must not create
    /// an empty database in a wrong place and report "nothing there".
    pub fn open_existing(&self) -> Result<Store, Fail> {
        if !self.store_path.exists() {
            return Err(Fail(Bilingual::new(
                format!("データベース {} がありません。ヘルパーのサービスが一度も起動していないか、--store / store_path の指定が違います。", self.store_path.display()),
                format!("The database {} does not exist; the helper service has never run, or --store / store_path points elsewhere.", self.store_path.display()),
            )));
        }
        self.open_store()
    }

    /// Opens (creating the SQLite file if needed) what the config names: the
    /// PC's file, and the shared PostgreSQL store when `[store]` says so.
    /// Without a config: the file alone, for the default desk.
    pub fn open_store(&self) -> Result<Store, Fail> {
        match &self.config {
            Some(c) => Ok(Store::open_settings(&c.store_settings(self.store_path.clone())?)?),
            None => Ok(Store::open(&self.store_path)?),
        }
    }

    /// As [`Context::open_store`] for the resident service: a shared store
    /// that cannot be reached at start does not stop it; desk checks are
    /// kept on the PC until the server answers (issue 17).
    pub fn open_service_store(&self) -> Result<Store, Fail> {
        match &self.config {
            Some(c) => Ok(Store::open_settings_or_queue(&c.store_settings(self.store_path.clone())?)?),
            None => Ok(Store::open(&self.store_path)?),
        }
    }

    /// Tomorrow in the clinic's time, `YYYYMMDD` (the usual batch date).
    pub fn tomorrow(&self) -> Result<String, Fail> {
        Ok(Timestamp::from_unix(unix_now() + 86_400, self.offset_minutes)?.day().as_str().replace('-', ""))
    }

    pub fn now(&self) -> Result<Timestamp, Fail> {
        Ok(Timestamp::from_unix(unix_now(), self.offset_minutes)?)
    }
}

/// Seconds since 1970 by the system clock (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}
