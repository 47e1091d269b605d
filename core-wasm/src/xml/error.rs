//! Why a document could not be read at all. Grouped by fault: the file is
//! hostile, the file is damaged, or the file is not an eligibility message.

use serde::Serialize;

use crate::text::{Bilingual, Explain};

/// A fatal reading error. `offset` values count bytes from the start of the
/// decoded text (for encoding errors: of the raw file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ParseError {
    #[error("empty file")]
    Empty,
    #[error("file of {size} bytes exceeds the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    /// A `<!DOCTYPE …>`: refused because it can define entities; never expanded.
    #[error("DOCTYPE declarations are refused")]
    Doctype,
    /// An entity reference other than `&lt; &gt; &amp; &apos; &quot;` or a character reference.
    #[error("entity reference &{name}; is refused")]
    Entity { name: String },
    #[error("nesting deeper than {limit} elements")]
    TooDeep { limit: usize },
    #[error("more than {limit} elements")]
    TooManyElements { limit: usize },
    #[error("encoding {label:?} is not supported")]
    UnsupportedEncoding { label: String },
    #[error("bytes invalid for {encoding} at offset {offset}")]
    InvalidBytes { encoding: String, offset: usize },
    /// The file ends inside an element or tag: usually a copy that was still being written.
    #[error("truncated inside <{open}>")]
    Truncated { open: String },
    #[error("not well-formed at offset {offset}: {reason}")]
    NotWellFormed { offset: u64, reason: String },
    #[error("root element is <{root}>, not <XmlMsg>")]
    NotXmlMsg { root: String },
    #[error("unrecognised message")]
    UnknownMessage,
}

impl ParseError {
    /// A stable machine-readable code (the same string serde writes as `code`).
    pub fn code(&self) -> &'static str {
        match self {
            ParseError::Empty => "empty",
            ParseError::TooLarge { .. } => "too_large",
            ParseError::Doctype => "doctype",
            ParseError::Entity { .. } => "entity",
            ParseError::TooDeep { .. } => "too_deep",
            ParseError::TooManyElements { .. } => "too_many_elements",
            ParseError::UnsupportedEncoding { .. } => "unsupported_encoding",
            ParseError::InvalidBytes { .. } => "invalid_bytes",
            ParseError::Truncated { .. } => "truncated",
            ParseError::NotWellFormed { .. } => "not_well_formed",
            ParseError::NotXmlMsg { .. } => "not_xml_msg",
            ParseError::UnknownMessage => "unknown_message",
        }
    }
}

impl Explain for ParseError {
    fn explain(&self) -> Bilingual {
        match self {
            ParseError::Empty => Bilingual::new(
                "ファイルが空です（0バイト）。書き込み途中の可能性があります。少し待ってから読み直してください。",
                "The file is empty (0 bytes); it may still be being written. Wait a moment and read it again.",
            ),
            ParseError::TooLarge { size, limit } => Bilingual::new(
                format!("ファイルが大きすぎます（{size}バイト、上限{limit}バイト）。正しいファイルか確かめてください。"),
                format!("The file is too large ({size} bytes, limit {limit}). Check that it is the right file."),
            ),
            ParseError::Doctype => Bilingual::new(
                "DOCTYPE宣言を含むファイルは安全のため読みません。資格確認のXMLにはDOCTYPEはありません。送り元を確かめてください。",
                "Files with a DOCTYPE are refused for safety; eligibility XML never has one. Check where the file came from.",
            ),
            ParseError::Entity { name } => Bilingual::new(
                format!("実体参照「&{name};」は安全のため読みません。送り元を確かめてください。"),
                format!("The entity reference &{name}; is refused for safety. Check where the file came from."),
            ),
            ParseError::TooDeep { limit } => Bilingual::new(
                format!("要素の入れ子が深すぎます（上限{limit}）。資格確認のXMLではありません。"),
                format!("Elements nest deeper than {limit}; this is not an eligibility message."),
            ),
            ParseError::TooManyElements { limit } => Bilingual::new(
                format!("要素の数が多すぎます（上限{limit}）。ファイルを分けてください。"),
                format!("Too many elements (limit {limit}). Split the file."),
            ),
            ParseError::UnsupportedEncoding { label } => Bilingual::new(
                format!("文字コード「{label}」には対応していません。Shift_JIS か UTF-8 で保存してください。"),
                format!("Encoding {label:?} is not supported. Save the file as Shift_JIS or UTF-8."),
            ),
            ParseError::InvalidBytes { encoding, offset } => Bilingual::new(
                format!("{offset}バイト目に{encoding}として読めない文字があります。ファイルが壊れているか、宣言と実際の文字コードが違います。"),
                format!("Byte {offset} is not valid {encoding}: the file is damaged or its declared encoding is wrong."),
            ),
            ParseError::Truncated { open } => Bilingual::new(
                format!("ファイルが途中で切れています（<{open}>の中）。書き込み途中の可能性があります。もう一度受け取ってください。"),
                format!("The file ends early (inside <{open}>); it may still be being written. Fetch it again."),
            ),
            ParseError::NotWellFormed { offset, reason } => Bilingual::new(
                format!("XMLとして正しくありません（{offset}文字目付近：{reason}）。作成したソフトの担当者に連絡してください。"),
                format!("Not well-formed XML near offset {offset} ({reason}). Contact the vendor of the software that wrote it."),
            ),
            ParseError::NotXmlMsg { root } => Bilingual::new(
                format!("資格確認のメッセージではありません（ルート要素が<{root}>です）。"),
                format!("Not an eligibility message (the root element is <{root}>, not <XmlMsg>)."),
            ),
            ParseError::UnknownMessage => Bilingual::new(
                "どの種類のメッセージか判別できません。ファイル名（OQSsiquc01res など）を確かめてください。",
                "The kind of message cannot be recognised. Check the file name (e.g. OQSsiquc01res).",
            ),
        }
    }
}
