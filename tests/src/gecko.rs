//! Real headless Firefox ESR driven over WebDriver (geckodriver + fantoccini),
//! with the unpacked extension installed as a temporary add-on.
//!
//! What Firefox needs that Chromium does not (toolchain.md, docs/firefox.md):
//! the native-messaging host manifest is found through `$HOME`
//! (`~/.mozilla/native-messaging-hosts/`), not through the profile, and
//! `moz:firefoxOptions.env` does not reach the browser — so geckodriver
//! itself is started with the test's `HOME` (and `ONSHI_HELPER_SOCKET`),
//! which Firefox and the native host it starts inherit. Unsigned add-ons load
//! only as temporary ones, through geckodriver's
//! `POST /session/{id}/moz/addon/install {"path", "temporary": true}`.
//!
//! Requires the Debian package firefox-esr and geckodriver in
//! `target/tools/bin` (both put there by `cargo xtask setup`); a missing one
//! fails the test with what to run, it is never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use fantoccini::ClientBuilder;

use crate::browser::{post_json, Browser, TempDir};
use crate::paths::workspace_root;
use crate::process::{free_port, wait_for_port, Guarded};

/// Debian's firefox-esr binary (the `/usr/bin/firefox-esr` wrapper is a shell script).
pub const FIREFOX: &str = "/usr/lib/firefox-esr/firefox-esr";

/// geckodriver as `cargo xtask setup` installs it.
pub fn geckodriver() -> Result<PathBuf> {
    let path = workspace_root().join("target/tools/bin/geckodriver");
    if !path.exists() {
        bail!("{} is missing; run `cargo xtask setup` (it runs `cargo install geckodriver`)", path.display());
    }
    if !Path::new(FIREFOX).exists() {
        bail!("{FIREFOX} is missing; run `cargo xtask setup` (it installs the Debian package firefox-esr)");
    }
    Ok(path)
}

impl Browser {
    /// Starts geckodriver with `env` (give it `HOME`: Firefox looks for the
    /// native-messaging manifest there) and a headless Firefox session.
    /// `home` is a folder the browser owns and removes when dropped.
    pub async fn start_firefox(home: TempDir, env: Vec<(String, String)>) -> Result<Self> {
        let driver = geckodriver()?;
        let port = free_port()?;
        let mut cmd = Command::new(driver);
        // Marionette's port is left to geckodriver (system-allocated), so two sessions never collide.
        cmd.args(["--port", &port.to_string()]).stderr(std::process::Stdio::null());
        cmd.env("HOME", &home.0).envs(env);
        let driver = Guarded::spawn("geckodriver", cmd)?;
        wait_for_port(port, Duration::from_secs(15))?;
        let caps = serde_json::json!({
            "browserName": "firefox",
            "moz:firefoxOptions": {
                "binary": FIREFOX,
                "args": ["-headless"],
                "prefs": { "intl.accept_languages": "ja", "browser.shell.checkDefaultBrowser": false },
            }
        });
        let serde_json::Value::Object(caps) = caps else { bail!("capabilities must be an object") };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("connecting to geckodriver")?;
        client.set_window_size(1280, 900).await?;
        Ok(Browser { client, driver_port: port, _driver: driver, _profile: home })
    }

    /// Installs the unpacked add-on in `dir` as a temporary add-on; returns its id.
    pub async fn install_temporary_addon(&self, dir: &Path) -> Result<String> {
        let session = self.client.session_id().await?.context("no WebDriver session")?;
        let port = self.driver_port;
        let body = serde_json::json!({ "path": dir, "temporary": true }).to_string();
        let path = format!("/session/{session}/moz/addon/install");
        let value = tokio::task::spawn_blocking(move || post_json(port, &path, &body)).await??;
        value["value"].as_str().map(str::to_owned).with_context(|| format!("geckodriver answered {value}"))
    }
}
