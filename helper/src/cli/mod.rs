//! The command line's parts, one module per command family; `main.rs`
//! parses the arguments (`args`) and hands each command to its module.
//! Shared ground: `output` (how a command speaks and fails) and `context`
//! (config, store and runtimes).

pub mod args;
pub mod audit;
pub mod batch;
pub mod card;
pub mod check;
pub mod config;
pub mod context;
pub mod doctor;
pub mod install;
pub mod native_host;
pub mod output;
pub mod pairings;
pub mod reference;
pub mod service;
