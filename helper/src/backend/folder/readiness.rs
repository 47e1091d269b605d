//! When a file the OQS terminal writes may be read: the one rule for `res/`
//! answers, `.err` files and `face/` results. A file is not ready while the
//! terminal holds it (the OS refuses the read: [`crate::platform::is_busy`])
//! or while it is readable but unfinished; both are waited out, never handed
//! on as a broken answer. Nothing here deletes a file.

use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::backend::BackendError;

/// Which read errors mean "another process still holds this file". The
/// service passes [`crate::platform::is_busy`]; tests pass their own, since
/// Linux cannot produce a sharing violation.
pub type IsBusy = fn(&io::Error) -> bool;

/// What a finished file looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An XML document (answers, `face/` results): finished once its root
    /// element is closed ([`root_closed`]).
    Xml,
    /// The one-line `.err` text, which has no end marker: finished once two
    /// reads a poll apart give the same, non-empty bytes.
    Text,
}

/// One look at a file.
#[derive(Debug)]
pub enum Attempt {
    /// Complete: these are its bytes.
    Ready(Vec<u8>),
    /// There is no such file (yet, or any more).
    Missing,
    /// Not ready yet; worth another look.
    NotYet(NotYet),
    /// A read error that waiting will not cure.
    Failed(io::Error),
}

/// Why a file is not ready yet.
#[derive(Debug)]
pub enum NotYet {
    /// The OS refused the read: the terminal holds the file.
    Busy,
    /// Readable but unfinished; the bytes read so far.
    Incomplete(Vec<u8>),
}

impl NotYet {
    /// The error once the wait is over (`waited`: since the file was found).
    pub fn overdue(&self, path: &Path, waited: Duration) -> BackendError {
        match self {
            NotYet::Busy => BackendError::FileBusy { path: path.to_owned(), waited },
            NotYet::Incomplete(bytes) => BackendError::Incomplete { path: path.to_owned(), bytes: bytes.len() },
        }
    }
}

/// Judges one read of a file: the one place where "ready" is decided.
/// `previous` is the last incomplete read of the same file (for [`Shape::Text`]).
pub fn judge(read: io::Result<Vec<u8>>, shape: Shape, previous: Option<&[u8]>, is_busy: IsBusy) -> Attempt {
    match read {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Attempt::Missing,
        Err(e) if is_busy(&e) => Attempt::NotYet(NotYet::Busy),
        Err(e) => Attempt::Failed(e),
        Ok(bytes) => {
            let finished = match shape {
                Shape::Xml => root_closed(&bytes),
                Shape::Text => !bytes.is_empty() && previous == Some(bytes.as_slice()),
            };
            if finished { Attempt::Ready(bytes) } else { Attempt::NotYet(NotYet::Incomplete(bytes)) }
        }
    }
}

/// The first wait between looks at a file that is not ready, doubled up to
/// [`LONGEST_WAIT`]: an answer being written is usually done within a few
/// milliseconds, but a file held for seconds on a share should not be
/// opened fifty times a second.
const FIRST_WAIT: Duration = Duration::from_millis(20);
const LONGEST_WAIT: Duration = Duration::from_millis(500);

/// Reads `path` once it is ready, looking again while it is busy or
/// incomplete until `deadline`, then returning [`NotYet::overdue`]'s error.
/// `Ok(None)`: there is no such file (the caller goes on waiting for one).
pub async fn read_when_ready(path: &Path, shape: Shape, deadline: Instant, is_busy: IsBusy) -> Result<Option<Vec<u8>>, BackendError> {
    let found = Instant::now();
    let mut previous: Option<Vec<u8>> = None;
    let mut wait = FIRST_WAIT;
    loop {
        // tokio's read runs on the blocking pool: a read from an unreachable
        // share may hang for seconds and must not stall the service.
        let not_yet = match judge(tokio::fs::read(path).await, shape, previous.as_deref(), is_busy) {
            Attempt::Ready(bytes) => return Ok(Some(bytes)),
            Attempt::Missing => return Ok(None),
            Attempt::Failed(e) => return Err(BackendError::Folder { detail: format!("read {}: {e}", path.display()) }),
            Attempt::NotYet(n) => n,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(not_yet.overdue(path, now - found));
        }
        previous = match not_yet {
            NotYet::Incomplete(bytes) => Some(bytes),
            NotYet::Busy => None,
        };
        tokio::time::sleep(wait.min(deadline - now)).await;
        wait = (wait * 2).min(LONGEST_WAIT);
    }
}

/// Whether `bytes` are a finished XML document: they end (white space
/// aside) with the end tag of the root element, or the root is an empty
/// element `<X/>` with nothing after it. The terminal writes from the start
/// to the end, so the root's end tag is the last thing to arrive. Only the
/// prolog and the tail are looked at, so a 20 MB batch result costs no more
/// than a face file, and no decoding is needed: the tags are ASCII in both
/// encodings the terminal writes (UTF-8, Shift_JIS).
///
/// Bytes that do not start like XML at all are "finished" too: waiting
/// would not make them a document, so the reader reports them at once. A
/// leading NUL is not: a writer that sized the file first and fills it in
/// leaves zeros ahead of it.
pub fn root_closed(bytes: &[u8]) -> bool {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let Some(start) = body.iter().position(|b| !b.is_ascii_whitespace()) else { return false };
    match body[start] {
        b'<' => {}
        0 => return false,
        _ => return true,
    }
    let Some((root_at, name)) = root_element(body, start) else { return false };
    let end = trim_end(body);
    // `<XmlMsg/>`: the root's own tag is the whole rest of the document.
    if let Some(close) = body[root_at..].iter().position(|&b| b == b'>') {
        let close = root_at + close;
        if close + 1 == end.len() && body[close - 1] == b'/' {
            return true;
        }
    }
    // `…</XmlMsg>`, also `</XmlMsg >` (space is allowed before `>`).
    let Some(tail) = end.strip_suffix(b">") else { return false };
    trim_end(tail).strip_suffix(name).is_some_and(|before| before.ends_with(b"</"))
}

/// The root element's `<` offset and its name: skips the declaration,
/// processing instructions, comments and a DOCTYPE (refused later by the
/// parser, but complete or not all the same). `None` if the bytes end first.
fn root_element(body: &[u8], mut at: usize) -> Option<(usize, &[u8])> {
    loop {
        while body.get(at)?.is_ascii_whitespace() {
            at += 1;
        }
        let rest = &body[at..];
        let skip_to = |end: &[u8]| find(rest, end).map(|i| at + i + end.len());
        at = if rest.starts_with(b"<?") {
            skip_to(b"?>")?
        } else if rest.starts_with(b"<!--") {
            skip_to(b"-->")?
        } else if rest.starts_with(b"<!") {
            skip_to(b">")?
        } else if rest.starts_with(b"<") {
            let name_len = rest[1..].iter().position(|&b| b.is_ascii_whitespace() || b == b'/' || b == b'>')?;
            return (name_len > 0).then_some((at, &rest[1..1 + name_len]));
        } else {
            // Text before the root: never a finished document.
            return None;
        };
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |i| i + 1);
    &bytes[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One table: the bytes and whether they are a finished document.
    #[test]
    fn root_closed_decides_on_the_root_end_tag() {
        let cases: &[(&[u8], bool)] = &[
            (b"<XmlMsg><MessageHeader/></XmlMsg>", true),
            (b"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\r\n<XmlMsg>\r\n</XmlMsg>\r\n", true),
            (b"\xEF\xBB\xBF<!-- c --><XmlMsg></XmlMsg >", true),
            (b"<XmlMsg/>", true),
            (b"<XmlMsg />\n", true),
            (b"<old/>", true),
            (b"", false),
            (b"   \r\n", false),
            (b"<?xml version=\"1.0\"?>", false),
            (b"<?xml version=\"1.0\"", false),
            (b"<XmlMsg", false),
            (b"<XmlMsg><MessageHeader>", false),
            (b"<XmlMsg><MessageHeader></MessageHeader>", false),
            (b"<XmlMsg></XmlMs", false),
            (b"<XmlMsg></XmlMsg>\0\0\0", false),
            (b"\0\0\0\0", false),
            // Not XML at all: waiting will not help, the reader says what is wrong.
            (b"E001,not xml", true),
        ];
        for (bytes, want) in cases {
            assert_eq!(root_closed(bytes), *want, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn judge_tells_busy_from_broken_and_waits_for_stable_text() {
        let never: IsBusy = |_| false;
        let denied = || Err(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(matches!(judge(denied(), Shape::Xml, None, never), Attempt::Failed(_)));
        assert!(matches!(judge(denied(), Shape::Xml, None, |_| true), Attempt::NotYet(NotYet::Busy)));
        assert!(matches!(judge(Err(io::ErrorKind::NotFound.into()), Shape::Xml, None, |_| true), Attempt::Missing));
        assert!(matches!(judge(Ok(b"<a>".to_vec()), Shape::Xml, None, never), Attempt::NotYet(NotYet::Incomplete(b)) if b == b"<a>"));
        let line = b"E001,refused\r\n".to_vec();
        assert!(matches!(judge(Ok(line.clone()), Shape::Text, None, never), Attempt::NotYet(_)), "one read is not enough");
        assert!(matches!(judge(Ok(line.clone()), Shape::Text, Some(b"E00"), never), Attempt::NotYet(_)), "still growing");
        assert!(matches!(judge(Ok(line.clone()), Shape::Text, Some(&line), never), Attempt::Ready(_)));
        assert!(matches!(judge(Ok(Vec::new()), Shape::Text, Some(b""), never), Attempt::NotYet(_)), "empty is never done");
    }
}
