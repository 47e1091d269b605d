//! `cargo xtask card insert|remove [--person ID] [--kind transit|blank]`: puts
//! a virtual My Number card on the demo's reader (vpcd slot 0) or takes it
//! off; `--kind` puts a transit card or a card without ATR there instead, to
//! show the desk's messages for them.
//!
//! The card is an `onshi-sim card` process in its own process group (so it
//! outlives this command and a Ctrl-C in this terminal does not reach it);
//! its pid and person go to `target/demo/card.pid`, its output to
//! `target/demo/card.log`, its APDUs (PIN masked) to `target/demo/apdu.jsonl`.
//! Removing stops exactly that process id, after checking that the id still
//! belongs to an `onshi-sim card` (ids are reused). One card at a time: a
//! second insert takes the first card out.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{demo_parts, pcscd_daemon};
use crate::util::{self, Result};

/// The person whose card `insert` uses without `--person` (registered for
/// insurance use in the seeded registry; P0003's card is not).
pub const DEFAULT_PERSON: &str = "P0001";

/// The demo's state folder (`target/demo/`).
pub fn state_dir() -> PathBuf {
    util::root().join("target/demo")
}

fn pid_file(state: &Path) -> PathBuf {
    state.join("card.pid")
}

pub fn run(args: &[String]) -> Result {
    let person = match args.iter().position(|a| a == "--person") {
        Some(i) => args.get(i + 1).cloned().ok_or("--person needs an id, e.g. --person P0002")?,
        None => DEFAULT_PERSON.to_owned(),
    };
    let kind = match args.iter().position(|a| a == "--kind") {
        Some(i) => match args.get(i + 1).map(String::as_str) {
            Some("transit") => Some("transit"),
            Some("blank") => Some("blank"),
            other => return Err(format!("--kind transit|blank, not {other:?}")),
        },
        None => None,
    };
    let state = state_dir();
    match args.first().map(String::as_str) {
        Some("insert") => insert_kind(&state, &person, kind).map(|_| ()),
        Some("remove") => {
            if !remove(&state)? {
                eprintln!("no virtual card is on the reader");
            }
            Ok(())
        }
        _ => Err("usage: cargo xtask card insert|remove [--person P0001] [--kind transit|blank]".into()),
    }
}

/// The card process recorded in the pid file, if it is still that process.
fn running_card(state: &Path) -> Option<(u32, String)> {
    let text = std::fs::read_to_string(pid_file(state)).ok()?;
    let mut parts = text.split_whitespace();
    let pid: u32 = parts.next()?.parse().ok()?;
    let person = parts.next().unwrap_or("?").to_owned();
    is_card_process(pid).then_some((pid, person))
}

/// Whether `pid` is alive and is an `onshi-sim card` (not a reused id).
fn is_card_process(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let is_sim = args.first().is_some_and(|a| a.ends_with(b"onshi-sim"));
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // "pid (comm) S …": a zombie (Z) has exited already.
    let zombie = state.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'));
    is_sim && args.get(1).is_some_and(|a| *a == b"card") && !zombie
}

/// Starts the virtual card for `person`; waits until it is on the reader.
pub fn insert(state: &Path, person: &str) -> Result<u32> {
    insert_kind(state, person, None)
}

/// [`insert`], or with `kind` a card that is not a My Number card
/// (`onshi-sim card --kind`).
fn insert_kind(state: &Path, person: &str, kind: Option<&'static str>) -> Result<u32> {
    if !person.chars().all(|c| c.is_ascii_alphanumeric()) || person.is_empty() {
        return Err(format!("person id {person:?}: use the ids `pki init` made, e.g. P0001"));
    }
    let pki = state.join("pki");
    if !demo_parts::person_dir(&pki, person).exists() {
        return Err(format!(
            "no test certificate for {person} in {} — start `cargo xtask demo` first (its PKI has P0001–P0003 and P0042–P0044)",
            pki.display()
        ));
    }
    if !pcscd_daemon::answering() {
        return Err("pcscd is not running — start `cargo xtask demo` first".into());
    }
    if let Some((pid, old)) = running_card(state) {
        eprintln!("taking out the card of {old} (pid {pid}) first: one reader, one card");
        remove(state)?;
    }
    let sim = util::root().join("target/debug/onshi-sim");
    let log_path = state.join("card.log");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let start_len = log.metadata().map(|m| m.len()).unwrap_or(0);
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let spec = demo_parts::CardSpec { kind, ..demo_parts::CardSpec::person(person) };
    let mut cmd = demo_parts::card_command(&sim, &pki, pcscd_daemon::VPCD_ADDR, &spec, &state.join("apdu.jsonl"));
    cmd.stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {}: {e}", sim.display()))?;
    let pid = child.id();
    std::fs::write(pid_file(state), format!("{pid} {person}\n")).map_err(|e| e.to_string())?;
    // The card prints "card ready" once vpcd (inside pcscd) accepted it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read(&log_path).unwrap_or_default();
        let new = String::from_utf8_lossy(text.get(start_len as usize..).unwrap_or_default()).into_owned();
        if new.contains("card ready") {
            eprintln!("card of {person} is on the reader (pid {pid}; log {})", log_path.display());
            return Ok(pid);
        }
        if let Ok(Some(status)) = child.try_wait() {
            let _ = std::fs::remove_file(pid_file(state));
            return Err(format!("the virtual card stopped ({status}):\n{}", new.trim()));
        }
        if Instant::now() >= deadline {
            let _ = remove(state);
            return Err(format!("the virtual card did not reach the reader within 20 s:\n{}", new.trim()));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Takes the card out (stops its process by id). `Ok(false)`: there was none.
pub fn remove(state: &Path) -> Result<bool> {
    let Some((pid, person)) = running_card(state) else {
        let _ = std::fs::remove_file(pid_file(state));
        return Ok(false);
    };
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(3);
    while is_card_process(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if is_card_process(pid) {
        let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
    }
    let _ = std::fs::remove_file(pid_file(state));
    eprintln!("card of {person} taken out (pid {pid} stopped)");
    Ok(true)
}
