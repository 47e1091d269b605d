//! `cargo xtask`: build orchestration in Rust (style.md), so a newcomer needs
//! only cargo. Every subcommand first runs `setup`, which installs what this
//! machine lacks, so `cargo xtask demo` and `cargo xtask test` work on a
//! fresh Debian machine.

mod bench;
mod build;
mod card;
mod demo;
mod package;
mod setup;
mod test;
mod util;
mod windows;

// One copy of the pcscd start/stop logic, shared with the tests crate (std only).
#[path = "../../tests/src/pcscd_daemon.rs"]
mod pcscd_daemon;
// One copy of the throwaway PostgreSQL cluster for the store's tests, shared with the helper's tests (std only).
#[path = "../../tests/src/pg_cluster.rs"]
#[allow(dead_code)]
mod pg_cluster;
// One copy of how each of the demo's parts is started, shared with the test stack (std only).
#[path = "../../tests/src/demo_parts.rs"]
#[allow(dead_code)]
mod demo_parts;
// One copy of how a Wine prefix is made and used, shared with the MSI test (std only).
#[path = "../../tests/src/wine.rs"]
#[allow(dead_code)]
mod wine;

// The page's security policy, defined once in the core (std only, no
// dependency on the crate): the build writes it into dist/web/index.html.
#[path = "../../core-wasm/src/page_policy.rs"]
#[allow(dead_code)]
mod page_policy;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>
  setup   install what is missing (Debian packages, wasm-bindgen CLI)
  build   native crates, the WebAssembly page, dist/web and dist/extension
  package dist/packages: the helper as a .deb (Linux) and a per-user .msi (Windows,
          cross-built), the extension as store archives (Chromium .zip, Firefox .xpi)
  test    every test: native, WebAssembly in Chromium, extension, cross-process, demo smoke
          (or one step: native|postgres|wasm|extension|windows|cross|demo; windows = the
          helper cross-built for Windows, its unit tests under Wine; postgres = the
          store's tests on a PostgreSQL cluster started in target/onshi-pg)
  bench   benchmarks that print their figures (core: XML parse, native and wasm;
          helper: audit log, service round trip, idle; sim: gateway load;
          cli: onshi-xml parse --summary, whole process, against the floor;
          web: page size, form ready, 10,000-row table filter — only when named;
          e2e: card check click → result in headless Chromium with the whole
          stack, 10,000-patient batch — only when named;
          windows: the Windows helper's round trip over its named pipe,
          under Wine — only when named)
  demo    the whole system on this machine: PKI, registry, pcscd + virtual card,
          simulated backend, helper service, page, Chromium with the extension
          [--backend gateway|oqs-folder] [--person P0001]
          (--smoke: prove page → extension → helper once, screenshot, stop)
  card    insert|remove [--person P0002]: the demo's virtual card on the reader";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = if args.len() > 1 { &args[1..] } else { &[][..] };
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::run(),
        Some("build") => setup::run().and_then(|_| build::run()),
        Some("package") => setup::run().and_then(|_| package::run()),
        Some("test") => setup::run().and_then(|_| test::run(rest)),
        Some("bench") => setup::run().and_then(|_| bench::run(rest)),
        Some("demo") => setup::run().and_then(|_| demo::run(rest)),
        Some("card") => card::run(rest),
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
