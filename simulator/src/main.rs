//! The `onshi-sim` command line. Each subcommand is one simulated party.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use onshi_sim::{apdu_log::ApduLog, card::VirtualCard, pki, vpcd};

#[derive(Parser)]
#[command(name = "onshi-sim", about = "Everything outside the clinic PC, simulated.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the built reception page (dist/web) over HTTP on loopback.
    Web {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// The test PKI (gateway, clinic and JPKI test CAs).
    Pki {
        #[command(subcommand)]
        command: PkiCommand,
    },
    /// The synthetic insured-person registry (SQLite).
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// A virtual My Number card in a vpcd reader slot.
    Card {
        /// Person id whose certificate and key the card holds (see `pki init --person`).
        #[arg(long)]
        person: String,
        /// The test PKI folder made by `pki init`.
        #[arg(long)]
        pki: PathBuf,
        /// The card's user-authentication PIN (4 digits).
        #[arg(long, default_value = "1234")]
        pin: String,
        /// PIN tries before the card locks.
        #[arg(long, default_value_t = 3)]
        tries: u8,
        /// vpcd address (35963 = "Virtual PCD 00 00", 35964 = "… 00 01").
        #[arg(long, default_value = vpcd::DEFAULT_VPCD)]
        vpcd: String,
        /// Append every APDU (PINs masked) to this JSON-lines file.
        #[arg(long)]
        apdu_log: Option<PathBuf>,
        /// Fault: pull the card out after N APDUs.
        #[arg(long)]
        remove_after: Option<u64>,
        /// Fault: pull the card out in the middle of APDU N (received, never answered).
        #[arg(long)]
        pull_during: Option<u64>,
        /// What is put on the reader: the person's My Number card, a transit /
        /// bank card (no JPKI applet), or a card that gives no ATR (upside down).
        #[arg(long, value_enum, default_value = "my-number")]
        kind: CardKindArg,
        /// Fault: wait this many milliseconds before each answer.
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        /// How long to keep retrying while vpcd (pcscd) is not up yet.
        #[arg(long, default_value_t = 10)]
        connect_secs: u64,
    },
    /// The official terminal's shared folder: answers req/ into res/ (and .err).
    OqsFolder {
        /// The shared folder; req/, res/ and face/ are created inside if missing.
        #[arg(long)]
        dir: PathBuf,
        /// The registry made by `registry seed`.
        #[arg(long)]
        db: PathBuf,
        /// Encoding of the answers.
        #[arg(long, value_enum, default_value = "sjis")]
        encoding: EncodingArg,
        /// How often req/ is scanned, in milliseconds.
        #[arg(long, default_value_t = 200)]
        poll_ms: u64,
        /// How long a batch stays "still processing" (SegmentOfResult 2), in milliseconds.
        #[arg(long, default_value_t = 1000)]
        batch_delay_ms: u64,
        /// Append one JSON line per answer file (its length and SHA-256, never
        /// the body) to this file.
        #[arg(long)]
        log: Option<PathBuf>,
    },
    /// The terminal read a My Number card: push its result into DIR/face/.
    Face {
        /// The shared folder (as for `oqs-folder`); face/ is created if missing.
        #[arg(long)]
        dir: PathBuf,
        /// The registry made by `registry seed`.
        #[arg(long)]
        db: PathBuf,
        /// Whose card (person id; its card must be registered for insurance use).
        #[arg(long)]
        person: String,
        /// 医療機関コード in the result header and the file name.
        #[arg(long, default_value = pki::DEFAULT_INSTITUTION)]
        institution: String,
        /// The patient agreed to share the ceiling category (限度額).
        #[arg(long)]
        limit_consent: bool,
        /// Encoding of the result.
        #[arg(long, value_enum, default_value = "sjis")]
        encoding: EncodingArg,
    },
    /// The closed network's gateway: HTTPS with mutual TLS (see README).
    Gateway {
        /// The registry made by `registry seed` (opened read-write: card registration).
        #[arg(long)]
        db: PathBuf,
        /// The test PKI folder made by `pki init`.
        #[arg(long)]
        pki: PathBuf,
        /// Address to listen on; port 0 picks a free one (printed on stdout).
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: String,
        /// Encoding of the XML answers.
        #[arg(long, value_enum, default_value = "sjis")]
        encoding: EncodingArg,
        /// How long a batch stays "still processing" (SegmentOfResult 2), in milliseconds.
        #[arg(long, default_value_t = 1000)]
        batch_delay_ms: u64,
        /// How long a card challenge nonce is accepted, in seconds.
        #[arg(long, default_value_t = 120)]
        nonce_ttl_secs: u64,
        /// Fault: wait this long before every answer.
        #[arg(long, default_value_t = 0)]
        fault_latency_ms: u64,
        /// Fault: answer this percentage of requests with HTTP 503.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        fault_5xx_percent: u8,
        /// Fault: close the connection without an answer for this percentage of requests.
        #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
        fault_drop_percent: u8,
        /// Fault: stall every answer's body halfway for this long.
        #[arg(long, default_value_t = 0)]
        fault_slow_body_ms: u64,
        /// Append one JSON line per request (never bodies) to this file.
        #[arg(long)]
        log: Option<PathBuf>,
        /// Judge card certificates on this day, YYYYMMDD (default: Japan's date by the clock).
        #[arg(long, value_name = "YYYYMMDD")]
        today: Option<String>,
        /// Declare a disaster (issue 16): `all:START-END` or `13,14:START-END`
        /// (prefecture codes 01–47, days YYYYMMDD, inclusive). Repeatable.
        #[arg(long, value_name = "AREA:START-END")]
        disaster: Vec<String>,
        /// Also read declarations from this file (one a line, `#` comments),
        /// again on every disaster request: edit it to declare or end one
        /// while the gateway runs. A missing file declares nothing.
        #[arg(long, value_name = "FILE")]
        disaster_file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CardKindArg {
    MyNumber,
    Transit,
    Blank,
}

impl CardKindArg {
    fn foreign(self) -> Option<onshi_sim::foreign_card::Kind> {
        match self {
            CardKindArg::MyNumber => None,
            CardKindArg::Transit => Some(onshi_sim::foreign_card::Kind::Transit),
            CardKindArg::Blank => Some(onshi_sim::foreign_card::Kind::Blank),
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EncodingArg {
    Sjis,
    Utf8,
}

#[derive(Subcommand)]
enum PkiCommand {
    /// Create what is missing of the test PKI in DIR (existing files are kept).
    Init {
        dir: PathBuf,
        /// 医療機関コード in the clinic client certificate.
        #[arg(long, default_value = pki::DEFAULT_INSTITUTION)]
        institution: String,
        /// Person ids to issue JPKI certificates for (repeatable; default P0001–P0003).
        #[arg(long = "person")]
        people: Vec<String>,
        /// Seed of the deterministic RSA keys.
        #[arg(long, default_value_t = pki::DEFAULT_SEED)]
        seed: u64,
        /// Also issue the certificate-state people (pki::CERT_CASES: expires
        /// in 30 days, lapsed 20 days ago, lapsed 200 days ago) relative to
        /// this day, YYYYMMDD (`today` = Japan's date by the clock).
        #[arg(long, value_name = "YYYYMMDD")]
        cert_cases_on: Option<String>,
    },
}

#[derive(Subcommand)]
enum RegistryCommand {
    /// Write a new deterministic registry (the file must not exist).
    Seed {
        #[arg(long)]
        db: PathBuf,
        #[arg(long, default_value_t = 200)]
        people: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Web { dir, listen } => web(dir, &listen),
        Command::Pki { command: PkiCommand::Init { dir, institution, people, seed, cert_cases_on } } => {
            let mut opts = pki::PkiOptions { institution, seed, ..Default::default() };
            if !people.is_empty() {
                opts.people = people;
            }
            if let Some(day) = cert_cases_on {
                match day_arg(&day) {
                    Ok(d) => opts = opts.cert_cases(d),
                    Err(code) => return code,
                }
            }
            pki_init(dir, &opts)
        }
        Command::Registry { command: RegistryCommand::Seed { db, people, seed } } => {
            match onshi_sim::registry::seed(&db, people, seed) {
                Ok(r) => {
                    println!(
                        "registry ready in {}: {} people, {} qualifications, {} probes",
                        db.display(),
                        r.people,
                        r.qualifications,
                        r.probes
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    let m = e.explain();
                    fail(&m.ja, &m.en)
                }
            }
        }
        Command::Card { person, pki, pin, tries, vpcd, apdu_log, remove_after, pull_during, kind, delay_ms, connect_secs } => {
            let opts = CardArgs { person, pki, pin, tries, vpcd, apdu_log, remove_after, pull_during, kind, delay_ms, connect_secs };
            card(opts)
        }
        Command::OqsFolder { dir, db, encoding, poll_ms, batch_delay_ms, log } => {
            let encoding = encoding.into();
            let opts = onshi_sim::folder::FolderOptions {
                dir,
                db,
                encoding,
                poll: Duration::from_millis(poll_ms),
                batch_delay: Duration::from_millis(batch_delay_ms),
                log,
            };
            match onshi_sim::folder::run(&opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let m = e.explain();
                    fail(&m.ja, &m.en)
                }
            }
        }
        Command::Face { dir, db, person, institution, limit_consent, encoding } => {
            match onshi_sim::folder::push_face(&dir, &db, &person, &institution, limit_consent, encoding.into()) {
                Ok(path) => {
                    println!("{}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    let m = e.explain();
                    fail(&m.ja, &m.en)
                }
            }
        }
        Command::Gateway {
            db,
            pki,
            listen,
            encoding,
            batch_delay_ms,
            nonce_ttl_secs,
            fault_latency_ms,
            fault_5xx_percent,
            fault_drop_percent,
            fault_slow_body_ms,
            log,
            today,
            disaster,
            disaster_file,
        } => {
            let mut opts = onshi_sim::gateway::GatewayOptions::new(db, pki);
            for text in &disaster {
                match onshi_core::disaster::Declaration::parse(text) {
                    Ok(d) => opts.disaster.fixed.push(d),
                    Err(e) => {
                        let m = onshi_core::text::Explain::explain(&e);
                        return fail(&m.ja, &m.en);
                    }
                }
            }
            opts.disaster.file = disaster_file;
            if let Some(day) = today {
                match day_arg(&day) {
                    Ok(d) => opts.today = Some(d),
                    Err(code) => return code,
                }
            }
            opts.listen = listen;
            opts.encoding = encoding.into();
            opts.batch_delay = Duration::from_millis(batch_delay_ms);
            opts.nonce_ttl = Duration::from_secs(nonce_ttl_secs);
            opts.log = log;
            opts.faults = onshi_sim::gateway::Faults {
                latency: Duration::from_millis(fault_latency_ms),
                error_percent: fault_5xx_percent,
                drop_percent: fault_drop_percent,
                slow_body: Duration::from_millis(fault_slow_body_ms),
            };
            match onshi_sim::gateway::run(&opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    let m = e.explain();
                    fail(&m.ja, &m.en)
                }
            }
        }
    }
}

impl From<EncodingArg> for onshi_core::Encoding {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::Sjis => onshi_core::Encoding::ShiftJis,
            EncodingArg::Utf8 => onshi_core::Encoding::Utf8,
        }
    }
}

/// `YYYYMMDD`, or `today` (Japan's calendar day by the clock).
fn day_arg(text: &str) -> Result<onshi_core::wareki::Date, ExitCode> {
    let text = if text == "today" { onshi_sim::folder::now_jst()[..8].to_string() } else { text.to_string() };
    onshi_core::wareki::Date::parse_yyyymmdd(&text)
        .map_err(|_| fail(&format!("日付「{text}」は YYYYMMDD の形で指定してください。"), &format!("the day {text:?} must be YYYYMMDD")))
}

/// Prints a two-language error and returns exit code 1.
fn fail(ja: &str, en: &str) -> ExitCode {
    eprintln!("{ja}\n{en}");
    ExitCode::from(1)
}

fn web(dir: PathBuf, listen: &str) -> ExitCode {
    let listener = match TcpListener::bind(listen) {
        Ok(l) => l,
        Err(e) => return fail(&format!("ポート {listen} を開けません: {e}"), &format!("cannot listen on {listen}: {e}")),
    };
    // The bound address goes to stdout so a parent that asked for port 0 learns the port.
    match listener.local_addr() {
        Ok(addr) => println!("http://{addr}/"),
        Err(e) => eprintln!("{e}"),
    }
    match onshi_sim::web::serve(listener, dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("Web サーバーが止まりました: {e}"), &format!("web server stopped: {e}")),
    }
}

fn pki_init(dir: PathBuf, opts: &pki::PkiOptions) -> ExitCode {
    match pki::init(&dir, opts) {
        Ok(report) => {
            for (label, ms) in &report.rsa_keygen_ms {
                eprintln!("RSA-2048 key {label}: {ms} ms");
            }
            println!(
                "pki ready in {}: {} files created, {} kept",
                dir.display(),
                report.created.len(),
                report.kept.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let m = e.explain();
            fail(&m.ja, &m.en)
        }
    }
}

struct CardArgs {
    person: String,
    pki: PathBuf,
    pin: String,
    tries: u8,
    vpcd: String,
    apdu_log: Option<PathBuf>,
    remove_after: Option<u64>,
    pull_during: Option<u64>,
    kind: CardKindArg,
    delay_ms: u64,
    connect_secs: u64,
}

fn card(a: CardArgs) -> ExitCode {
    let person = match pki::load_person(&a.pki, &a.person) {
        Ok(p) => p,
        Err(e) => {
            let m = e.explain();
            return fail(&m.ja, &m.en);
        }
    };
    let mut card = match VirtualCard::new(person, &a.pin, a.tries) {
        Ok(c) => c,
        Err(e) => {
            let m = e.explain();
            return fail(&m.ja, &m.en);
        }
    };
    let log = match a.apdu_log.as_deref().map(ApduLog::open).transpose() {
        Ok(l) => l,
        Err(e) => {
            return fail(
                &format!("APDU ログを開けません: {e}"),
                &format!("cannot open the APDU log: {e}; check the --apdu-log path"),
            );
        }
    };
    let mut opts = vpcd::Options {
        remove_after: a.remove_after,
        pull_during: a.pull_during,
        foreign: a.kind.foreign(),
        delay: Duration::from_millis(a.delay_ms),
        log,
    };
    let stream = match vpcd::connect(&a.vpcd, Duration::from_secs(a.connect_secs)) {
        Ok(s) => s,
        Err(e) => {
            return fail(
                &format!("カードリーダー（vpcd {}）につながりません。pcscd が起動しているか確認してください。", a.vpcd),
                &format!("cannot reach vpcd at {}: {e}; is pcscd running with vsmartcard-vpcd?", a.vpcd),
            );
        }
    };
    // SIGINT/SIGTERM keep their default action (end the process); the OS
    // closes the socket, which vpcd sees as the card being pulled out.
    println!("card ready: person {} on vpcd {} (PIN tries {})", a.person, a.vpcd, card.tries_left());
    match vpcd::serve(stream, &mut card, &mut opts) {
        Ok(vpcd::Ending::VpcdClosed) => {
            eprintln!("vpcd が接続を閉じました / vpcd closed the connection");
            ExitCode::SUCCESS
        }
        Ok(vpcd::Ending::Removed { apdus }) => {
            eprintln!("カードを抜きました（{apdus} APDU 後） / card removed after {apdus} APDUs");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("vpcd との通信が切れました: {e}"), &format!("vpcd link failed: {e}")),
    }
}
