//! Timestamps and calendar days that callers pass in. Nothing here reads a
//! clock: the store, the audit log and the tests all receive "now" from the
//! caller, so the same inputs always give the same rows and hashes.

use std::fmt;
use std::str::FromStr;

use onshi_core::text::{Bilingual, Explain};

/// A moment written as RFC 3339 with an explicit offset, e.g.
/// `2026-11-25T09:30:00+09:00`. The text is kept exactly as validated,
/// because the audit hash covers it byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp(String);

/// A calendar day `YYYY-MM-DD` in the clinic's local time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(String);

/// Why a timestamp or a day was refused. Carries no part of the input,
/// because a caller could (wrongly) pass something secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    #[error("not an RFC 3339 timestamp with offset (YYYY-MM-DDTHH:MM:SS+HH:MM)")]
    BadTimestamp,
    #[error("not a calendar day (YYYY-MM-DD)")]
    BadDay,
    #[error("UTC offset out of range (±23:59)")]
    BadOffset,
}

impl Explain for TimeError {
    fn explain(&self) -> Bilingual {
        match self {
            TimeError::BadTimestamp => Bilingual::new(
                "日時の形式が正しくありません。2026-11-25T09:30:00+09:00 の形で指定してください。",
                "The time is not in RFC 3339 form; give it as 2026-11-25T09:30:00+09:00.",
            ),
            TimeError::BadDay => Bilingual::new(
                "日付の形式が正しくありません。2026-11-25 の形で指定してください。",
                "The date is not valid; give it as 2026-11-25.",
            ),
            TimeError::BadOffset => Bilingual::new(
                "時差（UTCオフセット）が範囲外です。+09:00 のように ±23:59 以内で指定してください。",
                "The UTC offset is out of range; give it as +09:00, within ±23:59.",
            ),
        }
    }
}

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

/// Checks `YYYY-MM-DD` including the real length of the month.
fn valid_date(s: &[u8]) -> bool {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return false;
    }
    match (digits(&s[0..4]), digits(&s[5..7]), digits(&s[8..10])) {
        (Some(y), Some(m), Some(d)) => (1..=12).contains(&m) && d >= 1 && d <= days_in_month(y, m),
        _ => false,
    }
}

impl Timestamp {
    /// Validates RFC 3339 with seconds, optional fraction and `Z` or `±HH:MM`.
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        let b = text.as_bytes();
        let bad = TimeError::BadTimestamp;
        if b.len() < 20 || !valid_date(&b[..10]) || !(b[10] == b'T' || b[10] == b't') {
            return Err(bad);
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(bad);
        }
        match (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19])) {
            // 60 admits a leap second, which RFC 3339 allows.
            (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s <= 60 => {}
            _ => return Err(bad),
        }
        let mut rest = &b[19..];
        if rest.first() == Some(&b'.') {
            let frac = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if frac == 0 || frac > 9 {
                return Err(bad);
            }
            rest = &rest[1 + frac..];
        }
        match rest {
            [b'Z'] | [b'z'] => {}
            [sign, h1, h2, b':', m1, m2] if *sign == b'+' || *sign == b'-' => {
                match (digits(&[*h1, *h2]), digits(&[*m1, *m2])) {
                    (Some(h), Some(m)) if h < 24 && m < 60 => {}
                    _ => return Err(bad),
                }
            }
            _ => return Err(bad),
        }
        Ok(Timestamp(text.to_owned()))
    }

    /// Builds the timestamp for unix seconds seen at a UTC offset (minutes
    /// east of Greenwich; Japan is +540). The day of the result is the local day.
    pub fn from_unix(secs: i64, offset_minutes: i32) -> Result<Self, TimeError> {
        if offset_minutes.abs() > 23 * 60 + 59 {
            return Err(TimeError::BadOffset);
        }
        let local = secs + i64::from(offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let sod = local.rem_euclid(86_400);
        // The calendar arithmetic lives once, in core; it clamps to years
        // 1..=9999, so a clamped answer means the instant is out of range.
        let date = onshi_core::wareki::Date::from_days(days);
        if date.days() != days {
            return Err(TimeError::BadTimestamp);
        }
        let (y, m, d) = (date.year(), date.month(), date.day());
        let off = if offset_minutes == 0 {
            "Z".to_owned()
        } else {
            let sign = if offset_minutes < 0 { '-' } else { '+' };
            let a = offset_minutes.abs();
            format!("{sign}{:02}:{:02}", a / 60, a % 60)
        };
        Ok(Timestamp(format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{off}",
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        )))
    }

    /// Seconds since 1970-01-01T00:00:00Z (the fraction dropped, a leap
    /// second counted as the next second). Batch leases compare moments
    /// written by different desks, whose offsets need not agree, so they are
    /// compared as instants, never as text. `parse` validated every field,
    /// so the arithmetic cannot meet a bad digit.
    pub fn unix_secs(&self) -> i64 {
        let b = self.0.as_bytes();
        let num = |r: std::ops::Range<usize>| i64::from(digits(&b[r]).unwrap_or(0));
        let date = onshi_core::wareki::Date::new(num(0..4) as u16, num(5..7) as u8, num(8..10) as u8)
            .map(|d| d.days())
            .unwrap_or(0);
        let local = date * 86_400 + num(11..13) * 3600 + num(14..16) * 60 + num(17..19);
        // The offset is the last six bytes (`+09:00`), or `Z`.
        let offset = match b.last() {
            Some(b'Z' | b'z') => 0,
            _ => {
                let o = &b[b.len() - 6..];
                let minutes = num(b.len() - 5..b.len() - 3) * 60 + num(b.len() - 2..b.len());
                if o[0] == b'-' { -minutes } else { minutes }
            }
        };
        local - offset * 60
    }

    /// The local calendar day as written in the timestamp.
    pub fn day(&self) -> Day {
        Day(self.0[..10].to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Day {
    pub fn parse(text: &str) -> Result<Self, TimeError> {
        if valid_date(text.as_bytes()) { Ok(Day(text.to_owned())) } else { Err(TimeError::BadDay) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Timestamp {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Timestamp::parse(s)
    }
}

impl FromStr for Day {
    type Err = TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Day::parse(s)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_accepted_and_refused() {
        for ok in [
            "2026-11-25T09:30:00+09:00",
            "2026-11-25T00:00:00Z",
            "2024-02-29T23:59:60.123-05:30",
        ] {
            assert!(Timestamp::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "2026-11-25",
            "2026-11-25 09:30:00+09:00",
            "2025-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-25T24:00:00Z",
            "2026-11-25T09:30:00",
            "2026-11-25T09:30:00+9:00",
            "2026-11-25T09:30:00.Z",
            "2026-11-25T09:30:00Zjunk",
            "１０２６-11-25T09:30:00Z",
        ] {
            assert_eq!(Timestamp::parse(bad), Err(TimeError::BadTimestamp), "{bad}");
        }
    }

    #[test]
    fn unix_seconds_to_local_time() {
        // 1_764_028_800 is 2025-11-25T00:00:00Z.
        let cases = [
            (1_764_028_800, 0, "2025-11-25T00:00:00Z", "2025-11-25"),
            (1_764_028_800, 540, "2025-11-25T09:00:00+09:00", "2025-11-25"),
            (1_764_028_800 - 1, 540, "2025-11-25T08:59:59+09:00", "2025-11-25"),
            (1_764_028_800 - 1, 0, "2025-11-24T23:59:59Z", "2025-11-24"),
            (1_764_028_800, -330, "2025-11-24T18:30:00-05:30", "2025-11-24"),
            (951_782_400, 0, "2000-02-29T00:00:00Z", "2000-02-29"),
            (0, 0, "1970-01-01T00:00:00Z", "1970-01-01"),
        ];
        for (secs, off, text, day) in cases {
            let t = Timestamp::from_unix(secs, off).unwrap();
            assert_eq!(t.as_str(), text);
            assert_eq!(t.day().as_str(), day);
            assert_eq!(Timestamp::parse(text).unwrap(), t, "round trip {text}");
        }
        assert_eq!(Timestamp::from_unix(0, 24 * 60), Err(TimeError::BadOffset));
        for (secs, off, _, _) in cases {
            assert_eq!(Timestamp::from_unix(secs, off).unwrap().unix_secs(), secs, "{secs} at {off}");
        }
        assert_eq!(Timestamp::parse("2025-11-25T09:00:00.75+09:00").unwrap().unix_secs(), 1_764_028_800);
    }

    #[test]
    fn days() {
        assert!(Day::parse("2026-11-25").is_ok());
        assert_eq!(Day::parse("2026-11-31"), Err(TimeError::BadDay));
        assert_eq!(Day::parse("26-11-25"), Err(TimeError::BadDay));
    }
}
