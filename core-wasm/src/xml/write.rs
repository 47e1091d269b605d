//! Text-level writing: an indented document with the standard declaration,
//! escaped text, then encoded as Shift_JIS (Windows-31J) or UTF-8.

use super::decode::encode;
use super::Encoding;

/// Builds one document. Elements are opened and closed explicitly; leaves
/// are written with [`XmlWriter::leaf`].
#[derive(Debug)]
pub struct XmlWriter {
    out: String,
    depth: usize,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    pub fn new() -> Self {
        Self { out: String::with_capacity(4096), depth: 0 }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    pub fn open(&mut self, name: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    pub fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `<name>text</name>`, or `<name/>` for empty text (empty and absent
    /// are different things in these messages).
    pub fn leaf(&mut self, name: &str, text: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        if text.is_empty() {
            self.out.push_str("/>\n");
            return;
        }
        self.out.push('>');
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// The finished document: declaration plus body, encoded.
    pub fn finish(self, encoding: Encoding) -> Vec<u8> {
        let mut doc = String::with_capacity(self.out.len() + 64);
        doc.push_str("<?xml version=\"1.0\" encoding=\"");
        doc.push_str(encoding.label());
        doc.push_str("\" standalone=\"no\"?>\n");
        doc.push_str(&self.out);
        encode(&doc, encoding)
    }
}

/// Escapes markup characters, and carriage returns and tabs as character
/// references so a reader's end-of-line handling cannot change the value.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}
