//! The My Number card check as data: verification mode, the patient's five
//! consent choices, and where the flow is. Pure.

use onshi_core::protocol::{CardConfirm, ConfirmMode, Consents, PinCancel, ProtocolError};

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
    Failed(ProtocolError),
}

impl CardStep {
    /// 0–100 for the progress bar.
    pub fn percent(&self) -> u8 {
        match self {
            CardStep::Idle | CardStep::Failed(_) => 0,
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
}

impl Default for CardFlow {
    fn default() -> Self {
        CardFlow { mode: ConfirmMode::Pin, consents: Consents::default(), step: CardStep::Idle, offer_registration: false }
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
        CardConfirm { mode: self.mode, consents: self.consents, reader: None }
    }
}
