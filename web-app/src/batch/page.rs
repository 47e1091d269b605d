//! The batch page and its parts: file import, per-row report, progress and
//! the results table (virtual scrolling) with filters and export buttons.
//! Props in, callbacks out; the state lives in one reducer (`state.rs`).

use std::rc::Rc;

use onshi_core::batch_csv::{BatchCsv, Column};
use onshi_core::diag::Severity;
use onshi_core::export::{self, CsvEncoding};
use onshi_core::protocol::{BatchInfo, BatchState as HelperBatchState, BatchSubmit};
use onshi_core::text::{Bilingual, Explain};
use yew::prelude::*;

use super::dom;
use super::state::{Action, BatchState, Import, StatusFilter, TableRow, ROW_HEIGHT};

/// Height of the results viewport, CSS pixels (the stylesheet does not set it).
const TABLE_HEIGHT: f64 = 480.0;
/// Findings listed in the report; the rest are counted.
const REPORT_LIMIT: usize = 200;

#[derive(Properties, PartialEq)]
pub struct BatchPageProps {
    /// Send this as `batch_submit` (the shell owns the helper connection).
    pub on_submit: Callback<BatchSubmit>,
    /// The batch's latest `batch_status` entry while it runs.
    #[prop_or_default]
    pub status: Option<BatchInfo>,
    /// The `batch_results` document (`OQSmuquc02res` text) once done.
    #[prop_or_default]
    pub results_xml: Option<AttrValue>,
    /// The same document as the system sent it (base64): what "Export XML" writes.
    #[prop_or_default]
    pub results_received: Option<AttrValue>,
}

/// Both languages, Japanese first; CSS hides the English when asked to.
fn bi(b: &Bilingual) -> Html {
    html! { <><span class="ja" lang="ja">{b.ja.clone()}</span><span class="en" lang="en">{b.en.clone()}</span></> }
}

fn bi2(ja: &str, en: &str) -> Html {
    bi(&Bilingual::new(ja, en))
}

#[function_component(BatchPage)]
pub fn batch_page(props: &BatchPageProps) -> Html {
    let state = use_reducer(BatchState::default);
    {
        let state = state.clone();
        use_effect_with(props.results_xml.clone(), move |xml| {
            if let Some(xml) = xml {
                state.dispatch(Action::Results(Rc::from(xml.as_str())));
            }
        });
    }
    let on_file = {
        let state = state.clone();
        Callback::from(move |(file_name, bytes): (String, Vec<u8>)| {
            state.dispatch(Action::Imported { file_name, bytes: Rc::new(bytes) })
        })
    };
    let on_submit = {
        let (state, cb) = (state.clone(), props.on_submit.clone());
        Callback::from(move |_: MouseEvent| {
            if let Ok(submit) = state.submission() {
                cb.emit(submit);
                state.dispatch(Action::Submitted);
            }
        })
    };
    let dispatch = {
        let state = state.clone();
        Callback::from(move |a: Action| state.dispatch(a))
    };
    let has_results = !state.rows.is_empty();
    html! {
        <section class="card batch" aria-labelledby="batch-title">
            <h2 id="batch-title">{bi2("一括照会（翌日の予約）", "Batch pre-check (tomorrow's appointments)")}</h2>
            if !has_results {
                <FileDrop on_file={on_file} />
            }
            {match &state.import {
                Import::Empty => html! {},
                Import::Refused { file_name, error } => html! {
                    <div id="batch-refused" class="verdict invalid" role="alert" data-code={error.code()}>
                        <p><strong>{file_name.clone()}</strong></p>
                        <p class="ja" lang="ja">{error.explain().ja}</p>
                        <p class="en" lang="en">{error.explain().en}</p>
                    </div>
                },
                Import::Read { file_name, csv } if !has_results => html! {
                    <Report file_name={AttrValue::from(file_name.clone())} csv={csv.clone()}
                        date_input={AttrValue::from(state.date_input.clone())}
                        submission_error={state.submission().err()} submitted={state.submitted}
                        on_date={dispatch.reform(Action::SetDate)} on_submit={on_submit} />
                },
                Import::Read { .. } => html! {},
            }}
            if state.submitted && !has_results {
                <Progress status={props.status.clone()} />
            }
            if let Some(e) = &state.results_error {
                <div id="batch-results-error" class="verdict invalid" role="alert">{bi(e)}</div>
            }
            if has_results {
                <Results state={state.clone()} xml={props.results_xml.clone()} received={props.results_received.clone()} on_action={dispatch} />
            }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct FileDropProps {
    on_file: Callback<(String, Vec<u8>)>,
}

/// Drag & drop target that is also a file picker (a label around the input,
/// so keyboard users reach it with Tab and open it with Enter/Space).
#[function_component(FileDrop)]
fn file_drop(props: &FileDropProps) -> Html {
    let over = use_state(|| false);
    let on_change = {
        let cb = props.on_file.clone();
        Callback::from(move |e: Event| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            dom::read_first(input.files(), cb.clone());
            // Picking the same file again must fire `change` again.
            input.set_value("");
        })
    };
    let on_drop = {
        let (cb, over) = (props.on_file.clone(), over.clone());
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            over.set(false);
            dom::read_first(e.data_transfer().and_then(|d| d.files()), cb.clone());
        })
    };
    let on_over = {
        let over = over.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            over.set(true);
        })
    };
    let on_leave = {
        let over = over.clone();
        Callback::from(move |_: DragEvent| over.set(false))
    };
    html! {
        <label id="batch-drop" class={classes!("drop", (*over).then_some("over"))}
            ondrop={on_drop} ondragover={on_over} ondragleave={on_leave}>
            <input id="batch-file" type="file" accept=".csv,text/csv" onchange={on_change} />
            <span class="drop-text">
                {bi2("予約一覧のCSVをここにドロップするか、クリックして選んでください",
                     "Drop the appointments CSV here, or click to choose it")}
            </span>
            <span class="hint">{bi2("列: 保険者番号・記号・番号・枝番・生年月日・氏名・予約日・患者ID（UTF-8 / Shift_JIS）",
                "Columns: insurer, symbol, number, branch, birth, name, date, patient_id (UTF-8 / Shift_JIS)")}</span>
        </label>
    }
}

#[derive(Properties, PartialEq)]
struct ReportProps {
    file_name: AttrValue,
    csv: Rc<BatchCsv>,
    date_input: AttrValue,
    submission_error: Option<Bilingual>,
    submitted: bool,
    on_date: Callback<String>,
    on_submit: Callback<MouseEvent>,
}

fn column_label(c: Option<Column>) -> Html {
    match c {
        Some(c) => bi2(c.ja(), c.en()),
        None => html! {"—"},
    }
}

/// The per-row report shown before anything is sent.
#[function_component(Report)]
fn report(p: &ReportProps) -> Html {
    let csv = &p.csv;
    let total = csv.rows.len();
    let bad = csv.error_rows();
    let on_date = {
        let cb = p.on_date.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            cb.emit(input.value());
        })
    };
    let shown = csv.diagnostics.iter().take(REPORT_LIMIT);
    let more = csv.diagnostics.len().saturating_sub(REPORT_LIMIT);
    let date = csv.confirmation_date.as_deref().and_then(|d| onshi_core::wareki::format_yyyymmdd(d).ok());
    html! {
        <div id="batch-report" class="report" data-rows={total.to_string()} data-errors={bad.to_string()}>
            <h3>{bi2("読み込み結果", "Import report")}</h3>
            <p class="summary">
                <strong>{p.file_name.clone()}</strong>{" "}
                <span class="ja" lang="ja">{format!("{total}件中 送信できる行 {}件、エラーの行 {bad}件", total - bad)}</span>
                <span class="en" lang="en">{format!("{} of {total} rows can be sent; {bad} have errors", total - bad)}</span>
            </p>
            if bad > 0 {
                <p class="hint">{bi2("エラーの行は送信されません。元の表を直して読み込み直すか、そのまま残りを送信できます。",
                    "Rows with errors are not sent. Fix them in the source and import again, or send the rest now.")}</p>
            }
            if !csv.diagnostics.is_empty() {
                <table id="batch-findings" class="findings">
                    <thead><tr>
                        <th>{bi2("行", "Line")}</th><th>{bi2("列", "Column")}</th><th>{bi2("内容", "Finding")}</th>
                    </tr></thead>
                    <tbody>
                    {for shown.map(|d| html! {
                        <tr class={match d.severity { Severity::Error => "error", Severity::Warning => "warning", Severity::Info => "info" }}
                            data-code={d.code.clone()}>
                            <td class="num">{d.line}</td>
                            <td>{column_label(d.column)}</td>
                            <td>{bi(&d.message)}</td>
                        </tr>
                    })}
                    </tbody>
                </table>
                if more > 0 {
                    <p class="hint">{bi(&Bilingual::new(format!("ほか{more}件"), format!("and {more} more")))}</p>
                }
            }
            <div class="field">
                <label for="batch-date">{bi2("照会する日（受診日）", "Day to check for")}</label>
                <input id="batch-date" type="text" autocomplete="off"
                    placeholder={date.clone().unwrap_or_else(|| "R7.4.2".into())}
                    value={p.date_input.clone()} oninput={on_date} />
                if let Some(d) = date {
                    <p class="hint">{bi(&Bilingual::new(format!("CSVの予約日: {d}"), format!("Date in the CSV: {d}")))}</p>
                }
            </div>
            if let Some(e) = &p.submission_error {
                <p id="batch-submit-why" class="verdict incomplete">{bi(e)}</p>
            }
            <button id="batch-submit" class="primary" disabled={p.submission_error.is_some() || p.submitted}
                onclick={p.on_submit.clone()}>
                {bi(&Bilingual::new(format!("{}件を一括照会に送信", total - bad), format!("Submit {} rows", total - bad)))}
            </button>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ProgressProps {
    status: Option<BatchInfo>,
}

/// Queued → processing → done; the system gives no per-person count, so
/// the bar shows the stage (and stays honest about it).
#[function_component(Progress)]
fn progress(p: &ProgressProps) -> Html {
    let (step, text) = match p.status.as_ref().map(|s| s.state) {
        None => (0, Bilingual::new("送信しています…", "Submitting…")),
        Some(HelperBatchState::Queued) => (1, Bilingual::new("送信待ち（順番に送ります）", "Queued (sent in turn)")),
        Some(HelperBatchState::Processing) => (2, Bilingual::new(
            "照会中です。結果が出るまで数分〜数十分かかることがあります。このページを閉じても続きます。",
            "Being checked. Results can take minutes; it continues if you close this page.")),
        Some(HelperBatchState::Done) => (3, Bilingual::new("完了。結果を読み込んでいます…", "Done. Loading the results…")),
        Some(HelperBatchState::Failed) => (0, p.status.as_ref().and_then(|s| s.error.as_ref()).map(|e| e.message.clone())
            .unwrap_or_else(|| Bilingual::new("一括照会に失敗しました。もう一度送信してください。", "The batch failed. Submit it again."))),
    };
    let failed = p.status.as_ref().is_some_and(|s| s.state == HelperBatchState::Failed);
    html! {
        <div id="batch-progress" class={classes!("progress", failed.then_some("failed"))} data-step={step.to_string()}>
            <progress max="3" value={step.to_string()} aria-describedby="batch-progress-text"></progress>
            <p id="batch-progress-text" role="status" aria-live="polite">{bi(&text)}</p>
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct ResultsProps {
    state: UseReducerHandle<BatchState>,
    /// The results document, for the XML passthrough export.
    xml: Option<AttrValue>,
    /// Its bytes as received (base64), exported in its place when present.
    received: Option<AttrValue>,
    on_action: Callback<Action>,
}

/// Export buttons' work: the rows in document order, or the document itself
/// (as the system sent it, when the helper handed on its bytes).
fn export_click(state: &BatchState, what: &str, xml: Option<&str>, received: Option<&str>) {
    let result = match what {
        "csv-utf8" => dom::download("onshi-batch-results.csv", "text/csv;charset=utf-8", &export::results_csv(&state.rows_in_order(), CsvEncoding::Utf8Bom)),
        "csv-sjis" => dom::download("onshi-batch-results-sjis.csv", "text/csv;charset=shift_jis", &export::results_csv(&state.rows_in_order(), CsvEncoding::ShiftJis)),
        _ => match xml {
            Some(x) => dom::download("OQSmuquc02res.xml", "application/xml", &export::xml_file(x, received)),
            None => Ok(()),
        },
    };
    let _ = result;
}

#[function_component(Results)]
fn results(p: &ResultsProps) -> Html {
    let s = &*p.state;
    let on_status = p.on_action.reform(|e: Event| {
        let select: web_sys::HtmlSelectElement = e.target_unchecked_into();
        Action::SetStatusFilter(StatusFilter::from_value(&select.value()))
    });
    let on_text = p.on_action.reform(|e: InputEvent| {
        let input: web_sys::HtmlInputElement = e.target_unchecked_into();
        Action::SetTextFilter(input.value())
    });
    let on_scroll = p.on_action.reform(|e: Event| {
        let el: web_sys::Element = e.target_unchecked_into();
        Action::Scrolled(f64::from(el.scroll_top()))
    });
    let export = |what: &'static str| {
        let (state, xml, received) = (p.state.clone(), p.xml.clone(), p.received.clone());
        Callback::from(move |_: MouseEvent| export_click(&state, what, xml.as_deref(), received.as_deref()))
    };
    let (first, window) = s.window(TABLE_HEIGHT);
    let problems = s.problem_count();
    // Sizes go through the CSSOM after each render, not as `style={…}`:
    // the page's Content-Security-Policy drops style attributes (Yew sets
    // them with setAttribute), and CSSOM writes are what it allows.
    let (table, spacer, rows_at) = (use_node_ref(), use_node_ref(), use_node_ref());
    {
        let refs = (table.clone(), spacer.clone(), rows_at.clone());
        use_effect_with((s.visible.len(), first), move |&(shown, first)| {
            dom::set_px(&refs.0, "height", TABLE_HEIGHT);
            dom::set_px(&refs.1, "height", shown as f64 * ROW_HEIGHT);
            dom::set_px(&refs.2, "top", first as f64 * ROW_HEIGHT);
        });
    }
    html! {
        <div id="batch-results" class="results" data-total={s.rows.len().to_string()} data-shown={s.visible.len().to_string()}
            data-filter={format!("{}|{}", s.status_filter.value(), s.text_filter)}>
            <h3>{bi2("照会結果", "Results")}</h3>
            <p class="summary">
                <span class="ja" lang="ja">{format!("{}件中 要対応 {problems}件（上に表示）", s.rows.len())}</span>
                <span class="en" lang="en">{format!("{problems} of {} need attention (listed first)", s.rows.len())}</span>
            </p>
            <div class="filters" role="search">
                <label for="batch-filter-status">{bi2("判定", "Status")}</label>
                <select id="batch-filter-status" onchange={on_status}>
                    {for StatusFilter::CHOICES.iter().map(|c| html! {
                        <option value={c.value()} selected={*c == s.status_filter}>{format!("{} / {}", c.label().ja, c.label().en)}</option>
                    })}
                </select>
                <label for="batch-filter-text">{bi2("検索", "Search")}</label>
                <input id="batch-filter-text" type="search" autocomplete="off" value={s.text_filter.clone()}
                    placeholder="患者ID・氏名・番号 / id, name, number" oninput={on_text} />
                <span id="batch-shown" class="count" role="status">
                    {bi(&Bilingual::new(format!("{}件を表示", s.visible.len()), format!("{} shown", s.visible.len())))}
                </span>
                <span class="export">
                    <button id="batch-export-csv" onclick={export("csv-utf8")}>{bi2("CSV書き出し", "Export CSV")}</button>
                    <button id="batch-export-sjis" onclick={export("csv-sjis")}>{bi2("CSV（Shift_JIS）", "CSV (Shift_JIS)")}</button>
                    <button id="batch-export-xml" onclick={export("xml")}>{bi2("XML書き出し", "Export XML")}</button>
                </span>
            </div>
            <div class="vhead vrow" role="row">
                <span>{"No"}</span><span>{bi2("判定", "Status")}</span><span>{bi2("患者ID", "Patient")}</span>
                <span>{bi2("氏名", "Name")}</span><span>{bi2("保険者番号・番号", "Insurer / number")}</span>
                <span>{bi2("負担", "Ratio")}</span><span>{bi2("理由・対応", "Reason / what to do")}</span>
            </div>
            // The spacer is as tall as every shown row, so the scrollbar is
            // right; only the drawn window of rows is in it, placed at its
            // first row's offset, the rows stacked in normal flow inside.
            <div id="batch-table" class="vtable" role="table" onscroll={on_scroll} ref={table}>
                <div class="vspacer" ref={spacer}>
                    <div class="vwindow" ref={rows_at}>
                        {for window.iter().map(|&i| row_html(&s.rows[i as usize]))}
                    </div>
                </div>
            </div>
            if s.visible.is_empty() {
                <p class="hint">{bi2("条件に合う行がありません。判定や検索語を変えてください。", "No rows match. Change the status or the search.")}</p>
            }
        </div>
    }
}

fn row_html(t: &TableRow) -> Html {
    let r = &t.row;
    let label = export::outcome_label(r.outcome);
    let code = export::outcome_code(r.outcome);
    html! {
        <div key={r.index} class={classes!("vrow", r.is_problem().then_some("problem"))} role="row"
            data-outcome={code} data-name-flags={r.name_flags.clone()}>
            <span class="num">{r.index}</span>
            <span class={classes!("badge", code)}>{label.ja}</span>
            <span>{r.patient_id.clone()}</span>
            <span class="name">
                {r.name.clone()}
                if !r.name_flags.is_empty() {
                    <span class="name-flag" title="氏名に ● または JIS外の字があります。登録済みの氏名を使ってください。 / The name holds ● or characters outside JIS X 0208; keep the registered name.">{r.name_flags.clone()}</span>
                }
            </span>
            <span class="num">{format!("{} {}", r.insurer_number, r.number)}</span>
            <span>{r.ratio.clone()}</span>
            <span class="reason" title={r.reason.en.clone()}>{if r.is_problem() { r.reason.ja.clone() } else { String::new() }}</span>
        </div>
    }
}
