//! Replies longer than the browser's 1 MiB host→browser limit travel as
//! chunk frames, each carrying a substring of the full reply JSON text; the
//! background joins them in order and parses the whole. Never truncated.
//!
//! Pure functions only: [`split_reply`] on the helper side, [`Reassembler`]
//! (and [`join_chunks`]) on the receiving side, both bounded so a broken or
//! hostile peer cannot make the other side allocate without limit.

use serde::{Deserialize, Serialize};

use super::envelope::FromHelper;
use super::MAX_REPLY;

/// At most this many chunks per reply (64 × 1 MiB = 64 MiB).
pub const MAX_CHUNKS: u32 = 64;

/// One piece of a reply: `{"index": i, "count": n, "data": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// 0-based position.
    pub index: u32,
    /// Total number of chunks of this reply (same in every chunk).
    pub count: u32,
    /// A substring of the reply's JSON text, cut at a character boundary.
    pub data: String,
}

/// Why splitting or joining failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// The frame limit leaves no room for data next to the envelope.
    #[error("frame limit {limit} bytes is too small for a chunk frame")]
    LimitTooSmall { limit: usize },
    /// The reply would need more than [`MAX_CHUNKS`] chunks.
    #[error("reply needs {needed} chunks, more than {MAX_CHUNKS}")]
    TooManyChunks { needed: usize },
    /// A chunk announced a count of 0 or over [`MAX_CHUNKS`].
    #[error("chunk count {count} is not in 1..={MAX_CHUNKS}")]
    BadCount { count: u32 },
    /// A chunk's count differs from the first chunk's.
    #[error("chunk count changed from {expected} to {found}")]
    CountChanged { expected: u32, found: u32 },
    /// `index` ≥ `count`.
    #[error("chunk index {index} out of range for {count} chunks")]
    OutOfRange { index: u32, count: u32 },
    /// The same index twice.
    #[error("chunk {index} received twice")]
    Duplicate { index: u32 },
    /// Joining was asked for before every chunk arrived.
    #[error("chunk {index} is missing")]
    Missing { index: u32 },
    /// A chunk of another reply.
    #[error("chunk for request {found:?} while joining {expected:?}")]
    WrongId { expected: String, found: String },
    /// The joined text would exceed [`MAX_REPLY`] bytes.
    #[error("joined reply exceeds {MAX_REPLY} bytes")]
    TooLarge,
    /// A frame that is not a chunk was given to [`join_chunks`].
    #[error("not a chunk frame")]
    NotAChunk,
}

/// How many bytes `c` takes inside a JSON string as serde_json writes it.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{08}' | '\u{0C}' | '\n' | '\r' | '\t' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// Split a reply's JSON text into chunk frames whose serialized JSON is each
/// at most `limit` bytes (use [`MAX_FROM_HELPER`](super::MAX_FROM_HELPER)).
/// Cuts only at character boundaries and accounts for JSON escaping, so the
/// frames' `data` joined in order is exactly `json_text`.
pub fn split_reply(id: &str, json_text: &str, limit: usize) -> Result<Vec<FromHelper>, ChunkError> {
    // The envelope with the widest possible numbers (MAX_CHUNKS has two digits).
    let widest = FromHelper::Chunk { id: id.to_owned(), chunk: Chunk { index: 99, count: 99, data: String::new() } };
    let overhead = widest.to_json().len();
    // Room for at least one character of the worst escaped width.
    let budget = limit.checked_sub(overhead).filter(|b| *b >= 6).ok_or(ChunkError::LimitTooSmall { limit })?;

    let mut parts: Vec<&str> = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (at, c) in json_text.char_indices() {
        let w = escaped_len(c);
        if used + w > budget {
            parts.push(&json_text[start..at]);
            if parts.len() >= MAX_CHUNKS as usize {
                // Count the rest roughly, only for the message.
                let needed = parts.len() + (json_text.len() - at).div_ceil(budget);
                return Err(ChunkError::TooManyChunks { needed });
            }
            (start, used) = (at, 0);
        }
        used += w;
    }
    parts.push(&json_text[start..]);
    let count = parts.len() as u32;
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(i, data)| FromHelper::Chunk {
            id: id.to_owned(),
            chunk: Chunk { index: i as u32, count, data: data.to_owned() },
        })
        .collect())
}

/// Joins the chunks of one reply, in any order, with every bound checked as
/// each chunk arrives.
#[derive(Debug)]
pub struct Reassembler {
    id: String,
    count: u32,
    parts: Vec<Option<String>>,
    bytes: usize,
}

impl Reassembler {
    /// Start joining the reply to request `id` announced with `count` chunks
    /// (take it from the first chunk that arrives).
    pub fn new(id: impl Into<String>, count: u32) -> Result<Reassembler, ChunkError> {
        if !(1..=MAX_CHUNKS).contains(&count) {
            return Err(ChunkError::BadCount { count });
        }
        Ok(Reassembler { id: id.into(), count, parts: vec![None; count as usize], bytes: 0 })
    }

    /// The request id being joined.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Add one chunk of request `id`.
    pub fn push(&mut self, id: &str, chunk: Chunk) -> Result<(), ChunkError> {
        if id != self.id {
            return Err(ChunkError::WrongId { expected: self.id.clone(), found: id.to_owned() });
        }
        if chunk.count != self.count {
            return Err(ChunkError::CountChanged { expected: self.count, found: chunk.count });
        }
        let slot = self
            .parts
            .get_mut(chunk.index as usize)
            .ok_or(ChunkError::OutOfRange { index: chunk.index, count: self.count })?;
        if slot.is_some() {
            return Err(ChunkError::Duplicate { index: chunk.index });
        }
        self.bytes = self.bytes.saturating_add(chunk.data.len());
        if self.bytes > MAX_REPLY {
            return Err(ChunkError::TooLarge);
        }
        *slot = Some(chunk.data);
        Ok(())
    }

    /// Every chunk has arrived.
    pub fn is_complete(&self) -> bool {
        self.parts.iter().all(Option::is_some)
    }

    /// The full reply text, or the first missing index.
    pub fn finish(self) -> Result<String, ChunkError> {
        let mut out = String::with_capacity(self.bytes);
        for (i, part) in self.parts.into_iter().enumerate() {
            out.push_str(&part.ok_or(ChunkError::Missing { index: i as u32 })?);
        }
        Ok(out)
    }
}

/// Join a complete set of chunk frames of one reply; returns `(id, text)`.
pub fn join_chunks(frames: impl IntoIterator<Item = FromHelper>) -> Result<(String, String), ChunkError> {
    let mut joiner: Option<Reassembler> = None;
    for frame in frames {
        let FromHelper::Chunk { id, chunk } = frame else { return Err(ChunkError::NotAChunk) };
        let r = match &mut joiner {
            Some(r) => r,
            None => joiner.insert(Reassembler::new(id.clone(), chunk.count)?),
        };
        r.push(&id, chunk)?;
    }
    let r = joiner.ok_or(ChunkError::Missing { index: 0 })?;
    let id = r.id.clone();
    Ok((id, r.finish()?))
}
