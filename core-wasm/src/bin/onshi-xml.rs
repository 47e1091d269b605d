//! `onshi-xml`: the eligibility XML from the command line, for vendors and
//! the clinic IT person (parse, check numbers, build a request). Native only;
//! the only file access in onshi-core lives here, never in the library.
//!
//! Exit codes: 0 fine, 1 the input has errors (invalid number, error
//! diagnostics), 2 the file could not be read or was refused, or bad usage.

use std::collections::BTreeMap;
use std::process::ExitCode;

use onshi_core::message::{parse_named, Message};
use onshi_core::numbers;
use onshi_core::summary::{summarize_message, Outcome};
use onshi_core::text::{Bilingual, Explain};
use onshi_core::validate::{build_individual_request, IndividualRequestInput, SearchInput};
use onshi_core::{Encoding, Severity};
use serde_json::json;

const USAGE: &str = "usage:
  onshi-xml parse [--summary] FILE
  onshi-xml check insurer|public|institution NUMBER
  onshi-xml request individual --institution C --insurer N [--symbol S] --number N [--branch B] --birth YYYYMMDD --date YYYYMMDD [--utf8]
  onshi-xml wareki YYYYMMDD";

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["parse", "--summary", file] | ["parse", file, "--summary"] => parse(file, true),
        ["parse", file] => parse(file, false),
        ["check", kind, number] => check(kind, number),
        ["request", "individual", rest @ ..] => request(rest),
        ["wareki", date] => wareki(date),
        _ => usage(),
    }
}

/// `onshi-xml wareki YYYYMMDD` → the 和暦 date on stdout (exit 0), or the
/// reason on stderr (exit 1).
fn wareki(date: &str) -> ExitCode {
    match onshi_core::wareki::format_yyyymmdd(date) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let m = e.explain();
            eprintln!("{}\n{}", m.ja, m.en);
            ExitCode::from(1)
        }
    }
}

fn error_json(code: &str, message: &Bilingual, detail: String) -> serde_json::Value {
    json!({ "error": { "code": code, "message": message, "detail": detail } })
}

fn parse(file: &str, summary: bool) -> ExitCode {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            let msg = Bilingual::new(format!("ファイル「{file}」を読めません。"), format!("Cannot read {file:?}."));
            println!("{}", error_json("unreadable", &msg, e.to_string()));
            return ExitCode::from(2);
        }
    };
    let parsed = match parse_named(file, &bytes) {
        Ok(p) => p,
        Err(e) => {
            println!("{}", error_json(e.code(), &e.explain(), e.to_string()));
            return ExitCode::from(2);
        }
    };
    let errors = parsed.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    if summary {
        let summaries = summarize_message(&parsed.message);
        let mut outcomes: BTreeMap<Outcome, usize> = BTreeMap::new();
        for s in &summaries {
            *outcomes.entry(s.outcome).or_default() += 1;
        }
        let outcomes: BTreeMap<String, usize> = outcomes
            .into_iter()
            .map(|(k, v)| (serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(), v))
            .collect();
        let units = match &parsed.message {
            Message::BatchDownloadResult(m) => m.body.units.len(),
            Message::BatchUploadRequest(m) => m.body.searches.len(),
            Message::IndividualResult(m) | Message::FaceResult(m) => m.body.results.len(),
            Message::BulkRegistrationRequest(m) | Message::BulkRegistrationResult(m) => m.body.units.len(),
            _ => 0,
        };
        println!(
            "{}",
            json!({
                "kind": parsed.message.kind(),
                "encoding": parsed.encoding,
                "units": units,
                "outcomes": outcomes,
                "diagnostics": parsed.diagnostics.len(),
                "errors": errors,
            })
        );
    } else {
        let out = json!({
            "message": parsed.message,
            "diagnostics": parsed.diagnostics,
            "encoding": parsed.encoding,
            "summary": summarize_message(&parsed.message),
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    }
    // The process ends right after this; freeing a batch's message (hundreds
    // of thousands of small strings) one by one would only cost time, which
    // the OS reclaims at once anyway (issue 13).
    std::mem::forget(parsed);
    if errors > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn check(kind: &str, number: &str) -> ExitCode {
    let verdict = match kind {
        "insurer" => numbers::check_insurer(number).map(|n| (n.digits.clone(), n.explain())),
        "public" => numbers::check_public_expense(number).map(|n| (n.digits, Bilingual::new("正しい公費負担者番号です。", "Valid public-expense payer number."))),
        "institution" => numbers::check_institution(number).map(|n| (n.digits, Bilingual::new("正しい医療機関コードです。", "Valid medical institution code."))),
        _ => return usage(),
    };
    match verdict {
        Ok((digits, message)) => {
            println!("{}", json!({ "ok": true, "digits": digits, "message": message }));
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}", json!({ "ok": false, "code": e.code(), "message": e.explain() }));
            ExitCode::from(1)
        }
    }
}

fn request(args: &[&str]) -> ExitCode {
    let mut input = IndividualRequestInput::default();
    let mut search = SearchInput::default();
    let mut encoding = Encoding::ShiftJis;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if *flag == "--utf8" {
            encoding = Encoding::Utf8;
            continue;
        }
        let Some(value) = it.next() else { return usage() };
        let value = value.to_string();
        match *flag {
            "--institution" => input.institution = value,
            "--insurer" => search.insurer_number = value,
            "--symbol" => search.symbol = value,
            "--number" => search.number = value,
            "--branch" => search.branch = value,
            "--birth" => search.birthdate = value,
            "--date" => input.date = value,
            _ => return usage(),
        }
    }
    input.search = search;
    match build_individual_request(&input) {
        Ok(message) => {
            use std::io::Write;
            let bytes = message.write(encoding);
            match std::io::stdout().write_all(&bytes) {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::from(2),
            }
        }
        Err(diagnostics) => {
            println!("{}", json!({ "ok": false, "diagnostics": diagnostics }));
            ExitCode::from(1)
        }
    }
}
