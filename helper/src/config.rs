//! The helper's TOML configuration and `config check`. Loading only parses;
//! `check` looks at the files and folders the config names and reports every
//! problem at once, each with a Japanese and an English sentence. Nothing
//! here opens network connections or the card reader.
//!
//! ```toml
//! institution_code = "1312345679"   # 医療機関コード (10 digits, check digit verified)
//! desk = "受付1"                     # shown in the audit log
//! # store_path = "/var/lib/onshi/helper.sqlite"   # default: per-OS data folder
//! utc_offset = "+09:00"             # the clinic's local time, for "today"
//!
//! [backend]
//! kind = "gateway"                  # or kind = "oqs-folder" with path = "…"
//! url = "https://gateway.example/"
//! ca = "gateway-ca.pem"             # relative paths are relative to this file
//! client_cert = "clinic.pem"
//! client_key = "clinic.key"
//!
//! [store]                           # optional; default: kind = "sqlite" (the file above only)
//! kind = "postgres"                 # results, batch jobs, reference numbers and the audit
//! url = "postgres://onshi@db.hospital.example/onshi?sslmode=require"   # log shared by desks
//! ca = "db-ca.pem"                  # the CA of the server's certificate (sslmode=require)
//!
//! [timeouts]
//! connect_secs = 5
//! request_secs = 30
//! folder_response_secs = 120
//! batch_poll_max_secs = 30          # longest wait between looks at a running batch
//! batch_lease_secs = 60             # a desk's hold on a batch it polls; with a shared
//!                                   # store, another desk takes over this long after it stops
//! ```

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use onshi_core::numbers::{check_institution, NumberError};
use onshi_core::text::{Bilingual, Explain};
use serde::Deserialize;

use crate::store::{DeskName, PgSettings, SharedStore, StoreSettings, ValueError};

/// The parsed configuration. Relative paths are already resolved against
/// the folder of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// 医療機関コード, validated by `check` (kept as written until then so
    /// that every problem can be reported together).
    pub institution_code: String,
    #[serde(default = "default_desk")]
    pub desk: String,
    /// Where the database lives; `None` means the per-OS default.
    #[serde(default)]
    pub store_path: Option<PathBuf>,
    /// The clinic's UTC offset as `+HH:MM`, used to decide which day "today" is.
    #[serde(default = "default_offset")]
    pub utc_offset: String,
    pub backend: Backend,
    /// Where results, jobs, reference numbers and the audit log are kept.
    #[serde(default)]
    pub store: StoreKind,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// The web origins that may use the helper (`https://uketsuke.clinic.example`,
    /// `https://*.clinic.example`, `http://127.0.0.1:8080`; see
    /// `onshi_core::allowlist`). Empty: any origin may ask to pair, and the
    /// receptionist's approval is the only guard.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

/// Which eligibility backend the helper talks to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Backend {
    /// HTTPS with mutual TLS to the closed-network gateway.
    Gateway { url: String, ca: PathBuf, client_cert: PathBuf, client_key: PathBuf },
    /// The req/ res/ face/ folders of an official OQS terminal.
    OqsFolder { path: PathBuf },
}

/// The store's engine (issue 17). Pairings always stay in the PC's own
/// SQLite file (`store_path`), whichever is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum StoreKind {
    /// Everything in the SQLite file at `store_path` (one PC, nothing to set up).
    #[default]
    Sqlite,
    /// A PostgreSQL server shared by the hospital's desks. `url` is a
    /// libpq-style URL; `sslmode=require` in it means TLS, verified against
    /// the `ca` file.
    Postgres {
        url: String,
        #[serde(default)]
        ca: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    pub connect_secs: u64,
    pub request_secs: u64,
    pub folder_response_secs: u64,
    /// The longest wait between two looks at an unfinished batch (the first
    /// look is after 2 s, then the wait doubles up to this).
    pub batch_poll_max_secs: u64,
    /// How long a desk's lease on a batch job lasts unrenewed (renewed every
    /// third of it while the helper runs): with a shared store, how soon
    /// another desk takes over the polling of a PC that was switched off.
    pub batch_lease_secs: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect_secs: 5, request_secs: 30, folder_response_secs: 120, batch_poll_max_secs: 30, batch_lease_secs: 60 }
    }
}

fn default_desk() -> String {
    "受付".to_owned()
}

fn default_offset() -> String {
    "+09:00".to_owned()
}

/// The config file could not be read or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("config file {path} does not exist")]
    NotFound { path: PathBuf },
    #[error("cannot read config file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    /// `message` is the TOML parser's own text, which names line and column.
    #[error("config file {path} is not valid: {message}")]
    Syntax { path: PathBuf, message: String },
}

impl Explain for ConfigError {
    fn explain(&self) -> Bilingual {
        match self {
            ConfigError::NotFound { path } => Bilingual::new(
                format!("設定ファイル {} がありません。作成するか --config で場所を指定してください。", path.display()),
                format!("The config file {} does not exist; create it or give its location with --config.", path.display()),
            ),
            ConfigError::Unreadable { path, reason } => Bilingual::new(
                format!("設定ファイル {} を読めません（{reason}）。権限を確認してください。", path.display()),
                format!("Cannot read the config file {} ({reason}); check its permissions.", path.display()),
            ),
            ConfigError::Syntax { path, message } => Bilingual::new(
                format!("設定ファイル {} の書き方に誤りがあります。次の箇所を直してください: {}", path.display(), one_line(message)),
                format!("The config file {} has an error; fix this: {}", path.display(), one_line(message)),
            ),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The role a PEM file plays, for messages and for the expected label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemRole {
    Ca,
    ClientCert,
    ClientKey,
    /// The CA of the shared database server's certificate (`[store] ca`).
    StoreCa,
}

impl PemRole {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            PemRole::Ca => ("ゲートウェイのCA証明書 (ca)", "gateway CA certificate (ca)"),
            PemRole::ClientCert => ("医療機関のクライアント証明書 (client_cert)", "clinic client certificate (client_cert)"),
            PemRole::ClientKey => ("クライアント証明書の秘密鍵 (client_key)", "client certificate private key (client_key)"),
            PemRole::StoreCa => ("共有データベースサーバーのCA証明書 ([store] ca)", "shared database server's CA certificate ([store] ca)"),
        }
    }

    fn label_ok(self, label: &str) -> bool {
        match self {
            PemRole::Ca | PemRole::ClientCert | PemRole::StoreCa => label == "CERTIFICATE",
            PemRole::ClientKey => label.ends_with("PRIVATE KEY"),
        }
    }

    fn expected(self) -> &'static str {
        match self {
            PemRole::Ca | PemRole::ClientCert | PemRole::StoreCa => "CERTIFICATE",
            PemRole::ClientKey => "PRIVATE KEY",
        }
    }
}

/// One problem found by `check`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigProblem {
    InstitutionCode(NumberError),
    Desk(ValueError),
    UtcOffset { found: String },
    GatewayUrl { url: String },
    FileMissing { role: PemRole, path: PathBuf },
    FileUnreadable { role: PemRole, path: PathBuf, reason: String },
    NotPem { role: PemRole, path: PathBuf },
    WrongPem { role: PemRole, path: PathBuf, found: String },
    FolderMissing { path: PathBuf },
    SubfolderMissing { path: PathBuf, sub: &'static str },
    ZeroTimeout { name: &'static str },
    AllowedOrigin(onshi_core::allowlist::EntryError),
    /// `[store] url` is not a PostgreSQL URL (`reason`: the driver's words).
    StoreUrl { reason: String },
    /// `sslmode=require` without `[store] ca`.
    StoreCaMissing,
}

impl Explain for ConfigProblem {
    fn explain(&self) -> Bilingual {
        match self {
            ConfigProblem::InstitutionCode(e) => {
                let b = e.explain();
                Bilingual::new(
                    format!("institution_code（医療機関コード）: {} 指定通知書の10桁を確認してください。", b.ja),
                    format!("institution_code: {} Check the 10-digit code on your designation notice.", b.en),
                )
            }
            ConfigProblem::Desk(e) => e.explain(),
            ConfigProblem::UtcOffset { found } => Bilingual::new(
                format!("utc_offset「{found}」は +09:00 の形で書いてください。"),
                format!("utc_offset {found:?} must be written as +09:00."),
            ),
            ConfigProblem::GatewayUrl { url } => Bilingual::new(
                format!("backend.url「{url}」は https:// で始まるゲートウェイのURLにしてください。"),
                format!("backend.url {url:?} must be the gateway's https:// URL."),
            ),
            ConfigProblem::FileMissing { role, path } => {
                let (ja, en) = role.names();
                Bilingual::new(
                    format!("{ja} のファイル {} がありません。パスを確認してください。", path.display()),
                    format!("The {en} file {} does not exist; check the path.", path.display()),
                )
            }
            ConfigProblem::FileUnreadable { role, path, reason } => {
                let (ja, en) = role.names();
                Bilingual::new(
                    format!("{ja} のファイル {} を読めません（{reason}）。このユーザーに読み取り権限を与えてください。", path.display()),
                    format!("Cannot read the {en} file {} ({reason}); give this user read permission.", path.display()),
                )
            }
            ConfigProblem::NotPem { role, path } => {
                let (ja, en) = role.names();
                Bilingual::new(
                    format!("{ja} のファイル {} がPEM形式ではありません。-----BEGIN で始まるPEMファイルを指定してください。", path.display()),
                    format!("The {en} file {} is not PEM; give a PEM file starting with -----BEGIN.", path.display()),
                )
            }
            ConfigProblem::WrongPem { role, path, found } => {
                let (ja, en) = role.names();
                let exp = role.expected();
                Bilingual::new(
                    format!("{ja} のファイル {} の中身が {found} です（{exp} が必要）。ファイルの取り違えがないか確認してください。", path.display()),
                    format!("The {en} file {} holds a {found}, not a {exp}; check that the files are not swapped.", path.display()),
                )
            }
            ConfigProblem::FolderMissing { path } => Bilingual::new(
                format!("OQSフォルダー {} がありません（またはフォルダーではありません）。資格確認端末の共有フォルダーのパスを確認してください。", path.display()),
                format!("The OQS folder {} does not exist or is not a folder; check the path of the terminal's shared folder.", path.display()),
            ),
            ConfigProblem::SubfolderMissing { path, sub } => Bilingual::new(
                format!("OQSフォルダー {} に {sub} フォルダーがありません。資格確認端末の連携設定を確認してください。", path.display()),
                format!("The OQS folder {} has no {sub} subfolder; check the terminal's integration settings.", path.display()),
            ),
            ConfigProblem::ZeroTimeout { name } => Bilingual::new(
                format!("timeouts.{name} が 0 です。1 以上の秒数を指定してください。"),
                format!("timeouts.{name} is 0; give a number of seconds of at least 1."),
            ),
            ConfigProblem::StoreUrl { reason } => Bilingual::new(
                format!("[store] url が PostgreSQL の接続URLとして読めません（{reason}）。「postgres://ユーザー@ホスト:5432/データベース」の形で書いてください。"),
                format!("[store] url is not a PostgreSQL connection URL ({reason}); write it as postgres://user@host:5432/database."),
            ),
            ConfigProblem::StoreCaMissing => Bilingual::new(
                "[store] url が sslmode=require（TLS）を求めていますが、[store] ca がありません。データベースサーバーの証明書を発行した CA の PEM ファイルを ca に指定してください。",
                "[store] url asks for sslmode=require (TLS) but [store] ca is not set; give the PEM file of the CA that issued the database server's certificate.",
            ),
            ConfigProblem::AllowedOrigin(e) => Bilingual::new(
                format!(
                    "allowed_origins の項目が使えません（{e}）。受付画面のアドレスを「https://uketsuke.example.jp」の形（パスなし）で書いてください。サブドメイン全体なら「https://*.example.jp」。この項目は無視され、ほかのサイトには開きません。"
                ),
                format!(
                    "An allowed_origins entry cannot be used ({e}). Write the reception page's address as https://uketsuke.example.jp (no path), or https://*.example.jp for a whole subdomain. The entry is ignored; it opens nothing to other sites."
                ),
            ),
        }
    }
}

impl Config {
    /// Reads and parses `path`, resolving relative paths against its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            ErrorKind::NotFound => ConfigError::NotFound { path: path.to_owned() },
            _ => ConfigError::Unreadable { path: path.to_owned(), reason: e.to_string() },
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|message| ConfigError::Syntax { path: path.to_owned(), message })
    }

    /// Parses TOML text; relative paths are joined onto `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, String> {
        let mut c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(p) = c.store_path.as_mut() {
            fix(p);
        }
        match &mut c.backend {
            Backend::Gateway { ca, client_cert, client_key, .. } => {
                fix(ca);
                fix(client_cert);
                fix(client_key);
            }
            Backend::OqsFolder { path } => fix(path),
        }
        if let StoreKind::Postgres { ca: Some(ca), .. } = &mut c.store {
            fix(ca);
        }
        Ok(c)
    }

    /// The allowlist the service enforces: `None` when `allowed_origins` is
    /// empty; otherwise its usable entries (unusable ones admit nothing and
    /// are reported by [`Config::check`]).
    pub fn allowlist(&self) -> Option<onshi_core::allowlist::Allowlist> {
        (!self.allowed_origins.is_empty()).then(|| onshi_core::allowlist::Allowlist::valid_only(&self.allowed_origins))
    }

    /// What the allowlist lets in, as `config check` and `doctor` show it.
    pub fn origins_summary(&self) -> Bilingual {
        match self.allowlist() {
            None => Bilingual::new(
                "allowed_origins が未設定のため、どのサイトもペアリングを申し込めます（承認するのは受付の方です）。受付画面のアドレスを allowed_origins に書くと、ほかのサイトはヘルパーに届かなくなります。",
                "allowed_origins is not set, so any site may ask to pair (a receptionist still has to approve). List the reception page's address in allowed_origins and no other site reaches the helper.",
            ),
            Some(list) if list.entries().is_empty() => Bilingual::new(
                "allowed_origins に使える項目がないため、どのページもヘルパーを使えません。項目の書き方を直してください。",
                "allowed_origins has no usable entry, so no page can use the helper. Fix the entries.",
            ),
            Some(list) => {
                let names = list.entries().iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                Bilingual::new(
                    format!("ヘルパーを使えるのは次のページだけです: {names}"),
                    format!("Only these pages may use the helper: {names}"),
                )
            }
        }
    }

    /// What the store opens: the PC's SQLite file at `path`, this desk, and
    /// the shared store when `[store]` names one.
    pub fn store_settings(&self, path: PathBuf) -> Result<StoreSettings, ValueError> {
        Ok(StoreSettings {
            path,
            desk: DeskName::new(&self.desk)?,
            shared: match &self.store {
                StoreKind::Sqlite => SharedStore::Local,
                StoreKind::Postgres { url, ca } => SharedStore::Postgres(PgSettings { url: url.clone(), ca: ca.clone() }),
            },
        })
    }

    /// The UTC offset in minutes, if `utc_offset` is well formed.
    pub fn offset_minutes(&self) -> Option<i32> {
        parse_offset(&self.utc_offset)
    }

    /// Every problem with this configuration and the files it names.
    pub fn check(&self) -> Vec<ConfigProblem> {
        let mut out = Vec::new();
        if let Err(e) = check_institution(&self.institution_code) {
            out.push(ConfigProblem::InstitutionCode(e));
        }
        if let Err(e) = DeskName::new(&self.desk) {
            out.push(ConfigProblem::Desk(e));
        }
        if self.offset_minutes().is_none() {
            out.push(ConfigProblem::UtcOffset { found: self.utc_offset.clone() });
        }
        match &self.backend {
            Backend::Gateway { url, ca, client_cert, client_key } => {
                let host = url.strip_prefix("https://").unwrap_or("");
                if host.is_empty() || host.starts_with('/') || url.chars().any(char::is_whitespace) {
                    out.push(ConfigProblem::GatewayUrl { url: url.clone() });
                }
                for (role, path) in [(PemRole::Ca, ca), (PemRole::ClientCert, client_cert), (PemRole::ClientKey, client_key)] {
                    if let Some(p) = check_pem(role, path) {
                        out.push(p);
                    }
                }
            }
            Backend::OqsFolder { path } => {
                if !path.is_dir() {
                    out.push(ConfigProblem::FolderMissing { path: path.clone() });
                } else {
                    for sub in ["req", "res", "face"] {
                        if !path.join(sub).is_dir() {
                            out.push(ConfigProblem::SubfolderMissing { path: path.clone(), sub });
                        }
                    }
                }
            }
        }
        if let StoreKind::Postgres { url, ca } = &self.store {
            let scheme = url.starts_with("postgres://") || url.starts_with("postgresql://");
            match url.parse::<postgres::Config>() {
                Err(e) => out.push(ConfigProblem::StoreUrl { reason: e.to_string() }),
                Ok(_) if !scheme => out.push(ConfigProblem::StoreUrl { reason: "not postgres://".into() }),
                Ok(cfg) => match ca {
                    Some(ca) => out.extend(check_pem(PemRole::StoreCa, ca)),
                    None if cfg.get_ssl_mode() == postgres::config::SslMode::Require => {
                        out.push(ConfigProblem::StoreCaMissing)
                    }
                    None => {}
                },
            }
        }
        if let Err(errors) = onshi_core::allowlist::Allowlist::parse(&self.allowed_origins) {
            out.extend(errors.into_iter().map(ConfigProblem::AllowedOrigin));
        }
        let t = self.timeouts;
        for (name, v) in [
            ("connect_secs", t.connect_secs),
            ("request_secs", t.request_secs),
            ("folder_response_secs", t.folder_response_secs),
            ("batch_poll_max_secs", t.batch_poll_max_secs),
            ("batch_lease_secs", t.batch_lease_secs),
        ] {
            if v == 0 {
                out.push(ConfigProblem::ZeroTimeout { name });
            }
        }
        out
    }
}

/// `+HH:MM` / `-HH:MM` to minutes east of UTC.
fn parse_offset(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    if b.len() != 6 || b[3] != b':' || !(b[0] == b'+' || b[0] == b'-') {
        return None;
    }
    let h: i32 = s.get(1..3)?.parse().ok()?;
    let m: i32 = s.get(4..6)?.parse().ok()?;
    if !s[1..3].bytes().chain(s[4..6].bytes()).all(|c| c.is_ascii_digit()) || h > 23 || m > 59 {
        return None;
    }
    Some(if b[0] == b'-' { -(h * 60 + m) } else { h * 60 + m })
}

/// Reads a PEM file and checks the first block's label fits the role.
fn check_pem(role: PemRole, path: &Path) -> Option<ConfigProblem> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Some(ConfigProblem::FileMissing { role, path: path.to_owned() }),
        Err(e) => return Some(ConfigProblem::FileUnreadable { role, path: path.to_owned(), reason: e.to_string() }),
    };
    let not_pem = || Some(ConfigProblem::NotPem { role, path: path.to_owned() });
    let Ok(text) = std::str::from_utf8(&bytes) else { return not_pem() };
    let Some(label) = pem_label(text) else { return not_pem() };
    if role.label_ok(&label) { None } else { Some(ConfigProblem::WrongPem { role, path: path.to_owned(), found: label }) }
}

/// The label of the first well-formed PEM block (BEGIN/END labels match
/// and the body is non-empty base64), or `None`.
fn pem_label(text: &str) -> Option<String> {
    let mut lines = text.lines().map(str::trim);
    let label = lines.find_map(|l| l.strip_prefix("-----BEGIN ")?.strip_suffix("-----"))?.to_owned();
    let end = format!("-----END {label}-----");
    let mut body = 0usize;
    for l in lines {
        if l == end {
            return (body > 0).then_some(label);
        }
        // Encrypted legacy keys carry "Proc-Type:" headers; skip them.
        if l.contains(':') {
            continue;
        }
        if !l.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')) {
            return None;
        }
        body += l.len();
    }
    None
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
