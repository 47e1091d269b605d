//! Settings and diagnostics: each link with what to do, pairing, language.

use onshi_core::protocol::StatusReply;
use yew::prelude::*;

use super::status_strip::LampList;
use super::{bi, one, tx};
use crate::i18n::{t, Lang};
use crate::state::{Lamp, Pairing};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub lamps: Vec<Lamp>,
    pub pairing: Pairing,
    pub status: Option<StatusReply>,
    pub on_pair: Callback<()>,
    pub on_recheck: Callback<()>,
    pub on_lang: Callback<Lang>,
}

#[function_component(Settings)]
pub fn settings(p: &Props) -> Html {
    let lang = p.lang;
    let pairing = match &p.pairing {
        Pairing::Idle => html! {},
        Pairing::Waiting => html! { <p class="notice info">{"…"}</p> },
        Pairing::Code { code, .. } => html! {
            <div class="pair-code"><span>{one(lang, t::PAIR_CODE)}</span><strong id="pair-code">{code.clone()}</strong></div>
        },
        Pairing::Approved => html! { <p class="notice ok">{tx(lang, t::PAIR_DONE)}</p> },
        Pairing::Denied => html! { <p class="notice warn">{tx(lang, t::PAIR_DENIED)}</p> },
        Pairing::Failed(e) => html! { <p id="pair-error" class="notice bad">{bi(lang, &e.message)}</p> },
    };
    let versions = p.status.as_ref().map(|s| html! {
        <p class="muted">{one(lang, t::VERSIONS)}{format!(": helper {} · core {} · protocol {} · {:?}", s.helper_version, s.core_version, s.protocol_version, s.backend)}</p>
    });
    let set_lang = |l: Lang| p.on_lang.reform(move |_: MouseEvent| l);
    html! {
        <section class="card" aria-labelledby="settings-title">
            <h2 id="settings-title">{tx(lang, t::SETTINGS_TITLE)}</h2>
            <LampList lang={lang} lamps={p.lamps.clone()} />
            <div class="actions"><button id="recheck" type="button" onclick={p.on_recheck.reform(|_| ())}>{one(lang, t::RECHECK)}</button></div>
            { for versions }
            <h3>{tx(lang, t::PAIR_TITLE)}</h3>
            <p>{tx(lang, t::PAIR_HELP)}</p>
            <div class="actions"><button id="pair-start" type="button" class="primary" onclick={p.on_pair.reform(|_| ())}>{one(lang, t::PAIR_START)}</button></div>
            {pairing}
            <h3>{tx(lang, t::LANGUAGE)}</h3>
            <div class="actions">
                <button type="button" id="lang-ja" aria-pressed={(lang == Lang::Ja).to_string()} onclick={set_lang(Lang::Ja)}>{"日本語"}</button>
                <button type="button" id="lang-en" aria-pressed={(lang == Lang::En).to_string()} onclick={set_lang(Lang::En)}>{"English"}</button>
            </div>
        </section>
    }
}
