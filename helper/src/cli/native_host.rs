//! `native-host`: the mode a browser starts. stdout is the browser's frame
//! stream, so nothing here may print to it; a problem goes to stderr.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use onshi_helper::paths::{self, Env, Os};
use onshi_helper::{ipc, native_host};

use super::context::runtime;
use super::output::Fail;

/// Relays frames between the browser and the service, starting the service
/// (with `global_args`) when it is not running.
pub fn relay(browser: &str, extension_id: &str, socket: Option<PathBuf>, global_args: Vec<OsString>) -> Result<ExitCode, Fail> {
    let socket = ipc::socket_path(socket.as_deref(), &Env::from_process())?;
    let preamble = ipc::Preamble { relay: 1, browser: browser.to_owned(), extension_id: extension_id.to_owned() };
    let log = paths::log_file(&Env::from_process(), Os::current()).ok();
    let spawn = std::env::current_exe().ok().map(|exe| native_host::Spawn { exe, global_args, log });
    runtime()?.block_on(native_host::run(&socket, preamble, spawn))?;
    Ok(ExitCode::SUCCESS)
}

/// The `native-host` subcommand (tests, or a person by hand): the service it
/// may start gets the same `--config` and `--store`.
pub fn run(config: Option<PathBuf>, store: Option<PathBuf>, extension_id: &str, socket: Option<PathBuf>) -> Result<ExitCode, Fail> {
    let mut global = Vec::new();
    if let Some(c) = config {
        global.extend([OsString::from("--config"), c.into_os_string()]);
    }
    if let Some(s) = store {
        global.extend([OsString::from("--store"), s.into_os_string()]);
    }
    relay("chromium", extension_id, socket, global)
}
