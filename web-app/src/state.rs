//! The page's state as plain data, the actions that change it, and the
//! verdicts derived from it. Pure: no DOM, no helper calls.

use std::rc::Rc;

use onshi_core::numbers::{check_insurer, NumberError};
use onshi_core::text::{Bilingual, Explain};
use yew::Reducible;

/// What the receptionist has typed into the insurance-card entry form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EntryState {
    pub insurer: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    SetInsurer(String),
}

impl Reducible for EntryState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        match action {
            Action::SetInsurer(text) => Rc::new(EntryState { insurer: text, ..(*self).clone() }),
        }
    }
}

/// How a field's verdict should look: colour and wording follow the tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Nothing typed yet: a hint, not a complaint.
    Empty,
    /// Still typing (too few digits): neutral, counts what is there.
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

/// The live verdict on the insurer-number field, recomputed on every key.
pub fn insurer_verdict(input: &str) -> FieldVerdict {
    match check_insurer(input) {
        Ok(n) => FieldVerdict { tone: Tone::Valid, message: n.explain() },
        Err(e) => {
            let tone = match e {
                NumberError::Empty { .. } => Tone::Empty,
                NumberError::TooShort { .. } => Tone::Incomplete,
                _ => Tone::Invalid,
            };
            FieldVerdict { tone, message: e.explain() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_updates_the_insurer_field() {
        let s = Rc::new(EntryState::default());
        let s = s.reduce(Action::SetInsurer("3913".into()));
        assert_eq!(s.insurer, "3913");
    }

    #[test]
    fn verdict_tones_follow_the_typing() {
        assert_eq!(insurer_verdict("").tone, Tone::Empty);
        assert_eq!(insurer_verdict("391").tone, Tone::Incomplete);
        assert_eq!(insurer_verdict("39131156").tone, Tone::Valid);
        assert_eq!(insurer_verdict("39131157").tone, Tone::Invalid);
        assert_eq!(insurer_verdict("3913115a").tone, Tone::Invalid);
    }
}
