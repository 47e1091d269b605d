//! Native-messaging byte framing: a u32 length in native byte order, then
//! that many bytes of UTF-8 JSON. Pure functions over byte slices; the
//! helper wraps them around stdin/stdout.
//!
//! The length is checked against the cap before anything is allocated or
//! parsed, so a hostile length prefix costs nothing.

use serde::de::DeserializeOwned;

use super::chunk::{split_reply, ChunkError};
use super::envelope::FromHelper;
use super::MAX_FROM_HELPER;

/// Why bytes could not be framed or unframed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The announced or actual length is over the cap.
    #[error("frame of {len} bytes exceeds the {max}-byte cap")]
    TooLarge { len: usize, max: usize },
    /// Fewer bytes than the header or the announced length; `needed` is the
    /// total the frame requires (header included).
    #[error("truncated frame: need {needed} bytes, have {have}")]
    Truncated { needed: usize, have: usize },
    /// The payload is not UTF-8.
    #[error("frame is not UTF-8 (valid up to byte {valid_up_to})")]
    NotUtf8 { valid_up_to: usize },
    /// The payload is not the expected JSON. The reason never quotes a PIN.
    #[error("bad JSON at line {line}, column {column}: {reason}")]
    BadJson { line: usize, column: usize, reason: String },
    /// A reply too large even for chunking.
    #[error("cannot split reply: {0}")]
    Chunk(#[from] ChunkError),
}

/// Frame `json` for writing: 4-byte native-endian length + the bytes.
pub fn encode_frame(json: &str, max: usize) -> Result<Vec<u8>, FrameError> {
    let len = json.len();
    let header = u32::try_from(len).ok().filter(|_| len <= max).ok_or(FrameError::TooLarge { len, max })?;
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&header.to_ne_bytes());
    out.extend_from_slice(json.as_bytes());
    Ok(out)
}

/// Take the first frame from `buf`: its text and the number of bytes it used.
pub fn split_frame(buf: &[u8], max: usize) -> Result<(&str, usize), FrameError> {
    let Some((header, rest)) = buf.split_first_chunk::<4>() else {
        return Err(FrameError::Truncated { needed: 4, have: buf.len() });
    };
    let len = u32::from_ne_bytes(*header) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let payload = rest.get(..len).ok_or(FrameError::Truncated { needed: 4 + len, have: buf.len() })?;
    let text = std::str::from_utf8(payload).map_err(|e| FrameError::NotUtf8 { valid_up_to: e.valid_up_to() })?;
    Ok((text, 4 + len))
}

/// Take the first frame from `buf` and parse it as `T`.
pub fn decode_frame<T: DeserializeOwned>(buf: &[u8], max: usize) -> Result<(T, usize), FrameError> {
    let (text, used) = split_frame(buf, max)?;
    let value = serde_json::from_str(text).map_err(|e| FrameError::BadJson {
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })?;
    Ok((value, used))
}

/// Everything the helper writes for one message: a single frame, or, for a
/// reply over [`MAX_FROM_HELPER`], one frame per chunk. Events cannot be
/// chunked (they have no id) and are refused when too large.
pub fn encode_from_helper(msg: &FromHelper) -> Result<Vec<Vec<u8>>, FrameError> {
    let json = msg.to_json();
    if json.len() <= MAX_FROM_HELPER {
        return Ok(vec![encode_frame(&json, MAX_FROM_HELPER)?]);
    }
    let FromHelper::Reply { id, .. } = msg else {
        return Err(FrameError::TooLarge { len: json.len(), max: MAX_FROM_HELPER });
    };
    split_reply(id, &json, MAX_FROM_HELPER)?
        .iter()
        .map(|chunk| encode_frame(&chunk.to_json(), MAX_FROM_HELPER))
        .collect()
}
