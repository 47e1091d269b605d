//! `onshi-web`: the reception desk page, in Yew.
//!
//! Structure (style.md): state is plain data changed only by `Action`s in a
//! reducer (`state/`, tested natively without a browser); components get
//! props and send callbacks up and never talk to the helper themselves;
//! `services/helper.rs` is the only code that speaks to the extension.
//! Number rules, 和暦, verdicts, diffs and texts come from `onshi-core`,
//! never re-implemented here.
#![forbid(unsafe_code)]
// `ProtocolError` (bilingual text + detail) is a few hundred bytes; errors are
// rare and shown at once, so boxing them would only add noise (as in core).
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

mod app;
pub mod batch;
pub mod components;
pub mod demo;
pub mod history;
pub mod i18n;
pub mod services;
pub mod state;

pub use app::App;
