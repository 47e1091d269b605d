//! What the consented-history page shows, computed from the eligibility
//! result (for the consents), a "now" passed in and the fetched documents.
//! Pure; the consent rule is the core's `consent_status`, never re-derived.
//!
//! Architecture invariant: a section's content exists only inside
//! `Section::Shown`, which only `medication_view` / `checkup_view` build,
//! and only after the consent check passed — so no view can draw history
//! without the check.

use onshi_core::codes::ConsentFlag;
use onshi_core::message::{Message, Qualification};
use onshi_core::summary::{consent_status, ConsentStatus};
use onshi_core::text::{Bilingual, Explain};
use onshi_core::wareki;

/// One part of the page: blocked (with why and what to do), waiting for the
/// document, unreadable, or shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Section<T> {
    Blocked { status: ConsentStatus, message: Bilingual },
    /// Consent is valid; the document has not been fetched yet.
    NotLoaded { until: Option<String> },
    Failed(Bilingual),
    Shown { until: Option<String>, content: T },
}

/// Which history, for the wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Medication,
    Checkup,
}

impl Kind {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Kind::Medication => ("薬剤情報", "medication information"),
            Kind::Checkup => ("特定健診情報", "health-check results"),
        }
    }
}

/// Why a history cannot be shown, and what reception should do.
pub fn blocked_message(kind: Kind, status: &ConsentStatus) -> Bilingual {
    let (ja, en) = kind.names();
    match status {
        ConsentStatus::None => Bilingual::new(
            format!("患者さんは{ja}の閲覧に同意していないため表示できません。閲覧が必要なら、マイナンバーカードで受付する際に顔認証付きカードリーダーで「同意する」を選んでもらってください。"),
            format!("The patient has not agreed to share {en}, so it cannot be shown. If needed, ask them to choose \"agree\" on the card reader when checking in with their My Number card."),
        ),
        ConsentStatus::Expired => Bilingual::new(
            format!("{ja}の閲覧同意の有効期限が切れています。次回マイナンバーカードで受付する際に、もう一度同意を選んでもらってください。"),
            format!("The consent to view {en} has expired. Ask the patient to agree again at the card reader next time."),
        ),
        ConsentStatus::Unobtainable => Bilingual::new(
            format!("{ja}の閲覧同意を取得できませんでした（保険証・資格確認書での受付など）。マイナンバーカードで受付し直すと同意を選べます。"),
            format!("Consent to view {en} could not be obtained (e.g. checked in with an insurance card). Checking in with the My Number card lets the patient agree."),
        ),
        ConsentStatus::Unknown { code } => Bilingual::new(
            format!("同意の状態（コード{code}）が不明なため、{ja}は表示しません。もう一度資格確認をしてください。"),
            format!("The consent state (code {code}) is unknown, so {en} is not shown. Run the eligibility check again."),
        ),
        ConsentStatus::Given { .. } => Bilingual::new("同意あり", "Consent given"),
    }
}

fn gate<T>(kind: Kind, flag: Option<&ConsentFlag>, until: Option<&str>, now: &str, xml: Option<&str>, read: impl FnOnce(&Message) -> Option<T>) -> Section<T> {
    let status = consent_status(flag, until, now);
    let ConsentStatus::Given { until } = status else {
        let message = blocked_message(kind, &status);
        return Section::Blocked { status, message };
    };
    let Some(xml) = xml else { return Section::NotLoaded { until } };
    let parsed = match onshi_core::parse(xml.as_bytes()) {
        Ok(p) => p,
        Err(e) => return Section::Failed(e.explain()),
    };
    match read(&parsed.message) {
        Some(content) => Section::Shown { until, content },
        None => Section::Failed(Bilingual::new(
            "受け取った文書は履歴の結果ではありません。もう一度取得してください。",
            "The document received is not a history result. Fetch it again.",
        )),
    }
}

/// One drug line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrugLine {
    pub name: String,
    /// Quantity and unit, then usage: "1錠 1日1回朝食後".
    pub dose: String,
    /// "28日分", or empty.
    pub days: String,
}

/// One dispensing at one place on one date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispensing {
    pub institution: String,
    pub drugs: Vec<DrugLine>,
}

/// One dispensing date with everything dispensed that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayGroup {
    /// `YYYYMMDD`.
    pub date: String,
    /// 令和7年3月10日, or the raw text when it is not a date.
    pub label: String,
    pub dispensings: Vec<Dispensing>,
}

/// One month, newest first in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthGroup {
    /// `YYYYMM`.
    pub month: String,
    /// 2025年3月 (令和7年).
    pub label: String,
    pub days: Vec<DayGroup>,
}

fn month_label(yyyymm: &str) -> String {
    match wareki::Date::parse_yyyymmdd(&format!("{yyyymm}01")).ok().and_then(|d| d.to_wareki().ok().map(|w| (d, w))) {
        Some((d, w)) => format!("{}年{}月（{}{}年）", d.year(), d.month(), w.era.kanji(), if w.year == 1 { "元".to_string() } else { w.year.to_string() }),
        None => yyyymm.to_string(),
    }
}

/// Medication grouped by month (of the dispensing date), then by date;
/// newest first. Dispensings on one date at several pharmacies stay apart.
pub fn group_medication(message: &Message) -> Option<Vec<MonthGroup>> {
    let Message::MedicationResult(m) = message else { return None };
    let mut days: Vec<(String, Dispensing)> = Vec::new();
    for month in &m.body.months {
        for day in &month.days {
            // The date decides the month; the month wrapper is only a fallback.
            let date = day.date.clone().unwrap_or_else(|| format!("{}00", month.year_month.clone().unwrap_or_default()));
            let drugs = day
                .drugs
                .iter()
                .map(|d| {
                    let qty = format!("{}{}", d.quantity.as_deref().unwrap_or(""), d.unit.as_deref().unwrap_or(""));
                    let dose = [qty.as_str(), d.usage.as_deref().unwrap_or("")].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
                    let days = d.days.as_deref().filter(|s| !s.trim().is_empty()).map(|s| format!("{}日分", s.trim())).unwrap_or_default();
                    DrugLine { name: d.name.clone().unwrap_or_default(), dose, days }
                })
                .collect();
            let institution = day.dispensing_institution.clone().or_else(|| day.prescribing_institution.clone()).unwrap_or_default();
            days.push((date, Dispensing { institution, drugs }));
        }
    }
    // Newest first; stable, so one date's pharmacies keep the document's order.
    days.sort_by(|a, b| b.0.cmp(&a.0));
    let mut months: Vec<MonthGroup> = Vec::new();
    for (date, dispensing) in days {
        let month = date.chars().take(6).collect::<String>();
        if months.last().is_none_or(|m| m.month != month) {
            months.push(MonthGroup { label: month_label(&month), month: month.clone(), days: Vec::new() });
        }
        let Some(m) = months.last_mut() else { continue };
        if m.days.last().is_none_or(|d| d.date != date) {
            let label = wareki::format_yyyymmdd(&date).unwrap_or_else(|_| date.clone());
            m.days.push(DayGroup { date: date.clone(), label, dispensings: Vec::new() });
        }
        if let Some(d) = m.days.last_mut() {
            d.dispensings.push(dispensing);
        }
    }
    Some(months)
}

/// One health check, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckupView {
    pub label: String,
    pub institution: String,
    /// (item, value with unit, judgement).
    pub items: Vec<(String, String, String)>,
}

pub fn checkups(message: &Message) -> Option<Vec<CheckupView>> {
    let Message::CheckupResult(m) = message else { return None };
    let mut out: Vec<CheckupView> = m
        .body
        .checkups
        .iter()
        .map(|c| {
            let date = c.date.clone().unwrap_or_default();
            CheckupView {
                label: wareki::format_yyyymmdd(&date).unwrap_or(date),
                institution: c.institution.clone().unwrap_or_default(),
                items: c
                    .items
                    .iter()
                    .map(|i| {
                        let value = format!("{} {}", i.value.as_deref().unwrap_or(""), i.unit.as_deref().unwrap_or("")).trim().to_string();
                        (i.name.clone().unwrap_or_default(), value, i.judgement.clone().unwrap_or_default())
                    })
                    .collect(),
            }
        })
        .collect();
    out.reverse();
    Some(out)
}

/// The medication section: only while the 薬剤情報 consent is valid at `now`.
pub fn medication_view(q: &Qualification, now: &str, xml: Option<&str>) -> Section<Vec<MonthGroup>> {
    gate(Kind::Medication, q.pharmacists_consent.as_ref(), q.pharmacists_available_time.as_deref(), now, xml, group_medication)
}

/// The health-check section: only while the 特定健診 consent is valid at `now`.
pub fn checkup_view(q: &Qualification, now: &str, xml: Option<&str>) -> Section<Vec<CheckupView>> {
    gate(Kind::Checkup, q.checkup_consent.as_ref(), q.checkup_available_time.as_deref(), now, xml, checkups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;

    #[test]
    fn medication_grouped_by_month_then_date() {
        let q = demo::consenting("20250501000000");
        let Section::Shown { content, until } = medication_view(&q, "20250401120000", Some(demo::MEDICATION_XML)) else { panic!() };
        assert_eq!(until.as_deref(), Some("20250501000000"));
        let months: Vec<_> = content.iter().map(|m| (m.month.as_str(), m.days.len())).collect();
        assert_eq!(months, [("202503", 1), ("202502", 1)], "newest first; one date in March");
        assert_eq!(content[0].label, "2025年3月（令和7年）");
        let march = &content[0].days[0];
        assert_eq!(march.label, "令和7年3月10日");
        let places: Vec<_> = march.dispensings.iter().map(|d| d.institution.as_str()).collect();
        assert_eq!(places, ["さくら薬局", "みどり薬局"]);
        assert_eq!(march.dispensings[0].drugs[1], DrugLine { name: "ロキソプロフェンNa錠60mg".into(), dose: "3錠 1日3回毎食後".into(), days: "5日分".into() });
    }

    /// Consent rows: (flag, until, expected state).
    #[test]
    fn shown_only_while_consent_is_valid() {
        let now = "20250401120000";
        let rows: &[(Option<ConsentFlag>, Option<&str>, &str)] = &[
            (Some(ConsentFlag::Given), Some("20250501000000"), "shown"),
            (Some(ConsentFlag::Given), None, "shown"),
            (Some(ConsentFlag::Given), Some("20250401115959"), "expired"),
            (Some(ConsentFlag::Expired), None, "expired"),
            (Some(ConsentFlag::None), None, "none"),
            (None, None, "none"),
            (Some(ConsentFlag::Unobtainable), None, "unobtainable"),
            (Some(ConsentFlag::Unknown("7".into())), None, "unknown"),
        ];
        for (flag, until, expected) in rows {
            let q = Qualification {
                pharmacists_consent: flag.clone(),
                pharmacists_available_time: until.map(str::to_string),
                checkup_consent: flag.clone(),
                checkup_available_time: until.map(str::to_string),
                ..Default::default()
            };
            for state in [
                match medication_view(&q, now, Some(demo::MEDICATION_XML)) {
                    Section::Shown { .. } => "shown".to_string(),
                    Section::Blocked { status, message } => {
                        assert!(message.ja.contains("薬剤情報") && !message.en.is_empty());
                        format!("{status:?}")
                    }
                    other => format!("{other:?}"),
                },
                match checkup_view(&q, now, Some(demo::CHECKUP_XML)) {
                    Section::Shown { .. } => "shown".to_string(),
                    Section::Blocked { status, message } => {
                        assert!(message.ja.contains("特定健診"));
                        format!("{status:?}")
                    }
                    other => format!("{other:?}"),
                },
            ] {
                assert!(state.to_lowercase().starts_with(expected), "{flag:?} {until:?}: {state}");
            }
        }
    }

    #[test]
    fn not_loaded_failed_and_checkups() {
        let q = demo::consenting("20250501000000");
        assert!(matches!(medication_view(&q, "20250401", None), Section::NotLoaded { .. }));
        assert!(matches!(medication_view(&q, "20250401", Some("<x")), Section::Failed(_)));
        assert!(matches!(medication_view(&q, "20250401", Some(demo::CHECKUP_XML)), Section::Failed(_)));
        let Section::Shown { content, .. } = checkup_view(&q, "20250401", Some(demo::CHECKUP_XML)) else { panic!() };
        assert_eq!(content[0].label, "令和6年6月15日");
        assert_eq!(content[0].items[1], ("腹囲".into(), "91.0 cm".into(), "要注意".into()));
    }
}
