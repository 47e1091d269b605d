//! `cargo xtask demo`: builds, serves the page on 127.0.0.1 and opens it —
//! in Chromium when there is a display, otherwise headless: it prints the
//! address and saves a screenshot. `--smoke` exits after the screenshot.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

use crate::util::{self, Result};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Flags every Chromium run here needs (toolchain.md): no sandbox as root,
/// no background networking on a closed network.
fn chromium_base_flags() -> Vec<String> {
    let mut flags: Vec<String> = ["--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-quic", "--lang=ja"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if util::is_root() {
        flags.push("--no-sandbox".into());
    }
    flags
}

/// Kills the child when the demo ends, whichever way it ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pick_port() -> u16 {
    // A fixed, memorable port when free; any free port otherwise.
    for port in [8080u16, 8081, 8088] {
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(8089)
}

pub fn run(args: &[String]) -> Result {
    let smoke = args.iter().any(|a| a == "--smoke");
    crate::build::run()?;
    let root = util::root();
    let port = pick_port();
    let url = format!("http://127.0.0.1:{port}/");
    let web = Command::new(root.join("target/debug/onshi-sim"))
        .args(["web", "--dir"])
        .arg(root.join("dist/web"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start the web host: {e}"))?;
    let mut web = KillOnDrop(web);
    std::thread::sleep(std::time::Duration::from_millis(300));
    if let Ok(Some(status)) = web.0.try_wait() {
        return Err(format!("the web host stopped at once ({status})"));
    }

    let has_display = std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let profile = root.join("target/demo-profile");
    eprintln!("\n受付画面 / reception page: {url}");
    if has_display && !smoke {
        let mut c = Command::new(CHROMIUM);
        c.args(chromium_base_flags()).arg(format!("--user-data-dir={}", profile.display())).arg(&url);
        let _browser = KillOnDrop(c.spawn().map_err(|e| format!("cannot start Chromium: {e}"))?);
        eprintln!("Chromium is open. Ctrl-C stops the demo.");
        let _ = web.0.wait();
        return Ok(());
    }
    let shot = root.join("dist/demo-screenshot.png");
    let mut c = Command::new(CHROMIUM);
    c.arg("--headless=new")
        .args(chromium_base_flags())
        .args(["--disable-gpu", "--hide-scrollbars", "--window-size=1280,800", "--virtual-time-budget=5000"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    util::run(&mut c)?;
    eprintln!("No display: screenshot saved to {}", shot.display());
    if smoke {
        return Ok(());
    }
    eprintln!("Open {url} in a browser on this machine (or forward the port). Ctrl-C stops the demo.");
    let _ = web.0.wait();
    Ok(())
}
