//! Child processes that are killed when their guard drops, so a failing
//! test never leaves a server or browser behind.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

pub struct Guarded {
    pub child: Child,
    pub name: String,
}

impl Guarded {
    /// Starts `cmd` with stdout piped and waits for its first stdout line
    /// (servers here print their address once they listen).
    pub fn spawn_and_read_line(name: &str, mut cmd: Command, timeout: Duration) -> Result<(Self, String)> {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("{name}: no stdout"))?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let guard = Guarded { child, name: name.to_string() };
        let line = rx.recv_timeout(timeout).map_err(|_| anyhow!("{name} printed nothing within {timeout:?}"))?;
        if line.is_empty() {
            bail!("{name} exited before it was ready");
        }
        Ok((guard, line.trim().to_string()))
    }

    pub fn spawn(name: &str, mut cmd: Command) -> Result<Self> {
        let child = cmd.stdout(Stdio::null()).spawn().with_context(|| format!("starting {name}"))?;
        Ok(Guarded { child, name: name.to_string() })
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound then released; good enough for test servers
/// that cannot be told to use port 0).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("nothing listened on port {port} within {timeout:?}")
}
