//! Card-less history in disaster mode (issue 16): the one person a
//! [`PersonKey`] names, and their medication or health-check document — no
//! consent asked, because the declaration (checked by the caller against
//! core `disaster::standing`) is what allows it.
//!
//! A name search matches the registry's kana with core `same_kana` (width,
//! small kana and hiragana/katakana ignored) plus the birth date and sex; a
//! number search is the insurance-card lookup. Must not: pick one of
//! several people who match — the answer is then [`Found::Several`].

use onshi_core::codes::FileCategory;
use onshi_core::disaster::wire::GatewaySearch;
use onshi_core::disaster::{History, PersonKey};
use onshi_core::message::{MessageHeader, SearchInfo};
use onshi_core::person_name::same_kana;
use onshi_core::text::Explain;
use onshi_core::{Encoding, Message};
use rusqlite::{Connection, OptionalExtension, params};

use super::{Refusal, codes, in_transaction, info, lookup};

/// What a card-less search found.
#[derive(Debug)]
pub enum Found {
    /// One person: the result document, written in the gateway's encoding.
    Document(Vec<u8>),
    NoMatch,
    Several,
}

/// The distinct people a key names on `date`.
fn people(conn: &Connection, key: &PersonKey, date: &str) -> Result<Vec<String>, Refusal> {
    let mut ids: Vec<String> = match key {
        PersonKey::NameBirthSex { kana, birth_date, sex } => {
            let mut stmt = conn.prepare_cached("SELECT person_id, name_kana FROM people WHERE birthdate = ?1 AND sex = ?2 ORDER BY person_id")?;
            let rows = stmt.query_map(params![birth_date, sex.code()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            let mut ids = Vec::new();
            for row in rows {
                let (id, stored) = row?;
                if same_kana(kana, &stored) {
                    ids.push(id);
                }
            }
            ids
        }
        PersonKey::InsuredNumbers { insured } => {
            let search = SearchInfo {
                insurer_number: Some(insured.insurer_number.clone()),
                insured_card_symbol: insured.symbol.clone(),
                insured_identification_number: Some(insured.number.clone()),
                insured_branch_number: insured.branch.clone(),
                birthdate: Some(insured.birth_date.clone()),
                ..Default::default()
            };
            // A lost qualification still names the person: in a disaster the
            // card in hand may be an old one.
            lookup(conn, &search, date)?.rows.into_iter().map(|r| r.person_id).collect()
        }
    };
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// A qualification's insurance key: insurer, symbol, number, branch, birth date.
type InsuranceKey = (String, Option<String>, String, Option<String>, String);

/// The header a history request for `person` would carry: the clinic and
/// the person's newest insurance key, so the answer reads like any other.
fn header_for(conn: &Connection, institution: &str, person: &str, req: &GatewaySearch) -> Result<MessageHeader, Refusal> {
    let key: Option<InsuranceKey> = conn
        .prepare_cached(
            "SELECT q.insurer_number, q.symbol, q.number, q.branch, p.birthdate FROM qualifications q JOIN people p ON p.person_id = q.person_id
             WHERE q.person_id = ?1 ORDER BY q.disqualification_date IS NULL DESC, q.id DESC LIMIT 1",
        )?
        .query_row(params![person], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .optional()?;
    let (insurer, symbol, number, branch, birthdate) = key.map_or((None, None, None, None, None), |k| (Some(k.0), k.1, Some(k.2), k.3, Some(k.4)));
    Ok(MessageHeader {
        medical_institution_code: Some(institution.to_string()),
        insurer_number: insurer,
        insurance_card_symbol: symbol,
        insured_person_identification_number: number,
        branch_number: branch,
        birthdate,
        start_date: req.start_month.clone(),
        end_date: req.end_month.clone(),
        file_category: Some(FileCategory::Xml),
        // Echoed in the result like any viewing request's.
        medical_treatment_flag: Some(req.treatment.flag()),
        ..Default::default()
    })
}

/// Answers one card-less search for `institution` on `now`'s day. The
/// caller has already found disaster mode open; this only finds and reads.
pub fn search(conn: &Connection, institution: &str, req: &GatewaySearch, now: &str, encoding: Encoding) -> Result<Found, Refusal> {
    let today = now.get(..8).unwrap_or(now);
    let key = req.person.checked(today).map_err(|e| {
        let m = e.explain();
        Refusal::new(codes::INVALID, format!("検索条件に誤りがあります（{}）：{}", e.field(), m.ja), format!("the search key breaks a rule ({}): {}", e.field(), m.en))
    })?;
    in_transaction(conn, || {
        let ids = people(conn, &key, today)?;
        let person = match ids.as_slice() {
            [] => return Ok(Found::NoMatch),
            [one] => one.as_str(),
            _ => return Ok(Found::Several),
        };
        let header = header_for(conn, institution, person, req)?;
        let bytes = match req.history {
            History::Medication => Message::MedicationResult(info::medication_of(conn, person, &header, now, encoding)?).write(encoding),
            History::Checkup => Message::CheckupResult(info::checkup_of(conn, person, &header, now, encoding)?).write(encoding),
        };
        Ok(Found::Document(bytes))
    })
}
