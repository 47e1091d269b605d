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

/// Half-width katakana (U+FF61–FF9F) as full-width, in code-point order.
/// The voiced marks ﾞ/ﾟ (FF9E/FF9F) are handled by [`fold_width`], which
/// joins them with the kana before them.
const HALF_KANA: [char; 61] = [
    '。', '「', '」', '、', '・', 'ヲ', 'ァ', 'ィ', 'ゥ', 'ェ', 'ォ', 'ャ', 'ュ', 'ョ', 'ッ', 'ー',
    'ア', 'イ', 'ウ', 'エ', 'オ', 'カ', 'キ', 'ク', 'ケ', 'コ', 'サ', 'シ', 'ス', 'セ', 'ソ',
    'タ', 'チ', 'ツ', 'テ', 'ト', 'ナ', 'ニ', 'ヌ', 'ネ', 'ノ', 'ハ', 'ヒ', 'フ', 'ヘ', 'ホ',
    'マ', 'ミ', 'ム', 'メ', 'モ', 'ヤ', 'ユ', 'ヨ', 'ラ', 'リ', 'ル', 'レ', 'ロ', 'ワ', 'ン',
];

/// The voiced (dakuten) form, one code point later: カ…チ at even
/// offsets from カ, then ツ テ ト (after small ッ), ハ…ホ every third, and
/// ウ → ヴ; in hiragana and katakana alike.
fn voiced(c: char) -> Option<char> {
    let kata = to_katakana(c);
    let from = |k: char| kata as u32 - k as u32;
    let ok = match kata {
        'カ'..='チ' => from('カ').is_multiple_of(2),
        'ツ' | 'テ' | 'ト' => true,
        'ハ'..='ホ' => from('ハ').is_multiple_of(3),
        _ => false,
    };
    match c {
        'ウ' => Some('ヴ'),
        'う' => Some('ゔ'),
        _ if ok => char::from_u32(c as u32 + 1),
        _ => None,
    }
}

fn to_katakana(c: char) -> char {
    match c {
        'ぁ'..='ゖ' | 'ゝ' | 'ゞ' => char::from_u32(c as u32 + 0x60).unwrap_or(c),
        c => c,
    }
}

/// The semi-voiced (handakuten) form: ハ…ホ → パ…ポ.
fn semi_voiced(c: char) -> Option<char> {
    let kata = to_katakana(c);
    match kata {
        'ハ'..='ホ' if (kata as u32 - 'ハ' as u32).is_multiple_of(3) => char::from_u32(c as u32 + 2),
        _ => None,
    }
}

/// Width folding, the way a person means it: full-width ASCII (ＡＢＣ１２３)
/// → ASCII, the ideographic space → a space, half-width katakana (ｱｲｳ, ｶﾞ)
/// → full-width (アイウ, ガ), and a voiced mark after a kana — half-width
/// ﾞﾟ, spacing ゛゜ or combining U+3099/309A — joined with that kana.
/// Hiragana and katakana stay as they are. For reading what was typed or
/// stored; never used to rewrite a stored value.
pub fn fold_width(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '\u{FF61}'..='\u{FF9D}' => HALF_KANA[(c as u32 - 0xFF61) as usize],
            '\u{FF9E}' | '\u{309B}' | '\u{3099}' | '\u{FF9F}' | '\u{309C}' | '\u{309A}' => {
                let semi = matches!(c, '\u{FF9F}' | '\u{309C}' | '\u{309A}');
                let joined = out.chars().next_back().and_then(|p| if semi { semi_voiced(p) } else { voiced(p) });
                match joined {
                    Some(j) => {
                        out.pop();
                        j
                    }
                    // A mark on its own stays visible as the spacing mark.
                    None if semi => '゜',
                    None => '゛',
                }
            }
            c => c,
        };
        out.push(c);
    }
    out
}

/// The form a search compares: [`fold_width`], then hiragana → katakana,
/// ASCII letters lower-cased, every space removed, and hyphens, dashes and
/// the long-vowel mark (ー ｰ ‐ − —) as `-`. So ｱｲｳ, あいう and アイウ find
/// each other, as do ３９１３ and 3913, or ﾔﾏﾀﾞ ﾀﾛｳ and ヤマダタロウ.
pub fn search_key(input: &str) -> String {
    fold_width(input)
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            'ぁ'..='ゖ' | 'ゝ' | 'ゞ' => to_katakana(c),
            'A'..='Z' => c.to_ascii_lowercase(),
            '\u{2010}'..='\u{2015}' | '\u{2212}' | 'ー' => '-',
            c => c,
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

    /// (typed, stored, should match)
    #[test]
    fn search_keys_fold_width_and_kana() {
        let rows: &[(&str, &str, bool)] = &[
            ("ｱｲｳ", "アイウ", true),
            ("あいう", "アイウ", true),
            ("アイウ", "あいう", true),
            ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ　タロウ", true),
            ("ﾊﾟﾋﾟﾌﾟ", "パピプ", true),
            ("ﾊﾞﾋﾞﾌﾞﾍﾞﾎﾞ", "ばびぶべぼ", true),
            ("ｶﾞｷﾞｸﾞｹﾞｺﾞ", "ガギグゲゴ", true),
            ("ｻﾞｼﾞｽﾞｾﾞｿﾞﾀﾞﾁﾞﾂﾞﾃﾞﾄﾞ", "ザジズゼゾダヂヅデド", true),
            ("ｳﾞｨ", "ヴィ", true),
            ("ｯｬｭｮｧ", "ッャュョァ", true),
            ("ｽｽﾞｷ", "すずき", true),
            // Combining marks (NFD input) join like the half-width ones.
            ("か\u{3099}", "ガ", true),
            ("ﾗｰﾒﾝ", "ラーメン", true),
            ("３９１３１１５６", "39131156", true),
            ("ＡＢＣ", "abc", true),
            ("12-34", "12‐34", true),
            // Different kana stay different: no over-eager folding.
            ("ﾀﾞ", "タ", false),
            ("ﾊﾟ", "バ", false),
            ("ｱｲｳ", "アイオ", false),
            ("ツ", "ッ", false),
        ];
        for (typed, stored, want) in rows {
            let got = search_key(stored).contains(&search_key(typed));
            assert_eq!(got, *want, "{typed:?} in {stored:?}: {:?} vs {:?}", search_key(typed), search_key(stored));
        }
    }

    #[test]
    fn fold_width_keeps_hiragana_and_lone_marks() {
        assert_eq!(fold_width("ｱｲｳ あいう ＡＢ１"), "アイウ あいう AB1");
        assert_eq!(fold_width("ｶﾞ"), "ガ");
        assert_eq!(fold_width("ﾞ"), "゛");
        assert_eq!(fold_width("Aﾟ"), "A゜");
        // Every half-width katakana maps into the full-width katakana block (or CJK punctuation).
        for c in '\u{FF61}'..='\u{FF9D}' {
            let f = fold_width(&c.to_string());
            let f = f.chars().next().unwrap();
            assert!(('\u{3000}'..='\u{30FF}').contains(&f), "{c} → {f}");
        }
    }
}
