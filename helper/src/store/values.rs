//! Validated text values the store accepts. Every string that reaches a
//! table goes through one of these types, so a value with the shape of a
//! card PIN (4 digits) cannot be stored by accident through a field that
//! has no business holding one. Errors never carry the rejected text.

use std::fmt;
use std::str::FromStr;

use onshi_core::text::{Bilingual, Explain};

/// What was wrong with a value; deliberately without the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    #[error("{field}: empty")]
    Empty { field: &'static str },
    #[error("{field}: longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field}: contains characters that are not allowed")]
    BadChars { field: &'static str },
    #[error("{field}: does not have the expected form ({expected})")]
    BadShape { field: &'static str, expected: &'static str },
    /// Four digits and nothing else: the shape of the card's 利用者証明用
    /// PIN. Refused so that a PIN typed into the wrong box is never stored.
    #[error("{field}: consists of exactly four digits, which looks like a PIN")]
    PinShaped { field: &'static str },
}

impl Explain for ValueError {
    fn explain(&self) -> Bilingual {
        match *self {
            ValueError::Empty { field } => Bilingual::new(
                format!("{field} が空です。値を指定してください。"),
                format!("{field} is empty; give a value."),
            ),
            ValueError::TooLong { field, max } => Bilingual::new(
                format!("{field} が長すぎます（{max} 文字まで）。短くしてください。"),
                format!("{field} is too long (at most {max} characters); shorten it."),
            ),
            ValueError::BadChars { field } => Bilingual::new(
                format!("{field} に使えない文字（制御文字など）が含まれています。"),
                format!("{field} contains characters that are not allowed (control characters or similar)."),
            ),
            ValueError::BadShape { field, expected } => Bilingual::new(
                format!("{field} の形式が正しくありません（期待する形: {expected}）。"),
                format!("{field} does not have the expected form ({expected})."),
            ),
            ValueError::PinShaped { field } => Bilingual::new(
                format!("{field} が数字4桁だけです。暗証番号の誤入力を防ぐため保存しません。文字を含む値にしてください。"),
                format!("{field} is exactly four digits, which looks like a PIN, so it is not stored; use a value with letters."),
            ),
        }
    }
}

/// True for the shape of the JPKI user-authentication PIN: exactly four
/// digits, ASCII or full-width, possibly with surrounding spaces.
pub fn pin_shaped(text: &str) -> bool {
    let t = text.trim_matches(|c: char| c.is_whitespace());
    t.chars().count() == 4 && t.chars().all(|c| c.is_ascii_digit() || ('０'..='９').contains(&c))
}

/// The common checks for free text: not empty, bounded, no control
/// characters, not PIN-shaped.
pub(super) fn plain(field: &'static str, text: &str, max: usize) -> Result<(), ValueError> {
    if text.trim().is_empty() {
        return Err(ValueError::Empty { field });
    }
    if text.chars().count() > max {
        return Err(ValueError::TooLong { field, max });
    }
    if text.chars().any(char::is_control) {
        return Err(ValueError::BadChars { field });
    }
    if pin_shaped(text) {
        return Err(ValueError::PinShaped { field });
    }
    Ok(())
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = ValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::new(s)
            }
        }
    };
}

text_value!(
    /// A web origin as the browser reports it: `scheme://host[:port]`, no
    /// path, no trailing slash (e.g. `https://clinic.example`).
    Origin
);
text_value!(
    /// A browser extension id: 32 letters a–p (Chromium family) or a
    /// Firefox add-on id such as `onshi-bridge@onshi.example`.
    ExtensionId
);
text_value!(
    /// The name of a reception desk, e.g. `受付1`.
    DeskName
);
text_value!(
    /// The 受付番号 a backend gives a submitted batch.
    ReceptionNumber
);
text_value!(
    /// A bare file name (no directory part), e.g. the batch request file.
    FileName
);
text_value!(
    /// A stable snake_case error code such as `wrong_pin` (no digits, so
    /// it can never carry a number).
    ErrorCode
);

text_value!(
    /// A protocol request type such as `card_confirm` (snake_case letters),
    /// recorded when a request is refused.
    RequestType
);

impl RequestType {
    pub fn new(text: &str) -> Result<Self, ValueError> {
        // Same shape as an error code: snake_case letters only.
        ErrorCode::new(text).map(|c| RequestType(c.0)).map_err(|e| match e {
            ValueError::BadShape { expected, .. } => ValueError::BadShape { field: "request type", expected },
            other => other,
        })
    }
}

const ORIGIN_SCHEMES: [&str; 4] = ["https", "http", "chrome-extension", "moz-extension"];

impl Origin {
    pub fn new(text: &str) -> Result<Self, ValueError> {
        let field = "origin";
        plain(field, text, 255)?;
        let expected = "https://host[:port]";
        let shape = ValueError::BadShape { field, expected };
        let (scheme, rest) = text.split_once("://").ok_or(shape)?;
        if !ORIGIN_SCHEMES.contains(&scheme) {
            return Err(shape);
        }
        // An IPv6 literal has colons of its own, so split after its bracket.
        let split_at = if rest.starts_with('[') { rest.find(']').map_or(rest.len(), |i| i + 1) } else { 0 };
        let (host, port) = match rest[split_at..].find(':') {
            Some(i) => (&rest[..split_at + i], Some(&rest[split_at + i + 1..])),
            None => (rest, None),
        };
        let host_ok = if let Some(v6) = host.strip_prefix('[') {
            v6.strip_suffix(']').is_some_and(|a| !a.is_empty() && a.chars().all(|c| c.is_ascii_hexdigit() || c == ':'))
        } else {
            !host.is_empty()
                && !host.starts_with('.')
                && !host.ends_with('.')
                && host.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.parse::<u16>().is_ok_and(|n| n > 0));
        if !host_ok || !port_ok {
            return Err(shape);
        }
        Ok(Origin(text.to_owned()))
    }
}

impl ExtensionId {
    pub fn new(text: &str) -> Result<Self, ValueError> {
        let field = "extension id";
        plain(field, text, 128)?;
        let chromium = text.len() == 32 && text.bytes().all(|b| (b'a'..=b'p').contains(&b));
        let firefox = text.contains('@') || (text.starts_with('{') && text.ends_with('}'));
        let chars_ok =
            text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '-' | '_' | '{' | '}'));
        if !(chromium || (firefox && chars_ok)) {
            return Err(ValueError::BadShape { field, expected: "32 letters a-p, or name@domain" });
        }
        Ok(ExtensionId(text.to_owned()))
    }

    /// True for a Chromium-family id (32 letters a–p).
    pub fn is_chromium(&self) -> bool {
        self.0.len() == 32 && self.0.bytes().all(|b| (b'a'..=b'p').contains(&b))
    }
}

impl DeskName {
    pub fn new(text: &str) -> Result<Self, ValueError> {
        plain("desk name", text, 32)?;
        Ok(DeskName(text.to_owned()))
    }
}

impl ReceptionNumber {
    pub fn new(text: &str) -> Result<Self, ValueError> {
        let field = "reception number";
        plain(field, text, 64)?;
        if !text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(ValueError::BadChars { field });
        }
        Ok(ReceptionNumber(text.to_owned()))
    }
}

impl FileName {
    pub fn new(text: &str) -> Result<Self, ValueError> {
        let field = "file name";
        plain(field, text, 255)?;
        if text.contains(['/', '\\']) || text == "." || text == ".." {
            return Err(ValueError::BadShape { field, expected: "a file name without directories" });
        }
        Ok(FileName(text.to_owned()))
    }
}

impl ErrorCode {
    pub fn new(text: &str) -> Result<Self, ValueError> {
        let field = "error code";
        plain(field, text, 40)?;
        let mut chars = text.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
        if !first_ok || !chars.all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(ValueError::BadShape { field, expected: "snake_case letters" });
        }
        Ok(ErrorCode(text.to_owned()))
    }
}

/// Who caused an audit entry: a paired page, a desk, or the CLI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Origin(Origin),
    Desk(DeskName),
    Cli,
}

impl Actor {
    /// The stored and hashed form: `origin:<origin>`, `desk:<name>` or `cli`.
    pub fn encode(&self) -> String {
        match self {
            Actor::Origin(o) => format!("origin:{o}"),
            Actor::Desk(d) => format!("desk:{d}"),
            Actor::Cli => "cli".to_owned(),
        }
    }

    pub fn decode(text: &str) -> Option<Actor> {
        if text == "cli" {
            Some(Actor::Cli)
        } else if let Some(o) = text.strip_prefix("origin:") {
            Origin::new(o).ok().map(Actor::Origin)
        } else {
            text.strip_prefix("desk:").and_then(|d| DeskName::new(d).ok()).map(Actor::Desk)
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// An insurer number as it appears in a document: 6 or 8 ASCII digits,
/// possibly space-padded (the XML pads 6-digit numbers). Kept verbatim; the
/// check digit is the core's business (`onshi_core::numbers`), not the store's.
pub(super) fn insurer_digits(field: &'static str, text: &str) -> Result<(), ValueError> {
    let t = text.trim_matches(' ');
    if t.is_empty() {
        return Err(ValueError::Empty { field });
    }
    if !(t.len() == 6 || t.len() == 8) || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::BadShape { field, expected: "6 or 8 digits" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        for ok in [
            "https://clinic.example",
            "http://localhost:8080",
            "http://127.0.0.1:3000",
            "http://[::1]:8080",
            "http://[::1]",
            "chrome-extension://abcdefghijklmnopabcdefghijklmnop",
        ] {
            assert!(Origin::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://clinic.example/",
            "https://clinic.example/path",
            "ftp://clinic.example",
            "https://Clinic.example",
            "https://",
            "https://clinic.example:0",
            "https://clinic.example:99999",
            "clinic.example",
            "null",
        ] {
            assert!(matches!(Origin::new(bad), Err(ValueError::BadShape { .. })), "{bad}");
        }
    }

    #[test]
    fn pin_shaped_values_are_refused_everywhere() {
        for pin in ["1234", "０１２３", " 9876 "] {
            assert!(pin_shaped(pin));
            assert!(matches!(Origin::new(pin), Err(ValueError::PinShaped { .. })));
            assert!(matches!(ExtensionId::new(pin), Err(ValueError::PinShaped { .. })));
            assert!(matches!(DeskName::new(pin), Err(ValueError::PinShaped { .. })));
            assert!(matches!(ReceptionNumber::new(pin), Err(ValueError::PinShaped { .. })));
            assert!(matches!(FileName::new(pin), Err(ValueError::PinShaped { .. })));
            assert!(matches!(ErrorCode::new(pin), Err(ValueError::PinShaped { .. })));
        }
        assert!(!pin_shaped("12345"));
        assert!(!pin_shaped("受付1"));
        assert!(DeskName::new("受付1").is_ok());
        assert!(ReceptionNumber::new("12345678").is_ok());
    }

    #[test]
    fn other_values() {
        assert!(ExtensionId::new("abcdefghijklmnopabcdefghijklmnop").unwrap().is_chromium());
        assert!(!ExtensionId::new("onshi-bridge@onshi.example").unwrap().is_chromium());
        assert!(ExtensionId::new("abcdefghijklmnopabcdefghijklmnoz").is_err());
        assert!(FileName::new("../etc/passwd").is_err());
        assert!(FileName::new("batch-20261125.xml").is_ok());
        assert!(ErrorCode::new("wrong_pin").is_ok());
        assert!(ErrorCode::new("wrong_pin_3").is_err());
        assert!(DeskName::new("受付\n1").is_err());
        assert_eq!(DeskName::new(""), Err(ValueError::Empty { field: "desk name" }));
        for a in [Actor::Cli, Actor::Desk(DeskName::new("受付1").unwrap()), Actor::Origin(Origin::new("https://a.example").unwrap())] {
            assert_eq!(Actor::decode(&a.encode()), Some(a));
        }
    }
}
