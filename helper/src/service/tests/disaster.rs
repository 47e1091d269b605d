//! Disaster mode at the service level (issue 16), against the simulator's
//! gateway on loopback: the status follows the declarations, a card-less
//! search is refused outside the declared period — also when the system's
//! clock says otherwise, because the helper judges on its own day — and
//! every search is audited with its reason, never with the name typed.

use super::*;
use onshi_core::disaster::Closed;
use onshi_core::protocol::{DisasterFound, DisasterStatusReply};

/// The simulator gateway with a declaration file, and a harness over it.
/// `gateway_day`: the gateway's own day (`None`: Japan's date by the clock).
async fn disaster_harness(dir: &std::path::Path, gateway_day: Option<&str>) -> (onshi_sim::gateway::Gateway, H, PathBuf, PathBuf) {
    let file = dir.join("disaster.txt");
    let (gw, backend, db) = simulator_gateway_with(dir, |opts| {
        opts.disaster.file = Some(file.clone());
        opts.today = gateway_day.map(|d| onshi_core::wareki::Date::parse_yyyymmdd(d).unwrap());
    })
    .await;
    let root = dir.join("helper");
    std::fs::create_dir_all(&root).unwrap();
    let store = Store::open(&root.join("helper.sqlite")).unwrap();
    let card = Arc::new(SimAccess::new(3));
    let h = open_with(&root, store, Arc::new(backend), card);
    (gw, h, file, db)
}

/// Today in Japan, `YYYYMMDD` (the helper's config is at +09:00 too).
fn today() -> String {
    onshi_sim::folder::now_jst()[..8].to_string()
}

/// Someone the registry alone holds with that kana, birth date and sex.
fn someone(db: &std::path::Path) -> (String, String, &'static str) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let (kana, birth, sex): (String, String, String) = conn
        .query_row(
            "SELECT name_kana, birthdate, sex FROM people p
              WHERE (SELECT count(*) FROM people o WHERE o.birthdate = p.birthdate AND o.sex = p.sex) = 1
              ORDER BY person_id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    (kana, birth, if sex == "2" { "female" } else { "male" })
}

async fn status(h: &mut H) -> DisasterStatusReply {
    let id = h.send(PAGE, "page", r#"{"type":"disaster_status"}"#);
    match h.reply(&id).await {
        Ok(Response::DisasterStatus(s)) => s,
        other => panic!("{other:?}"),
    }
}

fn search_body(kana: &str, birth: &str, sex: &str) -> String {
    format!(r#"{{"type":"disaster_search","person":{{"by":"name_birth_sex","kana":"{kana}","birth_date":"{birth}","sex":"{sex}"}},"reason":"patient_unable_to_consent"}}"#)
}

fn disaster_audits(h: &H) -> Vec<crate::store::AuditEntry> {
    h.rt.with_store(|s| s.audit_tail(100).unwrap()).into_iter().filter(|e| e.kind == "disaster_view").collect()
}

#[tokio::test]
async fn card_less_search_follows_the_declaration_and_is_audited_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (_gw, mut h, file, db) = disaster_harness(dir.path(), None).await;
    let (kana, birth, sex) = someone(&db);

    // Nothing declared: closed, and a search is refused (and audited as refused).
    let s = status(&mut h).await;
    assert_eq!((s.open, s.closed), (None, Some(Closed::NotDeclared)));
    let id = h.send(PAGE, "page", &search_body(&kana, &birth, sex));
    assert_eq!(h.reply(&id).await.unwrap_err().code, C::DisasterClosed);

    // Declared for the clinic's prefecture (01) today: the person's documents.
    std::fs::write(&file, format!("01:{0}-{0}\n", today())).unwrap();
    assert!(status(&mut h).await.open.is_some());
    let id = h.send(PAGE, "page", &search_body(&kana, &birth, sex));
    let Ok(Response::DisasterSearch(r)) = h.reply(&id).await else { panic!("a disaster_search reply") };
    let DisasterFound::Person { medication_xml, checkup_xml } = r.found else { panic!("one person: {:?}", r.found) };
    assert!(medication_xml.contains("YZKsiquc01res") || medication_xml.contains("<XmlMsg"), "{medication_xml}");
    assert!(!checkup_xml.is_empty());

    // Bad input never reaches the system.
    let id = h.send(PAGE, "page", &search_body("山田", &birth, sex));
    let e = h.reply(&id).await.unwrap_err();
    assert_eq!((e.code, e.detail.field.as_deref()), (C::InvalidArgument, Some("kana")));
    assert!(e.message.ja.contains("カナ"), "{}", e.message.ja);

    // The declaration ended: refused with its period named.
    std::fs::write(&file, "01:20200101-20200131\n").unwrap();
    let id = h.send(PAGE, "page", &search_body(&kana, &birth, sex));
    let e = h.reply(&id).await.unwrap_err();
    assert_eq!(e.code, C::DisasterClosed);
    assert!(e.message.ja.contains("令和2年1月31日"), "{}", e.message.ja);

    // The audit: one refused, two views (medication, check-ups), one refused;
    // reason and kind of search as codes, and nothing typed.
    let audits = disaster_audits(&h);
    let outcomes: Vec<&str> = audits.iter().map(|a| a.outcome.as_str()).collect();
    assert_eq!(outcomes, ["refused", "ok", "ok", "refused"], "{audits:#?}");
    for a in &audits {
        assert!(a.detail.contains(r#""reason":"patient_unable_to_consent""#) && a.detail.contains(r#""by":"name_birth_sex""#), "{}", a.detail);
        assert!(a.detail.contains(r#""treatment":"outpatient""#), "{}", a.detail);
        assert!(!a.detail.contains(&kana) && !a.detail.contains(&birth), "the audit holds what was typed: {}", a.detail);
    }
    assert!(audits[1].detail.contains(r#""history":"medication""#) && audits[1].detail.contains(r#""found":"person""#));
    assert!(audits[3].detail.contains("disaster_closed"), "{}", audits[3].detail);
}

/// The system's clock says the declaration is in force, the helper's day
/// is past it: the helper refuses, and the search never reaches the system.
#[tokio::test]
async fn the_helper_judges_the_period_on_its_own_day() {
    let dir = tempfile::tempdir().unwrap();
    let (_gw, mut h, file, db) = disaster_harness(dir.path(), Some("20200115")).await;
    std::fs::write(&file, "all:20200101-20200131\n").unwrap();
    let s = status(&mut h).await;
    assert!(matches!(s.closed, Some(Closed::OutsidePeriod { .. })), "{s:?}");
    let (kana, birth, sex) = someone(&db);
    let id = h.send(PAGE, "page", &search_body(&kana, &birth, sex));
    assert_eq!(h.reply(&id).await.unwrap_err().code, C::DisasterClosed);
    let log = std::fs::read_to_string(dir.path().join("gateway.log")).unwrap();
    assert!(log.contains("/oqs/v1/disaster"), "the status was asked: {log}");
    assert!(!log.contains("disaster/search"), "the search reached the gateway: {log}");
}
