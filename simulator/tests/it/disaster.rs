//! Disaster mode at the gateway (issue 16): the status endpoint for the
//! clinic of the client certificate, and card-less searches — matched by
//! core `same_kana` plus birth date and sex, or by the insured numbers —
//! refused outside the declared area and period, "several matches" never
//! guessed. The declarations come from a file the gateway reads per request.

use std::path::PathBuf;

use onshi_core::disaster::wire::GatewayStatus;
use onshi_core::gateway_wire::ErrorBody;
use onshi_core::text::fold_width;
use onshi_core::wareki::Date;
use onshi_core::Message;
use onshi_sim::gateway::Gateway;
use rusqlite::{Connection, params};

use crate::gateway::{client, start_on};

/// The gateway's day, pinned (the clinic of the test PKI is in Hokkaido, 01).
const TODAY: &str = "20261206";

fn declare(file: &PathBuf, lines: &str) {
    std::fs::write(file, lines).expect("declaration file");
}

async fn get_status(gw: &Gateway) -> GatewayStatus {
    let r = client().get(format!("{}/oqs/v1/disaster", gw.url())).send().await.expect("answered");
    assert_eq!(r.status().as_u16(), 200);
    serde_json::from_slice(&r.bytes().await.unwrap()).expect("status JSON")
}

async fn search(gw: &Gateway, body: serde_json::Value) -> (u16, Vec<u8>) {
    let r = client().post(format!("{}/oqs/v1/disaster/search", gw.url())).body(body.to_string()).send().await.expect("answered");
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

fn refusal(body: &[u8]) -> ErrorBody {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

/// A person with medication records: (kana as the registry holds it, birth date, sex code).
fn person_with_medication(db: &std::path::Path) -> (String, String, String, String) {
    let conn = Connection::open(db).unwrap();
    conn.query_row(
        "SELECT p.person_id, p.name_kana, p.birthdate, p.sex FROM people p
          WHERE EXISTS (SELECT 1 FROM medications m WHERE m.person_id = p.person_id)
            AND (SELECT count(*) FROM people o WHERE o.birthdate = p.birthdate AND o.sex = p.sex) = 1
          ORDER BY p.person_id LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
    .expect("the seeded registry has someone with medication")
}

fn by_name(kana: &str, birth: &str, sex: &str, history: &str) -> serde_json::Value {
    let sex = if sex == "2" { "female" } else { "male" };
    serde_json::json!({
        "history": history,
        "person": {"by": "name_birth_sex", "kana": kana, "birth_date": birth, "sex": sex},
        "reason": "disaster_area_visit"
    })
}

#[tokio::test]
async fn card_less_search_only_inside_the_declared_area_and_period() {
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("disaster-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let (gw, db) = start_on("disaster", |o| {
        o.today = Some(Date::parse_yyyymmdd(TODAY).unwrap());
        o.disaster.file = Some(file.clone());
    })
    .await;
    let (id, kana, birth, sex) = person_with_medication(&db);

    // Nothing declared: closed, and a search is refused with the reason.
    let st = get_status(&gw).await;
    assert_eq!((st.today.as_str(), st.prefecture.as_deref(), st.open.is_none()), (TODAY, Some("01"), true));
    let (status, body) = search(&gw, by_name(&kana, &birth, &sex, "medication")).await;
    assert_eq!((status, refusal(&body).code.as_str()), (403, "disaster_closed"));

    // Declared for Tokyo only: still closed for a Hokkaido clinic.
    declare(&file, "13:20261201-20261231\n");
    assert!(get_status(&gw).await.open.is_none());
    assert_eq!(search(&gw, by_name(&kana, &birth, &sex, "medication")).await.0, 403);

    // Declared for Hokkaido, today inside: open, and the kana matches in any width.
    declare(&file, "# 令和8年 豪雪\n01,02:20261201-20261231\n");
    assert_eq!(get_status(&gw).await.open.map(|d| d.end), Some("20261231".to_string()));
    for typed in [kana.clone(), fold_width(&kana)] {
        let (status, body) = search(&gw, by_name(&typed, &birth, &sex, "medication")).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let parsed = onshi_core::parse(&body).expect("a result document");
        let Message::MedicationResult(m) = parsed.message else { panic!("a medication result: {:?}", parsed.message.kind()) };
        assert!(!m.body.months.is_empty(), "{id} has medication");
    }
    let (status, body) = search(&gw, by_name(&kana, &birth, &sex, "checkup")).await;
    assert_eq!(status, 200);
    assert!(matches!(onshi_core::parse(&body).unwrap().message, Message::CheckupResult(_)));

    // By the insured numbers and birth date, as printed on the card in hand.
    let probe = crate::answer::probe_at(&db, "valid");
    let by_numbers = serde_json::json!({
        "history": "medication",
        "person": {"by": "insured_numbers", "insured": {
            "insurer_number": probe.insurer_number, "symbol": probe.insured_card_symbol,
            "number": probe.insured_identification_number, "branch": probe.insured_branch_number,
            "birth_date": probe.birthdate}},
        "reason": "other_disaster_emergency"
    });
    let (status, body) = search(&gw, by_numbers).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(matches!(onshi_core::parse(&body).unwrap().message, Message::MedicationResult(_)));

    // The other sex: nobody. A namesake born the same day: several, not a guess.
    let other = if sex == "1" { "2" } else { "1" };
    let (status, body) = search(&gw, by_name(&kana, &birth, other, "medication")).await;
    assert_eq!((status, refusal(&body).code.as_str()), (404, "no_match"));
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO people (person_id, case_tag, name, name_returned, name_kana, sex, birthdate, household_id, card_registered)
         SELECT 'P9999', 'namesake', name, name_returned, name_kana, sex, birthdate, 'H9999', 0 FROM people WHERE person_id = ?1",
        params![id],
    )
    .unwrap();
    let (status, body) = search(&gw, by_name(&kana, &birth, &sex, "medication")).await;
    assert_eq!((status, refusal(&body).code.as_str()), (409, "several_matches"));

    // Bad input is a typed refusal, not a search.
    let (status, body) = search(&gw, by_name("山田", &birth, &sex, "medication")).await;
    assert_eq!((status, refusal(&body).code.as_str()), (400, "bad_request"));
    assert!(refusal(&body).message.ja.contains("カナ"), "{:?}", refusal(&body).message);

    // The declaration ended: refused, and the message names its period.
    declare(&file, "all:20261101-20261130\n");
    let st = get_status(&gw).await;
    assert!(st.open.is_none() && st.closed.is_some());
    let (status, body) = search(&gw, by_name(&kana, &birth, &sex, "medication")).await;
    let r = refusal(&body);
    assert_eq!((status, r.code.as_str()), (403, "disaster_closed"));
    assert!(r.message.ja.contains("令和8年11月30日"), "{}", r.message.ja);

    // A broken file is an error to fix, never a silent "no disaster".
    declare(&file, "01:2026\n");
    let r = client().get(format!("{}/oqs/v1/disaster", gw.url())).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let _ = std::fs::remove_file(&file);
}
