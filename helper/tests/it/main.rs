//! Integration tests: the real `onshi-helper` binary with a temp HOME, and
//! the store library against real SQLite files (including edits made
//! behind its back, as an attacker with the file would).

mod check;
mod cli;
mod events;
mod gateway;
mod host;
mod install;
mod pin;
mod store;

use std::path::Path;
use std::process::{Command, Output};

/// The helper binary with HOME pointing at `home` and no XDG overrides, so
/// nothing outside the temp folder is read or written.
pub fn helper(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_onshi-helper"));
    c.env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("APPDATA")
        .env_remove("LOCALAPPDATA");
    c
}

pub fn run(mut c: Command) -> (i32, String, String) {
    let Output { status, stdout, stderr } = c.output().expect("run onshi-helper");
    (status.code().unwrap_or(-1), String::from_utf8_lossy(&stdout).into_owned(), String::from_utf8_lossy(&stderr).into_owned())
}
