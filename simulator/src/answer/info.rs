//! Consent-gated history and the clinic's patient ids: `YZKsiquc01req` →
//! `YZKsiquc01res` (medication), `TKKsiquc01req` → `TKKsiquc01res` (health
//! checks) and `OQSsiimm01req` → `OQSsiimm01res` (照会番号 registration; the
//! bulk form `OQSmuimm01req` registers many in one go).
//!
//! History leaves the registry only while the patient's consent of that
//! kind is given and not past its `AvailableTime` on the request date; the
//! rule is core's [`consent_status`], never re-derived here. A person is
//! found with the same matching as an insurance-card check ([`super::lookup`]).
//! Must not: answer for a person it cannot single out, or return history of
//! one kind under the consent of another.

use onshi_core::codes::*;
use onshi_core::message::{
    Checkup, CheckupItem, CheckupResultBody, DispensingDay, Drug, InfoRequestBody, MedicationMonth, MedicationResultBody,
    BulkRegistrationBody, MessageHeader, Msg, Registration, SearchInfo,
};
use onshi_core::summary::{ConsentStatus, consent_status};
use onshi_core::Encoding;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Refusal, as_timestamp, check_date, codes, in_transaction, lookup, result_header};

/// Which consented history a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum History {
    /// 薬剤情報 (`PharmacistsInfo` consent).
    Medication,
    /// 特定健診情報 (`SpecificHealthCheckupsInfo` consent).
    Checkup,
}

impl History {
    /// The `consents.kind` of the registry that gates it.
    fn consent_kind(self) -> &'static str {
        match self {
            History::Medication => "pharmacist",
            History::Checkup => "health_check",
        }
    }

    fn label(self) -> (&'static str, &'static str) {
        match self {
            History::Medication => ("薬剤情報", "medication information"),
            History::Checkup => ("特定健診情報", "health-check information"),
        }
    }
}

/// The search an insurance-card check would make, from a history request's
/// header (which names the insurance key differently, domain.md §2).
fn search_of(header: &MessageHeader) -> SearchInfo {
    SearchInfo {
        insurer_number: header.insurer_number.clone(),
        insured_card_symbol: header.insurance_card_symbol.clone(),
        insured_identification_number: header.insured_person_identification_number.clone(),
        insured_branch_number: header.branch_number.clone(),
        birthdate: header.birthdate.clone(),
        ..Default::default()
    }
}

/// The one person a search names on `date`, or why there is none.
fn person_of(conn: &Connection, search: &SearchInfo, date: &str) -> Result<String, Refusal> {
    let verdict = lookup(conn, search, date)?;
    match verdict.validity {
        QualificationValidity::Valid | QualificationValidity::ValidUnregistered => {
            verdict.rows.first().map(|r| r.person_id.clone()).ok_or_else(unknown_person)
        }
        QualificationValidity::NoMatch => Err(unknown_person()),
        QualificationValidity::SeveralMatches => Err(Refusal::new(
            codes::SEVERAL_PEOPLE,
            "この保険証の番号では複数の方が該当します。枝番を入れて、もう一度お試しください。",
            "these insurance-card numbers match several people; add the branch number (枝番) and try again",
        )),
        _ => Err(Refusal::new(
            codes::NOT_QUALIFIED,
            "この保険証の資格は照会日に有効ではありません。先に資格確認を行い、有効な保険証の番号で照会してください。",
            "this insurance qualification is not valid on the request date; confirm eligibility first and use the numbers of the valid card",
        )),
    }
}

fn unknown_person() -> Refusal {
    Refusal::new(
        codes::UNKNOWN_PERSON,
        "入力された保険証の番号・生年月日に該当する方がいません。保険者番号・記号・番号・枝番・生年月日を確かめてください。",
        "nobody matches these insurance-card numbers and birthdate; check the insurer number, symbol, number, branch number and birthdate",
    )
}

/// Refuses unless the person's consent for `history` is valid on `date`.
fn require_consent(conn: &Connection, person: &str, history: History, date: &str) -> Result<(), Refusal> {
    let row: Option<(String, Option<String>)> = conn
        .prepare_cached("SELECT flag, available_time FROM consents WHERE person_id = ?1 AND kind = ?2")?
        .query_row(params![person, history.consent_kind()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let (flag, until) = match row {
        Some((flag, until)) => (Some(ConsentFlag::from_code(&flag)), as_timestamp(until)),
        None => (None, None),
    };
    let (ja, en) = history.label();
    match consent_status(flag.as_ref(), until.as_deref(), date) {
        ConsentStatus::Given { .. } => Ok(()),
        ConsentStatus::Expired => Err(Refusal::new(
            codes::CONSENT_EXPIRED,
            format!("{ja}を見る同意の有効期限が切れています。次回の受付で、患者さんにマイナ保険証でカードリーダーから同意し直してもらってください。"),
            format!("the patient's consent to view {en} has expired; ask the patient to agree again at the card reader with their My Number card at the next visit"),
        )),
        _ => Err(Refusal::new(
            codes::NO_CONSENT,
            format!("患者さんは{ja}の閲覧に同意していません。見るには、患者さんにマイナ保険証でカードリーダーから同意してもらってください。"),
            format!("the patient has not agreed to share {en}; to view it, ask the patient to agree at the card reader with their My Number card"),
        )),
    }
}

/// The result header of a history answer: the request's identifiers echoed.
fn info_header(req: &MessageHeader, now: &str, encoding: Encoding) -> MessageHeader {
    let mut header = result_header(req, now, encoding, SegmentOfResult::Normal);
    header.reference_classification = None;
    for (to, from) in [
        (&mut header.insurer_number, &req.insurer_number),
        (&mut header.insurance_card_symbol, &req.insurance_card_symbol),
        (&mut header.insured_person_identification_number, &req.insured_person_identification_number),
        (&mut header.branch_number, &req.branch_number),
        (&mut header.birthdate, &req.birthdate),
        (&mut header.start_date, &req.start_date),
        (&mut header.end_date, &req.end_date),
    ] {
        to.clone_from(from);
    }
    header.file_category = req.file_category.clone();
    header.medical_treatment_flag = req.medical_treatment_flag.clone();
    header
}

/// Only the XML forms are produced: the simulator has no PDF renderer.
fn require_xml(header: &MessageHeader) -> Result<(), Refusal> {
    match header.file_category {
        None | Some(FileCategory::Xml | FileCategory::MedicationDiagnosisXml) => Ok(()),
        Some(ref other) => Err(Refusal::new(
            codes::UNSUPPORTED,
            format!("ファイル区分 {} （PDF）はこのシミュレーターでは返せません。XML（2 または 4）で照会してください。", other.code()),
            format!("file category {} (PDF) is not produced by this simulator; ask for XML (2 or 4)", other.code()),
        )),
    }
}

/// A viewing request must say where the patient is treated (issue 16):
/// outpatient, home visit (居宅同意取得型), online or emergency. The answer
/// echoes it, and the gateway's request log records it.
fn require_treatment(header: &MessageHeader) -> Result<(), Refusal> {
    match &header.medical_treatment_flag {
        Some(f) if f.is_known() => Ok(()),
        Some(f) => Err(Refusal::new(
            codes::INVALID,
            format!("診療区分 {} は使えません。1（外来）・2（訪問診療）・3（オンライン診療）・4（救急）のどれかにしてください。", f.code()),
            format!("treatment setting {} is not known; use 1 (outpatient), 2 (home visit), 3 (online) or 4 (emergency)", f.code()),
        )),
        None => Err(Refusal::new(
            codes::INVALID,
            "診療区分（MedicalTreatmentFlag）がありません。外来・訪問診療・オンライン診療のどれで閲覧するかを入れてください。",
            "the treatment setting (MedicalTreatmentFlag) is missing; say whether this viewing is for an outpatient, a home visit or an online consultation",
        )),
    }
}

/// Finds the person and checks the consent (and, for medication with
/// diagnosis, the diagnosis consent too): the person id on success.
fn admitted(conn: &Connection, req: &Msg<InfoRequestBody>, history: History, date: &str) -> Result<String, Refusal> {
    require_xml(&req.header)?;
    require_treatment(&req.header)?;
    let person = person_of(conn, &search_of(&req.header), date)?;
    require_consent(conn, &person, history, date)?;
    if req.header.file_category == Some(FileCategory::MedicationDiagnosisXml) {
        // 診療情報 needs its own consent; the registry holds no diagnoses, so
        // the answer then carries the medication part only.
        let row: Option<(String, Option<String>)> = conn
            .prepare_cached("SELECT flag, available_time FROM consents WHERE person_id = ?1 AND kind = 'diagnosis'")?
            .query_row(params![person], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let (flag, until) = row.map_or((None, None), |(f, u)| (Some(ConsentFlag::from_code(&f)), as_timestamp(u)));
        if !matches!(consent_status(flag.as_ref(), until.as_deref(), date), ConsentStatus::Given { .. }) {
            return Err(Refusal::new(
                codes::NO_CONSENT,
                "患者さんは診療情報の閲覧に同意していない（または同意の期限切れ）ため、薬剤・診療情報は返せません。薬剤情報だけ（ファイル区分 2）で照会してください。",
                "the patient has not agreed (or no longer agrees) to share diagnosis information; ask for medication only (file category 2)",
            ));
        }
    }
    Ok(person)
}

/// A registry quantity as the XML writes it: `28`, not `28.0`.
fn quantity(q: f64) -> String {
    if q.fract() == 0.0 { format!("{q:.0}") } else { q.to_string() }
}

/// `YZKsiquc01req` → `YZKsiquc01res`: the months between `StartDate` and
/// `EndDate` (inclusive; open when absent), newest first, grouped by
/// dispensing date.
pub(super) fn medication(
    conn: &Connection,
    req: &Msg<InfoRequestBody>,
    now: &str,
    encoding: Encoding,
) -> Result<Msg<MedicationResultBody>, Refusal> {
    in_transaction(conn, || {
        let date = check_date(&req.header, now);
        let person = admitted(conn, req, History::Medication, date)?;
        let from = req.header.start_date.as_deref().unwrap_or("000000");
        let to = req.header.end_date.as_deref().unwrap_or("999999");
        let mut stmt = conn.prepare_cached(
            "SELECT month, dispensed_on, drug_code, drug_name, quantity, unit, usage, days FROM medications
             WHERE person_id = ?1 AND month BETWEEN ?2 AND ?3 ORDER BY month DESC, dispensed_on DESC, rowid",
        )?;
        let rows = stmt.query_map(params![person, from, to], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                Drug {
                    code: r.get(2)?,
                    name: r.get(3)?,
                    quantity: Some(quantity(r.get(4)?)),
                    unit: r.get(5)?,
                    usage: r.get(6)?,
                    days: Some(r.get::<_, i64>(7)?.to_string()),
                    times: None,
                },
            ))
        })?;
        let mut months: Vec<MedicationMonth> = Vec::new();
        for row in rows {
            let (month, day, drug) = row?;
            if months.last().is_none_or(|m| m.year_month.as_deref() != Some(month.as_str())) {
                months.push(MedicationMonth { year_month: Some(month), days: Vec::new() });
            }
            let Some(m) = months.last_mut() else { continue };
            if m.days.last().is_none_or(|d| d.date.as_deref() != Some(day.as_str())) {
                m.days.push(DispensingDay { date: Some(day), ..Default::default() });
            }
            if let Some(d) = m.days.last_mut() {
                d.drugs.push(drug);
            }
        }
        Ok(Msg {
            header: info_header(&req.header, now, encoding),
            body: MedicationResultBody { result_code: Some("1".into()), months, ..Default::default() },
        })
    })
}

/// One measured item: (code, name, unit, value, at or above this is 要注意).
/// Codes are those of the 特定健診 result layout as far as public samples
/// show them; the thresholds are the 保健指導判定値.
type ItemSpec = (&'static str, &'static str, &'static str, Option<f64>, Option<f64>);

/// `TKKsiquc01req` → `TKKsiquc01res`: every health check, oldest first.
pub(super) fn checkup(
    conn: &Connection,
    req: &Msg<InfoRequestBody>,
    now: &str,
    encoding: Encoding,
) -> Result<Msg<CheckupResultBody>, Refusal> {
    in_transaction(conn, || {
        let date = check_date(&req.header, now);
        let person = admitted(conn, req, History::Checkup, date)?;
        let mut stmt = conn.prepare_cached(
            "SELECT checked_on, height_cm, weight_kg, bmi, systolic, diastolic, hba1c, ldl FROM health_checks
             WHERE person_id = ?1 ORDER BY checked_on, rowid",
        )?;
        let rows = stmt.query_map(params![person], |r| {
            let f = |i: usize| r.get::<_, Option<f64>>(i);
            // The 17-character 特定健診 item codes (JLAC10-based; the method
            // digits pick one method: blood pressure "other", HbA1c NGSP by
            // immunoassay, LDL by direct visible absorbance), checked against
            // the public item list as used by several health-check systems.
            let specs: [ItemSpec; 7] = [
                ("9N001000000000001", "身長", "cm", f(1)?, None),
                ("9N006000000000001", "体重", "kg", f(2)?, None),
                ("9N011000000000001", "BMI", "kg/m2", f(3)?, Some(25.0)),
                ("9A755000000000001", "収縮期血圧", "mmHg", f(4)?, Some(130.0)),
                ("9A765000000000001", "拡張期血圧", "mmHg", f(5)?, Some(85.0)),
                ("3D046000001906202", "HbA1c（NGSP値）", "%", f(6)?, Some(5.6)),
                ("3F077000002327101", "LDLコレステロール", "mg/dL", f(7)?, Some(120.0)),
            ];
            let items = specs
                .iter()
                .filter_map(|&(code, name, unit, value, limit)| {
                    let value = value?;
                    Some(CheckupItem {
                        code: Some(code.into()),
                        name: Some(name.into()),
                        value: Some(quantity(value)),
                        unit: Some(unit.into()),
                        judgement: limit.filter(|l| value >= *l).map(|_| "要注意".into()),
                    })
                })
                .collect();
            Ok(Checkup { date: r.get(0)?, institution: None, items })
        })?;
        let checkups = rows.collect::<Result<Vec<_>, _>>()?;
        Ok(Msg {
            header: info_header(&req.header, now, encoding),
            body: CheckupResultBody { result_code: Some("1".into()), checkups, ..Default::default() },
        })
    })
}

/// `OQSsiimm01req` → `OQSsiimm01res`: stores the clinic's patient id for the
/// person the search names (replacing an earlier one of this institution),
/// so later results carry it as `ReferenceNumber`. Needs a writable registry.
pub(super) fn register(
    conn: &Connection,
    req: &Msg<Registration>,
    now: &str,
    encoding: Encoding,
) -> Result<Msg<Registration>, Refusal> {
    let institution = req.header.medical_institution_code.as_deref().unwrap_or_default();
    // IMMEDIATE: the lookup and the write see one state, and waiting for
    // another writer goes through the busy timeout instead of failing.
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let body = register_one(&tx, institution, &req.body, check_date(&req.header, now))?;
    tx.commit()?;
    let mut header = result_header(&req.header, now, encoding, SegmentOfResult::Normal);
    header.reference_classification = None;
    Ok(Msg { header, body })
}

/// `OQSmuimm01req`: every entry registered as [`register`] would, in one
/// transaction. An entry that cannot be registered (nobody matches, several
/// do, an empty number) is an error *unit* and the others still count, as
/// the bulk form promises; only a registry failure refuses the whole file.
/// The result is what `OQSmuimm02req` later downloads: one unit per entry,
/// in the request's order.
pub(super) fn register_bulk(
    conn: &Connection,
    req: &Msg<BulkRegistrationBody>,
    now: &str,
) -> Result<BulkRegistrationBody, Refusal> {
    let institution = req.header.medical_institution_code.as_deref().unwrap_or_default();
    let date = check_date(&req.header, now);
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let mut units = Vec::with_capacity(req.body.units.len());
    for unit in &req.body.units {
        units.push(match register_one(&tx, institution, unit, date) {
            Ok(done) => done,
            Err(refusal) if refusal.code == codes::REGISTRY => return Err(refusal),
            Err(refusal) => Registration {
                search: unit.search.clone(),
                reference_number: unit.reference_number.clone(),
                processing_result_status: Some(ProcessingResultStatus::Error),
                processing_result_code: Some(refusal.code.to_string()),
                processing_result_message: Some(format!("{} / {}", refusal.message.ja, refusal.message.en)),
                ..Default::default()
            },
        });
    }
    tx.commit()?;
    let failed = units.iter().any(|u| u.processing_result_status != Some(ProcessingResultStatus::Normal));
    Ok(BulkRegistrationBody {
        // 1 when every entry went in; 2 (with the units saying which) when some did not.
        processing_result_status: Some(if failed { ProcessingResultStatus::Error } else { ProcessingResultStatus::Normal }),
        units,
        ..Default::default()
    })
}

/// One registration inside the caller's write transaction: the unit as the
/// result carries it, or why this entry was refused.
fn register_one(tx: &Connection, institution: &str, unit: &Registration, date: &str) -> Result<Registration, Refusal> {
    let reference = unit.reference_number.as_deref().map(str::trim).unwrap_or_default();
    if reference.is_empty() || reference.chars().count() > 20 {
        return Err(Refusal::new(
            codes::INVALID,
            "照会番号（ReferenceNumber）は 1〜20 文字で指定してください。",
            "the reference number (ReferenceNumber) must be 1 to 20 characters",
        ));
    }
    let search = unit.search.clone().unwrap_or_default();
    let person = person_of(tx, &search, date)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS reference_numbers(
           institution TEXT NOT NULL, person_id TEXT NOT NULL REFERENCES people, reference_number TEXT NOT NULL,
           PRIMARY KEY(institution, person_id))",
    )?;
    tx.execute(
        "INSERT INTO reference_numbers VALUES (?1, ?2, ?3)
         ON CONFLICT(institution, person_id) DO UPDATE SET reference_number = excluded.reference_number",
        params![institution, person, reference],
    )?;
    Ok(Registration {
        search: Some(search),
        reference_number: Some(reference.to_string()),
        processing_result_status: Some(ProcessingResultStatus::Normal),
        ..Default::default()
    })
}
