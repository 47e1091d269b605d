//! The diff between what a clinic has on file for a patient and a new
//! eligibility result: the list of changes that would make a claim bounce
//! (返戻) if nobody updated the record.
//!
//! Values are compared after width/space normalisation (full-width digits,
//! hyphen variants, spaces), but every change reports the verbatim values so
//! the receptionist sees exactly what was stored and what came back. This
//! module decides nothing about validity; that is `summary`.

use serde::{Deserialize, Serialize};

use crate::codes::*;
use crate::message::Qualification;
use crate::text::{Bilingual, Explain};

/// A clinic's stored insurance record for one patient (what the receipt
/// software holds). Every field is optional: clinics store what they have.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredRecord {
    pub insurer_number: Option<String>,
    pub symbol: Option<String>,
    pub number: Option<String>,
    pub branch: Option<String>,
    /// `InsuredCardClassification` code.
    pub card_classification: Option<String>,
    /// `PersonalFamilyClassification` code (1 self, 2 family).
    pub personal_family: Option<String>,
    /// Contribution ratio code (`030`).
    pub ratio: Option<String>,
    pub qualification_date: Option<String>,
    pub disqualification_date: Option<String>,
    pub card_expiration_date: Option<String>,
    pub elderly_ratio: Option<String>,
    pub elderly_valid_start: Option<String>,
    pub elderly_valid_end: Option<String>,
    /// Ceiling category flag (`A03`, `B04` …).
    pub limit_category: Option<String>,
    /// 公費負担者番号 the clinic bills.
    pub public_expense_numbers: Vec<String>,
    /// 公費受給者番号 (medical aid and other public expense).
    pub public_expense_recipient_numbers: Vec<String>,
    /// The patient's name as the clinic registered it (the spelling to keep).
    pub name: Option<String>,
    pub name_kana: Option<String>,
    /// `YYYYMMDD`.
    pub birthdate: Option<String>,
    /// `Sex1` code (1 male, 2 female, 3 not set).
    pub sex: Option<String>,
}

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeField {
    Disqualification,
    InsurerNumber,
    Symbol,
    Number,
    Branch,
    CardClassification,
    PersonalFamily,
    Ratio,
    QualificationDate,
    CardExpirationDate,
    ElderlyRatio,
    ElderlyValidity,
    LimitCategory,
    PublicExpense,
    PublicExpenseRecipient,
    Name,
    NameKana,
    Birthdate,
    Sex,
}

/// How loudly the UI should show a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeSeverity {
    /// Worth updating, no claim impact on its own.
    Notice,
    /// Changes what is billed (ratio, ceiling, elderly certificate…).
    Important,
    /// Claims would go to the wrong payer or be refused (lost qualification, new insurer).
    Critical,
}

/// One change, with both values verbatim (`None` = not stored / not returned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: ChangeField,
    pub before: Option<String>,
    pub after: Option<String>,
    pub severity: ChangeSeverity,
    pub message: Bilingual,
    /// The stored value must stay: a ● name, or a birth date or sex that
    /// may mean the result belongs to someone else. Accepting the result
    /// never writes `after` over it ([`updated_record`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_stored: bool,
}

/// The comparison form: [`crate::text::fold_width`] (full-width ASCII →
/// ASCII, half-width katakana → full-width), hyphen, dash and long-vowel
/// variants → `-`, all spaces removed. Only for matching, never stored.
pub fn normalize(s: &str) -> String {
    crate::text::fold_width(s)
        .chars()
        .filter_map(|c| match c {
            ' ' | '\t' | '\r' | '\n' => None,
            // ー: a hyphen typed in half-width kana mode (ｰ) folds to it.
            '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' | 'ー' => Some('-'),
            c => Some(c),
        })
        .collect()
}

fn present(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !normalize(s).is_empty())
}

fn same(a: Option<&str>, b: Option<&str>) -> bool {
    match (present(a), present(b)) {
        (None, None) => true,
        (Some(a), Some(b)) => normalize(a) == normalize(b),
        _ => false,
    }
}

/// A two-digit branch: "1" stored by a clinic equals "01" returned.
fn same_branch(a: Option<&str>, b: Option<&str>) -> bool {
    let pad = |s: &str| {
        let n = normalize(s);
        if n.len() == 1 { format!("0{n}") } else { n }
    };
    match (present(a), present(b)) {
        (Some(a), Some(b)) => pad(a) == pad(b),
        (a, b) => a.is_none() && b.is_none(),
    }
}

fn show(v: Option<&str>) -> &str {
    present(v).unwrap_or("なし")
}

fn show_en(v: Option<&str>) -> &str {
    present(v).unwrap_or("none")
}

struct Builder {
    changes: Vec<Change>,
}

impl Builder {
    #[allow(clippy::too_many_arguments)]
    fn field(&mut self, field: ChangeField, severity: ChangeSeverity, before: Option<&str>, after: Option<&str>, equal: bool, ja: &str, en: &str, todo_ja: &str, todo_en: &str) {
        if equal {
            return;
        }
        let message = Bilingual::new(
            format!("{ja}が変わりました（{} → {}）。{todo_ja}", show(before), show(after)),
            format!("The {en} changed ({} → {}). {todo_en}", show_en(before), show_en(after)),
        );
        self.push(field, severity, before, after, message, false);
    }

    /// A change the receptionist must check, not apply.
    fn check(&mut self, field: ChangeField, severity: ChangeSeverity, before: Option<&str>, after: Option<&str>, message: Bilingual) {
        self.push(field, severity, before, after, message, true);
    }

    fn push(&mut self, field: ChangeField, severity: ChangeSeverity, before: Option<&str>, after: Option<&str>, message: Bilingual, keep_stored: bool) {
        self.changes.push(Change {
            field,
            before: before.map(str::to_string),
            after: after.map(str::to_string),
            severity,
            message,
            keep_stored,
        });
    }
}

const UPDATE_JA: &str = "保険情報を更新してください。";
const UPDATE_EN: &str = "Update the insurance record.";

/// Lists what changed between the stored record and a new result entry,
/// the loudest first (a lost qualification always leads).
pub fn diff(stored: &StoredRecord, new: &Qualification) -> Vec<Change> {
    use ChangeField as F;
    use ChangeSeverity::*;
    let mut b = Builder { changes: Vec::new() };

    // Lost qualification: the loudest change, with the reason when given.
    let lost = present(new.disqualification_date.as_deref());
    if lost.is_some() && !same(stored.disqualification_date.as_deref(), lost) {
        let date = lost.unwrap_or_default();
        let (rja, ren) = match &new.reason_of_loss {
            Some(r) => {
                let l = r.explain();
                (format!("（理由：{}）", l.ja), format!(" (reason: {})", l.en))
            }
            None => (String::new(), String::new()),
        };
        b.changes.push(Change {
            field: F::Disqualification,
            before: stored.disqualification_date.clone(),
            after: new.disqualification_date.clone(),
            severity: Critical,
            message: Bilingual::new(
                format!("{date}に資格を喪失しています{rja}。この保険では請求できません。新しい保険証・資格確認書を確認してください。"),
                format!("The qualification was lost on {date}{ren}. Claims to this insurance will be refused; check the patient's new card or certificate."),
            ),
            keep_stored: false,
        });
    } else if lost.is_none() && present(stored.disqualification_date.as_deref()).is_some() {
        b.field(F::Disqualification, Important, stored.disqualification_date.as_deref(), None, false,
            "資格喪失日", "disqualification date", "資格が有効に戻っています。保険情報を確かめてください。", "The qualification is active again; check the record.");
    }

    let ins_new = new.insurer_number.as_deref();
    b.field(F::InsurerNumber, Critical, stored.insurer_number.as_deref(), ins_new, same(stored.insurer_number.as_deref(), ins_new),
        "保険者番号", "insurer number", "請求先が変わります。保険情報を更新してください。", "Claims go to a different payer; update the record.");
    b.field(F::Symbol, Critical, stored.symbol.as_deref(), new.insured_card_symbol.as_deref(), same(stored.symbol.as_deref(), new.insured_card_symbol.as_deref()),
        "記号", "card symbol", UPDATE_JA, UPDATE_EN);
    b.field(F::Number, Critical, stored.number.as_deref(), new.insured_identification_number.as_deref(), same(stored.number.as_deref(), new.insured_identification_number.as_deref()),
        "番号", "insured number", UPDATE_JA, UPDATE_EN);
    b.field(F::Branch, Critical, stored.branch.as_deref(), new.insured_branch_number.as_deref(), same_branch(stored.branch.as_deref(), new.insured_branch_number.as_deref()),
        "枝番", "branch number", UPDATE_JA, UPDATE_EN);

    let card = new.card_classification.as_ref().map(|c| c.code());
    if present(card).is_some() {
        b.field(F::CardClassification, Important, stored.card_classification.as_deref(), card, same(stored.card_classification.as_deref(), card),
            "被保険者証区分", "card classification", UPDATE_JA, UPDATE_EN);
    }
    let pf = new.personal_family.as_ref().map(|c| c.code());
    if present(pf).is_some() {
        b.field(F::PersonalFamily, Important, stored.personal_family.as_deref(), pf, same(stored.personal_family.as_deref(), pf),
            "本人・家族の別", "self/family classification", "負担割合が変わることがあります。保険情報を更新してください。", "The patient's share may change; update the record.");
    }
    let ratio = new.contribution_ratio.as_deref();
    if present(ratio).is_some() {
        b.field(F::Ratio, Important, stored.ratio.as_deref(), ratio, same_ratio(stored.ratio.as_deref(), ratio),
            "負担割合", "contribution ratio", "窓口負担額が変わります。保険情報を更新してください。", "The amount the patient pays changes; update the record.");
    }
    let qd = new.qualification_date.as_deref();
    if present(qd).is_some() {
        b.field(F::QualificationDate, Notice, stored.qualification_date.as_deref(), qd, same(stored.qualification_date.as_deref(), qd),
            "資格取得日", "qualification date", UPDATE_JA, UPDATE_EN);
    }
    let exp = new.card_expiration_date.as_deref();
    if present(exp).is_some() {
        b.field(F::CardExpirationDate, Notice, stored.card_expiration_date.as_deref(), exp, same(stored.card_expiration_date.as_deref(), exp),
            "有効期限", "card expiry date", UPDATE_JA, UPDATE_EN);
    }

    // 高齢受給者証: appearing, disappearing or changing ratio/validity matters for billing.
    let elderly = new.elderly.as_ref();
    let e_ratio = elderly.and_then(|e| e.contribution_ratio.as_deref());
    b.field(F::ElderlyRatio, Important, stored.elderly_ratio.as_deref(), e_ratio, same_ratio(stored.elderly_ratio.as_deref(), e_ratio),
        "高齢受給者証の負担割合", "elderly certificate ratio", "窓口負担額が変わります。保険情報を更新してください。", "The amount the patient pays changes; update the record.");
    let e_start = elderly.and_then(|e| e.valid_start_date.as_deref());
    let e_end = elderly.and_then(|e| e.valid_end_date.as_deref());
    let before = join_period(stored.elderly_valid_start.as_deref(), stored.elderly_valid_end.as_deref());
    let after = join_period(e_start, e_end);
    b.field(F::ElderlyValidity, Important, before.as_deref(), after.as_deref(),
        same(stored.elderly_valid_start.as_deref(), e_start) && same(stored.elderly_valid_end.as_deref(), e_end),
        "高齢受給者証の有効期間", "elderly certificate validity", UPDATE_JA, UPDATE_EN);

    // 限度額適用区分: only returned with consent, so "not returned" is not a change.
    let limit = new.limit.as_ref().and_then(|l| l.classification_flag.as_ref());
    if let Some(flag) = limit {
        let code = Some(flag.code());
        if !same(stored.limit_category.as_deref(), code) {
            let label = |c: Option<&str>| c.map(|c| LimitClassificationFlag::from_code(c).explain()).map(|l| (l.ja, l.en)).unwrap_or(("なし".into(), "none".into()));
            let (bja, ben) = label(present(stored.limit_category.as_deref()));
            let (aja, aen) = label(code);
            b.changes.push(Change {
                field: F::LimitCategory,
                before: stored.limit_category.clone(),
                after: Some(flag.code().to_string()),
                severity: Important,
                message: Bilingual::new(
                    format!("限度額適用区分が変わりました（{bja} → {aja}）。高額療養費の上限額が変わります。保険情報を更新してください。"),
                    format!("The ceiling category changed ({ben} → {aen}); the monthly cap changes. Update the record."),
                ),
                keep_stored: false,
            });
        }
    }

    // 公費 (and 医療扶助): payer and recipient numbers, each compared as a set.
    let payers: Vec<&str> = new.public_expense.iter().filter_map(|t| present(t.payer_number.as_deref())).collect();
    public_numbers(&mut b, F::PublicExpense, &stored.public_expense_numbers, &payers,
        "公費負担者番号", "public-expense payer numbers", "公費の請求先が変わります。保険情報を更新してください。", "Public-expense billing changes; update the record.");
    let recipients: Vec<&str> = new.public_expense.iter().filter_map(|t| present(t.recipient_number.as_deref())).collect();
    public_numbers(&mut b, F::PublicExpenseRecipient, &stored.public_expense_recipient_numbers, &recipients,
        "公費受給者番号", "public-expense recipient numbers", "医療券・受給者証を確かめ、保険情報を更新してください。", "Check the medical ticket or recipient certificate and update the record.");

    person(&mut b, stored, new);

    b.changes.sort_by(|x, y| y.severity.cmp(&x.severity).then(x.field.cmp(&y.field)));
    b.changes
}

/// Compares numbers as sets of normalised values; numbers not returned are
/// not a change (the block may be consent-gated or simply absent).
#[allow(clippy::too_many_arguments)]
fn public_numbers(b: &mut Builder, field: ChangeField, stored: &[String], returned: &[&str], ja: &str, en: &str, todo_ja: &str, todo_en: &str) {
    if returned.is_empty() {
        return;
    }
    let set = |v: &mut Vec<String>| {
        v.sort();
        v.dedup();
    };
    let mut a: Vec<String> = stored.iter().map(|s| normalize(s)).filter(|s| !s.is_empty()).collect();
    let mut c: Vec<String> = returned.iter().map(|s| normalize(s)).collect();
    set(&mut a);
    set(&mut c);
    if a != c {
        let before = stored.join(", ");
        let after = returned.join(", ");
        b.field(field, ChangeSeverity::Important, Some(&before), Some(&after), false, ja, en, todo_ja, todo_en);
    }
}

/// The person fields, compared only when both sides have them (clinics
/// store what they have; results may omit them). A new name is an update
/// (marriage); a ● name is never one; a different birth date or sex may
/// mean the qualification is tied to someone else (紐付け誤り).
fn person(b: &mut Builder, stored: &StoredRecord, new: &Qualification) {
    use crate::person_name::{flags, same_kana, same_name};
    use ChangeField as F;
    use ChangeSeverity::*;
    let both = |a: &Option<String>, c: &Option<String>| -> Option<(String, String)> {
        Some((present(a.as_deref())?.to_string(), present(c.as_deref())?.to_string()))
    };
    if let Some((before, after)) = both(&stored.name, &new.name)
        && !same_name(&before, &after)
    {
        if flags(&after).replaced {
            b.check(F::Name, Notice, Some(&before), Some(&after), Bilingual::new(
                format!("氏名が登録と違います（登録：{before}／結果：{after}）。結果の氏名には ● があるため登録の氏名は変えません。患者さんの書類で確かめてください。"),
                format!("The name differs from the record (record: {before} / result: {after}). The result's name holds ●, so the record keeps its name; check the patient's documents."),
            ));
        } else {
            b.field(F::Name, Important, Some(&before), Some(&after), false, "氏名", "name",
                "結婚などによる変更なら保険情報を更新してください。", "If it changed (e.g. marriage), update the record.");
        }
    }
    if let Some((before, after)) = both(&stored.name_kana, &new.name_kana)
        && !same_kana(&before, &after)
    {
        b.field(F::NameKana, Notice, Some(&before), Some(&after), false, "フリガナ", "kana reading", UPDATE_JA, UPDATE_EN);
    }
    if let Some((before, after)) = both(&stored.birthdate, &new.birthdate)
        && normalize(&before) != normalize(&after)
    {
        b.check(F::Birthdate, Critical, Some(&before), Some(&after), Bilingual::new(
            format!("生年月日が登録と違います（登録：{before}／結果：{after}）。別の方の資格と紐付いている可能性があります。本人確認書類で確かめ、登録は変えずに保険者へ確認してください。"),
            format!("The birth date differs from the record (record: {before} / result: {after}). The qualification may be tied to someone else; check an ID document, keep the record and ask the insurer."),
        ));
    }
    let sex = new.sex1.as_ref().map(|c| c.code().to_string());
    if let Some((before, after)) = both(&stored.sex, &sex)
        && normalize(&before) != normalize(&after)
    {
        let label = |c: &str| Sex::from_code(c).explain();
        let (l0, l1) = (label(&before), label(&after));
        b.check(F::Sex, Important, Some(&before), Some(&after), Bilingual::new(
            format!("性別が登録と違います（登録：{}／結果：{}）。本人であることを確かめてから登録を直してください。", l0.ja, l1.ja),
            format!("The sex differs from the record (record: {} / result: {}). Confirm the person before changing the record.", l0.en, l1.en),
        ));
    }
}

fn same_ratio(a: Option<&str>, b: Option<&str>) -> bool {
    use crate::summary::contribution_ratio;
    match (present(a), present(b)) {
        (Some(x), Some(y)) => match (contribution_ratio(x), contribution_ratio(y)) {
            (Some(p), Some(q)) => p == q,
            _ => normalize(x) == normalize(y),
        },
        (x, y) => x.is_none() && y.is_none(),
    }
}

fn join_period(start: Option<&str>, end: Option<&str>) -> Option<String> {
    match (present(start), present(end)) {
        (None, None) => None,
        (s, e) => Some(format!("{}〜{}", s.unwrap_or(""), e.unwrap_or(""))),
    }
}

/// The stored form of a result entry (what to save after the receptionist accepts it).
pub fn record_from(q: &Qualification) -> StoredRecord {
    StoredRecord {
        insurer_number: q.insurer_number.clone(),
        symbol: q.insured_card_symbol.clone(),
        number: q.insured_identification_number.clone(),
        branch: q.insured_branch_number.clone(),
        card_classification: q.card_classification.as_ref().map(|c| c.code().to_string()),
        personal_family: q.personal_family.as_ref().map(|c| c.code().to_string()),
        ratio: q.contribution_ratio.clone(),
        qualification_date: q.qualification_date.clone(),
        disqualification_date: q.disqualification_date.clone(),
        card_expiration_date: q.card_expiration_date.clone(),
        elderly_ratio: q.elderly.as_ref().and_then(|e| e.contribution_ratio.clone()),
        elderly_valid_start: q.elderly.as_ref().and_then(|e| e.valid_start_date.clone()),
        elderly_valid_end: q.elderly.as_ref().and_then(|e| e.valid_end_date.clone()),
        limit_category: q.limit.as_ref().and_then(|l| l.classification_flag.as_ref()).map(|f| f.code().to_string()),
        public_expense_numbers: q.public_expense.iter().filter_map(|t| t.payer_number.clone()).collect(),
        public_expense_recipient_numbers: q.public_expense.iter().filter_map(|t| t.recipient_number.clone()).collect(),
        name: q.name.clone(),
        name_kana: q.name_kana.clone(),
        birthdate: q.birthdate.clone(),
        sex: q.sex1.as_ref().map(|c| c.code().to_string()),
    }
}

/// The record to keep after the receptionist accepts a result: the result's
/// values, except where the diff says the stored value must stay (a ● name,
/// a birth date or sex that may belong to someone else). A ● name never
/// becomes the record's name, even when nothing was stored before.
pub fn updated_record(stored: Option<&StoredRecord>, q: &Qualification) -> StoredRecord {
    let mut out = record_from(q);
    if out.name.as_deref().is_some_and(|n| crate::person_name::flags(n).replaced) {
        out.name = stored.and_then(|s| s.name.clone());
    }
    let Some(stored) = stored else { return out };
    for c in diff(stored, q).iter().filter(|c| c.keep_stored) {
        match c.field {
            ChangeField::Name => out.name = stored.name.clone(),
            ChangeField::Birthdate => out.birthdate = stored.birthdate.clone(),
            ChangeField::Sex => out.sex = stored.sex.clone(),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ElderlyCertificate, LimitCertificate, MedicalTicket};

    fn entry() -> Qualification {
        Qualification {
            insurer_number: Some("06132013".into()),
            insured_card_symbol: Some("記号01".into()),
            insured_identification_number: Some("1234".into()),
            insured_branch_number: Some("01".into()),
            card_classification: Some(InsuredCardClassification::General),
            personal_family: Some(PersonalFamilyClassification::Insured),
            contribution_ratio: Some("030".into()),
            qualification_date: Some("20200401".into()),
            ..Default::default()
        }
    }

    #[test]
    fn same_record_has_no_changes_even_with_width_and_space_differences() {
        let stored = StoredRecord {
            insurer_number: Some("０６１３２０１３".into()),
            symbol: Some("記号０１".into()),
            number: Some(" 1234 ".into()),
            branch: Some("1".into()),
            card_classification: Some("01".into()),
            personal_family: Some("1".into()),
            ratio: Some("030".into()),
            qualification_date: Some("20200401".into()),
            ..Default::default()
        };
        assert_eq!(diff(&stored, &entry()), []);
        assert_eq!(diff(&record_from(&entry()), &entry()), []);
    }

    #[test]
    fn hyphen_variants_and_leading_zeros() {
        let mut e = entry();
        e.insured_identification_number = Some("12\u{2010}34".into());
        let stored = StoredRecord { number: Some("12-34".into()), ..record_from(&entry()) };
        assert!(diff(&stored, &e).iter().all(|c| c.field != ChangeField::Number));
        // Leading zeros matter in 番号.
        let stored = StoredRecord { number: Some("01234".into()), ..record_from(&entry()) };
        let changes = diff(&stored, &entry());
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].field, changes[0].before.as_deref(), changes[0].after.as_deref()), (ChangeField::Number, Some("01234"), Some("1234")));
    }

    #[test]
    fn lost_qualification_is_loudest_and_first() {
        let mut e = entry();
        e.insurer_number = Some("01130012".into());
        e.disqualification_date = Some("20250331".into());
        e.reason_of_loss = Some(ReasonOfLoss::OtherInsurance);
        let changes = diff(&record_from(&entry()), &e);
        assert_eq!(changes[0].field, ChangeField::Disqualification);
        assert_eq!(changes[0].severity, ChangeSeverity::Critical);
        assert!(changes[0].message.ja.contains("20250331") && changes[0].message.ja.contains("他の保険の資格取得"), "{}", changes[0].message.ja);
        assert_eq!(changes[1].field, ChangeField::InsurerNumber);
        assert!(changes[1].message.ja.starts_with("保険者番号が変わりました（06132013 → 01130012）"), "{}", changes[1].message.ja);
    }

    #[test]
    fn billing_fields() {
        let mut e = entry();
        e.contribution_ratio = Some("020".into());
        e.elderly = Some(ElderlyCertificate { contribution_ratio: Some("020".into()), valid_start_date: Some("20250801".into()), valid_end_date: Some("20260731".into()), ..Default::default() });
        e.limit = Some(LimitCertificate { classification_flag: Some(LimitClassificationFlag::B04), ..Default::default() });
        e.public_expense = vec![MedicalTicket { payer_number: Some("54016027".into()), ..Default::default() }];
        let stored = StoredRecord { limit_category: Some("B05".into()), ..record_from(&entry()) };
        let fields: Vec<_> = diff(&stored, &e).iter().map(|c| (c.field, c.severity)).collect();
        use ChangeField::*;
        use ChangeSeverity::Important;
        assert_eq!(fields, [(Ratio, Important), (ElderlyRatio, Important), (ElderlyValidity, Important), (LimitCategory, Important), (PublicExpense, Important)]);
        let limit = diff(&stored, &e).into_iter().find(|c| c.field == LimitCategory).unwrap();
        assert!(limit.message.ja.contains("低所得Ⅱ → 一般"), "{}", limit.message.ja);
    }

    #[test]
    fn absent_consent_gated_data_is_not_a_change() {
        let stored = StoredRecord { limit_category: Some("A03".into()), ..record_from(&entry()) };
        assert_eq!(diff(&stored, &entry()), []);
    }

    #[test]
    fn requalified_patient() {
        let stored = StoredRecord { disqualification_date: Some("20240331".into()), ..record_from(&entry()) };
        let c = diff(&stored, &entry());
        assert_eq!((c.len(), c[0].field, c[0].severity), (1, ChangeField::Disqualification, ChangeSeverity::Important));
    }

    fn person_entry() -> Qualification {
        Qualification {
            name: Some("髙橋　一郎".into()),
            name_kana: Some("タカハシ　イチロウ".into()),
            birthdate: Some("19800102".into()),
            sex1: Some(Sex::Male),
            ..entry()
        }
    }

    #[test]
    fn a_replaced_name_matching_the_record_is_no_change_and_never_overwrites() {
        let stored = record_from(&person_entry());
        let mut e = person_entry();
        e.name = Some("●橋 一郎".into());
        e.name_kana = Some("ﾀｶﾊｼ ｲﾁﾛｳ".into());
        assert_eq!(diff(&stored, &e), []);
        let kept = updated_record(Some(&stored), &e);
        assert_eq!(kept.name.as_deref(), Some("髙橋　一郎"));
        // With nothing stored, the ● name is not stored either.
        assert_eq!(updated_record(None, &e).name, None);
    }

    #[test]
    fn a_replaced_name_that_differs_is_a_check_not_an_update() {
        let stored = record_from(&person_entry());
        let mut e = person_entry();
        e.name = Some("●田 一郎".into());
        e.name_kana = Some("ﾔﾏﾀﾞ ｲﾁﾛｳ".into());
        let c = diff(&stored, &e);
        let name = c.iter().find(|c| c.field == ChangeField::Name).unwrap();
        assert!(name.keep_stored && name.severity == ChangeSeverity::Notice, "{name:?}");
        assert!(name.message.ja.contains("登録の氏名は変えません"), "{}", name.message.ja);
        assert!(c.iter().any(|c| c.field == ChangeField::NameKana && !c.keep_stored));
        let kept = updated_record(Some(&stored), &e);
        assert_eq!((kept.name.as_deref(), kept.name_kana.as_deref()), (Some("髙橋　一郎"), Some("ﾔﾏﾀﾞ ｲﾁﾛｳ")));
    }

    #[test]
    fn a_new_name_after_marriage_is_an_update() {
        let stored = record_from(&person_entry());
        let mut e = person_entry();
        e.name = Some("佐藤　一郎".into());
        let c = diff(&stored, &e);
        assert_eq!((c.len(), c[0].field, c[0].severity, c[0].keep_stored), (1, ChangeField::Name, ChangeSeverity::Important, false));
        assert_eq!(updated_record(Some(&stored), &e).name.as_deref(), Some("佐藤　一郎"));
    }

    #[test]
    fn a_different_birth_date_or_sex_is_a_linking_warning_that_keeps_the_record() {
        let stored = record_from(&person_entry());
        let mut e = person_entry();
        e.birthdate = Some("19810102".into());
        e.sex1 = Some(Sex::Female);
        let c = diff(&stored, &e);
        assert_eq!(c[0].field, ChangeField::Birthdate);
        assert_eq!((c[0].severity, c[0].keep_stored), (ChangeSeverity::Critical, true));
        assert!(c[0].message.ja.contains("紐付いている可能性"), "{}", c[0].message.ja);
        let sex = c.iter().find(|c| c.field == ChangeField::Sex).unwrap();
        assert!(sex.keep_stored && sex.message.ja.contains("男") && sex.message.ja.contains("女"), "{}", sex.message.ja);
        let kept = updated_record(Some(&stored), &e);
        assert_eq!((kept.birthdate.as_deref(), kept.sex.as_deref()), (Some("19800102"), Some("1")));
    }

    #[test]
    fn person_fields_missing_on_either_side_are_not_changes() {
        let stored = StoredRecord { name: None, birthdate: None, ..record_from(&person_entry()) };
        let mut e = person_entry();
        e.name = Some("別人　花子".into());
        e.birthdate = Some("20000101".into());
        assert!(diff(&stored, &e).iter().all(|c| !matches!(c.field, ChangeField::Name | ChangeField::Birthdate)));
        let mut e = person_entry();
        e.name_kana = None;
        e.sex1 = None;
        assert_eq!(diff(&record_from(&person_entry()), &e), []);
    }

    #[test]
    fn medical_aid_recipient_numbers() {
        let mut e = entry();
        e.public_expense = vec![MedicalTicket { payer_number: Some("12136017".into()), recipient_number: Some("1234567".into()), ..Default::default() }];
        let stored = record_from(&e);
        assert_eq!(diff(&stored, &e), []);
        let mut moved = e.clone();
        moved.public_expense[0].recipient_number = Some("7654321".into());
        let c = diff(&stored, &moved);
        assert_eq!((c.len(), c[0].field), (1, ChangeField::PublicExpenseRecipient));
        assert!(c[0].message.ja.starts_with("公費受給者番号が変わりました（1234567 → 7654321）"), "{}", c[0].message.ja);
    }
}
