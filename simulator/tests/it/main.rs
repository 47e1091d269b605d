//! One integration-test binary for the simulator library (style.md).

mod answer;
mod card_script;
mod disaster;
mod fixture;
mod folder;
mod gateway;
mod info;
mod pki;
mod registry;
mod vpcd;
