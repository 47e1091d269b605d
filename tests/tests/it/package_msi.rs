//! Issue 13: the helper's per-user Windows installer (`cargo xtask package` →
//! dist/packages/onshi-helper-<v>-x64.msi) installed with `msiexec` under
//! Wine, in a fresh Wine prefix (a Windows user of its own):
//!
//! - every browser's `HKCU\…\NativeMessagingHosts\jp.onshi.helper` names a
//!   manifest that exists, whose `path` resolves (relative to the manifest,
//!   as Chrome, Edge and Firefox read it on Windows) to the installed exe,
//!   and the `Run` value names the windowless starter beside it;
//! - the installed exe, started exactly as Chrome starts a native host,
//!   starts the service on its named pipe and answers: `hello`, a refusal
//!   before pairing, pairing through the extension, an insurance-number
//!   check answered by the simulated OQS terminal on this Linux machine
//!   (its folder reached as `Z:\…`), and `status`;
//! - the installer starts the service at once (no sign-out needed), and a
//!   second service for the same user refuses to start;
//! - a repair (reinstalling every file, as an upgrade replaces them)
//!   stops the running service first, starts it again afterwards and keeps
//!   the store: the page is still paired;
//! - `msiexec /x` stops the service, removes the keys and the program
//!   folder and keeps the store (the clinic's records), whose audit chain
//!   holds both stops and verifies.
//!
//! What Wine cannot show: PC/SC (no smart-card service under Wine: the card
//! path stays tested on Linux) and a squatted pipe name (Wine ignores
//! FILE_FLAG_FIRST_PIPE_INSTANCE; docs/helper.md).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, ensure, Context as _, Result};
use onshi_tests::browser::TempDir;
use onshi_tests::demo_parts::{self as parts, EXTENSION_ID};
use onshi_tests::paths;
use onshi_tests::paths::run_ok as run;
use onshi_tests::process::Guarded;
use onshi_tests::wine::{Prefix, PRNG_SHIM_DLL};
use serde_json::{json, Value};

use crate::desk::probe;

const PAGE: &str = "http://127.0.0.1:8080";
const INSTALL_DIR: &str = r"AppData\Local\Programs\Onshi";
const BROWSER_KEYS: [&str; 4] = [
    r"HKCU\Software\Google\Chrome\NativeMessagingHosts\jp.onshi.helper",
    r"HKCU\Software\Chromium\NativeMessagingHosts\jp.onshi.helper",
    r"HKCU\Software\Microsoft\Edge\NativeMessagingHosts\jp.onshi.helper",
    r"HKCU\Software\Mozilla\NativeMessagingHosts\jp.onshi.helper",
];
const RUN_KEY: &str = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run";

fn msi() -> Result<PathBuf> {
    paths::package("onshi-helper-", ".msi")
}


/// A registry value's data as `reg query` prints it (`None`: no such key or value).
fn reg_value(prefix: &Prefix, key: &str, name: Option<&str>) -> Option<String> {
    let mut c = prefix.command("reg");
    c.args(["query", key]);
    match name {
        Some(n) => c.args(["/v", n]),
        None => c.arg("/ve"),
    };
    let out = c.output().ok()?;
    if !out.status.success() {
        return None;
    }
    // "    <name>    REG_SZ    <data>"
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find_map(|l| l.split_once("REG_SZ").map(|(_, data)| data.trim().to_owned()))
}

/// The Wine user's profile folder (`C:\users\<name>`), as Windows and Linux paths.
fn user_profile(prefix: &Prefix) -> Result<(String, PathBuf)> {
    let users = prefix.dir.join("drive_c/users");
    for entry in std::fs::read_dir(&users).with_context(|| format!("{}", users.display()))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != "Public" && entry.path().join("AppData").is_dir() {
            return Ok((format!(r"C:\users\{name}"), entry.path()));
        }
    }
    bail!("no user profile in {}", users.display())
}

/// A Windows `C:\…` path in the prefix as a Linux path.
fn linux_path(prefix: &Prefix, windows: &str) -> Result<PathBuf> {
    ensure!(windows.len() > 3 && windows[..2].eq_ignore_ascii_case("C:"), "not a C: path: {windows}");
    Ok(prefix.c_drive(windows))
}

/// A native host started as Chrome starts it, and a thread reading its frames.
struct Host {
    child: Child,
    stdin: ChildStdin,
    frames: mpsc::Receiver<Value>,
    next_id: u32,
}

impl Host {
    fn start(prefix: &Prefix, exe: &Path) -> Result<Host> {
        let mut child = prefix
            .command(exe)
            .args([&format!("chrome-extension://{EXTENSION_ID}/"), "--parent-window=0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting the installed helper as a native host")?;
        let stdin = child.stdin.take().context("stdin")?;
        let mut stdout = child.stdout.take().context("stdout")?;
        let (tx, frames) = mpsc::channel();
        std::thread::spawn(move || {
            loop {
                let mut len = [0u8; 4];
                if stdout.read_exact(&mut len).is_err() {
                    return;
                }
                let mut buf = vec![0u8; u32::from_le_bytes(len) as usize];
                if stdout.read_exact(&mut buf).is_err() {
                    return;
                }
                let frame = serde_json::from_slice(&buf).unwrap_or_else(|e| json!({ "unreadable": e.to_string() }));
                if tx.send(frame).is_err() {
                    return;
                }
            }
        });
        Ok(Host { child, stdin, frames, next_id: 0 })
    }

    /// Sends `body` from `origin` (`via` page or extension) and returns the
    /// reply with the same id, skipping events.
    fn ask(&mut self, origin: &str, via: &str, body: Value) -> Result<Value> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        let frame = serde_json::to_vec(&json!({ "v": 1, "id": id, "origin": origin, "via": via, "body": body }))?;
        self.stdin.write_all(&(frame.len() as u32).to_le_bytes())?;
        self.stdin.write_all(&frame)?;
        self.stdin.flush()?;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let reply = self.frames.recv_timeout(left).with_context(|| format!("no reply to {body} within 60 s"))?;
            if reply["id"] == id.as_str() {
                return Ok(reply);
            }
        }
    }
}

/// Runs `msiexec` with its verbose log in `work`. Its output goes to a file,
/// not a pipe: the service the installer starts inherits Wine's handles, and
/// a pipe it holds open would never reach end of file.
fn msiexec(prefix: &Prefix, args: &[&str], work: &Path) -> Result<()> {
    let log = work.join("msiexec.log");
    let out = work.join("msiexec.out");
    let status = prefix
        .command("msiexec")
        .args(args)
        .args(["/l*v", &Prefix::windows_path(&log)])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out)?)
        .stderr(std::fs::File::create(work.join("msiexec.err"))?)
        .status()?;
    if !status.success() {
        let text: String = std::fs::read(&log).map(|b| String::from_utf8_lossy(&b).chars().rev().take(3000).collect::<String>().chars().rev().collect()).unwrap_or_default();
        bail!("msiexec {args:?} failed ({status}); end of its log:\n{text}");
    }
    Ok(())
}

/// How many times the service log says `needle` (0 when there is no log).
fn log_count(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log).map(|t| t.matches(needle).count()).unwrap_or(0)
}

/// Waits until the service log says `needle` at least `n` times.
fn wait_log(log: &Path, needle: &str, n: usize, what: &str) -> Result<()> {
    for _ in 0..600 {
        if log_count(log, needle) >= n {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| format!("(no log: {e})"));
    bail!("{what}: the service log does not say {needle:?} {n} time(s) within 30 s:\n{text}")
}

const LISTENING: &str = "service: listening on";
const TOLD_TO_STOP: &str = "told to stop by onshi-helper service --stop";

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn package_msi_install_registry_native_host_oqs_check_uninstall() -> Result<()> {
    let msi = msi()?;
    let root = paths::workspace_root();
    let work = TempDir::new("onshi-msi")?;
    let prefix = Prefix::create(&work.0.join("wine"), &root.join(PRNG_SHIM_DLL)).map_err(anyhow::Error::msg)?;

    let (profile_win, profile) = user_profile(&prefix)?;

    // The OQS terminal: the simulator on Linux, its folder reached through Z:.
    let sim = paths::binary("onshi-sim")?;
    let registry = work.0.join("registry.sqlite");
    run(Command::new(&sim).args(["registry", "seed", "--db"]).arg(&registry))?;
    let oqs = work.0.join("oqs");
    let mut terminal = Guarded::spawn(
        "onshi-sim oqs-folder",
        {
            let mut c = Command::new(&sim);
            c.args(["oqs-folder", "--dir"]).arg(&oqs).arg("--db").arg(&registry).stdout(Stdio::null());
            c
        },
    )?;
    for _ in 0..200 {
        if oqs.join("req").is_dir() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ensure!(terminal.child.try_wait()?.is_none(), "onshi-sim oqs-folder stopped at once");
    let local = profile.join("AppData/Local/onshi");
    std::fs::create_dir_all(&local)?;
    let store_win = format!(r"{profile_win}\AppData\Local\onshi\helper.sqlite");
    let config = parts::helper_config(
        "Wine受付",
        Path::new(&store_win),
        &parts::folder_backend_toml(Path::new(&Prefix::windows_path(&oqs))),
    );
    std::fs::write(local.join("helper.toml"), config)?;
    let log = local.join("logs/service.log");

    // Install as the user would, with no administrator rights asked. The
    // IT person has put the config in place first (the service reads it at start).
    msiexec(&prefix, &["/i", &Prefix::windows_path(&msi), "/qn"], &work.0)?;
    let install = profile.join(INSTALL_DIR.replace('\\', "/"));
    let exe = install.join("onshi-helper.exe");
    ensure!(exe.is_file(), "{} is not installed", exe.display());
    wait_log(&log, LISTENING, 1, "after install (StartService)")?;

    // Every browser's key → a manifest → the installed exe.
    for key in BROWSER_KEYS {
        let manifest_win = reg_value(&prefix, key, None).with_context(|| format!("{key} is missing after install"))?;
        let manifest = linux_path(&prefix, &manifest_win)?;
        let m: Value = serde_json::from_str(&std::fs::read_to_string(&manifest).with_context(|| format!("{key} → {manifest_win}"))?)?;
        ensure!(m["name"] == "jp.onshi.helper" && m["type"] == "stdio", "{manifest_win}: {m}");
        let target = manifest.parent().context("manifest folder")?.join(m["path"].as_str().context("path")?);
        ensure!(target == exe, "{key}: the manifest's path resolves to {}, not the installed exe", target.display());
        if key.contains("Mozilla") {
            ensure!(m["allowed_extensions"] == json!(["onshi-bridge@onshi.example"]), "{manifest_win}: {m}");
        } else {
            ensure!(m["allowed_origins"] == json!([format!("chrome-extension://{EXTENSION_ID}/")]), "{manifest_win}: {m}");
        }
    }
    let run_value = reg_value(&prefix, RUN_KEY, Some("OnshiHelper")).context("the Run value is missing after install")?;
    let starter_win = format!(r"{profile_win}\{INSTALL_DIR}\onshi-helper-start.exe");
    ensure!(run_value.eq_ignore_ascii_case(&format!("\"{starter_win}\"")), "Run value {run_value:?}, expected the starter {starter_win}");
    ensure!(install.join("onshi-helper-start.exe").is_file(), "the starter is not installed");

    // Chrome's way: the exe from the manifest, the extension's origin as argument.
    let mut host = Host::start(&prefix, &exe)?;
    let hello = host.ask(PAGE, "page", json!({ "type": "hello", "page_version": "wine" }))?;
    ensure!(hello["ok"] == true && hello["body"]["paired"] == false, "hello: {hello}");
    let refused = host.ask(PAGE, "page", json!({ "type": "status" }))?;
    ensure!(refused["ok"] == false && refused["error"]["code"] == "not_paired", "status before pairing: {refused}");
    let begun = host.ask(PAGE, "page", json!({ "type": "pair_begin" }))?;
    let pairing_id = begun["body"]["pairing_id"].as_str().with_context(|| format!("pair_begin: {begun}"))?.to_owned();
    let ext = format!("chrome-extension://{EXTENSION_ID}");
    let approved = host.ask(&ext, "extension", json!({ "type": "pair_approve", "pairing_id": pairing_id, "approve": true }))?;
    ensure!(approved["ok"] == true, "pair_approve: {approved}");

    let s = probe(&registry, "valid")?;
    let mut insured = json!({
        "insurer_number": s.insurer_number.as_deref().unwrap_or_default().trim(),
        "number": s.insured_identification_number.as_deref().unwrap_or_default(),
        "birth_date": s.birthdate.as_deref().unwrap_or_default(),
    });
    if let Some(symbol) = s.insured_card_symbol.as_deref() {
        insured["symbol"] = symbol.into();
    }
    if let Some(branch) = s.insured_branch_number.as_deref() {
        insured["branch"] = branch.into();
    }
    let answer = host.ask(PAGE, "page", json!({ "type": "insurance_confirm", "insured": insured }))?;
    ensure!(answer["ok"] == true, "insurance_confirm through Z:\\ failed: {answer}");
    ensure!(answer["body"]["summary"]["qualification_validity"] == "1", "not valid: {answer}");
    let status = host.ask(PAGE, "page", json!({ "type": "status" }))?;
    ensure!(status["ok"] == true && status["body"]["backend"] == "oqs_folder", "status: {status}");
    drop(host);

    // Exactly one service per user: a second one says so and does nothing.
    let second = run(prefix.command(&exe).arg("service"))?;
    ensure!(second.contains("すでに動いています"), "a second service did not refuse:\n{second}");

    // Repair replaces the files as an upgrade does: the running service is
    // stopped first and started again after; the pairing (in the store) stays.
    // (`REINSTALL=ALL REINSTALLMODE=amus` is `/fa`, which Wine's msiexec refuses with exit 69.)
    msiexec(&prefix, &["/i", &Prefix::windows_path(&msi), "REINSTALL=ALL", "REINSTALLMODE=amus", "/qn"], &work.0)?;
    wait_log(&log, TOLD_TO_STOP, 1, "repair (StopService)")?;
    wait_log(&log, LISTENING, 2, "after repair (StartService)")?;
    let mut host = Host::start(&prefix, &exe)?;
    let hello = host.ask(PAGE, "page", json!({ "type": "hello", "page_version": "wine" }))?;
    ensure!(hello["ok"] == true && hello["body"]["paired"] == true, "hello after repair (the store must be kept): {hello}");
    drop(host);

    // Uninstall with the service running: it is stopped before the files go;
    // keys and program folder gone, the clinic's store kept.
    msiexec(&prefix, &["/x", &Prefix::windows_path(&msi), "/qn"], &work.0)?;
    wait_log(&log, TOLD_TO_STOP, 2, "uninstall (StopService)")?;
    for key in BROWSER_KEYS {
        ensure!(reg_value(&prefix, key, None).is_none(), "{key} is still there after uninstall");
    }
    ensure!(reg_value(&prefix, RUN_KEY, Some("OnshiHelper")).is_none(), "the Run value is still there after uninstall");
    if exe.exists() {
        // Say why: what the service logged last and what msiexec did.
        let tail = |p: &Path| -> String {
            let t = std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
            t.chars().rev().take(4000).collect::<String>().chars().rev().collect()
        };
        bail!("{} is still there after uninstall\nservice log:\n{}\nmsiexec log:\n{}", exe.display(), tail(&log), tail(&work.0.join("msiexec.log")));
    }
    ensure!(local.join("helper.sqlite").is_file(), "the store was removed with the program");
    // The Linux helper reads the same store: both stops audited, chain intact.
    let helper = paths::binary("onshi-helper")?;
    let store = local.join("helper.sqlite");
    run(Command::new(&helper).arg("--store").arg(&store).args(["audit", "verify"]))?;
    let tail = run(Command::new(&helper).arg("--store").arg(&store).args(["audit", "show", "--last", "50"]))?;
    let stops = tail.lines().filter(|l| l.contains(" cli service ok ") && l.contains(r#""action":"stop""#)).count();
    ensure!(stops == 2, "{stops} service stops in the audit log, expected 2 (repair, uninstall):\n{tail}");
    let _ = terminal.child.kill();
    Ok(())
}
