//! Each refused file gives its own typed error, quickly and without panics.

use onshi_core::xml::Limits;
use onshi_core::ParseError;

use crate::fixture_dir;

#[test]
fn each_refusal_has_its_typed_error() {
    for (file, code) in [
        ("empty.xml", "empty"),
        ("doctype.xml", "doctype"),
        ("entity.xml", "entity"),
        ("too_deep.xml", "too_deep"),
        ("truncated.xml", "truncated"),
        ("invalid_utf8.xml", "invalid_bytes"),
        ("invalid_sjis.xml", "invalid_bytes"),
        ("unsupported_encoding.xml", "unsupported_encoding"),
        ("not_well_formed.xml", "not_well_formed"),
        ("not_xml_msg.xml", "not_xml_msg"),
        ("unknown_message.xml", "unknown_message"),
    ] {
        let bytes = std::fs::read(fixture_dir("rejected").join(file)).unwrap();
        let err = onshi_core::parse(&bytes).expect_err(file);
        assert_eq!(err.code(), code, "{file}: {err}");
        let text = onshi_core::text::Explain::explain(&err);
        assert!(!text.ja.is_empty() && !text.en.is_empty());
    }
}

#[test]
fn size_and_element_limits() {
    let doc = format!("<XmlMsg><MessageBody>{}</MessageBody></XmlMsg>", "<a/>".repeat(1000));
    let small = Limits { max_bytes: 100, ..Limits::default() };
    assert!(matches!(onshi_core::message::parse_with(doc.as_bytes(), None, &small), Err(ParseError::TooLarge { .. })));
    let few = Limits { max_elements: 500, ..Limits::default() };
    assert_eq!(onshi_core::message::parse_with(doc.as_bytes(), None, &few), Err(ParseError::TooManyElements { limit: 500 }));
}

#[test]
fn billion_laughs_is_refused_before_any_expansion() {
    let mut doc = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        doc += &format!("<!ENTITY lol{i} \"{}\">", format!("&lol{};", i - 1).repeat(10));
    }
    doc += "]><XmlMsg>&lol9;</XmlMsg>";
    assert_eq!(onshi_core::parse(doc.as_bytes()), Err(ParseError::Doctype));
}

#[test]
fn every_prefix_of_a_real_file_is_an_error_or_a_message_never_a_panic() {
    let bytes = std::fs::read(crate::fixture_dir("messages").join("OQSsiquc01res_202504010001.sjis.xml")).unwrap();
    for end in 0..bytes.len() {
        let _ = onshi_core::parse(&bytes[..end]);
    }
}
