//! One integration-test binary for the simulator library (style.md).

mod card_script;
mod fixture;
mod pki;
mod registry;
mod vpcd;
