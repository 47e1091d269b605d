//! `onshi-core`: the pure heart of Onshi reception — number rules, the typed
//! eligibility messages (parse, validate, write, diff) and labels shared by
//! the web page (as WebAssembly) and the native helper.
//!
//! Architecture invariant: this crate does no I/O, reads no clock and draws no
//! randomness. Everything it needs (bytes, "now") is passed in, so the same
//! code gives the same answer in the browser, in the helper and in tests.
//!
//! ```
//! use onshi_core::numbers::{check_insurer, InsurerKind};
//! let n = check_insurer("39131156").unwrap();
//! assert_eq!(n.kind, InsurerKind::Standard { law_code: 39 });
//! assert!(check_insurer("39131157").is_err());
//! ```
#![forbid(unsafe_code)]

pub mod allowlist;
pub mod batch_csv;
pub mod card_sw;
pub mod cert_validity;
pub mod codes;
pub mod diag;
pub mod diff;
pub mod disaster;
pub mod export;
pub mod gateway_wire;
pub mod message;
pub mod numbers;
pub mod page_policy;
pub mod person_name;
pub mod protocol;
pub mod sjis;
pub mod summary;
pub mod text;
pub mod usage;
pub mod wareki;
pub mod validate;
pub mod xml;

pub use diag::{Diagnostic, Severity};
pub use message::{parse, parse_named, Message, Parsed};
pub use xml::{Encoding, ParseError};

#[cfg(all(target_arch = "wasm32", feature = "js-api"))]
mod wasm;
