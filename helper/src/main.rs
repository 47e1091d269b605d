//! The `onshi-helper` command line: IT staff and tests drive the helper
//! through it. Every problem is printed as a Japanese line, then an English
//! line, and any problem makes the exit status non-zero. When a browser
//! starts the binary as a native-messaging host (see `launch`), nothing may
//! be written to stdout, so that case is decided before argument parsing.
#![forbid(unsafe_code)]
// ProtocolError is large; see the note in `service`.
#![allow(clippy::result_large_err)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use onshi_core::text::{Bilingual, Explain};
use onshi_helper::browser::Browser;
use onshi_helper::config::{Config, ConfigError};
use onshi_helper::install::{self, Done, InstallOptions, Scope};
use onshi_helper::launch::{detect_native_host, NativeCaller};
use onshi_helper::{ipc, native_host, service};
use onshi_helper::paths::{self, Env, Os};
use onshi_helper::store::{Actor, AuditDetail, ExtensionId, Origin, Outcome, PairingAction, Store};
use onshi_helper::time::Timestamp;

#[derive(Parser)]
#[command(name = "onshi-helper", version, about = "Onshi reception helper (オンライン資格確認ヘルパー)")]
struct Cli {
    /// The config file (default: the per-OS location, see `config paths`).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// The database file (default: store_path from the config, else the per-OS location).
    #[arg(long, global = true)]
    store: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Register the native-messaging host with browsers and start at login.
    Install(InstallArgs),
    /// Remove what `install` wrote.
    Uninstall(LocationArgs),
    /// The TOML config: check it, or show where it and the database live
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The append-only audit log (hash-chained): show the newest entries, verify the chain
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Web pages (origins) allowed to use this helper: list them, revoke one
    #[command(subcommand)]
    Pairings(PairingsCommand),
    /// The mode a browser starts (normally detected from its arguments).
    NativeHost {
        /// The calling extension id (the browser passes it on its own command line).
        #[arg(long)]
        extension_id: String,
        /// The service's socket (default: $ONSHI_HELPER_SOCKET, then the per-user place).
        #[arg(long)]
        socket: Option<PathBuf>,
    },
    /// The resident service (one per OS user).
    Service {
        /// The socket to listen on (default: $ONSHI_HELPER_SOCKET, then the per-user place).
        #[arg(long)]
        socket: Option<PathBuf>,
    },
    /// The My Number card on PC/SC: readers, PIN tries, certificate (never asks for the PIN).
    #[command(subcommand)]
    Card(CardCommand),
    /// One eligibility check from the command line (uses the configured backend; audited).
    #[command(subcommand)]
    Check(CheckCommand),
    /// 一括照会 (batch pre-check) from a CSV file.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Patient reference numbers (照会番号) registered with the eligibility system.
    #[command(subcommand)]
    Reference(ReferenceCommand),
    /// Walk every link (config, service, manifests, pcscd, reader, card, backend, clock);
    /// one Japanese and one English line per problem; exit 1 on any.
    Doctor {
        /// The service's socket (default: $ONSHI_HELPER_SOCKET, then the per-user place).
        #[arg(long)]
        socket: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum CheckCommand {
    /// By the numbers on an insurance card / 資格確認書. Prints the result XML on stdout.
    Insurance {
        /// 保険者番号 (6 or 8 digits).
        #[arg(long)]
        insurer: String,
        /// 記号 (omit when the card has none).
        #[arg(long)]
        symbol: Option<String>,
        /// 番号.
        #[arg(long)]
        number: String,
        /// 枝番 (2 digits).
        #[arg(long)]
        branch: Option<String>,
        /// 生年月日, YYYYMMDD.
        #[arg(long)]
        birth: String,
        /// Also ask for 限度額適用認定証 information (the patient agreed).
        #[arg(long)]
        limit: bool,
    },
    /// With the My Number card on the reader. Asks for the PIN on this terminal
    /// (not echoed; refused when stdin is not a terminal). Prints the result XML.
    Card {
        /// 目視確認: no PIN; staff checked the photo.
        #[arg(long)]
        visual: bool,
        /// The PC/SC reader (default: the first with a card).
        #[arg(long)]
        reader: Option<String>,
    },
}

#[derive(Subcommand)]
enum BatchCommand {
    /// Upload FILE.csv: a header row naming the columns, then one person per
    /// row. Columns (ja or en names, any order): 保険者番号/insurer, 記号/symbol,
    /// 番号/number, 枝番/branch, 生年月日/birth (和暦 or 西暦), 氏名/name,
    /// 予約日/date, 患者ID/patient_id. UTF-8 or Shift_JIS; "quoted" fields
    /// allowed. Every row is checked first; a file with errors is not sent.
    /// The full rules: docs/batch-csv.md.
    Submit {
        file: PathBuf,
        /// The day the check is for, YYYYMMDD (default: the CSV's 予約日, else tomorrow).
        #[arg(long)]
        date: Option<String>,
    },
    /// The state of batch ID (from `submit`, e.g. b-3).
    Status { id: String },
    /// Ask for batch ID's result now; prints the result XML when it is ready.
    Fetch { id: String },
}

#[derive(Subcommand)]
enum ReferenceCommand {
    /// Register the patient ids in FILE.csv: the batch CSV's columns (see
    /// `batch submit`), with 患者ID/patient_id required on every row. Every
    /// row is checked first; a file with errors is not sent. One row uses the
    /// single form, more the bulk form.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
enum CardCommand {
    /// List readers; for each card, whether it is a My Number card and its PIN tries left.
    Status,
    /// Print the user-authentication certificate's subject and validity (no PIN).
    ReadCert {
        /// The PC/SC reader (default: the first with a card).
        #[arg(long)]
        reader: Option<String>,
    },
}

#[derive(Args)]
struct LocationArgs {
    /// Comma-separated: chrome,chromium,edge,firefox (default: all).
    #[arg(long, value_delimiter = ',')]
    browsers: Vec<Browser>,
    /// Machine-wide locations (needs administrator rights).
    #[arg(long, conflicts_with = "profile_dir")]
    system: bool,
    /// A Chromium --user-data-dir: its NativeMessagingHosts folder only, no start-at-login.
    #[arg(long)]
    profile_dir: Option<PathBuf>,
    /// The helper binary the browser should start (default: this one).
    #[arg(long)]
    exe: Option<PathBuf>,
}

#[derive(Args)]
struct InstallArgs {
    #[command(flatten)]
    location: LocationArgs,
    /// The Chromium extension id (32 letters a-p).
    #[arg(long)]
    extension_id: Option<String>,
    /// Do not write the start-at-login entry.
    #[arg(long)]
    no_autostart: bool,
    /// Write the files under DIR instead of / (a package's staging folder);
    /// their contents still name the real locations.
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check the config and the files it names; exit 1 on any problem.
    Check,
    /// Print the default locations of the config file and the database.
    Paths,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Print the newest entries.
    Show {
        #[arg(long, default_value_t = 20)]
        last: u32,
    },
    /// Walk the hash chain; exit 1 if it is broken.
    Verify,
}

#[derive(Subcommand)]
enum PairingsCommand {
    /// Every pairing: id, origin, browser, extension, when it was made and its state
    List,
    /// Revoke every pairing of ORIGIN (e.g. https://clinic.example).
    Revoke { origin: String },
}

/// A failure that ends the command: one bilingual explanation.
struct Fail(Bilingual);

impl<E: Explain> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.explain())
    }
}

fn say(b: &Bilingual) {
    println!("{}\n{}", b.ja, b.en);
}

fn problem(b: &Bilingual) {
    eprintln!("{}\n{}", b.ja, b.en);
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if let Some(caller) = detect_native_host(&args) {
        let browser = if matches!(caller, NativeCaller::Firefox { .. }) { "firefox" } else { "chromium" };
        return native_host(browser, caller.extension_id(), None, Vec::new());
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Fail(b)) => {
            problem(&b);
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Fail> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        Fail(Bilingual::new(
            format!("ヘルパーの実行環境を準備できません（{e}）。PCを再起動してください。"),
            format!("Cannot set up the helper's runtime ({e}); restart the PC."),
        ))
    })
}

/// The browser's host: stdout is the browser's frame stream, so only stderr may carry text.
fn native_host(browser: &str, extension_id: &str, socket: Option<PathBuf>, global_args: Vec<OsString>) -> ExitCode {
    let go = || -> Result<(), Fail> {
        let socket = ipc::socket_path(socket.as_deref(), &Env::from_process())?;
        let preamble = ipc::Preamble { relay: 1, browser: browser.to_owned(), extension_id: extension_id.to_owned() };
        let log = paths::log_file(&Env::from_process(), Os::current()).ok();
        let spawn = std::env::current_exe().ok().map(|exe| native_host::Spawn { exe, global_args, log });
        runtime()?.block_on(native_host::run(&socket, preamble, spawn))?;
        Ok(())
    };
    match go() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(b)) => {
            problem(&b);
            ExitCode::FAILURE
        }
    }
}

fn service_cmd(ctx: &Context, config: Option<Config>, socket: Option<PathBuf>) -> Result<ExitCode, Fail> {
    let socket = ipc::socket_path(socket.as_deref(), &Env::from_process())?;
    if let Some(dir) = ctx.store_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    // Take the lock before opening the store, so a second instance changes nothing.
    let rt = runtime()?;
    let store = Store::open(&ctx.store_path)?;
    match rt.block_on(service::run(&socket, store, config))? {
        service::Started::AlreadyRunning => {
            problem(&Bilingual::new(
                format!("ヘルパーのサービスはすでに動いています（{}）。何もしません。", socket.display()),
                format!("The helper service is already running ({}); nothing to do.", socket.display()),
            ));
            Ok(ExitCode::SUCCESS)
        }
        service::Started::Stopped => Ok(ExitCode::SUCCESS),
    }
}

fn run(cli: Cli) -> Result<ExitCode, Fail> {
    let env = Env::from_process();
    let os = Os::current();
    match cli.command {
        Command::Install(a) => install_cmd(a, &env, os),
        Command::Uninstall(a) => uninstall_cmd(a, &env, os),
        Command::Config(ConfigCommand::Check) => config_check(cli.config, &env, os),
        Command::Config(ConfigCommand::Paths) => {
            println!("config: {}", paths::config_file(&env, os)?.display());
            println!("store:  {}", paths::data_file(&env, os)?.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(c) => {
            let ctx = Context::new(cli.config, cli.store, &env, os)?;
            let store = ctx.open_existing()?;
            match c {
                AuditCommand::Show { last } => {
                    for e in store.audit_tail(last)? {
                        println!("#{} {} {} {} {} {}", e.seq, e.at, e.actor, e.kind, e.outcome, e.detail);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                AuditCommand::Verify => {
                    let r = store.verify_audit()?;
                    match &r.first_break {
                        None => {
                            say(&Bilingual::new(
                                format!("監査ログは改ざんされていません（{} 件、最新ハッシュ {}）。", r.entries, r.head),
                                format!("The audit log is intact ({} entries, head hash {}).", r.entries, r.head),
                            ));
                            Ok(ExitCode::SUCCESS)
                        }
                        Some(b) => {
                            problem(&b.explain());
                            Ok(ExitCode::FAILURE)
                        }
                    }
                }
            }
        }
        Command::Pairings(c) => {
            let ctx = Context::new(cli.config, cli.store, &env, os)?;
            match c {
                PairingsCommand::List => {
                    let store = ctx.open_existing()?;
                    let all = store.pairings()?;
                    if all.is_empty() {
                        say(&Bilingual::new("ペアリングはありません。", "There are no pairings."));
                    }
                    for p in all {
                        let state = match (p.approved, &p.revoked_at) {
                            (_, Some(at)) => format!("revoked {at}"),
                            (true, None) => "approved".to_owned(),
                            (false, None) => "pending".to_owned(),
                        };
                        println!("{} {} {} {} created {} {}", p.id.0, p.origin, p.browser, p.extension_id, p.created_at, state);
                    }
                    Ok(ExitCode::SUCCESS)
                }
                PairingsCommand::Revoke { origin } => {
                    let origin = Origin::new(&origin)?;
                    let mut store = ctx.open_existing()?;
                    let now = ctx.now()?;
                    let n = store.revoke_pairings(&origin, &now)?;
                    if n == 0 {
                        problem(&Bilingual::new(
                            format!("{origin} の有効なペアリングはありません。`onshi-helper pairings list` で確認してください。"),
                            format!("{origin} has no live pairing; see `onshi-helper pairings list`."),
                        ));
                        return Ok(ExitCode::FAILURE);
                    }
                    let detail = AuditDetail::Pairing { action: PairingAction::Revoke, origin: origin.clone() };
                    store.append_audit(&now, &Actor::Cli, Outcome::Ok, &detail)?;
                    say(&Bilingual::new(
                        format!("{origin} のペアリングを解除しました（{n} 件）。"),
                        format!("Revoked {n} pairing(s) of {origin}."),
                    ));
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::NativeHost { extension_id, socket } => {
            let mut global = Vec::new();
            if let Some(c) = &cli.config {
                global.extend([OsString::from("--config"), c.clone().into_os_string()]);
            }
            if let Some(s) = &cli.store {
                global.extend([OsString::from("--store"), s.clone().into_os_string()]);
            }
            Ok(native_host("chromium", &extension_id, socket, global))
        }
        Command::Service { socket } => {
            let ctx = Context::new(cli.config.clone(), cli.store.clone(), &env, os)?;
            let config = ctx.config.clone();
            service_cmd(&ctx, config, socket)
        }
        Command::Card(c) => card_cmd(c),
        Command::Check(c) => {
            let ctx = Context::new(cli.config, cli.store, &env, os)?;
            check_cmd(&ctx, c)
        }
        Command::Batch(c) => {
            let ctx = Context::new(cli.config, cli.store, &env, os)?;
            batch_cmd(&ctx, c)
        }
        Command::Reference(c) => {
            let ctx = Context::new(cli.config, cli.store, &env, os)?;
            reference_cmd(&ctx, c)
        }
        Command::Doctor { socket } => doctor_cmd(cli.config, socket, &env, os),
    }
}

/// The service's runtime, in this process, for one command-line operation:
/// the same code paths (and the same audit log) as requests from a page.
fn cli_runtime(ctx: &Context) -> Result<std::sync::Arc<service::runtime::Runtime>, Fail> {
    if let Some(dir) = ctx.store_path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let store = Store::open(&ctx.store_path)?;
    let backend = service::backend_from_config(ctx.config.as_ref());
    if let Err(e) = &backend {
        return Err(Fail(e.message.clone()));
    }
    Ok(service::runtime::Runtime::new(
        store,
        ctx.config.clone(),
        backend,
        std::sync::Arc::new(onshi_helper::card::access::PcscAccess),
        service::runtime::Settings::from_config(ctx.config.as_ref()),
    ))
}

fn print_eligibility(e: &onshi_core::protocol::Eligibility) {
    let s = &e.summary;
    eprintln!(
        "資格有効性 / validity: {}  件数 / entries: {}",
        s.qualification_validity.as_deref().unwrap_or("-"),
        s.result_count
    );
    println!("{}", e.xml);
}

fn check_cmd(ctx: &Context, c: CheckCommand) -> Result<ExitCode, Fail> {
    use onshi_core::protocol::{InsuranceConfirm, InsuredPerson, Response};
    let rt = runtime()?;
    let service = cli_runtime(ctx)?;
    match c {
        CheckCommand::Insurance { insurer, symbol, number, branch, birth, limit } => {
            let body = InsuranceConfirm {
                insured: InsuredPerson { insurer_number: insurer, symbol, number, branch, birth_date: birth },
                limit_certificate: limit,
                arbitrary_id: None,
            };
            let (institution, today) = service.with_dispatcher(|d| d.institution_and_today())?;
            let xml = service::eligibility::individual_request(&institution, &today, &body)?;
            match rt.block_on(service.insurance(None, &xml))? {
                Response::InsuranceConfirm(e) => print_eligibility(&e),
                _ => return Err(Fail(Bilingual::new("予期しない応答です。", "Unexpected answer."))),
            }
            Ok(ExitCode::SUCCESS)
        }
        CheckCommand::Card { visual, reader } => {
            let e = rt.block_on(card_check(&service, visual, reader))?;
            print_eligibility(&e);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads the PIN from the terminal with echo off (`stty`), never from a pipe:
/// a PIN in a file or a shell history is a leaked PIN.
fn read_pin() -> Result<onshi_core::protocol::Pin, Fail> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(Fail(Bilingual::new(
            "暗証番号は端末から直接入力してください（パイプやファイルからは受け付けません）。",
            "Type the PIN at a terminal; it is not accepted from a pipe or a file.",
        )));
    }
    let stty = |arg: &str| std::process::Command::new("stty").arg(arg).stdin(std::process::Stdio::inherit()).status();
    let echo_off = stty("-echo").is_ok_and(|s| s.success());
    if !echo_off {
        return Err(Fail(Bilingual::new(
            "入力を隠せないため、暗証番号を受け付けません（stty が使えません）。",
            "Cannot hide the input (stty is not available), so the PIN is not asked.",
        )));
    }
    eprint!("暗証番号（4桁） / PIN (4 digits): ");
    let _ = std::io::stderr().flush();
    let mut line = zeroize::Zeroizing::new(String::new());
    let read = std::io::stdin().lock().read_line(&mut line);
    let _ = stty("echo");
    eprintln!();
    read.map_err(|_| Fail(Bilingual::new("暗証番号を読み取れませんでした。", "Could not read the PIN.")))?;
    Ok(onshi_core::protocol::Pin::new(line.trim_end_matches(['\r', '\n']))?)
}

async fn card_check(
    service: &service::runtime::Runtime,
    visual: bool,
    reader: Option<String>,
) -> Result<onshi_core::protocol::Eligibility, Fail> {
    use onshi_helper::card::flows;
    use onshi_helper::card::jpki::PinTries;
    use onshi_helper::card::transport::Pcsc;
    let pcsc = Pcsc::establish().map_err(flows::CardError::from)?;
    let mut card = pcsc.connect(reader.as_deref()).map_err(flows::CardError::from)?;
    let mode = if visual { onshi_core::protocol::ConfirmMode::Visual } else { onshi_core::protocol::ConfirmMode::Pin };
    let (certificate_der, signature, nonce) = if visual {
        let cert = card.flow(|t| flows::read_certificate(t))?;
        let ch = service.backend_challenge().await?;
        (cert, Vec::new(), ch.nonce)
    } else {
        let tries = match card.flow(|t| flows::pin_status(t))? {
            PinTries::Locked => return Err(flows::CardError::PinLocked.into()),
            PinTries::Left(n) => n,
        };
        eprintln!("暗証番号の残り回数 / PIN tries left: {tries}");
        let pin = read_pin()?;
        let mut last = false;
        if tries == 1 {
            eprint!("残り1回です。間違えるとロックされます。続けますか? (yes) / Last try; a wrong PIN locks the card. Continue? (yes): ");
            let mut answer = String::new();
            let _ = std::io::stdin().read_line(&mut answer);
            last = answer.trim() == "yes";
        }
        let ch = service.backend_challenge().await?;
        let nonce = ch.nonce.clone();
        let proof = card.flow(move |t| flows::confirm_with_pin(t, &pin, &nonce, last))?;
        (proof.cert_der, proof.signature, ch.nonce)
    };
    let proof = onshi_helper::backend::CardProof { certificate_der, signature, nonce, mode, consents: Default::default() };
    Ok(service.card_confirm_cli(&proof).await?)
}

/// Reads a CSV with the core's batch reader (one set of column and cell
/// rules for the page and the command line), printing its findings.
fn read_csv(file: &Path) -> Result<onshi_core::batch_csv::BatchCsv, Fail> {
    let bytes = std::fs::read(file).map_err(|e| {
        Fail(Bilingual::new(format!("ファイル {} を読めません（{e}）。", file.display()), format!("Cannot read {} ({e}).", file.display())))
    })?;
    let csv = onshi_core::batch_csv::read(&bytes, &onshi_core::batch_csv::CsvLimits::default())?;
    for d in &csv.diagnostics {
        let level = match d.severity {
            onshi_core::Severity::Error => "ERROR",
            onshi_core::Severity::Warning => "WARN",
            onshi_core::Severity::Info => "INFO",
        };
        eprintln!("{}:{}: {level} {} / {}", file.display(), d.line, d.message.ja, d.message.en);
    }
    Ok(csv)
}

fn reference_cmd(ctx: &Context, c: ReferenceCommand) -> Result<ExitCode, Fail> {
    let ReferenceCommand::Import { file } = c;
    let csv = read_csv(&file)?;
    // The 患者ID column, in Column::ALL order.
    let pid = onshi_core::batch_csv::Column::ALL.iter().position(|c| *c == onshi_core::batch_csv::Column::PatientId).unwrap_or(7);
    let mut entries = Vec::new();
    let mut lines = Vec::new();
    let mut bad = csv.error_rows();
    for row in &csv.rows {
        let Some(entry) = &row.entry else { continue };
        let id = row.cells[pid].trim();
        if id.is_empty() {
            eprintln!("{}:{}: ERROR 患者ID（照会番号）がありません。 / The patient id (reference number) is missing.", file.display(), row.line);
            bad += 1;
            continue;
        }
        entries.push(onshi_core::protocol::ReferenceEntry { insured: entry.insured.clone(), reference_number: id.to_owned() });
        lines.push(row.line);
    }
    if bad > 0 {
        return Err(Fail(Bilingual::new(
            format!("{bad} 行に誤りがあるため送信しませんでした。上の行番号を見てCSVを直してください。"),
            format!("Not sent: {bad} rows have errors. Fix the CSV at the lines listed above."),
        )));
    }
    if entries.is_empty() {
        return Err(Fail(Bilingual::new("CSVに患者の行がありません。", "The CSV has no patient rows.")));
    }
    let rt = runtime()?;
    let service = cli_runtime(ctx)?;
    let (institution, today) = service.with_dispatcher(|d| d.institution_and_today())?;
    let request = service::eligibility::references(&institution, &today, &entries)?;
    let r = rt.block_on(service.references(None, request))?;
    let onshi_core::protocol::Response::ReferenceRegister(r) = r else { return Err(Fail(onshi_core::protocol::ProtocolError::new(onshi_core::protocol::ErrorCode::Internal).message)) };
    for e in &r.rejected {
        let line = lines.get(e.index as usize).copied().unwrap_or(0);
        eprintln!("{}:{line}: ERROR {} / {}", file.display(), e.error.message.ja, e.error.message.en);
    }
    let reception = r.reception_number.as_deref().unwrap_or("-");
    say(&Bilingual::new(
        format!("{} 人分の照会番号を登録しました（受付番号: {reception}、登録できなかった行: {}）。", r.accepted, r.rejected.len()),
        format!("Registered reference numbers for {} people (reception number: {reception}; rows not registered: {}).", r.accepted, r.rejected.len()),
    ));
    if r.results_pending {
        say(&Bilingual::new(
            format!("ただし資格確認システムからの行ごとの結果がまだ届いていません（受付番号: {reception}）。しばらくして同じファイルをもう一度取り込むと結果が分かります（同じ照会番号は上書きされるだけです）。"),
            format!("The eligibility system's per-row results have not arrived yet (reception number: {reception}). Import the same file again in a while to see them (the same reference numbers are only overwritten)."),
        ));
    }
    Ok(if r.rejected.is_empty() && !r.results_pending { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn batch_cmd(ctx: &Context, c: BatchCommand) -> Result<ExitCode, Fail> {
    use onshi_core::protocol::Response;
    use service::dispatch::parse_batch_id;
    let rt = runtime()?;
    let service = cli_runtime(ctx)?;
    match c {
        BatchCommand::Submit { file, date } => {
            // One CSV reader for the page and this command (docs/batch-csv.md).
            let csv = read_csv(&file)?;
            let bad = csv.error_rows();
            if bad > 0 {
                // Submitting part of a day's list silently would leave patients
                // unchecked; the person fixes the file and submits it whole.
                return Err(Fail(Bilingual::new(
                    format!("{bad} 行に誤りがあるため送信しませんでした。上の行番号を見てCSVを直してください。"),
                    format!("Not submitted: {bad} rows have errors. Fix the CSV at the lines listed above."),
                )));
            }
            let entries = csv.entries();
            if entries.is_empty() {
                return Err(Fail(Bilingual::new("CSVに患者の行がありません。", "The CSV has no patient rows.")));
            }
            let date = match (date, csv.confirmation_date.clone()) {
                (Some(d), _) | (None, Some(d)) => d,
                (None, None) => ctx.tomorrow()?,
            };
            let (institution, _) = service.with_dispatcher(|d| d.institution_and_today())?;
            let xml = service::eligibility::batch_upload(&institution, &date, &entries)?;
            let count = u32::try_from(entries.len()).unwrap_or(u32::MAX);
            let r = rt.block_on(async { service.batch_submit(None, &xml, count).await })?;
            if let Response::BatchSubmit(b) = r {
                say(&Bilingual::new(
                    format!("{} 人分の一括照会を送りました。番号: {}（「onshi-helper batch status {}」で確認）", b.accepted, b.batch_id, b.batch_id),
                    format!("Submitted a batch of {} people as {} (check with \"onshi-helper batch status {}\").", b.accepted, b.batch_id, b.batch_id),
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        BatchCommand::Status { id } => {
            let job = parse_batch_id(&id)?;
            let j = service.with_store(|s| s.job(job))?;
            let c = j.counts.unwrap_or_default();
            println!(
                "{id}: {} submitted={} reception={} polls={} total={} normal={} errors={}{}",
                j.state.as_str(),
                j.submitted_at,
                j.reception_number.as_ref().map(|r| r.as_str()).unwrap_or("-"),
                j.attempts,
                c.total,
                c.succeeded,
                c.failed,
                j.error.as_ref().map(|e| format!(" error={}", e.as_str())).unwrap_or_default(),
            );
            Ok(ExitCode::SUCCESS)
        }
        BatchCommand::Fetch { id } => {
            let job = parse_batch_id(&id)?;
            if let Some(Response::BatchResults(r)) = service.with_dispatcher(|d| d.batch_results(job))? {
                println!("{}", r.xml);
                return Ok(ExitCode::SUCCESS);
            }
            match rt.block_on(service.poll_once(job))? {
                service::eligibility::BatchAnswer::Processing => {
                    problem(&Bilingual::new(
                        format!("{id} はまだ処理中です。しばらくしてからもう一度実行してください。"),
                        format!("{id} is still being processed. Try again shortly."),
                    ));
                    Ok(ExitCode::from(2))
                }
                service::eligibility::BatchAnswer::Done { .. } => {
                    if let Some(Response::BatchResults(r)) = service.with_dispatcher(|d| d.batch_results(job))? {
                        println!("{}", r.xml);
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}

fn doctor_cmd(config: Option<PathBuf>, socket: Option<PathBuf>, env: &Env, os: Os) -> Result<ExitCode, Fail> {
    let config_path = match config {
        Some(p) => p,
        None => paths::config_file(env, os)?,
    };
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("onshi-helper"));
    let now_secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let inputs = onshi_helper::doctor::Inputs {
        config: Config::load(&config_path),
        socket: ipc::socket_path(socket.as_deref(), env).ok(),
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

/// Where the config and the store are, and the clinic's UTC offset.
struct Context {
    store_path: PathBuf,
    offset_minutes: i32,
    config: Option<Config>,
}

impl Context {
    fn new(config: Option<PathBuf>, store: Option<PathBuf>, env: &Env, os: Os) -> Result<Context, Fail> {
        let explicit = config.is_some();
        let config_path = match config {
            Some(p) => p,
            None => paths::config_file(env, os)?,
        };
        // Without a config file the defaults apply; a config that exists but
        // cannot be read is an error, so a typo never silently changes paths.
        let cfg = match Config::load(&config_path) {
            Ok(c) => Some(c),
            Err(ConfigError::NotFound { .. }) if !explicit => None,
            Err(e) => return Err(e.into()),
        };
        let store_path = match (store, cfg.as_ref().and_then(|c| c.store_path.clone())) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => paths::data_file(env, os)?,
        };
        let offset_minutes = match &cfg {
            Some(c) => c.offset_minutes().ok_or_else(|| {
                Fail(Bilingual::new(
                    "設定の utc_offset が不正です。`onshi-helper config check` で確認してください。",
                    "utc_offset in the config is invalid; run `onshi-helper config check`.",
                ))
            })?,
            None => 9 * 60,
        };
        Ok(Context { store_path, offset_minutes, config: cfg })
    }

    /// Opens the store only if it exists: reading commands must not create
    /// an empty database in a wrong place and report "nothing there".
    fn open_existing(&self) -> Result<Store, Fail> {
        if !self.store_path.exists() {
            return Err(Fail(Bilingual::new(
                format!("データベース {} がありません。ヘルパーのサービスが一度も起動していないか、--store / store_path の指定が違います。", self.store_path.display()),
                format!("The database {} does not exist; the helper service has never run, or --store / store_path points elsewhere.", self.store_path.display()),
            )));
        }
        Ok(Store::open(&self.store_path)?)
    }

    /// Tomorrow in the clinic's time, `YYYYMMDD` (the usual batch date).
    fn tomorrow(&self) -> Result<String, Fail> {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Ok(Timestamp::from_unix(secs + 86_400, self.offset_minutes)?.day().as_str().replace('-', ""))
    }

    fn now(&self) -> Result<Timestamp, Fail> {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Ok(Timestamp::from_unix(secs, self.offset_minutes)?)
    }
}

fn browsers(list: &[Browser]) -> Vec<Browser> {
    if list.is_empty() { Browser::ALL.to_vec() } else { list.to_vec() }
}

fn scope(a: &LocationArgs) -> Scope {
    match (&a.profile_dir, a.system) {
        (Some(d), _) => Scope::ProfileDir(d.clone()),
        (None, true) => Scope::System,
        (None, false) => Scope::User,
    }
}

fn exe(a: &LocationArgs) -> Result<PathBuf, Fail> {
    match &a.exe {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe().map_err(|e| {
            Fail(Bilingual::new(
                format!("ヘルパー自身の場所が分かりません（{e}）。--exe で指定してください。"),
                format!("Cannot find this helper's own path ({e}); give it with --exe."),
            ))
        }),
    }
}

fn report(done: &[Done]) -> ExitCode {
    let mut bad = false;
    for d in done {
        match d {
            Done::Wrote(p) => println!("書き込み / wrote: {}", p.display()),
            Done::Removed(p) => println!("削除 / removed: {}", p.display()),
            Done::Absent(p) => println!("なし / not present: {}", p.display()),
            Done::NotOurs(p) => {
                bad = true;
                problem(&Bilingual::new(
                    format!("{} はこのヘルパーが書いたものではないため残しました。内容を確認し、不要なら手で削除してください。", p.display()),
                    format!("{} was not written by this helper and was left alone; check it and delete it by hand if unwanted.", p.display()),
                ));
            }
        }
    }
    if bad { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

fn install_cmd(a: InstallArgs, env: &Env, os: Os) -> Result<ExitCode, Fail> {
    let id_text = a.extension_id.clone().or_else(|| install::BUILT_IN_EXTENSION_ID.map(str::to_owned));
    let extension_id = id_text.as_deref().map(ExtensionId::new).transpose()?;
    let opts = InstallOptions {
        browsers: browsers(&a.location.browsers),
        scope: scope(&a.location),
        extension_id,
        exe: absolute(exe(&a.location)?),
        autostart: !a.no_autostart,
    };
    let mut plan = install::plan_install(&opts, os, env)?;
    if a.root.is_some() && os == Os::Windows {
        // Windows registers manifests in the registry, which has no staging folder.
        return Err(Fail(Bilingual::new(
            "--root は Linux と macOS のパッケージ作成用です。Windows ではインストーラー（MSI）を使ってください。",
            "--root is for building Linux and macOS packages; on Windows use the installer (MSI).",
        )));
    }
    if let Some(root) = &a.root {
        for p in &mut plan {
            p.path = under_root(root, &p.path);
        }
    }
    Ok(report(&install::apply(&plan)?))
}

/// `path` moved below `root`: `/etc/x` → `root/etc/x` (a drive prefix is dropped too).
fn under_root(root: &Path, path: &Path) -> PathBuf {
    use std::path::Component;
    root.join(path.components().filter(|c| !matches!(c, Component::Prefix(_) | Component::RootDir)).collect::<PathBuf>())
}

fn uninstall_cmd(a: LocationArgs, env: &Env, os: Os) -> Result<ExitCode, Fail> {
    let exe = absolute(exe(&a)?);
    let plan = install::plan_uninstall(&browsers(&a.browsers), &scope(&a), os, env, &exe)?;
    Ok(report(&install::remove(&plan)?))
}

/// Makes a relative `--exe` absolute against the current folder.
fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        return p;
    }
    std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
}

fn config_check(config: Option<PathBuf>, env: &Env, os: Os) -> Result<ExitCode, Fail> {
    let path = match config {
        Some(p) => p,
        None => paths::config_file(env, os)?,
    };
    let cfg = Config::load(&path)?;
    let problems = cfg.check();
    for p in &problems {
        problem(&p.explain());
    }
    if problems.is_empty() {
        say(&Bilingual::new(
            format!("設定 {} に問題はありません。", path.display()),
            format!("The configuration {} has no problems.", path.display()),
        ));
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

fn card_cmd(c: CardCommand) -> Result<ExitCode, Fail> {
    use onshi_helper::card::flows::{self, CardError};
    use onshi_helper::card::jpki::PinTries;
    use onshi_helper::card::transport::Pcsc;
    let pcsc = Pcsc::establish().map_err(CardError::from)?;
    match c {
        CardCommand::Status => {
            let readers = pcsc.readers().map_err(CardError::from)?;
            if readers.is_empty() {
                return Err(CardError::NoReader.into());
            }
            for r in readers {
                if !r.card_present {
                    println!("{}: カードなし / no card", r.name);
                    continue;
                }
                let status = pcsc.connect(Some(&r.name)).map_err(CardError::from).and_then(|mut card| card.flow(|t| flows::pin_status(t)));
                match status {
                    Ok(PinTries::Left(n)) => println!("{}: マイナンバーカード、暗証番号の残り{n}回 / My Number card, {n} PIN tries left", r.name),
                    Ok(PinTries::Locked) => println!("{}: マイナンバーカード、暗証番号ロック中 / My Number card, PIN locked", r.name),
                    Err(e) => {
                        let b = e.explain();
                        println!("{}: {} / {}", r.name, b.ja, b.en);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        CardCommand::ReadCert { reader } => {
            let mut card = pcsc.connect(reader.as_deref()).map_err(CardError::from)?;
            let der = card.flow(|t| flows::read_certificate(t))?;
            let (_, cert) = x509_parser::parse_x509_certificate(&der)
                .map_err(|_| Fail(Bilingual::new("カードの証明書を読み取れませんでした。", "The certificate on the card could not be parsed.")))?;
            println!("reader: {}", card.reader());
            println!("subject: {}", cert.subject());
            println!("issuer: {}", cert.issuer());
            println!("not_before: {}", cert.validity().not_before);
            println!("not_after: {}", cert.validity().not_after);
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_root_keeps_the_planned_path_below_the_staging_folder() {
        let root = Path::new("/tmp/stage");
        assert_eq!(under_root(root, Path::new("/etc/chromium/x.json")), Path::new("/tmp/stage/etc/chromium/x.json"));
        assert_eq!(under_root(root, Path::new("usr/lib/y")), Path::new("/tmp/stage/usr/lib/y"));
    }
}
