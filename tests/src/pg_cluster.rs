//! A throwaway PostgreSQL cluster for tests, std only — the one copy that
//! `cargo xtask test` (which includes this file by path) and the helper's
//! store tests (when run by hand, also by path) use. It must not depend on
//! anything outside std.
//!
//! The cluster lives in its own folder (`<folder>/data`, its unix socket in
//! `<folder>/sock`, its log in `<folder>/server.log`), listens on 127.0.0.1 at
//! a free port and trusts local connections: it is for tests only and must
//! never be a template for a real server. It also speaks TLS to clients that
//! ask: a test CA and a server certificate for 127.0.0.1/localhost are made
//! once with the `openssl` command (Debian's postgresql-common depends on it)
//! in `<folder>/tls/`; [`Cluster::ca_file`] is what a client trusts. Debian's `postgresql` package
//! provides the binaries in `/usr/lib/postgresql/<version>/bin` (the newest
//! version there is used; `/usr/local/bin` symlinks are not relied on).
//!
//! `initdb` refuses to run as root, so as root every server command runs as
//! the unprivileged `nobody` through `runuser`, with the folder owned by it.
//! That user must be able to reach the folder: every folder above it must be
//! searchable by others (as `/work/...` and CI's checkouts are); when it is
//! not (a checkout under `/root`), the cluster goes to the system temp folder
//! instead and `start` says so through [`Cluster::dir`].

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The superuser `initdb` creates; tests connect as this role.
pub const USER: &str = "onshi";
/// The database `start` (re)creates empty for one run.
pub const DATABASE: &str = "onshi_test";
/// The unprivileged account the server runs as when we are root.
const RUN_AS: &str = "nobody";

/// A running cluster. Stop it with [`Cluster::stop`]; nothing stops it on drop,
/// so that a test process can hand it to a watchdog instead.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// The folder holding `data/`, `sock/` and `server.log`.
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    as_root: bool,
}

impl Cluster {
    /// The connection URL of the run's database, over TCP on loopback.
    pub fn url(&self) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// The test CA that issued the server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("tls/ca.crt")
    }

    /// `pg_ctl stop -m fast`: disconnects clients and shuts down cleanly.
    pub fn stop(&self) -> Result<(), String> {
        let data = self.dir.join("data");
        let ok = self.command("pg_ctl").args(["stop", "-m", "fast", "-w", "-D"]).arg(&data).status();
        match ok {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("pg_ctl stop exited with {s}; see {}", self.dir.join("server.log").display())),
            Err(e) => Err(format!("cannot run pg_ctl: {e}")),
        }
    }

    /// Leaves a detached watchdog that stops the cluster once process `pid`
    /// has exited (a test binary has no hook that runs after its last test).
    pub fn stop_when_gone(&self, pid: u32) -> Result<(), String> {
        let mut stop = self.command("pg_ctl");
        stop.args(["stop", "-m", "fast", "-D"]).arg(self.dir.join("data"));
        let stop_line = std::iter::once(stop.get_program())
            .chain(stop.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let script = format!("while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop_line} >/dev/null 2>&1");
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(drop)
            .map_err(|e| format!("cannot start the cluster's watchdog: {e}"))
    }

    /// A server binary, run as the unprivileged user when we are root.
    fn command(&self, tool: &str) -> Command {
        command(&self.bin, self.as_root, tool)
    }
}

fn command(bin: &Path, as_root: bool, tool: &str) -> Command {
    let program = bin.join(tool);
    let mut c = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", RUN_AS, "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    // Server processes must not keep our stdout open (a test runner waits for it).
    c.stdin(Stdio::null()).stdout(Stdio::null());
    c
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
pub fn bin_dir() -> Result<PathBuf, String> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .map_err(|_| format!("{} is missing; install the Debian package postgresql (`cargo xtask setup`)", root.display()))?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| format!("no server binaries under {}; install the Debian package postgresql", root.display()))
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Whether every folder from `/` down to `dir`'s parent lets others search it.
fn reachable_by_others(dir: &Path) -> bool {
    dir.ancestors()
        .skip(1)
        .filter(|a| !a.as_os_str().is_empty())
        .all(|a| std::fs::metadata(a).map(|m| m.permissions().mode() & 0o001 != 0).unwrap_or(true))
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn run(mut c: Command, what: &str, log: &Path) -> Result<(), String> {
    let out = c.stderr(Stdio::piped()).output().map_err(|e| format!("cannot run {what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}): {}\n(server log: {})",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        log.display()
    ))
}

/// Starts a cluster in `dir` (created if missing): `initdb` once — a folder
/// that already holds a cluster is reused, which is what makes a second start
/// cheap — then `pg_ctl start` on a free loopback port, waiting until it
/// accepts connections, then an empty [`DATABASE`]. A server left running in
/// `dir` by an earlier run that died is stopped first.
pub fn start(dir: &Path) -> Result<Cluster, String> {
    let bin = bin_dir()?;
    let as_root = is_root();
    let dir = if as_root && !reachable_by_others(dir) {
        // Not under target/: the server's user could not reach it there.
        // One folder per checkout and name (two checkouts under /root differ).
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        dir.hash(&mut h);
        let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("cluster");
        std::env::temp_dir().join(format!("onshi-pg-{name}-{:016x}", h.finish()))
    } else {
        dir.to_owned()
    };
    let (data, sock, log) = (dir.join("data"), dir.join("sock"), dir.join("server.log"));
    std::fs::create_dir_all(&sock).map_err(|e| format!("cannot create {}: {e}", sock.display()))?;
    if as_root {
        // The server's user owns the whole folder (data, socket, log).
        let (uid, gid) = nobody_ids()?;
        for p in [&dir, &sock] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid)).map_err(|e| format!("cannot chown {}: {e}", p.display()))?;
        }
        if log.exists() {
            let _ = std::os::unix::fs::chown(&log, Some(uid), Some(gid));
        }
    }
    let tls = dir.join("tls");
    if !tls.join("server.crt").exists() {
        make_certificates(&tls)?;
    }
    if as_root {
        let (uid, gid) = nobody_ids()?;
        for f in ["", "ca.crt", "server.crt", "server.key"] {
            let p = tls.join(f);
            std::os::unix::fs::chown(&p, Some(uid), Some(gid)).map_err(|e| format!("cannot chown {}: {e}", p.display()))?;
        }
    }
    let cluster = Cluster { dir: dir.clone(), port: free_port()?, bin: bin.clone(), as_root };
    if data.join("postmaster.pid").exists() {
        // Left by a run that died; a clean stop, or the stale pid file alone.
        let _ = cluster.stop();
    }
    if !data.join("PG_VERSION").exists() {
        let _ = std::fs::remove_dir_all(&data);
        let mut c = command(&bin, as_root, "initdb");
        c.args(["--auth=trust", "--no-locale", "--encoding=UTF8", "--username", USER, "-D"]).arg(&data);
        run(c, "initdb", &log)?;
    }
    cluster.launch()?;
    for (tool, extra) in [("dropdb", &["--if-exists"][..]), ("createdb", &[][..])] {
        let mut c = command(&bin, as_root, tool);
        c.args(["-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", USER]).args(extra).arg(DATABASE);
        run(c, tool, &log)?;
    }
    Ok(cluster)
}

impl Cluster {
    /// Starts a stopped cluster again on the same port, keeping its data (a
    /// database server coming back after an outage).
    pub fn restart(&self) -> Result<(), String> {
        self.launch()
    }

    /// `psql -At -c sql` against the run's database: the rows, one per line,
    /// columns separated by `|`.
    pub fn query(&self, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER, "-d", DATABASE, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(format!("psql failed on {sql:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
    }

    /// `pg_ctl start` on the cluster's port and folders, then waits until it
    /// accepts connections.
    fn launch(&self) -> Result<(), String> {
        let (data, sock, log, tls) = (self.dir.join("data"), self.dir.join("sock"), self.dir.join("server.log"), self.dir.join("tls"));
        let (bin, as_root) = (&self.bin, self.as_root);
        let cluster = self;
        let options = format!(
        "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories='{}' -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
         -c ssl=on -c ssl_cert_file='{}' -c ssl_key_file='{}'",
        cluster.port,
        sock.display(),
        tls.join("server.crt").display(),
        tls.join("server.key").display()
    );
    let mut c = command(&bin, as_root, "pg_ctl");
    c.args(["start", "-w", "-t", "30", "-D"]).arg(&data).arg("-l").arg(&log).args(["-o", &options]);
    run(c, "pg_ctl start", &log)?;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut c = command(&bin, as_root, "pg_isready");
        c.args(["-q", "-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", USER]);
        if c.status().map(|s| s.success()).unwrap_or(false) {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!("the test cluster did not accept connections within 15 s; see {}", log.display()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
    }
}

/// A test CA and a server certificate signed by it for 127.0.0.1 and
/// localhost (P-256 keys, ten years), through the `openssl` command.
fn make_certificates(tls: &Path) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(tls);
    std::fs::create_dir_all(tls).map_err(|e| format!("cannot create {}: {e}", tls.display()))?;
    let ext = tls.join("server.ext");
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n")
        .map_err(|e| format!("cannot write {}: {e}", ext.display()))?;
    let steps: [&[&str]; 3] = [
        &[
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
            "-subj", "/CN=onshi test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-keyout", "ca.key", "-out", "ca.crt",
        ],
        &[
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr",
        ],
        &[
            "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "3650",
            "-extfile", "server.ext", "-out", "server.crt",
        ],
    ];
    for args in steps {
        let out = Command::new("openssl")
            .current_dir(tls)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run openssl (Debian package openssl): {e}"))?;
        if !out.status.success() {
            return Err(format!("openssl {} failed: {}", args[0], String::from_utf8_lossy(&out.stderr).trim()));
        }
    }
    // The server refuses a key others can read.
    std::fs::set_permissions(tls.join("server.key"), std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict server.key: {e}"))
}

/// `nobody`'s uid and gid, from `id` (std has no passwd lookup).
fn nobody_ids() -> Result<(u32, u32), String> {
    let id = |flag: &str| -> Result<u32, String> {
        let out = Command::new("id").args([flag, RUN_AS]).output().map_err(|e| format!("cannot run id: {e}"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| format!("no user {RUN_AS} on this machine; the test cluster runs as it when started by root"))
    };
    Ok((id("-u")?, id("-g")?))
}
