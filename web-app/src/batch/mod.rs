//! Batch pre-check (一括照会): import tomorrow's appointments from CSV, see
//! a per-row report, submit, follow progress, read the results (problems
//! first, filtered, 10,000 rows without lag) and export them.
//!
//! The page never talks to the helper: it sends a `BatchSubmit` up through
//! `on_submit`; the shell sends `batch_submit`, polls `batch_status` into the
//! `status` prop and hands the `batch_results` document in as `results_xml`.

mod dom;
mod page;
pub mod state;

pub use page::{BatchPage, BatchPageProps};
/// The one Blob download, also used by the 利用状況 screen's CSV.
pub(crate) use dom::download;
