//! The WebAssembly façade: a few `#[wasm_bindgen]` functions for JavaScript
//! callers (other web-based receipt software, the extension's tests). The Yew
//! app links the Rust API directly and does not go through here.
//!
//! Every function returns a plain JS object built by serde-wasm-bindgen (JSON
//! compatible: no `Map`s); the TypeScript shapes are declared once below.
//! Failures are thrown as one shape, `OnshiError`, made in one place (`fail`).

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::batch_csv;
use crate::diff::{self, StoredRecord};
use crate::export;
use crate::message::{self, Message, Qualification};
use crate::numbers::{self, NumberError};
use crate::summary;
use crate::text::{Bilingual, Explain};
use crate::validate::{self, IndividualRequestInput, SearchInput};
use crate::wareki;
use crate::xml::Encoding;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Japanese first, English second. */
export interface Bilingual { ja: string; en: string; }
/** The verdict on a number: `ok` with the canonical digits, or the refusal's stable `code`. */
export interface NumberVerdict {
  ok: boolean;
  /** Canonical ASCII digits when ok. */
  digits?: string;
  /** Stable error code when not ok, e.g. "check_digit", "too_short". */
  code?: string;
  message: Bilingual;
}
/** What every function throws: a stable code and a message for people. */
export interface OnshiError { code: string; message: Bilingual; }
export interface Diagnostic { path: string; severity: "info" | "warning" | "error"; code: string; message: Bilingual; }
/** A message as JSON: `kind` plus `MessageHeader`/`MessageBody` keyed by the XML element names. */
export interface OnshiMessage { kind: string; [element: string]: unknown; }
export interface Summary {
  outcome: "valid" | "valid_unregistered" | "invalid" | "newer_qualification_exists" | "no_match" | "several_matches" | "error" | "still_processing" | "unclear";
  reason: Bilingual;
  entries: number;
  system_message?: string;
}
export interface Parsed { message: OnshiMessage; diagnostics: Diagnostic[]; encoding: "shift_jis" | "utf8"; summaries: Summary[]; }
export interface SearchInput { insurer_number?: string; symbol?: string; number?: string; branch?: string; birthdate?: string; }
export interface SearchCheck { ok: boolean; search?: Record<string, string>; diagnostics: Diagnostic[]; }
export interface IndividualRequestInput { institution: string; date: string; search: SearchInput; arbitrary_file_identifier?: string; limit_consent?: boolean; }
export interface StoredRecord {
  insurer_number?: string; symbol?: string; number?: string; branch?: string;
  card_classification?: string; personal_family?: string; ratio?: string;
  qualification_date?: string; disqualification_date?: string; card_expiration_date?: string;
  elderly_ratio?: string; elderly_valid_start?: string; elderly_valid_end?: string;
  limit_category?: string; public_expense_numbers?: string[]; public_expense_recipient_numbers?: string[];
  name?: string; name_kana?: string; birthdate?: string; sex?: string;
}
export interface RowDiagnostic { line: number; column: string | null; severity: "info" | "warning" | "error"; code: string; message: Bilingual; }
export interface BatchEntry { insured: { insurer_number: string; symbol?: string; number: string; branch?: string; birth_date: string }; arbitrary_id?: string; }
export interface BatchCsv { encoding: "shift_jis" | "utf8"; rows: { line: number; entry: BatchEntry | null; name: string; date: string | null; cells: string[] }[]; diagnostics: RowDiagnostic[]; confirmation_date: string | null; entries: BatchEntry[]; }
/** A date as typed, read: 西暦 digits and the 和暦 forms, or the refusal's stable `code`. */
export interface DateVerdict {
  ok: boolean;
  /** `YYYYMMDD` when ok. */
  yyyymmdd?: string;
  /** e.g. "令和元年5月1日" (absent before the Meiji era). */
  wareki?: string;
  /** e.g. "R1.5.1". */
  short?: string;
  code?: string;
  message: Bilingual;
}
export interface Change { field: string; before?: string; after?: string; severity: "notice" | "important" | "critical"; message: Bilingual; keep_stored?: boolean; }
"#;

/// The one error shape thrown to JavaScript.
#[derive(Serialize)]
struct Fail {
    code: String,
    message: Bilingual,
}

fn fail(code: &str, message: Bilingual) -> JsValue {
    to_js(&Fail { code: code.to_string(), message })
}

fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value.serialize(&serde_wasm_bindgen::Serializer::json_compatible()).unwrap_or(JsValue::NULL)
}

fn from_js<T: for<'de> Deserialize<'de>>(value: JsValue, what: &str) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| {
        fail("invalid_argument", Bilingual::new(format!("{what}の形式が正しくありません：{e}"), format!("{what} has the wrong shape: {e}")))
    })
}

#[derive(Serialize)]
struct Verdict {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    digits: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    message: Bilingual,
}

fn verdict<T>(result: Result<T, NumberError>, ok: impl Fn(&T) -> (String, Bilingual)) -> JsValue {
    let verdict = match result {
        Ok(v) => {
            let (digits, message) = ok(&v);
            Verdict { ok: true, digits: Some(digits), code: None, message }
        }
        Err(e) => Verdict { ok: false, digits: None, code: Some(e.code()), message: e.explain() },
    };
    to_js(&verdict)
}

/// Checks a 保険者番号 as typed; returns a `NumberVerdict`.
#[wasm_bindgen(js_name = checkInsurerNumber, unchecked_return_type = "NumberVerdict")]
pub fn check_insurer_number(input: &str) -> JsValue {
    verdict(numbers::check_insurer(input), |n| (n.digits.clone(), n.explain()))
}

/// Checks a 公費負担者番号 as typed; returns a `NumberVerdict`.
#[wasm_bindgen(js_name = checkPublicExpenseNumber, unchecked_return_type = "NumberVerdict")]
pub fn check_public_expense_number(input: &str) -> JsValue {
    verdict(numbers::check_public_expense(input), |n| {
        (n.digits.clone(), Bilingual::new("正しい公費負担者番号です。", "Valid public-expense payer number."))
    })
}

/// Checks a 医療機関コード as typed; returns a `NumberVerdict`.
#[wasm_bindgen(js_name = checkInstitutionCode, unchecked_return_type = "NumberVerdict")]
pub fn check_institution_code(input: &str) -> JsValue {
    verdict(numbers::check_institution(input), |n| {
        (n.digits.clone(), Bilingual::new("正しい医療機関コードです。", "Valid medical institution code."))
    })
}

/// Parses and validates a message file; throws `OnshiError` when it cannot be read.
#[wasm_bindgen(js_name = parseMessage, unchecked_return_type = "Parsed")]
pub fn parse_message(bytes: &[u8], file_name: Option<String>) -> Result<JsValue, JsValue> {
    let parsed = match file_name {
        Some(name) => message::parse_named(&name, bytes),
        None => message::parse(bytes),
    }
    .map_err(|e| fail(e.code(), e.explain()))?;
    #[derive(Serialize)]
    struct Out<'a> {
        message: &'a Message,
        diagnostics: &'a [crate::Diagnostic],
        encoding: Encoding,
        summaries: Vec<summary::Summary>,
    }
    let summaries = summary::summarize_message(&parsed.message);
    Ok(to_js(&Out { message: &parsed.message, diagnostics: &parsed.diagnostics, encoding: parsed.encoding, summaries }))
}

/// Checks what reception typed to search by insurance card.
#[wasm_bindgen(js_name = validateSearchInput, unchecked_return_type = "SearchCheck")]
pub fn validate_search_input(#[wasm_bindgen(unchecked_param_type = "SearchInput")] input: JsValue) -> Result<JsValue, JsValue> {
    let input: SearchInput = from_js(input, "検索条件 / search input")?;
    let (search, diagnostics) = validate::validate_search_input(&input);
    #[derive(Serialize)]
    struct Out {
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        search: Option<message::SearchInfo>,
        diagnostics: Vec<crate::Diagnostic>,
    }
    Ok(to_js(&Out { ok: search.is_some(), search, diagnostics }))
}

/// Builds the bytes of an individual request (Shift_JIS unless `utf8`);
/// throws `OnshiError` (code `invalid_input`, with the first problem) when
/// the input is not valid — call `validateSearchInput` first for all of them.
#[wasm_bindgen(js_name = buildIndividualRequest)]
pub fn build_individual_request(
    #[wasm_bindgen(unchecked_param_type = "IndividualRequestInput")] input: JsValue,
    utf8: bool,
) -> Result<Vec<u8>, JsValue> {
    let input: IndividualRequestInput = from_js(input, "照会要求 / request input")?;
    let message = validate::build_individual_request(&input).map_err(|d| {
        let first = d.into_iter().next().map(|d| d.message);
        fail("invalid_input", first.unwrap_or_else(|| Bilingual::new("入力が正しくありません。", "The input is not valid.")))
    })?;
    Ok(message.write(if utf8 { Encoding::Utf8 } else { Encoding::ShiftJis }))
}

/// The verdicts of a parsed message (`Parsed.message`), one per result or batch unit.
#[wasm_bindgen(js_name = summarize, unchecked_return_type = "Summary[]")]
pub fn summarize(#[wasm_bindgen(unchecked_param_type = "OnshiMessage")] message: JsValue) -> Result<JsValue, JsValue> {
    let message: Message = from_js(message, "メッセージ / message")?;
    Ok(to_js(&summary::summarize_message(&message)))
}

/// What changed between a stored record and a result entry
/// (`MessageBody.ResultList[i]` of a parsed result), loudest first.
#[wasm_bindgen(js_name = diffRecord, unchecked_return_type = "Change[]")]
pub fn diff_record(
    #[wasm_bindgen(unchecked_param_type = "StoredRecord")] stored: JsValue,
    #[wasm_bindgen(unchecked_param_type = "Record<string, unknown>")] entry: JsValue,
) -> Result<JsValue, JsValue> {
    let stored: StoredRecord = from_js(stored, "保存済みの保険情報 / stored record")?;
    let entry: Qualification = from_js(entry, "資格情報 / result entry")?;
    Ok(to_js(&diff::diff(&stored, &entry)))
}

/// Reads an appointments CSV (UTF-8 or Shift_JIS) into batch entries and
/// per-row findings (docs/batch-csv.md); throws `OnshiError` when the file
/// as a whole cannot be read.
#[wasm_bindgen(js_name = readBatchCsv, unchecked_return_type = "BatchCsv")]
pub fn read_batch_csv(bytes: &[u8]) -> Result<JsValue, JsValue> {
    let csv = batch_csv::read(bytes, &batch_csv::CsvLimits::default()).map_err(|e| fail(e.code(), e.explain()))?;
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(flatten)]
        csv: &'a batch_csv::BatchCsv,
        entries: Vec<crate::protocol::BatchEntry>,
    }
    Ok(to_js(&Out { entries: csv.entries(), csv: &csv }))
}

/// A result document (batch or individual) → CSV bytes for receipt software
/// (UTF-8 with BOM, or Shift_JIS when `shift_jis`).
#[wasm_bindgen(js_name = exportResultsCsv)]
pub fn export_results_csv(bytes: &[u8], shift_jis: bool) -> Result<Vec<u8>, JsValue> {
    let parsed = message::parse(bytes).map_err(|e| fail(e.code(), e.explain()))?;
    let rows = export::result_rows(&parsed.message).map_err(|e| fail("not_a_result", e.explain()))?;
    Ok(export::results_csv(&rows, if shift_jis { export::CsvEncoding::ShiftJis } else { export::CsvEncoding::Utf8Bom }))
}

#[derive(Serialize)]
struct DateVerdict {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    yyyymmdd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wareki: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    short: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    message: Bilingual,
}

/// Reads a date as a receptionist types it — 和暦 (`R1.5.1`, `令和元年5月1日`,
/// `H2.3.4`) or 西暦 (`2019-05-01`, `20190501`) — with the core's one
/// parser; returns a `DateVerdict` with both calendars.
#[wasm_bindgen(js_name = readDate, unchecked_return_type = "DateVerdict")]
pub fn read_date(input: &str) -> JsValue {
    let verdict = match wareki::parse(input) {
        Ok(date) => {
            let w = date.to_wareki().ok();
            let message = match &w {
                Some(w) => Bilingual::new(w.kanji(), date.yyyymmdd()),
                None => Bilingual::new(date.yyyymmdd(), date.yyyymmdd()),
            };
            DateVerdict {
                ok: true,
                yyyymmdd: Some(date.yyyymmdd()),
                wareki: w.as_ref().map(|w| w.kanji()),
                short: w.as_ref().map(|w| w.letter()),
                code: None,
                message,
            }
        }
        Err(e) => DateVerdict { ok: false, yyyymmdd: None, wareki: None, short: None, code: Some(e.code()), message: e.explain() },
    };
    to_js(&verdict)
}

#[cfg(test)]
mod tests {
    use wasm_bindgen::JsValue;
    use wasm_bindgen_test::*;
    wasm_bindgen_test_configure!(run_in_browser);

    fn get(v: &JsValue, key: &str) -> JsValue {
        js_sys::Reflect::get(v, &key.into()).unwrap()
    }

    #[wasm_bindgen_test]
    fn dates_are_read_in_both_calendars() {
        let v = super::read_date("R1.5.1");
        assert_eq!(get(&v, "yyyymmdd").as_string().as_deref(), Some("20190501"));
        assert_eq!(get(&v, "wareki").as_string().as_deref(), Some("令和元年5月1日"));
        let bad = super::read_date("H31.5.1");
        assert_eq!(get(&bad, "ok").as_bool(), Some(false));
        assert!(get(&bad, "code").as_string().is_some());
    }

    #[wasm_bindgen_test]
    fn verdict_object_reaches_javascript() {
        let v = super::check_insurer_number("39131156");
        assert_eq!(get(&v, "ok").as_bool(), Some(true));
        let bad = super::check_insurer_number("39131157");
        assert_eq!(get(&bad, "code").as_string().as_deref(), Some("check_digit"));
    }

    const RESULT: &str = include_str!("../tests/fixtures/messages/OQSsiquc01res_202504010001.utf8.xml");

    #[wasm_bindgen_test]
    fn parse_summarize_and_diff_in_the_browser() {
        let parsed = super::parse_message(RESULT.as_bytes(), None).unwrap();
        let message = get(&parsed, "message");
        assert_eq!(get(&message, "kind").as_string().as_deref(), Some("individual_result"));
        let summaries = super::summarize(message.clone()).unwrap();
        let first = js_sys::Reflect::get_u32(&summaries, 0).unwrap();
        assert_eq!(get(&first, "outcome").as_string().as_deref(), Some("valid"));
        let entry = js_sys::Reflect::get_u32(&get(&get(&message, "MessageBody"), "ResultList"), 0).unwrap();
        let stored = js_sys::JSON::parse(r#"{"insurer_number":"01130012","number":"0012","symbol":"記号01","branch":"01"}"#).unwrap();
        let changes = super::diff_record(stored, entry).unwrap();
        let c0 = js_sys::Reflect::get_u32(&changes, 0).unwrap();
        assert_eq!(get(&c0, "field").as_string().as_deref(), Some("insurer_number"));
    }

    #[wasm_bindgen_test]
    fn refusals_are_thrown_as_one_shape() {
        let err = super::parse_message(b"<!DOCTYPE x><x/>", None).unwrap_err();
        assert_eq!(get(&err, "code").as_string().as_deref(), Some("doctype"));
        assert!(get(&get(&err, "message"), "ja").as_string().is_some());
    }

    #[wasm_bindgen_test]
    fn request_bytes_are_shift_jis_by_default() {
        let input = js_sys::JSON::parse(r#"{"institution":"0110113719","date":"20250401","search":{"insurer_number":"39131156","number":"1","birthdate":"19400101"}}"#).unwrap();
        let bytes = super::build_individual_request(input, false).unwrap();
        assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\""));
    }
}
