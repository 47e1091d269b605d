//! Validation: rules over a typed message, returned as diagnostics next to
//! the value (never instead of it). Value rules (dates, numbers, codes) run
//! on every field that carries them through the generic walk; cross-field
//! rules live on the record they concern; message-level rules (required
//! fields per kind, batch counts) live here.
//!
//! The check digits themselves are `crate::numbers`; this module only says
//! where they apply.

use serde::{Deserialize, Serialize};

use crate::codes::*;
use crate::diag::{Diagnostic, Severity};
use crate::message::model::{Cx, Rules};
use crate::message::*;
use crate::numbers;
use crate::text::{ascii_digits, Bilingual, Explain};

/// A calendar date `YYYYMMDD` as (year, month, day) if it exists.
pub fn parse_date(s: &str) -> Option<(u16, u8, u8)> {
    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: u16 = s[0..4].parse().ok()?;
    let m: u8 = s[4..6].parse().ok()?;
    let d: u8 = s[6..8].parse().ok()?;
    let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    (y >= 1800 && (1..=days).contains(&d)).then_some((y, m, d))
}

/// A timestamp `YYYYMMDDHHmmss` that exists.
pub fn is_valid_timestamp(s: &str) -> bool {
    // Digits first: slicing by byte position is only safe on ASCII.
    s.len() == 14
        && s.bytes().all(|b| b.is_ascii_digit())
        && parse_date(&s[..8]).is_some()
        && s[8..10] < *"24"
        && s[10..12] < *"60"
        && s[12..14] < *"60"
}

/// Value rules named in `record!` declarations (`=> date` …). Each takes the
/// field, its element name and the context positioned at the record.
pub(crate) mod value {
    use super::*;

    fn present(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.trim().is_empty())
    }

    fn error(cx: &mut Cx, tag: &str, code: &str, message: Bilingual) {
        cx.report(Some(tag), Severity::Error, code, message);
    }

    pub fn date(v: &Option<String>, tag: &str, cx: &mut Cx) {
        if let Some(s) = present(v)
            && parse_date(s).is_none()
        {
            error(cx, tag, "invalid_date", Bilingual::new(
                format!("<{tag}>「{s}」は存在する日付（西暦YYYYMMDD）ではありません。"),
                format!("<{tag}> {s:?} is not a real date (YYYYMMDD)."),
            ));
        }
    }

    pub fn timestamp(v: &Option<String>, tag: &str, cx: &mut Cx) {
        if let Some(s) = present(v)
            && !is_valid_timestamp(s)
        {
            error(cx, tag, "invalid_timestamp", Bilingual::new(
                format!("<{tag}>「{s}」は正しい日時（YYYYMMDDHHmmss）ではありません。"),
                format!("<{tag}> {s:?} is not a valid timestamp (YYYYMMDDHHmmss)."),
            ));
        }
    }

    pub fn year_month(v: &Option<String>, tag: &str, cx: &mut Cx) {
        if let Some(s) = present(v)
            && (s.len() != 6 || parse_date(&format!("{s}01")).is_none())
        {
            error(cx, tag, "invalid_year_month", Bilingual::new(
                format!("<{tag}>「{s}」は正しい年月（YYYYMM）ではありません。"),
                format!("<{tag}> {s:?} is not a valid year and month (YYYYMM)."),
            ));
        }
    }

    fn number<T>(v: &Option<String>, tag: &str, cx: &mut Cx, check: fn(&str) -> Result<T, numbers::NumberError>) {
        if let Some(s) = present(v)
            && let Err(e) = check(s)
        {
            let message = e.explain();
            error(cx, tag, e.code(), message);
        }
    }

    pub fn insurer(v: &Option<String>, tag: &str, cx: &mut Cx) {
        number(v, tag, cx, numbers::check_insurer);
    }

    pub fn public(v: &Option<String>, tag: &str, cx: &mut Cx) {
        number(v, tag, cx, numbers::check_public_expense);
    }

    pub fn institution(v: &Option<String>, tag: &str, cx: &mut Cx) {
        number(v, tag, cx, numbers::check_institution);
    }

    pub fn branch(v: &Option<String>, tag: &str, cx: &mut Cx) {
        if let Some(s) = present(v)
            && !(s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
        {
            error(cx, tag, "invalid_branch", Bilingual::new(
                format!("枝番<{tag}>「{s}」は2桁の数字です。"),
                format!("The branch number <{tag}> {s:?} must be 2 digits."),
            ));
        }
    }

    pub fn ratio(v: &Option<String>, tag: &str, cx: &mut Cx) {
        if let Some(s) = present(v)
            && crate::summary::contribution_ratio(s).is_none()
        {
            error(cx, tag, "invalid_ratio", Bilingual::new(
                format!("負担割合<{tag}>「{s}」は0〜100の3桁の数字（例 030 = 3割）です。"),
                format!("The contribution ratio <{tag}> {s:?} must be 3 digits, 0–100 (e.g. 030 = 30 %)."),
            ));
        }
    }

    pub fn count(v: &Option<String>, tag: &str, cx: &mut Cx) {
        if let Some(s) = present(v)
            && s.trim().parse::<u32>().is_err()
        {
            error(cx, tag, "invalid_count", Bilingual::new(
                format!("件数<{tag}>「{s}」が数字ではありません。"),
                format!("The count <{tag}> {s:?} is not a number."),
            ));
        }
    }
}

/// Reports `from > to` when both are real dates.
fn order(cx: &mut Cx, from: (&str, &Option<String>), to: (&str, &Option<String>), code: &str) {
    let (Some(a), Some(b)) = (from.1.as_deref(), to.1.as_deref()) else { return };
    if parse_date(a).is_some() && parse_date(b).is_some() && a > b {
        cx.report(Some(to.0), Severity::Error, code, Bilingual::new(
            format!("<{}>（{b}）が<{}>（{a}）より前になっています。日付を確かめてください。", to.0, from.0),
            format!("<{}> ({b}) is before <{}> ({a}). Check the dates.", to.0, from.0),
        ));
    }
}

impl Rules for ElderlyCertificate {
    fn rules(&self, cx: &mut Cx) {
        order(cx, ("ElderlyRecipientValidStartDate", &self.valid_start_date), ("ElderlyRecipientValidEndDate", &self.valid_end_date), "valid_from_after_expiry");
    }
}

impl Rules for LimitCertificate {
    fn rules(&self, cx: &mut Cx) {
        order(cx, ("LimitApplicationCertificateValidStartDate", &self.valid_start_date), ("LimitApplicationCertificateValidEndDate", &self.valid_end_date), "valid_from_after_expiry");
    }
}

impl Rules for SpecificDiseaseCertificate {
    fn rules(&self, cx: &mut Cx) {
        order(cx, ("SpecificDiseasesValidStartDate", &self.valid_start_date), ("SpecificDiseasesValidEndDate", &self.valid_end_date), "valid_from_after_expiry");
    }
}

/// The names of one entry (Name, InsuredName, NameOfOther). ● is what the
/// system puts where its register holds a character the XML cannot carry
/// (the most common reception trouble of 2025); characters outside JIS
/// X 0208 arrive but are refused by receipt software and online claims.
/// Both are warnings: the result stays usable, and the name must not
/// overwrite the clinic's. A name repeated in the same entry (the insured
/// person is usually the patient) is reported once, on its first element,
/// naming the others: one finding per name, and half the cost on a batch.
fn person_names(q: &Qualification, cx: &mut Cx) {
    let fields = [("Name", &q.name), ("InsuredName", &q.insured_name), ("NameOfOther", &q.name_of_other)];
    fn value(v: &Option<String>) -> Option<&str> {
        v.as_deref().filter(|s| !s.trim().is_empty())
    }
    for (i, (tag, v)) in fields.iter().enumerate() {
        let Some(s) = value(v) else { continue };
        if fields[..i].iter().any(|(_, w)| value(w) == Some(s)) {
            continue;
        }
        let flags = crate::person_name::flags(s);
        if flags.is_clean() {
            continue;
        }
        let also = fields[i + 1..].iter().filter(|(_, w)| value(w) == Some(s)).map(|(t, _)| *t);
        let (also1, also2) = {
            let mut it = also;
            (it.next().unwrap_or(""), it.next().unwrap_or(""))
        };
        let label = || [*tag, also1, also2].iter().filter(|t| !t.is_empty()).map(|t| format!("<{t}>")).collect::<Vec<_>>().join("・");
        if flags.replaced {
            cx.report_memo(tag, Severity::Warning, "name_replaced_char", &[tag, also1, also2, s], || {
                let tags = label();
                Bilingual::new(
                    format!("{tags}「{s}」の ● は、資格確認システムが表せない文字の代わりです。患者さんの書類で正しい字を確かめ、医療機関に登録済みの氏名はそのまま使ってください（● の氏名で上書きしないでください）。"),
                    format!("{tags} {s:?}: ● stands for a character the system cannot carry. Check the spelling on the patient's documents and keep the name the clinic has on file (do not overwrite it with the ● name)."),
                )
            });
        }
        if !flags.outside_jis0208.is_empty() {
            cx.report_memo(tag, Severity::Warning, "name_outside_jis0208", &[tag, also1, also2, s], || {
                let tags = label();
                let outside = &flags.outside_jis0208;
                let chars: String = outside.iter().map(|c| format!("「{c}」(U+{:04X})", u32::from(*c))).collect::<Vec<_>>().join("、");
                let en: String = outside.iter().map(|c| format!("{c} (U+{:04X})", u32::from(*c))).collect::<Vec<_>>().join(", ");
                Bilingual::new(
                    format!("{tags}「{s}」の {chars} は JIS X 0208 にない文字です。レセコンやオンライン請求で受け付けられないことがあります。レセコンに登録する字を患者さんの書類で確かめてください。"),
                    format!("{tags} {s:?}: {en} is not in JIS X 0208; receipt software and online claims may refuse it. Check the spelling to register on the patient's documents."),
                )
            });
        }
    }
}

impl Rules for Qualification {
    fn rules(&self, cx: &mut Cx) {
        person_names(self, cx);
        order(cx, ("QualificationDate", &self.qualification_date), ("DisqualificationDate", &self.disqualification_date), "qualified_after_disqualified");
        order(cx, ("InsuredCardValidDate", &self.card_valid_date), ("InsuredCardExpirationDate", &self.card_expiration_date), "valid_from_after_expiry");
    }
}

/// A result that says "valid" must have exactly one entry (domain.md §2).
fn one_entry_when_valid(cx: &mut Cx, validity: &Option<QualificationValidity>, entries: usize) {
    if validity == &Some(QualificationValidity::Valid) && entries != 1 {
        cx.report(Some("QualificationValidity"), Severity::Error, "valid_not_exactly_one", Bilingual::new(
            format!("資格有効（1）なのに資格情報が{entries}件あります（1件のはず）。結果をそのまま使わず、もう一度照会してください。"),
            format!("The result says valid (1) but has {entries} entries instead of exactly one. Do not rely on it; query again."),
        ));
    }
}

fn error_without_code(cx: &mut Cx, status: &Option<ProcessingResultStatus>, code: &Option<String>) {
    if status == &Some(ProcessingResultStatus::Error) && code.as_deref().is_none_or(|c| c.trim().is_empty()) {
        cx.report(Some("ProcessingResultCode"), Severity::Warning, "error_without_code", Bilingual::new(
            "処理結果がエラー（2）ですが、エラーコードがありません。",
            "The processing status is error (2) but there is no error code.",
        ));
    }
}

impl Rules for QualificationResultBody {
    fn rules(&self, cx: &mut Cx) {
        one_entry_when_valid(cx, &self.qualification_validity, self.results.len());
        error_without_code(cx, &self.processing_result_status, &self.processing_result_code);
    }
}

impl Rules for BatchUnit {
    fn rules(&self, cx: &mut Cx) {
        one_entry_when_valid(cx, &self.qualification_validity, self.entries().count());
        error_without_code(cx, &self.processing_result_status, &self.processing_result_code);
    }
}

fn missing(cx: &mut Cx, path: &str, tag: &str) {
    let mark = cx.enter(path.trim_start_matches('/'), None);
    cx.report(Some(tag), Severity::Error, "missing", Bilingual::new(
        format!("必須の要素<{tag}>がありません。"),
        format!("The required element <{tag}> is missing."),
    ));
    cx.leave(mark);
}

fn require(cx: &mut Cx, path: &str, fields: &[(&str, bool)]) {
    for (tag, present) in fields {
        if !present {
            missing(cx, path, tag);
        }
    }
}

const HEADER: &str = "/XmlMsg/MessageHeader";
const BODY: &str = "/XmlMsg/MessageBody";

fn has(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.trim().is_empty())
}

fn require_search(cx: &mut Cx, path: &str, s: &SearchInfo) {
    require(cx, path, &[
        ("InsurerNumber", has(&s.insurer_number)),
        ("InsuredIdentificationNumber", has(&s.insured_identification_number)),
        ("Birthdate", has(&s.birthdate)),
    ]);
}

/// Every rule over a message: the field walk plus the rules of its kind.
pub fn validate(message: &Message) -> Vec<Diagnostic> {
    let mut cx = Cx::default();
    message.check_fields(&mut cx);
    match message {
        Message::IndividualRequest(m) => {
            require(&mut cx, HEADER, &[
                ("QualificationConfirmationDate", has(&m.header.qualification_confirmation_date)),
                ("MedicalInstitutionCode", has(&m.header.medical_institution_code)),
            ]);
            match &m.body.search {
                Some(s) => require_search(&mut cx, &format!("{BODY}/QualificationConfirmSearchInfo"), s),
                None => missing(&mut cx, BODY, "QualificationConfirmSearchInfo"),
            }
        }
        Message::BatchUploadRequest(m) => {
            require(&mut cx, HEADER, &[
                ("QualificationConfirmationDate", has(&m.header.qualification_confirmation_date)),
                ("MedicalInstitutionCode", has(&m.header.medical_institution_code)),
            ]);
            if m.body.searches.is_empty() {
                missing(&mut cx, BODY, "QualificationConfirmSearchInfo");
            }
            for (i, s) in m.body.searches.iter().enumerate() {
                require_search(&mut cx, &format!("{BODY}/QualificationConfirmSearchInfo[{}]", i + 1), s);
            }
        }
        Message::BatchDownloadRequest(m) => {
            require(&mut cx, HEADER, &[
                ("MedicalInstitutionCode", has(&m.header.medical_institution_code)),
                ("ReceptionNumber", has(&m.header.reception_number) || has(&m.body.reception_number)),
            ]);
        }
        Message::IndividualResult(m) | Message::FaceResult(m) => {
            require(&mut cx, HEADER, &[("SegmentOfResult", m.header.segment_of_result.is_some())]);
        }
        Message::BatchDownloadResult(m) => check_batch_counts(&mut cx, m),
        Message::MedicationRequest(m) | Message::CheckupRequest(m) => {
            require(&mut cx, HEADER, &[
                ("MedicalInstitutionCode", has(&m.header.medical_institution_code)),
                ("InsurerNumber", has(&m.header.insurer_number)),
                ("InsuredPersonIdentificationNumber", has(&m.header.insured_person_identification_number)),
            ]);
            let (start, end) = (&m.header.start_date, &m.header.end_date);
            if let (Some(a), Some(b)) = (start.as_deref(), end.as_deref())
                && a.len() == 6 && b.len() == 6 && a > b
            {
                let mark = cx.enter("XmlMsg/MessageHeader", None);
                cx.report(Some("EndDate"), Severity::Error, "valid_from_after_expiry", Bilingual::new(
                    format!("終了年月（{b}）が開始年月（{a}）より前です。"),
                    format!("The end month ({b}) is before the start month ({a})."),
                ));
                cx.leave(mark);
            }
        }
        Message::RegistrationRequest(m) => {
            require(&mut cx, BODY, &[("ReferenceNumber", has(&m.body.reference_number))]);
        }
        _ => {}
    }
    cx.diagnostics
}

/// The batch header's counts must match the units that follow.
fn check_batch_counts(cx: &mut Cx, m: &Msg<BatchResultBody>) {
    if m.header.segment_of_result == Some(SegmentOfResult::InProgress) {
        return;
    }
    let units = &m.body.units;
    let normal = units.iter().filter(|u| u.processing_result_status == Some(ProcessingResultStatus::Normal)).count();
    let errors = units.iter().filter(|u| u.processing_result_status == Some(ProcessingResultStatus::Error)).count();
    let mark = cx.enter("XmlMsg/MessageHeader", None);
    for (tag, stated, actual) in [
        ("NumberOfProcessingResult", &m.header.number_of_processing_result, units.len()),
        ("NumberOfNormalProcessing", &m.header.number_of_normal_processing, normal),
        ("NumberOfError", &m.header.number_of_error, errors),
    ] {
        if let Some(n) = stated.as_deref().and_then(|s| s.trim().parse::<usize>().ok())
            && n != actual
        {
            cx.report(Some(tag), Severity::Error, "count_mismatch", Bilingual::new(
                format!("<{tag}>は{n}件ですが、実際は{actual}件です。ファイルが欠けている可能性があります。もう一度取得してください。"),
                format!("<{tag}> says {n} but there are {actual}. The file may be incomplete; download it again."),
            ));
        }
    }
    cx.leave(mark);
}

/// What a receptionist typed to search by insurance card.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchInput {
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    /// `YYYYMMDD`.
    pub birthdate: String,
}

/// Checks typed search fields; diagnostics name the field (`insurer_number` …)
/// as their path. Returns the `SearchInfo` to send when nothing is an error.
pub fn validate_search_input(input: &SearchInput) -> (Option<SearchInfo>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut err = |field: &str, code: &str, message: Bilingual| out.push(Diagnostic::new(Severity::Error, field, code, message));
    let insurer = match numbers::check_insurer(&input.insurer_number) {
        Ok(n) => Some(n),
        Err(e) => {
            err("insurer_number", e.code(), e.explain());
            None
        }
    };
    let symbol = input.symbol.trim();
    if symbol.chars().count() > 20 {
        err("symbol", "too_long", Bilingual::new("記号は20文字までです。", "The symbol has at most 20 characters."));
    }
    let number = input.number.trim();
    if number.is_empty() {
        err("number", "empty", Bilingual::new("番号を入力してください。", "Enter the insured person's number."));
    } else if number.chars().count() > 20 {
        err("number", "too_long", Bilingual::new("番号は20文字までです。", "The number has at most 20 characters."));
    }
    let branch = ascii_digits(input.branch.trim());
    if !branch.is_empty() && (branch.len() != 2 || !branch.bytes().all(|b| b.is_ascii_digit())) {
        err("branch", "invalid_branch", Bilingual::new(
            "枝番は2桁の数字です（例 01）。後期高齢者の方は空欄にしてください。",
            "The branch number is 2 digits (e.g. 01); leave it empty for late-stage elderly insurance.",
        ));
    }
    let birth = ascii_digits(input.birthdate.trim());
    if parse_date(&birth).is_none() {
        err("birthdate", "invalid_date", Bilingual::new(
            "生年月日を西暦8桁（例 19600105）で、存在する日付で入力してください。",
            "Enter the birth date as 8 digits (e.g. 19600105), and a real date.",
        ));
    }
    if out.iter().any(|d| d.severity == Severity::Error) {
        return (None, out);
    }
    let info = SearchInfo {
        insurer_number: insurer.map(|n| n.xml_form()),
        // 記号/番号 are sent as typed (only trimmed): leading zeros and kana matter.
        insured_card_symbol: (!symbol.is_empty()).then(|| symbol.to_string()),
        insured_identification_number: Some(number.to_string()),
        insured_branch_number: (!branch.is_empty()).then_some(branch),
        birthdate: Some(birth),
        limit_consent: None,
        arbitrary_identifier: None,
    };
    (Some(info), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The result fixture with its first `<Name>` replaced.
    fn result_named(name: &str) -> Vec<Diagnostic> {
        let xml = include_str!("../tests/fixtures/messages/OQSsiquc01res_202504010001.utf8.xml");
        let start = xml.find("<Name>").expect("a Name") + "<Name>".len();
        let end = start + xml[start..].find("</Name>").expect("its end");
        let doc = format!("{}{}{}", &xml[..start], name, &xml[end..]);
        crate::parse(doc.as_bytes()).expect("parses").diagnostics
    }

    #[test]
    fn names_with_replaced_or_non_jis0208_characters_are_flagged() {
        for (name, want) in [
            ("山田　●郎", vec!["name_replaced_char"]),
            ("髙橋　德", vec!["name_outside_jis0208"]),
            ("●橋　①子", vec!["name_replaced_char", "name_outside_jis0208"]),
            ("山田　太郎", vec![]),
        ] {
            let d = result_named(name);
            // Only `<Name>` (the fixture's `<InsuredName>` is 髙橋 and flagged on its own).
            let got: Vec<&str> = d.iter().filter(|d| d.code.starts_with("name_") && d.path.ends_with("/Name")).map(|d| d.code.as_str()).collect();
            assert_eq!(got, want, "{name}");
            assert!(d.iter().filter(|d| d.code.starts_with("name_")).all(|d| d.severity == Severity::Warning), "{name}: warnings only");
        }
        let d = result_named("髙橋　德");
        let w = d.iter().find(|d| d.code == "name_outside_jis0208" && d.path.ends_with("/Name")).unwrap();
        assert!(w.message.ja.contains("「髙」(U+9AD9)") && w.message.ja.contains("「德」(U+5FB7)"), "{}", w.message.ja);
    }

    /// A memoised message is reused only for the same elements: the same
    /// name first met on `<Name>`, then alone on `<InsuredName>`, names the
    /// right element each time.
    #[test]
    fn a_reused_name_message_names_its_own_element() {
        let xml = include_str!("../tests/fixtures/messages/OQSsiquc01res_202504010001.utf8.xml");
        let (open, close) = ("<ResultOfQualificationConfirmation>", "</ResultOfQualificationConfirmation>");
        let start = xml.find(open).expect("an entry");
        let end = xml.find(close).expect("its end") + close.len();
        let entry = &xml[start..end];
        let first = entry.replace("<InsuredName>髙橋　一郎</InsuredName>", "<InsuredName>山田　一郎</InsuredName>").replace("<Name>髙橋　一郎</Name>", "<Name>●田　一郎</Name>");
        let second = entry.replace("<InsuredName>髙橋　一郎</InsuredName>", "<InsuredName>●田　一郎</InsuredName>").replace("<Name>髙橋　一郎</Name>", "<Name>山田　花子</Name>");
        let doc = format!("{}{first}{second}{}", &xml[..start], &xml[end..]);
        let d = crate::parse(doc.as_bytes()).expect("parses").diagnostics;
        let found: Vec<(&str, &str)> = d
            .iter()
            .filter(|d| d.code == "name_replaced_char")
            .map(|d| (d.path.rsplit('/').next().unwrap_or_default(), d.message.ja.split('「').next().unwrap_or_default()))
            .collect();
        assert_eq!(found, [("Name", "<Name>"), ("InsuredName", "<InsuredName>")]);
    }

    #[test]
    fn dates_and_timestamps() {
        assert!(parse_date("20240229").is_some());
        assert!(parse_date("20230229").is_none());
        assert!(parse_date("20250230").is_none());
        assert!(parse_date("2025013").is_none());
        assert!(parse_date("2025-1-1").is_none());
        assert!(is_valid_timestamp("20250401235959"));
        assert!(!is_valid_timestamp("20250401240000"));
        assert!(!is_valid_timestamp("20250401126000"));
    }

    #[test]
    fn search_input() {
        let ok = SearchInput { insurer_number: "１３８０５７".into(), symbol: "記号01".into(), number: "0012".into(), branch: "01".into(), birthdate: "19600105".into() };
        let (info, d) = validate_search_input(&ok);
        assert!(d.is_empty(), "{d:?}");
        let info = info.unwrap();
        assert_eq!(info.insurer_number.as_deref(), Some("  138057"));
        assert_eq!(info.insured_identification_number.as_deref(), Some("0012"));
        let bad = SearchInput { insurer_number: "39131157".into(), branch: "1".into(), birthdate: "19600230".into(), ..Default::default() };
        let (info, d) = validate_search_input(&bad);
        assert!(info.is_none());
        let codes: Vec<_> = d.iter().map(|d| (d.path.as_str(), d.code.as_str())).collect();
        assert_eq!(codes, [("insurer_number", "check_digit"), ("number", "empty"), ("branch", "invalid_branch"), ("birthdate", "invalid_date")]);
    }
}

/// Everything needed to build an individual request (`OQSsiquc01req`) from
/// what reception typed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct IndividualRequestInput {
    /// 医療機関コード, 10 digits.
    pub institution: String,
    /// 資格確認日, `YYYYMMDD` (today, passed in: this crate reads no clock).
    pub date: String,
    pub search: SearchInput,
    /// Echoed back in the result; lets the sender match answers to requests.
    pub arbitrary_file_identifier: Option<String>,
    /// Whether the patient consented to the ceiling-category (限度額) lookup.
    pub limit_consent: bool,
}

/// Builds a checked individual request, or says what to fix.
pub fn build_individual_request(input: &IndividualRequestInput) -> Result<Message, Vec<Diagnostic>> {
    let (search, mut diagnostics) = validate_search_input(&input.search);
    let institution = match numbers::check_institution(&input.institution) {
        Ok(c) => Some(c.digits),
        Err(e) => {
            diagnostics.push(Diagnostic::new(Severity::Error, "institution", e.code(), e.explain()));
            None
        }
    };
    let date = ascii_digits(input.date.trim());
    if parse_date(&date).is_none() {
        diagnostics.push(Diagnostic::new(Severity::Error, "date", "invalid_date", Bilingual::new(
            "資格確認日を西暦8桁（YYYYMMDD）で指定してください。",
            "Give the confirmation date as 8 digits (YYYYMMDD).",
        )));
    }
    let (Some(mut search), Some(institution)) = (search, institution) else { return Err(diagnostics) };
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(diagnostics);
    }
    search.limit_consent = Some(if input.limit_consent { ConsentFlag::Given } else { ConsentFlag::None });
    Ok(Message::IndividualRequest(Msg {
        header: MessageHeader {
            qualification_confirmation_date: Some(date),
            medical_institution_code: Some(institution),
            arbitrary_file_identifier: input.arbitrary_file_identifier.clone(),
            ..Default::default()
        },
        body: IndividualRequestBody { search: Some(search) },
    }))
}
