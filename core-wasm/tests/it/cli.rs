//! The `onshi-xml` binary: output shape and exit codes.

use std::process::Command;

use crate::fixture_dir;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_onshi-xml")).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn fixture(sub: &str, name: &str) -> String {
    fixture_dir(sub).join(name).to_string_lossy().into_owned()
}

#[test]
fn parse_exit_codes() {
    let (code, out) = run(&["parse", &fixture("messages", "OQSsiquc01res_202504010001.sjis.xml")]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["message"]["kind"], "individual_result");
    assert!(v["diagnostics"].is_array());
    let (code, _) = run(&["parse", &fixture("messages", "OQSsiquc01res_202504010010_problems.utf8.xml")]);
    assert_eq!(code, 1);
    let (code, out) = run(&["parse", &fixture("rejected", "doctype.xml")]);
    assert_eq!(code, 2);
    assert!(out.contains("\"doctype\""), "{out}");
    let (code, _) = run(&["parse", "/nonexistent/file.xml"]);
    assert_eq!(code, 2);
}

#[test]
fn summary_is_one_line() {
    let (code, out) = run(&["parse", "--summary", &fixture("messages", "OQSmuquc02res_202504010003.utf8.xml")]);
    assert_eq!(code, 0);
    assert_eq!(out.trim().lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["kind"], "batch_download_result");
    assert_eq!(v["units"], 4);
    assert_eq!(v["outcomes"]["valid"], 1);
}

#[test]
fn check_numbers() {
    assert_eq!(run(&["check", "insurer", "39131156"]).0, 0);
    let (code, out) = run(&["check", "insurer", "39131157"]);
    assert_eq!(code, 1);
    assert!(out.contains("check_digit"));
    assert_eq!(run(&["check", "public", "54016027"]).0, 0);
    assert_eq!(run(&["check", "institution", "0110113719"]).0, 0);
    assert_eq!(run(&["check", "institution", "0110113718"]).0, 1);
}

#[test]
fn request_individual_round_trips_through_parse() {
    let out = Command::new(env!("CARGO_BIN_EXE_onshi-xml"))
        .args(["request", "individual", "--institution", "0110113719", "--insurer", "138057", "--symbol", "記号01", "--number", "0012", "--branch", "01", "--birth", "19600105", "--date", "20250401"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\""));
    let parsed = onshi_core::parse(&out.stdout).unwrap();
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let onshi_core::Message::IndividualRequest(m) = parsed.message else { panic!() };
    let s = m.body.search.unwrap();
    assert_eq!(s.insurer_number.as_deref(), Some("  138057"));
    assert_eq!(s.insured_card_symbol.as_deref(), Some("記号01"));
    let (code, _) = run(&["request", "individual", "--institution", "0110113719", "--insurer", "138058", "--number", "1", "--birth", "19600105", "--date", "20250401", "--utf8"]);
    assert_eq!(code, 1);
}

#[test]
fn wareki_formats_era_boundaries_and_refuses_non_dates() {
    assert_eq!(run(&["wareki", "20190501"]), (0, "令和元年5月1日\n".to_string()));
    assert_eq!(run(&["wareki", "19890108"]), (0, "平成元年1月8日\n".to_string()));
    assert_eq!(run(&["wareki", "19890107"]), (0, "昭和64年1月7日\n".to_string()));
    let (code, out) = run(&["wareki", "19890230"]);
    assert_eq!((code, out.as_str()), (1, ""), "a non-date exits 1 and prints nothing on stdout");
}
