//! Results for receipt software (レセコン): one flat row per person checked,
//! written as CSV (UTF-8 with BOM, or Shift_JIS for older software), and the
//! standard result XML passed through unchanged. The same rows feed the
//! page's results table, so what is shown is what is exported.
//!
//! Verdicts come from `summary` (one rule, one place); this module only
//! flattens. Columns are documented in `docs/batch-csv.md`.

use serde::{Deserialize, Serialize};

use crate::message::{BatchUnit, Message, MessageHeader, Qualification};
use crate::summary::{self, ratio_label, Outcome};
use crate::text::Bilingual;
use crate::xml::{self, Encoding};

/// One person's result, flattened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultRow {
    /// Position in the result document, from 1.
    pub index: usize,
    pub outcome: Outcome,
    pub reason: Bilingual,
    /// The clinic's id echoed back (`ArbitraryIdentifier`), e.g. 患者ID.
    pub patient_id: String,
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub birth_date: String,
    /// The name exactly as received (● included: the export never "fixes" it).
    pub name: String,
    pub name_kana: String,
    /// [`crate::person_name::NameFlags::mark`]: `●あり`, `JIS外:髙`, or empty.
    #[serde(default)]
    pub name_flags: String,
    /// "3割" style, empty when absent.
    pub ratio: String,
    pub insurer_name: String,
    pub qualification_date: String,
    pub disqualification_date: String,
    pub card_expiration_date: String,
    pub elderly_ratio: String,
    /// 限度額適用区分 label.
    pub ceiling: String,
    pub processing_code: String,
    pub system_message: String,
}

impl ResultRow {
    /// A problem needs the receptionist's attention before the visit.
    pub fn is_problem(&self) -> bool {
        !matches!(self.outcome, Outcome::Valid | Outcome::ValidUnregistered)
    }
}

/// The stable code of an outcome (the serde name), for files and filters.
pub fn outcome_code(o: Outcome) -> &'static str {
    match o {
        Outcome::Valid => "valid",
        Outcome::ValidUnregistered => "valid_unregistered",
        Outcome::Invalid => "invalid",
        Outcome::NewerQualificationExists => "newer_qualification_exists",
        Outcome::NoMatch => "no_match",
        Outcome::SeveralMatches => "several_matches",
        Outcome::Error => "error",
        Outcome::StillProcessing => "still_processing",
        Outcome::Unclear => "unclear",
    }
}

/// A short label for a table cell and the CSV's 判定 column.
pub fn outcome_label(o: Outcome) -> Bilingual {
    let (ja, en) = match o {
        Outcome::Valid => ("有効", "Valid"),
        Outcome::ValidUnregistered => ("有効（未登録）", "Valid (unregistered)"),
        Outcome::Invalid => ("無効", "Invalid"),
        Outcome::NewerQualificationExists => ("新しい資格あり", "Newer qualification"),
        Outcome::NoMatch => ("該当なし", "No match"),
        Outcome::SeveralMatches => ("複数該当", "Several matches"),
        Outcome::Error => ("エラー", "Error"),
        Outcome::StillProcessing => ("処理中", "Processing"),
        Outcome::Unclear => ("不明", "Unclear"),
    };
    Bilingual::new(ja, en)
}

fn s(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or_default().to_string()
}

fn row(index: usize, header: &MessageHeader, unit: &BatchUnit) -> ResultRow {
    let summary = summary::summarize_unit(header, unit);
    let q: Option<&Qualification> = unit.entries().next();
    let search = unit.search.clone().unwrap_or_default();
    // What the system found wins; what was searched fills the gaps (no match).
    let pick = |found: Option<&Option<String>>, searched: &Option<String>| {
        found.map(s).filter(|v| !v.is_empty()).unwrap_or_else(|| s(searched))
    };
    ResultRow {
        index,
        outcome: summary.outcome,
        reason: summary.reason,
        patient_id: pick(q.map(|q| &q.arbitrary_identifier), &search.arbitrary_identifier),
        insurer_number: pick(q.map(|q| &q.insurer_number), &search.insurer_number),
        symbol: pick(q.map(|q| &q.insured_card_symbol), &search.insured_card_symbol),
        number: pick(q.map(|q| &q.insured_identification_number), &search.insured_identification_number),
        branch: pick(q.map(|q| &q.insured_branch_number), &search.insured_branch_number),
        birth_date: pick(q.map(|q| &q.birthdate), &search.birthdate),
        name: q.map(|q| s(&q.name)).unwrap_or_default(),
        name_kana: q.map(|q| s(&q.name_kana)).unwrap_or_default(),
        name_flags: q.and_then(|q| q.name.as_deref()).map(|n| crate::person_name::flags(n).mark()).unwrap_or_default(),
        ratio: q.and_then(|q| q.contribution_ratio.as_deref()).and_then(ratio_label).map(|b| b.ja).unwrap_or_default(),
        insurer_name: q.map(|q| s(&q.insurer_name)).unwrap_or_default(),
        qualification_date: q.map(|q| s(&q.qualification_date)).unwrap_or_default(),
        disqualification_date: q.map(|q| s(&q.disqualification_date)).unwrap_or_default(),
        card_expiration_date: q.map(|q| s(&q.card_expiration_date)).unwrap_or_default(),
        elderly_ratio: q
            .and_then(|q| q.elderly.as_ref())
            .and_then(|e| e.contribution_ratio.as_deref())
            .and_then(ratio_label)
            .map(|b| b.ja)
            .unwrap_or_default(),
        ceiling: q.and_then(summary::ceiling_label).map(|b| b.ja).unwrap_or_default(),
        processing_code: s(&unit.processing_result_code),
        system_message: summary.system_message.unwrap_or_default(),
    }
}

/// Why a message cannot be exported as rows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExportError {
    /// Only eligibility results (individual, card or batch) have rows.
    #[error("a {kind} message has no eligibility results")]
    NotAResult { kind: String },
}

impl crate::text::Explain for ExportError {
    fn explain(&self) -> Bilingual {
        match self {
            ExportError::NotAResult { kind } => Bilingual::new(
                format!("この電文（{kind}）には資格確認の結果がないため書き出せません。結果の電文を選んでください。"),
                format!("This message ({kind}) holds no eligibility results, so nothing can be exported. Choose a result message."),
            ),
        }
    }
}

/// The rows of an eligibility result: one per batch unit, or one for an
/// individual / card result.
pub fn result_rows(message: &Message) -> Result<Vec<ResultRow>, ExportError> {
    match message {
        Message::BatchDownloadResult(m) => {
            Ok(m.body.units.iter().enumerate().map(|(i, u)| row(i + 1, &m.header, u)).collect())
        }
        Message::IndividualResult(m) | Message::FaceResult(m) => {
            // An individual result has the same parts as a batch unit.
            let unit = BatchUnit {
                search: m.body.search.clone(),
                processing_result_status: m.body.processing_result_status.clone(),
                processing_result_code: m.body.processing_result_code.clone(),
                processing_result_message: m.body.processing_result_message.clone(),
                qualification_validity: m.body.qualification_validity.clone(),
                results: m.body.results.clone(),
                ..Default::default()
            };
            Ok(vec![row(1, &m.header, &unit)])
        }
        other => Err(ExportError::NotAResult { kind: format!("{:?}", other.kind()) }),
    }
}

/// The CSV file's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CsvEncoding {
    /// UTF-8 with a BOM, so Excel opens it as UTF-8.
    #[default]
    Utf8Bom,
    /// Shift_JIS (CP932) for older receipt software. Characters CP932
    /// cannot hold become 〓 (the customary substitute mark).
    ShiftJis,
}

/// The CSV columns, in order: (Japanese header, English key).
pub const CSV_COLUMNS: [(&str, &str); 21] = [
    ("No", "index"),
    ("判定", "outcome"),
    ("判定コード", "outcome_code"),
    ("患者ID", "patient_id"),
    ("保険者番号", "insurer"),
    ("記号", "symbol"),
    ("番号", "number"),
    ("枝番", "branch"),
    ("生年月日", "birth"),
    ("氏名", "name"),
    ("氏名カナ", "name_kana"),
    ("氏名注意", "name_flags"),
    ("負担割合", "ratio"),
    ("保険者名", "insurer_name"),
    ("資格取得日", "qualification_date"),
    ("資格喪失日", "disqualification_date"),
    ("有効期限", "card_expiration_date"),
    ("高齢受給者負担割合", "elderly_ratio"),
    ("限度額適用区分", "ceiling"),
    ("処理結果コード", "processing_code"),
    ("理由", "reason"),
];

/// A CSV field: quoted when it holds a comma, quote or line break. A
/// leading `=`, `+`, `-` or `@` gets a `'` so spreadsheets do not run it
/// as a formula (names and messages come from outside). Every CSV this
/// crate writes goes through here (the usage export too).
pub(crate) fn field(out: &mut String, value: &str) {
    let guarded;
    let value = if value.starts_with(['=', '+', '-', '@']) {
        guarded = format!("'{value}");
        guarded.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Rows → CSV text (CRLF line ends, header first), without encoding.
pub fn csv_text(rows: &[ResultRow]) -> String {
    let mut out = String::with_capacity(rows.len() * 160 + 256);
    let header: Vec<&str> = CSV_COLUMNS.iter().map(|(ja, _)| *ja).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for r in rows {
        let label = outcome_label(r.outcome).ja;
        let cells: [&str; 21] = [
            &r.index.to_string(), &label, outcome_code(r.outcome), &r.patient_id, &r.insurer_number,
            &r.symbol, &r.number, &r.branch, &r.birth_date, &r.name, &r.name_kana, &r.name_flags, &r.ratio,
            &r.insurer_name, &r.qualification_date, &r.disqualification_date, &r.card_expiration_date,
            &r.elderly_ratio, &r.ceiling, &r.processing_code, &r.reason.ja,
        ];
        line(&mut out, &cells);
    }
    out
}

/// One CSV line of fields, CRLF-terminated.
pub(crate) fn line(out: &mut String, cells: &[&str]) {
    for (i, c) in cells.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(out, c);
    }
    out.push_str("\r\n");
}

/// Rows → the bytes of a CSV file.
pub fn results_csv(rows: &[ResultRow], encoding: CsvEncoding) -> Vec<u8> {
    encode_csv(&csv_text(rows), encoding)
}

/// CSV text → the file's bytes in the chosen encoding.
pub(crate) fn encode_csv(text: &str, encoding: CsvEncoding) -> Vec<u8> {
    match encoding {
        CsvEncoding::Utf8Bom => {
            let mut out = Vec::with_capacity(text.len() + 3);
            out.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
            out.extend_from_slice(text.as_bytes());
            out
        }
        CsvEncoding::ShiftJis => {
            // XML's character references (&#128512;) would mean nothing in a
            // CSV, so a character Shift_JIS cannot hold becomes 〓.
            crate::sjis::encode_with(text, |_, out| out.extend_from_slice(&[0x81, 0xAC]))
        }
    }
}

/// The XML export's bytes (issue 14): the document exactly as the system
/// sent it when the helper handed those on (`received_base64`, from
/// [`crate::protocol::ReceivedXml`]), else — an older helper, the demo — the
/// text through [`results_xml`]. Re-encoding text can never promise the
/// system's bytes (its declaration was rewritten to UTF-8 while
/// `CharacterCodeIdentifier` still names Shift_JIS), so the bytes win.
pub fn xml_file(xml_text: &str, received_base64: Option<&str>) -> Vec<u8> {
    match received_base64.and_then(crate::gateway_wire::base64::decode) {
        Some(bytes) => bytes,
        None => results_xml(xml_text),
    }
}

/// The standard result XML text in the encoding its declaration names
/// (Shift_JIS unless it says UTF-8), so the file is what the interface
/// specifies and receipt software reads it like the terminal's. Only for
/// text without the received bytes ([`xml_file`]).
pub fn results_xml(xml_text: &str) -> Vec<u8> {
    let head: String = xml_text.chars().take(200).collect::<String>().to_ascii_lowercase();
    let encoding = if head.starts_with("<?xml") && !head.contains("utf-8") && !head.contains("utf8") {
        Encoding::ShiftJis
    } else {
        Encoding::Utf8
    };
    xml::encode_text(xml_text, encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14: the bytes as received are exported untouched (here Shift_JIS
    /// whose text the helper handed on as UTF-8); without them, the text.
    #[test]
    fn xml_export_is_the_received_bytes() {
        let sent = xml::encode_text("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\r\n<XmlMsg><Name>山田</Name></XmlMsg>", Encoding::ShiftJis);
        let text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<XmlMsg><Name>山田</Name></XmlMsg>";
        let received = crate::protocol::ReceivedXml::new(&sent, true);
        assert_eq!(xml_file(text, Some(&received.base64)), sent);
        assert_eq!(received.bytes().as_deref(), Some(&sent[..]));
        assert_eq!(xml_file(text, None), text.as_bytes());
        assert_eq!(xml_file(text, Some("not base64!")), text.as_bytes(), "unreadable base64 falls back to the text");
    }

    /// A batch result with: a valid unit, a no-match unit and an error unit.
    pub(crate) const BATCH: &str = r#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader>
<SegmentOfResult>1</SegmentOfResult><QualificationConfirmationDate>20250402</QualificationConfirmationDate>
</MessageHeader><MessageBody><ProcessingResultStatus>1</ProcessingResultStatus>
<BulkConfirmUnit><QualificationConfirmSearchInfo><InsurerNumber>39131156</InsurerNumber><InsuredIdentificationNumber>1</InsuredIdentificationNumber><Birthdate>19400101</Birthdate><ArbitraryIdentifier>P1</ArbitraryIdentifier></QualificationConfirmSearchInfo>
<ProcessingResultStatus>1</ProcessingResultStatus><QualificationValidity>1</QualificationValidity>
<ResultOfQualificationConfirmation><InsurerNumber>39131156</InsurerNumber><InsuredIdentificationNumber>1</InsuredIdentificationNumber><Name>=山田, "太郎"</Name><Birthdate>19400101</Birthdate><InsuredPartialContributionRatio>010</InsuredPartialContributionRatio><InsurerName>東京都後期高齢者医療広域連合</InsurerName></ResultOfQualificationConfirmation></BulkConfirmUnit>
<BulkConfirmUnit><QualificationConfirmSearchInfo><InsurerNumber>39131156</InsurerNumber><InsuredIdentificationNumber>2</InsuredIdentificationNumber><Birthdate>19400102</Birthdate><ArbitraryIdentifier>P2</ArbitraryIdentifier></QualificationConfirmSearchInfo>
<ProcessingResultStatus>1</ProcessingResultStatus><QualificationValidity>4</QualificationValidity></BulkConfirmUnit>
<BulkConfirmUnit><ProcessingResultStatus>2</ProcessingResultStatus><ProcessingResultCode>EMUQ0001</ProcessingResultCode><ProcessingResultMessage>入力誤り</ProcessingResultMessage></BulkConfirmUnit>
</MessageBody></XmlMsg>"#;

    fn rows() -> Vec<ResultRow> {
        let parsed = crate::parse(BATCH.as_bytes()).unwrap();
        result_rows(&parsed.message).unwrap()
    }

    #[test]
    fn rows_follow_the_summary_rule() {
        let r = rows();
        let got: Vec<_> = r.iter().map(|r| (r.outcome, r.patient_id.as_str(), r.number.as_str(), r.is_problem())).collect();
        assert_eq!(got, [
            (Outcome::Valid, "P1", "1", false),
            (Outcome::NoMatch, "P2", "2", true),
            (Outcome::Error, "", "", true),
        ]);
        assert_eq!(r[0].ratio, "1割");
        assert_eq!(r[2].processing_code, "EMUQ0001");
        assert_eq!(r[2].system_message, "入力誤り");
    }

    #[test]
    fn csv_quotes_guards_and_encodings() {
        let r = rows();
        let text = csv_text(&r);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!(lines[0].starts_with("No,判定,判定コード,患者ID,保険者番号"), "{}", lines[0]);
        assert!(lines[1].starts_with("1,有効,valid,P1,39131156,,1,,19400101,\"'=山田, \"\"太郎\"\"\","), "{}", lines[1]);
        assert!(lines[2].starts_with("2,該当なし,no_match,P2,"), "{}", lines[2]);
        assert_eq!(lines.len(), 5, "header + 3 rows + final CRLF");
        let utf8 = results_csv(&r, CsvEncoding::Utf8Bom);
        assert_eq!(&utf8[..3], &[0xEF, 0xBB, 0xBF]);
        let sjis = results_csv(&r, CsvEncoding::ShiftJis);
        let (back, _, bad) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(!bad);
        assert_eq!(back, text);
        // A character CP932 lacks becomes 〓, not an HTML reference.
        let mut odd = r[0].clone();
        odd.name = "𠮷田".into();
        let sjis = results_csv(&[odd], CsvEncoding::ShiftJis);
        let (back, _, _) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(back.contains("〓田") && !back.contains("&#"), "{back}");
    }

    #[test]
    fn a_flagged_name_is_exported_as_received_with_its_mark() {
        let doc = BATCH.replace("=山田, \"太郎\"", "●橋　髙志");
        let parsed = crate::parse(doc.as_bytes()).unwrap();
        let r = result_rows(&parsed.message).unwrap();
        assert_eq!((r[0].name.as_str(), r[0].name_flags.as_str()), ("●橋　髙志", "●あり／JIS外:髙"));
        assert_eq!(r[1].name_flags, "");
        let text = csv_text(&r);
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert!(lines[0].contains(",氏名,氏名カナ,氏名注意,負担割合,"), "{}", lines[0]);
        assert!(lines[1].contains(",●橋　髙志,,●あり／JIS外:髙,1割,"), "{}", lines[1]);
    }

    #[test]
    fn xml_passthrough_keeps_the_declared_encoding() {
        let sjis_doc = "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><XmlMsg><a>山田</a></XmlMsg>";
        assert_eq!(results_xml(sjis_doc), encoding_rs::SHIFT_JIS.encode(sjis_doc).0.into_owned());
        assert_eq!(results_xml(BATCH), BATCH.as_bytes());
    }

    #[test]
    fn requests_have_no_rows() {
        let req = crate::parse(br#"<?xml version="1.0" encoding="UTF-8"?><XmlMsg><MessageHeader><QualificationConfirmationDate>20250401</QualificationConfirmationDate><MedicalInstitutionCode>0110113719</MedicalInstitutionCode></MessageHeader><MessageBody><QualificationConfirmSearchInfo><InsurerNumber>39131156</InsurerNumber><InsuredIdentificationNumber>1</InsuredIdentificationNumber><Birthdate>19400101</Birthdate></QualificationConfirmSearchInfo></MessageBody></XmlMsg>"#).unwrap();
        assert!(matches!(result_rows(&req.message), Err(ExportError::NotAResult { .. })));
    }
}
