//! A screen that has nothing to show yet says why and what to do (the
//! history screen before any result is on screen).

use yew::prelude::*;

use super::tx;
use crate::i18n::{Lang, Tx};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub title: Tx,
    pub text: Tx,
    /// `data-mount` names the screen this stands in for (tests find it by it).
    pub mount: AttrValue,
}

#[function_component(Placeholder)]
pub fn placeholder(p: &Props) -> Html {
    html! {
        <section class="card placeholder" data-mount={p.mount.clone()}>
            <h2>{tx(p.lang, p.title)}</h2>
            <p>{tx(p.lang, p.text)}</p>
        </section>
    }
}
