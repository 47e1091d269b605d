//! Tomorrow's appointments as CSV → the entries of a `batch_submit`, with a
//! diagnostic per row and column for everything a person must fix first.
//!
//! Reading never panics and never stops at a bad row: the file is refused
//! as a whole only when it cannot be read at all (encoding, size, no header,
//! a required column missing). The number and date rules are the core's own
//! (`numbers`, `wareki`, `validate`); this module only finds the fields.
//! Column names are documented in `docs/batch-csv.md`.
//!
//! ```
//! use onshi_core::batch_csv::{read, CsvLimits};
//! let csv = "保険者番号,記号,番号,枝番,生年月日,氏名,予約日,患者ID\r\n\
//!            39131156,,12345678,,S15.1.1,山田 太郎,2025/4/2,P001\r\n";
//! let batch = read(csv.as_bytes(), &CsvLimits::default()).unwrap();
//! assert_eq!(batch.entries().len(), 1);
//! assert_eq!(batch.rows[0].entry.as_ref().unwrap().insured.birth_date, "19400101");
//! assert_eq!(batch.confirmation_date.as_deref(), Some("20250402"));
//! ```

use serde::{Deserialize, Serialize};

use crate::diag::Severity;
use crate::protocol::{BatchEntry, InsuredPerson};
use crate::text::{Bilingual, Explain};
use crate::validate::{validate_search_input, SearchInput};
use crate::wareki;
use crate::xml::{self, Encoding, ParseError};

/// The columns this reader knows. Header names are matched after trimming,
/// ignoring ASCII case, spaces and underscores (see [`Column::from_header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Insurer,
    Symbol,
    Number,
    Branch,
    Birth,
    Name,
    Date,
    PatientId,
}

impl Column {
    pub const ALL: [Column; 8] = [
        Column::Insurer, Column::Symbol, Column::Number, Column::Branch,
        Column::Birth, Column::Name, Column::Date, Column::PatientId,
    ];

    /// Without these a row cannot be checked at all.
    pub const REQUIRED: [Column; 3] = [Column::Insurer, Column::Number, Column::Birth];

    /// The Japanese header name written in templates and shown in reports.
    pub fn ja(self) -> &'static str {
        match self {
            Column::Insurer => "保険者番号",
            Column::Symbol => "記号",
            Column::Number => "番号",
            Column::Branch => "枝番",
            Column::Birth => "生年月日",
            Column::Name => "氏名",
            Column::Date => "予約日",
            Column::PatientId => "患者ID",
        }
    }

    /// The English header name.
    pub fn en(self) -> &'static str {
        match self {
            Column::Insurer => "insurer",
            Column::Symbol => "symbol",
            Column::Number => "number",
            Column::Branch => "branch",
            Column::Birth => "birth",
            Column::Name => "name",
            Column::Date => "date",
            Column::PatientId => "patient_id",
        }
    }

    /// Every accepted spelling, already normalised by [`normalise_header`].
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Insurer => &["保険者番号", "insurer", "insurernumber"],
            Column::Symbol => &["記号", "symbol", "被保険者証記号"],
            Column::Number => &["番号", "number", "被保険者証番号", "被保険者番号"],
            Column::Branch => &["枝番", "branch", "branchnumber"],
            Column::Birth => &["生年月日", "birth", "birthdate", "dateofbirth"],
            Column::Name => &["氏名", "name", "患者氏名", "名前"],
            Column::Date => &["予約日", "date", "受診日", "appointmentdate"],
            Column::PatientId => &["患者id", "patientid", "患者番号", "カルテ番号"],
        }
    }

    /// The column a header cell names, if any.
    pub fn from_header(cell: &str) -> Option<Column> {
        let n = normalise_header(cell);
        Column::ALL.into_iter().find(|c| c.aliases().contains(&n.as_str()))
    }
}

/// Header cells are compared without case, spaces, underscores or hyphens,
/// and with full-width ASCII folded, so `Patient_ID`, `patient id` and
/// `患者ＩＤ` all match.
fn normalise_header(cell: &str) -> String {
    cell.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Caps on what is read, so a wrong file (a whole database export) is
/// refused at once instead of freezing the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvLimits {
    pub max_bytes: usize,
    /// Data rows (the header and blank lines do not count).
    pub max_rows: usize,
}

impl Default for CsvLimits {
    fn default() -> Self {
        // 10,000 appointments is far beyond a clinic's day; 5 MB holds them
        // with long names and ids.
        Self { max_bytes: 5 * 1024 * 1024, max_rows: 10_000 }
    }
}

/// Why the file as a whole could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CsvError {
    #[error("empty file")]
    Empty,
    #[error("file of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("more than {limit} data rows")]
    TooManyRows { limit: usize },
    /// Neither UTF-8 nor Shift_JIS (CP932), or UTF-16.
    #[error("cannot decode the file: {reason}")]
    Encoding { reason: String },
    /// The file ends inside a quoted field that began on `line`.
    #[error("quoted field opened on line {line} is never closed")]
    UnclosedQuote { line: usize },
    #[error("no header row naming the columns")]
    NoHeader,
    #[error("required column {} is missing", .column.en())]
    MissingColumn { column: Column },
}

impl CsvError {
    /// The stable machine-readable code (the same string serde writes).
    pub fn code(&self) -> &'static str {
        match self {
            CsvError::Empty => "empty",
            CsvError::TooLarge { .. } => "too_large",
            CsvError::TooManyRows { .. } => "too_many_rows",
            CsvError::Encoding { .. } => "encoding",
            CsvError::UnclosedQuote { .. } => "unclosed_quote",
            CsvError::NoHeader => "no_header",
            CsvError::MissingColumn { .. } => "missing_column",
        }
    }
}

impl Explain for CsvError {
    fn explain(&self) -> Bilingual {
        match self {
            CsvError::Empty => Bilingual::new("ファイルが空です。予約一覧をCSVで保存し直してください。", "The file is empty. Save the appointment list as CSV again."),
            CsvError::TooLarge { size, limit } => Bilingual::new(
                format!("ファイルが大きすぎます（{size}バイト、上限{limit}バイト）。予約一覧だけを書き出したCSVを選んでください。"),
                format!("The file is too large ({size} bytes, limit {limit}). Choose a CSV with only the appointment list."),
            ),
            CsvError::TooManyRows { limit } => Bilingual::new(
                format!("行が多すぎます（上限{limit}行）。日付ごとに分けて読み込んでください。"),
                format!("Too many rows (limit {limit}). Split the file by date and import each part."),
            ),
            CsvError::Encoding { reason } => Bilingual::new(
                format!("文字コードを読み取れません（{reason}）。UTF-8 または Shift_JIS のCSVで保存し直してください。"),
                format!("Cannot read the characters ({reason}). Save the CSV as UTF-8 or Shift_JIS."),
            ),
            CsvError::UnclosedQuote { line } => Bilingual::new(
                format!("{line}行目で始まる「\"」が閉じられていません。表計算ソフトでCSVとして保存し直してください。"),
                format!("The quote opened on line {line} is never closed. Save the file as CSV from the spreadsheet again."),
            ),
            CsvError::NoHeader => Bilingual::new(
                "1行目に列名（保険者番号・番号・生年月日 など）がありません。列名の行を付けてください。",
                "The first row does not name the columns (insurer, number, birth …). Add a header row.",
            ),
            CsvError::MissingColumn { column } => Bilingual::new(
                format!("必須の列「{}」がありません。列名の行に「{}」を加えてください。", column.ja(), column.ja()),
                format!("The required column \"{}\" is missing. Add \"{}\" to the header row.", column.en(), column.en()),
            ),
        }
    }
}

/// One finding about one row (and usually one cell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowDiagnostic {
    /// Line number in the file where the row starts (the header is line 1).
    pub line: usize,
    /// The cell, when the finding is about one.
    pub column: Option<Column>,
    pub severity: Severity,
    /// Stable code: the validator's own (`check_digit`, `not_calendar_date` …)
    /// or this reader's (`extra_fields`, `mixed_dates`, `duplicate`).
    pub code: String,
    pub message: Bilingual,
}

/// One appointment as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRow {
    pub line: usize,
    /// The entry to submit; `None` when a cell has an error.
    pub entry: Option<BatchEntry>,
    /// 氏名 as written (not sent; shown in the report and matched to results).
    pub name: String,
    /// 予約日 as `YYYYMMDD`, when given and valid.
    pub date: Option<String>,
    /// The cells as written, in [`Column::ALL`] order (for the report).
    pub cells: [String; 8],
}

/// The whole file as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchCsv {
    pub encoding: Encoding,
    pub rows: Vec<BatchRow>,
    /// Sorted by line.
    pub diagnostics: Vec<RowDiagnostic>,
    /// The appointment date shared by every dated row, if they agree.
    pub confirmation_date: Option<String>,
}

impl BatchCsv {
    /// The entries of the rows without errors, in file order.
    pub fn entries(&self) -> Vec<BatchEntry> {
        self.rows.iter().filter_map(|r| r.entry.clone()).collect()
    }

    /// Rows that cannot be submitted.
    pub fn error_rows(&self) -> usize {
        self.rows.iter().filter(|r| r.entry.is_none()).count()
    }
}

/// Splits CSV text into records (RFC 4180: `"` quotes, `""` inside quotes,
/// CRLF or LF, newlines inside quotes). Each record carries its first line.
fn records(text: &str, max_records: usize) -> Result<Vec<(usize, Vec<String>)>, CsvError> {
    let mut out = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut quote_line = 1usize;
    let mut chars = text.chars().peekable();
    // A record of only empty fields is a blank line (spreadsheets write ",,,").
    let push = |fields: &mut Vec<String>, start: usize, out: &mut Vec<(usize, Vec<String>)>| -> Result<(), CsvError> {
        let record = std::mem::take(fields);
        if record.iter().any(|f| !f.trim().is_empty()) {
            // +1: the header is a record too.
            if out.len() > max_records {
                return Err(CsvError::TooManyRows { limit: max_records });
            }
            out.push((start, record));
        }
        Ok(())
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.trim().is_empty() => {
                field.clear();
                in_quotes = true;
                quote_line = line;
            }
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                fields.push(std::mem::take(&mut field));
                push(&mut fields, start_line, &mut out)?;
                line += 1;
                start_line = line;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(CsvError::UnclosedQuote { line: quote_line });
    }
    fields.push(field);
    push(&mut fields, start_line, &mut out)?;
    Ok(out)
}

/// Reads the file: bytes (UTF-8 with or without BOM, or Shift_JIS/CP932) →
/// rows, entries and diagnostics.
pub fn read(bytes: &[u8], limits: &CsvLimits) -> Result<BatchCsv, CsvError> {
    // The core's decoder: BOM → UTF-8; valid UTF-8 → UTF-8; else CP932.
    // Its guess warning talks about XML declarations, so it is not passed on.
    let (text, encoding, _) = xml::decode(bytes, limits.max_bytes).map_err(|e| match e {
        ParseError::Empty => CsvError::Empty,
        ParseError::TooLarge { size, limit } => CsvError::TooLarge { size, limit },
        other => CsvError::Encoding { reason: other.to_string() },
    })?;
    let mut records = records(&text, limits.max_rows)?.into_iter();
    let (_, header) = records.next().ok_or(CsvError::NoHeader)?;
    let mut diagnostics = Vec::new();
    let mut index: [Option<usize>; 8] = [None; 8];
    for (i, cell) in header.iter().enumerate() {
        match Column::from_header(cell) {
            Some(c) if index[c as usize].is_none() => index[c as usize] = Some(i),
            Some(c) => diagnostics.push(RowDiagnostic {
                line: 1, column: Some(c), severity: Severity::Warning, code: "duplicate_column".into(),
                message: Bilingual::new(
                    format!("列「{}」が2回あります。左の列を使いました。", c.ja()),
                    format!("Column \"{}\" appears twice; the leftmost is used.", c.en()),
                ),
            }),
            None if cell.trim().is_empty() => {}
            None => diagnostics.push(RowDiagnostic {
                line: 1, column: None, severity: Severity::Info, code: "unknown_column".into(),
                message: Bilingual::new(
                    format!("列「{}」は使いません（読み飛ばしました）。", cell.trim()),
                    format!("Column \"{}\" is not used (skipped).", cell.trim()),
                ),
            }),
        }
    }
    if index.iter().all(Option::is_none) {
        return Err(CsvError::NoHeader);
    }
    if let Some(column) = Column::REQUIRED.into_iter().find(|c| index[*c as usize].is_none()) {
        return Err(CsvError::MissingColumn { column });
    }
    let mut rows = Vec::new();
    for (line, fields) in records {
        let cells: [String; 8] = std::array::from_fn(|c| {
            index[c].and_then(|i| fields.get(i)).map(|s| s.trim().to_string()).unwrap_or_default()
        });
        if fields.len() > header.len() {
            diagnostics.push(RowDiagnostic {
                line, column: None, severity: Severity::Warning, code: "extra_fields".into(),
                message: Bilingual::new(
                    format!("列名より多い{}個の値があります。「,」を含む値は「\"」で囲んでください。", fields.len()),
                    format!("{} values but fewer column names. Quote values that contain a comma.", fields.len()),
                ),
            });
        }
        rows.push(read_row(line, cells, &mut diagnostics));
    }
    // Rows may differ in date only by mistake: a batch is for one day.
    let mut dates: Vec<&str> = rows.iter().filter_map(|r| r.date.as_deref()).collect();
    dates.sort_unstable();
    dates.dedup();
    let confirmation_date = match dates.as_slice() {
        [one] => Some(one.to_string()),
        [] => None,
        many => {
            diagnostics.push(RowDiagnostic {
                line: 1, column: Some(Column::Date), severity: Severity::Warning, code: "mixed_dates".into(),
                message: Bilingual::new(
                    format!("予約日が{}種類あります（{}〜{}）。一括照会は1日分ずつ送ってください。", many.len(), many[0], many[many.len() - 1]),
                    format!("The file has {} different dates ({} to {}). Submit one day at a time.", many.len(), many[0], many[many.len() - 1]),
                ),
            });
            None
        }
    };
    diagnostics.sort_by_key(|d| d.line);
    Ok(BatchCsv { encoding, rows, diagnostics, confirmation_date })
}

fn read_row(line: usize, cells: [String; 8], diagnostics: &mut Vec<RowDiagnostic>) -> BatchRow {
    let cell = |c: Column| cells[c as usize].as_str();
    let mut errors = 0;
    let mut report = |column: Column, severity: Severity, code: &str, message: Bilingual| {
        if severity == Severity::Error {
            errors += 1;
        }
        diagnostics.push(RowDiagnostic { line, column: Some(column), severity, code: code.to_string(), message });
    };
    // 生年月日 may be 和暦 (S40.1.1, 昭和40年1月1日) or 西暦; the core's reader
    // says exactly what is wrong, so its own words are used.
    let birth = if cell(Column::Birth).is_empty() {
        report(Column::Birth, Severity::Error, "empty", Bilingual::new("生年月日を入れてください。", "Enter the birth date."));
        None
    } else {
        match wareki::parse(cell(Column::Birth)) {
            Ok(d) => Some(d.yyyymmdd()),
            Err(e) => {
                report(Column::Birth, Severity::Error, e.code(), e.explain());
                None
            }
        }
    };
    let date = if cell(Column::Date).is_empty() {
        None
    } else {
        match wareki::parse(cell(Column::Date)) {
            Ok(d) => Some(d.yyyymmdd()),
            Err(e) => {
                report(Column::Date, Severity::Error, e.code(), e.explain());
                None
            }
        }
    };
    let input = SearchInput {
        insurer_number: cell(Column::Insurer).to_string(),
        symbol: cell(Column::Symbol).to_string(),
        number: cell(Column::Number).to_string(),
        branch: cell(Column::Branch).to_string(),
        // A placeholder keeps the validator from repeating the birth-date error.
        birthdate: birth.clone().unwrap_or_else(|| "20000101".into()),
    };
    let (info, found) = validate_search_input(&input);
    for d in found {
        let column = match d.path.as_str() {
            "insurer_number" => Column::Insurer,
            "symbol" => Column::Symbol,
            "number" => Column::Number,
            "branch" => Column::Branch,
            _ => Column::Birth,
        };
        report(column, d.severity, &d.code, d.message);
    }
    let patient_id = cell(Column::PatientId);
    if patient_id.chars().count() > 64 {
        report(Column::PatientId, Severity::Error, "too_long", Bilingual::new(
            "患者IDは64文字までです。",
            "The patient id has at most 64 characters.",
        ));
    }
    let entry = match (info, birth) {
        (Some(info), Some(birth)) if errors == 0 => Some(BatchEntry {
            insured: InsuredPerson {
                // The validator returns the XML's space-padded form; the
                // protocol carries the bare digits.
                insurer_number: info.insurer_number.unwrap_or_default().trim().to_string(),
                symbol: info.insured_card_symbol,
                number: info.insured_identification_number.unwrap_or_default(),
                branch: info.insured_branch_number,
                birth_date: birth,
            },
            arbitrary_id: (!patient_id.is_empty()).then(|| patient_id.to_string()),
        }),
        _ => None,
    };
    let name = cell(Column::Name).to_string();
    BatchRow { line, entry, name, date, cells }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "保険者番号,記号,番号,枝番,生年月日,氏名,予約日,患者ID\r\n";

    /// (row text after the ja header, expected (column, code) findings).
    fn check(row: &str, expected: &[(Option<Column>, &str)]) {
        let text = format!("{HEADER}{row}\r\n");
        let batch = read(text.as_bytes(), &CsvLimits::default()).unwrap();
        let got: Vec<_> = batch.diagnostics.iter().map(|d| (d.column, d.code.as_str())).collect();
        assert_eq!(got, expected, "{row}");
        let has_error = expected.iter().any(|(_, code)| !matches!(*code, "extra_fields"));
        assert_eq!(batch.rows[0].entry.is_none(), has_error, "{row}");
        for d in &batch.diagnostics {
            assert!(!d.message.ja.is_empty() && !d.message.en.is_empty());
            assert_eq!(d.line, 2);
        }
    }

    #[test]
    fn rows_table() {
        use Column::*;
        check("39131156,,12345678,,S15.1.1,山田,2025/4/2,P1", &[]);
        check("138057,記号1,0012,01,1960-01-05,,,", &[]);
        check("３９１３１１５６,,12345678,,令和元年5月1日,,,", &[]);
        check("39131157,,12345678,,19400101,,,", &[(Some(Insurer), "check_digit")]);
        check("39131156,,,,19400101,,,", &[(Some(Number), "empty")]);
        check("39131156,,1,1,19400101,,,", &[(Some(Branch), "invalid_branch")]);
        check("39131156,,1,,H31.5.1,,,", &[(Some(Birth), "outside_era")]);
        check("39131156,,1,,2025/2/30,,,", &[(Some(Birth), "not_calendar_date")]);
        check("39131156,,1,,,,,", &[(Some(Birth), "empty")]);
        check("39131156,,1,,19400101,,2025/13/1,", &[(Some(Date), "not_calendar_date")]);
        check("39131156,,1,,19400101,,明日,", &[(Some(Date), "unrecognised")]);
        check("39131156,,1,,19400101,,,,extra", &[(None, "extra_fields")]);
    }

    #[test]
    fn entry_fields() {
        let text = format!("{HEADER}138057,\"記号,1\",0012,01,S40.1.2,\"山田 \"\"太郎\"\"\",R7.4.2,P-9\r\n");
        let b = read(text.as_bytes(), &CsvLimits::default()).unwrap();
        let e = b.rows[0].entry.clone().unwrap();
        assert_eq!(e.insured.insurer_number, "138057");
        assert_eq!(e.insured.symbol.as_deref(), Some("記号,1"));
        assert_eq!(e.insured.number, "0012");
        assert_eq!(e.insured.branch.as_deref(), Some("01"));
        assert_eq!(e.insured.birth_date, "19650102");
        assert_eq!(e.arbitrary_id.as_deref(), Some("P-9"));
        assert_eq!(b.rows[0].name, "山田 \"太郎\"");
        assert_eq!(b.confirmation_date.as_deref(), Some("20250402"));
    }

    #[test]
    fn encodings_headers_and_lines() {
        // English header, LF only, UTF-8 BOM, a blank line and a ",,," line.
        let utf8 = "\u{FEFF}Insurer,Number,Birth,Patient_ID\n39131156,1,19400101,A\n\n,,,\n39131156,2,19400102,B";
        let b = read(utf8.as_bytes(), &CsvLimits::default()).unwrap();
        assert_eq!(b.encoding, Encoding::Utf8);
        assert_eq!(b.entries().len(), 2);
        assert_eq!(b.rows[1].line, 5);
        // Shift_JIS (CP932): "保険者番号,番号,生年月日\r\n39131156,1,S15.1.1\r\n".
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("保険者番号,番号,生年月日,氏名\r\n39131156,1,S15.1.1,髙橋\r\n");
        let b = read(&sjis, &CsvLimits::default()).unwrap();
        assert_eq!(b.encoding, Encoding::ShiftJis);
        assert_eq!(b.rows[0].name, "髙橋");
        assert_eq!(b.entries()[0].insured.birth_date, "19400101");
        // A newline inside quotes: the next record's line counts it.
        let multi = "番号,保険者番号,生年月日,氏名\n1,39131156,19400101,\"a\nb\"\n2,39131157,19400101,c\n";
        let b = read(multi.as_bytes(), &CsvLimits::default()).unwrap();
        assert_eq!(b.rows[1].line, 4);
        assert_eq!(b.diagnostics[0].line, 4);
    }

    #[test]
    fn whole_file_refusals() {
        let l = CsvLimits::default();
        assert_eq!(read(b"", &l), Err(CsvError::Empty));
        assert_eq!(read(b"a,b\n1,2\n", &l), Err(CsvError::NoHeader));
        assert_eq!(read("保険者番号,番号\n1,2".as_bytes(), &l), Err(CsvError::MissingColumn { column: Column::Birth }));
        assert_eq!(read("番号,保険者番号,生年月日\n\"1,2,3\n".as_bytes(), &l), Err(CsvError::UnclosedQuote { line: 2 }));
        assert!(matches!(read(b"\xFF\xFEa\x00", &l), Err(CsvError::Encoding { .. })));
        assert!(matches!(read(b"\x85\x40\x85", &l), Err(CsvError::Encoding { .. })));
        let small = CsvLimits { max_bytes: 10, max_rows: 2 };
        assert_eq!(read(b"01234567890", &small), Err(CsvError::TooLarge { size: 11, limit: 10 }));
        let rows = "番号,保険者番号,生年月日\n1,1,1\n2,2,2\n";
        assert!(read(rows.as_bytes(), &CsvLimits { max_bytes: 999, max_rows: 2 }).is_ok());
        let rows = "番号,保険者番号,生年月日\n1,1,1\n2,2,2\n3,3,3\n";
        assert_eq!(read(rows.as_bytes(), &CsvLimits { max_bytes: 999, max_rows: 2 }), Err(CsvError::TooManyRows { limit: 2 }));
        for e in [CsvError::Empty, CsvError::NoHeader, CsvError::MissingColumn { column: Column::Number }] {
            assert!(!e.explain().ja.is_empty() && !e.code().is_empty());
        }
    }

    #[test]
    fn header_findings_and_mixed_dates() {
        let text = "保険者番号,番号,番号,生年月日,メモ,予約日\n39131156,1,9,19400101,x,20250402\n39131156,2,9,19400101,x,20250403\n";
        let b = read(text.as_bytes(), &CsvLimits::default()).unwrap();
        let codes: Vec<_> = b.diagnostics.iter().map(|d| d.code.as_str()).collect();
        assert_eq!(codes, ["duplicate_column", "unknown_column", "mixed_dates"]);
        assert_eq!(b.confirmation_date, None);
        assert_eq!(b.entries()[1].insured.number, "2", "leftmost duplicate column wins");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..2000 {
            let len = (seed % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    b"\",\r\n19S.R/0a\x82\xa0\xff"[(seed % 15) as usize]
                })
                .collect();
            let with_header = ["番号,保険者番号,birth\n".as_bytes(), &bytes].concat();
            let _ = read(&bytes, &CsvLimits::default());
            let _ = read(&with_header, &CsvLimits::default());
        }
    }
}
