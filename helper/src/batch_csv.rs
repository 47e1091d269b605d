//! The batch CSV of `onshi-helper batch submit FILE.csv`: one person per
//! line, columns `insurer,symbol,number,branch,birth,name` (a header line
//! naming them is optional; `symbol`, `branch` and `name` may be empty).
//! Fields may be double-quoted (`""` inside quotes is a quote). UTF-8 with or
//! without BOM, or Shift_JIS as saved by Excel. Numbers are not checked
//! here: the core checks them when the batch is built.
//!
//! Temporary home: the core does not read CSV yet; once it does, this file
//! goes and the command uses the core's reader.

use onshi_core::protocol::{BatchEntry, InsuredPerson};
use onshi_core::text::{Bilingual, Explain};

/// The columns, in order.
pub const COLUMNS: [&str; 6] = ["insurer", "symbol", "number", "branch", "birth", "name"];

/// Why a CSV file could not be read. Line numbers count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvError {
    #[error("the file is neither UTF-8 nor Shift_JIS text")]
    Encoding,
    #[error("line {line}: {found} columns, expected 5 or 6 (insurer,symbol,number,branch,birth[,name])")]
    Columns { line: usize, found: usize },
    #[error("line {line}: a quoted field is not closed")]
    Quote { line: usize },
    #[error("no people in the file")]
    Empty,
}

impl Explain for CsvError {
    fn explain(&self) -> Bilingual {
        match self {
            CsvError::Encoding => Bilingual::new(
                "CSVファイルを文字として読めません。UTF-8 または Shift_JIS で保存し直してください。",
                "The CSV file is not readable text. Save it again as UTF-8 or Shift_JIS.",
            ),
            CsvError::Columns { line, found } => Bilingual::new(
                format!("CSVの{line}行目の列の数が{found}です。保険者番号,記号,番号,枝番,生年月日,氏名 の順に6列（氏名は省略可）にしてください。"),
                format!("Line {line} of the CSV has {found} columns. Use insurer,symbol,number,branch,birth,name (name optional)."),
            ),
            CsvError::Quote { line } => Bilingual::new(
                format!("CSVの{line}行目で \" が閉じていません。引用符を確認してください。"),
                format!("Line {line} of the CSV has an unclosed quote. Check the quotation marks."),
            ),
            CsvError::Empty => Bilingual::new(
                "CSVファイルに対象者が1人もいません。",
                "The CSV file lists nobody.",
            ),
        }
    }
}

fn split_line(line: &str, n: usize) -> Result<Vec<String>, CsvError> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => quoted = true,
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (false, ',') => {
                out.push(std::mem::take(&mut field).trim().to_owned());
                at_start = true;
                continue;
            }
            (_, c) => field.push(c),
        }
        at_start = false;
    }
    if quoted {
        return Err(CsvError::Quote { line: n });
    }
    out.push(field.trim().to_owned());
    Ok(out)
}

/// Reads the whole file into batch entries (`name` becomes the arbitrary id
/// echoed back in each result, so results can be matched to people).
pub fn read(bytes: &[u8]) -> Result<Vec<BatchEntry>, CsvError> {
    let text = match onshi_core::xml::decode(bytes, 64 << 20) {
        Ok((t, _, _)) => t.into_owned(),
        Err(_) if bytes.is_empty() => return Err(CsvError::Empty),
        Err(_) => return Err(CsvError::Encoding),
    };
    let mut entries = Vec::new();
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let f = split_line(line, n)?;
        if n == 1 && f.first().is_some_and(|h| h.eq_ignore_ascii_case("insurer")) {
            continue;
        }
        if !(5..=6).contains(&f.len()) {
            return Err(CsvError::Columns { line: n, found: f.len() });
        }
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        entries.push(BatchEntry {
            insured: InsuredPerson {
                insurer_number: f[0].clone(),
                symbol: opt(&f[1]),
                number: f[2].clone(),
                branch: opt(&f[3]),
                birth_date: f[4].clone(),
            },
            arbitrary_id: f.get(5).and_then(|s| opt(s)),
        });
    }
    if entries.is_empty() {
        return Err(CsvError::Empty);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// insurer, symbol, number, branch, birth, name.
    type Row<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, &'a str, Option<&'a str>);

    fn check(input: &str, expected: Result<Vec<Row<'_>>, CsvError>) {
        let got = read(input.as_bytes()).map(|v| {
            v.into_iter()
                .map(|e| (e.insured.insurer_number, e.insured.symbol, e.insured.number, e.insured.branch, e.insured.birth_date, e.arbitrary_id))
                .collect::<Vec<_>>()
        });
        let expected = expected.map(|v| {
            v.into_iter()
                .map(|(a, b, c, d, e, f)| (a.to_owned(), b.map(str::to_owned), c.to_owned(), d.map(str::to_owned), e.to_owned(), f.map(str::to_owned)))
                .collect::<Vec<_>>()
        });
        assert_eq!(got, expected, "{input:?}");
    }

    #[test]
    fn data() {
        check(
            "insurer,symbol,number,branch,birth,name\n39131156,記号1,0012,01,19600105,山田 太郎\n",
            Ok(vec![("39131156", Some("記号1"), "0012", Some("01"), "19600105", Some("山田 太郎"))]),
        );
        check("\u{feff}138057,,12, ,19400101\r\n\r\n# comment\n", Ok(vec![("138057", None, "12", None, "19400101", None)]));
        check("\"39131156\",\"a,\"\"b\",1,,19600105,x\n", Ok(vec![("39131156", Some("a,\"b"), "1", None, "19600105", Some("x"))]));
        check("1,2,3\n", Err(CsvError::Columns { line: 1, found: 3 }));
        check("1,\"2,3,4,5\n", Err(CsvError::Quote { line: 1 }));
        check("insurer,symbol,number,branch,birth,name\n", Err(CsvError::Empty));
        check("", Err(CsvError::Empty));
    }

    #[test]
    fn shift_jis_from_excel() {
        let bytes = onshi_core::xml::encode_text("39131156,記号,1,,19600105,山田\r\n", onshi_core::Encoding::ShiftJis);
        let v = read(&bytes).unwrap();
        assert_eq!(v[0].insured.symbol.as_deref(), Some("記号"));
        assert_eq!(v[0].arbitrary_id.as_deref(), Some("山田"));
    }
}
