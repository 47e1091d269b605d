//! How a command speaks: results on stdout, problems on stderr, each as a
//! Japanese line then an English line, and the one failure type that ends a
//! command with a non-zero exit status.

use onshi_core::text::{Bilingual, Explain};

/// A failure that ends the command: one bilingual explanation.
pub struct Fail(pub Bilingual);

impl<E: Explain> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.explain())
    }
}

pub fn say(b: &Bilingual) {
    println!("{}\n{}", b.ja, b.en);
}

pub fn problem(b: &Bilingual) {
    eprintln!("{}\n{}", b.ja, b.en);
}

/// Writes a result document to `path` exactly as the system sent it (issue
/// 14), and says so — or, for a result stored before the helper kept bytes,
/// that the file is the UTF-8 text it kept instead.
pub fn write_received(path: &std::path::Path, received: Option<&onshi_core::protocol::ReceivedXml>) -> Result<(), Fail> {
    let (bytes, exact) = match received.and_then(|r| r.bytes().map(|b| (b, r.exact))) {
        Some(x) => x,
        None => return Err(Fail(Bilingual::new("受け取ったままの結果がありません。", "The result as received is not available."))),
    };
    std::fs::write(path, &bytes).map_err(|e| {
        Fail(Bilingual::new(format!("{} に書き込めません（{e}）。", path.display()), format!("Cannot write {} ({e}).", path.display())))
    })?;
    if !exact {
        problem(&Bilingual::new(
            format!("{} は以前の版で保存された結果のため、受け取ったままではなくUTF-8の文字として書き出しました。", path.display()),
            format!("{} was stored by an older helper, so it is written as the UTF-8 text kept then, not as received.", path.display()),
        ));
    }
    Ok(())
}
