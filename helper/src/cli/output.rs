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
