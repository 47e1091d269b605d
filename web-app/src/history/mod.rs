//! Consented history: medication (by month, then dispensing date) and
//! health-check results, shown only while the patient's consent is valid
//! at the "now" the shell passes in; otherwise a plain message saying why
//! not and what to do. The shell fetches the documents and passes them in.

mod page;
pub mod state;

pub use page::{HistoryPage, HistoryPageProps};
