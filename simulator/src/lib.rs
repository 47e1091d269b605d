//! `onshi-sim`: the world outside the clinic PC, simulated faithfully enough
//! for the demo, the tests and staff training (design.md).
//!
//! Architecture invariant: the simulator is a separate process in every test
//! and in the demo; the helper and page reach it only over real sockets.
//! The card state machine ([`card`]) is pure so tests may also drive it
//! in-process; its I/O lives in [`vpcd`] and [`apdu_log`].
#![forbid(unsafe_code)]

pub mod answer;
pub mod apdu_log;
pub mod card;
pub mod disaster;
pub mod folder;
pub mod foreign_card;
pub mod gateway;
pub mod pki;
pub mod registry;
pub mod sent;
pub mod vpcd;
pub mod web;
