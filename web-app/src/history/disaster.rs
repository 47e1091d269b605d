//! The 災害時 search (issue 16): drawn only while the helper says disaster
//! mode is open. A card-less search by kana name, birth date and sex — or by
//! the insured numbers — with a required reason, and the person's medication
//! and health-check records under a red banner that says why this is
//! allowed and for which period. The form is local to this component; the
//! shell sends the request (components never call the helper).

use onshi_core::disaster::{banner, Reason, Sex};
use onshi_core::message::Message;
use onshi_core::protocol::{DisasterFound, DisasterSearch};
use onshi_core::text::Bilingual;
use yew::prelude::*;

use super::page::{bi, bi2, checkup_html, medication_html};
use super::state::{checkups, group_medication};
use crate::state::disaster::{By, DisasterForm, DisasterView, FormProblem};

#[derive(Properties, PartialEq)]
pub struct DisasterPanelProps {
    pub view: DisasterView,
    /// `YYYYMMDDHHmmss`: the page's clock (birth dates after it are refused).
    pub now: AttrValue,
    /// Ask the shell to send `disaster_search`.
    pub on_search: Callback<DisasterSearch>,
}

fn text_field(id: &'static str, label: Html, value: &str, invalid: bool, placeholder: &'static str, on: Callback<String>) -> Html {
    let oninput = on.reform(|e: InputEvent| e.target_unchecked_into::<web_sys::HtmlInputElement>().value());
    html! {
        <div class="field">
            <label for={id}>{label}</label>
            <input id={id} type="text" autocomplete="off" value={value.to_string()} {placeholder} {oninput}
                aria-invalid={invalid.then_some("true")} />
        </div>
    }
}

/// The records of the one person found, each under the red banner's words.
fn records(medication_xml: &str, checkup_xml: &str) -> Html {
    let read = |xml: &str| onshi_core::parse(xml.as_bytes()).ok().map(|p| p.message);
    let medication = read(medication_xml).as_ref().and_then(group_medication);
    let checkup = read(checkup_xml).as_ref().and_then(|m: &Message| checkups(m));
    let unreadable = || html! { <p class="verdict invalid">{bi2("記録を読み取れませんでした。", "The records could not be read.")}</p> };
    html! { <>
        <section id="disaster-medication" class="part">
            <h3>{bi2("薬剤情報（月別・調剤日別）", "Medication (by month and dispensing date)")}</h3>
            {medication.as_ref().map_or_else(unreadable, medication_html)}
        </section>
        <section id="disaster-checkup" class="part">
            <h3>{bi2("特定健診の結果", "Health-check results")}</h3>
            {checkup.as_ref().map_or_else(unreadable, checkup_html)}
        </section>
    </> }
}

#[function_component(DisasterPanel)]
pub fn disaster_panel(p: &DisasterPanelProps) -> Html {
    let form = use_state(DisasterForm::default);
    let problems = use_state(Vec::<FormProblem>::new);
    let edit = |f: fn(&mut DisasterForm, String)| {
        let form = form.clone();
        Callback::from(move |v: String| {
            let mut next = (*form).clone();
            f(&mut next, v);
            form.set(next);
        })
    };
    let onsubmit = {
        let (form, problems, on_search, now) = (form.clone(), problems.clone(), p.on_search.clone(), p.now.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            match form.request(&now) {
                Ok(req) => {
                    problems.set(Vec::new());
                    on_search.emit(req);
                }
                Err(list) => {
                    // Keyboard-first: the focus goes to the first field to fix.
                    if let Some((id, _)) = list.first() {
                        crate::services::browser::focus(id);
                    }
                    problems.set(list);
                }
            }
        })
    };
    // Keyboard-first: an answer takes the focus (and scrolls into view), so
    // the records or the "nobody / several" message are read next.
    let answered = p.view.reply.as_ref().map(|r| r.found.clone());
    use_effect_with(answered, |answered| {
        if answered.is_some() {
            // The records' own banner when there are records: their top is what is read first.
            crate::services::browser::focus("disaster-result");
            crate::services::browser::focus("disaster-result-banner");
        }
    });
    let invalid = |id: &str| problems.iter().any(|(p, _)| *p == id);
    let by_radio = |by: By, id: &'static str, label: Html| {
        let checked = form.by == by;
        let form = form.clone();
        let on = Callback::from(move |_: Event| form.set(DisasterForm { by, ..(*form).clone() }));
        html! { <label for={id}><input type="radio" name="disaster-by" {id} {checked} onchange={on} />{label}</label> }
    };
    let sex_radio = |sex: Sex, id: &'static str| {
        let checked = form.sex == Some(sex);
        let form = form.clone();
        let on = Callback::from(move |_: Event| form.set(DisasterForm { sex: Some(sex), ..(*form).clone() }));
        html! { <label for={id}><input type="radio" name="disaster-sex" {id} {checked} onchange={on} />{bi(&sex.label())}</label> }
    };
    let on_reason = {
        let form = form.clone();
        Callback::from(move |e: Event| {
            let code = e.target_unchecked_into::<web_sys::HtmlSelectElement>().value();
            form.set(DisasterForm { reason: Reason::from_code(&code), ..(*form).clone() });
        })
    };
    let Some(declaration) = p.view.open() else {
        // Closed: only a refusal's message is left to read.
        return html! {
            <section id="disaster" class="card disaster" data-state="closed">
                {for p.view.error.iter().map(|e| html! { <div id="disaster-error" class="verdict invalid" role="alert">{bi(&e.message)}</div> })}
            </section>
        };
    };
    let why = banner(declaration);
    let found = p.view.reply.as_ref().map(|r| match &r.found {
        DisasterFound::Person { medication_xml, checkup_xml } => html! {
            <div id="disaster-result" tabindex="-1" data-state="person">
                <div id="disaster-result-banner" class="disaster-banner" role="note" tabindex="-1">{bi(&why)}</div>
                {records(medication_xml, checkup_xml)}
            </div>
        },
        DisasterFound::NoMatch => html! {
            <div id="disaster-result" tabindex="-1" class="verdict incomplete" role="alert" data-state="no_match">
                {bi2("該当する方がいません。カナ氏名・生年月日・性別（または保険証の番号）を確かめてください。", "Nobody matches. Check the kana name, birth date and sex (or the insurance numbers).")}
            </div>
        },
        DisasterFound::SeveralMatches => html! {
            <div id="disaster-result" tabindex="-1" class="verdict incomplete" role="alert" data-state="several_matches">
                {bi2("該当する方が複数います。取り違えを防ぐため表示しません。保険証の番号など、ほかの情報で検索してください。", "Several people match; nothing is shown, to avoid mixing people up. Search with more details, such as the insurance numbers.")}
            </div>
        },
    });
    let period = declaration.period_label();
    html! {
        <section id="disaster" class="card disaster" data-state="open" aria-labelledby="disaster-title">
            <h2 id="disaster-title">{bi2("災害時の検索（カードなし）", "Disaster-mode search (no card)")}</h2>
            <div id="disaster-banner" class="disaster-banner" role="note">
                {bi(&why)}
                <p class="period">{bi(&Bilingual::new(format!("適用期間：{}", period.ja), format!("Period: {}", period.en)))}</p>
            </div>
            <form id="disaster-form" {onsubmit} novalidate=true>
                <fieldset class="by">
                    <legend>{bi2("検索方法", "Search by")}</legend>
                    {by_radio(By::Name, "disaster-by-name", bi2("カナ氏名・生年月日・性別", "Kana name, birth date, sex"))}
                    {by_radio(By::Numbers, "disaster-by-numbers", bi2("保険証の番号・生年月日", "Insurance numbers, birth date"))}
                </fieldset>
                if form.by == By::Name {
                    {text_field("disaster-kana", bi2("カナ氏名", "Name (kana)"), &form.kana, invalid("disaster-kana"), "ヤマダ ハナコ", edit(|f, v| f.kana = v))}
                } else {
                    {text_field("disaster-insurer", bi2("保険者番号", "Insurer number"), &form.insurer_number, invalid("disaster-insurer"), "06132013", edit(|f, v| f.insurer_number = v))}
                    {text_field("disaster-symbol", bi2("記号", "Symbol"), &form.symbol, false, "", edit(|f, v| f.symbol = v))}
                    {text_field("disaster-number", bi2("番号", "Number"), &form.number, invalid("disaster-number"), "", edit(|f, v| f.number = v))}
                    {text_field("disaster-branch", bi2("枝番", "Branch"), &form.branch, false, "01", edit(|f, v| f.branch = v))}
                }
                {text_field("disaster-birth", bi2("生年月日", "Birth date"), &form.birth, invalid("disaster-birth"), "S39.3.3 / 19640303", edit(|f, v| f.birth = v))}
                if form.by == By::Name {
                    <fieldset id="disaster-sex" class="sex" aria-invalid={invalid("disaster-sex").then_some("true")}>
                        <legend>{bi2("性別", "Sex")}</legend>
                        {sex_radio(Sex::Male, "disaster-sex-male")}
                        {sex_radio(Sex::Female, "disaster-sex-female")}
                    </fieldset>
                }
                <div class="field">
                    <label for="disaster-reason">{bi2("閲覧の理由（必須）", "Reason for viewing (required)")}</label>
                    <select id="disaster-reason" required=true onchange={on_reason} aria-invalid={invalid("disaster-reason").then_some("true")}>
                        <option value="" selected={form.reason.is_none()}>{"選択してください / Choose"}</option>
                        {for Reason::ALL.iter().map(|r| html! {
                            <option value={r.code()} selected={form.reason == Some(*r)}>{format!("{} / {}", r.label().ja, r.label().en)}</option>
                        })}
                    </select>
                </div>
                if !problems.is_empty() {
                    <ul id="disaster-problems" class="verdict invalid" role="alert">
                        {for problems.iter().map(|(id, m)| html! { <li data-field={*id}>{bi(m)}</li> })}
                    </ul>
                }
                <button id="disaster-search" type="submit" disabled={p.view.searching}>{bi2("検索して表示", "Search and show")}</button>
                <p class="hint">{bi2("この閲覧は理由とともに記録されます。入力した氏名・番号は記録に残しません。", "This view is recorded with its reason. The name and numbers typed are not recorded.")}</p>
            </form>
            {for p.view.error.iter().map(|e| html! { <div id="disaster-error" class="verdict invalid" role="alert">{bi(&e.message)}</div> })}
            {for found}
        </section>
    }
}
