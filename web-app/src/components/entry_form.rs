//! The insurance-card / 資格確認書 entry form: where the patient is
//! treated, the document in hand, five
//! fields in tab order, a live verdict under each, Enter submits from any
//! field, Esc clears.

use onshi_core::protocol::{PresentedDocument, Treatment};
use yew::prelude::*;

use super::{bi, one, tx};
use crate::i18n::{t, Lang, Tx};
use crate::state::{EntryForm, Field, Notice};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub form: EntryForm,
    pub notice: Option<Notice>,
    pub sending: bool,
    pub on_type: Callback<(Field, String)>,
    pub on_limit: Callback<bool>,
    pub on_document: Callback<PresentedDocument>,
    /// Where the patient is treated (shared with the card panel).
    pub treatment: Treatment,
    pub on_treatment: Callback<Treatment>,
    pub on_submit: Callback<()>,
    pub on_clear: Callback<()>,
}

fn label(f: Field) -> Tx {
    match f {
        Field::Insurer => t::F_INSURER,
        Field::Symbol => t::F_SYMBOL,
        Field::Number => t::F_NUMBER,
        Field::Branch => t::F_BRANCH,
        Field::Birth => t::F_BIRTH,
    }
}

fn placeholder(f: Field) -> &'static str {
    match f {
        Field::Insurer => "06132013",
        Field::Symbol => "記号01",
        Field::Number => "0012",
        Field::Branch => "01",
        Field::Birth => "S35.1.5 / 19600105",
    }
}

#[function_component(EntryFormView)]
pub fn entry_form(p: &Props) -> Html {
    // Enter submits from any field: a form-level key handler, so the order
    // of fields never matters. (Esc is the shell's: it works wherever the focus is.)
    let onkeydown = {
        let submit = p.on_submit.clone();
        Callback::from(move |e: KeyboardEvent| match e.key().as_str() {
            // Enter on a button activates that button (e.g. 消去), not submit.
            "Enter" if e.target_dyn_into::<web_sys::HtmlInputElement>().is_some() => {
                e.prevent_default();
                submit.emit(());
            }
            _ => {}
        })
    };
    let onsubmit = p.on_submit.reform(|e: SubmitEvent| e.prevent_default());
    let fields = Field::ALL.iter().map(|&f| {
        let v = p.form.verdict(f);
        let oninput = p.on_type.reform(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            (f, input.value())
        });
        let verdict_id = format!("{}-verdict", f.id());
        let wide = matches!(f, Field::Insurer | Field::Number | Field::Birth);
        html! {
            <div class={classes!("field", wide.then_some("wide"), format!("f-{}", f.id()))}>
                <label for={f.id()}>{tx(p.lang, label(f))}</label>
                <input id={f.id()} type="text" autocomplete="off" spellcheck="false"
                    inputmode={if matches!(f, Field::Insurer | Field::Branch) { "numeric" } else { "text" }}
                    placeholder={placeholder(f)} value={p.form.get(f).to_string()} oninput={oninput}
                    aria-describedby={verdict_id.clone()} aria-invalid={(v.tone == crate::state::Tone::Invalid).to_string()}
                    autofocus={f == Field::Insurer} />
                <div id={verdict_id} class={classes!("verdict", v.tone.as_str())} data-state={v.tone.as_str()}
                    role="status" aria-live="polite">
                    <p>{bi(p.lang, &v.message)}</p>
                </div>
            </div>
        }
    });
    let on_limit = p.on_limit.reform(|e: Event| {
        let input: web_sys::HtmlInputElement = e.target_unchecked_into();
        input.checked()
    });
    // The document in hand: radio buttons (arrow keys move between them),
    // recorded with the result and the day's list.
    let documents = PresentedDocument::ALL.iter().map(|&d| {
        let id = format!("doc-{}", d.as_str());
        let on = p.on_document.reform(move |_: Event| d);
        html! {
            <label class="doc-choice" for={id.clone()}>
                <input id={id} type="radio" name="document" value={d.as_str()} checked={p.form.document == d} onchange={on} />
                {bi(p.lang, &d.label())}
            </label>
        }
    });
    let doc_hint = match p.form.document {
        PresentedDocument::EligibilityCertificate => t::DOC_HINT_CERTIFICATE,
        PresentedDocument::EligibilityNotice => t::DOC_HINT_NOTICE,
        PresentedDocument::InsuranceCard => t::DOC_HINT_CARD,
    };
    let notice = p.notice.as_ref().map(|n| {
        let class = match n {
            Notice::FixFields => "warn",
            _ => "bad",
        };
        html! { <div id="entry-notice" class={classes!("notice", class)} role="alert">{bi(p.lang, &n.text())}</div> }
    });
    html! {
        <section class="card" aria-labelledby="entry-title">
            <h2 id="entry-title">{tx(p.lang, t::ENTRY_TITLE)}</h2>
            <p class="hint">{tx(p.lang, t::ENTRY_HINT)}</p>
            <form id="entry-form" class="entry" onkeydown={onkeydown} onsubmit={onsubmit} novalidate=true>
                <super::TreatmentPicker lang={p.lang} value={p.treatment} on_change={p.on_treatment.clone()} disabled={p.sending} />
                <fieldset class="documents">
                    <legend>{tx(p.lang, t::DOC_LEGEND)}</legend>
                    { for documents }
                    <p id="document-hint" class="hint">{tx(p.lang, doc_hint)}</p>
                </fieldset>
                <div class="fields">{ for fields }</div>
                <label class="check">
                    <input id="limit-consent" type="checkbox" checked={p.form.limit_consent} onchange={on_limit} />
                    {tx(p.lang, t::F_LIMIT)}
                </label>
                { for notice }
                <div class="actions">
                    <button id="entry-submit" type="submit" class="primary" disabled={p.sending}>
                        { if p.sending { one(p.lang, t::SENDING) } else { one(p.lang, t::SUBMIT) } }
                    </button>
                    <button id="entry-clear" type="button" onclick={p.on_clear.reform(|_| ())}>{one(p.lang, t::CLEAR)}</button>
                </div>
            </form>
        </section>
    }
}
