//! The `onshi-helper` command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--version") | Some("version") => {
            println!("onshi-helper {}", onshi_helper::VERSION);
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: onshi-helper --version");
            ExitCode::from(2)
        }
    }
}
