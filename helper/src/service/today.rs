//! Today's list as the page reads it: a stored desk check → one
//! [`TodayEntry`], in one place for the `today` reply and the
//! `today_added` event (issue 17: every desk's checks, with the desk).

use onshi_core::protocol::{ConfirmKind, ConfirmMode, TodayEntry};

use super::eligibility;
use crate::store::{CardCheck, ResultId, ResultKind, StoredResult};

/// The id a page knows a stored result by; `q-` for one queued on this PC
/// while the shared store is down (its id is the PC file's, issue 17).
pub fn entry_id(id: ResultId) -> String {
    if id.is_queued() { format!("q-{}", -id.0) } else { format!("t-{}", id.0) }
}

/// How the list names a stored check; `None` for batch and history rows,
/// which it does not show.
pub fn kind(kind: ResultKind, card: Option<CardCheck>) -> Option<ConfirmKind> {
    Some(match (kind, card) {
        (ResultKind::CardConfirm, Some(CardCheck { mode: ConfirmMode::Visual, .. })) => ConfirmKind::CardVisual,
        // Card results stored before schema 2 have no mode; PIN is the usual one.
        (ResultKind::CardConfirm, _) => ConfirmKind::CardPin,
        (ResultKind::InsuranceConfirm, _) => ConfirmKind::Insurance,
        (ResultKind::Face, _) => ConfirmKind::Face,
        _ => return None,
    })
}

/// The list's entry for a stored desk check (its document read again).
pub fn entry(r: StoredResult) -> Option<TodayEntry> {
    let kind = kind(r.kind, r.card)?;
    // The stored document was read once already; one that no longer parses
    // just shows without codes. The list carries text only: its bytes would
    // double a long day's reply.
    let (xml, summary) = match eligibility::read_answer(&r.xml.bytes) {
        Ok(a) => (a.xml, eligibility::summary(&a.message).0),
        Err(_) => (eligibility::stored_text(&r.xml), Default::default()),
    };
    Some(TodayEntry {
        entry_id: entry_id(r.id),
        at: r.at,
        kind,
        consents: r.card.map(|c| c.consents),
        document: r.document,
        treatment: r.treatment,
        desk: r.desk,
        xml,
        summary,
    })
}
