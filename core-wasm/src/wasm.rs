//! The WebAssembly façade: a few `#[wasm_bindgen]` functions for JavaScript
//! callers (other web-based receipt software, the extension's tests). The Yew
//! app links the Rust API directly and does not go through here.
//!
//! Every function returns a plain JS object built by serde-wasm-bindgen; the
//! TypeScript shape is declared once below.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::numbers::{self, NumberError};
use crate::text::{Bilingual, Explain};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** The verdict on a number: `ok` with the canonical digits, or the refusal's stable `code`. */
export interface NumberVerdict {
  ok: boolean;
  /** Canonical ASCII digits when ok. */
  digits?: string;
  /** Stable error code when not ok, e.g. "check_digit", "too_short". */
  code?: string;
  message: { ja: string; en: string };
}
"#;

#[derive(Serialize)]
struct Verdict {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    digits: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    message: Bilingual,
}

fn to_js<T: Explain>(result: Result<T, NumberError>, digits: impl Fn(&T) -> String) -> JsValue {
    let verdict = match result {
        Ok(v) => Verdict { ok: true, digits: Some(digits(&v)), code: None, message: v.explain() },
        Err(e) => Verdict { ok: false, digits: None, code: Some(e.code()), message: e.explain() },
    };
    serde_wasm_bindgen::to_value(&verdict).unwrap_or(JsValue::NULL)
}

/// Checks a 保険者番号 as typed; returns a `NumberVerdict`.
#[wasm_bindgen(js_name = checkInsurerNumber, unchecked_return_type = "NumberVerdict")]
pub fn check_insurer_number(input: &str) -> JsValue {
    to_js(numbers::check_insurer(input), |n| n.digits.clone())
}

#[cfg(test)]
mod tests {
    use wasm_bindgen_test::*;
    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn verdict_object_reaches_javascript() {
        let v = super::check_insurer_number("39131156");
        let ok = js_sys::Reflect::get(&v, &"ok".into()).unwrap();
        assert_eq!(ok.as_bool(), Some(true));
        let bad = super::check_insurer_number("39131157");
        let code = js_sys::Reflect::get(&bad, &"code".into()).unwrap();
        assert_eq!(code.as_string().as_deref(), Some("check_digit"));
    }
}
