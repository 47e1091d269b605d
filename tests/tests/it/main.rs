//! One integration-test binary for all cross-process tests (style.md).

mod web_slice;
