//! The 利用状況 screen (issue 16): a month picker, the month's rate, a
//! per-day stacked bar chart drawn as SVG elements (attributes and classes
//! only: the page's CSP forbids `style` attributes), the same numbers as a
//! table for screen readers and checking, the last twelve months' rates,
//! and a CSV button. Presentational: every number comes from core `usage`.

use onshi_core::usage::{Method, UsageCounts};
use yew::prelude::*;

use super::{bi, one, tx, PageError};
use crate::i18n::{t, Lang};
use crate::state::usage::{axis_top, month_label, segments, weekday, UsageView};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub view: UsageView,
    /// `YYYYMMDDHHmmss`, local.
    pub now: AttrValue,
    pub on_month: Callback<String>,
    pub on_reload: Callback<()>,
    pub on_csv: Callback<()>,
}

/// Chart geometry in SVG user units (the viewBox scales it to the width).
const W: u32 = 720;
const H: u32 = 260;
const LEFT: u32 = 40;
const BOTTOM: u32 = 24;
const TOP: u32 = 10;

fn count_cells(c: &UsageCounts) -> Html {
    let rate = c.rate();
    html! {
        <>
            { for Method::ALL.iter().map(|m| html! { <td class="num" data-method={m.key()}>{c.get(*m)}</td> }) }
            <td class="num" data-col="total">{c.total()}</td>
            <td class="num" data-col="rate">{rate.percent_text()}</td>
        </>
    }
}

fn head(lang: Lang, first: crate::i18n::Tx) -> Html {
    html! {
        <thead><tr>
            <th scope="col">{one(lang, first)}</th>
            { for Method::ALL.iter().map(|m| html! { <th scope="col" class={classes!("num", format!("head-{}", m.key()))}>{lang.order(&m.label()).0.to_string()}</th> }) }
            <th scope="col" class="num">{one(lang, t::COL_TOTAL)}</th>
            <th scope="col" class="num">{one(lang, t::COL_RATE)}</th>
        </tr></thead>
    }
}

fn chart(lang: Lang, view: &UsageView, now: &str) -> Html {
    let days = view.days(now);
    let n = days.len().max(1) as u32;
    let top = axis_top(days.iter().map(|d| d.counts.total()).max().unwrap_or(0));
    let plot_h = H - TOP - BOTTOM;
    let y = |v: u32| H - BOTTOM - (u64::from(v.min(top)) * u64::from(plot_h) / u64::from(top.max(1))) as u32;
    let slot = (W - LEFT) / n;
    let bar = (slot * 7 / 10).max(1);
    let ticks = [0, top / 2, top];
    html! {
        <svg id="usage-chart" class="usage-chart" viewBox={format!("0 0 {W} {H}")} role="img" aria-labelledby="usage-chart-title"
            preserveAspectRatio="xMidYMid meet">
            <title id="usage-chart-title">{one(lang, t::USAGE_CHART)}</title>
            { for ticks.iter().map(|v| html! {
                <g class="tick">
                    <line x1={LEFT.to_string()} x2={W.to_string()} y1={y(*v).to_string()} y2={y(*v).to_string()} class="grid" />
                    <text x={(LEFT - 4).to_string()} y={(y(*v) + 4).to_string()} text-anchor="end" class="axis">{v.to_string()}</text>
                </g>
            }) }
            { for days.iter().enumerate().map(|(i, d)| {
                let x = LEFT + i as u32 * slot + (slot - bar) / 2;
                let weekend = matches!(weekday(&d.day), Some(0 | 6));
                let label = d.day.get(6..8).unwrap_or("").trim_start_matches('0').to_string();
                html! {
                    <g class={classes!("day", weekend.then_some("weekend"))} data-day={d.day.clone()}>
                        { for segments(&d.counts).iter().map(|s| {
                            let (y0, y1) = (y(s.from), y(s.from.saturating_add(s.count)));
                            html! {
                                <rect x={x.to_string()} y={y1.to_string()} width={bar.to_string()} height={(y0 - y1).max(1).to_string()}
                                    class={format!("seg seg-{}", s.method.key())}>
                                    <title>{format!("{} {}: {}", d.day, lang.order(&s.method.label()).0, s.count)}</title>
                                </rect>
                            }
                        }) }
                        <text x={(x + bar / 2).to_string()} y={(H - 8).to_string()} text-anchor="middle" class="axis">{label}</text>
                    </g>
                }
            }) }
        </svg>
    }
}

#[function_component(UsagePage)]
pub fn usage_page(p: &Props) -> Html {
    let lang = p.lang;
    let now = p.now.as_str();
    let offered = UsageView::months_offered(now);
    let shown = p.view.month_of(now).map(|(y, m)| format!("{y:04}{m:02}")).unwrap_or_default();
    let at = offered.iter().position(|m| *m == shown);
    let step = |delta: isize| {
        let target = at.and_then(|i| i.checked_add_signed(delta)).and_then(|i| offered.get(i)).cloned();
        let on = p.on_month.clone();
        (target.is_none(), Callback::from(move |_: MouseEvent| if let Some(m) = &target { on.emit(m.clone()) }))
    };
    // The list is newest first: "previous month" is one further down it.
    let (prev_off, prev) = step(1);
    let (next_off, next) = step(-1);
    let onchange = p.on_month.reform(|e: Event| e.target_unchecked_into::<web_sys::HtmlSelectElement>().value());
    let month = p.view.month_counts(now);
    let rate = month.rate();
    let body = if p.view.reply.is_none() {
        let msg = if p.view.loading { t::USAGE_LOADING } else { t::USAGE_NEEDS_HELPER };
        html! { <p class="empty" id="usage-empty">{tx(lang, msg)}</p> }
    } else {
        let days = p.view.days(now);
        let months = p.view.reply.as_ref().map(|r| r.months.clone()).unwrap_or_default();
        html! {
            <>
                {chart(lang, &p.view, now)}
                <ul class="legend">
                    { for Method::ALL.iter().map(|m| html! {
                        <li><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect width="10" height="10" class={format!("seg-{}", m.key())} /></svg>
                            {lang.order(&m.label()).0.to_string()}</li>
                    }) }
                </ul>
                <h3>{tx(lang, t::USAGE_DAYS)}</h3>
                <div class="table-scroll">
                <table id="usage-days" class="usage">
                    {head(lang, t::COL_DAY)}
                    <tbody>
                    { for days.iter().filter(|d| d.counts.total() > 0).map(|d| html! {
                        <tr data-day={d.day.clone()}><th scope="row">{format!("{}/{}", d.day.get(4..6).unwrap_or(""), d.day.get(6..8).unwrap_or(""))}</th>{count_cells(&d.counts)}</tr>
                    }) }
                    </tbody>
                    <tfoot><tr data-month={shown.clone()}><th scope="row">{one(lang, t::COL_TOTAL)}</th>{count_cells(&month)}</tr></tfoot>
                </table>
                </div>
                <h3>{tx(lang, t::USAGE_MONTHS)}</h3>
                <div class="table-scroll">
                <table id="usage-months" class="usage">
                    {head(lang, t::COL_MONTH)}
                    <tbody>
                    { for months.iter().rev().map(|m| {
                        let (ja, en) = month_label(&m.month);
                        html! { <tr data-month={m.month.clone()}><th scope="row">{if lang == Lang::Ja { ja } else { en }}</th>{count_cells(&m.counts)}</tr> }
                    }) }
                    </tbody>
                </table>
                </div>
            </>
        }
    };
    html! {
        <section class="card usage-screen" aria-labelledby="usage-title">
            <h2 id="usage-title">{tx(lang, t::USAGE_TITLE)}</h2>
            <div class="actions">
                <button id="usage-prev" type="button" disabled={prev_off} onclick={prev}>{"◀ "}{one(lang, t::USAGE_PREV)}</button>
                <label for="usage-month">{one(lang, t::USAGE_MONTH)}</label>
                <select id="usage-month" onchange={onchange}>
                    { for offered.iter().map(|m| {
                        let (ja, en) = month_label(m);
                        html! { <option value={m.clone()} selected={*m == shown}>{if lang == Lang::Ja { ja } else { en }}</option> }
                    }) }
                </select>
                <button id="usage-next" type="button" disabled={next_off} onclick={next}>{one(lang, t::USAGE_NEXT)}{" ▶"}</button>
                <button id="usage-reload" type="button" onclick={p.on_reload.reform(|_| ())}>{one(lang, t::USAGE_RELOAD)}</button>
                <button id="usage-csv" type="button" disabled={p.view.reply.is_none()} onclick={p.on_csv.reform(|_| ())}>{one(lang, t::USAGE_CSV)}</button>
            </div>
            <PageError lang={lang} error={p.view.error.clone()} />
            <div class="usage-rate" id="usage-rate" data-card={rate.card.to_string()} data-all={rate.all.to_string()}>
                <span class="label">{tx(lang, t::USAGE_RATE)}</span>
                <strong class="value">{rate.percent_text()}</strong>
                <span class="fraction">{format!("{} / {}", rate.card, rate.all)}</span>
                <p class="note">{bi(lang, &t::USAGE_RATE_NOTE.bi())}</p>
            </div>
            {body}
        </section>
    }
}
