//! The few browser facilities the shell needs besides the helper: the local
//! clock, the remembered language, reading a chosen file, printing, focus.
//! Every call tolerates a missing API (returns a default) instead of panicking.

use wasm_bindgen::JsCast;

/// Local time as `YYYYMMDDHHmmss` (the core compares consents against it).
pub fn now() -> String {
    let d = js_sys::Date::new_0();
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
        d.get_seconds()
    )
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

pub fn load(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

pub fn save(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

/// Sets `<html lang>` so screen readers and fonts follow the language.
pub fn set_document_lang(code: &str) {
    if let Some(el) = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element()) {
        let _ = el.set_attribute("lang", code);
    }
}

/// The text of the first file chosen in an `<input type=file>`.
pub async fn read_chosen_file(input: web_sys::HtmlInputElement) -> Option<String> {
    let file = input.files()?.get(0)?;
    let text = wasm_bindgen_futures::JsFuture::from(file.text()).await.ok()?;
    input.set_value("");
    text.as_string()
}

pub fn print() {
    if let Some(w) = web_sys::window() {
        let _ = w.print();
    }
}

/// Focuses the element with this id (after a route change, on Esc).
pub fn focus(id: &str) {
    let el = web_sys::window().and_then(|w| w.document()).and_then(|d| d.get_element_by_id(id));
    if let Some(el) = el.and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = el.focus();
    }
}
