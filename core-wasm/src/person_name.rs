//! A person's name as eligibility results carry it, read one way for
//! everyone who looks at it: validation (the `name_replaced_char` /
//! `name_outside_jis0208` warnings), the result screen, the batch table,
//! the CSV export and the diff against the clinic's stored name.
//!
//! Two troubles (domain.md §8): the national register holds characters the
//! result XML cannot carry and the system sends ● in their place (the most
//! reported reception trouble of 2025), and some characters that do arrive
//! are outside JIS X 0208, which receipt software and online claims refuse.
//! Neither makes the result unusable; both mean the clinic's own spelling
//! must be kept, never replaced by what came back.

use serde::{Deserialize, Serialize};

use crate::text::Bilingual;

/// What the system puts where it cannot carry a character.
pub const REPLACED: char = '●';

/// What is wrong with a returned name, if anything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameFlags {
    /// The name holds ● (a character the system could not carry).
    pub replaced: bool,
    /// Characters outside JIS X 0208 (● excluded), in order, without repeats.
    pub outside_jis0208: Vec<char>,
}

impl NameFlags {
    pub fn is_clean(&self) -> bool {
        !self.replaced && self.outside_jis0208.is_empty()
    }

    /// The short mark for a table cell or the CSV's 氏名注意 column
    /// (`●あり`, `JIS外:髙`, both joined by `／`); empty when clean.
    pub fn mark(&self) -> String {
        let mut parts = Vec::new();
        if self.replaced {
            parts.push("●あり".to_string());
        }
        if !self.outside_jis0208.is_empty() {
            parts.push(format!("JIS外:{}", self.outside_jis0208.iter().collect::<String>()));
        }
        parts.join("／")
    }

    /// What the receptionist should know and do, for the result screen.
    /// `None` when the name is clean.
    pub fn advice(&self) -> Option<Bilingual> {
        let mut ja = String::new();
        let mut en = String::new();
        if self.replaced {
            ja.push_str("氏名の ● は、資格確認システムが表せない字の代わりに入る記号です（誤りではありません）。フリガナと患者さんの書類（資格確認書・お知らせ等）で正しい字を確かめてください。医療機関に登録済みの氏名はそのまま使い、● の氏名で上書きしないでください。");
            en.push_str("The ● in the name stands for a character the eligibility system cannot carry (not an error). Confirm the spelling with the kana and the patient's documents. Keep the name the clinic has on file; do not overwrite it with the ● name.");
        }
        if !self.outside_jis0208.is_empty() {
            let chars: String = self.outside_jis0208.iter().map(|c| format!("「{c}」")).collect();
            let chars_en: String = self.outside_jis0208.iter().map(|c| format!("{c} (U+{:04X})", u32::from(*c))).collect::<Vec<_>>().join(", ");
            if !ja.is_empty() {
                ja.push('\n');
                en.push('\n');
            }
            ja.push_str(&format!("{chars}は JIS 第1・第2水準にない字で、レセコンやオンライン請求で受け付けられないことがあります。レセコンには登録済みの字（または代わりの字）を使ってください。"));
            en.push_str(&format!("{chars_en}: outside JIS X 0208; receipt software and online claims may refuse it. Use the spelling already registered (or its usual substitute) in the receipt software."));
        }
        (!ja.is_empty()).then(|| Bilingual::new(ja, en))
    }
}

/// Reads a returned name. Cheap for a clean name: one scan, no allocation.
pub fn flags(name: &str) -> NameFlags {
    let mut f = NameFlags::default();
    for c in name.chars() {
        if c == REPLACED {
            f.replaced = true;
        } else if !crate::sjis::in_jis_x0208(c) && !f.outside_jis0208.contains(&c) {
            f.outside_jis0208.push(c);
        }
    }
    f
}

/// The comparison form of a name: width folded, spaces removed.
fn folded(s: &str) -> Vec<char> {
    crate::text::fold_width(s).chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether a returned name is the stored one, ignoring width and spaces and
/// letting each ● stand for any one character (髙橋 on file, ●橋 returned:
/// the same name).
pub fn same_name(stored: &str, returned: &str) -> bool {
    let (a, b) = (folded(stored), folded(returned));
    a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x == y || *y == REPLACED || *x == REPLACED)
}

/// Small kana and their full-size forms: results carry kana without small
/// letters (ｼﾞﾕﾘ for ジュリ), clinics often store them with.
fn full_size(c: char) -> char {
    match c {
        'ァ' => 'ア', 'ィ' => 'イ', 'ゥ' => 'ウ', 'ェ' => 'エ', 'ォ' => 'オ',
        'ッ' => 'ツ', 'ャ' => 'ヤ', 'ュ' => 'ユ', 'ョ' => 'ヨ', 'ヮ' => 'ワ', 'ヵ' => 'カ', 'ヶ' => 'ケ',
        'ぁ' => 'あ', 'ぃ' => 'い', 'ぅ' => 'う', 'ぇ' => 'え', 'ぉ' => 'お',
        'っ' => 'つ', 'ゃ' => 'や', 'ゅ' => 'ゆ', 'ょ' => 'よ', 'ゎ' => 'わ',
        c => c,
    }
}

/// Whether two kana readings are the same: width, spaces, small letters and
/// hiragana/katakana ignored.
pub fn same_kana(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> Vec<char> {
        folded(s)
            .into_iter()
            .map(full_size)
            // Hiragana → katakana (the blocks are 0x60 apart).
            .map(|c| if ('\u{3041}'..='\u{3096}').contains(&c) { char::from_u32(c as u32 + 0x60).unwrap_or(c) } else { c })
            .collect()
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_of_names() {
        assert!(flags("山田　花子").is_clean());
        assert_eq!(flags("山田　●郎"), NameFlags { replaced: true, outside_jis0208: vec![] });
        assert_eq!(flags("髙橋　德德").outside_jis0208, vec!['髙', '德']);
        assert_eq!(flags("●橋　①子").mark(), "●あり／JIS外:①");
        assert_eq!(flags("山田").mark(), "");
        assert!(flags("山田").advice().is_none());
        let a = flags("●橋").advice().unwrap();
        assert!(a.ja.contains("上書きしないでください"), "{}", a.ja);
    }

    #[test]
    fn a_replaced_character_matches_any_one_character() {
        assert!(same_name("髙橋　一郎", "●橋 一郎"));
        assert!(same_name("髙橋一郎", "●橋　一郎"));
        assert!(!same_name("髙橋一郎", "●橋二郎"));
        // ● stands for one character, not several.
        assert!(!same_name("髙橋一郎", "●一郎"));
        assert!(same_name("ＡＢＣ", "ABC"));
        assert!(!same_name("山田花子", "田中花子"));
    }

    #[test]
    fn kana_ignores_width_small_letters_and_script() {
        assert!(same_kana("ジュリ", "ｼﾞﾕﾘ"));
        assert!(same_kana("じゅり", "ジユリ"));
        assert!(same_kana("ﾀｶﾊｼ ｲﾁﾛｳ", "タカハシ　イチロウ"));
        assert!(!same_kana("タカハシ", "タカハタ"));
    }
}
