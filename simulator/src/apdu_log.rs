//! The virtual card's APDU log: one JSON object per line, appended and
//! flushed per exchange, so a test can read it while the card runs and prove
//! which applets were (never) selected. PIN bytes are masked before they
//! reach this module's output ([`crate::card::redacted_hex`]).
//!
//! Line shapes:
//! `{"ts_ms":…,"session":1,"seq":3,"command":"00A4040C0AD392…","response":"9000"}` and
//! `{"ts_ms":…,"session":1,"event":"power_on"}`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::card::{hex, redacted_hex};

pub struct ApduLog {
    file: File,
    seq: u64,
}

impl ApduLog {
    /// Opens `path` for appending (created if missing).
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(ApduLog { file, seq: 0 })
    }

    /// Records one command/response pair; the command's PIN bytes are masked.
    pub fn exchange(&mut self, session: u64, command: &[u8], response: &[u8]) -> io::Result<()> {
        self.seq += 1;
        let line = serde_json::json!({
            "ts_ms": now_ms(),
            "session": session,
            "seq": self.seq,
            "command": redacted_hex(command),
            "response": hex(response),
        });
        self.write_line(&line)
    }

    /// Records a power event (`power_on`, `power_off`, `reset`, `removed`).
    pub fn event(&mut self, session: u64, event: &str) -> io::Result<()> {
        let line = serde_json::json!({ "ts_ms": now_ms(), "session": session, "event": event });
        self.write_line(&line)
    }

    fn write_line(&mut self, v: &serde_json::Value) -> io::Result<()> {
        // One write per line so a concurrent reader never sees half a record.
        let mut text = v.to_string();
        text.push('\n');
        self.file.write_all(text.as_bytes())?;
        self.file.flush()
    }
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}
