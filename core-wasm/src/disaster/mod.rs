//! Disaster mode (災害時の特例, issue 16): the one rule for when medication and
//! health-check records may be viewed without the patient's card, and the
//! typed inputs of such a search. The simulated gateway, the helper and the
//! page all ask this module; none of them re-derives the rule.
//!
//! When a disaster-relief area is declared (災害救助法の適用), a clinic in
//! that area may, for the declared period, look up a patient by name (kana),
//! birth date and sex — or by insured numbers — and view their medication and
//! health-check records without the card and without the usual consent. The
//! national system says which areas and days are covered; here that is a
//! [`Declaration`]: the whole country or a list of prefectures, from a first
//! to a last day (both inclusive, Japan's calendar). A clinic's prefecture is
//! the first two digits of its 10-digit 医療機関コード.
//!
//! Must not: read a clock (the day is passed in) or accept free text where a
//! fixed choice exists — the [`Reason`] for each view is an enum, because it
//! is written to the helper's audit log, which never takes free text.

use serde::{Deserialize, Serialize};

use crate::text::{Bilingual, Explain};
use crate::wareki::Date;

mod person;
pub mod wire;
#[cfg(test)]
mod tests;

pub use person::{PersonKey, PersonKeyError, SearchBy, Sex};

/// A prefecture by its JIS X 0401 code, 1 (北海道) to 47 (沖縄県).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Prefecture(u8);

impl Prefecture {
    /// `"13"` or `"1"`; `None` outside 1–47.
    pub fn parse(code: &str) -> Option<Prefecture> {
        let code = code.trim();
        if code.is_empty() || code.len() > 2 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: u8 = code.parse().ok()?;
        (1..=47).contains(&n).then_some(Prefecture(n))
    }

    /// The prefecture of a medical institution: the first two digits of its
    /// 医療機関コード (the code's own check digit is the number rules' business).
    pub fn of_institution(code: &str) -> Option<Prefecture> {
        let code = code.trim();
        if code.len() != 10 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Prefecture::parse(&code[..2])
    }

    /// The two-digit code, `"01"` … `"47"`.
    pub fn code(self) -> String {
        format!("{:02}", self.0)
    }
}

impl Serialize for Prefecture {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.code())
    }
}

impl<'de> Deserialize<'de> for Prefecture {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Prefecture::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("not a prefecture code (01–47): {s:?}")))
    }
}

/// Where a declaration applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// Every prefecture.
    Nationwide,
    /// These prefectures only (never empty when parsed by [`Declaration::parse`]).
    Prefectures(Vec<Prefecture>),
}

impl Area {
    fn covers(&self, p: Prefecture) -> bool {
        match self {
            Area::Nationwide => true,
            Area::Prefectures(list) => list.contains(&p),
        }
    }

    /// `全国` or `13・14`, for the banner.
    pub fn label(&self) -> Bilingual {
        match self {
            Area::Nationwide => Bilingual::new("全国", "nationwide"),
            Area::Prefectures(list) => {
                let codes: Vec<String> = list.iter().map(|p| p.code()).collect();
                Bilingual::new(format!("都道府県コード {}", codes.join("・")), format!("prefecture codes {}", codes.join(", ")))
            }
        }
    }
}

/// One declared disaster: where, and from which day to which (inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declaration {
    pub area: Area,
    /// First day, `YYYYMMDD`.
    pub start: String,
    /// Last day, `YYYYMMDD`.
    pub end: String,
}

/// Why a declaration's text could not be read (simulator command line, config).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeclarationError {
    /// Not `AREA:START-END`.
    Shape { text: String },
    /// A prefecture code outside 01–47.
    Prefecture { code: String },
    /// Not a calendar day `YYYYMMDD`.
    Day { text: String },
    /// The last day is before the first.
    EndBeforeStart { start: String, end: String },
}

impl Explain for DeclarationError {
    fn explain(&self) -> Bilingual {
        match self {
            DeclarationError::Shape { text } => Bilingual::new(
                format!("災害の指定「{text}」を読めません。「all:20260101-20260131」か「13,14:20260101-20260131」の形で書いてください。"),
                format!("cannot read the disaster declaration {text:?}; write it as all:20260101-20260131 or 13,14:20260101-20260131"),
            ),
            DeclarationError::Prefecture { code } => Bilingual::new(
                format!("都道府県コード「{code}」は 01〜47 ではありません。"),
                format!("prefecture code {code:?} is not between 01 and 47"),
            ),
            DeclarationError::Day { text } => Bilingual::new(
                format!("日付「{text}」は YYYYMMDD の暦日ではありません。"),
                format!("{text:?} is not a calendar day YYYYMMDD"),
            ),
            DeclarationError::EndBeforeStart { start, end } => Bilingual::new(
                format!("終了日 {end} が開始日 {start} より前です。"),
                format!("the last day {end} is before the first day {start}"),
            ),
        }
    }
}

fn day(text: &str) -> Result<String, DeclarationError> {
    Date::parse_yyyymmdd(text.trim()).map(Date::yyyymmdd).map_err(|_| DeclarationError::Day { text: text.trim().to_string() })
}

impl Declaration {
    /// Reads `AREA:START-END`: `AREA` is `all` (or `nationwide`, `全国`) or
    /// comma-separated prefecture codes; days are `YYYYMMDD`, both inclusive.
    pub fn parse(text: &str) -> Result<Declaration, DeclarationError> {
        let shape = || DeclarationError::Shape { text: text.to_string() };
        let (area, period) = text.trim().split_once(':').ok_or_else(shape)?;
        let (start, end) = period.split_once('-').ok_or_else(shape)?;
        let area = match area.trim() {
            "all" | "nationwide" | "全国" => Area::Nationwide,
            list => {
                let mut codes = Vec::new();
                for code in list.split(',').map(str::trim) {
                    let p = Prefecture::parse(code).ok_or_else(|| DeclarationError::Prefecture { code: code.to_string() })?;
                    if !codes.contains(&p) {
                        codes.push(p);
                    }
                }
                codes.sort();
                Area::Prefectures(codes)
            }
        };
        let (start, end) = (day(start)?, day(end)?);
        if end < start {
            return Err(DeclarationError::EndBeforeStart { start, end });
        }
        Ok(Declaration { area, start, end })
    }

    /// The period for people: `令和8年12月1日〜令和8年12月31日`.
    pub fn period_label(&self) -> Bilingual {
        let ja = |d: &str| crate::wareki::format_yyyymmdd(d).unwrap_or_else(|_| d.to_string());
        Bilingual::new(format!("{}〜{}", ja(&self.start), ja(&self.end)), format!("{} to {}", self.start, self.end))
    }
}

/// Whether card-less viewing is open to one clinic on one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Open, under this declaration.
    Open(Declaration),
    /// Closed, and why.
    Closed(Closed),
}

/// Why card-less viewing is closed to a clinic on a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Closed {
    /// No disaster is declared for the clinic's prefecture at all.
    NotDeclared,
    /// A declaration covers the clinic's prefecture, but not this day.
    OutsidePeriod { declaration: Declaration, today: String },
    /// The clinic's 医療機関コード names no prefecture (misconfigured helper).
    UnknownInstitution { institution: String },
}

impl Explain for Closed {
    fn explain(&self) -> Bilingual {
        match self {
            Closed::NotDeclared => Bilingual::new(
                "この医療機関の地域には災害が指定されていないため、カードなしの閲覧（災害時の特例）は使えません。",
                "No disaster is declared for this clinic's area, so viewing records without the card (disaster mode) is not available.",
            ),
            Closed::OutsidePeriod { declaration, today } => {
                let p = declaration.period_label();
                let ja_today = crate::wareki::format_yyyymmdd(today).unwrap_or_else(|_| today.clone());
                Bilingual::new(
                    format!("災害時の特例の期間（{}）外のため、カードなしの閲覧はできません（本日 {ja_today}）。マイナ保険証か資格確認書で確認してください。", p.ja),
                    format!("Today ({today}) is outside the disaster period ({}), so records cannot be viewed without the card. Confirm with the My Number card or the eligibility certificate.", p.en),
                )
            }
            Closed::UnknownInstitution { institution } => Bilingual::new(
                format!("医療機関コード「{institution}」から都道府県が分からないため、災害時の特例を判断できません。ヘルパーの設定を確かめてください。"),
                format!("The medical institution code {institution:?} names no prefecture, so disaster mode cannot be judged. Check the helper's configuration."),
            ),
        }
    }
}

/// The rule: card-less viewing is open to `institution` on `today`
/// (`YYYYMMDD`, Japan's calendar) when one of `declared` covers both the
/// clinic's prefecture and the day. Of several, the first covering one wins;
/// when none is open, a declaration for the area that is not in force today
/// is named, so the person reads which period it was.
pub fn standing(declared: &[Declaration], institution: &str, today: &str) -> Standing {
    let Some(pref) = Prefecture::of_institution(institution) else {
        return Standing::Closed(Closed::UnknownInstitution { institution: institution.trim().to_string() });
    };
    let here: Vec<&Declaration> = declared.iter().filter(|d| d.area.covers(pref)).collect();
    if let Some(open) = here.iter().find(|d| d.start.as_str() <= today && today <= d.end.as_str()) {
        return Standing::Open((*open).clone());
    }
    // The latest one to have ended (or the next to start) is the most useful to name.
    match here.iter().max_by(|a, b| a.end.cmp(&b.end)) {
        Some(d) => Standing::Closed(Closed::OutsidePeriod { declaration: (*d).clone(), today: today.to_string() }),
        None => Standing::Closed(Closed::NotDeclared),
    }
}

/// Why reception views a patient's records without the card. A fixed list
/// because it is audited, and the audit log takes no free text; the wire
/// and audit form is the snake_case code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// 災害救助法の適用地域での受診（被災してカード・保険証を持ち出せなかった）.
    DisasterAreaVisit,
    /// 患者が意識不明などで本人確認・同意ができない.
    PatientUnableToConsent,
    /// 避難所・救護所での診療.
    ShelterOrFirstAidPost,
    /// その他の災害時の緊急対応.
    OtherDisasterEmergency,
}

impl Reason {
    /// Every reason, in the order the page offers them.
    pub const ALL: [Reason; 4] =
        [Reason::DisasterAreaVisit, Reason::PatientUnableToConsent, Reason::ShelterOrFirstAidPost, Reason::OtherDisasterEmergency];

    /// The wire and audit code.
    pub fn code(self) -> &'static str {
        match self {
            Reason::DisasterAreaVisit => "disaster_area_visit",
            Reason::PatientUnableToConsent => "patient_unable_to_consent",
            Reason::ShelterOrFirstAidPost => "shelter_or_first_aid_post",
            Reason::OtherDisasterEmergency => "other_disaster_emergency",
        }
    }

    /// The reason from its code (`None` for an unknown one).
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// What the page offers.
    pub fn label(self) -> Bilingual {
        let (ja, en) = match self {
            Reason::DisasterAreaVisit => {
                ("災害救助法の適用地域での受診（カード・保険証を持ち出せなかった）", "Visit from a disaster-relief area (card and certificate left behind)")
            }
            Reason::PatientUnableToConsent => ("患者が意識不明など、本人確認・同意ができない", "The patient cannot identify themselves or consent (e.g. unconscious)"),
            Reason::ShelterOrFirstAidPost => ("避難所・救護所での診療", "Care at a shelter or first-aid post"),
            Reason::OtherDisasterEmergency => ("その他の災害時の緊急対応", "Other emergency care during the disaster"),
        };
        Bilingual::new(ja, en)
    }
}

/// Which consented-history document a card-less view fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum History {
    /// 薬剤情報 (`YZKsiquc01res`).
    Medication,
    /// 特定健診情報 (`TKKsiquc01res`).
    Checkup,
}

/// The red banner's words: why these records are shown without the card.
pub fn banner(declaration: &Declaration) -> Bilingual {
    let (area, period) = (declaration.area.label(), declaration.period_label());
    Bilingual::new(
        format!(
            "災害時の特例：災害救助法の適用地域（{}）として、{}の間に限り、マイナ保険証なしで本人の同意を得ずに薬剤情報・特定健診情報を閲覧しています。閲覧は理由とともに記録されます。",
            area.ja, period.ja
        ),
        format!(
            "Disaster mode: as a disaster-relief area ({}) from {}, medication and health-check records are shown without the card and without the patient's consent. Each view is recorded with its reason.",
            area.en, period.en
        ),
    )
}
