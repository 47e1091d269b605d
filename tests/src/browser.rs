//! Real headless Chromium driven over WebDriver (chromedriver + fantoccini).
//!
//! The flags are the ones this machine kind needs (toolchain.md): no
//! sandbox as root, and no background networking, which the closed network
//! would refuse. Each browser gets a fresh profile directory.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use fantoccini::{Client, ClientBuilder, Locator};

use crate::process::{free_port, wait_for_port, Guarded};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The Chromium command-line flags used by every headless run here.
pub fn chromium_flags() -> Vec<String> {
    [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=ja",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub struct Browser {
    pub client: Client,
    /// chromedriver's port, for the Chromium-only `goog/cdp` endpoint.
    pub driver_port: u16,
    // crate-visible so `gecko` can build a Firefox one.
    pub(crate) _driver: Guarded,
    pub(crate) _profile: TempDir,
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), free_port()?));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    pub async fn start() -> Result<Self> {
        Self::start_with(Vec::new(), None, Vec::new()).await
    }

    /// As [`Browser::start`] with extra Chromium flags, a given profile
    /// directory (kept by the caller) and environment variables that
    /// chromedriver, Chromium and the native hosts it starts inherit.
    pub async fn start_with(extra: Vec<String>, profile_dir: Option<PathBuf>, env: Vec<(String, String)>) -> Result<Self> {
        let port = free_port()?;
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}")).stderr(std::process::Stdio::null());
        cmd.envs(env);
        let driver = Guarded::spawn("chromedriver", cmd)?;
        wait_for_port(port, Duration::from_secs(15))?;
        let profile = TempDir::new("onshi-chromium")?;
        let mut args = chromium_flags();
        let dir = profile_dir.unwrap_or_else(|| profile.0.clone());
        args.push(format!("--user-data-dir={}", dir.display()));
        args.extend(extra);
        // The browser's console log is kept so tests can search it (`browser_log`).
        let caps = serde_json::json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "goog:loggingPrefs": { "browser": "ALL" }
        });
        let caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!("literal object"),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("connecting to chromedriver")?;
        Ok(Browser { client, driver_port: port, _driver: driver, _profile: profile })
    }

    /// Waits for an element to appear (the wasm app renders after load).
    pub async fn wait_for(&self, css: &str) -> Result<fantoccini::elements::Element> {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .with_context(|| format!("waiting for {css}"))
    }

    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

impl Browser {
    /// Saves a PNG of the page to `target/screenshots/NAME.png` so people can
    /// look at what the tests saw; the best ones are copied into docs/.
    pub async fn screenshot(&self, name: &str) -> Result<std::path::PathBuf> {
        let dir = crate::paths::workspace_root().join("target/screenshots");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }
}

impl Browser {
    /// The browser's DevTools targets through chromedriver's CDP pass-through
    /// (`Target.getTargets`). Extension popups are among them even though
    /// chromedriver does not list them as windows.
    pub async fn cdp_targets(&self) -> Result<Vec<serde_json::Value>> {
        let value = self.cdp("Target.getTargets", serde_json::json!({})).await?;
        Ok(value["targetInfos"].as_array().cloned().unwrap_or_default())
    }

    /// One DevTools command through chromedriver's CDP pass-through; its result.
    pub async fn cdp(&self, cmd: &str, params: serde_json::Value) -> Result<serde_json::Value> {
        let session = self.client.session_id().await?.context("no WebDriver session")?;
        let port = self.driver_port;
        let body = serde_json::json!({ "cmd": cmd, "params": params }).to_string();
        let path = format!("/session/{session}/goog/cdp/execute");
        // Blocking socket I/O stays off the async workers.
        let mut value = tokio::task::spawn_blocking(move || post_json(port, &path, &body)).await??;
        Ok(value["value"].take())
    }
}

impl Browser {
    /// The page console's entries since the last call (chromedriver's
    /// `se/log`, drained on read): each entry's level and message.
    pub async fn browser_log(&self) -> Result<Vec<serde_json::Value>> {
        let session = self.client.session_id().await?.context("no WebDriver session")?;
        let port = self.driver_port;
        let body = serde_json::json!({ "type": "browser" }).to_string();
        let path = format!("/session/{session}/se/log");
        let value = tokio::task::spawn_blocking(move || post_json(port, &path, &body)).await??;
        Ok(value["value"].as_array().cloned().unwrap_or_default())
    }
}

/// One HTTP/1.1 POST to chromedriver on loopback. chromedriver keeps the
/// connection open whatever `Connection: close` says, so the body is read by
/// its Content-Length (reading to EOF would wait forever), and every read has
/// a deadline.
pub(crate) fn post_json(port: u16, path: &str, body: &str) -> Result<serde_json::Value> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.set_write_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).context("chromedriver sent no status line")?;
    let mut length = None;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            bail!("chromedriver closed the connection inside the headers");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = Some(value.trim().parse::<usize>().with_context(|| format!("bad Content-Length {value:?}"))?);
        }
    }
    let length = length.with_context(|| format!("no Content-Length in chromedriver's answer ({})", status.trim()))?;
    let mut buf = vec![0u8; length];
    r.read_exact(&mut buf).context("reading chromedriver's answer")?;
    let value: serde_json::Value = serde_json::from_slice(&buf)?;
    if !status.contains(" 200 ") {
        bail!("the WebDriver server answered {}: {value}", status.trim());
    }
    Ok(value)
}
