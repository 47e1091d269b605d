//! The refusal above the batch and history screens, in the same words the
//! entry form uses for the same codes.

use onshi_core::protocol::ProtocolError;
use yew::prelude::*;

use super::bi;
use crate::i18n::Lang;
use crate::state::Notice;

#[derive(Properties, PartialEq)]
pub struct Props {
    pub lang: Lang,
    pub error: Option<ProtocolError>,
}

#[function_component(PageError)]
pub fn page_error(p: &Props) -> Html {
    match &p.error {
        Some(e) => html! { <div id="page-error" class="notice bad" role="alert">{bi(p.lang, &Notice::Failed(e.clone()).text())}</div> },
        None => html! {},
    }
}
