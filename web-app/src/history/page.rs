//! The consented-history page: medication by month and dispensing date,
//! then health-check results — each drawn only from a `Section::Shown`,
//! which exists only while the consent is valid at the given "now".

use std::rc::Rc;

use onshi_core::message::Qualification;
use onshi_core::text::Bilingual;
use yew::prelude::*;

use super::state::{checkup_view, medication_view, CheckupView, MonthGroup, Section};

#[derive(Properties, PartialEq)]
pub struct HistoryPageProps {
    /// The patient's entry from today's eligibility result (holds the consents).
    pub qualification: Rc<Qualification>,
    /// `YYYYMMDDHHmmss` (or `YYYYMMDD`): the page's clock, passed in.
    pub now: AttrValue,
    /// The `medication_fetch` reply's document, once fetched.
    #[prop_or_default]
    pub medication_xml: Option<AttrValue>,
    /// The `checkup_fetch` reply's document, once fetched.
    #[prop_or_default]
    pub checkup_xml: Option<AttrValue>,
    /// Ask the shell to send `medication_fetch`.
    #[prop_or_default]
    pub on_fetch_medication: Callback<()>,
    /// Ask the shell to send `checkup_fetch`.
    #[prop_or_default]
    pub on_fetch_checkup: Callback<()>,
    /// The setting of the check on screen, sent with each fetch.
    #[prop_or_default]
    pub treatment: onshi_core::protocol::Treatment,
}

pub(super) fn bi(b: &Bilingual) -> Html {
    html! { <><span class="ja" lang="ja">{b.ja.clone()}</span><span class="en" lang="en">{b.en.clone()}</span></> }
}

pub(super) fn bi2(ja: &str, en: &str) -> Html {
    bi(&Bilingual::new(ja, en))
}

fn until_line(until: &Option<String>) -> Html {
    let text = match until.as_deref().map(|u| &u[..u.len().min(8)]).and_then(|d| onshi_core::wareki::format_yyyymmdd(d).ok()) {
        Some(d) => Bilingual::new(format!("同意あり：{d}まで閲覧できます"), format!("Consent given: viewable until {d}")),
        None => Bilingual::new("同意あり", "Consent given"),
    };
    html! { <p class="consent ok">{bi(&text)}</p> }
}

/// The parts every section shares: blocked / not loaded / failed.
fn section_frame<T>(id: &str, section: &Section<T>, on_fetch: &Callback<()>, shown: impl FnOnce(&T) -> Html) -> Html {
    match section {
        Section::Blocked { message, .. } => html! {
            <div id={format!("{id}-blocked")} class="verdict incomplete" role="note" data-state="blocked">{bi(message)}</div>
        },
        Section::NotLoaded { until } => {
            let cb = on_fetch.clone();
            html! { <>
                {until_line(until)}
                <button id={format!("{id}-fetch")} onclick={Callback::from(move |_: MouseEvent| cb.emit(()))}>
                    {bi2("取得する", "Fetch")}</button>
            </> }
        }
        Section::Failed(message) => html! {
            <div id={format!("{id}-failed")} class="verdict invalid" role="alert">{bi(message)}</div>
        },
        Section::Shown { until, content } => html! { <>{until_line(until)}{shown(content)}</> },
    }
}

// `&Vec`: passed as `fn(&T)` to `section_frame`, where T is the section's loaded value.
#[allow(clippy::ptr_arg)]
pub(super) fn medication_html(months: &Vec<MonthGroup>) -> Html {
    if months.is_empty() {
        return html! { <p class="hint">{bi2("この期間の薬剤情報はありません。", "No medication in this period.")}</p> };
    }
    html! {
        <div id="medication-list" data-state="shown">
        {for months.iter().map(|m| html! {
            <section class="month" data-month={m.month.clone()}>
                <h4>{m.label.clone()}</h4>
                {for m.days.iter().map(|d| html! {
                    <div class="day" data-date={d.date.clone()}>
                        <h5>{d.label.clone()}</h5>
                        {for d.dispensings.iter().map(|x| html! {
                            <table class="drugs">
                                <caption>{x.institution.clone()}</caption>
                                <thead><tr><th>{bi2("薬剤名", "Drug")}</th><th>{bi2("用量・用法", "Dose")}</th><th>{bi2("日数", "Days")}</th></tr></thead>
                                <tbody>
                                {for x.drugs.iter().map(|g| html! {
                                    <tr><td>{g.name.clone()}</td><td>{g.dose.clone()}</td><td class="num">{g.days.clone()}</td></tr>
                                })}
                                </tbody>
                            </table>
                        })}
                    </div>
                })}
            </section>
        })}
        </div>
    }
}

#[allow(clippy::ptr_arg)] // as `medication_html`
pub(super) fn checkup_html(checkups: &Vec<CheckupView>) -> Html {
    if checkups.is_empty() {
        return html! { <p class="hint">{bi2("特定健診の結果はありません。", "No health-check results.")}</p> };
    }
    html! {
        <div id="checkup-list" data-state="shown">
        {for checkups.iter().map(|c| html! {
            <table class="checkup">
                <caption>{format!("{}　{}", c.label, c.institution)}</caption>
                <thead><tr><th>{bi2("項目", "Item")}</th><th>{bi2("結果", "Result")}</th><th>{bi2("判定", "Judgement")}</th></tr></thead>
                <tbody>
                {for c.items.iter().map(|(name, value, judgement)| html! {
                    <tr class={classes!((!judgement.is_empty()).then_some("flag"))}>
                        <td>{name.clone()}</td><td class="num">{value.clone()}</td><td>{judgement.clone()}</td>
                    </tr>
                })}
                </tbody>
            </table>
        })}
        </div>
    }
}

#[function_component(HistoryPage)]
pub fn history_page(p: &HistoryPageProps) -> Html {
    let medication = medication_view(&p.qualification, &p.now, p.medication_xml.as_deref());
    let checkup = checkup_view(&p.qualification, &p.now, p.checkup_xml.as_deref());
    let name = p.qualification.name.clone().unwrap_or_default();
    html! {
        <section class="card history" aria-labelledby="history-title">
            <h2 id="history-title">{bi2("同意済みの情報", "Consented history")}{" "}<span class="who">{name}</span></h2>
            // Away from the desk the request says so (MedicalTreatmentFlag); the viewer should know.
            if p.treatment != onshi_core::protocol::Treatment::Outpatient {
                <p id="history-treatment" class="notice warn" data-treatment={p.treatment.as_str()}>
                    {bi(&Bilingual::new(
                        format!("{}として照会します（この確認の診療の場）。", p.treatment.label().ja),
                        format!("Asked as a {} (where this check was made).", p.treatment.label().en),
                    ))}
                </p>
            }
            <section id="medication" class="part">
                <h3>{bi2("薬剤情報（月別・調剤日別）", "Medication (by month and dispensing date)")}</h3>
                {section_frame("medication", &medication, &p.on_fetch_medication, medication_html)}
            </section>
            <section id="checkup" class="part">
                <h3>{bi2("特定健診の結果", "Health-check results")}</h3>
                {section_frame("checkup", &checkup, &p.on_fetch_checkup, checkup_html)}
            </section>
        </section>
    }
}
