//! Many desks, one hospital (issue 17): a throwaway PostgreSQL cluster, the
//! simulator's mutual-TLS gateway over a seeded registry, and N helper
//! services — one per desk, each with its own config, SQLite file (its
//! pairings) and socket — sharing the cluster's database. Each desk is
//! reached the way its native host reaches it: the local socket, the relay
//! hello, length-prefixed JSON frames ([`Link`]). Used by the multi-desk
//! tests and by `cargo xtask bench desks`.
//!
//! Everything lives in `target/onshi-desks/<name>-<pid>/` (under `target/`
//! so the cluster's unprivileged server user can reach it); dropping the
//! [`Hospital`] stops the services, the gateway and the cluster, and removes
//! the folder.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use serde_json::{json, Value};

use crate::demo_parts as parts;
use crate::paths;
use crate::pg_cluster::{self, Cluster};
use crate::process::Guarded;

/// The extension every desk's pairing is made for.
pub const EXT: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";
/// The page origin every desk has paired.
pub const PAGE: &str = "https://reception.hospital.example";

/// What [`Hospital::start`] sets up.
#[derive(Debug, Clone)]
pub struct HospitalOptions {
    /// The folder's name under `target/onshi-desks/`.
    pub name: String,
    pub desks: usize,
    /// How long the gateway keeps a batch "still processing".
    pub batch_delay_ms: u64,
    /// TOML appended to every desk's config (e.g. a `[timeouts]` table).
    pub extra_toml: String,
    /// `false`: no database server; each desk keeps everything in its own
    /// SQLite file (the single-PC default, for comparison).
    pub shared: bool,
    /// The folder with `onshi-helper` and `onshi-sim` (default: the
    /// profile this program was built in).
    pub bins: Option<PathBuf>,
}

impl HospitalOptions {
    pub fn new(name: &str, desks: usize) -> HospitalOptions {
        HospitalOptions { name: name.into(), desks, batch_delay_ms: 0, extra_toml: String::new(), shared: true, bins: None }
    }
}

/// One reception PC: its helper service and its files.
pub struct Desk {
    /// The config's `desk` (受付1, 受付2, …).
    pub name: String,
    pub config: PathBuf,
    /// The PC's own SQLite file (pairings; results go to the shared store).
    pub store: PathBuf,
    pub socket: PathBuf,
    /// The service's stderr.
    pub log: PathBuf,
    helper: PathBuf,
    home: PathBuf,
    service: Option<Guarded>,
}

impl Desk {
    /// Starts the desk's helper service and waits until it listens.
    pub fn start(&mut self) -> Result<()> {
        ensure!(self.service.is_none(), "{}'s service is already running", self.name);
        let log = std::fs::OpenOptions::new().append(true).create(true).open(&self.log)?;
        let mut c = parts::helper_service_command(&self.helper, &self.config, &self.store, &self.socket);
        c.env("HOME", &self.home).stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        let mut g = Guarded { child: c.spawn().context("starting onshi-helper service")?, name: format!("{} service", self.name) };
        parts::wait_for_socket(&self.socket, &mut g.child, &self.log, Duration::from_secs(30)).map_err(|e| anyhow!(e))?;
        self.service = Some(g);
        Ok(())
    }

    /// SIGKILL: the PC switched off mid-work, nothing shut down cleanly.
    pub fn kill(&mut self) -> Result<()> {
        let mut g = self.service.take().ok_or_else(|| anyhow!("{}'s service is not running", self.name))?;
        g.child.kill().context("killing the service")?;
        g.child.wait()?;
        Ok(())
    }

    /// The service's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.service.as_ref().map(|g| g.child.id())
    }

    /// A new connection to the service, as a native host would open it.
    pub fn connect(&self) -> Result<Link> {
        Link::open(&self.socket)
    }

    /// `onshi-helper --config … --store … <args>` (e.g. `audit verify`), to completion.
    pub fn cli(&self, args: &[&str]) -> Result<Output> {
        Command::new(&self.helper)
            .env("HOME", &self.home)
            .arg("--config")
            .arg(&self.config)
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running onshi-helper {}", args.join(" ")))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The hospital: the database, the gateway and the desks.
pub struct Hospital {
    /// The shared database's server (none when the desks keep their own files).
    pub cluster: Option<Cluster>,
    pub desks: Vec<Desk>,
    /// The simulator's seeded registry (who can be checked).
    pub registry: PathBuf,
    /// The gateway's request log (JSON lines).
    pub gateway_requests: PathBuf,
    pub gateway_port: u16,
    work: PathBuf,
    _gateway: Guarded,
}

/// A desk's config: the demo's text, the shared store (when there is one) and `extra`.
pub fn desk_config(desk: &str, store: &Path, backend_toml: &str, db_url: Option<&str>, extra: &str) -> String {
    let shared = db_url.map(|url| format!("\n[store]\nkind = \"postgres\"\nurl = \"{url}\"\n")).unwrap_or_default();
    format!("{}{shared}\n{extra}", parts::helper_config(desk, store, backend_toml))
}

/// Pairs [`PAGE`] for [`EXT`] in the desk's own file, as staff approving
/// the pairing window would have.
fn pre_pair(store: &Path) -> Result<()> {
    use onshi_helper::browser::Browser;
    use onshi_helper::store::{ExtensionId, Origin, Store};
    use onshi_helper::time::Timestamp;
    let mut s = Store::open(store).map_err(|e| anyhow!("{e}"))?;
    let now = Timestamp::parse("2026-01-01T09:00:00+09:00").map_err(|e| anyhow!("{e:?}"))?;
    let ext = ExtensionId::new(EXT).map_err(|e| anyhow!("{e}"))?;
    let origin = Origin::new(PAGE).map_err(|e| anyhow!("{e}"))?;
    let id = s.begin_pairing(&origin, &ext, Browser::Chromium, &now).map_err(|e| anyhow!("{e}"))?;
    s.approve_pairing(id, &now).map_err(|e| anyhow!("{e}"))
}

impl Hospital {
    /// Starts the cluster (an empty database), the gateway and every desk.
    pub fn start(opts: &HospitalOptions) -> Result<Hospital> {
        let work = paths::workspace_root().join("target/onshi-desks").join(format!("{}-{}", opts.name, std::process::id()));
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)?;
        let cluster = if opts.shared {
            let c = pg_cluster::start(&work.join("pg")).map_err(|e| anyhow!(e))?;
            // Should this process die without dropping the hospital.
            c.stop_when_gone(std::process::id()).map_err(|e| anyhow!(e))?;
            Some(c)
        } else {
            None
        };
        let (sim, helper) = match &opts.bins {
            Some(dir) => (dir.join("onshi-sim"), dir.join("onshi-helper")),
            None => (paths::binary("onshi-sim")?, paths::binary("onshi-helper")?),
        };
        let (pki, registry) = (work.join("pki"), work.join("registry.sqlite"));
        paths::run_ok(Command::new(&sim).args(["pki", "init"]).arg(&pki))?;
        paths::run_ok(Command::new(&sim).args(["registry", "seed", "--db"]).arg(&registry))?;
        let port = parts::free_port().map_err(|e| anyhow!(e))?;
        let gateway_requests = work.join("gateway-requests.jsonl");
        let mut c = parts::gateway_command(&sim, &registry, &pki, port);
        c.arg("--log").arg(&gateway_requests);
        if opts.batch_delay_ms > 0 {
            c.args(["--batch-delay-ms", &opts.batch_delay_ms.to_string()]);
        }
        c.stdout(Stdio::null()).stderr(std::fs::File::create(work.join("gateway.log"))?);
        let mut gateway = Guarded { child: c.spawn().context("starting onshi-sim gateway")?, name: "onshi-sim gateway".into() };
        parts::wait_for_port(port, &mut gateway.child, "onshi-sim gateway", Duration::from_secs(20)).map_err(|e| anyhow!(e))?;

        let backend = parts::gateway_backend_toml(port, &pki);
        let mut desks = Vec::new();
        for i in 1..=opts.desks {
            let dir = work.join(format!("desk{i}"));
            std::fs::create_dir_all(&dir)?;
            let name = format!("受付{i}");
            let store = dir.join("helper.sqlite");
            let config = dir.join("helper.toml");
            let url = cluster.as_ref().map(Cluster::url);
            std::fs::write(&config, desk_config(&name, &store, &backend, url.as_deref(), &opts.extra_toml))?;
            pre_pair(&store)?;
            desks.push(Desk {
                name,
                config,
                store,
                socket: dir.join("helper.sock"),
                log: dir.join("helper.log"),
                helper: helper.clone(),
                home: dir,
                service: None,
            });
        }
        let mut h = Hospital { cluster, desks, registry, gateway_requests, gateway_port: port, work, _gateway: gateway };
        for d in &mut h.desks {
            d.start()?;
        }
        Ok(h)
    }

    fn db(&self) -> Result<&Cluster> {
        self.cluster.as_ref().ok_or_else(|| anyhow!("this hospital has no shared database"))
    }

    /// The database server goes away (`pg_ctl stop -m fast`).
    pub fn stop_db(&self) -> Result<()> {
        self.db()?.stop().map_err(|e| anyhow!(e))
    }

    /// … and comes back with its data.
    pub fn restart_db(&self) -> Result<()> {
        self.db()?.restart().map_err(|e| anyhow!(e))
    }

    /// `psql` on the shared database: rows, one per line, columns by `|`.
    pub fn sql(&self, query: &str) -> Result<String> {
        self.db()?.query(query).map_err(|e| anyhow!(e))
    }

    /// Up to `n` registry people whose numbers give one valid qualification,
    /// as `insurance_confirm`'s `insured` object.
    pub fn insured(&self, n: usize) -> Result<Vec<Value>> {
        let conn = rusqlite::Connection::open(&self.registry)?;
        let mut q = conn.prepare(
            "SELECT insurer_number, symbol, number, branch, birthdate FROM probes
             WHERE case_tag = 'valid' AND expected_validity = 1 AND expected_people = 1 ORDER BY id LIMIT ?1",
        )?;
        let rows = q.query_map([n as i64], |r| {
            let mut v = json!({
                "insurer_number": r.get::<_, String>(0)?.trim(),
                "number": r.get::<_, String>(2)?,
                "birth_date": r.get::<_, String>(4)?,
            });
            if let Some(s) = r.get::<_, Option<String>>(1)? {
                v["symbol"] = s.into();
            }
            if let Some(b) = r.get::<_, Option<String>>(3)? {
                v["branch"] = b.into();
            }
            Ok(v)
        })?;
        let people = rows.collect::<Result<Vec<_>, _>>()?;
        ensure!(!people.is_empty(), "the seeded registry has no valid single-person probe");
        Ok(people)
    }
}

impl Drop for Hospital {
    fn drop(&mut self) {
        for d in &mut self.desks {
            d.service = None;
        }
        if let Some(c) = &self.cluster {
            let _ = c.stop();
        }
        let _ = std::fs::remove_dir_all(&self.work);
    }
}

/// One connection to a desk's service: requests out, replies and events in.
/// A reader thread takes every frame off the socket as it comes, so events
/// are timed when they arrive, not when a test looks.
pub struct Link {
    conn: UnixStream,
    frames: mpsc::Receiver<(Instant, Value)>,
    /// Events seen while waiting for replies, with when they arrived.
    pub events: Vec<(Instant, Value)>,
    next: u64,
}

fn write_frame(conn: &mut UnixStream, payload: &str) -> Result<()> {
    conn.write_all(&u32::try_from(payload.len())?.to_be_bytes())?;
    conn.write_all(payload.as_bytes())?;
    Ok(())
}

fn read_frame(conn: &mut UnixStream) -> Result<Value> {
    let mut len = [0u8; 4];
    conn.read_exact(&mut len)?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    conn.read_exact(&mut body)?;
    Ok(serde_json::from_slice(&body)?)
}

impl Link {
    pub fn open(socket: &Path) -> Result<Link> {
        let mut conn = UnixStream::connect(socket).with_context(|| format!("connecting to {}", socket.display()))?;
        write_frame(&mut conn, &format!(r#"{{"relay":1,"browser":"chromium","extension_id":"{EXT}"}}"#))?;
        let mut reader = conn.try_clone()?;
        let (tx, frames) = mpsc::channel();
        std::thread::spawn(move || {
            while let Ok(f) = read_frame(&mut reader) {
                if tx.send((Instant::now(), f)).is_err() {
                    break;
                }
            }
        });
        Ok(Link { conn, frames, events: Vec::new(), next: 0 })
    }

    /// Sends `body` as the paired page and waits (up to 60 s) for its reply,
    /// chunks joined; events that come meanwhile are kept in [`Link::events`].
    pub fn ask(&mut self, body: Value) -> Result<Value> {
        self.next += 1;
        let id = format!("d{}", self.next);
        let frame = json!({ "v": 1, "id": id, "origin": PAGE, "via": "page", "body": body });
        write_frame(&mut self.conn, &frame.to_string())?;
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut chunks: Vec<(u64, String)> = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, f) = self.frames.recv_timeout(left).map_err(|_| anyhow!("no reply to {body} within 60 s"))?;
            if f.get("event").is_some() {
                self.events.push((at, f["event"].clone()));
                continue;
            }
            if f["id"] != id.as_str() {
                continue;
            }
            let Some(chunk) = f.get("chunk") else { return Ok(f) };
            let index = chunk["index"].as_u64().unwrap_or(0);
            let count = chunk["count"].as_u64().unwrap_or(1);
            chunks.push((index, chunk["data"].as_str().unwrap_or_default().to_owned()));
            if chunks.len() as u64 == count {
                chunks.sort_by_key(|c| c.0);
                let text: String = chunks.into_iter().map(|c| c.1).collect();
                return Ok(serde_json::from_str(&text)?);
            }
        }
    }

    /// [`Link::ask`], and the reply's body when it says `ok`.
    pub fn ok(&mut self, body: Value) -> Result<Value> {
        let what = body["type"].clone();
        let reply = self.ask(body)?;
        if reply["ok"] != true {
            bail!("{what} was refused: {reply}");
        }
        Ok(reply["body"].clone())
    }

    /// Takes in the events that arrive until the line has been quiet for
    /// `quiet` (replies to nobody are dropped).
    pub fn collect(&mut self, quiet: Duration) {
        while let Ok((at, f)) = self.frames.recv_timeout(quiet) {
            if let Some(e) = f.get("event") {
                self.events.push((at, e.clone()));
            }
        }
    }

    /// The first event (seen already or arriving within `timeout`) that
    /// `pick` accepts, with when it arrived; it is taken out of the list.
    pub fn wait_event(&mut self, timeout: Duration, mut pick: impl FnMut(&Value) -> bool) -> Result<(Instant, Value)> {
        if let Some(i) = self.events.iter().position(|(_, e)| pick(e)) {
            return Ok(self.events.remove(i));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, f) = self.frames.recv_timeout(left).map_err(|_| anyhow!("no such event within {timeout:?}"))?;
            if let Some(e) = f.get("event") {
                if pick(e) {
                    return Ok((at, e.clone()));
                }
                self.events.push((at, e.clone()));
            }
        }
    }
}
