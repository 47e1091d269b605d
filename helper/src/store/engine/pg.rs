//! The PostgreSQL side of [`Db`](super::Db): sfackler's synchronous
//! `postgres` client, owned by one dedicated thread per open store. The
//! store's callers are synchronous (the CLI, and the service under a std
//! mutex from async code), and the sync client panics when used inside a
//! tokio runtime, so it never is: it lives on its own plain thread and the
//! store sends it owned statements over a channel and waits for the answer
//! (a blocking wait, like SQLite's own disk I/O in the same place).
//!
//! The thread reconnects by itself when the server went away between two
//! statements, but never inside a transaction: a statement of a transaction
//! whose connection was lost fails, so nothing is half-written in autocommit.
//! TLS: when the URL says `sslmode=require`, through rustls (ring) with the
//! roots from `[store] ca`; otherwise plain TCP or a unix socket.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use postgres::config::SslMode;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use super::{EngineError, Row, Value};
use crate::store::StoreError;

/// Where the shared store is: the connection URL and, for TLS, the CA file
/// that signed the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSettings {
    pub url: String,
    pub ca: Option<PathBuf>,
}

/// An open connection, through its owning thread.
pub struct Pg {
    jobs: mpsc::Sender<Job>,
    /// For connections of their own (listening).
    connector: Connector,
    /// `host:port/database`, for messages (never the password).
    server: String,
}

/// What a listening connection ([`Pg::listen`]) hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Connected (again) and listening: anything said before was missed.
    Listening,
    /// One notification's payload.
    Payload(String),
}

enum Req {
    Execute(String, Vec<Value>),
    Query(String, Vec<Value>),
    Batch(String),
    Begin,
    Commit,
    Rollback,
}

enum Reply {
    Count(u64),
    Rows(Vec<Row>),
    Done,
}

enum Fail {
    Db(postgres::Error),
    Unreachable(postgres::Error),
    Engine(EngineError),
}

struct Job {
    req: Req,
    reply: mpsc::SyncSender<Result<Reply, Fail>>,
}

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        fn check<T: ToSql>(ty: &Type) -> Result<(), Box<dyn std::error::Error + Sync + Send>> {
            if T::accepts(ty) { Ok(()) } else { Err(format!("a value of the wrong type for {ty}").into()) }
        }
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                _ => check::<i64>(ty).and_then(|()| v.to_sql(ty, out)),
            },
            Value::Text(v) => check::<String>(ty).and_then(|()| v.to_sql(ty, out)),
            Value::Blob(v) => check::<Vec<u8>>(ty).and_then(|()| v.to_sql(ty, out)),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// The store's `?N` parameters as PostgreSQL's `$N` (no statement of the
/// store has a `?` anywhere else).
fn dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let param = c == '?' && chars.peek().is_some_and(char::is_ascii_digit);
        out.push(if param { '$' } else { c });
    }
    out
}

fn value(row: &postgres::Row, i: usize) -> Result<Value, Fail> {
    let ty = row.columns()[i].type_().clone();
    let got = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
        Type::INT4 => row.try_get::<_, Option<i32>>(i).map(|v| v.map(|v| Value::Int(v.into()))),
        Type::INT2 => row.try_get::<_, Option<i16>>(i).map(|v| v.map(|v| Value::Int(v.into()))),
        Type::BOOL => row.try_get::<_, Option<bool>>(i).map(|v| v.map(|v| Value::Int(v.into()))),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(i).map(|v| v.map(Value::Text))
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i).map(|v| v.map(Value::Blob)),
        _ => return Err(Fail::Engine(EngineError::Type { column: i, expected: "a type the store reads" })),
    };
    got.map(|v| v.unwrap_or(Value::Null)).map_err(Fail::Db)
}

/// `host:port/database` of a parsed URL, for messages.
fn describe(cfg: &postgres::Config) -> String {
    let host = match cfg.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        // A unix socket's folder (a variant that exists on unix only, so
        // named through Debug rather than a `cfg`; unreachable on Windows).
        #[allow(unreachable_patterns)]
        Some(other) => format!("{other:?}"),
        None => "localhost".into(),
    };
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", cfg.get_dbname().unwrap_or("?"))
}

fn tls(server: &str, ca: Option<&Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    let tls_err = |reason: String| StoreError::ServerTls { server: server.to_owned(), reason };
    let Some(ca) = ca else {
        return Err(tls_err("the URL asks for sslmode=require but [store] ca names no CA file".into()));
    };
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| tls_err(format!("{}: {e}", ca.display())))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(format!("{}: {e}", ca.display())))?;
    for cert in certs {
        roots.add(cert).map_err(|e| tls_err(format!("{}: {e}", ca.display())))?;
    }
    if roots.is_empty() {
        return Err(tls_err(format!("{}: no CERTIFICATE block", ca.display())));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// The TLS layer's own error inside a connection error (a certificate the
/// CA did not issue, a name that does not match), if that is what failed.
fn tls_failure(e: &postgres::Error) -> Option<String> {
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if let Some(t) = err.downcast_ref::<rustls::Error>() {
            return Some(t.to_string());
        }
        if let Some(t) = err.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).and_then(|i| i.downcast_ref::<rustls::Error>()) {
            return Some(t.to_string());
        }
        source = err.source();
    }
    None
}

/// The connection the owning thread (re)opens.
#[derive(Clone)]
struct Connector {
    cfg: postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl Connector {
    fn connect(&self) -> Result<Client, postgres::Error> {
        match &self.tls {
            Some(t) => self.cfg.connect(t.clone()),
            None => self.cfg.connect(NoTls),
        }
    }
}

/// The owning thread's state.
struct Worker {
    connector: Connector,
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    in_tx: bool,
}

impl Worker {
    fn serve(&mut self, req: Req) -> Result<Reply, Fail> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements.clear();
            if self.in_tx {
                // The transaction died with its connection: its end is
                // reported, everything before it is refused.
                return match req {
                    Req::Rollback => {
                        self.in_tx = false;
                        Ok(Reply::Done)
                    }
                    Req::Commit => {
                        self.in_tx = false;
                        Err(Fail::Engine(EngineError::LostInTransaction))
                    }
                    _ => Err(Fail::Engine(EngineError::LostInTransaction)),
                };
            }
            self.client = Some(self.connector.connect().map_err(Fail::Unreachable)?);
        }
        let Some(client) = self.client.as_mut() else { return Err(Fail::Engine(EngineError::ClientGone)) };
        let closed = |e: postgres::Error| if lost(&e) { Fail::Unreachable(e) } else { Fail::Db(e) };
        match req {
            Req::Begin => {
                client.batch_execute("BEGIN").map_err(closed)?;
                self.in_tx = true;
                Ok(Reply::Done)
            }
            Req::Commit | Req::Rollback => {
                self.in_tx = false;
                let sql = if matches!(req, Req::Commit) { "COMMIT" } else { "ROLLBACK" };
                client.batch_execute(sql).map(|()| Reply::Done).map_err(closed)
            }
            Req::Batch(sql) => client.batch_execute(&sql).map(|()| Reply::Done).map_err(closed),
            Req::Execute(sql, params) => {
                let stmt = prepared(client, &mut self.statements, &sql)?;
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                client.execute(&stmt, &refs).map(Reply::Count).map_err(closed)
            }
            Req::Query(sql, params) => {
                let stmt = prepared(client, &mut self.statements, &sql)?;
                let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
                let rows = client.query(&stmt, &refs).map_err(closed)?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    out.push(Row((0..r.len()).map(|i| value(r, i)).collect::<Result<_, _>>()?));
                }
                Ok(Reply::Rows(out))
            }
        }
    }
}

/// The connection is gone, not the statement wrong: closed, an I/O error
/// under it, or the server saying it is shutting down or cannot take the
/// connection (SQLSTATE class 08, 57P01–57P03: what `pg_ctl stop` sends to
/// every client). The store queues desk checks on these (issue 17).
fn lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    let mut source = std::error::Error::source(e);
    while let Some(err) = source {
        if err.is::<std::io::Error>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// A statement prepared once per connection.
fn prepared(client: &mut Client, cache: &mut HashMap<String, Statement>, sql: &str) -> Result<Statement, Fail> {
    if let Some(s) = cache.get(sql) {
        return Ok(s.clone());
    }
    let stmt = client.prepare(&dollars(sql)).map_err(|e| if lost(&e) { Fail::Unreachable(e) } else { Fail::Db(e) })?;
    cache.insert(sql.to_owned(), stmt.clone());
    Ok(stmt)
}

impl Pg {
    /// Parses the URL, prepares TLS, and connects on a new thread, waiting
    /// for the first connection so a wrong address is reported here.
    pub fn open(settings: &PgSettings) -> Result<Pg, StoreError> {
        Pg::start(settings, false).map(|(pg, _)| pg)
    }

    /// As [`Pg::open`], but a server that cannot be reached (not a bad URL,
    /// not a TLS refusal) still gives an open `Pg`, connected later by its
    /// thread on the first statement; `.1` says whether it connected now.
    /// A desk's service started during an outage keeps checking (issue 17).
    pub fn open_or_later(settings: &PgSettings) -> Result<(Pg, bool), StoreError> {
        Pg::start(settings, true)
    }

    fn start(settings: &PgSettings, later: bool) -> Result<(Pg, bool), StoreError> {
        let mut cfg = postgres::Config::from_str(&settings.url)
            .map_err(|e| StoreError::ServerUnreachable { server: "[store] url".into(), reason: e.to_string() })?;
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(Duration::from_secs(5));
        }
        // A server cut off by the network (not stopped) answers nothing:
        // without these a statement would wait for the system's TCP timeout
        // (minutes) while desks wait for the store; with them it fails as
        // unreachable within about 20 s and desk checks are queued (issue 17).
        if cfg.get_tcp_user_timeout().is_none() {
            cfg.tcp_user_timeout(Duration::from_secs(20));
        }
        if cfg.get_keepalives_interval().is_none() {
            cfg.keepalives_idle(Duration::from_secs(15)).keepalives_interval(Duration::from_secs(5)).keepalives_retries(3);
        }
        let server = describe(&cfg);
        let tls = match cfg.get_ssl_mode() {
            SslMode::Require => Some(tls(&server, settings.ca.as_deref())?),
            _ => None,
        };
        let (jobs, inbox) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::sync_channel::<Result<bool, postgres::Error>>(1);
        let connector = Connector { cfg, tls };
        let own = connector.clone();
        std::thread::Builder::new()
            .name("onshi-store-pg".into())
            .spawn(move || {
                let client = match connector.connect() {
                    Ok(c) => Some(c),
                    Err(e) if later && tls_failure(&e).is_none() => None,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(client.is_some()));
                let mut w = Worker { connector, client, statements: HashMap::new(), in_tx: false };
                for job in inbox {
                    let answer = w.serve(job.req);
                    let _ = job.reply.send(answer);
                }
            })
            .map_err(|e| StoreError::ServerUnreachable { server: server.clone(), reason: e.to_string() })?;
        match ready.recv() {
            Ok(Ok(connected)) => Ok((Pg { jobs, connector: own, server }, connected)),
            Ok(Err(e)) => Err(match tls_failure(&e) {
                Some(reason) => StoreError::ServerTls { server, reason },
                None => StoreError::ServerUnreachable { server, reason: e.to_string() },
            }),
            Err(_) => Err(StoreError::ServerUnreachable { server, reason: "the client thread stopped".into() }),
        }
    }

    /// Listens on `channel` over a connection of its own, on a thread of
    /// its own, and hands over what it hears. While the server is away it
    /// tries again every 2 s and says [`Heard::Listening`] each time it is
    /// back, since whatever was said meanwhile is lost (`NOTIFY` is not
    /// queued for absent listeners). The thread ends when the receiver is
    /// dropped and there is something to say.
    pub fn listen(&self, channel: &'static str) -> Result<mpsc::Receiver<Heard>, StoreError> {
        let connector = self.connector.clone();
        let (tx, rx) = mpsc::channel();
        let listen = format!("LISTEN {channel}");
        std::thread::Builder::new()
            .name("onshi-store-listen".into())
            .spawn(move || loop {
                if let Ok(mut client) = connector.connect() {
                    if client.batch_execute(&listen).is_ok() {
                        if tx.send(Heard::Listening).is_err() {
                            return;
                        }
                        loop {
                            let next = client.notifications().timeout_iter(Duration::from_secs(1)).next();
                            match next {
                                Ok(Some(n)) => {
                                    if tx.send(Heard::Payload(n.payload().to_owned())).is_err() {
                                        return;
                                    }
                                }
                                Err(_) => break,
                                Ok(None) if client.is_closed() => break,
                                Ok(None) => {}
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_secs(2));
            })
            .map_err(|e| StoreError::ServerUnreachable { server: self.server.clone(), reason: e.to_string() })?;
        Ok(rx)
    }

    /// `host:port/database`.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn call(&self, req: Req) -> Result<Reply, Fail> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs.send(Job { req, reply }).map_err(|_| Fail::Engine(EngineError::ClientGone))?;
        answer.recv().map_err(|_| Fail::Engine(EngineError::ClientGone))?
    }

    fn store_error(&self, op: &'static str, f: Fail) -> StoreError {
        match f {
            Fail::Db(e) => StoreError::Sql { op, source: EngineError::Postgres(e) },
            Fail::Unreachable(e) => StoreError::ServerUnreachable { server: self.server.clone(), reason: e.to_string() },
            Fail::Engine(e) => StoreError::Sql { op, source: e },
        }
    }

    pub fn execute(&self, op: &'static str, sql: &str, params: Vec<Value>) -> Result<u64, StoreError> {
        match self.call(Req::Execute(sql.to_owned(), params)) {
            Ok(Reply::Count(n)) => Ok(n),
            Ok(_) => Ok(0),
            Err(f) => Err(self.store_error(op, f)),
        }
    }

    pub fn query(&self, op: &'static str, sql: &str, params: Vec<Value>) -> Result<Vec<Row>, StoreError> {
        match self.call(Req::Query(sql.to_owned(), params)) {
            Ok(Reply::Rows(rows)) => Ok(rows),
            Ok(_) => Ok(Vec::new()),
            Err(f) => Err(self.store_error(op, f)),
        }
    }

    /// Several statements in one string, without parameters (migrations).
    pub fn batch(&self, op: &'static str, sql: &str) -> Result<(), StoreError> {
        self.call(Req::Batch(sql.to_owned())).map(drop).map_err(|f| self.store_error(op, f))
    }

    pub fn begin(&self, op: &'static str) -> Result<(), StoreError> {
        self.call(Req::Begin).map(drop).map_err(|f| self.store_error(op, f))
    }

    pub fn commit(&self, op: &'static str) -> Result<(), StoreError> {
        self.call(Req::Commit).map(drop).map_err(|f| self.store_error(op, f))
    }

    pub fn rollback(&self, op: &'static str) -> Result<(), StoreError> {
        self.call(Req::Rollback).map(drop).map_err(|f| self.store_error(op, f))
    }

    /// The schema version: the one row of `onshi_schema`, 0 before step 1.
    /// Only reads.
    pub fn version(&self) -> Result<i64, StoreError> {
        let op = "read schema version";
        let exists = self.query(op, "SELECT to_regclass('onshi_schema') IS NOT NULL", vec![])?;
        if exists.first().map(|r| r.int(0)).transpose()? != Some(1) {
            return Ok(0);
        }
        let rows = self.query(op, "SELECT version FROM onshi_schema", vec![])?;
        rows.first().map_or(Ok(0), |r| r.int(0))
    }

    /// Applies the missing steps, each in its own transaction together with
    /// the new version. Helpers of many desks may start at once: each step
    /// runs under an advisory lock on the schema's name and re-reads the
    /// version under it, so a step is applied once. A version above
    /// `steps.len()` is refused and nothing is written.
    pub fn migrate(&self, steps: &[&str]) -> Result<i64, StoreError> {
        let known = steps.len() as i64;
        loop {
            self.begin("migrate")?;
            let step = || -> Result<Option<i64>, StoreError> {
                let lock = "SELECT pg_advisory_xact_lock(hashtext('onshi-migrate:' || coalesce(current_schema(), '')))";
                self.execute("migrate", lock, vec![])?;
                let version = self.version()?;
                if version > known {
                    return Err(StoreError::ServerSchemaTooNew { server: self.server.clone(), found: version, known });
                }
                if version == known {
                    return Ok(None);
                }
                let to = version + 1;
                let fail = |e: StoreError| match e {
                    StoreError::Sql { source, .. } => StoreError::Migration { to_version: to, source },
                    other => other,
                };
                self.batch("migrate", steps[version as usize]).map_err(fail)?;
                if version == 0 {
                    self.batch("migrate", "CREATE TABLE onshi_schema (version BIGINT NOT NULL); INSERT INTO onshi_schema VALUES (0);")
                        .map_err(fail)?;
                }
                self.execute("migrate", "UPDATE onshi_schema SET version = ?1", vec![Value::Int(to)]).map_err(fail)?;
                Ok(Some(to))
            };
            match step() {
                Ok(Some(_)) => self.commit("migrate")?,
                Ok(None) => {
                    self.commit("migrate")?;
                    return Ok(known);
                }
                Err(e) => {
                    let _ = self.rollback("migrate");
                    return Err(e);
                }
            }
        }
    }
}
