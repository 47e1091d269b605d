//! The My Number card check: where the patient is treated (none in an
//! online consultation), reader/card state, PIN or visual mode, the
//! patient's five consent choices in plain words, progress, and the offer
//! to register the card for insurance use (a button that sends
//! `card_register`) when the check answered `card_not_registered`.

use onshi_core::protocol::{ConfirmMode, Treatment};
use yew::prelude::*;

use super::{bi, one, tx};
use crate::i18n::{t, Lang};
use crate::state::{CardFlow, CardStep, Consent, Lamp};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub card: CardFlow,
    /// The reader and card lamps of the status strip.
    pub reader: Lamp,
    pub card_lamp: Lamp,
    pub on_mode: Callback<ConfirmMode>,
    pub on_toggle: Callback<Consent>,
    pub on_start: Callback<()>,
    /// Stop waiting for the PIN (sends `pin_cancel`).
    pub on_cancel: Callback<()>,
    /// Go to the insurance-card entry instead.
    pub on_entry: Callback<()>,
    /// Register the card for insurance use (sends `card_register`).
    pub on_register: Callback<()>,
    /// Where the patient is treated (shared with the entry form).
    pub treatment: Treatment,
    pub on_treatment: Callback<Treatment>,
}

#[function_component(CardPanel)]
pub fn card_panel(p: &Props) -> Html {
    let lang = p.lang;
    let c = &p.card;
    let mode = |m: ConfirmMode, id: &'static str, title, help| {
        let on = p.on_mode.reform(move |_: Event| m);
        html! {
            <label class={classes!("mode", (c.mode == m).then_some("chosen"))}>
                <input type="radio" name="card-mode" id={id} checked={c.mode == m} onchange={on} disabled={c.step.busy()} />
                <strong>{tx(lang, title)}</strong>
                <span class="help">{tx(lang, help)}</span>
            </label>
        }
    };
    let consents = Consent::ALL.iter().map(|&k| {
        let on = p.on_toggle.reform(move |_: Event| k);
        html! {
            <li><label class="check">
                <input type="checkbox" id={k.id()} checked={k.get(&c.consents)} onchange={on} disabled={c.step.busy()} />
                {tx(lang, k.label())}
            </label></li>
        }
    });
    let step = match &c.step {
        CardStep::Idle => None,
        CardStep::Reading => Some(("info", t::STEP_WAIT_CARD.bi())),
        CardStep::WaitingPin { tries_left, .. } if *tries_left <= 1 => Some(("bad", t::LAST_TRY.bi())),
        CardStep::WaitingPin { tries_left, .. } => {
            let ask = if c.registering { t::STEP_REGISTER_PIN } else { t::STEP_PIN };
            Some(("info", onshi_core::text::Bilingual::new(
                format!("{}（残り{tries_left}回）", ask.ja), format!("{} ({tries_left} tries left)", ask.en))))
        }
        CardStep::Querying => Some(("info", t::STEP_QUERY.bi())),
        CardStep::Done => None,
        CardStep::Registered => Some(("good", t::STEP_REGISTERED.bi())),
        // Not a failure of the card: the next step (the photo check) is in the message.
        CardStep::Failed(e) if e.code == onshi_core::protocol::ErrorCode::CertificateInGrace => Some(("warn", e.message.clone())),
        CardStep::Failed(e) => Some(("bad", e.message.clone())),
    };
    let lamp = |l: &Lamp| html! {
        <div class={classes!("lamp", "big", l.light.as_str())} data-light={l.light.as_str()}>
            <span class="dot" aria-hidden="true"></span>
            <strong>{one(lang, l.label)}{"："}{lang.order(&l.state).0.to_string()}</strong>
            <span class="todo">{bi(lang, &l.todo)}</span>
        </div>
    };
    html! {
        <section class="card" aria-labelledby="card-title">
            <h2 id="card-title">{tx(lang, t::CARD_TITLE)}</h2>
            <super::TreatmentPicker lang={lang} value={p.treatment} on_change={p.on_treatment.clone()} disabled={c.step.busy()} />
            if !p.treatment.card_possible() {
                <div id="card-online" class="notice warn" role="alert">
                    <p>{tx(lang, t::CARD_ONLINE)}</p>
                    <button id="card-online-to-numbers" type="button" onclick={p.on_entry.reform(|_| ())}>{one(lang, t::CERT_EXPIRED_ACTION)}</button>
                </div>
            }
            <div class="lamps-row">{lamp(&p.reader)}{lamp(&p.card_lamp)}</div>
            <fieldset>
                <legend>{tx(lang, t::CARD_MODE)}</legend>
                {mode(ConfirmMode::Pin, "mode-pin", t::MODE_PIN, t::MODE_PIN_HELP)}
                {mode(ConfirmMode::Visual, "mode-visual", t::MODE_VISUAL, t::MODE_VISUAL_HELP)}
            </fieldset>
            <fieldset>
                <legend>{tx(lang, t::CONSENTS)}</legend>
                <ul class="consents">{ for consents }</ul>
            </fieldset>
            <progress id="card-progress" max="100" value={c.step.percent().to_string()}></progress>
            { for step.map(|(class, text)| html! { <div id="card-step" class={classes!("notice", class)} role="status">{bi(lang, &text)}</div> }) }
            if c.offer_registration {
                <div id="card-register" class="notice warn" role="alert">
                    <h3>{tx(lang, t::REGISTER_TITLE)}</h3>
                    <p>{tx(lang, t::REGISTER_BODY)}</p>
                    // A real <button>: reachable with Tab, pressed with Enter or Space.
                    <button id="card-register-do" type="button" class="primary" disabled={!c.can_register()}
                        onclick={p.on_register.reform(|_| ())}>{one(lang, t::REGISTER_DO)}</button>
                    <button type="button" onclick={p.on_entry.reform(|_| ())}>{one(lang, t::REGISTER_ACTION)}</button>
                </div>
            }
            if matches!(&c.step, CardStep::Failed(e) if e.code == onshi_core::protocol::ErrorCode::CertificateExpired) {
                <div class="actions">
                    <button id="card-to-numbers" type="button" onclick={p.on_entry.reform(|_| ())}>{one(lang, t::CERT_EXPIRED_ACTION)}</button>
                </div>
            }
            <div class="actions">
                <button id="card-start" type="button" class="primary" disabled={c.step.busy() || !p.treatment.card_possible()} onclick={p.on_start.reform(|_| ())}>
                    {one(lang, t::CARD_START)}
                </button>
                if c.cancel_request().is_some() {
                    <button id="card-cancel" type="button" onclick={p.on_cancel.reform(|_| ())}>{one(lang, t::CARD_CANCEL)}</button>
                }
            </div>
        </section>
    }
}
