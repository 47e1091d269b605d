//! Integration tests: run the real `onshi-helper` binary.
