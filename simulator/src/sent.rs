//! What the simulator sent, as digests (issue 14): the length and SHA-256 of
//! each answer's bytes, so a test can prove that a file exported further down
//! (the helper's store, the page's download) is byte-identical to what the
//! gateway or the terminal sent. Digests only, never bodies: the logs stay
//! free of the (synthetic) personal data the answers carry.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The OQS-folder responder's log: one JSON line per file written to `res/`
/// (`{"ts_ms", "request", "file", "bytes", "sha256"}`).
pub struct SentLog(Mutex<std::fs::File>);

impl SentLog {
    /// Opens `path` for appending, creating it if missing.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        Ok(SentLog(Mutex::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?)))
    }

    /// Notes that `file` (an answer to `request`) was written with `bytes`.
    pub fn wrote(&self, request: &str, file: &str, bytes: &[u8]) {
        let ts_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let mut line = serde_json::json!({
            "ts_ms": ts_ms,
            "request": request,
            "file": file,
            "bytes": bytes.len(),
            "sha256": sha256_hex(bytes),
        })
        .to_string();
        line.push('\n');
        // One write per line; a failing log must not stop the responder.
        let mut f = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = f.write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_the_standard_sha256() {
        // FIPS 180-2 test vector.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
