//! A test PKI made once per test run (and kept between runs under
//! CARGO_TARGET_TMPDIR, since `pki::init` is idempotent and RSA keygen costs
//! seconds in debug builds).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use onshi_sim::pki::{self, PersonCard, PkiOptions};

pub const PERSON: &str = "P0001";

pub fn pki_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("onshi-sim-pki-fixture");
        let opts = PkiOptions { people: vec![PERSON.to_string()], ..Default::default() };
        pki::init(&dir, &opts).expect("test PKI");
        dir
    })
}

pub fn person() -> PersonCard {
    pki::load_person(pki_dir(), PERSON).expect("fixture person")
}
