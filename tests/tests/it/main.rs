//! One integration-test binary for all cross-process tests (style.md).

mod card_pcsc;
mod helper_card;
mod web_slice;
