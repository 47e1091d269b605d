//! `onshi-helper-start`: starts the helper service at sign-in and exits.
//!
//! Windows shows a console window for every console program, and
//! `onshi-helper` is one (its commands print for the IT person). Started
//! from the `Run` key it would put a black window on the reception screen
//! for as long as the service runs. This starter is a windowless program
//! (`windows_subsystem`, ignored elsewhere) that starts the `onshi-helper`
//! beside it detached — with no console — exactly as the native host does
//! when the browser finds no service ([`onshi_helper::native_host::start_service`]).
//! Exactly one service per user still holds: a second one stops at once.

#![windows_subsystem = "windows"]

use std::process::ExitCode;

use onshi_helper::native_host::{start_service, Spawn};
use onshi_helper::paths::{self, Env, Os};

fn main() -> ExitCode {
    let Ok(me) = std::env::current_exe() else { return ExitCode::FAILURE };
    let exe = me.with_file_name(format!("onshi-helper{}", std::env::consts::EXE_SUFFIX));
    let log = paths::log_file(&Env::from_process(), Os::current()).ok();
    // Nobody sees this program's output (no console); the service writes
    // its own log, and `onshi-helper doctor` says whether it runs.
    match start_service(&Spawn { exe, global_args: Vec::new(), log }, None) {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
