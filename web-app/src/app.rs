//! The root component: holds the state reducer and lays out the page.

use yew::prelude::*;

use crate::components::InsurerField;
use crate::state::{Action, EntryState};

/// `?page=batch` / `?page=history` show those pages with demo data until the
/// shell mounts them (tests, screenshots and `cargo xtask bench web`).
fn query(key: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search.trim_start_matches('?').split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == key).then(|| v.to_string())
    })
}

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(EntryState::default);
    // The benchmark's "entry form is interactive" mark (performance.mark),
    // set after the first render has reached the DOM.
    use_effect_with((), |_| {
        if let Some(p) = web_sys::window().and_then(|w| w.performance()) {
            let _ = p.mark("onshi-form-ready");
        }
    });
    let on_insurer = {
        let state = state.clone();
        Callback::from(move |text: String| state.dispatch(Action::SetInsurer(text)))
    };
    let page = match query("page").as_deref() {
        Some("batch") => html! { <crate::demo::pages::BatchDemo results={query("results").and_then(|n| n.parse().ok())} /> },
        Some("history") => html! { <crate::demo::pages::HistoryDemo consent={query("consent").unwrap_or_default()} /> },
        _ => html! {
            <section class="card" aria-labelledby="entry-title">
                <h2 id="entry-title"><span class="ja">{"保険証・資格確認書の入力"}</span>
                    <span class="en">{"Insurance card / eligibility certificate"}</span></h2>
                <InsurerField value={AttrValue::from(state.insurer.clone())} on_input={on_insurer} />
            </section>
        },
    };
    html! {
        <>
            <header class="topbar">
                <h1><span class="ja">{"オンライン資格確認 受付"}</span>
                    <span class="en">{"Onshi reception"}</span></h1>
            </header>
            <main>{page}</main>
        </>
    }
}
