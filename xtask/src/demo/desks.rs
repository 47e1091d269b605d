//! `cargo xtask demo --desks N` (issue 17): a hospital's N reception desks
//! on one machine — N helper services sharing one PostgreSQL, each desk its
//! own browser profile (its own pairing, its own native-messaging manifest,
//! its own `ONSHI_HELPER_SOCKET`), one reception page. The server is
//! Debian's PostgreSQL run from a folder under `target/demo/desks/pg` (its
//! own data directory, socket and port; no system service), started here
//! and stopped with the demo.
//!
//! With `--smoke`, each desk's page is paired through its extension's
//! window, a card check (目視確認) is made at desk 1, and the other desks'
//! pages must list it — with desk 1's name — without being reloaded.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde_json::json;

use super::{chromium_flags, own_group, prove_path, step, wait, Started, WebDriver, ASK_JS, CHROMEDRIVER, CHROMIUM};
use crate::demo_parts::{self as parts, free_port, wait_for_port};
use crate::pg_cluster::{self, Cluster};
use crate::util::Result;

/// The shared database, stopped when the demo ends, however it ends.
struct Server(Cluster);

impl Drop for Server {
    fn drop(&mut self) {
        match self.0.stop() {
            Ok(()) => eprintln!("  stopped PostgreSQL ({})", self.0.dir.display()),
            Err(e) => eprintln!("  stopping PostgreSQL: {e}"),
        }
    }
}

/// One desk's files.
struct Desk {
    name: String,
    dir: PathBuf,
    socket: PathBuf,
    profile: PathBuf,
}

/// Steps 8 on, for N desks; `backend_toml` is the simulated backend the
/// desks share (steps 1–7 are the single desk's).
pub fn run(n: usize, smoke: bool, stop: &AtomicBool, started: &mut Started, state: &Path, helper: &Path, backend_toml: &str, url_of_web: impl FnOnce(&mut Started) -> Result<String>) -> Result {
    step(8, &format!("shared PostgreSQL for {n} desks (Debian's server, folder {})", state.join("desks/pg").display()));
    let server = Server(pg_cluster::start(&state.join("desks/pg"))?);
    eprintln!("listening on {} (log {})", server.0.url(), server.0.dir.join("server.log").display());

    let mut desks = Vec::new();
    step(9, &format!("{n} helper services (one per desk), each with its own config, file, socket and browser profile"));
    for i in 1..=n {
        let name = format!("受付{i}");
        let dir = state.join(format!("desks/desk{i}"));
        std::fs::create_dir_all(dir.join("run")).map_err(|e| e.to_string())?;
        let config = dir.join("helper.toml");
        let store = dir.join("helper.sqlite");
        let text = format!(
            "{}\n[store]\nkind = \"postgres\"\nurl = \"{}\"\n",
            parts::helper_config(&name, &store, backend_toml),
            server.0.url()
        );
        std::fs::write(&config, text).map_err(|e| format!("{}: {e}", config.display()))?;
        let socket = dir.join("run/helper.sock");
        let log_path = dir.join("helper.log");
        let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
        let mut c = parts::helper_service_command(helper, &config, &store, &socket);
        c.stdout(Stdio::null()).stderr(log);
        let mut child = own_group(&mut c).spawn().map_err(|e| format!("cannot start {name}'s helper service: {e}"))?;
        let ready = parts::wait_for_socket(&socket, &mut child, &log_path, Duration::from_secs(30));
        started.push(&format!("onshi-helper service ({name})"), child);
        ready?;
        let profile = dir.join("profile");
        super::run_quiet(&mut parts::install_manifest_command(helper, &profile))?;
        eprintln!("{name}: {} (log {})", socket.display(), log_path.display());
        desks.push(Desk { name, dir, socket, profile });
    }

    step(10, "reception page (onshi-sim web, dist/web)");
    let url = url_of_web(started)?;
    eprintln!("serving {url}");

    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    if has_display && !smoke {
        step(11, &format!("{n} Chromium windows, one per desk"));
        for d in &desks {
            let mut c = Command::new(CHROMIUM);
            c.args(chromium_flags(&d.profile)).arg(&url).env("ONSHI_HELPER_SOCKET", &d.socket).stdout(Stdio::null()).stderr(Stdio::null());
            let child = own_group(&mut c).spawn().map_err(|e| format!("cannot start Chromium: {e}"))?;
            started.push(&format!("chromium ({})", d.name), child);
        }
        explain(&desks, &url, &server.0);
        return wait(stop, started, None);
    }

    step(11, &format!("{n} headless Chromium (one per desk) with the extension"));
    let mut drivers = Vec::new();
    for d in &desks {
        let mut flags = chromium_flags(&d.profile);
        flags.extend(["--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"].map(String::from));
        let port = free_port()?;
        let mut c = Command::new(CHROMEDRIVER);
        c.arg(format!("--port={port}")).env("ONSHI_HELPER_SOCKET", &d.socket).stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = own_group(&mut c).spawn().map_err(|e| format!("cannot start chromedriver: {e}"))?;
        let ready = wait_for_port(port, &mut child, "chromedriver", Duration::from_secs(15));
        started.push(&format!("chromedriver ({})", d.name), child);
        ready?;
        eprintln!("{}:", d.name);
        let wd = WebDriver::new(port, &flags)?;
        prove_path(&wd, &url, &d.dir)?;
        drivers.push(wd);
    }
    let result = if smoke { live_across_desks(&drivers, &desks, &url, state) } else { Ok(()) };
    if result.is_err() || smoke {
        for wd in &drivers {
            wd.quit();
        }
        result?;
        eprintln!("\ndemo smoke ({n} desks): every desk paired; a check at {} appeared at the others", desks[0].name);
        println!("demo-smoke: {} passed, 0 failed", n * super::CHECKS as usize + 2 * (n - 1));
        return Ok(());
    }
    explain(&desks, &url, &server.0);
    let r = wait(stop, started, None);
    for wd in &drivers {
        wd.quit();
    }
    r
}

/// A card check at desk 1 (目視確認: no PIN to type), then every other
/// desk's page, left on its day's list, must show it with desk 1's name.
fn live_across_desks(drivers: &[WebDriver], desks: &[Desk], url: &str, state: &Path) -> Result {
    for wd in &drivers[1..] {
        // A fresh load: the page reads its route from the hash when it starts.
        wd.goto("about:blank")?;
        wd.goto(&format!("{url}#desk"))?;
        wd.wait_text("#desk-title", Duration::from_secs(10))?;
    }
    let body = json!({
        "type": "card_confirm", "mode": "visual", "treatment": "outpatient",
        "consents": { "medication": false, "diagnosis_procedure": false, "health_check": false, "limit_certificate": false, "specified_disease": false },
    });
    let checked = drivers[0].execute_async_args(ASK_JS, json!(["demo-desk-check", body]))?;
    let entry = checked["reply"]["body"]["entry_id"]
        .as_str()
        .ok_or_else(|| format!("the card check at {} did not answer with a stored entry: {checked}", desks[0].name))?
        .to_owned();
    eprintln!("✓ {}: card check answered ({entry}) in {} ms", desks[0].name, checked["ms"]);
    for (wd, d) in drivers[1..].iter().zip(&desks[1..]) {
        let css = format!("tr[data-entry='{entry}'] .desk-name");
        let shown = wd.wait_text(&css, Duration::from_secs(5)).map_err(|e| format!("{}'s page does not list {}'s check: {e}", d.name, desks[0].name))?;
        if shown != desks[0].name {
            return Err(format!("{}'s page lists the check under {shown:?}, not {:?}", d.name, desks[0].name));
        }
        let shot = state.join(format!("desks/{}-today.png", d.dir.file_name().and_then(|f| f.to_str()).unwrap_or("desk")));
        wd.screenshot(&shot)?;
        eprintln!("✓ {}: its page lists the check with desk {shown} without a reload (screenshot {})", d.name, shot.display());
    }
    Ok(())
}

fn explain(desks: &[Desk], url: &str, server: &Cluster) {
    eprintln!("\n━━ {} desks are running ━━", desks.len());
    for d in desks {
        eprintln!("  {}: ONSHI_HELPER_SOCKET={} {CHROMIUM} --user-data-dir={} … {url}", d.name, d.socket.display(), d.profile.display());
    }
    eprintln!("  shared database: {} (psql \"{}\")", server.dir.display(), server.url());
    eprintln!("Pair each desk's page (approve in its extension window), check a patient at one desk and watch");
    eprintln!("本日の受付 at the others: the check appears within a second, with the desk that made it.");
    eprintln!("  - cargo xtask card insert --person P0002   put another person's card on the (shared) reader");
    eprintln!("Ctrl-C stops everything the demo started, the database included.");
}
