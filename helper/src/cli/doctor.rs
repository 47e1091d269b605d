//! `doctor`: walks every link (config, service, manifests, pcscd, reader,
//! card, backend, clock) and prints one line per link; any problem makes
//! the exit status 1. The checks themselves live in the library's `doctor`.

use std::path::PathBuf;
use std::process::ExitCode;

use onshi_helper::config::Config;
use onshi_helper::ipc;
use onshi_helper::paths::{self, Env, Os};

use super::context::{runtime, unix_now};
use super::output::Fail;

pub fn run(config: Option<PathBuf>, socket: Option<PathBuf>, env: &Env, os: Os) -> Result<ExitCode, Fail> {
    let config_path = match config {
        Some(p) => p,
        None => paths::config_file(env, os)?,
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("onshi-helper"));
    let now_secs = unix_now();
    let inputs = onshi_helper::doctor::Inputs {
        config: Config::load(&config_path),
        socket: ipc::socket_path(socket.as_deref(), env),
        env,
        os,
        exe,
        card: &onshi_helper::card::access::PcscAccess,
        now_secs,
    };
    let findings = runtime()?.block_on(onshi_helper::doctor::examine(inputs));
    let mut bad = 0;
    for f in &findings {
        if f.problem {
            bad += 1;
            println!("NG [{}] {}\n   {}", f.link, f.text.ja, f.text.en);
        } else {
            println!("OK [{}] {} / {}", f.link, f.text.ja, f.text.en);
        }
    }
    Ok(if bad > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
