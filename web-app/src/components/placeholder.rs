//! A marked place where another page mounts later (batch, history).

use yew::prelude::*;

use super::tx;
use crate::i18n::{Lang, Tx};

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub title: Tx,
    pub text: Tx,
    /// `data-mount` names the page that will replace this placeholder.
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
