//! The simulated national system's disaster declarations (issue 16): which
//! areas and days allow card-less viewing. Given on the gateway's command
//! line (`--disaster all:20261201-20261231`, repeatable) and/or in a file
//! (`--disaster-file`, one declaration a line, `#` comments) that is read
//! again on every disaster request, so a running gateway can declare or end
//! a disaster — as the real system does — for training and tests.
//!
//! The rule is core `disaster::standing`; this module only holds the list.
//! A file that is missing declares nothing; one that cannot be read is an
//! error the gateway answers with, never a silent "no disaster".

use std::path::PathBuf;

use onshi_core::disaster::{Declaration, DeclarationError};
use onshi_core::text::{Bilingual, Explain};

/// The declarations a gateway answers by.
#[derive(Debug, Clone, Default)]
pub struct Declared {
    /// From the command line: fixed for the process's life.
    pub fixed: Vec<Declaration>,
    /// Read again on every disaster request.
    pub file: Option<PathBuf>,
}

/// Why the declaration file could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeclaredError {
    Read { path: PathBuf, reason: String },
    Line { path: PathBuf, line: usize, error: DeclarationError },
}

impl Explain for DeclaredError {
    fn explain(&self) -> Bilingual {
        match self {
            DeclaredError::Read { path, reason } => Bilingual::new(
                format!("災害指定ファイル {} を読めません（{reason}）。", path.display()),
                format!("cannot read the disaster declaration file {} ({reason})", path.display()),
            ),
            DeclaredError::Line { path, line, error } => {
                let m = error.explain();
                Bilingual::new(format!("{} の {line} 行目：{}", path.display(), m.ja), format!("{} line {line}: {}", path.display(), m.en))
            }
        }
    }
}

/// Declarations from a file's text: one per line; blank lines and `#` comments skipped.
pub fn parse_lines(text: &str) -> Result<Vec<Declaration>, (usize, DeclarationError)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if !line.is_empty() {
            out.push(Declaration::parse(line).map_err(|e| (i + 1, e))?);
        }
    }
    Ok(out)
}

impl Declared {
    /// Every declaration in force now: the fixed ones, then the file's.
    pub fn current(&self) -> Result<Vec<Declaration>, DeclaredError> {
        let mut all = self.fixed.clone();
        if let Some(path) = &self.file {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(DeclaredError::Read { path: path.clone(), reason: e.to_string() }),
            };
            let more = parse_lines(&text).map_err(|(line, error)| DeclaredError::Line { path: path.clone(), line, error })?;
            all.extend(more);
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_lines_and_comments() {
        let text = "# 令和8年 台風\n13,14:20261201-20261231  # 東京・神奈川\n\nall:20270101-20270102\n";
        let got = parse_lines(text).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].start, "20270101");
        assert!(matches!(parse_lines("all:20261201-20261231\n99:20261201-20261231"), Err((2, DeclarationError::Prefecture { .. }))));
    }

    #[test]
    fn a_missing_file_declares_nothing_and_a_bad_one_is_an_error() {
        let dir = std::env::temp_dir().join(format!("onshi-disaster-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("disaster.txt");
        let _ = std::fs::remove_file(&file);
        let fixed = vec![Declaration::parse("27:20261201-20261231").unwrap()];
        let d = Declared { fixed, file: Some(file.clone()) };
        assert_eq!(d.current().unwrap().len(), 1);
        std::fs::write(&file, "13:20261201-20261231\n").unwrap();
        assert_eq!(d.current().unwrap().len(), 2);
        std::fs::write(&file, "13:2026-12-01\n").unwrap();
        let err = d.current().unwrap_err();
        assert!(matches!(err, DeclaredError::Line { line: 1, .. }));
        assert!(err.explain().ja.contains("1 行目"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
