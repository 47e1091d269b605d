//! The header's status strip: five lamps (six where the helper has a shared
//! database), each with a colour, its state in a few words, and one line
//! saying what to do.

use yew::prelude::*;

use super::{bi, one};
use crate::i18n::Lang;
use crate::state::Lamp;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub lamps: Vec<Lamp>,
}

#[function_component(StatusStrip)]
pub fn status_strip(p: &Props) -> Html {
    html! {
        <ul class="strip" aria-label={one(p.lang, crate::i18n::t::NAV_SETTINGS)}>
            { for p.lamps.iter().map(|l| {
                let (todo, _) = p.lang.order(&l.todo);
                html! {
                    <li id={format!("lamp-{}", l.id)} class={classes!("lamp", l.light.as_str())} data-light={l.light.as_str()} title={todo.to_string()}>
                        <span class="dot" aria-hidden="true"></span>
                        <span class="name">{one(p.lang, l.label)}</span>
                        <span class="state">{p.lang.order(&l.state).0.to_string()}</span>
                    </li>
                }
            }) }
        </ul>
    }
}

/// The lamps with their "what to do" lines (settings page).
#[derive(Properties, PartialEq)]
pub struct ListProps {
    pub lang: Lang,
    pub lamps: Vec<Lamp>,
}

#[function_component(LampList)]
pub fn lamp_list(p: &ListProps) -> Html {
    html! {
        <table class="lamps">
            <tbody>
            { for p.lamps.iter().map(|l| html! {
                <tr class={classes!("lamp", l.light.as_str())} data-link={l.id}>
                    <th><span class="dot" aria-hidden="true"></span>{one(p.lang, l.label)}</th>
                    <td class="state">{bi(p.lang, &l.state)}</td>
                    <td class="todo">{bi(p.lang, &l.todo)}</td>
                </tr>
            }) }
            </tbody>
        </table>
    }
}
