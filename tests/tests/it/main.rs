//! One integration-test binary for all cross-process tests (style.md).

mod extension_helper;
mod web_slice;
