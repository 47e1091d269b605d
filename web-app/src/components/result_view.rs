//! The result: a banner read at a glance (outcome + reason), then the
//! details with changed rows highlighted, consents, warnings, and the diff
//! against the clinic's stored record. Prints as a slip (@media print).

use onshi_core::diff::ChangeSeverity;
use onshi_core::protocol::CertificateState;
use yew::prelude::*;

use super::{bi, one, tx};
use crate::i18n::{t, Lang};
use crate::state::result::{outcome_class, outcome_title, DiffView, NameAlert};
use crate::state::{RecordSource, Shown};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub shown: Option<Shown>,
    pub has_loaded_record: bool,
    /// A file input changed: the shell reads it (components do no I/O).
    pub on_result_file: Callback<web_sys::HtmlInputElement>,
    pub on_stored_file: Callback<web_sys::HtmlInputElement>,
    pub on_forget_stored: Callback<()>,
    pub on_print: Callback<()>,
}

fn severity_class(s: ChangeSeverity) -> &'static str {
    match s {
        ChangeSeverity::Notice => "notice-change",
        ChangeSeverity::Important => "important-change",
        ChangeSeverity::Critical => "critical-change",
    }
}

/// The name drawn with each ● marked, so the eye finds it at once.
fn marked_name(name: &str) -> Html {
    let replaced = onshi_core::person_name::REPLACED;
    html! {
        { for name.split_inclusive(replaced).map(|part| match part.strip_suffix(replaced) {
            Some(before) => html! { <>{before.to_string()}<mark class="replaced">{replaced}</mark></> },
            None => html! { {part.to_string()} },
        }) }
    }
}

/// ● or characters outside JIS X 0208 in the name: what it means, what to
/// do, and the kana large (what the receptionist reads out to the patient).
fn name_alert(lang: Lang, a: &NameAlert) -> Html {
    html! {
        <section id="name-alert" class="name-alert" role="note" data-replaced={a.replaced.to_string()}>
            <div class="name-pair">
                if let Some(k) = &a.kana {
                    <div class="kana-large" lang="ja">{k.clone()}</div>
                }
                <div class="name-shown" lang="ja">{marked_name(&a.name)}</div>
                if let Some(r) = &a.registered {
                    <div id="name-registered" class="name-registered">
                        {bi(lang, &onshi_core::text::Bilingual::new(format!("登録済みの氏名：{r}"), format!("Name on file: {r}")))}
                    </div>
                }
            </div>
            <p class="advice">{bi(lang, &a.advice)}</p>
        </section>
    }
}

#[function_component(ResultView)]
pub fn result_view(p: &Props) -> Html {
    let lang = p.lang;
    let file = |id: &'static str, label, cb: &Callback<web_sys::HtmlInputElement>| {
        let on = cb.reform(|e: Event| e.target_unchecked_into::<web_sys::HtmlInputElement>());
        html! {
            <label class="file button">
                {one(lang, label)}
                <input id={id} type="file" accept=".xml,text/xml,application/xml" onchange={on} />
            </label>
        }
    };
    let tools = html! {
        <div class="actions no-print">
            {file("load-result", t::LOAD_RESULT, &p.on_result_file)}
            {file("load-stored", t::LOAD_STORED, &p.on_stored_file)}
            if p.has_loaded_record {
                <button type="button" onclick={p.on_forget_stored.reform(|_| ())}>{"×"}</button>
            }
            <button id="print" type="button" onclick={p.on_print.reform(|_| ())}>{one(lang, t::PRINT)}</button>
        </div>
    };
    let body = match &p.shown {
        None => html! { <p class="empty">{tx(lang, t::RESULT_NONE)}</p> },
        Some(Shown { model: Err(e), .. }) => html! {
            <div id="result-banner" class="banner bad" data-outcome="unreadable" role="alert">{bi(lang, e)}</div>
        },
        Some(Shown { model: Ok(m), certificate, .. }) => {
            let o = m.summary.outcome;
            // The card's certificate: "qualification only" in the grace, or the renewal reminder.
            let certificate = certificate.as_ref().map(|c| {
                let grace = c.state == CertificateState::LapsedGrace;
                let title = if grace { t::CERT_GRACE_TITLE } else { t::CERT_SOON_TITLE };
                let state = if grace { "lapsed_grace" } else { "expires_soon" };
                html! {
                    <div id="result-certificate" class={classes!("notice", if grace { "warn" } else { "info" })} data-state={state} role="status">
                        <h3>{tx(lang, title)}</h3>
                        <p>{bi(lang, &c.message)}</p>
                    </div>
                }
            });
            let o_word = format!("{o:?}");
            let entries = m.entries.iter().map(|e| html! {
                <div class="entry-view">
                    <table class="details">
                        <caption>{tx(lang, t::DETAILS)}</caption>
                        <tbody>
                        { for e.rows.iter().map(|r| html! {
                            <tr class={classes!(r.changed.map(severity_class), r.changed.map(|_| "changed"))}>
                                <th>{tx(lang, r.label)}</th>
                                <td>{bi(lang, &r.value)}</td>
                            </tr>
                        }) }
                        </tbody>
                    </table>
                    <table class="consent-list">
                        <caption>{tx(lang, t::CONSENT_LIST)}</caption>
                        <tbody>
                        { for e.consents.iter().map(|c| {
                            let given = matches!(c.status, onshi_core::summary::ConsentStatus::Given { .. });
                            html! {
                                <tr class={classes!(given.then_some("given"))}>
                                    <th>{tx(lang, c.label)}</th>
                                    <td>{bi(lang, &c.text)}</td>
                                </tr>
                            }
                        }) }
                        </tbody>
                    </table>
                </div>
            });
            let diff = match &m.diff {
                DiffView::NoRecord => html! { <p class="muted">{tx(lang, t::DIFF_NO_RECORD)}</p> },
                DiffView::Compared { source, changes } => {
                    let src = match source {
                        RecordSource::Today => t::DIFF_FROM_TODAY,
                        RecordSource::File => t::DIFF_FROM_FILE,
                    };
                    html! {
                        <>
                        <p class="muted">{tx(lang, src)}</p>
                        if changes.is_empty() {
                            <p class="same">{tx(lang, t::DIFF_NONE)}</p>
                        } else {
                            <ul class="changes">
                            { for changes.iter().map(|c| html! {
                                <li class={classes!(severity_class(c.severity), c.keep_stored.then_some("keep"))}
                                    data-field={format!("{:?}", c.field)} data-keep={c.keep_stored.to_string()}>
                                    {bi(lang, &c.message)}
                                </li>
                            }) }
                            </ul>
                        }
                        </>
                    }
                }
            };
            html! {
                <>
                <div id="result-banner" class={classes!("banner", outcome_class(o))} data-outcome={o_word} role="status">
                    <div class="headline">{bi(lang, &outcome_title(o))}</div>
                    <div class="reason">{bi(lang, &m.summary.reason)}</div>
                </div>
                { for certificate }
                if let Some(a) = &m.name_alert {
                    {name_alert(lang, a)}
                }
                if !m.warnings.is_empty() {
                    <section class="warnings" aria-label={one(lang, t::WARNINGS)}>
                        <ul>{ for m.warnings.iter().map(|w| html! { <li>{bi(lang, w)}</li> }) }</ul>
                    </section>
                }
                <section id="result-diff" class="diff">
                    <h3>{tx(lang, t::DIFF_TITLE)}</h3>
                    {diff}
                </section>
                { for entries }
                </>
            }
        }
    };
    html! {
        <section class="card result slip" aria-labelledby="result-title">
            <h2 id="result-title">{tx(lang, t::RESULT_TITLE)}</h2>
            {tools}
            {body}
        </section>
    }
}
