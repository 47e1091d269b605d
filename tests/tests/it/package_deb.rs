//! Issue 13: the helper's Debian package (`cargo xtask package` →
//! dist/packages/onshi-helper_<v>_<arch>.deb) installed for real with dpkg:
//! every manifest and the autostart entry in place and naming
//! /usr/bin/onshi-helper, `doctor` finding them, one card check in headless
//! Chromium through the packaged binary and the machine-wide manifest, and
//! then `dpkg --purge` (and in a second test `dpkg --remove`) leaving nothing
//! behind that a browser or a login would still find.
//!
//! These tests change the machine (/usr/bin, /etc, /usr/lib/mozilla), so they
//! need root and dpkg; without them they fail and say so, rather than pass
//! without having checked anything. A guard purges the package whatever
//! happens, and the package is purged before installing in case an earlier
//! run was killed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context as _, Result};
use onshi_tests::paths;
use onshi_tests::paths::run_ok as run;
use onshi_tests::stack::{HelperFrom, Stack};
use onshi_tests::wait::within;

const PACKAGE: &str = "onshi-helper";
const EXE: &str = "/usr/bin/onshi-helper";
/// The machine-wide manifests, Chromium family first (helper/src/install.rs).
const CHROMIUM_MANIFESTS: [&str; 3] = [
    "/etc/chromium/native-messaging-hosts/jp.onshi.helper.json",
    "/etc/opt/chrome/native-messaging-hosts/jp.onshi.helper.json",
    "/etc/opt/edge/native-messaging-hosts/jp.onshi.helper.json",
];
const FIREFOX_MANIFEST: &str = "/usr/lib/mozilla/native-messaging-hosts/jp.onshi.helper.json";
const AUTOSTART: &str = "/etc/xdg/autostart/onshi-helper.desktop";
const PERSON: &str = "P0001";
const PIN: &str = "7395";

fn all_manifests() -> impl Iterator<Item = &'static str> {
    CHROMIUM_MANIFESTS.into_iter().chain([FIREFOX_MANIFEST])
}


/// Root and dpkg, or a failure that says what is missing.
fn require_root_and_dpkg() -> Result<()> {
    let uid = run(Command::new("id").arg("-u")).context("`id -u` (to check for root)")?;
    ensure!(
        uid.trim() == "0",
        "the package install test must run as root (it runs dpkg -i / --purge); it ran as uid {}. Run `cargo xtask test` as root.",
        uid.trim()
    );
    run(Command::new("dpkg").arg("--version")).context("the package install test needs dpkg (a Debian system)")?;
    Ok(())
}

fn deb() -> Result<PathBuf> {
    paths::package("onshi-helper_", ".deb")
}

/// The package, installed for the guard's lifetime: dropping it purges.
struct Installed {
    purged: bool,
}

impl Installed {
    fn new(deb: &Path) -> Result<Self> {
        purge()?;
        run(Command::new("dpkg").arg("-i").arg(deb))?;
        Ok(Installed { purged: false })
    }

    /// Purges now, reporting a failure (dropping only prints it).
    fn purge(mut self) -> Result<()> {
        self.purged = true;
        purge()
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if !self.purged
            && let Err(e) = purge()
        {
            eprintln!("[package_deb] cleaning up: {e:#}");
        }
    }
}

fn purge() -> Result<()> {
    run(Command::new("dpkg").args(["--purge", PACKAGE])).map(|_| ())
}

/// Every manifest names the packaged binary and whom it lets in; the
/// autostart entry starts its service.
fn check_installed() -> Result<()> {
    ensure!(Path::new(EXE).is_file(), "{EXE} is not installed");
    for path in all_manifests() {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
        let m: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))?;
        ensure!(m["path"] == EXE, "{path} names {} instead of {EXE}", m["path"]);
        ensure!(m["name"] == "jp.onshi.helper" && m["type"] == "stdio", "{path}: {m}");
    }
    for path in CHROMIUM_MANIFESTS {
        let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let origin = format!("chrome-extension://{}/", onshi_tests::demo_parts::EXTENSION_ID);
        ensure!(m["allowed_origins"] == serde_json::json!([origin]), "{path} lets in {}", m["allowed_origins"]);
    }
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(FIREFOX_MANIFEST)?)?;
    ensure!(m["allowed_extensions"] == serde_json::json!(["onshi-bridge@onshi.example"]), "{FIREFOX_MANIFEST}: {m}");
    let desktop = std::fs::read_to_string(AUTOSTART).with_context(|| format!("reading {AUTOSTART}"))?;
    ensure!(desktop.contains(&format!("Exec=\"{EXE}\" service")), "{AUTOSTART}:\n{desktop}");
    Ok(())
}

/// Nothing a browser or a login would still find (a dangling link counts).
fn check_gone(after: &str) -> Result<()> {
    for path in all_manifests().chain([AUTOSTART, EXE]) {
        ensure!(std::fs::symlink_metadata(path).is_err(), "{path} is still there after {after}");
    }
    Ok(())
}

/// `doctor` of the installed binary, in an empty home (so only the
/// machine-wide files can be found), lists every manifest and the
/// autostart entry as fine.
fn check_doctor() -> Result<()> {
    let home = tempdir("onshi-doctor-home")?;
    let out = Command::new(EXE)
        .arg("doctor")
        .env("HOME", &home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .context("running onshi-helper doctor")?;
    let _ = std::fs::remove_dir_all(&home);
    // Its exit status is a failure here (no config, no service in that home); the lines are what count.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for path in all_manifests() {
        ensure!(text.lines().any(|l| l.starts_with("OK [manifest]") && l.contains(path)), "doctor did not find {path}:\n{text}");
    }
    ensure!(text.lines().any(|l| l.starts_with("OK [autostart]") && l.contains(AUTOSTART)), "doctor did not find {AUTOSTART}:\n{text}");
    Ok(())
}

fn tempdir(name: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Processes started from the packaged binary as a browser's native host
/// (Chromium passes the calling extension's origin as the first argument).
fn packaged_native_hosts() -> usize {
    let Ok(procs) = std::fs::read_dir("/proc") else { return 0 };
    procs
        .flatten()
        .filter(|p| std::fs::read_link(p.path().join("exe")).is_ok_and(|exe| exe == Path::new(EXE)))
        .filter(|p| std::fs::read(p.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains("chrome-extension://")))
        .count()
}

/// Pairing, then a card check with the PIN, through the packaged helper:
/// its service, and the native host Chromium starts from /etc/chromium's manifest.
async fn card_check(s: &mut Stack) -> Result<()> {
    s.pair(true, None).await?;
    s.text_containing("main#main", "ペアリングしました", 15).await?;
    s.insert_card(PERSON, PIN, 3).await?;
    s.start_card_check(false).await?;
    s.open_extension_window("pin.html#").await?;
    s.type_pin(PIN).await?;
    let (class, text) = s.pin_status().await?;
    ensure!(class.contains("ok"), "PIN window: {class}: {text}");
    s.back_to_page().await?;
    let (outcome, text) = s.result(30).await?;
    ensure!(outcome == "Valid", "outcome {outcome}: {text}");
    ensure!(packaged_native_hosts() >= 1, "no native host from {EXE} is running: the browser did not use the packaged manifest");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn package_deb_install_doctor_card_check_purge() -> Result<()> {
    require_root_and_dpkg()?;
    let deb = deb()?;
    let installed = Installed::new(&deb)?;
    check_installed()?;
    check_doctor()?;

    let mut s = within("start the whole stack with the packaged helper", 120, Stack::start_with(HelperFrom::Installed(EXE.into()))).await?;
    let result = within("a card check through the packaged helper", 90, card_check(&mut s)).await;
    s.finish(result, "package-deb-card-failure").await?;

    installed.purge()?;
    check_gone("dpkg --purge")?;
    ensure!(!Path::new("/usr/share/onshi-helper").exists(), "/usr/share/onshi-helper is still there after dpkg --purge");
    Ok(())
}

#[test]
fn package_deb_remove_leaves_no_manifests() -> Result<()> {
    require_root_and_dpkg()?;
    let deb = deb()?;
    let _installed = Installed::new(&deb)?;
    check_installed()?;
    run(Command::new("dpkg").args(["--remove", PACKAGE]))?;
    check_gone("dpkg --remove")
}
