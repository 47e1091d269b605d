//! The 利用状況 screen's state (issue 16): the month chosen, the helper's
//! last `usage` answer, and the pure helpers that turn a month into a range
//! and the answer into chart bars. Counting and the rate are the core's
//! (`onshi_core::usage`); nothing here decides what counts as what.

use onshi_core::protocol::ProtocolError;
use onshi_core::usage::{Method, UsageCounts, UsageDay, UsageQuery, UsageReply};
use onshi_core::wareki::{days_in_month, Date};

/// How many months the month picker offers, newest first.
pub const MONTHS_OFFERED: u32 = 24;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UsageView {
    /// `YYYYMM` chosen; empty = the current month (from "now").
    pub month: String,
    /// The answer for [`UsageView::query`] of `month`, once it came.
    pub reply: Option<UsageReply>,
    pub error: Option<ProtocolError>,
    pub loading: bool,
}

/// `(year, month)` of a `YYYYMM…` text, checked.
fn year_month(s: &str) -> Option<(u16, u8)> {
    let y: u16 = s.get(0..4)?.parse().ok()?;
    let m: u8 = s.get(4..6)?.parse().ok()?;
    ((1..=12).contains(&m) && y >= 1).then_some((y, m))
}

/// The month `back` months before `(y, m)`.
fn months_back((y, m): (u16, u8), back: u32) -> (u16, u8) {
    let idx = u32::from(y) * 12 + u32::from(m - 1) - back.min(u32::from(y) * 12);
    ((idx / 12) as u16, (idx % 12) as u8 + 1)
}

impl UsageView {
    /// Another month picked: what was shown for the old one goes.
    pub fn pick(&mut self, month: String) {
        if month != self.month {
            *self = UsageView { month, ..UsageView::default() };
        }
    }

    pub fn sent(&mut self) {
        self.loading = true;
        self.error = None;
    }

    pub fn failed(&mut self, e: ProtocolError) {
        self.loading = false;
        self.error = Some(e);
    }

    /// The helper's answer; one for a month no longer shown (the picker
    /// moved on while it was counted) is dropped.
    pub fn answered(&mut self, reply: UsageReply, now: &str) {
        self.loading = false;
        if self.query(now).is_some_and(|q| q.from == reply.from && q.to == reply.to) {
            self.reply = Some(reply);
        }
    }

    /// The month shown: the chosen one, else now's (`YYYYMMDD…`).
    pub fn month_of(&self, now: &str) -> Option<(u16, u8)> {
        year_month(&self.month).or_else(|| year_month(now))
    }

    /// The request for the shown month: the twelve months ending with it,
    /// so the month table can show the rate's trend from one answer.
    pub fn query(&self, now: &str) -> Option<UsageQuery> {
        let (y, m) = self.month_of(now)?;
        let (fy, fm) = months_back((y, m), 11);
        Some(UsageQuery {
            from: format!("{fy:04}{fm:02}01"),
            to: format!("{y:04}{m:02}{:02}", days_in_month(y, m)),
        })
    }

    /// `YYYYMM` choices for the picker, newest (now's month) first.
    pub fn months_offered(now: &str) -> Vec<String> {
        let Some(now) = year_month(now) else { return Vec::new() };
        (0..MONTHS_OFFERED).map(|b| months_back(now, b)).map(|(y, m)| format!("{y:04}{m:02}")).collect()
    }

    /// Every day of the shown month with its counts (zero when none), in
    /// order: the chart's bars and the day table's rows.
    pub fn days(&self, now: &str) -> Vec<UsageDay> {
        let Some((y, m)) = self.month_of(now) else { return Vec::new() };
        let got: &[UsageDay] = self.reply.as_ref().map(|r| r.days.as_slice()).unwrap_or(&[]);
        (1..=days_in_month(y, m))
            .map(|d| {
                let day = format!("{y:04}{m:02}{d:02}");
                let counts = got.iter().find(|x| x.day == day).map(|x| x.counts).unwrap_or_default();
                UsageDay { day, counts }
            })
            .collect()
    }

    /// The shown month's counts.
    pub fn month_counts(&self, now: &str) -> UsageCounts {
        let Some((y, m)) = self.month_of(now) else { return UsageCounts::default() };
        let key = format!("{y:04}{m:02}");
        self.reply.as_ref().and_then(|r| r.months.iter().find(|x| x.month == key)).map(|x| x.counts).unwrap_or_default()
    }
}

/// `2026年1月` / `2026-01` for a `YYYYMM`.
pub fn month_label(month: &str) -> (String, String) {
    match year_month(month) {
        Some((y, m)) => (format!("{y}年{m}月"), format!("{y}-{m:02}")),
        None => (month.to_owned(), month.to_owned()),
    }
}

/// The weekday of a `YYYYMMDD` (0 = Sunday), for marking weekends.
pub fn weekday(day: &str) -> Option<u8> {
    let d = Date::parse_yyyymmdd(day).ok()?;
    // 1970-01-01 was a Thursday.
    Some(((d.days() + 4).rem_euclid(7)) as u8)
}

/// One stacked segment of a day's bar, in chart units (0 at the bottom).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub method: Method,
    pub count: u32,
    /// Bottom edge, counted in checks.
    pub from: u32,
}

/// A day's bar as segments, bottom to top in [`Method::ALL`] order (card
/// methods first, so the マイナ保険証 part sits on the axis), empty ones left out.
pub fn segments(c: &UsageCounts) -> Vec<Segment> {
    let mut at = 0u32;
    Method::ALL
        .iter()
        .filter_map(|m| {
            let count = c.get(*m);
            (count > 0).then(|| {
                let s = Segment { method: *m, count, from: at };
                at = at.saturating_add(count);
                s
            })
        })
        .collect()
}

/// A round top for the chart's axis: the smallest of 10, 20, 25, 50, 100,
/// 200, 250, 500… at or above the busiest day (so 200 a day fills 80 %).
pub fn axis_top(max: u32) -> u32 {
    let mut step = 10u32;
    loop {
        for (num, den) in [(1, 1), (2, 1), (5, 2), (5, 1)] {
            let top = step.saturating_mul(num) / den;
            if top >= max || step == u32::MAX {
                return top.max(1);
            }
        }
        step = step.saturating_mul(10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_the_twelve_months_ending_with_the_shown_one() {
        let v = UsageView::default();
        assert_eq!(v.query("20260125101500"), Some(UsageQuery { from: "20250201".into(), to: "20260131".into() }));
        let v = UsageView { month: "202412".into(), ..Default::default() };
        assert_eq!(v.query("20260125101500"), Some(UsageQuery { from: "20240101".into(), to: "20241231".into() }));
        let v = UsageView { month: "202402".into(), ..Default::default() };
        assert_eq!(v.query("").unwrap().to, "20240229");
        assert_eq!(UsageView::default().query("garbage"), None);
        // Every query the screen can make fits the helper's limit.
        for m in UsageView::months_offered("20261206") {
            let v = UsageView { month: m, ..Default::default() };
            assert!(v.query("20261206").unwrap().days().is_ok());
        }
    }

    #[test]
    fn a_late_answer_for_another_month_is_dropped() {
        let mut v = UsageView::default();
        let now = "20261206090000";
        let old = v.query(now).unwrap();
        v.sent();
        v.pick("202611".into());
        v.answered(UsageReply::from_rows(&old, []), now);
        assert_eq!((v.reply.is_none(), v.loading), (true, false));
        let q = v.query(now).unwrap();
        v.answered(UsageReply::from_rows(&q, []), now);
        assert_eq!(v.reply.as_ref().map(|r| r.to.as_str()), Some("20261130"));
    }

    #[test]
    fn months_offered_go_back_across_years() {
        let m = UsageView::months_offered("20260215");
        assert_eq!((m.len(), m[0].as_str(), m[1].as_str(), m[2].as_str()), (24, "202602", "202601", "202512"));
        assert!(UsageView::months_offered("").is_empty());
    }

    #[test]
    fn days_fill_the_month_with_zeros() {
        let mut c = UsageCounts::default();
        c.add(Method::Face, 3);
        let q = UsageQuery { from: "20250301".into(), to: "20260228".into() };
        let reply = UsageReply::from_days(&q, vec![UsageDay { day: "20260203".into(), counts: c }]);
        let v = UsageView { month: "202602".into(), reply: Some(reply), ..Default::default() };
        let days = v.days("");
        assert_eq!(days.len(), 28);
        assert_eq!(days[2].counts.face, 3);
        assert_eq!(days[3].counts.total(), 0);
        assert_eq!(v.month_counts("").face, 3);
        assert_eq!(weekday("20260203"), Some(2), "a Tuesday");
    }

    #[test]
    fn bars_stack_card_methods_first_and_axis_is_round() {
        let mut c = UsageCounts::default();
        c.add(Method::Notice, 2);
        c.add(Method::CardPin, 3);
        let s = segments(&c);
        assert_eq!(s, [Segment { method: Method::CardPin, count: 3, from: 0 }, Segment { method: Method::Notice, count: 2, from: 3 }]);
        assert_eq!([axis_top(0), axis_top(7), axis_top(11), axis_top(21), axis_top(200), axis_top(215), axis_top(251)], [10, 10, 20, 25, 200, 250, 500]);
        assert!(axis_top(u32::MAX) >= 1);
    }
}
