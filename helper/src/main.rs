//! The `onshi-helper` command line: IT staff and tests drive the helper
//! through it. Every problem is printed as a Japanese line, then an English
//! line, and any problem makes the exit status non-zero. When a browser
//! starts the binary as a native-messaging host (see `launch`), nothing may
//! be written to stdout, so that case is decided before argument parsing.
//! This file only parses and dispatches; each command lives in `cli/`.
#![forbid(unsafe_code)]
// ProtocolError is large; see the note in `service`.
#![allow(clippy::result_large_err)]

mod cli;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use onshi_helper::launch::{detect_native_host, NativeCaller};
use onshi_helper::paths::{Env, Os};

use cli::args::{Cli, Command};
use cli::context::Context;
use cli::output::{problem, Fail};

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let result = match detect_native_host(&args) {
        Some(caller) => {
            let browser = if matches!(caller, NativeCaller::Firefox { .. }) { "firefox" } else { "chromium" };
            cli::native_host::relay(browser, caller.extension_id(), None, Vec::new())
        }
        None => run(Cli::parse()),
    };
    match result {
        Ok(code) => code,
        Err(Fail(b)) => {
            problem(&b);
            ExitCode::FAILURE
        }
    }
}

fn run(args: Cli) -> Result<ExitCode, Fail> {
    let env = Env::from_process();
    let os = Os::current();
    // The commands that work on the store find it (and the clinic's offset) first.
    let ctx = || Context::new(args.config.clone(), args.store.clone(), &env, os);
    match args.command {
        Command::Install(a) => cli::install::install(a, &env, os),
        Command::Uninstall(a) => cli::install::uninstall(a, &env, os),
        Command::Config(c) => cli::config::run(c, args.config, &env, os),
        Command::Audit(c) => cli::audit::run(&ctx()?, c),
        Command::Pairings(c) => cli::pairings::run(&ctx()?, c),
        Command::NativeHost { extension_id, socket } => cli::native_host::run(args.config, args.store, &extension_id, socket),
        Command::Service { socket, stop: false } => cli::service::run(&ctx()?, socket),
        Command::Service { socket, stop: true } => cli::service::stop(socket),
        Command::Card(c) => cli::card::run(c),
        Command::Check(c) => cli::check::run(&ctx()?, c),
        Command::Batch(c) => cli::batch::run(&ctx()?, c),
        Command::Reference(c) => cli::reference::run(&ctx()?, c),
        Command::Doctor { socket } => cli::doctor::run(args.config, socket, &env, os),
        Command::PackageParts { exe_file, starter } => cli::install::package_parts(&exe_file, &starter),
    }
}
