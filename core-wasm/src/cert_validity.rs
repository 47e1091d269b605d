//! The one date rule for a My Number card's user-authentication certificate
//! (利用者証明用電子証明書, domain.md §8): valid, expiring within 90 days,
//! lapsed but still usable for the qualification alone, or lapsed for good.
//! The helper applies it before any PIN is asked and the simulated gateway
//! applies it to every card proof, so both sides always agree. Pure: the
//! certificate's expiry day and "today" are passed in (no clock here).
//!
//! # How the days are counted
//! - The **expiry day** is the calendar day of the certificate's notAfter in
//!   the clinic's time zone ([`expiry_day`]); the certificate is good for
//!   the whole of that day (JPKI certificates end at 23:59:59 JST).
//! - **Expires soon**: today is on or before the expiry day and at most
//!   [`REMINDER_DAYS`] (90) days before it (the expiry day itself counts as
//!   "0 days left").
//! - **Lapsed, still usable for the qualification**: from the day after the
//!   expiry day up to and including the **last day of the third calendar
//!   month after the expiry month** ([`grace_end`]). MHLW's public wording
//!   is that the card can still confirm the qualification "有効期限満了日の
//!   3か月後の月末まで"; we read it as month ends, so no day-of-month
//!   clamping is needed (an expiry on 01-31 and one on 01-01 both stay usable
//!   through 04-30). Where the exact rule is unsure we lean to the generous
//!   side on purpose: the gateway is the authority, and a card we let
//!   through that it refuses costs no PIN try (this path never asks one),
//!   while a card we wrongly refuse sends a patient away.
//! - **Lapsed**: after that last day; the card cannot be used for insurance.

use crate::text::Bilingual;
use crate::wareki::{Date, days_in_month};

/// A valid certificate this close to its expiry day (in days) gets a reminder.
pub const REMINDER_DAYS: i64 = 90;
/// Calendar months after the expiry month during which the qualification can still be confirmed.
pub const GRACE_MONTHS: u8 = 3;

/// Where a certificate stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Valid, more than [`REMINDER_DAYS`] days left.
    Valid,
    /// Valid; `days_left` (0..=90) days until the expiry day. The patient
    /// should renew at the 市区町村の窓口 soon: a reminder for the result screen.
    ExpiresSoon { days_left: u16 },
    /// Lapsed, but the qualification (資格情報) can still be confirmed until
    /// `usable_until` (inclusive). Medication and diagnosis views cannot, and
    /// a PIN proves nothing with a lapsed certificate, so none is asked.
    LapsedGrace { usable_until: Date },
    /// Lapsed more than the grace: not usable for insurance at all.
    Lapsed { usable_until: Date },
}

impl Standing {
    /// Whether the card can confirm the qualification at all.
    pub fn qualification_allowed(self) -> bool {
        !matches!(self, Standing::Lapsed { .. })
    }

    /// Whether medication / diagnosis / health-check views may follow.
    pub fn history_allowed(self) -> bool {
        matches!(self, Standing::Valid | Standing::ExpiresSoon { .. })
    }

    /// Whether asking the patient for the PIN can lead anywhere: only with a
    /// certificate that is still valid (a signature under a lapsed
    /// certificate vouches for nothing).
    pub fn pin_useful(self) -> bool {
        self.history_allowed()
    }

    /// The stable snake_case name used on the wire (`valid`, `expires_soon`,
    /// `lapsed_grace`, `lapsed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Valid => "valid",
            Standing::ExpiresSoon { .. } => "expires_soon",
            Standing::LapsedGrace { .. } => "lapsed_grace",
            Standing::Lapsed { .. } => "lapsed",
        }
    }
}

/// The last day on which a certificate that expired on `expiry` can still
/// confirm the qualification: the end of the third calendar month after the
/// expiry month (2026-01-15 → 2026-04-30; 2025-11-30 → 2026-02-28).
pub fn grace_end(expiry: Date) -> Date {
    let months = u32::from(expiry.month()) - 1 + u32::from(GRACE_MONTHS);
    let year = expiry.year().saturating_add((months / 12) as u16).min(9999);
    let month = (months % 12) as u8 + 1;
    // Year 9999 is the calendar's end; a certificate that far out never lapses anyway.
    Date::new(year, month, days_in_month(year, month)).unwrap_or(expiry)
}

/// The rule: where a certificate whose expiry day is `expiry` stands on `today`.
pub fn standing(expiry: Date, today: Date) -> Standing {
    let days_left = expiry.days() - today.days();
    if days_left > REMINDER_DAYS {
        return Standing::Valid;
    }
    if days_left >= 0 {
        return Standing::ExpiresSoon { days_left: days_left as u16 };
    }
    let usable_until = grace_end(expiry);
    if today <= usable_until { Standing::LapsedGrace { usable_until } } else { Standing::Lapsed { usable_until } }
}

/// The calendar day of a notAfter given as Unix seconds, at a UTC offset in
/// minutes east (Japan: +540). JPKI certificates end at 14:59:59Z, which is
/// still the same day in Japan, so the offset matters.
pub fn expiry_day(not_after_unix: i64, offset_minutes: i32) -> Date {
    let local = not_after_unix.saturating_add(i64::from(offset_minutes) * 60);
    Date::from_days(local.div_euclid(86_400))
}

/// A certificate's notAfter as Unix seconds, read from its DER (X.509
/// `tbsCertificate.validity.notAfter`, UTCTime or GeneralizedTime with `Z`).
/// A small bounded walk rather than a full X.509 parser, so the core stays
/// dependency-free and the helper and the gateway read the date the same
/// way; `None` for anything that is not that shape.
pub fn not_after_unix(der: &[u8]) -> Option<i64> {
    let (_, cert, _) = der_tlv(der, 0x30)?;
    let (_, tbs, _) = der_tlv(cert, 0x30)?;
    let mut rest = tbs;
    if rest.first() == Some(&0xA0) {
        rest = der_tlv(rest, 0xA0)?.2; // [0] version
    }
    rest = der_tlv(rest, 0x02)?.2; // serialNumber
    rest = der_tlv(rest, 0x30)?.2; // signature algorithm
    rest = der_tlv(rest, 0x30)?.2; // issuer
    let (_, validity, _) = der_tlv(rest, 0x30)?;
    let (_, _, after_not_before) = der_any_time(validity)?;
    let (tag, text, _) = der_any_time(after_not_before)?;
    der_time(tag, text)
}

/// One TLV with the expected tag: (tag, content, what follows).
fn der_tlv(b: &[u8], want: u8) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    if tag != want {
        return None;
    }
    der_rest(tag, b)
}

fn der_any_time(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    match b.first()? {
        0x17 | 0x18 => der_rest(b[0], &b[1..]),
        _ => None,
    }
}

fn der_rest(tag: u8, b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&first, b) = b.split_first()?;
    let (len, b) = match first {
        n if n < 0x80 => (usize::from(n), b),
        0x81..=0x83 => {
            let k = usize::from(first - 0x80);
            let bytes = b.get(..k)?;
            (bytes.iter().fold(0usize, |acc, x| (acc << 8) | usize::from(*x)), &b[k..])
        }
        _ => return None,
    };
    let content = b.get(..len)?;
    Some((tag, content, &b[len..]))
}

/// `YYMMDDHHMMSSZ` (UTCTime: 50–99 → 19xx) or `YYYYMMDDHHMMSSZ` → Unix seconds.
fn der_time(tag: u8, text: &[u8]) -> Option<i64> {
    let (year, rest) = match (tag, text.len()) {
        (0x17, 13) => {
            let yy = num(&text[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &text[2..])
        }
        (0x18, 15) => (num(&text[..4])?, &text[4..]),
        _ => return None,
    };
    if rest[10] != b'Z' {
        return None;
    }
    let date = Date::new(u16::try_from(year).ok()?, num(&rest[0..2])? as u8, num(&rest[2..4])? as u8).ok()?;
    let (h, m, sec) = (num(&rest[4..6])?, num(&rest[6..8])?, num(&rest[8..10])?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(date.days() * 86_400 + i64::from(h * 3600 + m * 60 + sec))
}

fn num(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

/// `2026年4月30日` — how dates read in these messages.
pub fn ja_date(d: Date) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// `2026-04-30`.
pub fn en_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

/// What reception tells the patient about a certificate that can still be
/// used (the reminder and the grace notice); `None` when there is nothing to say.
pub fn notice(expiry: Date, s: Standing) -> Option<Bilingual> {
    match s {
        Standing::Valid | Standing::Lapsed { .. } => None,
        Standing::ExpiresSoon { days_left } => Some(Bilingual::new(
            format!(
                "マイナンバーカードの電子証明書の有効期限が近づいています（{}まで、あと{days_left}日）。期限が切れる前に、お住まいの市区町村の窓口で更新するよう患者さんにお伝えください。",
                ja_date(expiry)
            ),
            format!(
                "The My Number card's certificate expires soon ({}, {days_left} days left). Tell the patient to renew it at their city office (市区町村の窓口) before then.",
                en_date(expiry)
            ),
        )),
        Standing::LapsedGrace { usable_until } => Some(Bilingual::new(
            format!(
                "電子証明書の有効期限（{}）が切れています。{}までは資格情報だけ確認できますが、薬剤情報・診療情報は見られません。お住まいの市区町村の窓口で更新するよう患者さんにお伝えください。",
                ja_date(expiry),
                ja_date(usable_until)
            ),
            format!(
                "The card's certificate expired on {}. Until {} only the qualification can be confirmed; medication and diagnosis records cannot be viewed. Tell the patient to renew it at their city office (市区町村の窓口).",
                en_date(expiry),
                en_date(usable_until)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse_yyyymmdd(s).unwrap()
    }

    /// One table: expiry, today, expected standing name, and for the lapsed
    /// cases the last usable day.
    fn check(expiry: &str, today: &str, want: &str, until: Option<&str>) {
        let s = standing(d(expiry), d(today));
        assert_eq!(s.as_str(), want, "expiry {expiry}, today {today}: {s:?}");
        match (s, until) {
            (Standing::LapsedGrace { usable_until } | Standing::Lapsed { usable_until }, Some(u)) => {
                assert_eq!(usable_until, d(u), "expiry {expiry}")
            }
            (_, None) => {}
            (other, Some(_)) => panic!("{other:?} has no last usable day"),
        }
    }

    #[test]
    fn valid_and_the_90_day_reminder() {
        check("20270101", "20260101", "valid", None);
        // 91 days left: no reminder yet; 90: the reminder starts.
        check("20260401", "20251231", "valid", None);
        check("20260331", "20251231", "expires_soon", None);
        assert_eq!(standing(d("20260331"), d("20251231")), Standing::ExpiresSoon { days_left: 90 });
        // The expiry day itself is still valid.
        assert_eq!(standing(d("20260331"), d("20260331")), Standing::ExpiresSoon { days_left: 0 });
    }

    #[test]
    fn grace_runs_to_the_end_of_the_third_month() {
        // The day after the expiry day is the first lapsed day.
        check("20260115", "20260116", "lapsed_grace", Some("20260430"));
        check("20260115", "20260430", "lapsed_grace", Some("20260430"));
        check("20260115", "20260501", "lapsed", Some("20260430"));
        // Month ends: the 31st and the 1st of a month share the same last day.
        check("20260131", "20260430", "lapsed_grace", Some("20260430"));
        check("20260101", "20260430", "lapsed_grace", Some("20260430"));
        check("20260131", "20260501", "lapsed", None);
        // Over a year end.
        check("20251130", "20260228", "lapsed_grace", Some("20260228"));
        check("20251130", "20260301", "lapsed", None);
        check("20251015", "20260131", "lapsed_grace", Some("20260131"));
        check("20251231", "20260331", "lapsed_grace", Some("20260331"));
        check("20251231", "20260401", "lapsed", None);
    }

    #[test]
    fn leap_years() {
        // Expiry in November 2027 → grace ends on 29 February 2028 (leap).
        check("20271130", "20280229", "lapsed_grace", Some("20280229"));
        check("20271130", "20280301", "lapsed", None);
        // 2025 is not leap: 28 February.
        check("20241120", "20250228", "lapsed_grace", Some("20250228"));
        check("20241120", "20250301", "lapsed", None);
        // An expiry on 29 February itself: end of May.
        check("20280229", "20280531", "lapsed_grace", Some("20280531"));
        // 2100 is not a leap year (century rule).
        assert_eq!(grace_end(d("21001115")), d("21010228"));
        assert_eq!(grace_end(d("20991115")), d("21000228"));
        assert_eq!(grace_end(d("23991115")), d("24000229"));
    }

    #[test]
    fn what_each_standing_allows() {
        let cases = [
            (Standing::Valid, true, true),
            (Standing::ExpiresSoon { days_left: 3 }, true, true),
            (Standing::LapsedGrace { usable_until: d("20260430") }, true, false),
            (Standing::Lapsed { usable_until: d("20260430") }, false, false),
        ];
        for (s, qualification, history) in cases {
            assert_eq!((s.qualification_allowed(), s.history_allowed(), s.pin_useful()), (qualification, history, history), "{s:?}");
        }
    }

    #[test]
    fn expiry_day_is_the_local_day_of_not_after() {
        // 2030-05-10T14:59:59Z is 23:59:59 on the 10th in Japan.
        let t = d("20300510").days() * 86_400 + 14 * 3600 + 59 * 60 + 59;
        assert_eq!(expiry_day(t, 540), d("20300510"));
        // One second later it is the 11th in Japan but still the 10th in UTC.
        assert_eq!(expiry_day(t + 1, 540), d("20300511"));
        assert_eq!(expiry_day(t + 1, 0), d("20300510"));
    }

    #[test]
    fn not_after_from_der() {
        // A minimal certificate shape: SEQUENCE { SEQUENCE (tbs) { [0] { INTEGER 2 }, INTEGER 1,
        // SEQUENCE {}, SEQUENCE {}, SEQUENCE { UTCTime, UTCTime or GeneralizedTime } } }.
        fn cert(not_before: &[u8], not_after: &[u8]) -> Vec<u8> {
            let time = |t: &[u8]| {
                let tag = if t.len() == 13 { 0x17 } else { 0x18 };
                [vec![tag, t.len() as u8], t.to_vec()].concat()
            };
            let validity = [time(not_before), time(not_after)].concat();
            let tbs = [vec![0xA0, 3, 0x02, 1, 2, 0x02, 1, 1, 0x30, 0, 0x30, 0, 0x30, validity.len() as u8], validity].concat();
            let tbs = [vec![0x30, tbs.len() as u8], tbs].concat();
            [vec![0x30, 0x81, tbs.len() as u8], tbs].concat()
        }
        let t = not_after_unix(&cert(b"240101000000Z", b"300510145959Z")).unwrap();
        assert_eq!(expiry_day(t, 540), d("20300510"));
        assert_eq!(t % 86_400, 14 * 3600 + 59 * 60 + 59);
        let g = not_after_unix(&cert(b"240101000000Z", b"20491231000000Z")).unwrap();
        assert_eq!(expiry_day(g, 0), d("20491231"));
        // UTCTime 50–99 is the 1900s.
        assert_eq!(expiry_day(not_after_unix(&cert(b"240101000000Z", b"991231000000Z")).unwrap(), 0), d("19991231"));
        // Broken shapes: a local time without Z, a 30 February, truncation, another tag.
        assert_eq!(not_after_unix(&cert(b"240101000000Z", b"3005101459590")), None);
        assert_eq!(not_after_unix(&cert(b"240101000000Z", b"300230000000Z")), None);
        let whole = cert(b"240101000000Z", b"300510145959Z");
        for n in 0..whole.len() {
            assert_eq!(not_after_unix(&whole[..n]), None, "cut at {n}");
        }
        assert_eq!(not_after_unix(&[0x31, 0]), None);
    }

    #[test]
    fn notices_say_what_to_do() {
        let soon = notice(d("20260331"), standing(d("20260331"), d("20260301"))).unwrap();
        assert!(soon.ja.contains("2026年3月31日") && soon.ja.contains("あと30日") && soon.ja.contains("市区町村の窓口"), "{}", soon.ja);
        let grace = notice(d("20260115"), standing(d("20260115"), d("20260201"))).unwrap();
        assert!(grace.ja.contains("2026年4月30日までは資格情報だけ") && grace.en.contains("city office"), "{}", grace.ja);
        assert_eq!(notice(d("20300101"), Standing::Valid), None);
    }
}
