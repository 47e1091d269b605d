//! The My Number card check as data: verification mode, the patient's five
//! consent choices, and where the flow is. Pure.

use onshi_core::protocol::{CardConfirm, CardRegister, ConfirmMode, Consents, PinCancel, ProtocolError, Response};

use crate::i18n::{t, Tx};

/// The five consent categories of core `Consents`, in screen order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Medication,
    DiagnosisProcedure,
    HealthCheck,
    LimitCertificate,
    SpecifiedDisease,
}

impl Consent {
    pub const ALL: [Consent; 5] =
        [Consent::Medication, Consent::DiagnosisProcedure, Consent::HealthCheck, Consent::LimitCertificate, Consent::SpecifiedDisease];

    /// The plain-words explanation shown next to the checkbox.
    pub fn label(self) -> Tx {
        match self {
            Consent::Medication => t::C_MEDICATION,
            Consent::DiagnosisProcedure => t::C_DIAGNOSIS,
            Consent::HealthCheck => t::C_CHECKUP,
            Consent::LimitCertificate => t::C_LIMIT,
            Consent::SpecifiedDisease => t::C_DISEASE,
        }
    }

    /// One or two words, for lists (the desk's rows).
    pub fn short(self) -> Tx {
        match self {
            Consent::Medication => t::CS_MEDICATION,
            Consent::DiagnosisProcedure => t::CS_DIAGNOSIS,
            Consent::HealthCheck => t::CS_CHECKUP,
            Consent::LimitCertificate => t::CS_LIMIT,
            Consent::SpecifiedDisease => t::CS_DISEASE,
        }
    }

    /// "同意：薬剤・健診" / "Consented: medication, health checks", or "同意なし".
    pub fn summary(c: &Consents) -> onshi_core::text::Bilingual {
        let given: Vec<Tx> = Consent::ALL.iter().filter(|k| k.get(c)).map(|k| k.short()).collect();
        if given.is_empty() {
            return t::NO_CONSENT.bi();
        }
        let ja: Vec<&str> = given.iter().map(|x| x.ja).collect();
        let en: Vec<&str> = given.iter().map(|x| x.en).collect();
        onshi_core::text::Bilingual::new(
            format!("{}：{}", t::CONSENTED.ja, ja.join("・")),
            format!("{}: {}", t::CONSENTED.en, en.join(", ")),
        )
    }

    pub fn id(self) -> &'static str {
        match self {
            Consent::Medication => "consent-medication",
            Consent::DiagnosisProcedure => "consent-diagnosis",
            Consent::HealthCheck => "consent-checkup",
            Consent::LimitCertificate => "consent-limit",
            Consent::SpecifiedDisease => "consent-disease",
        }
    }

    pub fn get(self, c: &Consents) -> bool {
        match self {
            Consent::Medication => c.medication,
            Consent::DiagnosisProcedure => c.diagnosis_procedure,
            Consent::HealthCheck => c.health_check,
            Consent::LimitCertificate => c.limit_certificate,
            Consent::SpecifiedDisease => c.specified_disease,
        }
    }

    fn slot(self, c: &mut Consents) -> &mut bool {
        match self {
            Consent::Medication => &mut c.medication,
            Consent::DiagnosisProcedure => &mut c.diagnosis_procedure,
            Consent::HealthCheck => &mut c.health_check,
            Consent::LimitCertificate => &mut c.limit_certificate,
            Consent::SpecifiedDisease => &mut c.specified_disease,
        }
    }
}

/// Where the card check is.
#[derive(Debug, Clone, PartialEq)]
pub enum CardStep {
    Idle,
    /// `card_confirm` sent; reading the card.
    Reading,
    /// The helper waits for the PIN in the extension's window.
    WaitingPin { tries_left: u8, confirm_id: String },
    /// Querying the eligibility system (after the PIN, or in visual mode).
    Querying,
    /// A result arrived (shown in the result view).
    Done,
    /// The card is now registered for insurance use; the check runs again.
    Registered,
    Failed(ProtocolError),
}

impl CardStep {
    /// 0–100 for the progress bar.
    pub fn percent(&self) -> u8 {
        match self {
            CardStep::Idle | CardStep::Failed(_) | CardStep::Registered => 0,
            CardStep::Reading => 25,
            CardStep::WaitingPin { .. } => 50,
            CardStep::Querying => 75,
            CardStep::Done => 100,
        }
    }

    pub fn busy(&self) -> bool {
        matches!(self, CardStep::Reading | CardStep::WaitingPin { .. } | CardStep::Querying)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CardFlow {
    pub mode: ConfirmMode,
    pub consents: Consents,
    pub step: CardStep,
    /// The last result said the card is not registered for insurance use.
    pub offer_registration: bool,
    /// The flow in progress is a `card_register`, not a check (the PIN
    /// step says "registration").
    pub registering: bool,
}

impl Default for CardFlow {
    fn default() -> Self {
        CardFlow { mode: ConfirmMode::Pin, consents: Consents::default(), step: CardStep::Idle, offer_registration: false, registering: false }
    }
}

impl CardFlow {
    pub fn toggle(&mut self, c: Consent) {
        let slot = c.slot(&mut self.consents);
        *slot = !*slot;
    }

    /// Give up waiting for the PIN (the page's cancel button).
    pub fn cancel_request(&self) -> Option<PinCancel> {
        match &self.step {
            CardStep::WaitingPin { confirm_id, .. } => Some(PinCancel { confirm_id: confirm_id.clone() }),
            _ => None,
        }
    }

    /// The request the start button sends.
    pub fn request(&self) -> CardConfirm {
        // The treatment setting is the page's: `AppState::card_request` sets it.
        CardConfirm { mode: self.mode, consents: self.consents, reader: None, treatment: Default::default() }
    }

    /// The request the registration button sends: always with the PIN
    /// (registration needs it), with the consents chosen on screen.
    pub fn register_request(&self) -> CardRegister {
        CardRegister { consents: self.consents, reader: None }
    }

    /// Whether the registration button may be pressed now.
    pub fn can_register(&self) -> bool {
        self.offer_registration && !self.step.busy()
    }

    /// After a `card_register` reply: the card check to run again (the
    /// same mode and consents), or nothing when registration failed.
    pub fn recheck_after(&self, reply: &Result<Response, ProtocolError>) -> Option<CardConfirm> {
        matches!(reply, Ok(Response::CardRegister(_))).then(|| self.request())
    }
}
