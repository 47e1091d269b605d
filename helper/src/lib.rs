//! `onshi-helper`: the only part of Onshi reception that touches the card
//! reader, the network and the disk (design.md).
//!
//! This crate is built up in layers. What exists today is the foundation
//! every mode stands on:
//!
//! - [`backend`]: the eligibility backends behind one trait (`folder`: the
//!   OQS terminal's req/res/face folders; the gateway lands separately);
//! - [`service`]: the resident process — dispatcher (sync routing), runtime
//!   (card, network and batch work off the lock), eligibility documents;
//! - [`card`]: transport → apdu → jpki → flows, reader events, card access;
//! - [`doctor`]: the link-by-link check behind `onshi-helper doctor`;
//! - [`store`]: the store (pairings, the hash-chained audit log, batch jobs,
//!   today's results, patient reference numbers) with schema migrations:
//!   embedded SQLite, or a PostgreSQL database shared by many desks for all
//!   but the pairings;
//! - [`config`]: the TOML configuration and `config check`;
//! - [`install`]: native-messaging host manifests and start-at-login files;
//! - [`launch`]: how the process tells it was started by a browser;
//! - [`paths`]: the per-OS places for the config file, the database and the log;
//! - [`platform`]: what differs between OSes (local link, detached start,
//!   stop signals, a secret typed without echo, the Windows registry), so
//!   nothing else needs a `cfg`;
//! - [`time`]: timestamps the caller passes in (the store has no clock).
//!
//! ```
//! use onshi_helper::store::{Store, Actor, AuditDetail, Outcome, PairingAction};
//! use onshi_helper::time::Timestamp;
//! let dir = tempfile::tempdir().unwrap();
//! let mut store = Store::open(&dir.path().join("helper.sqlite")).unwrap();
//! let now = Timestamp::parse("2026-11-25T09:00:00+09:00").unwrap();
//! let origin = "https://clinic.example".parse().unwrap();
//! store.append_audit(&now, &Actor::Cli, Outcome::Ok,
//!     &AuditDetail::Pairing { action: PairingAction::Revoke, origin }).unwrap();
//! assert_eq!(store.verify_audit().unwrap().entries, 1);
//! ```
// Denied, not forbidden: `platform::windows` alone allows it, for the Win32
// calls behind the named pipe's DACL and its peers' SIDs.
#![deny(unsafe_code)]

pub mod backend;
pub mod browser;
pub mod card;
pub mod config;
pub mod doctor;
pub mod install;
pub mod ipc;
pub mod launch;
pub mod native_host;
pub mod paths;
pub mod platform;
pub mod service;
pub mod store;
pub mod time;

/// The helper's version, reported to the page in the hello exchange.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The core's version. The core has no version constant of its own; both
/// crates take theirs from the workspace, so they are the same number.
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");
