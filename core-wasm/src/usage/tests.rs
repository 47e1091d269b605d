//! The counting rule, the rate and the CSV, checked on small tables.

use super::*;
use crate::export::CsvEncoding;

fn q(from: &str, to: &str) -> UsageQuery {
    UsageQuery { from: from.into(), to: to.into() }
}

#[test]
fn stored_rows_classify_by_kind_mode_and_document() {
    let check = |kind, mode, doc, want| assert_eq!(Method::of_stored(kind, mode, doc), want, "{kind} {mode:?} {doc:?}");
    check("card_confirm", Some("pin"), None, Some(Method::CardPin));
    check("card_confirm", Some("visual"), None, Some(Method::CardVisual));
    // Before schema 2 a card result had no mode; PIN was the only one.
    check("card_confirm", None, None, Some(Method::CardPin));
    check("face", None, None, Some(Method::Face));
    check("insurance_confirm", None, Some("eligibility_certificate"), Some(Method::Certificate));
    check("insurance_confirm", None, Some("eligibility_notice"), Some(Method::Notice));
    check("insurance_confirm", None, Some("insurance_card"), Some(Method::InsuranceCard));
    check("insurance_confirm", None, None, Some(Method::NumbersUnrecorded));
    check("insurance_confirm", None, Some("something_new"), Some(Method::NumbersUnrecorded));
    // Not checks at the desk: counted in neither part of the rate.
    for kind in ["batch", "medication", "health_checkup", "unknown_kind", ""] {
        check(kind, None, None, None);
    }
}

#[test]
fn rate_is_card_checks_over_all_desk_checks() {
    let mut c = UsageCounts::default();
    for (m, n) in [
        (Method::CardPin, 5),
        (Method::CardVisual, 2),
        (Method::Face, 3),
        (Method::Certificate, 4),
        (Method::Notice, 1),
        (Method::InsuranceCard, 2),
        (Method::NumbersUnrecorded, 3),
    ] {
        c.add(m, n);
    }
    assert_eq!(c.total(), 20);
    assert_eq!(c.rate(), Rate { card: 10, all: 20 });
    assert_eq!(c.rate().percent_text(), "50.0%");
    assert_eq!(Rate { card: 1, all: 3 }.percent_text(), "33.3%");
    assert_eq!(Rate { card: 2, all: 3 }.percent_text(), "66.7%");
    assert_eq!(Rate { card: 0, all: 0 }.percent_text(), "—");
    assert_eq!(Rate { card: u32::MAX, all: u32::MAX }.per_mille(), Some(1000));
}

#[test]
fn counts_saturate_instead_of_wrapping() {
    let mut c = UsageCounts::default();
    c.add(Method::Face, u32::MAX);
    c.add(Method::Face, 5);
    c.add(Method::CardPin, u32::MAX);
    assert_eq!(c.face, u32::MAX);
    assert_eq!(c.total(), u32::MAX);
}

#[test]
fn months_are_sums_of_their_days() {
    let rows = vec![
        ("20260201".to_owned(), Method::Notice, 2),
        ("20260131".to_owned(), Method::CardPin, 3),
        ("20260131".to_owned(), Method::CardPin, 1),
        ("20260105".to_owned(), Method::Face, 1),
    ];
    let r = UsageReply::from_rows(&q("20260101", "20260228"), rows);
    let days: Vec<(&str, u32)> = r.days.iter().map(|d| (d.day.as_str(), d.counts.total())).collect();
    assert_eq!(days, [("20260105", 1), ("20260131", 4), ("20260201", 2)]);
    let months: Vec<(&str, u32, u32)> = r.months.iter().map(|m| (m.month.as_str(), m.counts.rate().card, m.counts.total())).collect();
    assert_eq!(months, [("202601", 5, 5), ("202602", 0, 2)]);
    assert_eq!(r.total().total(), 7);
}

#[test]
fn ranges_are_checked() {
    assert!(q("20260101", "20261231").days().is_ok());
    assert_eq!(q("2026-01-01", "20261231").days(), Err(RangeError::NotADate { field: "from" }));
    assert_eq!(q("20260101", "20260230").days(), Err(RangeError::NotADate { field: "to" }));
    assert_eq!(q("20260102", "20260101").days(), Err(RangeError::Reversed));
    assert_eq!(q("20250101", "20261231").days(), Err(RangeError::TooLong { days: 730, max: MAX_USAGE_DAYS }));
}

#[test]
fn wire_shape_round_trips() {
    let r = UsageReply::from_rows(&q("20260101", "20260131"), [("20260105".to_owned(), Method::CardVisual, 2)]);
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(
        json,
        r#"{"from":"20260101","to":"20260131","days":[{"day":"20260105","counts":{"card_pin":0,"card_visual":2,"face":0,"eligibility_certificate":0,"eligibility_notice":0,"insurance_card":0,"numbers_unrecorded":0}}],"months":[{"month":"202601","counts":{"card_pin":0,"card_visual":2,"face":0,"eligibility_certificate":0,"eligibility_notice":0,"insurance_card":0,"numbers_unrecorded":0}}]}"#
    );
    assert_eq!(serde_json::from_str::<UsageReply>(&json).unwrap(), r);
    // A newer helper's extra method is ignored, a missing one reads as 0.
    let c: UsageCounts = serde_json::from_str(r#"{"card_pin":4,"smartphone":9}"#).unwrap();
    assert_eq!(c.total(), 4);
}

#[test]
fn csv_has_days_months_and_the_total_with_the_definition() {
    let rows = [("20260105".to_owned(), Method::CardPin, 3), ("20260105".to_owned(), Method::Certificate, 1)];
    let r = UsageReply::from_rows(&q("20260101", "20260131"), rows);
    let bytes = usage_csv(&r, CsvEncoding::Utf8Bom);
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert_eq!(lines[0], "区分,期間,マイナ（暗証番号）,マイナ（目視）,顔認証,資格確認書,資格情報のお知らせ,保険証,番号（書類未記録）,資格確認件数,マイナ保険証件数,マイナ保険証利用率,率の定義");
    assert_eq!(lines[1], "日,2026-01-05,3,0,0,1,0,0,0,4,3,75.0%,");
    assert!(lines[2].starts_with("月,2026-01,3,0,0,1,0,0,0,4,3,75.0%,オンライン資格確認件数ベース"));
    assert!(lines[3].starts_with("計,2026-01-01〜2026-01-31,3,"));
    assert_eq!(lines[4], "");
    assert_eq!(USAGE_CSV_COLUMNS.len(), 2 + Method::ALL.len() + 4);
    for (m, (ja, key)) in Method::ALL.iter().zip(&USAGE_CSV_COLUMNS[2..]) {
        assert_eq!((m.label().ja.as_str(), m.key()), (*ja, *key));
    }
    let sjis = usage_csv(&r, CsvEncoding::ShiftJis);
    assert!(sjis.starts_with(&crate::sjis::encode_with("区分,期間", |_, _| ())), "Shift_JIS, no BOM");
}
