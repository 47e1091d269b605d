//! The insurance-card / 資格確認書 entry form: what was typed, the live
//! verdict per field (all rules from the core), and the request to send.
//! Pure: no DOM.

use onshi_core::diag::Severity;
use onshi_core::numbers::{check_insurer, NumberError};
use onshi_core::protocol::{InsuranceConfirm, InsuredPerson, PresentedDocument};
use onshi_core::text::{Bilingual, Explain};
use onshi_core::validate::{validate_search_input, SearchInput};
use onshi_core::wareki::{self, WarekiError};

/// The form's fields, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Insurer,
    Symbol,
    Number,
    Branch,
    Birth,
}

impl Field {
    pub const ALL: [Field; 5] = [Field::Insurer, Field::Symbol, Field::Number, Field::Branch, Field::Birth];

    /// The DOM id of the input (tests and labels use it).
    pub fn id(self) -> &'static str {
        match self {
            Field::Insurer => "insurer-number",
            Field::Symbol => "card-symbol",
            Field::Number => "card-number",
            Field::Branch => "card-branch",
            Field::Birth => "birth-date",
        }
    }

    /// The core's diagnostic path for this field.
    fn path(self) -> &'static str {
        match self {
            Field::Insurer => "insurer_number",
            Field::Symbol => "symbol",
            Field::Number => "number",
            Field::Branch => "branch",
            Field::Birth => "birthdate",
        }
    }
}

/// How a field's verdict looks: colour and wording follow the tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Nothing typed yet: a hint, not a complaint.
    Empty,
    /// Still typing: neutral.
    Incomplete,
    Valid,
    Invalid,
}

impl Tone {
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Empty => "empty",
            Tone::Incomplete => "incomplete",
            Tone::Valid => "valid",
            Tone::Invalid => "invalid",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldVerdict {
    pub tone: Tone,
    pub message: Bilingual,
}

impl FieldVerdict {
    fn new(tone: Tone, message: Bilingual) -> Self {
        FieldVerdict { tone, message }
    }

    /// Blocks submitting (an optional empty field does not).
    pub fn blocks(&self, field: Field) -> bool {
        match self.tone {
            Tone::Valid => false,
            Tone::Empty => matches!(field, Field::Insurer | Field::Number | Field::Birth),
            Tone::Incomplete | Tone::Invalid => true,
        }
    }
}

/// What the receptionist typed, verbatim.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryForm {
    pub insurer: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub birth: String,
    /// Ask for the ceiling category too (the patient agreed).
    pub limit_consent: bool,
    /// The document in hand (資格確認書 unless the receptionist says otherwise).
    pub document: PresentedDocument,
    /// Submit was pressed with errors: empty required fields now show red.
    pub attempted: bool,
}

impl EntryForm {
    pub fn get(&self, f: Field) -> &str {
        match f {
            Field::Insurer => &self.insurer,
            Field::Symbol => &self.symbol,
            Field::Number => &self.number,
            Field::Branch => &self.branch,
            Field::Birth => &self.birth,
        }
    }

    pub fn set(&mut self, f: Field, value: String) {
        let slot = match f {
            Field::Insurer => &mut self.insurer,
            Field::Symbol => &mut self.symbol,
            Field::Number => &mut self.number,
            Field::Branch => &mut self.branch,
            Field::Birth => &mut self.birth,
        };
        *slot = value;
    }

    /// The live verdict of one field. Required fields left empty turn red
    /// only after a submit attempt, so the form does not scold while typing.
    pub fn verdict(&self, f: Field) -> FieldVerdict {
        let v = match f {
            Field::Insurer => insurer_verdict(&self.insurer),
            Field::Birth => birth_verdict(&self.birth),
            Field::Symbol | Field::Number | Field::Branch => self.text_verdict(f),
        };
        if self.attempted && v.tone == Tone::Empty && v.blocks(f) {
            return FieldVerdict::new(Tone::Invalid, v.message);
        }
        v
    }

    /// 記号/番号/枝番: the core's search-input rules, read per field.
    fn text_verdict(&self, f: Field) -> FieldVerdict {
        let value = self.get(f).trim();
        let input = SearchInput {
            insurer_number: self.insurer.clone(),
            symbol: self.symbol.clone(),
            number: self.number.clone(),
            branch: self.branch.clone(),
            birthdate: String::new(),
        };
        let (_, diags) = validate_search_input(&input);
        if let Some(d) = diags.iter().find(|d| d.path == f.path() && d.severity == Severity::Error) {
            let tone = if value.is_empty() { Tone::Empty } else { Tone::Invalid };
            return FieldVerdict::new(tone, d.message.clone());
        }
        match (f, value.is_empty()) {
            (Field::Symbol, true) => FieldVerdict::new(Tone::Empty, Bilingual::new(
                "記号がない保険証は空欄のままで構いません。", "Leave empty if the card has no symbol.")),
            (Field::Branch, true) => FieldVerdict::new(Tone::Empty, Bilingual::new(
                "枝番（2桁）。後期高齢者・古い保険証は空欄のままで構いません。", "Branch (2 digits); leave empty for late-stage elderly or older cards.")),
            (_, _) => FieldVerdict::new(Tone::Valid, Bilingual::new(
                format!("「{value}」をそのまま送ります。"), format!("Sent as typed: \"{value}\"."))),
        }
    }

    /// The `insurance_confirm` request, or every field that stops it.
    pub fn request(&self) -> Result<InsuranceConfirm, Vec<(Field, Bilingual)>> {
        let problems: Vec<(Field, Bilingual)> = Field::ALL
            .iter()
            .filter_map(|&f| {
                let v = self.verdict(f);
                v.blocks(f).then_some((f, v.message))
            })
            .collect();
        let birth = wareki::parse(&self.birth);
        let (Ok(birth), true) = (birth, problems.is_empty()) else { return Err(problems) };
        let input = SearchInput {
            insurer_number: self.insurer.clone(),
            symbol: self.symbol.clone(),
            number: self.number.clone(),
            branch: self.branch.clone(),
            birthdate: birth.yyyymmdd(),
        };
        // The core turns what was typed into what is sent (width, padding of
        // 6-digit insurer numbers, verbatim 記号/番号); a refusal here would be
        // a core rule the verdicts above missed, so report it on its field.
        match validate_search_input(&input) {
            (Some(info), _) => Ok(InsuranceConfirm {
                insured: InsuredPerson {
                    insurer_number: info.insurer_number.unwrap_or_default().trim().to_string(),
                    symbol: info.insured_card_symbol,
                    number: info.insured_identification_number.unwrap_or_default(),
                    branch: info.insured_branch_number,
                    birth_date: info.birthdate.unwrap_or_default(),
                },
                document: Some(self.document),
                limit_certificate: self.limit_consent,
                arbitrary_id: None,
                // The page's setting, filled in by `AppState::submit_plan`.
                treatment: Default::default(),
            }),
            (None, diags) => Err(diags
                .into_iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| (Field::ALL.into_iter().find(|f| f.path() == d.path).unwrap_or(Field::Insurer), d.message))
                .collect()),
        }
    }
}

/// The live verdict on the insurer-number field.
pub fn insurer_verdict(input: &str) -> FieldVerdict {
    match check_insurer(input) {
        Ok(n) => FieldVerdict::new(Tone::Valid, n.explain()),
        Err(e) => {
            let tone = match e {
                NumberError::Empty { .. } => Tone::Empty,
                NumberError::TooShort { .. } => Tone::Incomplete,
                _ => Tone::Invalid,
            };
            FieldVerdict::new(tone, e.explain())
        }
    }
}

/// The live verdict on the birth date: 和暦 or 西暦, read by the core, and
/// echoed back in both calendars so a misread era is caught at the desk.
pub fn birth_verdict(input: &str) -> FieldVerdict {
    match wareki::parse(input) {
        Ok(d) => {
            let era = d.to_wareki().map(|w| w.kanji()).unwrap_or_default();
            FieldVerdict::new(Tone::Valid, Bilingual::new(
                format!("{}年{}月{}日（{era}）", d.year(), d.month(), d.day()),
                format!("{d} ({era})"),
            ))
        }
        Err(e) => {
            let tone = match e {
                WarekiError::Empty => Tone::Empty,
                // Half-typed dates ("R1.5") are not yet wrong.
                WarekiError::Unrecognised { .. } => Tone::Incomplete,
                _ => Tone::Invalid,
            };
            FieldVerdict::new(tone, e.explain())
        }
    }
}
