//! Bytes → text. The XML declaration (or a BOM) decides the encoding; a file
//! without one is UTF-8 if it decodes as UTF-8, otherwise Windows-31J (some
//! tools write Shift_JIS with no declaration), with a warning.
//!
//! Shift_JIS is always decoded as Windows-31J (CP932, the WHATWG
//! definition, in `crate::sjis`), so NEC/IBM extension
//! characters such as 髙 and ① survive.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::ParseError;
use crate::diag::{Diagnostic, Severity};
use crate::text::Bilingual;

/// The two encodings the eligibility interface uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Shift_JIS, read and written as Windows-31J: the interface's default.
    #[default]
    ShiftJis,
    Utf8,
}

impl Encoding {
    /// The label written in the XML declaration.
    pub fn label(self) -> &'static str {
        match self {
            Encoding::ShiftJis => "Shift_JIS",
            Encoding::Utf8 => "UTF-8",
        }
    }

    fn from_label(label: &str) -> Option<Self> {
        let l = label.trim().to_ascii_lowercase();
        match l.as_str() {
            "utf-8" | "utf8" => Some(Encoding::Utf8),
            "shift_jis" | "shift-jis" | "sjis" | "x-sjis" | "windows-31j" | "cp932" | "ms932" | "ms_kanji"
            | "csshiftjis" | "cswindows31j" => Some(Encoding::ShiftJis),
            _ => None,
        }
    }
}

/// Finds `encoding="…"` in a leading `<?xml …?>` declaration (ASCII, so it
/// can be read before the encoding is known).
fn declared_label(bytes: &[u8]) -> Option<String> {
    if !bytes.starts_with(b"<?xml") {
        return None;
    }
    let end = bytes.iter().take(512).position(|&b| b == b'>')?;
    let decl = std::str::from_utf8(&bytes[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_string())
}

fn decode_sjis(bytes: &[u8]) -> Result<String, usize> {
    crate::sjis::decode(bytes).map_err(|crate::sjis::DecodeError::Malformed { offset }| offset)
}

/// Decodes a whole file. Returns the text (borrowed when the file is UTF-8),
/// the encoding used, and a warning when the encoding had to be guessed.
pub fn decode(bytes: &[u8], max_bytes: usize) -> Result<(Cow<'_, str>, Encoding, Vec<Diagnostic>), ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    if bytes.len() > max_bytes {
        return Err(ParseError::TooLarge { size: bytes.len(), limit: max_bytes });
    }
    if bytes.starts_with(&[0xFE, 0xFF]) || bytes.starts_with(&[0xFF, 0xFE]) {
        return Err(ParseError::UnsupportedEncoding { label: "UTF-16".into() });
    }
    let (bytes, bom) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    fn utf8(b: &[u8]) -> Result<&str, ParseError> {
        std::str::from_utf8(b).map_err(|e| ParseError::InvalidBytes { encoding: "UTF-8".into(), offset: e.valid_up_to() })
    }
    let sjis = |b: &[u8]| {
        decode_sjis(b).map_err(|offset| ParseError::InvalidBytes { encoding: "Shift_JIS".into(), offset })
    };
    let declared = declared_label(bytes);
    let declared_encoding = match &declared {
        Some(label) => Some(Encoding::from_label(label).ok_or_else(|| ParseError::UnsupportedEncoding { label: label.clone() })?),
        None => None,
    };
    match (bom, declared_encoding) {
        // A BOM is UTF-8 whatever the declaration says (the BOM is the stronger signal).
        (true, _) | (false, Some(Encoding::Utf8)) => Ok((Cow::Borrowed(utf8(bytes)?), Encoding::Utf8, Vec::new())),
        (false, Some(Encoding::ShiftJis)) => Ok((Cow::Owned(sjis(bytes)?), Encoding::ShiftJis, Vec::new())),
        (false, None) => match std::str::from_utf8(bytes) {
            Ok(text) => Ok((Cow::Borrowed(text), Encoding::Utf8, Vec::new())),
            Err(e) => match decode_sjis(bytes) {
                Ok(text) => {
                    let warning = Diagnostic::new(
                        Severity::Warning,
                        "/",
                        "encoding_guessed",
                        Bilingual::new(
                            "XML宣言がなく、UTF-8として読めないため Shift_JIS（CP932）として読みました。作成元のソフトで encoding 宣言を付けてください。",
                            "No XML declaration and not valid UTF-8, so the file was read as Shift_JIS (CP932). Ask the writing software to declare its encoding.",
                        ),
                    );
                    Ok((Cow::Owned(text), Encoding::ShiftJis, vec![warning]))
                }
                Err(_) => Err(ParseError::InvalidBytes { encoding: "UTF-8".into(), offset: e.valid_up_to() }),
            },
        },
    }
}

/// Encodes text for writing. Characters Windows-31J cannot hold become XML
/// character references (`&#8208;`), so nothing is lost.
pub fn encode(text: &str, encoding: Encoding) -> Vec<u8> {
    match encoding {
        Encoding::Utf8 => text.as_bytes().to_vec(),
        // Decimal references, as encoding_rs's `encode` wrote them before.
        Encoding::ShiftJis => crate::sjis::encode_with(text, |c, out| {
            out.extend_from_slice(format!("&#{};", u32::from(c)).as_bytes())
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp932_extension_characters_survive() {
        // 髙 (IBM extension FB FC) and ① (NEC row 13, 87 40) in Shift_JIS.
        let bytes = b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><a>\xFB\xFC\x87\x40</a>";
        let (text, enc, diags) = decode(bytes, 1 << 20).unwrap();
        assert_eq!(enc, Encoding::ShiftJis);
        assert!(text.contains("髙①"), "{text}");
        assert!(diags.is_empty());
        assert_eq!(encode("髙①", Encoding::ShiftJis), b"\xFB\xFC\x87\x40");
    }

    #[test]
    fn undeclared_sjis_is_guessed_with_warning() {
        let (text, enc, diags) = decode(b"<a>\x8E\x52\x93\x63</a>", 1 << 20).unwrap();
        assert_eq!((text.as_ref(), enc), ("<a>山田</a>", Encoding::ShiftJis));
        assert_eq!(diags[0].code, "encoding_guessed");
    }

    #[test]
    fn refusals() {
        assert_eq!(decode(b"", 10).unwrap_err(), ParseError::Empty);
        assert!(matches!(decode(b"<a>xxxxxxxx</a>", 4), Err(ParseError::TooLarge { .. })));
        let bad_utf8 = decode(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a>\x8E\x52</a>", 1 << 20);
        assert_eq!(bad_utf8.unwrap_err(), ParseError::InvalidBytes { encoding: "UTF-8".into(), offset: 41 });
        let bad_sjis = decode(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?><a>\x85\x40</a>", 1 << 20);
        assert!(matches!(bad_sjis, Err(ParseError::InvalidBytes { .. })), "{bad_sjis:?}");
        assert!(matches!(decode(b"<?xml version=\"1.0\" encoding=\"EUC-JP\"?><a/>", 99), Err(ParseError::UnsupportedEncoding { .. })));
        assert!(matches!(decode(b"\xFF\xFE<\x00", 99), Err(ParseError::UnsupportedEncoding { .. })));
    }

    #[test]
    fn unmappable_characters_become_references_as_with_encoding_rs() {
        // Emoji (outside the BMP), a PUA character, U+00A0, Hangul: none are Shift_JIS.
        for text in ["山田😀太郎", "\u{E000}a\u{A0}b", "한국", "～−¥‾ｱ", ""] {
            assert_eq!(encode(text, Encoding::ShiftJis), encoding_rs::SHIFT_JIS.encode(text).0.as_ref(), "{text}");
        }
        assert_eq!(encode("a😀", Encoding::ShiftJis), b"a&#128512;");
    }
}
