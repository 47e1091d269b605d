//! What a result means for the person at the desk: one outcome per search
//! (valid / invalid / newer qualification / no match / several / error /
//! still processing) with the reason in Japanese and English, plus the
//! small readings the UI needs (contribution ratio, ceiling category,
//! consent status against a "now" passed in — this crate reads no clock).

use serde::{Deserialize, Serialize};

use crate::codes::*;
use crate::message::*;
use crate::text::{Bilingual, Explain};

/// The verdict on one search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Clean valid: segment 1, status 1, validity 1, exactly one entry.
    Valid,
    /// Validity 6: valid but unregistered (public assistance).
    ValidUnregistered,
    Invalid,
    NewerQualificationExists,
    NoMatch,
    SeveralMatches,
    Error,
    StillProcessing,
    /// The answer does not say clearly (e.g. no validity at all).
    Unclear,
}

/// One search's verdict with what to tell the receptionist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub outcome: Outcome,
    pub reason: Bilingual,
    /// Number of qualification entries returned.
    pub entries: usize,
    /// The system's own message (errors, or notices such as an expiring card).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_message: Option<String>,
}

/// The inputs a verdict depends on, wherever they sit in the message.
pub struct Verdict<'a> {
    pub segment: Option<&'a SegmentOfResult>,
    pub error_code: Option<&'a str>,
    pub error_message: Option<&'a str>,
    pub status: Option<&'a ProcessingResultStatus>,
    pub processing_code: Option<&'a str>,
    pub processing_message: Option<&'a str>,
    pub validity: Option<&'a QualificationValidity>,
    pub entries: &'a [&'a Qualification],
}

fn nonempty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// The single rule that turns codes into an outcome.
pub fn summarize(v: &Verdict<'_>) -> Summary {
    let n = v.entries.len();
    let system_message = nonempty(v.processing_message).or(nonempty(v.error_message)).map(str::to_string);
    let make = |outcome, ja: String, en: String| Summary { outcome, reason: Bilingual::new(ja, en), entries: n, system_message: system_message.clone() };
    if v.segment == Some(&SegmentOfResult::InProgress) {
        return make(Outcome::StillProcessing,
            "まだ処理中です。しばらくしてから結果をもう一度取得してください。".into(),
            "Still processing. Fetch the result again in a while.".into());
    }
    if v.segment == Some(&SegmentOfResult::Failed) || v.status == Some(&ProcessingResultStatus::Error) {
        let code = nonempty(v.processing_code).or(nonempty(v.error_code)).unwrap_or("-");
        let (mja, men) = match &system_message {
            Some(m) => (format!("：{m}"), format!(": {m}")),
            None => (String::new(), String::new()),
        };
        return make(Outcome::Error,
            format!("照会でエラーになりました（{code}）{mja}。入力内容を確かめてもう一度照会してください。"),
            format!("The query failed ({code}){men}. Check the input and query again."));
    }
    let clean = v.segment == Some(&SegmentOfResult::Normal) && v.status == Some(&ProcessingResultStatus::Normal);
    match v.validity {
        Some(QualificationValidity::Valid) if clean && n == 1 => make(Outcome::Valid,
            "資格は有効です。".into(), "The qualification is valid.".into()),
        Some(QualificationValidity::Valid) if n > 1 => make(Outcome::SeveralMatches,
            format!("有効とされていますが資格情報が{n}件あります。保険証で確かめてください。"),
            format!("Marked valid but {n} entries came back. Check against the card.")),
        Some(QualificationValidity::Valid) => make(Outcome::Unclear,
            "有効とされていますが、結果が不完全です（処理結果または資格情報の件数）。もう一度照会してください。".into(),
            "Marked valid but the answer is incomplete (status or number of entries). Query again.".into()),
        Some(QualificationValidity::ValidUnregistered) => make(Outcome::ValidUnregistered,
            "資格は有効です（未登録・医療扶助等）。医療券等を確認してください。".into(),
            "Valid (unregistered, public assistance). Check the medical ticket.".into()),
        Some(QualificationValidity::Invalid) => {
            let lost = v.entries.iter().find_map(|q| q.disqualification_date.as_deref().filter(|d| !d.trim().is_empty()));
            let why = v.entries.iter().find_map(|q| q.reason_of_loss.as_ref()).map(|r| r.explain());
            let (ja, en) = match (lost, why) {
                (Some(d), Some(w)) => (format!("{d}に資格を喪失しています（{}）。", w.ja), format!("Qualification lost on {d} ({}).", w.en)),
                (Some(d), None) => (format!("{d}に資格を喪失しています。"), format!("Qualification lost on {d}.")),
                _ => (String::new(), String::new()),
            };
            make(Outcome::Invalid,
                format!("資格は無効です。{ja}新しい保険証・資格確認書の提示をお願いしてください。"),
                format!("The qualification is not valid. {en}Ask the patient for their new card or certificate."))
        }
        Some(QualificationValidity::NewerExists) => make(Outcome::NewerQualificationExists,
            "この保険は無効で、新しい資格があります。新しい保険証・資格確認書を確認し、保険情報を更新してください。".into(),
            "This insurance is invalid and a newer qualification exists. Check the new card and update the record.".into()),
        Some(QualificationValidity::NoMatch) => make(Outcome::NoMatch,
            "該当する資格が見つかりません。保険者番号・記号・番号・枝番・生年月日を確かめてください。".into(),
            "No matching qualification. Check insurer number, symbol, number, branch and birth date.".into()),
        Some(QualificationValidity::SeveralMatches) => make(Outcome::SeveralMatches,
            "複数の資格が該当しました。枝番を入れてもう一度照会してください。".into(),
            "Several qualifications matched. Query again with the branch number.".into()),
        Some(QualificationValidity::Unknown(c)) => make(Outcome::Unclear,
            format!("資格有効性のコード「{c}」が未知です。保険証で確かめてください。"),
            format!("Unknown validity code {c:?}. Check against the card.")),
        None => make(Outcome::Unclear,
            "資格の有効・無効が結果にありません。保険証で確かめるか、もう一度照会してください。".into(),
            "The result does not say whether the qualification is valid. Check the card or query again.".into()),
    }
}

/// The summary of an individual or card result.
pub fn summarize_result(m: &Msg<QualificationResultBody>) -> Summary {
    let entries: Vec<&Qualification> = m.body.results.iter().collect();
    summarize(&Verdict {
        segment: m.header.segment_of_result.as_ref(),
        error_code: m.header.error_code.as_deref(),
        error_message: m.header.error_message.as_deref(),
        status: m.body.processing_result_status.as_ref(),
        processing_code: m.body.processing_result_code.as_deref(),
        processing_message: m.body.processing_result_message.as_deref(),
        validity: m.body.qualification_validity.as_ref(),
        entries: &entries,
    })
}

/// The summary of one unit of a batch result (the header's segment applies).
pub fn summarize_unit(header: &MessageHeader, unit: &BatchUnit) -> Summary {
    let entries: Vec<&Qualification> = unit.entries().collect();
    summarize(&Verdict {
        segment: header.segment_of_result.as_ref(),
        error_code: header.error_code.as_deref(),
        error_message: header.error_message.as_deref(),
        status: unit.processing_result_status.as_ref(),
        processing_code: unit.processing_result_code.as_deref(),
        processing_message: unit.processing_result_message.as_deref(),
        validity: unit.qualification_validity.as_ref(),
        entries: &entries,
    })
}

/// A whole message's verdicts: one per result or batch unit.
pub fn summarize_message(message: &Message) -> Vec<Summary> {
    match message {
        Message::IndividualResult(m) | Message::FaceResult(m) => vec![summarize_result(m)],
        Message::BatchDownloadResult(m) if m.header.segment_of_result == Some(SegmentOfResult::InProgress) => {
            let empty = BatchUnit::default();
            vec![summarize_unit(&m.header, &empty)]
        }
        Message::BatchDownloadResult(m) => m.body.units.iter().map(|u| summarize_unit(&m.header, u)).collect(),
        _ => Vec::new(),
    }
}

/// `"030"` → 30 (percent). Three digits, 0–100.
pub fn contribution_ratio(code: &str) -> Option<u8> {
    let c = code.trim();
    if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    c.parse::<u8>().ok().filter(|p| *p <= 100)
}

/// "3割" / "30 %" for a ratio code.
pub fn ratio_label(code: &str) -> Option<Bilingual> {
    let p = contribution_ratio(code)?;
    let ja = if p % 10 == 0 { format!("{}割", p / 10) } else { format!("{p}%") };
    Some(Bilingual::new(ja, format!("{p} %")))
}

/// The ceiling category (限度額適用区分) label of a result entry.
pub fn ceiling_label(q: &Qualification) -> Option<Bilingual> {
    q.limit.as_ref()?.classification_flag.as_ref().map(|f| f.explain())
}

/// A consent as reception should read it, at a given moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ConsentStatus {
    /// Given, and usable until `until` (YYYYMMDDHHmmss) when stated.
    Given { until: Option<String> },
    None,
    Expired,
    Unobtainable,
    Unknown { code: String },
}

/// Reads a consent flag and its `AvailableTime` against `now`
/// (`YYYYMMDDHHmmss`, or `YYYYMMDD`): a given consent whose time has passed is expired.
pub fn consent_status(flag: Option<&ConsentFlag>, available_until: Option<&str>, now: &str) -> ConsentStatus {
    match flag {
        None | Some(ConsentFlag::None) => ConsentStatus::None,
        Some(ConsentFlag::Expired) => ConsentStatus::Expired,
        Some(ConsentFlag::Unobtainable) => ConsentStatus::Unobtainable,
        Some(ConsentFlag::Unknown(c)) => ConsentStatus::Unknown { code: c.clone() },
        Some(ConsentFlag::Given) => {
            let until = available_until.map(str::trim).filter(|s| !s.is_empty());
            match until {
                // Compare as fixed-width digits; pad a date-only "now" to the start of its day.
                Some(u) if crate::validate::is_valid_timestamp(u) && u < format!("{now:0<14}").as_str() => ConsentStatus::Expired,
                _ => ConsentStatus::Given { until: until.map(str::to_string) },
            }
        }
    }
}

impl Explain for ConsentStatus {
    fn explain(&self) -> Bilingual {
        match self {
            ConsentStatus::Given { until: Some(u) } => Bilingual::new(format!("同意あり（{}まで閲覧可）", &u[..u.len().min(8)]), format!("Consent given (viewable until {})", &u[..u.len().min(8)])),
            ConsentStatus::Given { until: None } => Bilingual::new("同意あり", "Consent given"),
            ConsentStatus::None => Bilingual::new("同意なし（閲覧できません）", "No consent (cannot be viewed)"),
            ConsentStatus::Expired => Bilingual::new("同意の期限切れ。次回カードで同意を取り直してください。", "Consent expired; ask again at the card reader next time."),
            ConsentStatus::Unobtainable => Bilingual::new("同意を取得できませんでした", "Consent could not be obtained"),
            ConsentStatus::Unknown { code } => Bilingual::new(format!("同意フラグ「{code}」は未知です"), format!("Unknown consent flag {code:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio() {
        assert_eq!(contribution_ratio("030"), Some(30));
        assert_eq!(contribution_ratio("100"), Some(100));
        assert_eq!(contribution_ratio("30"), None);
        assert_eq!(contribution_ratio("101"), None);
        assert_eq!(ratio_label("010").unwrap().ja, "1割");
    }

    /// One row per rule: (segment, status, validity, entries) → outcome.
    #[test]
    fn outcomes_table() {
        use Outcome::*;
        let q = Qualification::default();
        let lost = Qualification { disqualification_date: Some("20250331".into()), reason_of_loss: Some(ReasonOfLoss::Death), ..Default::default() };
        let seg = |c: &str| SegmentOfResult::from_code(c);
        let st = |c: &str| ProcessingResultStatus::from_code(c);
        let va = |c: &str| QualificationValidity::from_code(c);
        let rows: &[(&str, &str, Option<&str>, usize, Outcome)] = &[
            ("1", "1", Some("1"), 1, Valid),
            ("1", "1", Some("1"), 0, Unclear),
            ("1", "1", Some("1"), 2, SeveralMatches),
            ("2", "1", Some("1"), 1, StillProcessing),
            ("9", "1", Some("1"), 1, Error),
            ("1", "2", Some("1"), 1, Error),
            ("1", "1", Some("2"), 1, Invalid),
            ("1", "1", Some("3"), 1, NewerQualificationExists),
            ("1", "1", Some("4"), 0, NoMatch),
            ("1", "1", Some("5"), 2, SeveralMatches),
            ("1", "1", Some("6"), 1, ValidUnregistered),
            ("1", "1", Some("8"), 1, Unclear),
            ("1", "1", None, 1, Unclear),
        ];
        for (segment, status, validity, n, expected) in rows {
            let entries: Vec<&Qualification> = std::iter::repeat_n(&q, *n).collect();
            let (s, t) = (seg(segment), st(status));
            let v = validity.map(va);
            let got = summarize(&Verdict {
                segment: Some(&s), error_code: None, error_message: None, status: Some(&t),
                processing_code: None, processing_message: None, validity: v.as_ref(), entries: &entries,
            });
            assert_eq!(got.outcome, *expected, "{segment} {status} {validity:?} {n}");
            assert!(!got.reason.ja.is_empty() && !got.reason.en.is_empty());
        }
        let entries = [&lost];
        let invalid = summarize(&Verdict {
            segment: Some(&seg("1")), error_code: None, error_message: None, status: Some(&st("1")),
            processing_code: None, processing_message: None, validity: Some(&va("2")), entries: &entries,
        });
        assert!(invalid.reason.ja.contains("20250331に資格を喪失") && invalid.reason.ja.contains("死亡"), "{}", invalid.reason.ja);
    }

    #[test]
    fn consent_against_now() {
        let g = Some(&ConsentFlag::Given);
        assert_eq!(consent_status(g, Some("20250501000000"), "20250401120000"), ConsentStatus::Given { until: Some("20250501000000".into()) });
        assert_eq!(consent_status(g, Some("20250301000000"), "20250401120000"), ConsentStatus::Expired);
        assert_eq!(consent_status(g, Some("20250331235959"), "20250401"), ConsentStatus::Expired);
        assert_eq!(consent_status(Some(&ConsentFlag::Unobtainable), None, "20250401"), ConsentStatus::Unobtainable);
        assert_eq!(consent_status(None, None, "20250401"), ConsentStatus::None);
    }
}
