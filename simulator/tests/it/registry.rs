//! The synthetic registry: deterministic, covers every case, and its probes
//! agree with its rows (so the gateway can be tested against them).

use std::path::PathBuf;

use onshi_core::numbers::{check_insurer, check_public_expense};
use onshi_sim::registry::{self, RegistryError};
use rusqlite::Connection;

fn db(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn same_seed_same_registry_other_seed_other_registry() {
    let (a, b, c) = (db("reg-a"), db("reg-b"), db("reg-c"));
    registry::seed(&a, 120, 42).unwrap();
    registry::seed(&b, 120, 42).unwrap();
    registry::seed(&c, 120, 43).unwrap();
    let fa = registry::fingerprint(&a).unwrap();
    assert_eq!(fa, registry::fingerprint(&b).unwrap(), "same seed");
    assert_ne!(fa, registry::fingerprint(&c).unwrap(), "another seed");
    // A registry is never overwritten.
    assert!(matches!(registry::seed(&a, 120, 42), Err(RegistryError::Exists(_))));
    for p in [a, b, c] {
        std::fs::remove_file(p).unwrap();
    }
}

#[test]
fn every_case_is_present_and_numbers_are_valid() {
    let path = db("reg-cases");
    let report = registry::seed(&path, registry::MIN_PEOPLE, 1).unwrap();
    assert_eq!(report.people, registry::MIN_PEOPLE);
    let conn = Connection::open(&path).unwrap();
    let tags: Vec<String> =
        conn.prepare("SELECT DISTINCT case_tag FROM people").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    for tag in [
        "valid", "card_not_registered", "family_head", "family_member", "lost_death", "lost_public_assistance",
        "lost_other_insurance", "newer_qualification", "several_matches", "late_elderly", "national_health_6digit",
        "elderly_recipient", "limit_category", "specific_disease", "public_assistance", "name_outside_jis",
        "name_small_kana", "cert_expires_soon", "cert_lapsed_grace", "cert_lapsed",
    ] {
        assert!(tags.iter().any(|t| t == tag), "case {tag} missing: {tags:?}");
    }
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT COUNT(DISTINCT limit_flag) FROM qualifications"), 16, "A01–A06 and B01–B10");
    assert_eq!(count("SELECT COUNT(DISTINCT specific_disease) FROM qualifications"), 3);
    assert_eq!(count("SELECT COUNT(*) FROM probes WHERE case_tag = 'no_match'"), 1);
    assert!(count("SELECT COUNT(*) FROM qualifications WHERE branch IS NULL AND insurer_number LIKE '39%'") >= 3);
    assert!(count("SELECT COUNT(*) FROM qualifications WHERE length(insurer_number) = 6") >= 1);
    assert!(count("SELECT COUNT(*) FROM consents WHERE flag = '2'") >= 1, "expired consents");
    assert!(count("SELECT COUNT(*) FROM medications") > 0 && count("SELECT COUNT(*) FROM health_checks") > 0);
    assert_eq!(count("SELECT card_registered FROM people WHERE person_id = 'P0003'"), 0);
    assert_eq!(count("SELECT card_registered FROM people WHERE person_id = 'P0001'"), 1);
    // The people `pki::CERT_CASES` issues certificates in each state for (issue 14).
    for (id, case) in onshi_sim::pki::CERT_CASES {
        let tag: String = conn.query_row("SELECT case_tag FROM people WHERE person_id = ?1", [id], |r| r.get(0)).unwrap();
        assert_eq!(tag, case.tag(), "{id}");
        assert_eq!(count(&format!("SELECT card_registered FROM people WHERE person_id = '{id}'")), 1);
    }

    // Every insurer number passes the shared number rules; medical tickets carry a 公費 number.
    let mut stmt = conn.prepare("SELECT insurer_number, card_classification FROM qualifications").unwrap();
    for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).unwrap() {
        let (n, class) = row.unwrap();
        if class == "A1" {
            check_public_expense(&n).unwrap_or_else(|e| panic!("{n}: {e}"));
        } else {
            check_insurer(&n).unwrap_or_else(|e| panic!("{n}: {e}"));
        }
    }

    // Names as results carry them.
    let (name, kana): (String, String) = conn
        .query_row("SELECT name_returned, name_kana FROM people WHERE case_tag = 'name_outside_jis'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(name, "●田\u{3000}●志");
    assert_eq!(kana, "ﾖｼﾀﾞ ﾀｶｼ");
    let kana: String =
        conn.query_row("SELECT name_kana FROM people WHERE case_tag = 'name_small_kana'", [], |r| r.get(0)).unwrap();
    assert_eq!(kana, "ﾔﾏﾀﾞ ｼﾞﾕﾘ", "no small kana, as the system writes it");
    let small = count("SELECT COUNT(*) FROM people WHERE name_kana GLOB '*[ｧｨｩｪｫｯｬｭｮァ-ヶ]*'");
    assert_eq!(small, 0, "kana fields are half-width without small kana");
    drop(stmt);
    drop(conn);
    std::fs::remove_file(path).unwrap();
}

/// A reference lookup over the rows: each probe's expected QualificationValidity
/// (domain.md §3) must follow from the data, or the gateway would be tested
/// against a registry that contradicts itself.
#[test]
fn probes_agree_with_the_rows() {
    let path = db("reg-probes");
    registry::seed(&path, 150, 9).unwrap();
    let conn = Connection::open(&path).unwrap();
    let mut probes = conn
        .prepare("SELECT case_tag, insurer_number, symbol, number, branch, birthdate, expected_validity, expected_people FROM probes")
        .unwrap();
    let rows = probes
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, String>(3)?,
                r.get::<_, Option<String>>(4)?, r.get::<_, String>(5)?, r.get::<_, i64>(6)?, r.get::<_, i64>(7)?,
            ))
        })
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for row in rows {
        let (tag, ins, sym, num, branch, birth, validity, people) = row.unwrap();
        let mut q = conn
            .prepare(
                "SELECT q.person_id, q.disqualification_date, q.card_classification,
                   (SELECT COUNT(*) FROM qualifications o WHERE o.person_id = q.person_id AND o.id != q.id
                      AND o.disqualification_date IS NULL)
                 FROM qualifications q JOIN people p ON p.person_id = q.person_id
                 WHERE q.insurer_number = ?1 AND q.symbol IS ?2 AND q.number = ?3
                   AND (?4 IS NULL OR q.branch = ?4) AND p.birthdate = ?5",
            )
            .unwrap();
        let hits: Vec<(String, Option<String>, String, i64)> = q
            .query_map(rusqlite::params![ins, sym, num, branch, birth], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(hits.len() as i64, people, "{tag}: {hits:?}");
        let derived = match hits.as_slice() {
            [] => 4,
            [_, _, ..] => 5,
            [(_, None, class, _)] if class == "A1" => 6,
            [(_, None, _, _)] => 1,
            [(_, Some(_), _, newer)] if *newer > 0 => 3,
            [(_, Some(_), _, _)] => 2,
        };
        assert_eq!(derived, validity, "probe {tag}");
        seen.insert(validity);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6], "every QualificationValidity is probed");
    drop(probes);
    drop(conn);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn too_few_people_is_refused() {
    let path = db("reg-small");
    assert!(matches!(registry::seed(&path, 10, 1), Err(RegistryError::TooFewPeople { min: 44, asked: 10 })));
    assert!(!path.exists());
}

#[test]
fn system_kana_conversion() {
    for (full, half) in [
        ("ジュリ", "ｼﾞﾕﾘ"), ("ショウタ", "ｼﾖｳﾀ"), ("パン", "ﾊﾟﾝ"), ("ヴィオラ", "ｳﾞｲｵﾗ"), ("キッテ", "ｷﾂﾃ"),
        ("ヤマダ\u{3000}ハナコ", "ﾔﾏﾀﾞ ﾊﾅｺ"), ("ルー", "ﾙｰ"),
    ] {
        assert_eq!(registry::to_system_kana(full), half, "{full}");
    }
}
