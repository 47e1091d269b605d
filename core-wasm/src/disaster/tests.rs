//! The disaster-mode rule and its inputs, data-driven.

use super::*;
use crate::protocol::InsuredPerson;

const TOKYO_CLINIC: &str = "1312345678";

fn decl(text: &str) -> Declaration {
    Declaration::parse(text).unwrap()
}

#[test]
fn declarations_read_from_text() {
    assert_eq!(decl("all:20261201-20261231"), Declaration { area: Area::Nationwide, start: "20261201".into(), end: "20261231".into() });
    let d = decl(" 14,13,13 : 20261201-20261201 ");
    assert_eq!(d.area, Area::Prefectures(vec![Prefecture::parse("13").unwrap(), Prefecture::parse("14").unwrap()]));
    assert_eq!(decl("1:20240101-20240102").area, Area::Prefectures(vec![Prefecture::parse("01").unwrap()]));
    for (text, err) in [
        ("20261201-20261231", DeclarationError::Shape { text: "20261201-20261231".into() }),
        ("all:20261201", DeclarationError::Shape { text: "all:20261201".into() }),
        ("48:20261201-20261231", DeclarationError::Prefecture { code: "48".into() }),
        ("13,,14:20261201-20261231", DeclarationError::Prefecture { code: "".into() }),
        ("all:20261301-20261231", DeclarationError::Day { text: "20261301".into() }),
        ("all:20261231-20261201", DeclarationError::EndBeforeStart { start: "20261231".into(), end: "20261201".into() }),
    ] {
        assert_eq!(Declaration::parse(text), Err(err.clone()), "{text}");
        assert!(!err.explain().ja.is_empty() && !err.explain().en.is_empty());
    }
}

#[test]
fn prefecture_comes_from_the_institution_code() {
    assert_eq!(Prefecture::of_institution(TOKYO_CLINIC).map(Prefecture::code).as_deref(), Some("13"));
    assert_eq!(Prefecture::of_institution("0112345678").map(Prefecture::code).as_deref(), Some("01"));
    for bad in ["4812345678", "0012345678", "131234567", "13123456789", "13a2345678"] {
        assert_eq!(Prefecture::of_institution(bad), None, "{bad}");
    }
    let json = serde_json::to_string(&decl("13:20261201-20261231")).unwrap();
    assert_eq!(json, r#"{"area":{"prefectures":["13"]},"start":"20261201","end":"20261231"}"#);
    assert_eq!(serde_json::to_string(&decl("all:20261201-20261231").area).unwrap(), r#""nationwide""#);
    assert!(serde_json::from_str::<Declaration>(r#"{"area":{"prefectures":["99"]},"start":"20261201","end":"20261231"}"#).is_err());
}

#[test]
fn standing_needs_both_the_area_and_the_day() {
    let osaka = decl("27:20261201-20261231");
    let tokyo_ended = decl("13:20261101-20261130");
    let all = decl("all:20261205-20261206");
    let check = |declared: &[Declaration], today: &str| standing(declared, TOKYO_CLINIC, today);
    assert_eq!(check(&[], "20261206"), Standing::Closed(Closed::NotDeclared));
    assert_eq!(check(std::slice::from_ref(&osaka), "20261206"), Standing::Closed(Closed::NotDeclared));
    assert_eq!(check(&[osaka.clone(), all.clone()], "20261206"), Standing::Open(all.clone()));
    // First and last day both count.
    assert_eq!(check(std::slice::from_ref(&all), "20261205"), Standing::Open(all.clone()));
    assert_eq!(
        check(std::slice::from_ref(&all), "20261207"),
        Standing::Closed(Closed::OutsidePeriod { declaration: all.clone(), today: "20261207".into() })
    );
    assert_eq!(
        check(&[tokyo_ended.clone(), osaka], "20261206"),
        Standing::Closed(Closed::OutsidePeriod { declaration: tokyo_ended, today: "20261206".into() })
    );
    assert!(matches!(standing(&[all], "12", "20261206"), Standing::Closed(Closed::UnknownInstitution { .. })));
}

#[test]
fn reasons_are_fixed_codes() {
    for r in Reason::ALL {
        assert_eq!(Reason::from_code(r.code()), Some(r));
        assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.code()));
        assert!(r.code().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
    }
    assert_eq!(Reason::from_code("because"), None);
    assert!(serde_json::from_str::<Reason>(r#""free text""#).is_err());
}

#[test]
fn person_keys_are_checked() {
    let name = |kana: &str, birth: &str| PersonKey::NameBirthSex { kana: kana.into(), birth_date: birth.into(), sex: Sex::Female };
    let today = "20261206";
    assert_eq!(
        name(" ﾔﾏﾀﾞ ﾊﾅｺ ", "１９６４０３０３").checked(today),
        Ok(PersonKey::NameBirthSex { kana: "ﾔﾏﾀﾞ ﾊﾅｺ".into(), birth_date: "19640303".into(), sex: Sex::Female })
    );
    assert!(name("やまだ　はなこ", "19640303").checked(today).is_ok());
    assert_eq!(name(" ", "19640303").checked(today), Err(PersonKeyError::KanaEmpty));
    assert_eq!(name("山田", "19640303").checked(today), Err(PersonKeyError::KanaNotKana { found: '山' }));
    assert_eq!(name("ヤマダ", "19640230").checked(today), Err(PersonKeyError::BirthDate { text: "19640230".into() }));
    assert_eq!(name("ヤマダ", "20261207").checked(today), Err(PersonKeyError::BirthInFuture { birth_date: "20261207".into() }));
    assert_eq!(name("ヤマダ", "20261207").checked(today).unwrap_err().field(), "birth_date");
    let insured = |insurer: &str| PersonKey::InsuredNumbers {
        insured: InsuredPerson { insurer_number: insurer.into(), symbol: Some(" ".into()), number: "１２３".into(), branch: None, birth_date: "19640303".into() },
    };
    let Ok(PersonKey::InsuredNumbers { insured: ok }) = insured("06132013").checked(today) else { panic!() };
    assert_eq!((ok.symbol, ok.number.as_str()), (None, "123"));
    assert_eq!(insured("06132014").checked(today).unwrap_err().field(), "insurer_number");
    assert_eq!(insured("06132013").by(), SearchBy::InsuredNumbers);
    let json = serde_json::to_string(&name("ﾔﾏﾀﾞ", "19640303")).unwrap();
    assert_eq!(json, r#"{"by":"name_birth_sex","kana":"ﾔﾏﾀﾞ","birth_date":"19640303","sex":"female"}"#);
}

#[test]
fn closed_and_banner_say_the_period() {
    let d = decl("13:20261201-20261231");
    let closed = Closed::OutsidePeriod { declaration: d.clone(), today: "20270105".into() };
    assert!(closed.explain().ja.contains("令和8年12月1日"), "{}", closed.explain().ja);
    let b = banner(&d);
    assert!(b.ja.starts_with("災害時の特例：災害救助法の適用地域"), "{}", b.ja);
    assert!(b.ja.contains("令和8年12月31日") && b.en.contains("20261231"));
}
