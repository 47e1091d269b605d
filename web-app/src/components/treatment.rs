//! Where the patient is treated (外来 / 訪問診療 / オンライン診療), chosen
//! per check above both the card panel and the entry form (issue 16).

use onshi_core::protocol::Treatment;
use yew::prelude::*;

use super::{bi, tx};
use crate::i18n::{t, Lang};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub value: Treatment,
    pub on_change: Callback<Treatment>,
    /// While a check runs the setting it was sent with must stay on screen.
    #[prop_or_default]
    pub disabled: bool,
}

#[function_component(TreatmentPicker)]
pub fn treatment_picker(p: &Props) -> Html {
    // Radio buttons: arrow keys move between them, as in the document choice.
    let choices = Treatment::DESK.iter().map(|&v| {
        let id = format!("treatment-{}", v.as_str());
        let on = p.on_change.reform(move |_: Event| v);
        html! {
            <label class={classes!("doc-choice", (p.value == v).then_some("chosen"))} for={id.clone()}>
                <input id={id} type="radio" name="treatment" value={v.as_str()} checked={p.value == v} onchange={on} disabled={p.disabled} />
                {bi(p.lang, &v.label())}
            </label>
        }
    });
    let hint = match p.value {
        Treatment::HomeVisit => t::TREATMENT_HINT_HOME,
        Treatment::Online => t::TREATMENT_HINT_ONLINE,
        Treatment::Outpatient | Treatment::Emergency => t::TREATMENT_HINT_OUTPATIENT,
    };
    html! {
        <fieldset class={classes!("documents", "treatment", (p.value != Treatment::Outpatient).then_some("away"))}
            data-treatment={p.value.as_str()}>
            <legend>{tx(p.lang, t::TREATMENT_LEGEND)}</legend>
            { for choices }
            <p id="treatment-hint" class="hint">{tx(p.lang, hint)}</p>
        </fieldset>
    }
}
