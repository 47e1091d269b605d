//! `batch`: 一括照会 (batch pre-check) from a CSV file: submit it whole or
//! not at all, ask for its state, fetch its result. The CSV is read by the
//! core's one batch reader, shared with the page and `reference import`.

use std::path::Path;
use std::process::ExitCode;

use onshi_core::text::Bilingual;
use onshi_helper::service;

use super::args::BatchCommand;
use super::context::{cli_runtime, runtime, Context};
use super::output::{problem, say, write_received, Fail};

pub fn run(ctx: &Context, c: BatchCommand) -> Result<ExitCode, Fail> {
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
                "{id}: {} submitted={} reception={} polls={} total={} normal={} errors={}{}{}",
                j.state.as_str(),
                j.submitted_at,
                j.reception_number.as_ref().map(|r| r.as_str()).unwrap_or("-"),
                j.attempts,
                c.total,
                c.succeeded,
                c.failed,
                j.error.as_ref().map(|e| format!(" error={}", e.as_str())).unwrap_or_default(),
                // Which desk polls (or finished) it, so IT can tell whose PC a stuck batch waits on.
                j.lease.as_ref().filter(|l| !l.owner.is_empty()).map(|l| format!(" desk={} lease_until={}", l.owner, l.until)).unwrap_or_default(),
            );
            Ok(ExitCode::SUCCESS)
        }
        BatchCommand::Fetch { id, out } => {
            let job = parse_batch_id(&id)?;
            let show = |r: &onshi_core::protocol::BatchResultsReply| -> Result<(), Fail> {
                println!("{}", r.xml);
                out.as_deref().map_or(Ok(()), |path| write_received(path, r.received.as_ref()))
            };
            if let Some(Response::BatchResults(r)) = service.with_dispatcher(|d| d.batch_results(job))? {
                show(&r)?;
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
                        show(&r)?;
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
    }
}

/// Reads a CSV with the core's batch reader (one set of column and cell
/// rules for the page and the command line), printing its findings.
pub fn read_csv(file: &Path) -> Result<onshi_core::batch_csv::BatchCsv, Fail> {
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
