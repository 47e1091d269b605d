//! Presentational components: props in, callbacks out, no service calls.
//! Every visible string is a `Bilingual` or an `i18n::t` entry, shown
//! primary-language first via [`bi`].

mod card_panel;
mod desk;
mod entry_form;
mod nav;
mod page_error;
mod placeholder;
mod result_view;
mod settings;
mod status_strip;
mod treatment;
mod usage;

pub use card_panel::CardPanel;
pub use desk::Desk;
pub use entry_form::EntryFormView;
pub use nav::Nav;
pub use page_error::PageError;
pub use placeholder::Placeholder;
pub use result_view::ResultView;
pub use settings::Settings;
pub use status_strip::StatusStrip;
pub use treatment::TreatmentPicker;
pub use usage::UsagePage;

use onshi_core::text::Bilingual;
use yew::prelude::*;

use crate::i18n::{Lang, Tx};

/// A text in the chosen language, the other one small beside it.
pub fn bi(lang: Lang, text: &Bilingual) -> Html {
    let (p, s) = lang.order(text);
    let (pl, sl) = match lang {
        Lang::Ja => ("ja", "en"),
        Lang::En => ("en", "ja"),
    };
    // Verbatim values (names, numbers) are the same in both languages: show them once.
    if p == s {
        return html! { <span class="pri">{p.to_string()}</span> };
    }
    html! { <><span class="pri" lang={pl}>{p.to_string()}</span>{" "}<span class="sec" lang={sl}>{s.to_string()}</span></> }
}

/// As [`bi`], for a fixed table entry.
pub fn tx(lang: Lang, t: Tx) -> Html {
    bi(lang, &t.bi())
}

/// Only the chosen language (buttons, column heads, where space is short).
pub fn one(lang: Lang, t: Tx) -> String {
    match lang {
        Lang::Ja => t.ja.to_string(),
        Lang::En => t.en.to_string(),
    }
}
