//! `reference import`: registers patient reference numbers (照会番号) from
//! the batch CSV's columns, with 患者ID on every row. A file with any error
//! is not sent.

use std::process::ExitCode;

use onshi_core::text::Bilingual;
use onshi_helper::service;

use super::args::ReferenceCommand;
use super::batch::read_csv;
use super::context::{cli_runtime, runtime, Context};
use super::output::{say, Fail};

pub fn run(ctx: &Context, c: ReferenceCommand) -> Result<ExitCode, Fail> {
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
