//! 和暦 (Japanese era dates): format a Western date as 令和元年5月1日 / R1.5.1 /
//! R1.05.01, and read back what a receptionist types (`R1.5.1`, `令和元年5月1日`,
//! `H31/4/30`, `２０１９/５/１`, `20190501`, …) into a calendar-valid [`Date`].
//!
//! This module does no I/O and never reads the clock; "today" is always
//! passed in by the caller. It owns the one calendar-validity rule of the core
//! (leap years, days per month), so other modules should build dates through
//! [`Date::new`] / [`Date::parse_yyyymmdd`] instead of re-checking.
//!
//! # Era boundaries
//! Each era starts on the day the new name took effect, and the previous era
//! ends the day before:
//!
//! | era | first day | letter |
//! |-----|-----------|--------|
//! | 明治 Meiji  | 1868-10-23 | M |
//! | 大正 Taishō | 1912-07-30 | T |
//! | 昭和 Shōwa  | 1926-12-25 | S |
//! | 平成 Heisei | 1989-01-08 | H |
//! | 令和 Reiwa  | 2019-05-01 | R |
//!
//! **The 明治 choice.** The 明治 era name was proclaimed on 1868-10-23
//! (慶応4年9月8日 in the old lunisolar calendar) and applied retroactively to
//! the whole of 慶応4年 (from 1868-01-25). Japan only adopted the Gregorian
//! calendar on 明治6年1月1日 (1873-01-01), so any Gregorian date before that
//! is a proleptic conversion anyway. We follow ICU / the browsers'
//! `Intl.DateTimeFormat('ja-JP-u-ca-japanese')`, which start 明治 on
//! 1868-10-23, so that the page and the helper agree with what the browser
//! itself prints. Dates before 1868-10-23 are refused with
//! [`WarekiError::BeforeMeiji`]; no living patient is affected.
//!
//! ```
//! use onshi_core::wareki::{Date, parse};
//! let d = Date::new(2019, 5, 1).unwrap();
//! assert_eq!(d.to_wareki().unwrap().kanji(), "令和元年5月1日");
//! assert_eq!(parse("H31/4/30").unwrap(), Date::new(2019, 4, 30).unwrap());
//! assert!(parse("昭和64年1月8日").is_err()); // 昭和 ended on 1月7日
//! ```

use std::fmt;

use serde::Serialize;

use crate::text::{Bilingual, Explain};

/// The five modern eras, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Era {
    Meiji,
    Taisho,
    Showa,
    Heisei,
    Reiwa,
}

impl Era {
    /// Every era, oldest first (the order [`Date::to_wareki`] searches backwards).
    pub const ALL: [Era; 5] = [Era::Meiji, Era::Taisho, Era::Showa, Era::Heisei, Era::Reiwa];

    /// The era name in kanji, e.g. `令和`.
    pub fn kanji(self) -> &'static str {
        match self {
            Era::Meiji => "明治",
            Era::Taisho => "大正",
            Era::Showa => "昭和",
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }

    /// The single letter used on forms and in receipt software (`R`, `H`, `S`, `T`, `M`).
    pub fn letter(self) -> char {
        match self {
            Era::Meiji => 'M',
            Era::Taisho => 'T',
            Era::Showa => 'S',
            Era::Heisei => 'H',
            Era::Reiwa => 'R',
        }
    }

    /// The romanised name for English messages.
    pub fn romaji(self) -> &'static str {
        match self {
            Era::Meiji => "Meiji",
            Era::Taisho => "Taishō",
            Era::Showa => "Shōwa",
            Era::Heisei => "Heisei",
            Era::Reiwa => "Reiwa",
        }
    }

    /// The first day of the era (see the module doc for the 明治 choice).
    pub fn first_day(self) -> Date {
        let (year, month, day) = match self {
            Era::Meiji => (1868, 10, 23),
            Era::Taisho => (1912, 7, 30),
            Era::Showa => (1926, 12, 25),
            Era::Heisei => (1989, 1, 8),
            Era::Reiwa => (2019, 5, 1),
        };
        Date { year, month, day }
    }

    /// The last day of the era, or `None` for the current one.
    pub fn last_day(self) -> Option<Date> {
        let next = match self {
            Era::Meiji => Era::Taisho,
            Era::Taisho => Era::Showa,
            Era::Showa => Era::Heisei,
            Era::Heisei => Era::Reiwa,
            Era::Reiwa => return None,
        };
        Some(Date::from_days(next.first_day().days() - 1))
    }

    fn from_letter(c: char) -> Option<Era> {
        Era::ALL.into_iter().find(|e| e.letter() == c.to_ascii_uppercase())
    }
}

/// A calendar-valid Gregorian date, year 1..=9999. The only way to get one is
/// through a constructor that checks it, so holding a `Date` proves validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Whether `year` is a Gregorian leap year.
pub fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// Days in `month` (1..=12) of `year`; 0 for a month that does not exist.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl Date {
    /// A date if it exists in the calendar (2019-02-29 does not, 2020-02-29 does).
    pub fn new(year: u16, month: u8, day: u8) -> Result<Date, WarekiError> {
        if !(1..=9999).contains(&year) {
            return Err(WarekiError::YearOutOfRange { year: u32::from(year) });
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(WarekiError::NotCalendarDate { era: None, year, month, day });
        }
        Ok(Date { year, month, day })
    }

    /// Exactly eight ASCII digits `YYYYMMDD`, as the standard XML writes dates.
    /// This is the strict form for machine data; use [`parse`] for typed input.
    pub fn parse_yyyymmdd(s: &str) -> Result<Date, WarekiError> {
        let b = s.as_bytes();
        if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
            return Err(WarekiError::Unrecognised { input: s.to_owned() });
        }
        Date::new(digits(&b[0..4]), digits(&b[4..6]) as u8, digits(&b[6..8]) as u8)
    }

    pub fn year(self) -> u16 {
        self.year
    }
    pub fn month(self) -> u8 {
        self.month
    }
    pub fn day(self) -> u8 {
        self.day
    }

    /// `YYYYMMDD`, the standard XML form.
    pub fn yyyymmdd(self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// Days since 1970-01-01 (negative before). Used to step through dates and
    /// to find the day before an era starts; the algorithm is Howard Hinnant's
    /// `days_from_civil`, exact for the whole proleptic Gregorian calendar.
    pub fn days(self) -> i64 {
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The inverse of [`Date::days`], clamped to years 1..=9999.
    pub fn from_days(days: i64) -> Date {
        let days = days.clamp(Date { year: 1, month: 1, day: 1 }.days(), Date { year: 9999, month: 12, day: 31 }.days());
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
        Date { year, month, day }
    }

    /// The 和暦 form of this date; dates before 明治 (1868-10-23) are refused.
    pub fn to_wareki(self) -> Result<Wareki, WarekiError> {
        let era = Era::ALL
            .into_iter()
            .rev()
            .find(|e| e.first_day() <= self)
            .ok_or(WarekiError::BeforeMeiji { date: self })?;
        Ok(Wareki { era, year: self.year - era.first_day().year + 1, month: self.month, day: self.day })
    }
}

impl fmt::Display for Date {
    /// ISO form `2019-05-01`, for logs and English text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A date in an era. Built only by [`Date::to_wareki`], so it is always a real
/// day inside its era.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Wareki {
    pub era: Era,
    /// The year of the era; 1 is written 元年 in the kanji form.
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Wareki {
    /// `令和元年5月1日`, `平成31年4月30日` — what reception reads.
    pub fn kanji(&self) -> String {
        format!("{}{}年{}月{}日", self.era.kanji(), era_year_kanji(self.year), self.month, self.day)
    }

    /// `R1.5.1` — the single-letter form used on paper forms.
    pub fn letter(&self) -> String {
        format!("{}{}.{}.{}", self.era.letter(), self.year, self.month, self.day)
    }

    /// `R1.05.01` — the short, column-aligned form used in lists.
    pub fn short(&self) -> String {
        format!("{}{}.{:02}.{:02}", self.era.letter(), self.year, self.month, self.day)
    }
}

impl fmt::Display for Wareki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.kanji())
    }
}

fn era_year_kanji(year: u16) -> String {
    if year == 1 { "元".to_owned() } else { year.to_string() }
}

/// `YYYYMMDD` (as the XML carries it) → `令和元年5月1日`.
pub fn format_yyyymmdd(yyyymmdd: &str) -> Result<String, WarekiError> {
    Ok(Date::parse_yyyymmdd(yyyymmdd)?.to_wareki()?.kanji())
}

/// Why a date was refused. Each variant carries what the person typed so the
/// message can quote it back and say what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WarekiError {
    #[error("empty date")]
    Empty,
    /// Not a shape we read (see [`parse`] for the accepted shapes).
    #[error("not a date: {input:?}")]
    Unrecognised { input: String },
    /// An era name or letter we do not know (`K1.5.1`, `慶応3年…`).
    #[error("unknown era {found:?}")]
    UnknownEra { found: String },
    /// The day does not exist in the calendar (2月30日, 2019-02-29, 13月).
    /// `era` is set when the person wrote an era date; `year` is then the era year.
    #[error("not a calendar date: {era:?} {year}-{month}-{day}")]
    NotCalendarDate { era: Option<Era>, year: u16, month: u8, day: u8 },
    /// A real day, but not inside the era written (平成32年, 昭和64年1月8日, 令和0年).
    #[error("{era:?} {year}-{month}-{day} is outside the era")]
    OutsideEra { era: Era, year: u16, month: u8, day: u8 },
    /// Formatting a date before 明治 began (1868-10-23).
    #[error("{date} is before the Meiji era")]
    BeforeMeiji { date: Date },
    /// A year outside 1..=9999.
    #[error("year {year} is out of range")]
    YearOutOfRange { year: u32 },
}

impl WarekiError {
    /// A stable machine-readable code (the same string serde writes as `code`).
    pub fn code(&self) -> &'static str {
        match self {
            WarekiError::Empty => "empty",
            WarekiError::Unrecognised { .. } => "unrecognised",
            WarekiError::UnknownEra { .. } => "unknown_era",
            WarekiError::NotCalendarDate { .. } => "not_calendar_date",
            WarekiError::OutsideEra { .. } => "outside_era",
            WarekiError::BeforeMeiji { .. } => "before_meiji",
            WarekiError::YearOutOfRange { .. } => "year_out_of_range",
        }
    }
}

const EXAMPLES_JA: &str = "例：R1.5.1、令和元年5月1日、H31/4/30、2019/5/1、20190501";
const EXAMPLES_EN: &str = "e.g. R1.5.1, 令和元年5月1日, H31/4/30, 2019/5/1, 20190501";

impl Explain for WarekiError {
    fn explain(&self) -> Bilingual {
        match self {
            WarekiError::Empty => Bilingual::new(
                format!("日付を入力してください（{EXAMPLES_JA}）。"),
                format!("Enter a date ({EXAMPLES_EN})."),
            ),
            WarekiError::Unrecognised { input } => Bilingual::new(
                format!("「{input}」は日付として読めません。{EXAMPLES_JA} のように入力してください。"),
                format!("\"{input}\" is not a date we can read. Type it like this: {EXAMPLES_EN}."),
            ),
            WarekiError::UnknownEra { found } => Bilingual::new(
                format!("元号「{found}」は使えません。令和(R)・平成(H)・昭和(S)・大正(T)・明治(M)のいずれかか、西暦で入力してください。"),
                format!("Unknown era \"{found}\". Use Reiwa (R), Heisei (H), Shōwa (S), Taishō (T), Meiji (M), or a Western year."),
            ),
            WarekiError::NotCalendarDate { era, year, month, day } => {
                let (ja, en) = match era {
                    Some(e) => (
                        format!("{}{}年{}月{}日", e.kanji(), era_year_kanji(*year), month, day),
                        format!("{} {} {}/{}", e.romaji(), year, month, day),
                    ),
                    None => (format!("{year}年{month}月{day}日"), format!("{year}-{month:02}-{day:02}")),
                };
                let western = era.map_or(Some(*year), |e| e.first_day().year.checked_add(year.saturating_sub(1)));
                let leap = *month == 2 && *day == 29 && western.is_some_and(|y| !is_leap_year(y));
                let (hint_ja, hint_en) = if leap {
                    ("その年はうるう年ではないので2月は28日までです。", "That year is not a leap year, so February has 28 days.")
                } else if !(1..=12).contains(month) {
                    ("月は1〜12で入力してください。", "The month must be 1 to 12.")
                } else {
                    ("日付を確かめてください。", "Check the day of the month.")
                };
                Bilingual::new(
                    format!("{ja}はカレンダーにない日付です。{hint_ja}"),
                    format!("{en} is not a calendar date. {hint_en}"),
                )
            }
            WarekiError::OutsideEra { era, year, month, day } => {
                let first = era.first_day();
                let (range_ja, range_en) = match era.last_day() {
                    Some(last) => (
                        format!("{}は{}年{}月{}日から{}年{}月{}日までです", era.kanji(), first.year, first.month, first.day, last.year, last.month, last.day),
                        format!("{} ran from {first} to {last}", era.romaji()),
                    ),
                    None => (
                        format!("{}は{}年{}月{}日からです", era.kanji(), first.year, first.month, first.day),
                        format!("{} began on {first}", era.romaji()),
                    ),
                };
                // Suggest the era the same Western day falls in: 平成32年 is almost
                // always a typo for 令和2年, and saying so saves a lookup.
                let suggestion = (first.year.checked_add(*year))
                    .and_then(|y| y.checked_sub(1))
                    .and_then(|y| Date::new(y, *month, *day).ok())
                    .and_then(|d| d.to_wareki().ok());
                let written = format!("{}{}年{}月{}日", era.kanji(), era_year_kanji(*year), month, day);
                let (tip_ja, tip_en) = match suggestion {
                    Some(w) => (format!("{}のことではありませんか？", w.kanji()), format!(" Did you mean {} ({})?", w.kanji(), w.letter())),
                    None => ("元号と年を確かめてください。".to_owned(), " Check the era and year.".to_owned()),
                };
                Bilingual::new(
                    format!("{written}は{}の期間外です（{range_ja}）。{tip_ja}", era.kanji()),
                    format!("{} {year} {month}/{day} does not exist ({range_en}).{tip_en}", era.romaji()),
                )
            }
            WarekiError::BeforeMeiji { date } => Bilingual::new(
                format!("{}年{}月{}日は明治より前の日付なので和暦にできません。西暦で扱ってください。", date.year, date.month, date.day),
                format!("{date} is before the Meiji era and has no 和暦 form here; use the Western date."),
            ),
            WarekiError::YearOutOfRange { year } => Bilingual::new(
                format!("{year}年は扱えません。年を確かめてください。"),
                format!("Year {year} is out of range. Check the year."),
            ),
        }
    }
}

/// Read a date the way a receptionist types it.
///
/// Accepted (full-width digits, letters and punctuation, spaces and lower-case
/// era letters are all fine):
/// - era letter: `R1.5.1`, `R01.05.01`, `H31/4/30`, `S64-1-7`, `R010501` (letter + YYMMDD)
/// - era kanji: `令和元年5月1日`, `令和1年5月1日`, `昭和39.3.3`, one-kanji `平31.4.30`
/// - Western: `2019/5/1`, `2019-05-01`, `2019.5.1`, `2019年5月1日`, `20190501`
///
/// The result is a real calendar day inside the era written; see
/// [`WarekiError`] for the refusals.
pub fn parse(input: &str) -> Result<Date, WarekiError> {
    let s = normalise(input);
    if s.is_empty() {
        return Err(WarekiError::Empty);
    }
    let unrecognised = || WarekiError::Unrecognised { input: input.trim().to_owned() };
    if !s.chars().any(|c| c.is_ascii_digit() || c == '元') {
        return Err(unrecognised());
    }
    let (era, rest) = split_era(&s).map_err(|e| e.unwrap_or_else(unrecognised))?;
    let Some(era) = era else {
        // Western date.
        let (y, m, d) = if rest.len() == 8 && rest.bytes().all(|b| b.is_ascii_digit()) {
            let b = rest.as_bytes();
            (digits(&b[0..4]), digits(&b[4..6]), digits(&b[6..8]))
        } else {
            let (y, m, d) = split_ymd(rest).ok_or_else(unrecognised)?;
            if y.len() != 4 {
                return Err(unrecognised());
            }
            (num(y), num(m), num(d))
        };
        let (month, day) = small(m, d).ok_or_else(unrecognised)?;
        return Date::new(y, month, day);
    };
    let (y, m, d) = if rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_digit()) {
        let b = rest.as_bytes();
        (digits(&b[0..2]), digits(&b[2..4]), digits(&b[4..6]))
    } else {
        let (y, m, d) = split_ymd(rest).ok_or_else(unrecognised)?;
        let y = if y == "元" { 1 } else if y.len() <= 2 { num(y) } else { return Err(unrecognised()) };
        (y, num(m), num(d))
    };
    let (month, day) = small(m, d).ok_or_else(unrecognised)?;
    from_era(era, y, month, day)
}

/// An era date → a Western date, checking the calendar first (so 令和元年2月30日
/// is "not a calendar date") and then the era's range (平成32年 is "outside").
pub fn from_era(era: Era, year: u16, month: u8, day: u8) -> Result<Date, WarekiError> {
    let outside = WarekiError::OutsideEra { era, year, month, day };
    let western = u32::from(era.first_day().year) + u32::from(year) - 1;
    let Some(western) = u16::try_from(western).ok().filter(|w| year >= 1 && *w <= 9999) else {
        return Err(outside);
    };
    if day == 0 || day > days_in_month(western, month) {
        return Err(WarekiError::NotCalendarDate { era: Some(era), year, month, day });
    }
    let date = Date { year: western, month, day };
    let inside = era.first_day() <= date && era.last_day().is_none_or(|last| date <= last);
    if inside { Ok(date) } else { Err(outside) }
}

/// Full-width ASCII (digits, letters, punctuation) → ASCII; whitespace
/// (including the ideographic space) removed.
fn normalise(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Split off a leading era (kanji name, one-kanji abbreviation or letter).
/// `Err(None)` means "not a date shape" (the caller quotes the input back).
fn split_era(s: &str) -> Result<(Option<Era>, &str), Option<WarekiError>> {
    for era in Era::ALL {
        if let Some(rest) = s.strip_prefix(era.kanji()) {
            return Ok((Some(era), rest));
        }
    }
    let mut chars = s.chars();
    let Some(first) = chars.next() else { return Err(Some(WarekiError::Empty)) };
    let rest = chars.as_str();
    if first.is_ascii_digit() {
        return Ok((None, s));
    }
    let starts_year = rest.starts_with(|c: char| c.is_ascii_digit() || c == '元');
    if starts_year {
        if first.is_ascii_alphabetic() {
            return Era::from_letter(first)
                .map(|e| (Some(e), rest))
                .ok_or(Some(WarekiError::UnknownEra { found: first.to_string() }));
        }
        if let Some(era) = Era::ALL.into_iter().find(|e| e.kanji().starts_with(first)) {
            return Ok((Some(era), rest));
        }
    }
    // Whatever stands before the first digit is what the person took for an era.
    let found: String = s.chars().take_while(|c| !c.is_ascii_digit() && *c != '元').collect();
    let known = Era::ALL.into_iter().any(|e| e.kanji().starts_with(first) || e.letter() == first.to_ascii_uppercase());
    if found.is_empty() || known {
        // `元年…` with no era, or `R` followed by something that is not a year.
        return Err(None);
    }
    Err(Some(WarekiError::UnknownEra { found }))
}

/// `Y<sep>M<sep>D[日]` with separators `.` `/` `-` `年` `月`; 1–2 digit month
/// and day. Returns the three digit strings (year may be `元`).
fn split_ymd(s: &str) -> Option<(&str, &str, &str)> {
    let s = s.strip_suffix('日').unwrap_or(s);
    let mut parts = s.split(['.', '/', '-', '年', '月']);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let ok = |p: &str, max: usize| !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit());
    let year_ok = y == "元" || ok(y, 4);
    (year_ok && ok(m, 2) && ok(d, 2)).then_some((y, m, d))
}

fn small(m: u16, d: u16) -> Option<(u8, u8)> {
    Some((u8::try_from(m).ok()?, u8::try_from(d).ok()?))
}

/// ASCII digits (already checked) → number; at most 4 digits, so no overflow.
fn digits(b: &[u8]) -> u16 {
    b.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0'))
}

fn num(s: &str) -> u16 {
    digits(s.as_bytes())
}

// Native only: the property tests need proptest, which does not build for wasm32.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// One data-driven check: the input, and either the ISO date it means or
    /// the error code it must be refused with.
    #[track_caller]
    fn check(input: &str, expected: &str) {
        let got = match parse(input) {
            Ok(d) => d.to_string(),
            Err(e) => format!("error {}", e.code()),
        };
        assert_eq!(got, expected, "input {input:?}");
    }

    #[test]
    fn parses_what_reception_types() {
        check("R1.5.1", "2019-05-01");
        check("r1.5.1", "2019-05-01");
        check("R01.05.01", "2019-05-01");
        check("R1.05.01", "2019-05-01");
        check("R010501", "2019-05-01");
        check("令和元年5月1日", "2019-05-01");
        check("令和1年5月1日", "2019-05-01");
        check("令和 元年 5月 1日", "2019-05-01");
        check("令元.5.1", "2019-05-01");
        check("H31/4/30", "2019-04-30");
        check("平成31年4月30日", "2019-04-30");
        check("平31.4.30", "2019-04-30");
        check("H1.1.8", "1989-01-08");
        check("平成元年1月8日", "1989-01-08");
        check("S64.1.7", "1989-01-07");
        check("S64-1-7", "1989-01-07");
        check("昭和39年3月3日", "1964-03-03");
        check("昭和39.3.3", "1964-03-03");
        check("T15.12.24", "1926-12-24");
        check("S1.12.25", "1926-12-25");
        check("M45.7.29", "1912-07-29");
        check("T1.7.30", "1912-07-30");
        check("M1.10.23", "1868-10-23");
        check("Ｒ１．５．１", "2019-05-01");
        check("令和６年２月２９日", "2024-02-29");
        check("２０１９/５/１", "2019-05-01");
        check("2019/5/1", "2019-05-01");
        check("2019-05-01", "2019-05-01");
        check("2019.5.1", "2019-05-01");
        check("2019年5月1日", "2019-05-01");
        check("20190501", "2019-05-01");
        check("  20190501 ", "2019-05-01");
        check("2000/2/29", "2000-02-29");
    }

    #[test]
    fn refuses_with_the_right_error() {
        check("", "error empty");
        check("　", "error empty");
        check("平成32年1月1日", "error outside_era");
        check("H32.1.1", "error outside_era");
        check("昭和64年1月8日", "error outside_era");
        check("平成元年1月7日", "error outside_era");
        check("R1.4.30", "error outside_era");
        check("令和0年5月1日", "error outside_era");
        check("M1.10.22", "error outside_era");
        check("T15.12.25", "error outside_era");
        check("令和元年2月30日", "error not_calendar_date");
        check("R1.2.29", "error not_calendar_date");
        check("2019/2/29", "error not_calendar_date");
        check("1900/2/29", "error not_calendar_date");
        check("2019/13/1", "error not_calendar_date");
        check("2019/4/31", "error not_calendar_date");
        check("20190230", "error not_calendar_date");
        check("R1.5.0", "error not_calendar_date");
        check("K1.5.1", "error unknown_era");
        check("慶応3年1月1日", "error unknown_era");
        check("X31/4/30", "error unknown_era");
        check("R1.5", "error unrecognised");
        check("R1.5.1.2", "error unrecognised");
        check("R123.5.1", "error unrecognised");
        check("19/5/1", "error unrecognised");
        check("2019/5/1/", "error unrecognised");
        check("2019/05/001", "error unrecognised");
        check("1234567", "error unrecognised");
        check("R1.5.1日日", "error unrecognised");
        check("R", "error unrecognised");
        check("R年5月1日", "error unrecognised");
        check("元年5月1日", "error unrecognised");
        check("あいう", "error unrecognised");
    }

    #[test]
    fn formats_at_the_exact_era_boundaries() {
        let cases = [
            ((2019, 5, 1), "令和元年5月1日", "R1.5.1", "R1.05.01"),
            ((2019, 4, 30), "平成31年4月30日", "H31.4.30", "H31.04.30"),
            ((1989, 1, 8), "平成元年1月8日", "H1.1.8", "H1.01.08"),
            ((1989, 1, 7), "昭和64年1月7日", "S64.1.7", "S64.01.07"),
            ((1926, 12, 25), "昭和元年12月25日", "S1.12.25", "S1.12.25"),
            ((1926, 12, 24), "大正15年12月24日", "T15.12.24", "T15.12.24"),
            ((1912, 7, 30), "大正元年7月30日", "T1.7.30", "T1.07.30"),
            ((1912, 7, 29), "明治45年7月29日", "M45.7.29", "M45.07.29"),
            ((1868, 10, 23), "明治元年10月23日", "M1.10.23", "M1.10.23"),
            ((2024, 2, 29), "令和6年2月29日", "R6.2.29", "R6.02.29"),
        ];
        for ((y, m, d), kanji, letter, short) in cases {
            let w = Date::new(y, m, d).unwrap().to_wareki().unwrap();
            assert_eq!((w.kanji().as_str(), w.letter().as_str(), w.short().as_str()), (kanji, letter, short));
        }
        assert_eq!(format_yyyymmdd("20190501").unwrap(), "令和元年5月1日");
        let before = Date::new(1868, 10, 22).unwrap();
        assert_eq!(before.to_wareki(), Err(WarekiError::BeforeMeiji { date: before }));
    }

    #[test]
    fn era_last_days() {
        let last: Vec<_> = Era::ALL.iter().map(|e| e.last_day().map(|d| d.to_string())).collect();
        let want = ["1912-07-29", "1926-12-24", "1989-01-07", "2019-04-30"];
        assert_eq!(last[..4].iter().map(|d| d.as_deref().unwrap()).collect::<Vec<_>>(), want);
        assert_eq!(last[4], None);
    }

    #[test]
    fn calendar_rules() {
        assert!(is_leap_year(2000) && is_leap_year(2024) && !is_leap_year(1900) && !is_leap_year(2019));
        assert_eq!(Date::parse_yyyymmdd("2019-5-1").unwrap_err().code(), "unrecognised");
        assert_eq!(Date::parse_yyyymmdd("20190229").unwrap_err().code(), "not_calendar_date");
        assert_eq!(Date::new(0, 1, 1).unwrap_err().code(), "year_out_of_range");
        assert_eq!(Date::new(1970, 1, 1).unwrap().days(), 0);
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::new(2019, 5, 1).unwrap().yyyymmdd(), "20190501");
    }

    #[test]
    fn messages_tell_the_person_what_to_do() {
        let m = parse("平成32年1月1日").unwrap_err().explain();
        assert!(m.ja.contains("令和2年1月1日のことではありませんか"), "{}", m.ja);
        assert!(m.en.contains("Did you mean 令和2年1月1日 (R2.1.1)?"), "{}", m.en);
        let m = parse("昭和64年1月8日").unwrap_err().explain();
        assert!(m.ja.contains("昭和は1926年12月25日から1989年1月7日まで"), "{}", m.ja);
        assert!(m.ja.contains("平成元年1月8日のことではありませんか"), "{}", m.ja);
        let m = parse("R1.2.29").unwrap_err().explain();
        assert!(m.ja.contains("令和元年2月29日はカレンダーにない日付です") && m.ja.contains("うるう年"), "{}", m.ja);
        let m = parse("K1.5.1").unwrap_err().explain();
        assert!(m.ja.contains("元号「K」") && m.en.contains("Unknown era"), "{}", m.ja);
        let m = parse("あいう").unwrap_err().explain();
        assert!(m.ja.contains("「あいう」"), "{}", m.ja);
        for e in [WarekiError::Empty, WarekiError::YearOutOfRange { year: 0 }] {
            let m = e.explain();
            assert!(!m.ja.is_empty() && !m.en.is_empty());
        }
    }

    /// Every day from 明治 to 2100 survives format → parse in all three forms,
    /// and each day is exactly one after the previous (the day arithmetic).
    #[test]
    fn every_day_round_trips() {
        let start = Era::Meiji.first_day().days();
        let end = Date::new(2100, 12, 31).unwrap().days();
        let mut prev: Option<Date> = None;
        for n in start..=end {
            let d = Date::from_days(n);
            assert_eq!(d.days(), n);
            if let Some(p) = prev {
                assert!(p < d);
            }
            prev = Some(d);
            let w = d.to_wareki().unwrap();
            for text in [w.kanji(), w.letter(), w.short(), d.yyyymmdd(), d.to_string()] {
                assert_eq!(parse(&text), Ok(d), "{text}");
            }
        }
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(n in Date::new(1873, 1, 1).unwrap().days()..=Date::new(2100, 12, 31).unwrap().days(),
                                          full_width in any::<bool>()) {
            let d = Date::from_days(n);
            let w = d.to_wareki().unwrap();
            for text in [w.kanji(), w.letter(), w.short()] {
                let text = if full_width {
                    text.chars().map(|c| if c.is_ascii_graphic() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c }).collect()
                } else { text };
                prop_assert_eq!(parse(&text), Ok(d));
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,16}") {
            let _ = parse(&s);
        }
    }
}
