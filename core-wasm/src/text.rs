//! Bilingual text: every message a person reads comes as Japanese first,
//! English second. Only the wording lives here; no formatting of UI.

use serde::{Deserialize, Serialize};

/// A sentence in both languages. Japanese is what reception reads by default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bilingual {
    pub ja: String,
    pub en: String,
}

impl Bilingual {
    pub fn new(ja: impl Into<String>, en: impl Into<String>) -> Self {
        Self { ja: ja.into(), en: en.into() }
    }
}

/// Anything that can explain itself to a receptionist or IT person.
pub trait Explain {
    fn explain(&self) -> Bilingual;
}

/// Full-width digits (０-９) typed with the IME on become ASCII digits.
/// Used only to read what a person typed; stored values are never rewritten.
pub fn ascii_digits(input: &str) -> String {
    input
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_digits_become_ascii() {
        assert_eq!(ascii_digits("３９１３１１５６"), "39131156");
        assert_eq!(ascii_digits("12-３4"), "12-34");
    }
}
