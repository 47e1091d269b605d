//! `cargo xtask`: build orchestration in Rust (style.md), so a newcomer needs
//! only cargo. Every subcommand first runs `setup`, which installs what this
//! machine lacks, so `cargo xtask demo` and `cargo xtask test` work on a
//! fresh Debian machine.

mod bench;
mod build;
mod demo;
mod setup;
mod test;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>
  setup   install what is missing (Debian packages, wasm-bindgen CLI)
  build   native crates, the WebAssembly page, dist/web and dist/extension
  test    every test: native, WebAssembly in Chromium, extension, cross-process
  bench   benchmarks that print their figures (core: XML parse, native and wasm;
          helper: audit log, service round trip, idle; sim: gateway load;
          web: page size, form ready, 10,000-row table filter — only when named)
  demo    build, serve the page on 127.0.0.1 and open it
          (--smoke: take the screenshot and exit instead of serving)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = if args.len() > 1 { &args[1..] } else { &[][..] };
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("build") => setup::run().and_then(|_| build::run()),
        Some("test") => setup::run().and_then(|_| test::run(rest)),
        Some("bench") => setup::run().and_then(|_| bench::run(rest)),
        Some("demo") => setup::run().and_then(|_| demo::run(rest)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: {e}");
            ExitCode::FAILURE
        }
    }
}
