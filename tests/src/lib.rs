//! The harness for cross-process tests: finds the built binaries and
//! `dist/`, starts real processes (the simulator's web host, chromedriver +
//! Chromium, pcscd) and stops them when the test ends, pass or fail.
//!
//! Architecture invariant: tests here talk to the system only the way users
//! and other programs do — over sockets, files and a real browser.

pub mod browser;
pub mod demo_parts;
pub mod desks;
pub mod gecko;
pub mod paths;
pub mod pcscd;
pub mod pcscd_daemon;
pub mod pg_cluster;
pub mod process;
pub mod stack;
pub mod virtual_card;
pub mod wait;
pub mod web;
pub mod wine;
