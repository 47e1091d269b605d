//! The `onshi-sim` command line. Each subcommand is one simulated party.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: onshi-sim web --dir DIR [--listen 127.0.0.1:PORT]
  web   serve the built reception page (dist/web) over HTTP on loopback";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("web") => web(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn web(args: &[String]) -> ExitCode {
    let Some(dir) = flag(args, "--dir") else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let listen = flag(args, "--listen").unwrap_or("127.0.0.1:8080");
    let listener = match TcpListener::bind(listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ポート {listen} を開けません / cannot listen on {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    // The bound address goes to stdout so a parent that asked for port 0 learns the port.
    match listener.local_addr() {
        Ok(addr) => println!("http://{addr}/"),
        Err(e) => eprintln!("{e}"),
    }
    match onshi_sim::web::serve(listener, PathBuf::from(dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("web server stopped: {e}");
            ExitCode::from(1)
        }
    }
}
