//! The app shell: holds the reducer and the helper client, turns clicks,
//! keys and helper replies into actions, and lays out header (status strip,
//! language), nav and the current screen. The only place services are called.

use onshi_core::protocol::{
    BatchResults, BatchState, BatchStatus as BatchStatusReq, BatchSubmit, CardConfirm, CheckupFetch, DisasterSearch, ErrorCode, Hello, MedicationFetch,
    ProtocolError, Request, Response,
};
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::batch::BatchPage;
use crate::components::{CardPanel, Desk, EntryFormView, Nav, PageError, Placeholder, ResultView, Settings, StatusStrip, UsagePage};
use crate::history::{DisasterPanel, HistoryPage};
use crate::i18n::{t, Lang, STORAGE_KEY};
use crate::services::{browser, helper::HelperClient};
use crate::state::{insured_of, last_year_months, Action, AppState, Op, Route, Seq, SubmitPlan};

type Dispatch = UseReducerDispatcher<AppState>;

/// `?page=batch[&results=N]` / `?page=history[&consent=…]` show those pages
/// with demo data (screenshots and `cargo xtask bench web`).
fn query(key: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| v.to_string())
    })
}

/// The dispatcher as a callback, so components' callbacks can be `reform`ed from it.
fn to_callback(d: &Dispatch) -> Callback<Action> {
    let d = d.clone();
    Callback::from(move |a| d.dispatch(a))
}

/// Sends one request and turns its outcome into an action.
fn call(client: &HelperClient, d: &Dispatch, op: Op, req: Request) {
    let (client, d) = (client.clone(), d.clone());
    yew::platform::spawn_local(async move {
        let _ = ask(&client, &d, op, req).await;
    });
}

/// Sends one request numbered in send order, tells the reducer, and waits:
/// `Sent`, then `Reply` or `Failed` with the same number. `None` when it failed.
async fn ask(client: &HelperClient, d: &Dispatch, op: Op, req: Request) -> Option<()> {
    ask_with(client, d, op, req, |_| ()).await
}

/// [`ask`], and `peek` reads what a continuing flow (the batch poll) needs
/// from the reply before the reducer takes it (no copy of large documents).
async fn ask_with<T>(client: &HelperClient, d: &Dispatch, op: Op, req: Request, peek: impl FnOnce(&Response) -> T) -> Option<T> {
    let seq = client.next_seq();
    d.dispatch(Action::Sent(op, seq));
    let r = client.request(req).await;
    d.dispatch(Action::Now(browser::now()));
    match r {
        Ok(body) => {
            let t = peek(&body);
            d.dispatch(Action::Reply(op, seq, body));
            Some(t)
        }
        Err(e) => {
            d.dispatch(Action::Failed(op, seq, e));
            None
        }
    }
}

/// A failure found before anything was sent, numbered like a request.
fn refuse(client: &HelperClient, d: &Dispatch, op: Op, e: ProtocolError) {
    let seq: Seq = client.next_seq();
    d.dispatch(Action::Failed(op, seq, e));
}

/// Submits a batch, then polls `batch_status` every two seconds (events
/// may arrive sooner) until it is done or failed, then fetches the results.
/// The helper keeps polling the system on its own; this only follows it,
/// so closing the page loses nothing.
fn run_batch(client: &HelperClient, d: &Dispatch, submit: BatchSubmit) {
    let (client, d) = (client.clone(), d.clone());
    yew::platform::spawn_local(async move {
        let submitted = |r: &Response| match r {
            Response::BatchSubmit(b) => Some(b.batch_id.clone()),
            _ => None,
        };
        let Some(Some(batch_id)) = ask_with(&client, &d, Op::BatchSubmit, Request::BatchSubmit(submit), submitted).await else {
            return;
        };
        loop {
            yew::platform::time::sleep(std::time::Duration::from_secs(2)).await;
            let req = Request::BatchStatus(BatchStatusReq { batch_id: Some(batch_id.clone()) });
            let state_of = |r: &Response| match r {
                Response::BatchStatus(st) => st.batches.iter().find(|b| b.batch_id == batch_id).map(|b| b.state),
                _ => None,
            };
            let Some(state) = ask_with(&client, &d, Op::BatchStatus, req, state_of).await else {
                return;
            };
            match state {
                Some(BatchState::Done) => break,
                Some(BatchState::Failed) | None => return,
                Some(BatchState::Queued | BatchState::Processing) => {}
            }
        }
        let _ = ask(&client, &d, Op::BatchResults, Request::BatchResults(BatchResults { batch_id })).await;
    });
}

/// On load (and "check again"): hello, then status and today's list.
fn handshake(client: &HelperClient, d: &Dispatch) {
    let (client, d) = (client.clone(), d.clone());
    yew::platform::spawn_local(async move {
        let hello = Request::Hello(Hello { page_version: env!("CARGO_PKG_VERSION").to_string() });
        if ask(&client, &d, Op::Hello, hello).await.is_none() {
            return;
        }
        refresh(&client, &d).await;
    });
}

/// Status (readers, card, pairing), today's list and whether disaster mode
/// is open (an older helper refuses the last: the option then stays hidden).
async fn refresh(client: &HelperClient, d: &Dispatch) {
    for (op, req) in [(Op::Status, Request::Status), (Op::Today, Request::Today), (Op::DisasterStatus, Request::DisasterStatus)] {
        let _ = ask(client, d, op, req).await;
    }
}

/// The 利用状況 CSV (UTF-8 with BOM, so Excel opens it) offered as a download.
pub(crate) fn save_usage_csv(r: &onshi_core::usage::UsageReply) {
    let bytes = onshi_core::usage::usage_csv(r, onshi_core::export::CsvEncoding::Utf8Bom);
    let _ = crate::batch::download(&format!("onshi-usage-{}-{}.csv", r.from, r.to), "text/csv", &bytes);
}

/// `open` / `closed` / `unknown` (not answered yet, or refused): what the
/// helper last said about disaster mode, on `main` for tests and support.
fn disaster_mark(d: &crate::state::DisasterView) -> &'static str {
    match &d.status {
        Some(s) if s.open.is_some() => "open",
        Some(_) => "closed",
        None => "unknown",
    }
}

/// The element that gets focus when a screen opens (keyboard-first).
fn first_focus(r: Route) -> &'static str {
    match r {
        Route::Entry => "insurer-number",
        Route::Desk => "desk-search",
        Route::Card => "card-start",
        Route::Result => "print",
        Route::Settings => "recheck",
        Route::Batch | Route::History => "main",
        Route::Usage => "usage-month",
    }
}

fn initial_state() -> AppState {
    let lang = browser::load(STORAGE_KEY).map(|c| Lang::from_code(&c)).unwrap_or_default();
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    let route = Route::from_slug(hash.trim_start_matches('#')).unwrap_or_default();
    AppState { lang, route, now: browser::now(), ..AppState::default() }
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(initial_state);
    let d = state.dispatcher();
    let act = to_callback(&d);
    let client = {
        let d = d.clone();
        use_memo((), move |_| HelperClient::new(Callback::from(move |e| d.dispatch(Action::Event(e)))))
    };

    // Once: handshake, a clock tick, and Alt+1…7 for the nav.
    {
        let (client, d) = ((*client).clone(), d.clone());
        use_effect_with((), move |_| {
            handshake(&client, &d);
            let tick = d.clone();
            yew::platform::spawn_local(async move {
                loop {
                    yew::platform::time::sleep(std::time::Duration::from_secs(30)).await;
                    tick.dispatch(Action::Now(browser::now()));
                }
            });
            let keys = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(move |e: web_sys::KeyboardEvent| {
                // Esc clears the entry form wherever the focus is (the reducer
                // ignores it on other screens).
                if e.key() == "Escape" && !e.alt_key() {
                    d.dispatch(Action::Escape);
                    return;
                }
                if !e.alt_key() || e.ctrl_key() || e.meta_key() {
                    return;
                }
                // `code` is layout-independent (Digit1…), so it works with a Japanese IME on.
                let digit = e.code().strip_prefix("Digit").and_then(|s| s.parse::<u32>().ok());
                if let Some(r) = digit.and_then(Route::from_digit) {
                    e.prevent_default();
                    d.dispatch(Action::Go(r));
                }
            });
            let doc = web_sys::window().and_then(|w| w.document());
            if let Some(doc) = &doc {
                let _ = doc.add_event_listener_with_callback("keydown", keys.as_ref().unchecked_ref());
            }
            move || {
                if let Some(doc) = doc {
                    let _ = doc.remove_event_listener_with_callback("keydown", keys.as_ref().unchecked_ref());
                }
            }
        });
    }

    // The pairing was approved: ask again what was refused before it (the
    // reader and card lamps would otherwise stay unknown until the card moves).
    {
        let (client, d) = ((*client).clone(), d.clone());
        use_effect_with(state.refresh, move |n| {
            if *n > 0 {
                yew::platform::spawn_local(async move { refresh(&client, &d).await });
            }
        });
    }

    // 利用状況: ask for the shown month's year whenever the screen opens, the
    // month changes, or the pairing was just approved.
    {
        let (client, d) = ((*client).clone(), d.clone());
        let query = (state.route == Route::Usage).then(|| state.usage.query(&state.now)).flatten();
        use_effect_with((query, state.refresh), move |(query, _)| {
            if let Some(q) = query {
                call(&client, &d, Op::Usage, Request::Usage(q.clone()));
            }
        });
    }

    // A shared database (issue 17): ask `status` again after each check (the
    // count kept on this PC changes) and on the clock's tick (an outage
    // begins or ends while nobody checks), so its lamp keeps up. Without
    // one the helper's `status` has no `store` and nothing is asked.
    {
        let (client, d) = ((*client).clone(), d.clone());
        let shared = state.links.store.is_some_and(|s| s.shared);
        use_effect_with((shared, state.today.len(), state.now.clone()), move |(shared, _, _)| {
            if *shared {
                call(&client, &d, Op::Status, Request::Status);
            }
        });
    }

    // 災害時: ask again whenever the history screen opens, so a declaration
    // made or ended since the page loaded shows (or hides) the option.
    {
        let (client, d) = ((*client).clone(), d.clone());
        use_effect_with(state.route == Route::History, move |history| {
            if *history {
                call(&client, &d, Op::DisasterStatus, Request::DisasterStatus);
            }
        });
    }

    // The benchmark's "entry form is interactive" mark (performance.mark),
    // set after the first render has reached the DOM.
    use_effect_with((), |_| {
        if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
            let _ = p.mark("onshi-form-ready");
        }
    });

    // Route change: remember it in the URL and put the focus where work starts.
    use_effect_with(state.route, |r| {
        if let Some(w) = web_sys::window() {
            let _ = w.location().set_hash(r.slug());
        }
        // After this frame's layout, so the new screen's fields exist.
        let id = first_focus(*r);
        yew::platform::spawn_local(async move {
            yew::platform::time::sleep(std::time::Duration::from_millis(0)).await;
            browser::focus(id);
        });
    });
    // Esc on the entry form: the focus goes back to the first field.
    use_effect_with(state.cleared, |_| browser::focus("insurer-number"));
    use_effect_with(state.lang, |l| {
        browser::save(STORAGE_KEY, l.code());
        browser::set_document_lang(l.code());
    });

    let lang = state.lang;
    let lamps = state.links.lamps();
    let go = act.reform(Action::Go);
    let on_lang = act.reform(Action::SetLang);

    let demo = match query("page").as_deref() {
        Some("batch") => Some(html! { <crate::demo::pages::BatchDemo results={query("results").and_then(|n| n.parse().ok())} /> }),
        Some("history") => Some(html! { <crate::demo::pages::HistoryDemo consent={query("consent").unwrap_or_default()} /> }),
        Some("usage") => Some(html! { <crate::demo::pages::UsageDemo /> }),
        _ => None,
    };
    let screen = if let Some(demo) = demo { demo } else { match state.route {
        Route::Entry => {
            let on_submit = {
                let (state, client, d) = (state.clone(), (*client).clone(), d.clone());
                Callback::from(move |()| {
                    if state.sending {
                        return;
                    }
                    match state.submit_plan() {
                        SubmitPlan::Send(req) => call(&client, &d, Op::Insurance, Request::InsuranceConfirm(req)),
                        SubmitPlan::Refuse(n) => d.dispatch(Action::SubmitRefused(n)),
                    }
                })
            };
            let on_clear = {
                let d = d.clone();
                Callback::from(move |()| {
                    d.dispatch(Action::ClearEntry);
                    browser::focus("insurer-number");
                })
            };
            html! {
                <EntryFormView lang={lang} form={state.entry.clone()} notice={state.notice.clone()} sending={state.sending}
                    on_type={act.reform(|(f, v)| Action::Type(f, v))} on_limit={act.reform(Action::SetLimitConsent)} on_document={act.reform(Action::SetDocument)}
                    treatment={state.treatment} on_treatment={act.reform(Action::SetTreatment)}
                    on_submit={on_submit} on_clear={on_clear} />
            }
        }
        Route::Card => {
            let on_start = {
                let (state, client, d) = (state.clone(), (*client).clone(), d.clone());
                Callback::from(move |()| {
                    match state.links.query_blocker() {
                        None => call(&client, &d, Op::Card, Request::CardConfirm(state.card_request())),
                        Some(e) => refuse(&client, &d, Op::Card, e),
                    }
                })
            };
            let on_cancel = {
                let (state, client) = (state.clone(), (*client).clone());
                Callback::from(move |()| {
                    if let Some(c) = state.card.cancel_request() {
                        // The card_confirm itself then fails with `cancelled`; this reply needs no handling.
                        let client = client.clone();
                        yew::platform::spawn_local(async move {
                            let _ = client.request(Request::PinCancel(c)).await;
                        });
                    }
                })
            };
            let on_register = {
                let (state, client, d) = (state.clone(), (*client).clone(), d.clone());
                Callback::from(move |()| {
                    if !state.card.can_register() {
                        return;
                    }
                    // Register, then run the card check again with the same mode and consents.
                    let (client, d, flow, treatment) = (client.clone(), d.clone(), state.card.clone(), state.treatment);
                    let seq = client.next_seq();
                    d.dispatch(Action::Sent(Op::CardRegister, seq));
                    yew::platform::spawn_local(async move {
                        let r = client.request(Request::CardRegister(flow.register_request())).await;
                        d.dispatch(Action::Now(browser::now()));
                        let again = flow.recheck_after(&r).map(|c| CardConfirm { treatment, ..c });
                        match r {
                            Ok(body) => d.dispatch(Action::Reply(Op::CardRegister, seq, body)),
                            Err(e) => d.dispatch(Action::Failed(Op::CardRegister, seq, e)),
                        }
                        if let Some(req) = again {
                            call(&client, &d, Op::Card, Request::CardConfirm(req));
                        }
                    });
                })
            };
            html! {
                <CardPanel on_register={on_register} on_cancel={on_cancel} lang={lang} card={state.card.clone()} reader={lamps[2].clone()} card_lamp={lamps[3].clone()}
                    treatment={state.treatment} on_treatment={act.reform(Action::SetTreatment)}
                    on_mode={act.reform(Action::CardMode)} on_toggle={act.reform(Action::ToggleConsent)}
                    on_start={on_start} on_entry={act.reform(|()| Action::Go(Route::Entry))} />
            }
        }
        Route::Result => {
            let read = |make: fn(String) -> Action| {
                let d = d.clone();
                Callback::from(move |input: web_sys::HtmlInputElement| {
                    let d = d.clone();
                    yew::platform::spawn_local(async move {
                        if let Some(text) = browser::read_chosen_file(input).await {
                            d.dispatch(make(text));
                        }
                    });
                })
            };
            html! {
                <ResultView lang={lang} shown={state.shown.clone()} has_loaded_record={state.loaded_record.is_some()}
                    on_result_file={read(Action::LoadResult)} on_stored_file={read(Action::LoadStored)}
                    on_forget_stored={act.reform(|()| Action::ForgetStored)} on_print={Callback::from(|()| browser::print())} />
            }
        }
        Route::Desk => {
            let on_reload = {
                let (client, d) = ((*client).clone(), d.clone());
                Callback::from(move |()| call(&client, &d, Op::Today, Request::Today))
            };
            html! {
                <Desk lang={lang} rows={state.today.clone()} loaded={state.today_loaded} query={AttrValue::from(state.search.clone())}
                    on_search={act.reform(Action::Search)} on_open={act.reform(Action::OpenToday)} on_reload={on_reload} />
            }
        }
        Route::Settings => {
            let on_pair = {
                let (client, d) = ((*client).clone(), d.clone());
                Callback::from(move |()| call(&client, &d, Op::Pair, Request::PairBegin))
            };
            let on_recheck = {
                let (client, d) = ((*client).clone(), d.clone());
                Callback::from(move |()| handshake(&client, &d))
            };
            html! {
                <Settings lang={lang} lamps={lamps.clone()} pairing={state.pairing.clone()} status={state.status.clone()}
                    on_pair={on_pair} on_recheck={on_recheck} on_lang={on_lang.clone()} />
            }
        }
        Route::Usage => {
            let on_reload = {
                let (state, client, d) = (state.clone(), (*client).clone(), d.clone());
                Callback::from(move |()| {
                    if let Some(q) = state.usage.query(&state.now) {
                        call(&client, &d, Op::Usage, Request::Usage(q));
                    }
                })
            };
            let on_csv = {
                let state = state.clone();
                Callback::from(move |()| {
                    if let Some(r) = &state.usage.reply {
                        save_usage_csv(r);
                    }
                })
            };
            html! {
                <UsagePage lang={lang} view={state.usage.clone()} now={AttrValue::from(state.now.clone())}
                    on_month={act.reform(Action::UsageMonth)} on_reload={on_reload} on_csv={on_csv} />
            }
        }
        Route::Batch => {
            let on_submit = {
                let (client, d) = ((*client).clone(), d.clone());
                Callback::from(move |submit| run_batch(&client, &d, submit))
            };
            html! {
                <>
                    <PageError lang={lang} error={state.page_error.clone()} />
                    <BatchPage on_submit={on_submit} status={state.batch.info.clone()}
                        results_xml={state.batch.results_xml.clone().map(AttrValue::from)}
                        results_received={state.batch.results_received.clone().map(AttrValue::from)} />
                </>
            }
        }
        Route::History => html! { <>
            if state.disaster.visible() {
                <DisasterPanel view={state.disaster.clone()} now={AttrValue::from(state.now.clone())}
                    on_search={{
                        // Carried like every viewing request: the desk's treatment setting.
                        let (client, d, treatment) = ((*client).clone(), d.clone(), state.treatment);
                        Callback::from(move |req| {
                            call(&client, &d, Op::DisasterSearch, Request::DisasterSearch(DisasterSearch { treatment, ..req }))
                        })
                    }} />
            }
            {match state.history_subject() {
            Some(q) => {
                // Viewing carries the setting of the check it is made from.
                let treatment = state.shown.as_ref().and_then(|s| s.treatment).unwrap_or_default();
                let fetch = |op: Op| {
                    let (client, d, q, now) = ((*client).clone(), d.clone(), q.clone(), state.now.clone());
                    Callback::from(move |()| {
                        let Some(insured) = insured_of(&q) else {
                            refuse(&client, &d, op, ProtocolError::new(ErrorCode::InvalidArgument));
                            return;
                        };
                        let req = match op {
                            Op::Medication => {
                                let Some((start_month, end_month)) = last_year_months(&now) else { return };
                                Request::MedicationFetch(MedicationFetch { insured, start_month, end_month, include_diagnosis: false, treatment })
                            }
                            _ => Request::CheckupFetch(CheckupFetch { insured, treatment }),
                        };
                        call(&client, &d, op, req);
                    })
                };
                html! {
                    <>
                        <PageError lang={lang} error={state.page_error.clone()} />
                        <HistoryPage qualification={std::rc::Rc::new(q.clone())} now={AttrValue::from(state.now.clone())}
                            medication_xml={state.history.medication_xml.clone().map(AttrValue::from)}
                            checkup_xml={state.history.checkup_xml.clone().map(AttrValue::from)}
                            on_fetch_medication={fetch(Op::Medication)} on_fetch_checkup={fetch(Op::Checkup)} treatment={treatment} />
                    </>
                }
            }
            None => html! { <Placeholder lang={lang} title={t::NAV_HISTORY} text={t::HISTORY_NEEDS_RESULT} mount="history" /> },
            }}
        </> },
    } };

    let other = lang.other();
    html! {
        <>
            <header class="topbar">
                <h1><span class="pri">{crate::components::one(lang, t::APP_TITLE)}</span></h1>
                <StatusStrip lang={lang} lamps={lamps.clone()} />
                <button id="lang-toggle" type="button" class="lang" onclick={on_lang.reform(move |_: MouseEvent| other)}>
                    {crate::components::one(lang, t::LANG_SWITCH)}
                </button>
            </header>
            <Nav lang={lang} route={state.route} on_go={go} />
            <main id="main" tabindex="-1" data-route={state.route.slug()} data-disaster={disaster_mark(&state.disaster)}>{screen}</main>
        </>
    }
}
