//! Consented history: medication (by month, then dispensing date) and
//! health-check results, shown only while the patient's consent is valid
//! at the "now" the shell passes in; otherwise a plain message saying why
//! not and what to do. The shell fetches the documents and passes them in.
//! `disaster.rs` is the 災害時 search (issue 16), drawn only while the
//! helper says disaster mode is open.

mod disaster;
mod page;
pub mod state;

pub use disaster::{DisasterPanel, DisasterPanelProps};
pub use page::{HistoryPage, HistoryPageProps};
