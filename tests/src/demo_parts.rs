//! How each of the demo's parts is started — the one copy that both
//! `cargo xtask demo` and the end-to-end test stack ([`crate::stack`]) use.
//! xtask includes this file by path, so it depends on std only and returns
//! `Result<_, String>`; it builds commands and files, and leaves the process
//! bookkeeping (who stops what) to its callers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Fixed by the development key in extension/manifest.json (docs/extension.md).
pub const EXTENSION_ID: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";
/// The test PKI's clinic (simulator `pki::DEFAULT_INSTITUTION`).
pub const INSTITUTION: &str = "0110113719";

/// A TOML basic string for a path (backslashes and quotes escaped).
pub fn toml_str(p: &Path) -> String {
    format!("\"{}\"", p.display().to_string().replace('\\', "\\\\").replace('"', "\\\""))
}

/// The `[backend]` table for the simulated gateway on `port`, with the
/// client certificate and CA that `onshi-sim pki init` wrote into `pki`.
pub fn gateway_backend_toml(port: u16, pki: &Path) -> String {
    format!(
        "[backend]\nkind = \"gateway\"\nurl = \"https://127.0.0.1:{port}/\"\nca = {}\nclient_cert = {}\nclient_key = {}\n",
        toml_str(&pki.join("gateway/ca.pem")),
        toml_str(&pki.join("clinic/client.pem")),
        toml_str(&pki.join("clinic/client-key.pem")),
    )
}

/// The `[backend]` table for an OQS terminal folder.
pub fn folder_backend_toml(dir: &Path) -> String {
    format!("[backend]\nkind = \"oqs-folder\"\npath = {}\n", toml_str(dir))
}

/// The helper's whole configuration file text.
pub fn helper_config(desk: &str, store: &Path, backend_toml: &str) -> String {
    format!(
        "# Written by the demo / test stack; rewritten on every run.\ninstitution_code = \"{INSTITUTION}\"\ndesk = \"{desk}\"\nstore_path = {}\nutc_offset = \"+09:00\"\n\n{backend_toml}",
        toml_str(store)
    )
}

/// `onshi-sim gateway` over the seeded registry `db` and the PKI `pki`, on `port`.
pub fn gateway_command(sim: &Path, db: &Path, pki: &Path, port: u16) -> Command {
    let mut c = Command::new(sim);
    c.args(["gateway", "--db"]).arg(db).arg("--pki").arg(pki).args(["--listen", &format!("127.0.0.1:{port}")]);
    c
}

/// `onshi-helper service` with its config, store and socket. The socket is
/// also put in `ONSHI_HELPER_SOCKET`, which the native host (started by the
/// browser, inheriting the environment) reads to find this service.
pub fn helper_service_command(helper: &Path, config: &Path, store: &Path, socket: &Path) -> Command {
    let mut c = Command::new(helper);
    c.arg("--config").arg(config).arg("--store").arg(store).args(["service", "--socket"]).arg(socket);
    c.env("ONSHI_HELPER_SOCKET", socket);
    c
}

/// `onshi-helper install` of the native-messaging manifest into a Chromium
/// profile directory (`<profile>/NativeMessagingHosts/`, toolchain.md).
pub fn install_manifest_command(helper: &Path, profile: &Path) -> Command {
    let mut c = Command::new(helper);
    c.args(["install", "--browsers", "chromium", "--profile-dir"]).arg(profile);
    c
}

/// What a virtual My Number card is started with (`onshi-sim card`).
#[derive(Debug, Clone)]
pub struct CardSpec {
    pub person: String,
    /// `None`: the simulator's default PIN (1234).
    pub pin: Option<String>,
    /// `None`: the simulator's default (3 tries).
    pub tries: Option<u8>,
    /// Fault: the card leaves the reader after this many APDUs.
    pub remove_after: Option<u64>,
    /// Fault: the card leaves in the middle of APDU N (received, never answered).
    pub pull_during: Option<u64>,
    /// `onshi-sim card --kind`: `None` is the My Number card; `transit`, `blank`.
    pub kind: Option<&'static str>,
}

impl CardSpec {
    pub fn person(person: &str) -> Self {
        CardSpec { person: person.to_owned(), pin: None, tries: None, remove_after: None, pull_during: None, kind: None }
    }
}

/// `onshi-sim card --vpcd …` for `spec`, logging APDUs (PIN masked) to `apdu_log`.
pub fn card_command(sim: &Path, pki: &Path, vpcd: &str, spec: &CardSpec, apdu_log: &Path) -> Command {
    let mut c = Command::new(sim);
    c.args(["card", "--person", &spec.person, "--pki"]).arg(pki).args(["--vpcd", vpcd, "--apdu-log"]).arg(apdu_log);
    if let Some(pin) = &spec.pin {
        c.args(["--pin", pin]);
    }
    if let Some(tries) = spec.tries {
        c.args(["--tries", &tries.to_string()]);
    }
    if let Some(n) = spec.remove_after {
        c.args(["--remove-after", &n.to_string()]);
    }
    if let Some(n) = spec.pull_during {
        c.args(["--pull-during", &n.to_string()]);
    }
    if let Some(kind) = spec.kind {
        c.args(["--kind", kind]);
    }
    c
}

/// The flags that load the unpacked extension (and only it) into Chromium.
pub fn extension_flags(ext_dir: &Path) -> Vec<String> {
    vec![format!("--load-extension={}", ext_dir.display()), format!("--disable-extensions-except={}", ext_dir.display())]
}

/// A free loopback port (bound then released).
pub fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).map_err(|e| e.to_string())
}

/// Waits until `port` accepts connections, failing early if `child` exits.
pub fn wait_for_port(port: u16, child: &mut Child, name: &str, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{name} stopped at once ({status})"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{name} did not listen on 127.0.0.1:{port} within {timeout:?}"))
}

/// Waits until the helper service accepts connections on `socket`.
pub fn wait_for_socket(socket: &Path, child: &mut Child, log: &Path, timeout: Duration) -> Result<(), String> {
    let start = Instant::now();
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("the helper service stopped at once ({status}); see {}", log.display()));
        }
        if start.elapsed() > timeout {
            return Err(format!("the helper service did not open {} within {timeout:?}", socket.display()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The test PKI folder's certificate of `person`, which `pki init` makes.
pub fn person_dir(pki: &Path, person: &str) -> PathBuf {
    pki.join("jpki/people").join(person)
}
