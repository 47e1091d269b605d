//! `cargo xtask demo [--backend gateway|oqs-folder] [--person ID] [--disaster AREA:START-END] [--desks N] [--fresh] [--smoke]`:
//! the whole reception PC on one machine, from the real parts.
//!
//! Order (each step prints one line): build → state folder `target/demo/` →
//! test PKI (`onshi-sim pki init`) → registry (`onshi-sim registry seed`) →
//! pcscd (reused when one answers, else started) → the virtual card
//! (`cargo xtask card` logic) → the simulated backend (`onshi-sim gateway`
//! or `onshi-sim oqs-folder`) → the helper's TOML config (checked with
//! `onshi-helper config check`) → `onshi-helper service` on
//! `target/demo/run/helper.sock` → the native-messaging manifest in the
//! demo's own Chromium profile → `onshi-sim web` serving dist/web →
//! Chromium with the unpacked extension: a window when there is a display,
//! else headless through chromedriver (screenshots to target/demo/).
//!
//! `--smoke` (CI; `cargo xtask test` runs it with `--no-build`) goes through
//! every step, then proves the real path once — page → content script →
//! service worker → `connectNative` → helper native host → service and back:
//! `hello` answered by the helper, `status` refused with `not_paired`,
//! `pair_begin` → the extension's pairing window shows the code → 承認 →
//! `status` paired — saves screenshots (target/demo/pairing.png,
//! reception.png) and stops. It starts from an empty target/demo/.
//!
//! Without `--smoke` the state folder is kept between runs (registry,
//! helper database, pairings), as a reception PC keeps them; `--fresh`
//! empties it first, to pair again from the start.
//!
//! `--desks N` (2–9, issue 17) is a hospital instead of one PC: after the
//! gateway, a PostgreSQL server in `target/demo/desks/pg` and N helper
//! services sharing it, each desk with its own browser profile
//! (`demo/desks.rs`).
//!
//! Everything started here is stopped by process id when the demo ends:
//! Ctrl-C, SIGTERM, an error, or (with a window) closing Chromium. The
//! children run in their own process groups so the terminal's Ctrl-C reaches
//! only this process, which then stops them in reverse order.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod desks;

use crate::card;
use crate::demo_parts::{self as parts, free_port, wait_for_port, EXTENSION_ID};
use crate::pcscd_daemon;
use crate::util::{self, Result};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Gateway,
    OqsFolder,
}

struct Options {
    backend: Backend,
    person: String,
    smoke: bool,
    /// Start from an empty state folder (the smoke always does).
    fresh: bool,
    /// `cargo xtask test` has just built everything.
    no_build: bool,
    /// A disaster the simulated system declares from the start (issue 16), e.g.
    /// `01:20261201-20261231`; more can be written into `target/demo/disaster.txt`
    /// while the demo runs (staff training).
    disaster: Option<String>,
    /// Reception desks sharing one PostgreSQL (issue 17); 1 = one PC alone.
    desks: usize,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o =
        Options { backend: Backend::Gateway, person: card::DEFAULT_PERSON.into(), smoke: false, fresh: false, no_build: false, disaster: None, desks: 1 };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--smoke" => o.smoke = true,
            "--fresh" => o.fresh = true,
            "--no-build" => o.no_build = true,
            "--backend" => {
                o.backend = match it.next().map(String::as_str) {
                    Some("gateway") => Backend::Gateway,
                    Some("oqs-folder") => Backend::OqsFolder,
                    other => return Err(format!("--backend gateway|oqs-folder, not {other:?}")),
                }
            }
            "--person" => o.person = it.next().cloned().ok_or("--person needs an id, e.g. P0001")?,
            "--desks" => {
                let n = it.next().ok_or("--desks needs a number of desks, 2 to 9")?;
                o.desks = n.parse().ok().filter(|n| (1..=9).contains(n)).ok_or_else(|| format!("--desks takes 1 to 9, not {n:?}"))?;
            }
            "--disaster" => o.disaster = Some(it.next().cloned().ok_or("--disaster needs AREA:START-END, e.g. 01:20261201-20261231")?),
            other => {
                return Err(format!(
                    "unknown demo option {other:?} (--backend gateway|oqs-folder, --person ID, --disaster AREA:START-END, --desks N, --fresh, --smoke)"
                ))
            }
        }
    }
    Ok(o)
}

/// Processes this demo started, stopped by id in reverse order on drop.
#[derive(Default)]
struct Started {
    list: Vec<(String, Child)>,
    /// The card is stopped through its pid file (it may have been swapped by
    /// `cargo xtask card insert` meanwhile).
    card_state: Option<PathBuf>,
}

impl Started {
    fn push(&mut self, name: &str, child: Child) {
        self.list.push((name.to_owned(), child));
    }

    /// The first child that exited on its own, if any.
    fn exited(&mut self) -> Option<String> {
        self.list.iter_mut().find_map(|(name, c)| match c.try_wait() {
            Ok(Some(status)) => Some(format!("{name} stopped ({status})")),
            _ => None,
        })
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        eprintln!("\nstopping what the demo started…");
        if let Some(state) = self.card_state.take() {
            let _ = card::remove(&state);
        }
        while let Some((name, mut child)) = self.list.pop() {
            let pid = child.id();
            pcscd_daemon::stop(&mut child, Duration::from_secs(3));
            eprintln!("  stopped {name} (pid {pid})");
        }
    }
}

fn step(n: u32, what: &str) {
    eprintln!("\n[demo {n:>2}] {what}");
}

/// A command in its own process group (Ctrl-C goes to xtask only).
fn own_group(cmd: &mut Command) -> &mut Command {
    std::os::unix::process::CommandExt::process_group(cmd, 0);
    cmd
}

fn pick_web_port() -> Result<u16> {
    // A fixed, memorable port when free; any free port otherwise.
    for port in [8080u16, 8081, 8088] {
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    free_port()
}

/// Runs a short command, its output captured; an error shows that output.
fn run_quiet(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(|e| format!("cannot start `{}`: {e}", util::describe(cmd)))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() { Ok(text) } else { Err(format!("`{}` failed ({}):\n{}", util::describe(cmd), out.status, text.trim())) }
}

pub fn run(args: &[String]) -> Result {
    let o = parse(args)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst)).map_err(|e| format!("cannot catch Ctrl-C: {e}"))?;
    }
    let root = util::root();
    let bin = root.join("target/debug");
    let sim = bin.join("onshi-sim");
    let helper = bin.join("onshi-helper");

    step(1, "building (native crates, the WebAssembly page, dist/)");
    if o.no_build {
        eprintln!("skipped (--no-build)");
    } else {
        crate::build::run()?;
    }

    let state = card::state_dir();
    step(2, &format!("state folder {}", state.display()));
    if o.smoke || o.fresh {
        // CI starts from nothing every time; a person asks for it with --fresh.
        let _ = std::fs::remove_dir_all(&state);
        eprintln!("emptied");
    }
    std::fs::create_dir_all(state.join("run")).map_err(|e| e.to_string())?;
    let mut started = Started::default();

    step(3, "test PKI (gateway, clinic and JPKI test CAs; people P0001–P0003, and P0042–P0044 whose certificates expire soon / lapsed / lapsed long ago, as of today)");
    let pki = state.join("pki");
    eprintln!("{}", run_quiet(Command::new(&sim).args(["pki", "init"]).arg(&pki).args(["--cert-cases-on", "today"]))?.trim());

    step(4, "synthetic registry");
    let db = state.join("registry.sqlite");
    if db.exists() {
        eprintln!("kept {}", db.display());
    } else {
        eprintln!("{}", run_quiet(Command::new(&sim).args(["registry", "seed", "--db"]).arg(&db))?.trim());
    }

    step(5, "pcscd (PC/SC daemon with the vpcd virtual reader)");
    if pcscd_daemon::answering() {
        eprintln!("a pcscd is already running; using it (it is left running at the end)");
    } else {
        let child = pcscd_daemon::start()?;
        eprintln!("started pcscd (pid {})", child.id());
        started.push("pcscd", child);
    }

    step(6, &format!("virtual My Number card of {} on the reader", o.person));
    started.card_state = Some(state.clone());
    card::insert(&state, &o.person)?;

    let backend_toml = match o.backend {
        Backend::Gateway => {
            step(7, "simulated gateway (onshi-sim gateway, mutual TLS)");
            let port = free_port()?;
            let has_gateway =
                Command::new(&sim).args(["gateway", "--help"]).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
            if has_gateway {
                let mut c = parts::gateway_command(&sim, &db, &pki, port);
                // Disaster mode (issue 16): the file is read on every disaster request,
                // so a trainer can declare or end one while the demo runs.
                let disaster_file = state.join("disaster.txt");
                c.arg("--disaster-file").arg(&disaster_file);
                if let Some(d) = &o.disaster {
                    c.args(["--disaster", d]);
                }
                let mut child = own_group(c.stdout(Stdio::null())).spawn().map_err(|e| format!("cannot start the gateway: {e}"))?;
                let ready = wait_for_port(port, &mut child, "onshi-sim gateway", Duration::from_secs(20));
                started.push("onshi-sim gateway", child);
                ready?;
                eprintln!("gateway on https://127.0.0.1:{port}/");
                eprintln!(
                    "disaster mode: {} (declare or end one by writing AREA:START-END lines into {})",
                    o.disaster.as_deref().unwrap_or("none declared"),
                    disaster_file.display()
                );
            } else {
                eprintln!(
                    "NOTE: this onshi-sim has no `gateway` subcommand yet (it is being written), so nothing answers\n\
                     on https://127.0.0.1:{port}/. The demo goes on: pairing works, but card and insurance checks\n\
                     will end in a network error. For working checks now: cargo xtask demo --backend oqs-folder"
                );
            }
            parts::gateway_backend_toml(port, &pki)
        }
        Backend::OqsFolder => {
            step(7, "simulated OQS terminal folder (onshi-sim oqs-folder)");
            let dir = state.join("oqs");
            let mut c = Command::new(&sim);
            c.args(["oqs-folder", "--dir"]).arg(&dir).arg("--db").arg(&db);
            let mut child = own_group(c.stdout(Stdio::null())).spawn().map_err(|e| format!("cannot start oqs-folder: {e}"))?;
            let start = Instant::now();
            while !dir.join("req").exists() && start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!("onshi-sim oqs-folder stopped at once ({status})"));
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("answering requests in {}", dir.display());
            started.push("onshi-sim oqs-folder", child);
            parts::folder_backend_toml(&dir)
        }
    };

    if o.desks > 1 {
        if o.backend != Backend::Gateway {
            return Err("--desks needs the gateway backend: desks share a network, not one PC's OQS folder".into());
        }
        return desks::run(o.desks, o.smoke, &stop, &mut started, &state, &helper, &backend_toml, |s| start_web(&sim, s));
    }

    step(8, "helper configuration");
    let config = state.join("helper.toml");
    let store = state.join("helper.sqlite");
    let text = parts::helper_config("デモ受付", &store, &backend_toml);
    std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
    eprintln!("{}", run_quiet(Command::new(&helper).arg("--config").arg(&config).args(["config", "check"]))?.trim());

    step(9, "helper service");
    let socket = state.join("run/helper.sock");
    if socket.exists() && std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        return Err(format!("a helper service already answers on {} — is another demo running?", socket.display()));
    }
    let log = std::fs::File::create(state.join("helper.log")).map_err(|e| e.to_string())?;
    let mut c = parts::helper_service_command(&helper, &config, &store, &socket);
    c.stdout(Stdio::null()).stderr(log);
    let mut child = own_group(&mut c).spawn().map_err(|e| format!("cannot start the helper service: {e}"))?;
    parts::wait_for_socket(&socket, &mut child, &state.join("helper.log"), Duration::from_secs(15))?;
    eprintln!("listening on {} (log {})", socket.display(), state.join("helper.log").display());
    started.push("onshi-helper service", child);

    step(10, "native-messaging manifest in the demo's Chromium profile");
    let profile = state.join("profile");
    eprintln!(
        "{}",
        run_quiet(&mut parts::install_manifest_command(&helper, &profile))?.trim()
    );

    step(11, "reception page (onshi-sim web, dist/web)");
    let url = start_web(&sim, &mut started)?;
    eprintln!("serving {url}");

    let mut flags = chromium_flags(&profile);

    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if has_display && !o.smoke {
        step(12, "Chromium with the extension (window)");
        let mut c = Command::new(CHROMIUM);
        c.args(&flags).arg(&url).env("ONSHI_HELPER_SOCKET", &socket).stdout(Stdio::null()).stderr(Stdio::null());
        let child = own_group(&mut c).spawn().map_err(|e| format!("cannot start Chromium: {e}"))?;
        started.push("chromium", child);
        next_steps(&url, &state, None);
        return wait(&stop, &mut started, Some("chromium"));
    }

    step(12, "headless Chromium with the extension (no display, or --smoke)");
    flags.extend(["--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"].map(String::from));
    let driver_port = free_port()?;
    let mut c = Command::new(CHROMEDRIVER);
    c.arg(format!("--port={driver_port}")).env("ONSHI_HELPER_SOCKET", &socket).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = own_group(&mut c).spawn().map_err(|e| format!("cannot start chromedriver: {e}"))?;
    let ready = wait_for_port(driver_port, &mut child, "chromedriver", Duration::from_secs(15));
    started.push("chromedriver", child);
    ready?;
    let wd = WebDriver::new(driver_port, &flags)?;
    let result = prove_path(&wd, &url, &state);
    let shot = state.join("reception.png");
    match wd.screenshot(&shot) {
        Ok(()) => eprintln!("screenshot: {}", shot.display()),
        Err(e) => eprintln!("no screenshot: {e}"),
    }
    if let Err(e) = result {
        wd.quit();
        return Err(e);
    }
    if o.smoke {
        wd.quit();
        eprintln!("\ndemo smoke: every part started and the page reached the helper through the extension");
        // The closing line `cargo xtask test` counts: the checks of prove_path.
        println!("demo-smoke: {CHECKS} passed, 0 failed");
        return Ok(());
    }
    next_steps(&url, &state, Some(&flags));
    let r = wait(&stop, &mut started, None);
    wd.quit();
    r
}

/// `onshi-sim web` serving dist/web on a free (preferably memorable) port; its URL.
fn start_web(sim: &Path, started: &mut Started) -> Result<String> {
    let root = util::root();
    if !root.join("dist/web/index.html").exists() {
        return Err(format!("{} is not built; run `cargo xtask build` (or the demo without --no-build)", root.join("dist/web").display()));
    }
    let port = pick_web_port()?;
    let mut c = Command::new(sim);
    c.args(["web", "--dir"]).arg(root.join("dist/web")).args(["--listen", &format!("127.0.0.1:{port}")]);
    let mut child = own_group(c.stdout(Stdio::null())).spawn().map_err(|e| format!("cannot start the web host: {e}"))?;
    let ready = wait_for_port(port, &mut child, "onshi-sim web", Duration::from_secs(10));
    started.push("onshi-sim web", child);
    ready?;
    Ok(format!("http://127.0.0.1:{port}/"))
}

/// Chromium's flags for a demo profile with the unpacked extension.
fn chromium_flags(profile: &Path) -> Vec<String> {
    let mut flags: Vec<String> = [
        "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic", "--lang=ja",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if util::is_root() {
        flags.push("--no-sandbox".into());
    }
    flags.push(format!("--user-data-dir={}", profile.display()));
    flags.extend(parts::extension_flags(&util::root().join("extension")));
    flags
}

/// The page side of envelope v1 in one script: posts `body` with `id` and
/// resolves `{acked, reply}` once the helper's reply comes back (15 s cap).
const ASK_JS: &str = r#"
    const done = arguments[arguments.length - 1];
    const [id, body] = [arguments[0], arguments[1]];
    const t0 = performance.now();
    let acked = false;
    const on = (e) => {
      const m = e.data;
      if (e.source !== window || !m || m.onshi !== 1 || m.id !== id) return;
      if (m.dir === "ack") acked = true;
      if (m.dir === "from-helper") {
        removeEventListener("message", on);
        done({ acked, reply: m.reply, ms: Math.round(performance.now() - t0) });
      }
    };
    addEventListener("message", on);
    window.postMessage({ onshi: 1, dir: "to-helper", id, body }, location.origin);
    setTimeout(() => done({ acked, reply: null }), 15000);"#;

/// How many checks [`prove_path`] makes (the smoke's closing line counts them).
const CHECKS: u32 = 4;

/// The real path, as a receptionist's first minute: the page says hello
/// (answered by the helper through the extension), is refused while unpaired,
/// asks to pair, staff approve in the extension's own window (screenshot),
/// and the page is then paired.
fn prove_path(wd: &WebDriver, url: &str, state: &Path) -> Result {
    wd.goto(url)?;
    let ask = |id: &str, body: Value| wd.execute_async_args(ASK_JS, json!([id, body]));
    let hello = ask("demo-hello", json!({ "type": "hello", "page_version": "xtask-demo" }))?;
    if hello["acked"] != true {
        return Err(format!("the extension did not acknowledge the page (is it loaded?): {hello}"));
    }
    if hello["reply"]["ok"] != true {
        return Err(format!("the helper did not answer hello through the extension: {}", hello["reply"]));
    }
    eprintln!(
        "✓ page → extension → helper: hello answered by helper {} in {} ms",
        hello["reply"]["body"]["helper_version"].as_str().unwrap_or("?"),
        hello["ms"]
    );
    if hello["reply"]["body"]["paired"] == true {
        // A demo started again keeps its state folder, and the pairing with it.
        let status = ask("demo-status-2", json!({ "type": "status" }))?;
        if status["reply"]["body"]["paired"] != true {
            return Err(format!("hello said paired, but status was refused: {status}"));
        }
        eprintln!(
            "✓ this page was paired in an earlier demo run (kept in {}); status answered (backend {})",
            state.join("helper.sqlite").display(),
            status["reply"]["body"]["backend"]
        );
        eprintln!("  To pair again from the start: cargo xtask demo --fresh");
        return Ok(());
    }
    let status = ask("demo-status-1", json!({ "type": "status" }))?;
    if status["reply"]["error"]["code"] != "not_paired" {
        return Err(format!("an unpaired page should get not_paired for status, got {status}"));
    }
    eprintln!("✓ unpaired page: status refused with not_paired");

    let pair = ask("demo-pair", json!({ "type": "pair_begin" }))?;
    let code = pair["reply"]["body"]["code"].as_str().ok_or_else(|| format!("pair_begin gave no code: {pair}"))?.to_owned();
    // chromedriver does not list extension popups as windows; the CDP targets do.
    let deadline = Instant::now() + Duration::from_secs(15);
    let popup = loop {
        let targets = wd.cmd("POST", "/goog/cdp/execute", Some(&json!({ "cmd": "Target.getTargets", "params": {} })))?;
        let found = targets["targetInfos"].as_array().and_then(|ts| {
            ts.iter().find_map(|t| t["url"].as_str().filter(|u| u.contains("/pair.html#")).map(str::to_owned))
        });
        if let Some(u) = found {
            break u;
        }
        if Instant::now() > deadline {
            return Err("the extension did not open its pairing window within 15 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let main = wd.cmd("GET", "/window", None)?;
    let tab = wd.cmd("POST", "/window/new", Some(&json!({ "type": "tab" })))?;
    wd.cmd("POST", "/window", Some(&json!({ "handle": tab["handle"] })))?;
    wd.cmd("POST", "/window/rect", Some(&json!({ "width": 480, "height": 900 })))?;
    wd.goto(&popup)?;
    let shown = wd.wait_text("#code", Duration::from_secs(10))?;
    if shown != code {
        return Err(format!("the pairing window shows code {shown:?}, the page got {code:?}"));
    }
    let shot = state.join("pairing.png");
    wd.screenshot(&shot)?;
    wd.click("#approve")?;
    let verdict = wd.wait_text("#status", Duration::from_secs(10))?;
    wd.cmd("DELETE", "/window", None)?;
    wd.cmd("POST", "/window", Some(&json!({ "handle": main })))?;
    // Tabs share the headless window: back to the page's size for its screenshot.
    wd.cmd("POST", "/window/rect", Some(&json!({ "width": 1280, "height": 900 })))?;
    eprintln!("✓ pairing window showed the code {code} (screenshot {}); approved: {}", shot.display(), verdict.replace('\n', " / "));
    let status = ask("demo-status-2", json!({ "type": "status" }))?;
    if status["reply"]["body"]["paired"] != true {
        return Err(format!("after approval the page should be paired, got {status}"));
    }
    eprintln!("✓ paired page: status answered (backend {})", status["reply"]["body"]["backend"]);
    Ok(())
}

fn next_steps(url: &str, state: &Path, headless_flags: Option<&[String]>) {
    eprintln!("\n━━ the demo is running ━━");
    match headless_flags {
        None => eprintln!("Chromium is open on {url} with the extension loaded."),
        Some(flags) => {
            eprintln!("No display: Chromium runs headless on {url} (screenshot in {}).", state.join("reception.png").display());
            let flags: Vec<&str> =
                flags.iter().map(String::as_str).filter(|f| !f.starts_with("--headless") && *f != "--disable-gpu").collect();
            eprintln!(
                "With a display (e.g. `ssh -X`), the same browser is:\n  ONSHI_HELPER_SOCKET={} {CHROMIUM} {} {url}",
                state.join("run/helper.sock").display(),
                flags.join(" ")
            );
        }
    }
    eprintln!("What you can do now:");
    eprintln!("  - on the page, pair it (approve in the extension's window), then check the card (PIN 1234)");
    eprintln!("  - cargo xtask card remove              take the card off the reader");
    eprintln!("  - cargo xtask card insert --person P0002   put another person's card on it (P0003: not registered)");
    eprintln!("  - extension options: chrome-extension://{EXTENSION_ID}/options.html (paired pages, revoke)");
    eprintln!("  - logs: {0}/helper.log, {0}/card.log, APDUs in {0}/apdu.jsonl", state.display());
    eprintln!("Ctrl-C stops everything the demo started.");
}

/// Waits for Ctrl-C/SIGTERM, or for a started process to stop by itself
/// (`quiet_exit`: the one whose exit just ends the demo, e.g. the browser window).
fn wait(stop: &AtomicBool, started: &mut Started, quiet_exit: Option<&str>) -> Result {
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        if let Some(what) = started.exited() {
            if quiet_exit.is_some_and(|name| what.starts_with(name)) {
                eprintln!("{what}; ending the demo");
                return Ok(());
            }
            return Err(format!("{what} — ending the demo"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The few WebDriver calls the demo needs, over plain HTTP on loopback.
struct WebDriver {
    port: u16,
    session: String,
}

impl WebDriver {
    fn new(port: u16, args: &[String]) -> Result<Self> {
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "timeouts": { "script": 30000, "pageLoad": 30000 }
        } } });
        let v = http(port, "POST", "/session", Some(&caps))?;
        let session = v["value"]["sessionId"].as_str().ok_or_else(|| format!("chromedriver gave no session: {v}"))?.to_owned();
        Ok(WebDriver { port, session })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let v = http(self.port, method, &format!("/session/{}{path}", self.session), body)?;
        if let Some(err) = v["value"]["error"].as_str() {
            return Err(format!("WebDriver {path}: {err}: {}", v["value"]["message"].as_str().unwrap_or("")));
        }
        Ok(v["value"].clone())
    }

    fn goto(&self, url: &str) -> Result {
        self.cmd("POST", "/url", Some(&json!({ "url": url }))).map(|_| ())
    }

    fn execute_async_args(&self, script: &str, args: Value) -> Result<Value> {
        self.cmd("POST", "/execute/async", Some(&json!({ "script": script, "args": args })))
    }

    fn element(&self, css: &str) -> Result<String> {
        let v = self.cmd("POST", "/element", Some(&json!({ "using": "css selector", "value": css })))?;
        // The W3C element key; its value is the element id.
        v.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("no element {css}"))
    }

    fn click(&self, css: &str) -> Result {
        let id = self.element(css)?;
        self.cmd("POST", &format!("/element/{id}/click"), Some(&json!({}))).map(|_| ())
    }

    /// The element's text once it is non-empty.
    fn wait_text(&self, css: &str, timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self
                .element(css)
                .and_then(|id| self.cmd("GET", &format!("/element/{id}/text"), None))
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            if !text.trim().is_empty() {
                return Ok(text);
            }
            if Instant::now() > deadline {
                return Err(format!("{css} stayed empty for {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, to: &Path) -> Result {
        let v = self.cmd("GET", "/screenshot", None)?;
        let png = base64_decode(v.as_str().ok_or("no screenshot data")?)?;
        std::fs::write(to, png).map_err(|e| format!("{}: {e}", to.display()))
    }

    fn quit(&self) {
        let _ = http(self.port, "DELETE", &format!("/session/{}", self.session), None);
    }
}

/// One HTTP/1.1 request. chromedriver keeps connections open, so the answer
/// is read by its Content-Length, never to EOF; reads have a deadline.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let io = |e: std::io::Error| format!("chromedriver {method} {path}: {e}");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_secs(90))).map_err(io)?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .map_err(io)?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).map_err(io)?;
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).map_err(io)? == 0 {
            return Err(format!("chromedriver {method} {path}: connection closed in the headers"));
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| format!("bad Content-Length {value:?}"))?;
        }
    }
    let mut buf = vec![0u8; length];
    r.read_exact(&mut buf).map_err(io)?;
    serde_json::from_slice(&buf).map_err(|e| format!("chromedriver {method} {path}: not JSON ({e})"))
}

/// Standard base64 (WebDriver screenshots), padding and line breaks allowed.
fn base64_decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return Err(format!("not base64: byte {c:#x}")),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_numbers() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8h").unwrap(), b"hello!");
        assert_eq!(base64_decode("iVBORw0KGgo=").unwrap(), b"\x89PNG\r\n\x1a\n");
        assert!(base64_decode("a*b").is_err());
    }

    #[test]
    fn options() {
        let o = parse(&["--backend".into(), "oqs-folder".into(), "--smoke".into()]).unwrap();
        assert_eq!((o.backend, o.smoke, o.person.as_str()), (Backend::OqsFolder, true, "P0001"));
        assert!(parse(&["--backend".into(), "ftp".into()]).is_err());
        assert!(parse(&["--person".into()]).is_err());
        let o = parse(&["--disaster".into(), "01:20261201-20261231".into()]).unwrap();
        assert_eq!(o.disaster.as_deref(), Some("01:20261201-20261231"));
        assert!(parse(&["--disaster".into()]).is_err());
    }
}
