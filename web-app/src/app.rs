//! The root component: holds the state reducer and lays out the page.

use yew::prelude::*;

use crate::components::InsurerField;
use crate::state::{Action, EntryState};

#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(EntryState::default);
    let on_insurer = {
        let state = state.clone();
        Callback::from(move |text: String| state.dispatch(Action::SetInsurer(text)))
    };
    html! {
        <>
            <header class="topbar">
                <h1><span class="ja">{"オンライン資格確認 受付"}</span>
                    <span class="en">{"Onshi reception"}</span></h1>
            </header>
            <main>
                <section class="card" aria-labelledby="entry-title">
                    <h2 id="entry-title"><span class="ja">{"保険証・資格確認書の入力"}</span>
                        <span class="en">{"Insurance card / eligibility certificate"}</span></h2>
                    <InsurerField value={AttrValue::from(state.insurer.clone())} on_input={on_insurer} />
                </section>
            </main>
        </>
    }
}
