//! The usage query against both engines: grouping, the range edges, kinds
//! that do not count; and SQLite's covering index actually used.

use onshi_core::protocol::{ConfirmMode, Consents, PresentedDocument as Doc};
use onshi_core::usage::{Method, UsageQuery};

use super::super::test_engine::{conformance, Engine, Place};
use super::super::*;
use crate::time::Day;

conformance!(usage_counts_each_desk_check_once_per_day_and_month, insert_results_is_all_or_nothing);

fn result(at: &str, kind: ResultKind, mode: Option<ConfirmMode>, document: Option<Doc>) -> NewResult {
    NewResult {
        card: mode.map(|mode| CardCheck { mode, consents: Consents::default() }),
        document,
        ..super::super::tests::result_at(at, kind)
    }
}

fn usage_counts_each_desk_check_once_per_day_and_month(e: Engine) {
    let mut s = Place::new(e).open();
    use ResultKind::*;
    let rows = [
        // The day before the range: not counted.
        result("2026-10-31T23:59:59+09:00", CardConfirm, Some(ConfirmMode::Pin), None),
        result("2026-11-01T00:00:00+09:00", CardConfirm, Some(ConfirmMode::Pin), None),
        result("2026-11-01T09:00:00+09:00", CardConfirm, Some(ConfirmMode::Visual), None),
        result("2026-11-01T09:05:00+09:00", Face, None, None),
        result("2026-11-01T09:10:00+09:00", InsuranceConfirm, None, Some(Doc::EligibilityCertificate)),
        result("2026-11-01T09:15:00+09:00", InsuranceConfirm, None, Some(Doc::EligibilityNotice)),
        result("2026-11-01T09:20:00+09:00", InsuranceConfirm, None, None),
        // Neither batch nor history views are checks at the desk.
        result("2026-11-01T09:25:00+09:00", Batch, None, None),
        result("2026-11-01T09:30:00+09:00", Medication, None, None),
        result("2026-11-01T09:35:00+09:00", HealthCheckup, None, None),
        result("2026-12-06T23:59:59+09:00", InsuranceConfirm, None, Some(Doc::InsuranceCard)),
        result("2026-12-06T10:00:00+09:00", Face, None, None),
        // The day after: not counted.
        result("2026-12-07T00:00:00+09:00", Face, None, None),
    ];
    s.insert_results(&rows).unwrap();
    let q = UsageQuery { from: "20261101".into(), to: "20261206".into() };
    let (from, to) = (Day::parse("2026-11-01").unwrap(), Day::parse("2026-12-06").unwrap());
    let r = s.usage(&q, &from, &to).unwrap();
    let days: Vec<&str> = r.days.iter().map(|d| d.day.as_str()).collect();
    assert_eq!(days, ["20261101", "20261206"]);
    let nov = r.days[0].counts;
    for m in [Method::CardPin, Method::CardVisual, Method::Face, Method::Certificate, Method::Notice, Method::NumbersUnrecorded] {
        assert_eq!(nov.get(m), 1, "{m:?}");
    }
    assert_eq!(nov.insurance_card, 0);
    assert_eq!(nov.rate().card, 3);
    assert_eq!(nov.total(), 6);
    let months: Vec<(&str, u32)> = r.months.iter().map(|m| (m.month.as_str(), m.counts.total())).collect();
    assert_eq!(months, [("202611", 6), ("202612", 2)]);
    assert_eq!(r.total().rate().percent_text(), "50.0%");
}

#[test]
fn usage_reads_only_the_covering_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("u.sqlite")).unwrap();
    let plan: Vec<String> = s
        .conn
        .prepare(
            "EXPLAIN QUERY PLAN SELECT day, kind, card_mode, document, count(*) FROM results
             WHERE day BETWEEN ?1 AND ?2 GROUP BY day, kind, card_mode, document",
        )
        .unwrap()
        .query_map(["2026-01-01", "2026-12-31"], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(plan.iter().any(|p| p.contains("COVERING INDEX results_usage")), "{plan:?}");
    assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "grouping follows the index order: {plan:?}");
}

fn insert_results_is_all_or_nothing(e: Engine) {
    let mut s = Place::new(e).open();
    let good = result("2026-11-01T09:00:00+09:00", ResultKind::Face, None, None);
    let bad = NewResult { job: Some(JobId(999)), ..good.clone() };
    assert!(s.insert_results(&[good.clone(), bad]).is_err());
    assert!(s.results_for_day(&Day::parse("2026-11-01").unwrap()).unwrap().is_empty());
    assert_eq!(s.insert_results(&[good.clone(), good]).unwrap().len(), 2);
}
