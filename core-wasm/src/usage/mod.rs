//! Usage statistics (利用状況, issue 16): how each stored check was made,
//! per-day and per-month counts, and the マイナ保険証 usage rate. The one
//! place that says which check counts as what; the helper only groups rows
//! in SQL and the page only draws what this module computed.
//!
//! # The usage rate implemented here
//!
//! 医療DX推進体制整備加算 (from 2026 電子的診療情報連携体制整備加算) is paid
//! only above a monthly マイナ保険証 usage rate. MHLW has published two
//! definitions (社会保障審議会 医療保険部会 第208回, 2025-12-18, 資料2
//! 「マイナ保険証の利用促進等について」,
//! <https://www.mhlw.go.jp/stf/newpage_67486.html>):
//!
//! * **オンライン資格確認件数ベース利用率** = マイナ保険証利用件数 ÷
//!   オンライン資格確認利用件数 — counted from the eligibility system's log,
//!   known the month after; the rate used for the add-on from 2024-10.
//! * レセプト件数ベース利用率 = マイナ保険証利用人数 ÷ レセプト発行件数 —
//!   the figure published first from 2025-12; needs the month's receipt
//!   count, which only the receipt software knows.
//!
//! This module implements the **first** (件数ベース), because the helper
//! holds exactly its inputs: every eligibility answer this PC received.
//! Numerator: checks with the My Number card — PIN, visual (目視) and face
//! reader. Denominator: every individual eligibility check — those plus
//! checks by numbers (保険証, 資格確認書, 資格情報のお知らせ, or the document
//! not recorded). Batch pre-checks (一括照会) and history views (薬剤・特定健診)
//! are not checks of a patient at the desk and count in neither. Every
//! stored answer counts, whatever its status (資格無効 and system errors
//! included), because the system logged the query either way. The official
//! figure (総合ポータル マイページ) covers every PC of the clinic; this is
//! this helper's share and is labelled an estimate on the screen.

use serde::{Deserialize, Serialize};

use crate::protocol::PresentedDocument;
use crate::text::Bilingual;

mod csv;

pub use csv::{usage_csv, USAGE_CSV_COLUMNS};

/// How one check was made, as the statistics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// マイナ保険証, PIN (顔認証でない暗証番号).
    CardPin,
    /// マイナ保険証, staff compared the photo (目視確認).
    CardVisual,
    /// マイナ保険証 at a face-recognition reader.
    Face,
    /// By numbers from a 資格確認書.
    Certificate,
    /// By numbers from a 資格情報のお知らせ (shown with the card).
    Notice,
    /// By numbers from an old 保険証.
    InsuranceCard,
    /// By numbers; the page did not say from which document (results
    /// stored before schema 4, or a page that left it out).
    NumbersUnrecorded,
}

impl Method {
    /// Every method, in the order of the screen's columns and the CSV.
    pub const ALL: [Method; 7] = [
        Method::CardPin,
        Method::CardVisual,
        Method::Face,
        Method::Certificate,
        Method::Notice,
        Method::InsuranceCard,
        Method::NumbersUnrecorded,
    ];

    /// Whether the check counts as a マイナ保険証 use (the rate's numerator).
    pub fn is_my_number_card(self) -> bool {
        matches!(self, Method::CardPin | Method::CardVisual | Method::Face)
    }

    /// A stable key (wire field, DOM id, CSS class).
    pub fn key(self) -> &'static str {
        match self {
            Method::CardPin => "card_pin",
            Method::CardVisual => "card_visual",
            Method::Face => "face",
            Method::Certificate => PresentedDocument::EligibilityCertificate.as_str(),
            Method::Notice => PresentedDocument::EligibilityNotice.as_str(),
            Method::InsuranceCard => PresentedDocument::InsuranceCard.as_str(),
            Method::NumbersUnrecorded => "numbers_unrecorded",
        }
    }

    pub fn label(self) -> Bilingual {
        let (ja, en) = match self {
            Method::CardPin => ("マイナ（暗証番号）", "Card, PIN"),
            Method::CardVisual => ("マイナ（目視）", "Card, visual"),
            Method::Face => ("顔認証", "Face reader"),
            Method::Certificate => ("資格確認書", "Eligibility certificate"),
            Method::Notice => ("資格情報のお知らせ", "Eligibility notice"),
            Method::InsuranceCard => ("保険証", "Insurance card"),
            Method::NumbersUnrecorded => ("番号（書類未記録）", "Numbers, document not recorded"),
        };
        Bilingual::new(ja, en)
    }

    /// Classifies a stored result by its storage names (the helper's
    /// `results.kind`, `card_mode`, `document` columns). `None`: the row
    /// is not a check at the desk (batch, history views) or a kind this
    /// version does not know — never counted, never an error.
    pub fn of_stored(kind: &str, card_mode: Option<&str>, document: Option<&str>) -> Option<Method> {
        match kind {
            // Card results stored before schema 2 have no mode; PIN was the only one then.
            "card_confirm" => Some(if card_mode == Some("visual") { Method::CardVisual } else { Method::CardPin }),
            "face" => Some(Method::Face),
            // The document's names are the protocol's (`PresentedDocument`), stored as sent.
            "insurance_confirm" => Some(match document.and_then(PresentedDocument::from_str_opt) {
                Some(PresentedDocument::EligibilityCertificate) => Method::Certificate,
                Some(PresentedDocument::EligibilityNotice) => Method::Notice,
                Some(PresentedDocument::InsuranceCard) => Method::InsuranceCard,
                None => Method::NumbersUnrecorded,
            }),
            _ => None,
        }
    }
}

/// Checks per method over some span (a day, a month, a range).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UsageCounts {
    pub card_pin: u32,
    pub card_visual: u32,
    pub face: u32,
    pub eligibility_certificate: u32,
    pub eligibility_notice: u32,
    pub insurance_card: u32,
    pub numbers_unrecorded: u32,
}

/// A usage rate as its two counts, so nothing is lost to rounding and the
/// screen can show "12 / 30".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// マイナ保険証利用件数.
    pub card: u32,
    /// オンライン資格確認利用件数 (every check at the desk).
    pub all: u32,
}

impl Rate {
    /// Per mille, rounded half up; `None` when there were no checks.
    pub fn per_mille(self) -> Option<u32> {
        (self.all > 0).then(|| ((u64::from(self.card) * 2000 + u64::from(self.all)) / (2 * u64::from(self.all))) as u32)
    }

    /// `37.5%`, or `—` when there were no checks.
    pub fn percent_text(self) -> String {
        match self.per_mille() {
            Some(m) => format!("{}.{}%", m / 10, m % 10),
            None => "—".to_owned(),
        }
    }
}

impl UsageCounts {
    pub fn get(&self, m: Method) -> u32 {
        match m {
            Method::CardPin => self.card_pin,
            Method::CardVisual => self.card_visual,
            Method::Face => self.face,
            Method::Certificate => self.eligibility_certificate,
            Method::Notice => self.eligibility_notice,
            Method::InsuranceCard => self.insurance_card,
            Method::NumbersUnrecorded => self.numbers_unrecorded,
        }
    }

    fn slot(&mut self, m: Method) -> &mut u32 {
        match m {
            Method::CardPin => &mut self.card_pin,
            Method::CardVisual => &mut self.card_visual,
            Method::Face => &mut self.face,
            Method::Certificate => &mut self.eligibility_certificate,
            Method::Notice => &mut self.eligibility_notice,
            Method::InsuranceCard => &mut self.insurance_card,
            Method::NumbersUnrecorded => &mut self.numbers_unrecorded,
        }
    }

    /// Adds `n` checks of one method (saturating: a count never wraps).
    pub fn add(&mut self, m: Method, n: u32) {
        let slot = self.slot(m);
        *slot = slot.saturating_add(n);
    }

    pub fn merge(&mut self, other: &UsageCounts) {
        for m in Method::ALL {
            self.add(m, other.get(m));
        }
    }

    /// Every check at the desk.
    pub fn total(&self) -> u32 {
        Method::ALL.iter().fold(0u32, |t, m| t.saturating_add(self.get(*m)))
    }

    /// The rate as defined in the module documentation.
    pub fn rate(&self) -> Rate {
        let card = Method::ALL.iter().filter(|m| m.is_my_number_card()).fold(0u32, |t, m| t.saturating_add(self.get(*m)));
        Rate { card, all: self.total() }
    }
}

/// `usage` request: an inclusive range of local days, `YYYYMMDD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQuery {
    /// First day, `YYYYMMDD`.
    pub from: String,
    /// Last day, `YYYYMMDD` (inclusive).
    pub to: String,
}

/// The longest range one `usage` request may ask for: a year and a bit,
/// so "last 12 months" always fits and a reply stays small.
pub const MAX_USAGE_DAYS: i64 = 400;

/// Why a usage range was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RangeError {
    #[error("`{field}` is not a date (YYYYMMDD)")]
    NotADate { field: &'static str },
    #[error("`from` is after `to`")]
    Reversed,
    #[error("the range spans {days} days; at most {max}")]
    TooLong { days: i64, max: i64 },
}

impl UsageQuery {
    /// The range's first and last day, checked.
    pub fn days(&self) -> Result<(crate::wareki::Date, crate::wareki::Date), RangeError> {
        use crate::wareki::Date;
        let from = Date::parse_yyyymmdd(&self.from).map_err(|_| RangeError::NotADate { field: "from" })?;
        let to = Date::parse_yyyymmdd(&self.to).map_err(|_| RangeError::NotADate { field: "to" })?;
        let days = to.days() - from.days() + 1;
        if days < 1 {
            return Err(RangeError::Reversed);
        }
        if days > MAX_USAGE_DAYS {
            return Err(RangeError::TooLong { days, max: MAX_USAGE_DAYS });
        }
        Ok((from, to))
    }
}

/// One day's counts (days without checks are left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDay {
    /// `YYYYMMDD`, local.
    pub day: String,
    pub counts: UsageCounts,
}

/// One month's counts, within the asked range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageMonth {
    /// `YYYYMM`.
    pub month: String,
    pub counts: UsageCounts,
}

/// `usage` reply: the range asked, then per-day and per-month counts,
/// oldest first. Months are the sums of their days ([`UsageReply::from_days`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReply {
    pub from: String,
    pub to: String,
    pub days: Vec<UsageDay>,
    pub months: Vec<UsageMonth>,
}

impl UsageReply {
    /// Builds the reply from grouped rows `(day YYYYMMDD, method, count)` in
    /// any order; rows of one day and method are added up.
    pub fn from_rows(query: &UsageQuery, rows: impl IntoIterator<Item = (String, Method, u32)>) -> UsageReply {
        let mut by_day: std::collections::BTreeMap<String, UsageCounts> = Default::default();
        for (day, method, n) in rows {
            by_day.entry(day).or_default().add(method, n);
        }
        let days: Vec<UsageDay> = by_day.into_iter().map(|(day, counts)| UsageDay { day, counts }).collect();
        Self::from_days(query, days)
    }

    /// Months as the sums of the days (sorted by day).
    pub fn from_days(query: &UsageQuery, days: Vec<UsageDay>) -> UsageReply {
        let mut months: Vec<UsageMonth> = Vec::new();
        for d in &days {
            let month = d.day.get(..6).unwrap_or(&d.day).to_owned();
            match months.last_mut() {
                Some(m) if m.month == month => m.counts.merge(&d.counts),
                _ => months.push(UsageMonth { month, counts: d.counts }),
            }
        }
        UsageReply { from: query.from.clone(), to: query.to.clone(), days, months }
    }

    /// The whole range's counts.
    pub fn total(&self) -> UsageCounts {
        let mut t = UsageCounts::default();
        for m in &self.months {
            t.merge(&m.counts);
        }
        t
    }
}

#[cfg(test)]
mod tests;
