//! The built reception page served by the real `onshi-sim web` process.

use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use crate::paths;
use crate::process::Guarded;

pub struct WebHost {
    pub url: String,
    _process: Guarded,
}

impl WebHost {
    pub fn start() -> Result<Self> {
        let mut cmd = Command::new(paths::binary("onshi-sim")?);
        cmd.arg("web").arg("--dir").arg(paths::dist_web()?).arg("--listen").arg("127.0.0.1:0");
        let (process, url) = Guarded::spawn_and_read_line("onshi-sim web", cmd, Duration::from_secs(10))?;
        Ok(WebHost { url, _process: process })
    }

    /// Serves any folder with `onshi-sim web --dir DIR`.
    pub fn start_dir(dir: &std::path::Path) -> Result<Self> {
        let mut cmd = Command::new(paths::binary("onshi-sim")?);
        cmd.arg("web").arg("--dir").arg(dir).arg("--listen").arg("127.0.0.1:0");
        let (process, url) = Guarded::spawn_and_read_line("onshi-sim web", cmd, Duration::from_secs(10))?;
        Ok(WebHost { url, _process: process })
    }
}
