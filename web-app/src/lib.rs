//! `onshi-web`: the reception desk page, in Yew.
//!
//! Structure (style.md): state is plain data changed only by `Action`s in a
//! reducer (`state.rs`, `batch/state.rs`, `history/state.rs`, tested natively
//! without a browser); components get props and send callbacks up; they
//! never talk to the helper themselves. Number rules and texts come from
//! `onshi-core`, never re-implemented here.
#![forbid(unsafe_code)]

mod app;
pub mod batch;
pub mod components;
pub mod demo;
pub mod history;
pub mod state;

pub use app::App;
