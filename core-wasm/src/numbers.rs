//! Number rules: 保険者番号, 公費負担者番号 and 医療機関コード (domain.md §4).
//!
//! One place for the check-digit rule and the shape of each number; the page,
//! the helper, the simulator and the XML validator all call these functions.
//! Nothing here normalises a stored value: functions read what was typed
//! (trimming, full-width digits) and return the canonical digits separately.

use serde::Serialize;

use crate::text::{ascii_digits, Bilingual, Explain};

/// Which kind of number a rule is checking, so messages can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberKind {
    Insurer,
    PublicExpense,
    Institution,
}

impl NumberKind {
    fn label(self) -> (&'static str, &'static str) {
        match self {
            NumberKind::Insurer => ("保険者番号", "insurer number"),
            NumberKind::PublicExpense => ("公費負担者番号", "public-expense payer number"),
            NumberKind::Institution => ("医療機関コード", "medical institution code"),
        }
    }

    fn lengths(self) -> &'static [usize] {
        match self {
            NumberKind::Insurer => &[6, 8],
            NumberKind::PublicExpense => &[8],
            NumberKind::Institution => &[10],
        }
    }
}

/// Why a number was refused. Each variant carries what a person needs to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NumberError {
    #[error("{kind:?}: empty")]
    Empty { kind: NumberKind },
    /// Fewer digits than the shortest valid form; while typing this is "not yet".
    #[error("{kind:?}: too short ({found} digits)")]
    TooShort { kind: NumberKind, found: usize },
    #[error("{kind:?}: too long ({found} digits)")]
    TooLong { kind: NumberKind, found: usize },
    /// A length between the valid ones (7 digits for an insurer number).
    #[error("{kind:?}: {found} digits is not a valid length")]
    WrongLength { kind: NumberKind, found: usize },
    /// `position` counts characters from 1, as a person counts.
    #[error("{kind:?}: character {found:?} at {position} is not a digit")]
    NotDigit { kind: NumberKind, position: usize, found: char },
    #[error("{kind:?}: prefecture code {prefecture:02} does not exist")]
    UnknownPrefecture { kind: NumberKind, prefecture: u8 },
    /// The 医療機関コード's third digit names the fee table: 1, 3 or 4.
    #[error("institution code: fee-table digit {found} is not 1, 3 or 4")]
    UnknownFeeTable { found: u8 },
    #[error("{kind:?}: check digit is {found}, expected {expected}")]
    CheckDigit { kind: NumberKind, expected: u8, found: u8 },
}

impl NumberError {
    /// A stable machine-readable code (the same string serde writes as `code`).
    pub fn code(&self) -> &'static str {
        match self {
            NumberError::Empty { .. } => "empty",
            NumberError::TooShort { .. } => "too_short",
            NumberError::TooLong { .. } => "too_long",
            NumberError::WrongLength { .. } => "wrong_length",
            NumberError::NotDigit { .. } => "not_digit",
            NumberError::UnknownPrefecture { .. } => "unknown_prefecture",
            NumberError::UnknownFeeTable { .. } => "unknown_fee_table",
            NumberError::CheckDigit { .. } => "check_digit",
        }
    }
}

/// The check digit over `body` (digit values, most significant first):
/// from the rightmost digit going left, weights 2, 1, 2, 1 …; the digits of
/// each product are summed; check = (10 − sum mod 10) mod 10.
pub fn check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let p = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
            p / 10 + p % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// What an 8-digit insurer number's first two digits (法別番号) say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum InsurerKind {
    /// 8 digits: law code + prefecture + insurer + check.
    Standard { law_code: u8 },
    /// 6 digits: 国民健康保険 (no law code).
    NationalHealth,
}

/// A checked insurer number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InsurerNumber {
    /// Canonical ASCII digits, 6 or 8 of them, without the XML space padding.
    pub digits: String,
    pub kind: InsurerKind,
    /// 都道府県番号, 1–47.
    pub prefecture: u8,
}

impl InsurerNumber {
    /// The form used inside XML: 6-digit numbers left-padded with spaces to 8.
    pub fn xml_form(&self) -> String {
        format!("{:>8}", self.digits)
    }
}

/// A checked 公費負担者番号.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublicExpenseNumber {
    pub digits: String,
    pub law_code: u8,
    pub prefecture: u8,
}

/// A checked 医療機関コード.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstitutionCode {
    pub digits: String,
    pub prefecture: u8,
    /// 1 medical, 3 dental, 4 pharmacy.
    pub fee_table: u8,
}

/// Reads a typed or stored number: trims surrounding white space (the XML
/// pads 6-digit insurer numbers with spaces), turns full-width digits into
/// ASCII, then checks that every character is a digit and the length fits.
fn read_digits(kind: NumberKind, input: &str) -> Result<Vec<u8>, NumberError> {
    let text = ascii_digits(input.trim_matches(|c: char| c == ' ' || c == '\u{3000}' || c == '\t'));
    if text.is_empty() {
        return Err(NumberError::Empty { kind });
    }
    let mut digits = Vec::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match c.to_digit(10) {
            Some(d) if c.is_ascii_digit() => digits.push(d as u8),
            _ => return Err(NumberError::NotDigit { kind, position: i + 1, found: c }),
        }
    }
    let lengths = kind.lengths();
    let (min, max) = (lengths[0], lengths[lengths.len() - 1]);
    let found = digits.len();
    if found < min {
        Err(NumberError::TooShort { kind, found })
    } else if found > max {
        Err(NumberError::TooLong { kind, found })
    } else if !lengths.contains(&found) {
        Err(NumberError::WrongLength { kind, found })
    } else {
        Ok(digits)
    }
}

fn to_string(digits: &[u8]) -> String {
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

fn prefecture_at(kind: NumberKind, digits: &[u8], at: usize) -> Result<u8, NumberError> {
    let code = digits[at] * 10 + digits[at + 1];
    if (1..=47).contains(&code) { Ok(code) } else { Err(NumberError::UnknownPrefecture { kind, prefecture: code }) }
}

fn verify_check(kind: NumberKind, digits: &[u8]) -> Result<(), NumberError> {
    let (body, last) = digits.split_at(digits.len() - 1);
    let expected = check_digit(body);
    if expected == last[0] { Ok(()) } else { Err(NumberError::CheckDigit { kind, expected, found: last[0] }) }
}

/// Checks a 保険者番号 (8 digits, or 6 for national health insurance).
pub fn check_insurer(input: &str) -> Result<InsurerNumber, NumberError> {
    let kind = NumberKind::Insurer;
    let digits = read_digits(kind, input)?;
    let (insurer_kind, pref_at) = if digits.len() == 6 {
        (InsurerKind::NationalHealth, 0)
    } else {
        (InsurerKind::Standard { law_code: digits[0] * 10 + digits[1] }, 2)
    };
    let prefecture = prefecture_at(kind, &digits, pref_at)?;
    verify_check(kind, &digits)?;
    Ok(InsurerNumber { digits: to_string(&digits), kind: insurer_kind, prefecture })
}

/// Checks a 公費負担者番号 (8 digits: law code, prefecture, payer, check).
pub fn check_public_expense(input: &str) -> Result<PublicExpenseNumber, NumberError> {
    let kind = NumberKind::PublicExpense;
    let digits = read_digits(kind, input)?;
    let prefecture = prefecture_at(kind, &digits, 2)?;
    verify_check(kind, &digits)?;
    Ok(PublicExpenseNumber { digits: to_string(&digits), law_code: digits[0] * 10 + digits[1], prefecture })
}

/// Checks a 医療機関コード (10 digits: prefecture, fee table, area, number, check).
pub fn check_institution(input: &str) -> Result<InstitutionCode, NumberError> {
    let kind = NumberKind::Institution;
    let digits = read_digits(kind, input)?;
    let prefecture = prefecture_at(kind, &digits, 0)?;
    let fee_table = digits[2];
    if !matches!(fee_table, 1 | 3 | 4) {
        return Err(NumberError::UnknownFeeTable { found: fee_table });
    }
    verify_check(kind, &digits)?;
    Ok(InstitutionCode { digits: to_string(&digits), prefecture, fee_table })
}

/// 都道府県 names by code (JIS X 0401), Japanese and English.
pub fn prefecture_name(code: u8) -> Option<(&'static str, &'static str)> {
    const NAMES: [(&str, &str); 47] = [
        ("北海道", "Hokkaido"), ("青森県", "Aomori"), ("岩手県", "Iwate"), ("宮城県", "Miyagi"),
        ("秋田県", "Akita"), ("山形県", "Yamagata"), ("福島県", "Fukushima"), ("茨城県", "Ibaraki"),
        ("栃木県", "Tochigi"), ("群馬県", "Gunma"), ("埼玉県", "Saitama"), ("千葉県", "Chiba"),
        ("東京都", "Tokyo"), ("神奈川県", "Kanagawa"), ("新潟県", "Niigata"), ("富山県", "Toyama"),
        ("石川県", "Ishikawa"), ("福井県", "Fukui"), ("山梨県", "Yamanashi"), ("長野県", "Nagano"),
        ("岐阜県", "Gifu"), ("静岡県", "Shizuoka"), ("愛知県", "Aichi"), ("三重県", "Mie"),
        ("滋賀県", "Shiga"), ("京都府", "Kyoto"), ("大阪府", "Osaka"), ("兵庫県", "Hyogo"),
        ("奈良県", "Nara"), ("和歌山県", "Wakayama"), ("鳥取県", "Tottori"), ("島根県", "Shimane"),
        ("岡山県", "Okayama"), ("広島県", "Hiroshima"), ("山口県", "Yamaguchi"), ("徳島県", "Tokushima"),
        ("香川県", "Kagawa"), ("愛媛県", "Ehime"), ("高知県", "Kochi"), ("福岡県", "Fukuoka"),
        ("佐賀県", "Saga"), ("長崎県", "Nagasaki"), ("熊本県", "Kumamoto"), ("大分県", "Oita"),
        ("宮崎県", "Miyazaki"), ("鹿児島県", "Kagoshima"), ("沖縄県", "Okinawa"),
    ];
    NAMES.get(usize::from(code).checked_sub(1)?).copied()
}

/// 法別番号 of health-insurance schemes (the first two digits of an 8-digit
/// insurer number). Codes not listed still pass the check digit; the page
/// says the scheme is unknown rather than refusing the number.
pub fn law_code_name(code: u8) -> Option<(&'static str, &'static str)> {
    Some(match code {
        1 => ("全国健康保険協会（協会けんぽ）", "Japan Health Insurance Association"),
        2 => ("船員保険", "Seamen's Insurance"),
        3 | 4 => ("日雇特例被保険者", "day-labourer special insured"),
        6 => ("健康保険組合", "health insurance society"),
        7 => ("自衛官等", "Self-Defense Forces personnel"),
        31 => ("国家公務員共済組合", "national public servants' mutual aid"),
        32 => ("地方公務員等共済組合", "local public servants' mutual aid"),
        33 => ("警察共済組合", "police mutual aid"),
        34 => ("公立学校共済組合・私学共済", "school staff mutual aid"),
        39 => ("後期高齢者医療", "late-stage elderly medical care"),
        63 => ("特定健康保険組合（特例退職）", "designated health insurance society (retirees)"),
        67 => ("国民健康保険（退職者医療）", "national health insurance (retirees)"),
        72..=75 => ("共済組合（特例退職）", "mutual aid association (retirees)"),
        _ => return None,
    })
}

impl Explain for NumberError {
    fn explain(&self) -> Bilingual {
        let kind = match self {
            NumberError::Empty { kind }
            | NumberError::TooShort { kind, .. }
            | NumberError::TooLong { kind, .. }
            | NumberError::WrongLength { kind, .. }
            | NumberError::NotDigit { kind, .. }
            | NumberError::UnknownPrefecture { kind, .. }
            | NumberError::CheckDigit { kind, .. } => *kind,
            NumberError::UnknownFeeTable { .. } => NumberKind::Institution,
        };
        let (ja_name, en_name) = kind.label();
        let lengths = kind.lengths();
        let (ja_len, en_len) = if lengths.len() == 2 {
            (format!("{}桁または{}桁", lengths[1], lengths[0]), format!("{} or {} digits", lengths[1], lengths[0]))
        } else {
            (format!("{}桁", lengths[0]), format!("{} digits", lengths[0]))
        };
        match self {
            NumberError::Empty { .. } => Bilingual::new(
                format!("{ja_name}を入力してください（{ja_len}）。"),
                format!("Enter the {en_name} ({en_len})."),
            ),
            NumberError::TooShort { found, .. } => Bilingual::new(
                format!("{ja_name}は{ja_len}です。いま{found}桁です。"),
                format!("An {en_name} has {en_len}; {found} so far."),
            ),
            NumberError::TooLong { found, .. } | NumberError::WrongLength { found, .. } => Bilingual::new(
                format!("{ja_name}は{ja_len}です（入力は{found}桁）。桁数を確かめてください。"),
                format!("An {en_name} has {en_len}, not {found}. Check for a missing or extra digit."),
            ),
            NumberError::NotDigit { position, found, .. } => Bilingual::new(
                format!("{position}文字目の「{found}」は数字ではありません。{ja_name}は数字だけです。"),
                format!("Character {position} ({found:?}) is not a digit; an {en_name} has digits only."),
            ),
            NumberError::UnknownPrefecture { prefecture: code, .. } => Bilingual::new(
                format!("都道府県番号「{code:02}」はありません（01〜47）。番号を見直してください。"),
                format!("Prefecture code {code:02} does not exist (01–47). Re-read the number."),
            ),
            NumberError::UnknownFeeTable { found } => Bilingual::new(
                format!("3桁目（点数表番号）は1（医科）・3（歯科）・4（調剤）のいずれかです（入力は{found}）。"),
                format!("The third digit (fee table) must be 1 medical, 3 dental or 4 pharmacy, not {found}."),
            ),
            // The expected digit stays in the data but is not shown: it would invite
            // "fixing" the last digit when the slip is elsewhere.
            NumberError::CheckDigit { .. } => Bilingual::new(
                format!("{ja_name}の検証番号（最後の桁）が合いません。どこかの桁の読み間違い・打ち間違いです。券面の番号をもう一度確かめてください。"),
                format!("The {en_name}'s check digit (last digit) does not match: some digit was misread or mistyped. Re-read the number on the card."),
            ),
        }
    }
}

impl Explain for InsurerNumber {
    fn explain(&self) -> Bilingual {
        let (pja, pen) = prefecture_name(self.prefecture).unwrap_or(("?", "?"));
        match self.kind {
            InsurerKind::NationalHealth => Bilingual::new(
                format!("保険者番号の形式は正しいです（国民健康保険・{pja}）。"),
                format!("Well-formed insurer number (national health insurance, {pen})."),
            ),
            InsurerKind::Standard { law_code } => match law_code_name(law_code) {
                Some((lja, len)) => Bilingual::new(
                    format!("保険者番号の形式は正しいです（法別番号{law_code:02}：{lja}・{pja}）。"),
                    format!("Well-formed insurer number (law code {law_code:02}: {len}, {pen})."),
                ),
                None => Bilingual::new(
                    format!("検証番号は正しいですが、法別番号{law_code:02}は健康保険の番号ではないかもしれません。保険証を確かめてください。"),
                    format!("The check digit is right, but law code {law_code:02} is not a usual health-insurance scheme. Check the card."),
                ),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Valid examples from domain.md §4 (public sample numbers).
    #[test]
    fn known_valid_insurer_numbers() {
        for n in ["01010016", "06132013", "138057", "39131156", "33120015", "01130012"] {
            assert!(check_insurer(n).is_ok(), "{n} should be valid");
        }
    }

    #[test]
    fn worked_example_from_domain_doc() {
        assert_eq!(check_digit(&[3, 9, 1, 3, 1, 1, 5]), 6);
    }

    #[test]
    fn six_digit_number_is_national_health_and_padded_form_reads() {
        let n = check_insurer("  138057").unwrap();
        assert_eq!(n.kind, InsurerKind::NationalHealth);
        assert_eq!(n.prefecture, 13);
        assert_eq!(n.digits, "138057");
        assert_eq!(n.xml_form(), "  138057");
    }

    #[test]
    fn full_width_typing_is_accepted() {
        assert_eq!(check_insurer("３９１３１１５６").unwrap().digits, "39131156");
    }

    #[test]
    fn each_refusal_names_its_reason() {
        let k = NumberKind::Insurer;
        assert_eq!(check_insurer(""), Err(NumberError::Empty { kind: k }));
        assert_eq!(check_insurer("3913"), Err(NumberError::TooShort { kind: k, found: 4 }));
        assert_eq!(check_insurer("3913115"), Err(NumberError::WrongLength { kind: k, found: 7 }));
        assert_eq!(check_insurer("391311560"), Err(NumberError::TooLong { kind: k, found: 9 }));
        assert_eq!(check_insurer("3913-156"), Err(NumberError::NotDigit { kind: k, position: 5, found: '-' }));
        assert_eq!(check_insurer("39131157"), Err(NumberError::CheckDigit { kind: k, expected: 6, found: 7 }));
        assert_eq!(check_insurer("01500015").unwrap_err(), NumberError::UnknownPrefecture { kind: k, prefecture: 50 });
    }

    #[test]
    fn public_expense_and_institution() {
        assert_eq!(check_public_expense("54016027").unwrap().law_code, 54);
        let c = check_institution("0110113719").unwrap();
        assert_eq!((c.prefecture, c.fee_table), (1, 1));
        assert!(matches!(check_institution("0110113718"), Err(NumberError::CheckDigit { expected: 9, .. })));
        assert_eq!(check_institution("0120113719"), Err(NumberError::UnknownFeeTable { found: 2 }));
    }

    #[test]
    fn messages_are_japanese_first_and_specific() {
        let e = check_insurer("39131157").unwrap_err().explain();
        assert!(e.ja.contains("検証番号") && !e.ja.contains('6'), "the expected digit is not shown: {}", e.ja);
        assert!(e.en.contains("check digit"), "{}", e.en);
        let ok = check_insurer("39131156").unwrap().explain();
        assert!(ok.ja.contains("後期高齢者医療") && ok.ja.contains("東京都"), "{}", ok.ja);
    }

    // Native only: proptest does not build for wasm32 (see Cargo.toml).
    #[cfg(not(target_arch = "wasm32"))]
    proptest::proptest! {
        /// Any body completed with its own check digit is valid, and changing
        /// any one digit of it is caught (the 2-1 weighting detects all
        /// single-digit errors).
        #[test]
        fn single_digit_errors_are_always_caught(body in proptest::collection::vec(0u8..10, 7), pos in 0usize..8, delta in 1u8..10) {
            let mut digits = body.clone();
            digits[2] = 1; digits[3] = 3; // a real prefecture (13) so only the check digit decides
            digits.push(check_digit(&digits));
            let s = to_string(&digits);
            proptest::prop_assert!(check_insurer(&s).is_ok());
            let mut bad = digits.clone();
            bad[pos] = (bad[pos] + delta) % 10;
            if pos != 2 && pos != 3 {
                proptest::prop_assert!(check_insurer(&to_string(&bad)).is_err());
            }
        }
    }
}
