//! The `.err` file a terminal leaves next to a request it refused. Its
//! exact layout is not public; files seen carry an error code and a message
//! on one line (`CODE,message`), so that is read tolerantly and written.

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Severity};
use crate::text::Bilingual;
use crate::xml::Encoding;

/// Why the terminal refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rejection {
    /// The error code, verbatim (empty when the file has none).
    pub code: String,
    /// The terminal's message, verbatim.
    pub message: String,
}

impl Rejection {
    /// Reads `CODE,message`, `CODE:message`, `CODE<TAB>message` or a bare message.
    pub fn from_text(text: &str) -> Self {
        let text = text.trim_start_matches('\u{feff}').trim();
        let first_line = text.lines().next().unwrap_or("");
        if let Some(at) = first_line.find([',', ':', '\t', ' ']) {
            let code = &first_line[..at];
            if !code.is_empty() && code.len() <= 16 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                let rest = text[at + 1..].trim();
                return Rejection { code: code.to_string(), message: rest.to_string() };
            }
        }
        Rejection { code: String::new(), message: text.to_string() }
    }

    /// `CODE,message` and a line end, encoded.
    pub fn write(&self, encoding: Encoding) -> Vec<u8> {
        let line = if self.code.is_empty() {
            format!("{}\r\n", self.message)
        } else {
            format!("{},{}\r\n", self.code, self.message)
        };
        crate::xml::encode_text(&line, encoding)
    }

    pub(crate) fn check(&self) -> Vec<Diagnostic> {
        let mut out = vec![Diagnostic::new(
            Severity::Error,
            "/",
            "request_rejected",
            Bilingual::new(
                format!("資格確認端末が要求を受け付けませんでした（{}）：{}。要求の内容を確かめて送り直してください。", self.code, self.message),
                format!("The eligibility terminal refused the request ({}): {}. Check the request and send it again.", self.code, self.message),
            ),
        )];
        if self.code.is_empty() && self.message.is_empty() {
            out.push(Diagnostic::new(
                Severity::Warning,
                "/",
                "empty_rejection",
                Bilingual::new("エラーファイルが空です。", "The error file is empty."),
            ));
        }
        out
    }
}
