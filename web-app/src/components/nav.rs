//! The navigation bar. Alt+1…7 select the entries (handled by the shell);
//! each link shows its number so nobody has to remember it.

use yew::prelude::*;

use super::one;
use crate::i18n::Lang;
use crate::state::Route;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub route: Route,
    pub on_go: Callback<Route>,
}

#[function_component(Nav)]
pub fn nav(p: &Props) -> Html {
    html! {
        <nav class="nav">
            { for Route::NAV.iter().enumerate().map(|(i, r)| {
                let r = *r;
                let go = p.on_go.reform(move |e: MouseEvent| { e.prevent_default(); r });
                let current = (r == p.route).then_some("page");
                let extra = matches!(r, Route::Batch | Route::History).then_some("mount-point");
                html! {
                    <a href={format!("#{}", r.slug())} id={format!("nav-{}", r.slug())} class={classes!(extra)}
                        aria-current={current} onclick={go} accesskey={(i + 1).to_string()}>
                        <kbd>{format!("Alt+{}", i + 1)}</kbd>{" "}{one(p.lang, r.label())}
                    </a>
                }
            }) }
        </nav>
    }
}
