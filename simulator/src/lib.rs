//! `onshi-sim`: the world outside the clinic PC, simulated faithfully enough
//! for the demo, the tests and staff training (design.md).
//!
//! Architecture invariant: the simulator is a separate process in every test
//! and in the demo; the helper and page reach it only over real sockets.
#![forbid(unsafe_code)]

pub mod web;
