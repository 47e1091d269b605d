//! The reading and writing layer under the typed messages: bytes ↔ text
//! (UTF-8 or Shift_JIS read as Windows-31J) and text ↔ a small element tree.
//!
//! Hostile input is refused here, before any typed code sees it: a DOCTYPE
//! or an entity other than the five predefined ones is an error (nothing is
//! ever expanded), and size, nesting depth and element count are capped, so
//! memory stays bounded whatever arrives. Nothing in this module knows what
//! an insurer number is.

mod decode;
mod error;
mod tree;
mod write;

pub use decode::{decode, Encoding};
pub use error::ParseError;
pub use tree::{build, Element};
pub use write::XmlWriter;
/// Encodes plain text (not a document) the way documents are encoded.
pub use decode::encode as encode_text;

/// Caps on what the reader accepts. The defaults fit the largest batch
/// result a clinic should ever see (tens of MB) with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted file, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting (the real messages nest about 6 deep).
    pub max_depth: usize,
    /// Most elements in one document.
    pub max_elements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_bytes: 64 * 1024 * 1024, max_depth: 32, max_elements: 4_000_000 }
    }
}
