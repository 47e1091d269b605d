//! The usage statistics as a CSV file for the clinic's records: one line per
//! day with checks, then one total line per month. Field quoting, the
//! formula guard and the encodings are `export`'s, so every CSV this
//! project writes follows one rule.

use super::{Method, UsageCounts, UsageReply};
use crate::export::{encode_csv, line, CsvEncoding};

/// The columns after 区分 and 期間 (Japanese header, English key): one per
/// [`Method::ALL`], then the totals and the rate.
pub const USAGE_CSV_COLUMNS: [(&str, &str); 13] = [
    ("区分", "span"),
    ("期間", "period"),
    ("マイナ（暗証番号）", "card_pin"),
    ("マイナ（目視）", "card_visual"),
    ("顔認証", "face"),
    ("資格確認書", "eligibility_certificate"),
    ("資格情報のお知らせ", "eligibility_notice"),
    ("保険証", "insurance_card"),
    ("番号（書類未記録）", "numbers_unrecorded"),
    ("資格確認件数", "all_checks"),
    ("マイナ保険証件数", "card_checks"),
    ("マイナ保険証利用率", "rate"),
    ("率の定義", "rate_definition"),
];

/// Stated in every total line, so a printed file says what its rate means.
const DEFINITION: &str = "オンライン資格確認件数ベース（マイナ保険証利用件数÷資格確認件数、一括照会・閲覧を除く）";

fn push(out: &mut String, span: &str, period: &str, c: &UsageCounts, definition: &str) {
    let counts: Vec<String> = Method::ALL.iter().map(|m| c.get(*m).to_string()).collect();
    let rate = c.rate();
    let (all, card, pct) = (rate.all.to_string(), rate.card.to_string(), rate.percent_text());
    let mut cells: Vec<&str> = vec![span, period];
    cells.extend(counts.iter().map(String::as_str));
    cells.extend([all.as_str(), card.as_str(), pct.as_str(), definition]);
    line(out, &cells);
}

/// `2026-01-25` from `20260125`, `2026-01` from `202601`; anything else as is.
fn dashed(s: &str) -> String {
    match (s.len(), s.get(..4), s.get(4..6), s.get(6..)) {
        (8, Some(y), Some(m), Some(d)) => format!("{y}-{m}-{d}"),
        (6, Some(y), Some(m), _) => format!("{y}-{m}"),
        _ => s.to_owned(),
    }
}

/// The reply → the bytes of a CSV file: day lines (日), month lines (月),
/// then one line for the whole range (計).
pub fn usage_csv(reply: &UsageReply, encoding: CsvEncoding) -> Vec<u8> {
    let mut out = String::with_capacity(reply.days.len() * 80 + 512);
    let header: Vec<&str> = USAGE_CSV_COLUMNS.iter().map(|(ja, _)| *ja).collect();
    line(&mut out, &header);
    for d in &reply.days {
        push(&mut out, "日", &dashed(&d.day), &d.counts, "");
    }
    for m in &reply.months {
        push(&mut out, "月", &dashed(&m.month), &m.counts, DEFINITION);
    }
    let range = format!("{}〜{}", dashed(&reply.from), dashed(&reply.to));
    push(&mut out, "計", &range, &reply.total(), DEFINITION);
    encode_csv(&out, encoding)
}
