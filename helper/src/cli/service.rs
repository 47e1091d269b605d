//! `service`: the resident process, one per OS user. Starting a second one
//! is not an error; it says so and changes nothing. `service --stop` asks
//! the running one to exit (for uninstall and upgrade).

use std::path::PathBuf;
use std::process::ExitCode;

use onshi_core::text::Bilingual;
use onshi_helper::paths::Env;
use onshi_helper::{ipc, service};

use super::context::{runtime, Context};
use super::output::{problem, Fail};

pub fn run(ctx: &Context, socket: Option<PathBuf>) -> Result<ExitCode, Fail> {
    let socket = ipc::socket_path(socket.as_deref(), &Env::from_process())?;
    if let Some(dir) = ctx.store_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // Take the lock before opening the store, so a second instance changes nothing.
    let rt = runtime()?;
    let store = ctx.open_service_store()?;
    let ran = rt.block_on(service::run(&socket, store, ctx.config.clone()));
    // Work still waiting in blocking threads (a file read on a share, a
    // PC/SC call) would keep the process — and on Windows its exe, which an
    // upgrade must replace — alive after the stop; it is abandoned instead.
    rt.shutdown_timeout(std::time::Duration::from_millis(500));
    // Only now let go of the lock (see `Started::Stopped`): the process exits next.
    match ran? {
        service::Started::AlreadyRunning => {
            problem(&Bilingual::new(
                format!("ヘルパーのサービスはすでに動いています（{}）。何もしません。", socket.display()),
                format!("The helper service is already running ({}); nothing to do.", socket.display()),
            ));
            Ok(ExitCode::SUCCESS)
        }
        service::Started::Stopped(lock) => {
            drop(lock);
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub fn stop(socket: Option<PathBuf>) -> Result<ExitCode, Fail> {
    let socket = ipc::socket_path(socket.as_deref(), &Env::from_process())?;
    let rt = runtime()?;
    let (text, code) = match rt.block_on(service::stop(&socket))? {
        service::StopOutcome::Stopped => (
            Bilingual::new("ヘルパーのサービスを止めました。", "The helper service has stopped."),
            ExitCode::SUCCESS,
        ),
        service::StopOutcome::NotRunning => (
            Bilingual::new("ヘルパーのサービスは動いていません。", "The helper service is not running."),
            ExitCode::SUCCESS,
        ),
        service::StopOutcome::StillRunning => (
            Bilingual::new(
                format!(
                    "ヘルパーのサービスが{}秒たっても止まりません。サインアウトするか、タスク マネージャーで onshi-helper を終了してください。",
                    service::STOP_WAIT.as_secs()
                ),
                format!(
                    "The helper service is still running after {} s. Sign out, or end onshi-helper in Task Manager (or with kill on Linux).",
                    service::STOP_WAIT.as_secs()
                ),
            ),
            ExitCode::FAILURE,
        ),
    };
    problem(&text);
    Ok(code)
}
