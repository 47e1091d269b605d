//! Today's desk: the results the helper kept today, read once into rows,
//! and the search over them. Pure.

use onshi_core::protocol::{ConfirmKind, TodayEntry};
use onshi_core::summary::{summarize_message, Outcome};
use onshi_core::text::search_key;

use super::result::{first_entry, person_key};

/// One line of today's list.
#[derive(Debug, Clone, PartialEq)]
pub struct TodayRow {
    pub entry_id: String,
    /// RFC 3339 as the helper wrote it.
    pub at: String,
    pub kind: ConfirmKind,
    /// Card checks: the consents chosen at the desk (kept by the helper, so
    /// they survive a reload).
    pub consents: Option<onshi_core::protocol::Consents>,
    /// Checks by numbers: the document in hand, when recorded.
    pub document: Option<onshi_core::protocol::PresentedDocument>,
    /// Desk checks: where the patient was treated, when recorded.
    pub treatment: Option<onshi_core::protocol::Treatment>,
    /// The desk that made it, when the helper named one (a shared store
    /// lists every desk's checks).
    pub desk: Option<String>,
    pub name: String,
    pub kana: String,
    pub insurer: String,
    pub number: String,
    /// `None` when the stored document could not be read.
    pub outcome: Option<Outcome>,
    /// The person (see `person_key`), to find earlier results for the diff.
    pub person: Option<String>,
    pub xml: String,
}

impl TodayRow {
    pub fn from_entry(e: &TodayEntry) -> TodayRow {
        let q = first_entry(&e.xml);
        let outcome = onshi_core::parse(e.xml.as_bytes())
            .ok()
            .and_then(|p| summarize_message(&p.message).into_iter().next())
            .map(|s| s.outcome);
        let s = |v: Option<&String>| v.map(|s| s.trim().to_string()).unwrap_or_default();
        TodayRow {
            entry_id: e.entry_id.clone(),
            at: e.at.clone(),
            kind: e.kind,
            consents: e.consents,
            document: e.document,
            treatment: e.treatment,
            desk: e.desk.clone(),
            name: s(q.as_ref().and_then(|q| q.name.as_ref())),
            kana: s(q.as_ref().and_then(|q| q.name_kana.as_ref())),
            insurer: s(q.as_ref().and_then(|q| q.insurer_number.as_ref())),
            number: s(q.as_ref().and_then(|q| q.insured_identification_number.as_ref())),
            outcome,
            person: q.as_ref().map(person_key),
            xml: e.xml.clone(),
        }
    }

    /// `HH:MM` from the RFC 3339 time (the helper writes local time).
    pub fn time(&self) -> &str {
        self.at.get(11..16).unwrap_or(&self.at)
    }

    /// Whether the row matches a search: name, kana, insurer or number,
    /// compared by [`search_key`]: ｱｲｳ, あいう and アイウ all find アイウ,
    /// ３９１３ finds 3913, spaces do not matter.
    pub fn matches(&self, query: &str) -> bool {
        let q = search_key(query);
        if q.is_empty() {
            return true;
        }
        [&self.name, &self.kana, &self.insurer, &self.number].iter().any(|f| search_key(f).contains(&q))
    }
}

/// The rows matching a search, newest first.
pub fn search<'a>(rows: &'a [TodayRow], query: &str) -> Vec<&'a TodayRow> {
    rows.iter().rev().filter(|r| r.matches(query)).collect()
}
