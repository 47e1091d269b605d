//! Today's desk: the checks done today (kept by the helper), their outcome
//! at a glance, and a search by name, kana or number.

use onshi_core::protocol::ConfirmKind;
use yew::prelude::*;

use super::{bi, one, tx};
use crate::i18n::{t, Lang};
use crate::state::desk::search;
use crate::state::result::{outcome_class, outcome_title};
use crate::state::TodayRow;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub rows: Vec<TodayRow>,
    pub loaded: bool,
    pub query: AttrValue,
    pub on_search: Callback<String>,
    pub on_open: Callback<String>,
    pub on_reload: Callback<()>,
}

fn how(k: ConfirmKind) -> crate::i18n::Tx {
    match k {
        ConfirmKind::CardPin => t::HOW_PIN,
        ConfirmKind::CardVisual => t::HOW_VISUAL,
        ConfirmKind::Insurance => t::HOW_INSURANCE,
        ConfirmKind::Face => t::HOW_FACE,
    }
}

#[function_component(Desk)]
pub fn desk(p: &Props) -> Html {
    let lang = p.lang;
    let oninput = p.on_search.reform(|e: InputEvent| e.target_unchecked_into::<web_sys::HtmlInputElement>().value());
    let rows = search(&p.rows, &p.query);
    let body = if rows.is_empty() && p.rows.is_empty() {
        let msg = if p.loaded { t::DESK_EMPTY } else { t::DESK_NEEDS_HELPER };
        html! { <p class="empty">{tx(lang, msg)}</p> }
    } else {
        html! {
            <table class="today">
                <thead><tr>
                    <th>{one(lang, t::COL_TIME)}</th><th>{one(lang, t::COL_HOW)}</th><th>{one(lang, t::COL_NAME)}</th>
                    <th>{one(lang, t::COL_NUMBER)}</th><th>{one(lang, t::COL_OUTCOME)}</th>
                </tr></thead>
                <tbody>
                { for rows.iter().map(|r| {
                    let id = r.entry_id.clone();
                    let open = p.on_open.reform(move |_: MouseEvent| id.clone());
                    let outcome = r.outcome.map(|o| html! {
                        <span class={classes!("pill", outcome_class(o))}>{lang.order(&outcome_title(o)).0.to_string()}</span>
                    });
                    html! {
                        <tr data-entry={r.entry_id.clone()}>
                            <td>{r.time().to_string()}
                                { for r.desk.as_ref().map(|d| html! { <div class="desk-name" data-desk={d.clone()}>{d.clone()}</div> }) }</td>
                            <td>{one(lang, how(r.kind))}
                                { for r.document.map(|d| html! { <div class="document" data-document={d.as_str()}>{lang.order(&d.label()).0.to_string()}</div> }) }
                                { for r.treatment.filter(|t| *t != onshi_core::protocol::Treatment::Outpatient).map(|t| html! {
                                    <span class="treatment-badge" data-treatment={t.as_str()}>{lang.order(&t.label()).0.to_string()}</span>
                                }) }
                                { for r.consents.map(|c| html! { <div class="consents-given">{lang.order(&crate::state::Consent::summary(&c)).0.to_string()}</div> }) }</td>
                            <td><button type="button" class="link" onclick={open}>{if r.name.is_empty() { "—".to_string() } else { r.name.clone() }}</button>
                                <div class="kana">{r.kana.clone()}</div></td>
                            <td class="mono">{format!("{} / {}", r.insurer, r.number)}</td>
                            <td>{ for outcome }</td>
                        </tr>
                    }
                }) }
                </tbody>
            </table>
        }
    };
    html! {
        <section class="card" aria-labelledby="desk-title">
            <h2 id="desk-title">{tx(lang, t::DESK_TITLE)}</h2>
            <div class="actions">
                <input id="desk-search" type="search" placeholder={one(lang, t::DESK_SEARCH)} aria-label={one(lang, t::DESK_SEARCH)}
                    value={p.query.clone()} oninput={oninput} />
                <button id="desk-reload" type="button" onclick={p.on_reload.reform(|_| ())}>{one(lang, t::DESK_RELOAD)}</button>
            </div>
            {body}
            <p class="muted">{bi(lang, &onshi_core::text::Bilingual::new(
                format!("{}件", p.rows.len()), format!("{} checks", p.rows.len())))}</p>
        </section>
    }
}
