//! Usage statistics from the results table (issue 16): checks grouped by
//! day, kind, card mode and document in SQL, over the covering index of
//! schema step 5, so a year of a busy clinic is an index-only scan and no
//! result document is read. Which group counts as which method is the
//! core's rule (`onshi_core::usage::Method::of_stored`), not decided here.

use onshi_core::usage::{Method, UsageQuery, UsageReply};

use super::engine::vals;
use super::{Store, StoreError};
use crate::time::Day;

/// One group of stored results, before classification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageGroup {
    pub day: String,
    pub kind: String,
    pub card_mode: Option<String>,
    pub document: Option<String>,
    pub count: u32,
}

impl Store {
    /// Stored results from `from` to `to` (local days, inclusive), counted
    /// per day, kind, card mode and document. Every kind is returned; the
    /// core decides which count.
    pub fn usage_groups(&self, from: &Day, to: &Day) -> Result<Vec<UsageGroup>, StoreError> {
        let rows = self.db().query(
            "read usage",
            "SELECT day, kind, card_mode, document, count(*) FROM results
             WHERE day BETWEEN ?1 AND ?2
             GROUP BY day, kind, card_mode, document",
            vals![from.as_str(), to.as_str()],
        )?;
        rows.iter()
            .map(|r| {
                Ok(UsageGroup {
                    day: r.text(0)?,
                    kind: r.text(1)?,
                    card_mode: r.opt_text(2)?,
                    document: r.opt_text(3)?,
                    count: u32::try_from(r.int(4)?).unwrap_or(u32::MAX),
                })
            })
            .collect()
    }

    /// The `usage` reply for a checked range: the groups classified by the
    /// core's rule and summed per day and per month.
    pub fn usage(&self, query: &UsageQuery, from: &Day, to: &Day) -> Result<UsageReply, StoreError> {
        let groups = self.usage_groups(from, to)?;
        let rows = groups.into_iter().filter_map(|g| {
            let method = Method::of_stored(&g.kind, g.card_mode.as_deref(), g.document.as_deref())?;
            // Stored days are `YYYY-MM-DD`; the wire says `YYYYMMDD`.
            Some((g.day.replace('-', ""), method, g.count))
        });
        Ok(UsageReply::from_rows(query, rows))
    }
}

#[cfg(test)]
#[path = "usage_tests.rs"]
mod tests;
