//! The result view as data: the standard result XML read by the core, its
//! verdict (core `summary`), the details a receptionist checks, the
//! warnings, and the diff against the clinic's stored record (core `diff`).
//! Pure: "now" is passed in.

use onshi_core::codes::*;
use onshi_core::diff::{diff, normalize, record_from, updated_record, Change, ChangeField, ChangeSeverity, StoredRecord};
use onshi_core::message::{Message, Qualification};
use onshi_core::protocol::PresentedDocument;
use onshi_core::summary::{ceiling_label, consent_status, ratio_label, summarize_message, ConsentStatus, Outcome, Summary};
use onshi_core::text::{Bilingual, Explain};
use onshi_core::wareki::Date;

use crate::i18n::{t, Tx};

/// Where the record compared against came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSource {
    /// An earlier result for the same person today.
    Today,
    /// An XML file the user loaded.
    File,
}

/// A clinic's stored record and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub record: StoredRecord,
    pub source: RecordSource,
}

/// One line of the details table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub label: Tx,
    pub value: Bilingual,
    /// Set when the diff says this field changed: the row is highlighted.
    pub changed: Option<ChangeSeverity>,
}

/// A consent line.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRow {
    pub label: Tx,
    pub status: ConsentStatus,
    pub text: Bilingual,
}

/// One qualification entry as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryView {
    pub rows: Vec<Row>,
    pub consents: Vec<ConsentRow>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DiffView {
    NoRecord,
    Compared { source: RecordSource, changes: Vec<Change> },
}

/// The name needs care (● or characters outside JIS X 0208): the screen
/// explains it and shows the kana large, since the kana is what the
/// receptionist can read out and check with the patient.
#[derive(Debug, Clone, PartialEq)]
pub struct NameAlert {
    pub name: String,
    pub kana: Option<String>,
    /// The name holds ● (drawn highlighted).
    pub replaced: bool,
    /// The clinic's spelling of the same name, when its record has one:
    /// the name to keep using.
    pub registered: Option<String>,
    pub advice: Bilingual,
}

/// Everything the result screen draws.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultModel {
    pub summary: Summary,
    pub entries: Vec<EntryView>,
    pub warnings: Vec<Bilingual>,
    pub diff: DiffView,
    /// The card is not registered for insurance use: offer registration.
    pub registration_needed: bool,
    /// The first entry's name needs care.
    pub name_alert: Option<NameAlert>,
    /// The first entry, as the clinic would store it (for later diffs):
    /// never a ● name, never a birth date the diff doubts.
    pub record: Option<StoredRecord>,
}

/// Days before the card's expiry from which reception is warned.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

fn bi(ja: impl Into<String>, en: impl Into<String>) -> Bilingual {
    Bilingual::new(ja, en)
}

fn none() -> Bilingual {
    t::D_NONE.bi()
}

fn text(v: Option<&str>) -> Bilingual {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => bi(s, s),
        None => none(),
    }
}

/// `20250401` → 2025年4月1日（令和7年4月1日）/ 2025-04-01.
pub fn date_text(v: Option<&str>) -> Bilingual {
    let Some(v) = v.map(str::trim).filter(|s| !s.is_empty()) else { return none() };
    match Date::parse_yyyymmdd(v) {
        Ok(d) => {
            let era = d.to_wareki().map(|w| format!("（{}）", w.kanji())).unwrap_or_default();
            bi(format!("{}年{}月{}日{era}", d.year(), d.month(), d.day()), d.to_string())
        }
        Err(_) => bi(v, v),
    }
}

fn code<C: Explain>(v: Option<&C>) -> Bilingual {
    v.map(Explain::explain).unwrap_or_else(none)
}

/// The first 8 digits of a `YYYYMMDD…` "now" as a date.
fn today_of(now: &str) -> Option<Date> {
    now.get(0..8).and_then(|d| Date::parse_yyyymmdd(d).ok())
}

/// Read a result document into what the screen shows. `now` is
/// `YYYYMMDDHHmmss` (consents expire against it); `document` is what the
/// patient handed over for a check by numbers, when known.
pub fn read_result(xml: &str, now: &str, stored: Option<&Stored>, document: Option<PresentedDocument>) -> Result<ResultModel, Bilingual> {
    let parsed = onshi_core::parse(xml.as_bytes()).map_err(|e| e.explain())?;
    let m = match &parsed.message {
        Message::IndividualResult(m) | Message::FaceResult(m) => m,
        other => {
            let k = format!("{:?}", other.kind());
            return Err(bi(
                format!("このファイルは資格確認の結果ではありません（{k}）。OQSsiquc01res の結果ファイルを選んでください。"),
                format!("This file is not an eligibility result ({k}). Choose an OQSsiquc01res result file."),
            ));
        }
    };
    let summary = summarize_message(&parsed.message).into_iter().next().ok_or_else(|| {
        bi("結果を読み取れませんでした。もう一度照会してください。", "Could not read the result. Check again.")
    })?;
    let first = m.body.results.first();
    let changes = match (stored, first) {
        (Some(s), Some(q)) => DiffView::Compared { source: s.source, changes: diff(&s.record, q) },
        _ => DiffView::NoRecord,
    };
    let changed: Vec<(ChangeField, ChangeSeverity)> = match &changes {
        DiffView::Compared { changes, .. } => changes.iter().map(|c| (c.field, c.severity)).collect(),
        DiffView::NoRecord => Vec::new(),
    };
    let entries = m
        .body
        .results
        .iter()
        .enumerate()
        .map(|(i, q)| entry_view(q, now, if i == 0 { &changed } else { &[] }))
        .collect::<Vec<_>>();
    let mut entries = entries;
    if let (Some(d), Some(first)) = (document, entries.first_mut()) {
        first.rows.insert(0, Row { label: t::D_DOCUMENT, value: d.label(), changed: None });
    }
    let mut warnings = Vec::new();
    if let Some(msg) = &summary.system_message {
        warnings.push(bi(format!("システムからのお知らせ：{msg}"), format!("Message from the system: {msg}")));
    }
    if let (Some(q), Some(today)) = (first, today_of(now)) {
        warnings.extend(expiry_warning(q, today, document));
    }
    if let (Some(PresentedDocument::InsuranceCard), Some(today)) = (document, today_of(now)) {
        warnings.extend(old_card_warning(today));
    }
    if parsed.diagnostics.iter().any(|d| d.severity == onshi_core::Severity::Error) {
        warnings.push(bi(
            "結果ファイルに形式の誤りがあります。内容を保険証でも確かめてください。",
            "The result file has format errors. Check the details against the card too.",
        ));
    }
    let registration_needed = needs_registration(&summary);
    let name_alert = first.and_then(|q| name_alert(q, stored.map(|s| &s.record)));
    let record = first.map(|q| updated_record(stored.map(|s| &s.record), q));
    Ok(ResultModel { summary, entries, warnings, diff: changes, registration_needed, name_alert, record })
}

fn name_alert(q: &Qualification, stored: Option<&StoredRecord>) -> Option<NameAlert> {
    let name = q.name.as_deref().map(str::trim).filter(|s| !s.is_empty())?;
    let flags = onshi_core::person_name::flags(name);
    let registered = stored
        .and_then(|s| s.name.as_deref())
        .map(str::trim)
        .filter(|r| !r.is_empty() && *r != name && onshi_core::person_name::same_name(r, name))
        .map(str::to_string);
    Some(NameAlert {
        name: name.to_string(),
        kana: q.name_kana.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(onshi_core::text::fold_width),
        replaced: flags.replaced,
        registered,
        advice: flags.advice()?,
    })
}

/// The card was read but is not registered for insurance use. The gateway
/// says so in the processing message; we look for its wording rather than a
/// code because the code is not public.
pub fn needs_registration(s: &Summary) -> bool {
    matches!(s.outcome, Outcome::Error | Outcome::NoMatch | Outcome::Unclear)
        && s.system_message.as_deref().is_some_and(|m| {
            m.contains("利用登録") || m.contains("未登録") || m.to_ascii_lowercase().contains("not registered")
        })
}

fn expiry_warning(q: &Qualification, today: Date, document: Option<PresentedDocument>) -> Option<Bilingual> {
    let exp = q.card_expiration_date.as_deref().and_then(|d| Date::parse_yyyymmdd(d.trim()).ok())?;
    let left = exp.days() - today.days();
    let shown = date_text(Some(&exp.yyyymmdd()));
    // The document in hand names itself; otherwise both that carry a date.
    let (what, what_en) = match document {
        Some(PresentedDocument::EligibilityCertificate) => ("資格確認書", "eligibility certificate"),
        Some(PresentedDocument::InsuranceCard) => ("保険証", "insurance card"),
        _ => ("保険証・資格確認書", "card or certificate"),
    };
    if left < 0 {
        let todo = if document == Some(PresentedDocument::EligibilityCertificate) {
            "新しい資格確認書が届いていないか患者さんに確かめ、届いていなければ加入先の保険者に問い合わせるようお伝えください。"
        } else {
            "新しいものの提示をお願いしてください。"
        };
        Some(bi(
            format!("{what}の有効期限（{}）を過ぎています。{todo}", shown.ja),
            format!("The {what_en} expired on {}. Ask for the new one (or ask the patient to contact their insurer).", shown.en),
        ))
    } else if left <= EXPIRY_WARNING_DAYS {
        Some(bi(
            format!("{what}の有効期限が近づいています（{}まで、あと{left}日）。患者さんにお伝えください。", shown.ja),
            format!("The {what_en} expires soon ({}, in {left} days). Let the patient know.", shown.en),
        ))
    } else {
        None
    }
}

/// The old 健康保険証: valid at most until 2025-12-01, then accepted under a
/// transitional measure until 2026-03-31 (domain.md §8).
fn old_card_warning(today: Date) -> Option<Bilingual> {
    let day = |y, m, d| Date::new(y, m, d).map(|d| d.days()).unwrap_or(i64::MAX);
    if today.days() > day(2026, 3, 31) {
        Some(bi(
            "従来の健康保険証は、経過措置（2026年3月31日まで）が終わり使えなくなっています。資格は今回の照会で確認できました。次回からは資格確認書かマイナ保険証をお持ちいただくようお伝えください。",
            "The old insurance card can no longer be used (the transition ended on 2026-03-31). The qualification was confirmed by this check; ask the patient to bring the eligibility certificate or their My Number card next time.",
        ))
    } else if today.days() > day(2025, 12, 1) {
        Some(bi(
            "従来の健康保険証の有効期限（2025年12月1日）は過ぎています。2026年3月31日までは経過措置で受け付けられます。資格確認書かマイナ保険証の用意をお伝えください。",
            "The old insurance card expired on 2025-12-01; it is accepted under the transition until 2026-03-31. Ask the patient to get the eligibility certificate or use their My Number card.",
        ))
    } else {
        None
    }
}

fn mark(changed: &[(ChangeField, ChangeSeverity)], fields: &[ChangeField]) -> Option<ChangeSeverity> {
    changed.iter().filter(|(f, _)| fields.contains(f)).map(|(_, s)| *s).max()
}

fn entry_view(q: &Qualification, now: &str, changed: &[(ChangeField, ChangeSeverity)]) -> EntryView {
    use ChangeField as F;
    let row = |label: Tx, value: Bilingual, fields: &[ChangeField]| Row { label, value, changed: mark(changed, fields) };
    let kana = q.name_kana.as_deref();
    let insurer = {
        let num = q.insurer_number.as_deref().map(str::trim).unwrap_or("");
        let name = q.insurer_name.as_deref().unwrap_or("");
        bi(format!("{num} {name}").trim().to_string(), format!("{num} {name}").trim().to_string())
    };
    let numbers = {
        let s = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).unwrap_or("—").to_string();
        let v = format!("{} ・ {} ・ {}", s(&q.insured_card_symbol), s(&q.insured_identification_number), s(&q.insured_branch_number));
        bi(v.clone(), v)
    };
    let ratio = q.contribution_ratio.as_deref().and_then(ratio_label).unwrap_or_else(none);
    let elderly = match &q.elderly {
        Some(e) => {
            let r = e.contribution_ratio.as_deref().and_then(ratio_label).unwrap_or_else(none);
            let (s, en) = (date_text(e.valid_start_date.as_deref()), date_text(e.valid_end_date.as_deref()));
            bi(format!("{}（{}〜{}）", r.ja, s.ja, en.ja), format!("{} ({} – {})", r.en, s.en, en.en))
        }
        None => none(),
    };
    let ceiling = match (&q.limit, ceiling_label(q)) {
        (Some(l), Some(c)) => {
            let end = date_text(l.valid_end_date.as_deref());
            bi(format!("{}（{}まで）", c.ja, end.ja), format!("{} (until {})", c.en, end.en))
        }
        _ => none(),
    };
    let disease = if q.specific_diseases.is_empty() {
        none()
    } else {
        let parts: Vec<Bilingual> = q
            .specific_diseases
            .iter()
            .map(|d| {
                let c = code(d.category.as_ref());
                let pay = d.self_pay.as_deref().map(str::trim).filter(|s| !s.is_empty());
                match pay {
                    Some(p) => bi(format!("{}（自己負担限度額 {p}円）", c.ja), format!("{} (self-pay cap ¥{p})", c.en)),
                    None => c,
                }
            })
            .collect();
        bi(parts.iter().map(|b| b.ja.as_str()).collect::<Vec<_>>().join("、"), parts.iter().map(|b| b.en.as_str()).collect::<Vec<_>>().join("; "))
    };
    let public = if q.public_expense.is_empty() {
        none()
    } else {
        let v: Vec<Bilingual> = q.public_expense.iter().map(public_text).collect();
        bi(v.iter().map(|b| b.ja.as_str()).collect::<Vec<_>>().join("\n"), v.iter().map(|b| b.en.as_str()).collect::<Vec<_>>().join("\n"))
    };
    let rows = vec![
        row(t::D_NAME, text(q.name.as_deref()), &[F::Name]),
        row(t::D_KANA, text(kana), &[F::NameKana]),
        row(t::D_BIRTH, date_text(q.birthdate.as_deref()), &[F::Birthdate]),
        row(t::D_SEX, code(q.sex1.as_ref()), &[F::Sex]),
        row(t::D_INSURER, insurer, &[F::InsurerNumber]),
        row(t::D_NUMBERS, numbers, &[F::Symbol, F::Number, F::Branch]),
        row(t::D_CARD_CLASS, code(q.card_classification.as_ref()), &[F::CardClassification]),
        row(t::D_FAMILY, code(q.personal_family.as_ref()), &[F::PersonalFamily]),
        row(t::D_RATIO, ratio, &[F::Ratio]),
        row(t::D_QUALIFIED, date_text(q.qualification_date.as_deref()), &[F::QualificationDate]),
        row(t::D_LOST, lost_text(q), &[F::Disqualification]),
        row(t::D_EXPIRES, date_text(q.card_expiration_date.as_deref()), &[F::CardExpirationDate]),
        row(t::D_ELDERLY, elderly, &[F::ElderlyRatio, F::ElderlyValidity]),
        row(t::D_CEILING, ceiling, &[F::LimitCategory]),
        row(t::D_DISEASE, disease, &[]),
        row(t::D_PUBLIC, public, &[F::PublicExpense, F::PublicExpenseRecipient]),
    ];
    let consent = |label: Tx, flag: Option<&ConsentFlag>, until: Option<&str>| {
        let status = consent_status(flag, until, now);
        ConsentRow { label, text: status.explain(), status }
    };
    let consents = vec![
        consent(t::K_MEDICATION, q.pharmacists_consent.as_ref(), q.pharmacists_available_time.as_deref()),
        consent(t::K_DIAGNOSIS, q.diagnosis_consent.as_ref(), q.diagnosis_available_time.as_deref()),
        consent(t::K_OPERATION, q.operation_consent.as_ref(), q.operation_available_time.as_deref()),
        consent(t::K_CHECKUP, q.checkup_consent.as_ref(), q.checkup_available_time.as_deref()),
        consent(t::K_LIMIT, q.limit_consent.as_ref(), None),
        consent(t::K_DISEASE, q.specific_disease_consent.as_ref(), None),
    ];
    EntryView { rows, consents }
}

/// One public-expense ticket: 公費負担者番号, 受給者番号, the issuing office
/// and the validity, each only when present.
fn public_text(p: &onshi_core::message::MedicalTicket) -> Bilingual {
    let v = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let mut ja = vec![format!("負担者番号 {}", v(&p.payer_number).unwrap_or_else(|| "—".into()))];
    let mut en = vec![format!("payer {}", v(&p.payer_number).unwrap_or_else(|| "—".into()))];
    if let Some(r) = v(&p.recipient_number) {
        ja.push(format!("受給者番号 {r}"));
        en.push(format!("recipient {r}"));
    }
    if let Some(o) = v(&p.issuer_name) {
        ja.push(format!("発行 {o}"));
        en.push(format!("issued by {o}"));
    }
    if p.valid_start_date.is_some() || p.valid_end_date.is_some() {
        let (s, e) = (date_text(p.valid_start_date.as_deref()), date_text(p.valid_end_date.as_deref()));
        let open = p.valid_end_date.as_deref().is_none_or(|d| d.trim().is_empty());
        ja.push(if open { format!("{}から", s.ja) } else { format!("{}〜{}", s.ja, e.ja) });
        en.push(if open { format!("from {}", s.en) } else { format!("{} – {}", s.en, e.en) });
    }
    bi(ja.join("・"), en.join(", "))
}

fn lost_text(q: &Qualification) -> Bilingual {
    let d = date_text(q.disqualification_date.as_deref());
    match &q.reason_of_loss {
        Some(r) => {
            let r = r.explain();
            bi(format!("{}（{}）", d.ja, r.ja), format!("{} ({})", d.en, r.en))
        }
        None => d,
    }
}

/// The comparison key of a person: insurer, symbol, number, branch, birth
/// date (normalised only for matching).
pub fn person_key(q: &Qualification) -> String {
    let n = |v: &Option<String>| normalize(v.as_deref().unwrap_or(""));
    format!("{}|{}|{}|{}", n(&q.insurer_number), n(&q.insured_card_symbol), n(&q.insured_identification_number), n(&q.birthdate))
}

/// The first qualification entry of a result document, if it is one.
pub fn first_entry(xml: &str) -> Option<Qualification> {
    match onshi_core::parse(xml.as_bytes()).ok()?.message {
        Message::IndividualResult(m) | Message::FaceResult(m) => m.body.results.into_iter().next(),
        _ => None,
    }
}

/// A stored record from a loaded XML file (a result the clinic kept).
pub fn stored_from_file(xml: &str) -> Result<Stored, Bilingual> {
    first_entry(xml).map(|q| Stored { record: record_from(&q), source: RecordSource::File }).ok_or_else(|| {
        bi(
            "このファイルから登録内容を読み取れませんでした。資格確認結果（OQSsiquc01res）のXMLを選んでください。",
            "Could not read a record from this file. Choose an eligibility result (OQSsiquc01res) XML.",
        )
    })
}

/// The summary outcome as a CSS-friendly word.
pub fn outcome_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Valid | Outcome::ValidUnregistered => "ok",
        Outcome::Invalid | Outcome::NewerQualificationExists | Outcome::Error => "bad",
        Outcome::NoMatch | Outcome::SeveralMatches | Outcome::Unclear | Outcome::StillProcessing => "warn",
    }
}

/// The banner's headline word for an outcome.
pub fn outcome_title(o: Outcome) -> Bilingual {
    let (ja, en) = match o {
        Outcome::Valid => ("有効", "Valid"),
        Outcome::ValidUnregistered => ("有効（医療扶助等）", "Valid (public assistance)"),
        Outcome::Invalid => ("無効", "Not valid"),
        Outcome::NewerQualificationExists => ("無効・新しい資格あり", "Not valid — newer qualification"),
        Outcome::NoMatch => ("該当なし", "No match"),
        Outcome::SeveralMatches => ("複数該当", "Several matches"),
        Outcome::Error => ("エラー", "Error"),
        Outcome::StillProcessing => ("処理中", "Processing"),
        Outcome::Unclear => ("要確認", "Unclear"),
    };
    bi(ja, en)
}
