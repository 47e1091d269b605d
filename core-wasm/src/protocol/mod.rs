//! The page ↔ extension ↔ helper wire protocol (v1), defined once: the web
//! app, the helper and the docs (`docs/protocol.md`) all follow these types.
//!
//! This module only describes and checks messages; it never reads a socket,
//! a clock or a random source. Ids, nonces and "now" come from the caller.
//!
//! - [`envelope`]: the frames ([`ToHelper`], [`FromHelper`]), [`Via`], the
//!   version check and the [`FromExtensionUi`] proof.
//! - [`message`]: every request, response and event body.
//! - [`disaster`]: disaster mode's request and reply bodies (issue 16).
//! - [`error`]: stable [`ErrorCode`]s and the [`ProtocolError`] shape with
//!   ja/en text that tells the person what to do.
//! - [`pin`]: the card [`Pin`], which zeroizes itself and never prints.
//! - [`chunk`]: splitting replies over 1 MiB and joining them again.
//! - [`frame`]: native-messaging byte framing (u32 length + JSON).
//! - [`timing`]: where a card confirmation's time went ([`Timing`]).
//!
//! Security rules the types encode: the origin and `via` are written by the
//! extension's background from what the browser tells it, never by the page;
//! pairing approval, PIN entry and pairing management are accepted only with
//! `via: "extension"` ([`require_extension`]); a PIN has no `Serialize`.
//!
//! ```
//! use onshi_core::protocol::{ToHelper, Request, Via};
//! let frame = ToHelper::parse(r#"{"v":1,"id":"7","origin":"https://clinic.example",
//!     "via":"page","body":{"type":"status"}}"#).unwrap();
//! assert_eq!(frame.via, Via::Page);
//! assert!(matches!(frame.body, Request::Status {}));
//! ```

// `ProtocolError` is a few hundred bytes (bilingual text plus detail). Errors
// are rare and leave the process as JSON right away, so boxing them would only
// make every handler noisier.
#![allow(clippy::result_large_err)]

pub mod chunk;
pub mod disaster;
pub mod envelope;
pub mod error;
pub mod frame;
pub mod message;
pub mod pin;
pub mod timing;

// Native only: the property tests need proptest, which does not build for wasm32.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

pub use disaster::{DisasterFound, DisasterSearch, DisasterSearchReply, DisasterStatusReply};
pub use chunk::{join_chunks, split_reply, Chunk, ChunkError, Reassembler, MAX_CHUNKS};
pub use envelope::{
    check_version, require_extension, Authorized, FromExtensionUi, FromHelper, RequestError, ToHelper, Via, MAX_ID_CHARS,
};
pub use error::{ErrorCode, ErrorDetail, ProtocolError};
pub use frame::{decode_frame, encode_frame, encode_from_helper, split_frame, FrameError};
pub use message::*;
pub use pin::{Pin, PinError};
pub use timing::Timing;

/// The protocol version every frame carries as `v`.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame the browser may send to the helper (Chrome's own limit).
pub const MAX_TO_HELPER: usize = 64 * 1024 * 1024;

/// Largest frame the helper may send to the browser (Chrome's own limit);
/// longer replies are split into chunks.
pub const MAX_FROM_HELPER: usize = 1024 * 1024;

/// Largest message the content script accepts from a page (serialized JSON):
/// room for a 10,000-patient `batch_submit` (the CSV reader's row limit)
/// while still bounding what a page can push through the extension.
pub const MAX_FROM_PAGE: usize = 8 * 1024 * 1024;

/// Largest reply after joining chunks: [`MAX_CHUNKS`] × [`MAX_FROM_HELPER`].
pub const MAX_REPLY: usize = 64 * 1024 * 1024;
