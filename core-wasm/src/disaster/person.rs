//! Who a card-less search looks for: name (kana) + birth date + sex, or the
//! insured numbers + birth date. Checked here once, so the page marks the
//! field, the helper refuses with the same words and the gateway gets only
//! values it can match.

use serde::{Deserialize, Serialize};

use crate::numbers::check_insurer;
use crate::protocol::InsuredPerson;
use crate::text::{ascii_digits, Bilingual, Explain};
use crate::wareki::Date;

/// 性別 as the registry and the result documents code it (`1` male, `2` female).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

impl Sex {
    /// The code in `Sex1` / the registry: `1` or `2`.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Male => "1",
            Sex::Female => "2",
        }
    }

    pub fn label(self) -> Bilingual {
        match self {
            Sex::Male => Bilingual::new("男", "male"),
            Sex::Female => Bilingual::new("女", "female"),
        }
    }
}

/// Which kind of search, without its values: what the audit log records
/// (never the name typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchBy {
    /// カナ氏名・生年月日・性別.
    NameBirthSex,
    /// 保険者番号・記号・番号（・枝番）・生年月日.
    InsuredNumbers,
}

/// The person to look for. On the wire `{"by":"name_birth_sex", …}` or
/// `{"by":"insured_numbers","insured":{…}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum PersonKey {
    NameBirthSex {
        /// カナ氏名 as typed (width, hiragana/katakana and small kana do not
        /// matter: matching is core `same_kana`).
        kana: String,
        /// 生年月日, `YYYYMMDD`.
        birth_date: String,
        sex: Sex,
    },
    InsuredNumbers { insured: InsuredPerson },
}

/// Why a search cannot be sent. `field` names are the page's field ids' stems.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersonKeyError {
    /// The kana name is empty.
    KanaEmpty,
    /// The kana name holds something other than kana and spaces (`found`: the first such character).
    KanaNotKana { found: char },
    /// Longer than the registry's 100 characters.
    KanaTooLong,
    /// Not a calendar day `YYYYMMDD`.
    BirthDate { text: String },
    /// A birth date after today.
    BirthInFuture { birth_date: String },
    /// The insured numbers break the number rules (`reason` from them).
    Insured { field: &'static str, reason: Bilingual },
}

impl PersonKeyError {
    /// A stable code for `detail.reason` and tests.
    pub fn code(&self) -> &'static str {
        match self {
            PersonKeyError::KanaEmpty => "empty",
            PersonKeyError::KanaNotKana { .. } => "not_kana",
            PersonKeyError::KanaTooLong => "too_long",
            PersonKeyError::BirthDate { .. } => "not_a_date",
            PersonKeyError::BirthInFuture { .. } => "in_future",
            PersonKeyError::Insured { .. } => "number_rule",
        }
    }

    /// The field the error belongs to.
    pub fn field(&self) -> &'static str {
        match self {
            PersonKeyError::KanaEmpty | PersonKeyError::KanaNotKana { .. } | PersonKeyError::KanaTooLong => "kana",
            PersonKeyError::BirthDate { .. } | PersonKeyError::BirthInFuture { .. } => "birth_date",
            PersonKeyError::Insured { field, .. } => field,
        }
    }
}

impl Explain for PersonKeyError {
    fn explain(&self) -> Bilingual {
        match self {
            PersonKeyError::KanaEmpty => Bilingual::new("カナ氏名を入力してください。", "Enter the name in kana."),
            PersonKeyError::KanaNotKana { found } => Bilingual::new(
                format!("カナ氏名にはカナだけを入力してください（「{found}」は使えません）。"),
                format!("Enter the name in kana only ({found:?} is not kana)."),
            ),
            PersonKeyError::KanaTooLong => Bilingual::new("カナ氏名は100文字までです。", "The kana name has at most 100 characters."),
            PersonKeyError::BirthDate { text } => Bilingual::new(
                format!("生年月日「{text}」は日付として読めません。例：19640303 または S39.3.3"),
                format!("Cannot read the birth date {text:?}. Example: 19640303 or S39.3.3"),
            ),
            PersonKeyError::BirthInFuture { birth_date } => Bilingual::new(
                format!("生年月日 {birth_date} が今日より後です。"),
                format!("The birth date {birth_date} is after today."),
            ),
            PersonKeyError::Insured { reason, .. } => reason.clone(),
        }
    }
}

fn is_kana(c: char) -> bool {
    matches!(c, 'ぁ'..='ゖ' | 'ゝ' | 'ゞ' | 'ァ'..='ヺ' | 'ー' | 'ヽ' | 'ヾ' | '･'..='ﾟ' | '゛' | '゜' | ' ' | '　')
}

fn birth(text: &str, today: &str) -> Result<String, PersonKeyError> {
    let day = Date::parse_yyyymmdd(text.trim()).map_err(|_| PersonKeyError::BirthDate { text: text.trim().to_string() })?.yyyymmdd();
    if day.as_str() > today {
        return Err(PersonKeyError::BirthInFuture { birth_date: day });
    }
    Ok(day)
}

impl PersonKey {
    /// What kind of search this is (what the audit log keeps).
    pub fn by(&self) -> SearchBy {
        match self {
            PersonKey::NameBirthSex { .. } => SearchBy::NameBirthSex,
            PersonKey::InsuredNumbers { .. } => SearchBy::InsuredNumbers,
        }
    }

    /// The key with its values checked and tidied (kana trimmed, full-width
    /// digits read), or the first problem. `today` is `YYYYMMDD`.
    pub fn checked(&self, today: &str) -> Result<PersonKey, PersonKeyError> {
        match self {
            PersonKey::NameBirthSex { kana, birth_date, sex } => {
                let kana = kana.trim();
                if kana.is_empty() {
                    return Err(PersonKeyError::KanaEmpty);
                }
                if kana.chars().count() > 100 {
                    return Err(PersonKeyError::KanaTooLong);
                }
                if let Some(found) = kana.chars().find(|c| !is_kana(*c)) {
                    return Err(PersonKeyError::KanaNotKana { found });
                }
                Ok(PersonKey::NameBirthSex { kana: kana.to_string(), birth_date: birth(&ascii_digits(birth_date), today)?, sex: *sex })
            }
            PersonKey::InsuredNumbers { insured } => {
                let insurer_number = check_insurer(&insured.insurer_number)
                    .map_err(|e| PersonKeyError::Insured { field: "insurer_number", reason: e.explain() })?
                    .digits;
                let number = ascii_digits(insured.number.trim());
                if number.is_empty() {
                    let reason = Bilingual::new("番号を入力してください。", "Enter the insured person's number.");
                    return Err(PersonKeyError::Insured { field: "number", reason });
                }
                let tidy = |v: &Option<String>| v.as_deref().map(|s| ascii_digits(s.trim())).filter(|s| !s.is_empty());
                Ok(PersonKey::InsuredNumbers {
                    insured: InsuredPerson {
                        insurer_number,
                        symbol: tidy(&insured.symbol),
                        number,
                        branch: tidy(&insured.branch),
                        birth_date: birth(&ascii_digits(&insured.birth_date), today)?,
                    },
                })
            }
        }
    }
}
