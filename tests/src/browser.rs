//! Real headless Chromium driven over WebDriver (chromedriver + fantoccini).
//!
//! The flags are the ones this machine kind needs (toolchain.md): no
//! sandbox as root, and no background networking, which the closed network
//! would refuse. Each browser gets a fresh profile directory.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
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
    _driver: Guarded,
    _profile: TempDir,
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
        let caps = serde_json::json!({
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args }
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
        Ok(Browser { client, _driver: driver, _profile: profile })
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
