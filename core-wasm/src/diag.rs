//! Diagnostics: what a parser or validator noticed about a document that is
//! still usable. Fatal problems are `ParseError`s instead; a diagnostic never
//! stops the reading.
//!
//! Every diagnostic carries a stable `code` (for programs and tests), the
//! element path where it applies and a bilingual message for people.

use serde::{Deserialize, Serialize};

use crate::text::Bilingual;

/// How much a diagnostic matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing (an unknown element kept out of the way).
    Info,
    /// The value is usable but suspicious (an unknown code, a guessed encoding).
    Warning,
    /// The value breaks a rule; do not rely on it (a wrong check digit, 2月30日).
    Error,
}

/// One finding, tied to a place in the document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Element path such as `/XmlMsg/MessageBody/ResultList/ResultOfQualificationConfirmation[1]/InsurerNumber`
    /// (indexes count from 1 and appear only on repeated elements).
    pub path: String,
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `check_digit`, `invalid_date`, `unknown_code`.
    pub code: String,
    pub message: Bilingual,
}

impl Diagnostic {
    pub fn new(severity: Severity, path: impl Into<String>, code: impl Into<String>, message: Bilingual) -> Self {
        Self { path: path.into(), severity, code: code.into(), message }
    }
}

/// Counts by severity, for summaries and exit codes.
pub fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(|d| d.severity == Severity::Error)
}
