//! The smart-card status words (ISO 7816-4 SW1 SW2) this project meets on
//! the My Number card's JPKI applet (domain.md §5): their values and what
//! each one means. It is the one table for both sides of the APDU link —
//! the helper reads status words through [`Sw::from_u16`], the simulator's
//! virtual card answers with the constants — so the two can never disagree
//! about, say, which words mean "PIN locked". Pure: no I/O, no card access.
//!
//! ```
//! use onshi_core::card_sw::{self, Sw};
//! assert_eq!(Sw::from_u16(card_sw::tries_left(2)), Sw::WrongPin { tries_left: 2 });
//! assert_eq!(Sw::from_u16(card_sw::PIN_BLOCKED), Sw::Locked);
//! ```

use crate::text::{Bilingual, Explain};

/// `9000`: success.
pub const OK: u16 = 0x9000;
/// `61xx`: success, xx more bytes to fetch with GET RESPONSE (T=0 readers).
pub const MORE_DATA: u16 = 0x6100;
/// `63Cx`: the PIN was wrong (or the tries-left query), x tries left;
/// `63C0` is the answer of the try that locks the card. See [`tries_left`].
pub const TRIES_LEFT: u16 = 0x63C0;
/// `6700`: wrong length (Lc or Le), or an extended APDU on a short-only card.
pub const WRONG_LENGTH: u16 = 0x6700;
/// `6981`: the command does not fit the file (reading a key or PIN EF).
pub const INCOMPATIBLE_FILE: u16 = 0x6981;
/// `6982`: security status not satisfied (the PIN is not verified in this session).
pub const SECURITY_NOT_SATISFIED: u16 = 0x6982;
/// `6983`: the PIN is blocked (authentication method blocked).
pub const PIN_BLOCKED: u16 = 0x6983;
/// `6984`: the PIN cannot be used (reference data invalidated); treated as locked.
pub const PIN_UNUSABLE: u16 = 0x6984;
/// `6985`: conditions of use not satisfied (signing without the key EF selected).
pub const CONDITIONS_NOT_SATISFIED: u16 = 0x6985;
/// `6986`: no current EF.
pub const NO_CURRENT_EF: u16 = 0x6986;
/// `6A80`: wrong data (a PIN that is not 4 ASCII digits).
pub const WRONG_DATA: u16 = 0x6A80;
/// `6A82`: file or application not found (also every applet this project must not select).
pub const FILE_NOT_FOUND: u16 = 0x6A82;
/// `6A86`: wrong P1/P2.
pub const WRONG_P1P2: u16 = 0x6A86;
/// `6A88`: referenced data not found (VERIFY without the PIN EF selected).
pub const REFERENCE_NOT_FOUND: u16 = 0x6A88;
/// `6B00`: READ BINARY offset outside the file.
pub const WRONG_OFFSET: u16 = 0x6B00;
/// `6D00`: instruction not supported.
pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
/// `6E00`: class not supported.
pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
/// `6F00`: the card failed internally, no precise diagnosis.
pub const INTERNAL: u16 = 0x6F00;

/// `63Cx` for `n` tries left (`n` above 15 is written as 15, the most SW2 holds).
pub const fn tries_left(n: u8) -> u16 {
    TRIES_LEFT | (if n > 15 { 15 } else { n as u16 })
}

/// What a status word means to the JPKI flows. Several words can share a
/// meaning (`63C0`, `6983` and `6984` all say "locked"), so keep the raw
/// word next to it when it goes into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sw {
    /// `9000`
    Ok,
    /// `61xx`: more data to fetch with GET RESPONSE (T=0 readers).
    MoreData(u8),
    /// `63Cx` with x ≥ 1: wrong PIN, or the answer to the tries-left query.
    WrongPin { tries_left: u8 },
    /// `63C0`, `6983`, `6984`: the PIN is blocked.
    Locked,
    /// `6700`
    WrongLength,
    /// `6981`
    IncompatibleFile,
    /// `6982`: PIN not verified in this session.
    SecurityNotSatisfied,
    /// `6985`
    ConditionsNotSatisfied,
    /// `6986`
    NoCurrentEf,
    /// `6A80`
    WrongData,
    /// `6A82`: file or application not found.
    FileNotFound,
    /// `6A86`
    WrongP1P2,
    /// `6A88`
    ReferenceNotFound,
    /// `6B00`: offset outside the file.
    WrongOffset,
    /// `6D00`
    InsNotSupported,
    /// `6E00`
    ClaNotSupported,
    /// `6F00`
    Internal,
    /// Anything else, kept as is for the error message.
    Unknown(u16),
}

impl Sw {
    /// The meaning of a raw status word; never fails (unknown words are kept).
    pub fn from_u16(sw: u16) -> Sw {
        match sw {
            OK => Sw::Ok,
            0x6100..=0x61FF => Sw::MoreData((sw & 0xFF) as u8),
            TRIES_LEFT | PIN_BLOCKED | PIN_UNUSABLE => Sw::Locked,
            0x63C1..=0x63CF => Sw::WrongPin { tries_left: (sw & 0x0F) as u8 },
            WRONG_LENGTH => Sw::WrongLength,
            INCOMPATIBLE_FILE => Sw::IncompatibleFile,
            SECURITY_NOT_SATISFIED => Sw::SecurityNotSatisfied,
            CONDITIONS_NOT_SATISFIED => Sw::ConditionsNotSatisfied,
            NO_CURRENT_EF => Sw::NoCurrentEf,
            WRONG_DATA => Sw::WrongData,
            FILE_NOT_FOUND => Sw::FileNotFound,
            WRONG_P1P2 => Sw::WrongP1P2,
            REFERENCE_NOT_FOUND => Sw::ReferenceNotFound,
            WRONG_OFFSET => Sw::WrongOffset,
            INS_NOT_SUPPORTED => Sw::InsNotSupported,
            CLA_NOT_SUPPORTED => Sw::ClaNotSupported,
            INTERNAL => Sw::Internal,
            other => Sw::Unknown(other),
        }
    }
}

impl Explain for Sw {
    /// What the word means and what the person at the desk can do about it.
    /// Words that only a faulty program provokes say so, for the IT person.
    fn explain(&self) -> Bilingual {
        const PROGRAM: (&str, &str) = (
            "ヘルパーとカードのやり取りに誤りがあります。カードを挿し直してもう一度お試しください。続く場合は IT 担当者に連絡してください。",
            "the helper and the card disagree about a command; reinsert the card and try again, and tell IT if it keeps happening",
        );
        let (what_ja, what_en, (todo_ja, todo_en)): (&str, &str, (&str, &str)) = match self {
            Sw::Ok => ("正常に終了しました", "done", ("", "")),
            Sw::MoreData(_) => ("カードに続きのデータがあります", "the card has more data", ("", "")),
            Sw::WrongPin { .. } => (
                "暗証番号が違います",
                "wrong PIN",
                ("残り回数に注意して、患者さんにもう一度入力してもらってください。", "mind the tries left and let the patient type the PIN again"),
            ),
            Sw::Locked => (
                "暗証番号がロックされています",
                "the PIN is locked",
                (
                    "このカードでは暗証番号を使えません。目視確認か保険証で確認し、患者さんには市区町村の窓口でロック解除を案内してください。",
                    "the PIN cannot be used on this card; confirm visually or with the insurance card, and tell the patient to have it unlocked at the city office",
                ),
            ),
            Sw::SecurityNotSatisfied => (
                "暗証番号の確認が済んでいません",
                "the PIN has not been verified",
                ("暗証番号を入力してからもう一度お試しください。", "enter the PIN, then try again"),
            ),
            Sw::FileNotFound => (
                "カードに必要なデータが見つかりません",
                "the card lacks the expected application or file",
                (
                    "マイナンバーカードかどうか確かめて、挿し直してください。",
                    "check that this is a My Number card and insert it again",
                ),
            ),
            Sw::Internal => (
                "カードの内部でエラーが起きました",
                "the card reported an internal error",
                ("カードを挿し直してもう一度お試しください。続く場合は保険証で確認してください。", "reinsert the card and try again; if it persists, confirm with the insurance card"),
            ),
            Sw::WrongLength => ("コマンドの長さが不正です", "wrong command length", PROGRAM),
            Sw::IncompatibleFile => ("このファイルには使えないコマンドです", "command incompatible with the file", PROGRAM),
            Sw::ConditionsNotSatisfied => ("使用条件を満たしていません", "conditions of use not satisfied", PROGRAM),
            Sw::NoCurrentEf => ("ファイルが選択されていません", "no file selected", PROGRAM),
            Sw::WrongData => ("コマンドのデータが不正です", "wrong command data", PROGRAM),
            Sw::WrongP1P2 => ("コマンドの引数が不正です", "wrong parameters P1/P2", PROGRAM),
            Sw::ReferenceNotFound => ("参照するデータがありません", "referenced data not found", PROGRAM),
            Sw::WrongOffset => ("読み取り位置がファイルの外です", "offset outside the file", PROGRAM),
            Sw::InsNotSupported | Sw::ClaNotSupported => (
                "カードがこのコマンドを知りません",
                "the card does not know this command",
                (
                    "マイナンバーカードかどうか確かめて、挿し直してください。",
                    "check that this is a My Number card and insert it again",
                ),
            ),
            Sw::Unknown(_) => ("カードが想定外の応答をしました", "the card gave an unexpected answer", PROGRAM),
        };
        let code = match self {
            Sw::Unknown(raw) => format!(" ({raw:04X})"),
            _ => String::new(),
        };
        let join = |what: &str, todo: &str, sep: &str| if todo.is_empty() { format!("{what}{code}") } else { format!("{what}{code}{sep}{todo}") };
        Bilingual { ja: join(what_ja, todo_ja, "。"), en: join(what_en, todo_en, "; ") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value in the table, with the meaning the helper's flows rely on.
    #[test]
    fn every_word_has_its_meaning() {
        let cases: [(u16, Sw); 26] = [
            (OK, Sw::Ok),
            (0x6110, Sw::MoreData(0x10)),
            (MORE_DATA, Sw::MoreData(0)),
            (tries_left(3), Sw::WrongPin { tries_left: 3 }),
            (0x63C1, Sw::WrongPin { tries_left: 1 }),
            (0x63CF, Sw::WrongPin { tries_left: 15 }),
            (0x63C0, Sw::Locked),
            (0x6983, Sw::Locked),
            (0x6984, Sw::Locked),
            (0x6700, Sw::WrongLength),
            (0x6981, Sw::IncompatibleFile),
            (0x6982, Sw::SecurityNotSatisfied),
            (0x6985, Sw::ConditionsNotSatisfied),
            (0x6986, Sw::NoCurrentEf),
            (0x6A80, Sw::WrongData),
            (0x6A82, Sw::FileNotFound),
            (0x6A86, Sw::WrongP1P2),
            (0x6A88, Sw::ReferenceNotFound),
            (0x6B00, Sw::WrongOffset),
            (0x6D00, Sw::InsNotSupported),
            (0x6E00, Sw::ClaNotSupported),
            (0x6F00, Sw::Internal),
            (0x6F12, Sw::Unknown(0x6F12)),
            (0x63D1, Sw::Unknown(0x63D1)),
            (0x0000, Sw::Unknown(0)),
            (0xFFFF, Sw::Unknown(0xFFFF)),
        ];
        for (raw, sw) in cases {
            assert_eq!(Sw::from_u16(raw), sw, "{raw:04X}");
        }
    }

    #[test]
    fn tries_left_is_capped_at_what_sw2_holds() {
        assert_eq!(tries_left(0), 0x63C0);
        assert_eq!(tries_left(15), 0x63CF);
        assert_eq!(tries_left(200), 0x63CF);
    }

    #[test]
    fn explanations_are_bilingual_and_name_unknown_words() {
        for raw in [0x9000, 0x63C2, 0x6983, 0x6A82, 0x6700, 0x6F00, 0x6F12] {
            let m = Sw::from_u16(raw).explain();
            assert!(!m.ja.is_empty() && !m.en.is_empty(), "{raw:04X}");
            assert!(!m.ja.is_ascii(), "{raw:04X}: Japanese first: {}", m.ja);
        }
        assert!(Sw::from_u16(0x6F12).explain().en.contains("6F12"));
        assert!(Sw::Locked.explain().ja.contains("市区町村"));
    }
}
