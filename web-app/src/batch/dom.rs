//! The browser chores of the batch page: reading a picked or dropped file
//! into bytes, offering bytes as a download (Blob URL), and sizing the
//! results table. Kept apart so the state and components stay testable
//! natively.

use wasm_bindgen::JsCast;
use yew::{Callback, NodeRef};

/// Sets one CSS length on the element behind `node` through the CSSOM
/// (`el.style.setProperty`). Not a `style` attribute: the page's
/// Content-Security-Policy (`style-src 'self'`, no `'unsafe-inline'`) drops
/// those, Yew's `style={…}` included, while CSSOM writes stay allowed. An
/// element not (yet) in the page is left alone.
pub fn set_px(node: &NodeRef, property: &str, px: f64) {
    if let Some(el) = node.cast::<web_sys::HtmlElement>() {
        let _ = el.style().set_property(property, &format!("{px}px"));
    }
}

/// Reads the first file of a list and sends `(name, bytes)`; an unreadable
/// file sends an empty byte vector, which the CSV reader explains as empty.
pub fn read_first(files: Option<web_sys::FileList>, done: Callback<(String, Vec<u8>)>) {
    let Some(file) = files.and_then(|f| f.get(0)) else { return };
    let name = file.name();
    wasm_bindgen_futures::spawn_local(async move {
        let bytes = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
            Ok(buf) => js_sys::Uint8Array::new(&buf).to_vec(),
            Err(_) => Vec::new(),
        };
        done.emit((name, bytes));
    });
}

/// Offers `bytes` as a file download named `file_name`.
pub fn download(file_name: &str, mime: &str, bytes: &[u8]) -> Result<(), wasm_bindgen::JsValue> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_u8_array_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let window = web_sys::window().ok_or("no window")?;
    let document = window.document().ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    a.set_href(&url);
    a.set_download(file_name);
    a.click();
    // Revoke later: the download may still be reading the Blob after click().
    let revoke = wasm_bindgen::closure::Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    window.set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 60_000)?;
    Ok(())
}
