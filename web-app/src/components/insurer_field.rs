//! The 保険者番号 input with its live verdict (Japanese first, English below).

use yew::prelude::*;

use crate::state::insurer_verdict;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub value: AttrValue,
    pub on_input: Callback<String>,
}

#[function_component(InsurerField)]
pub fn insurer_field(props: &Props) -> Html {
    let verdict = insurer_verdict(&props.value);
    let on_input = {
        let cb = props.on_input.clone();
        Callback::from(move |e: InputEvent| {
            let input: web_sys::HtmlInputElement = e.target_unchecked_into();
            cb.emit(input.value());
        })
    };
    html! {
        <div class="field">
            <label for="insurer-number">
                <span class="ja">{"保険者番号"}</span>
                <span class="en">{"Insurer number"}</span>
            </label>
            <input id="insurer-number" type="text" inputmode="numeric" autocomplete="off"
                maxlength="12" value={props.value.clone()} oninput={on_input}
                aria-describedby="insurer-verdict" autofocus=true />
            <div id="insurer-verdict" class={classes!("verdict", verdict.tone.as_str())}
                data-state={verdict.tone.as_str()} role="status" aria-live="polite">
                <p class="ja" lang="ja">{verdict.message.ja}</p>
                <p class="en" lang="en">{verdict.message.en}</p>
            </div>
        </div>
    }
}
