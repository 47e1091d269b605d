//! `onshi-helper`: the only part of Onshi reception that touches the card
//! reader, the network and the disk (design.md). Its modes (service,
//! native-host, install, doctor …) arrive with issue 5; today it only reports
//! its version so the workspace and packaging are exercised end to end.
#![forbid(unsafe_code)]

/// The helper's version, reported to the page in the hello exchange.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
