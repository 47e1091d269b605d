//! The batch page's state as plain data, its actions and reducer. Pure: no
//! DOM, no helper calls; CSV reading and result rows come from the core.
//!
//! The results table must stay responsive with 10,000 rows, so everything
//! per-row is computed once when results arrive (`TableRow`: the flat row,
//! a lower-cased search text, the problem rank) and a filter change is one
//! O(n) pass producing row indices; the view draws only the visible window.

use std::rc::Rc;

use onshi_core::batch_csv::{self, BatchCsv, CsvError, CsvLimits};
use onshi_core::export::{self, ResultRow};
use onshi_core::protocol::{BatchEntry, BatchSubmit};
use onshi_core::summary::Outcome;
use onshi_core::text::{Bilingual, Explain};
use yew::Reducible;

/// Height of one results row in CSS pixels (the stylesheet uses the same).
pub const ROW_HEIGHT: f64 = 32.0;
/// Rows drawn above and below the visible ones, so fast scrolling shows no gaps.
pub const OVERSCAN: usize = 8;

/// Which results to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    #[default]
    All,
    /// Everything that is not valid.
    Problems,
    /// Valid (registered or not).
    Ok,
    Only(Outcome),
}

impl StatusFilter {
    /// The `<option value>` of each choice, in menu order.
    pub const CHOICES: [StatusFilter; 9] = [
        StatusFilter::All,
        StatusFilter::Problems,
        StatusFilter::Ok,
        StatusFilter::Only(Outcome::Invalid),
        StatusFilter::Only(Outcome::NewerQualificationExists),
        StatusFilter::Only(Outcome::NoMatch),
        StatusFilter::Only(Outcome::SeveralMatches),
        StatusFilter::Only(Outcome::Error),
        StatusFilter::Only(Outcome::StillProcessing),
    ];

    pub fn value(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Problems => "problems",
            StatusFilter::Ok => "ok",
            StatusFilter::Only(o) => export::outcome_code(o),
        }
    }

    pub fn from_value(v: &str) -> StatusFilter {
        Self::CHOICES.into_iter().find(|c| c.value() == v).unwrap_or_default()
    }

    pub fn label(self) -> Bilingual {
        match self {
            StatusFilter::All => Bilingual::new("すべて", "All"),
            StatusFilter::Problems => Bilingual::new("要対応のみ", "Problems only"),
            StatusFilter::Ok => Bilingual::new("有効のみ", "Valid only"),
            StatusFilter::Only(o) => export::outcome_label(o),
        }
    }

    fn admits(self, row: &ResultRow) -> bool {
        match self {
            StatusFilter::All => true,
            StatusFilter::Problems => row.is_problem(),
            StatusFilter::Ok => !row.is_problem(),
            StatusFilter::Only(o) => row.outcome == o,
        }
    }
}

/// A result row with what filtering and ordering need, computed once.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub row: ResultRow,
    /// Lower-cased id, numbers and names joined, for the text filter.
    haystack: String,
}

/// Problems first, the most urgent first; valid last.
fn rank(o: Outcome) -> u8 {
    match o {
        Outcome::Error => 0,
        Outcome::Invalid => 1,
        Outcome::NewerQualificationExists => 2,
        Outcome::NoMatch => 3,
        Outcome::SeveralMatches => 4,
        Outcome::Unclear => 5,
        Outcome::StillProcessing => 6,
        Outcome::ValidUnregistered => 7,
        Outcome::Valid => 8,
    }
}

/// Folds what people type and what is stored to one form: core's
/// [`onshi_core::text::search_key`] (width, kana, case, spaces), so the
/// batch filter and today's desk search find the same things.
pub fn fold(text: &str) -> String {
    onshi_core::text::search_key(text)
}

impl TableRow {
    pub fn new(row: ResultRow) -> Self {
        let haystack = fold(&[
            row.patient_id.as_str(), &row.insurer_number, &row.symbol, &row.number,
            &row.name, &row.name_kana, &row.name_flags, &row.birth_date,
        ].join("\u{1F}"));
        TableRow { row, haystack }
    }
}

/// Where the page is.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Import {
    /// Nothing chosen yet.
    #[default]
    Empty,
    /// The file could not be read at all.
    Refused { file_name: String, error: CsvError },
    /// Read: the per-row report is shown before submitting.
    Read { file_name: String, csv: Rc<BatchCsv> },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchState {
    pub import: Import,
    /// The confirmation date typed when the file gives none (`YYYYMMDD` or 和暦).
    pub date_input: String,
    /// The file was handed to the shell for `batch_submit`.
    pub submitted: bool,
    /// The results document could not be read.
    pub results_error: Option<Bilingual>,
    /// Every result row, problems first (stable within a rank).
    pub rows: Rc<Vec<TableRow>>,
    pub status_filter: StatusFilter,
    pub text_filter: String,
    /// Indices into `rows` that pass the filters, in display order.
    pub visible: Rc<Vec<u32>>,
    /// Scroll offset of the table, CSS pixels.
    pub scroll_top: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A file was dropped or picked.
    Imported { file_name: String, bytes: Rc<Vec<u8>> },
    SetDate(String),
    /// Forget the file (and any results) and start again.
    Clear,
    Submitted,
    /// The shell fetched `batch_results`: the standard result document.
    Results(Rc<str>),
    SetStatusFilter(StatusFilter),
    SetTextFilter(String),
    Scrolled(f64),
}

impl BatchState {
    /// What to submit, or why not yet. The date is the file's, or the typed one.
    pub fn submission(&self) -> Result<BatchSubmit, Bilingual> {
        let Import::Read { csv, .. } = &self.import else {
            return Err(Bilingual::new("先に予約一覧のCSVを読み込んでください。", "Import the appointments CSV first."));
        };
        let entries: Vec<BatchEntry> = csv.entries();
        if entries.is_empty() {
            return Err(Bilingual::new(
                "送信できる行がありません。エラーの行を直してCSVを読み込み直してください。",
                "No row can be submitted. Fix the rows with errors and import the CSV again.",
            ));
        }
        let confirmation_date = match (&csv.confirmation_date, self.date_input.trim()) {
            (_, typed) if !typed.is_empty() => match onshi_core::wareki::parse(typed) {
                Ok(d) => d.yyyymmdd(),
                Err(e) => return Err(e.explain()),
            },
            (Some(d), _) => d.clone(),
            (None, _) => {
                return Err(Bilingual::new(
                    "CSVに予約日がないか、日付が揃っていません。照会する日（受診日）を入れてください。",
                    "The CSV has no single appointment date. Enter the day to check for.",
                ))
            }
        };
        Ok(BatchSubmit { confirmation_date, entries })
    }

    /// The rows to draw for a viewport of `height` pixels: (first index into
    /// `visible`, the `rows` indices to draw).
    pub fn window(&self, height: f64) -> (usize, &[u32]) {
        let n = self.visible.len();
        let first = ((self.scroll_top.max(0.0) / ROW_HEIGHT) as usize).saturating_sub(OVERSCAN).min(n);
        let count = (height / ROW_HEIGHT).ceil() as usize + 2 * OVERSCAN;
        let last = (first + count).min(n);
        (first, &self.visible[first..last])
    }

    /// Rows in document order, for export.
    pub fn rows_in_order(&self) -> Vec<ResultRow> {
        let mut rows: Vec<ResultRow> = self.rows.iter().map(|t| t.row.clone()).collect();
        rows.sort_by_key(|r| r.index);
        rows
    }

    pub fn problem_count(&self) -> usize {
        self.rows.iter().filter(|t| t.row.is_problem()).count()
    }

    fn refilter(&mut self) {
        let needle = fold(&self.text_filter);
        let status = self.status_filter;
        let visible: Vec<u32> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, t)| status.admits(&t.row) && (needle.is_empty() || t.haystack.contains(&needle)))
            .map(|(i, _)| i as u32)
            .collect();
        self.visible = Rc::new(visible);
        // A new filter starts at the top; the old offset may be past the end.
        self.scroll_top = 0.0;
    }
}

/// Reads a result document into table rows, problems first.
pub fn table_rows(xml: &str) -> Result<Vec<TableRow>, Bilingual> {
    let parsed = onshi_core::parse(xml.as_bytes()).map_err(|e| e.explain())?;
    let rows = export::result_rows(&parsed.message).map_err(|e| e.explain())?;
    let mut rows: Vec<TableRow> = rows.into_iter().map(TableRow::new).collect();
    rows.sort_by_key(|t| rank(t.row.outcome));
    Ok(rows)
}

impl Reducible for BatchState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::Imported { file_name, bytes } => {
                s = BatchState::default();
                s.import = match batch_csv::read(&bytes, &CsvLimits::default()) {
                    Ok(csv) => Import::Read { file_name, csv: Rc::new(csv) },
                    Err(error) => Import::Refused { file_name, error },
                };
            }
            Action::SetDate(text) => s.date_input = text,
            Action::Clear => s = BatchState::default(),
            Action::Submitted => s.submitted = true,
            Action::Results(xml) => match table_rows(&xml) {
                Ok(rows) => {
                    s.rows = Rc::new(rows);
                    s.results_error = None;
                    s.refilter();
                }
                Err(e) => s.results_error = Some(e),
            },
            Action::SetStatusFilter(f) => {
                s.status_filter = f;
                s.refilter();
            }
            Action::SetTextFilter(t) => {
                s.text_filter = t;
                s.refilter();
            }
            Action::Scrolled(top) => s.scroll_top = top,
        }
        Rc::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;

    fn imported(csv: &str) -> Rc<BatchState> {
        Rc::new(BatchState::default())
            .reduce(Action::Imported { file_name: "a.csv".into(), bytes: Rc::new(csv.as_bytes().to_vec()) })
    }

    #[test]
    fn import_then_submit() {
        let s = imported(demo::APPOINTMENTS_CSV);
        let Import::Read { csv, .. } = &s.import else { panic!("{:?}", s.import) };
        assert_eq!(csv.rows.len(), 6);
        assert_eq!(csv.error_rows(), 2);
        let sub = s.submission().unwrap();
        assert_eq!(sub.entries.len(), 4);
        assert_eq!(sub.confirmation_date, "20250402");
        // A typed date wins, 和暦 accepted; a bad one says why.
        let s2 = s.clone().reduce(Action::SetDate("R7.4.3".into()));
        assert_eq!(s2.submission().unwrap().confirmation_date, "20250403");
        let s3 = s.clone().reduce(Action::SetDate("R7.2.30".into()));
        assert!(s3.submission().unwrap_err().ja.contains("2月30日"), "{:?}", s3.submission());
        let s4 = s.reduce(Action::Submitted);
        assert!(s4.submitted);
        assert_eq!(s4.reduce(Action::Clear).import, Import::Empty);
    }

    #[test]
    fn refused_file_and_nothing_to_submit() {
        let s = imported("a,b\n1,2\n");
        assert!(matches!(&s.import, Import::Refused { error: CsvError::NoHeader, .. }));
        assert!(s.submission().is_err());
        let s = imported("保険者番号,番号,生年月日\n39131157,1,19400101\n");
        assert!(s.submission().unwrap_err().en.contains("No row"));
    }

    #[test]
    fn results_problems_first_and_filters() {
        let xml = demo::batch_results_xml(1000);
        let s = Rc::new(BatchState::default()).reduce(Action::Results(xml.into()));
        assert_eq!(s.rows.len(), 1000);
        assert_eq!(s.visible.len(), 1000);
        let problems = s.problem_count();
        assert!(problems > 0 && problems < 1000);
        // Problems first: every problem precedes every valid row.
        assert!(s.rows[..problems].iter().all(|t| t.row.is_problem()));
        assert!(s.rows[problems..].iter().all(|t| !t.row.is_problem()));
        let p = s.clone().reduce(Action::SetStatusFilter(StatusFilter::Problems));
        assert_eq!(p.visible.len(), problems);
        let nm = s.clone().reduce(Action::SetStatusFilter(StatusFilter::Only(Outcome::NoMatch)));
        assert!(nm.visible.iter().all(|&i| s.rows[i as usize].row.outcome == Outcome::NoMatch));
        assert!(!nm.visible.is_empty());
        // Text filter: patient id, full-width typed, and combined with status.
        let one = s.clone().reduce(Action::SetTextFilter("Ｐ００７７７".into()));
        assert_eq!(one.visible.len(), 1, "P00777 only");
        assert_eq!(s.rows[one.visible[0] as usize].row.patient_id, "P00777");
        let none = one.reduce(Action::SetStatusFilter(StatusFilter::Only(Outcome::Error)));
        let expected = usize::from(s.rows.iter().any(|t| t.row.patient_id == "P00777" && t.row.outcome == Outcome::Error));
        assert_eq!(none.visible.len(), expected);
        // Export order is the document's, whatever the display order.
        let ordered = s.rows_in_order();
        assert!(ordered.windows(2).all(|w| w[0].index < w[1].index));
    }

    #[test]
    fn window_draws_only_what_is_seen() {
        let xml = demo::batch_results_xml(10_000);
        let s = Rc::new(BatchState::default()).reduce(Action::Results(xml.into()));
        let (first, rows) = s.window(480.0);
        assert_eq!(first, 0);
        assert_eq!(rows.len(), 15 + 2 * OVERSCAN);
        let s = s.reduce(Action::Scrolled(32.0 * 5000.0));
        let (first, rows) = s.window(480.0);
        assert_eq!(first, 5000 - OVERSCAN);
        assert_eq!(rows.len(), 15 + 2 * OVERSCAN);
        let s = s.reduce(Action::Scrolled(1e9));
        let (first, rows) = s.window(480.0);
        assert_eq!((first, rows.len()), (10_000, 0));
        // A filter change goes back to the top.
        let s = s.reduce(Action::SetTextFilter("p0".into()));
        assert_eq!(s.scroll_top, 0.0);
    }

    #[test]
    fn unreadable_results_say_so() {
        let s = Rc::new(BatchState::default()).reduce(Action::Results("<nope".into()));
        assert!(s.results_error.is_some());
        assert!(s.rows.is_empty());
    }

    #[test]
    fn status_filter_values_round_trip() {
        for c in StatusFilter::CHOICES {
            assert_eq!(StatusFilter::from_value(c.value()), c);
            assert!(!c.label().ja.is_empty());
        }
        assert_eq!(StatusFilter::from_value("junk"), StatusFilter::All);
    }
}
