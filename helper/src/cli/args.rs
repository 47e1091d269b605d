//! The command line's shape: every subcommand, flag and help text, as clap
//! reads them. No behaviour lives here; `main.rs` dispatches each command to
//! its module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use onshi_helper::browser::Browser;

#[derive(Parser)]
#[command(name = "onshi-helper", version, about = "Onshi reception helper (オンライン資格確認ヘルパー)")]
pub struct Cli {
    /// The config file (default: the per-OS location, see `config paths`).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// The database file (default: store_path from the config, else the per-OS location).
    #[arg(long, global = true)]
    pub store: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
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
        /// Stop this user's running service instead (uninstall and upgrade
        /// run it: Windows cannot replace a running exe).
        #[arg(long)]
        stop: bool,
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
    /// For installer builds (`cargo xtask package`): what a Windows package
    /// writes — manifests, registry keys, the Run value — as JSON.
    #[command(hide = true)]
    PackageParts {
        /// The helper's file name as the manifests name it (relative to them).
        #[arg(long)]
        exe_file: String,
        /// How the installer refers to the installed starter (e.g. `[#starter]`).
        #[arg(long)]
        starter: String,
    },
}

#[derive(Subcommand)]
pub enum CheckCommand {
    /// By the numbers on an insurance card / 資格確認書. Prints the result XML on
    /// stdout as UTF-8 text (to read); `--out` writes the file for receipt software.
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
        /// Also write the result to FILE exactly as the system sent it (often Shift_JIS).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
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
        /// Also write the result to FILE exactly as the system sent it (often Shift_JIS).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum BatchCommand {
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
    /// Ask for batch ID's result now; prints the result XML (UTF-8 text, to
    /// read) when it is ready.
    Fetch {
        id: String,
        /// Also write the result to FILE exactly as the system sent it
        /// (often Shift_JIS): the file for receipt software.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum ReferenceCommand {
    /// Register the patient ids in FILE.csv: the batch CSV's columns (see
    /// `batch submit`), with 患者ID/patient_id required on every row. Every
    /// row is checked first; a file with errors is not sent. One row uses the
    /// single form, more the bulk form.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
pub enum CardCommand {
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
pub struct LocationArgs {
    /// Comma-separated: chrome,chromium,edge,firefox (default: all).
    #[arg(long, value_delimiter = ',')]
    pub browsers: Vec<Browser>,
    /// Machine-wide locations (needs administrator rights).
    #[arg(long, conflicts_with = "profile_dir")]
    pub system: bool,
    /// A Chromium --user-data-dir: its NativeMessagingHosts folder only, no start-at-login.
    #[arg(long)]
    pub profile_dir: Option<PathBuf>,
    /// The helper binary the browser should start (default: this one).
    #[arg(long)]
    pub exe: Option<PathBuf>,
}

#[derive(Args)]
pub struct InstallArgs {
    #[command(flatten)]
    pub location: LocationArgs,
    /// The Chromium extension id (32 letters a-p).
    #[arg(long)]
    pub extension_id: Option<String>,
    /// Do not write the start-at-login entry.
    #[arg(long)]
    pub no_autostart: bool,
    /// Write the files under DIR instead of / (a package's staging folder);
    /// their contents still name the real locations.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check the config and the files it names; exit 1 on any problem.
    Check,
    /// Print the default locations of the config file and the database.
    Paths,
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Print the newest entries.
    Show {
        #[arg(long, default_value_t = 20)]
        last: u32,
    },
    /// Walk the hash chain; exit 1 if it is broken.
    Verify,
}

#[derive(Subcommand)]
pub enum PairingsCommand {
    /// Every pairing: id, origin, browser, extension, when it was made and its state
    List,
    /// Revoke every pairing of ORIGIN (e.g. https://clinic.example).
    Revoke { origin: String },
}
