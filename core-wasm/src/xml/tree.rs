//! Text → a small element tree borrowed from the text, built from
//! quick-xml events. Attributes, comments and processing instructions are
//! ignored (the messages use none); white space between child elements is
//! dropped; a leaf's text is kept verbatim.
//!
//! Large repeated records (a batch result's `BulkConfirmUnit`s) can be
//! *streamed*: when such an element closes it is handed to a callback and not
//! attached to its parent, so a 20 MB batch never lives in memory as a tree.

use std::borrow::Cow;

use quick_xml::events::{BytesText, Event};
use quick_xml::Reader;

use super::{Limits, ParseError};

/// One element: its name, its text (leaf elements only) and its children in
/// document order. `text` is empty for `<A/>` and `<A></A>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element<'a> {
    pub name: Cow<'a, str>,
    pub text: Cow<'a, str>,
    pub children: Vec<Element<'a>>,
}

impl<'a> Element<'a> {
    /// The first child with this name.
    pub fn child(&self, name: &str) -> Option<&Element<'a>> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Whether any descendant (or this element) has this name.
    pub fn contains(&self, name: &str) -> bool {
        self.name == name || self.children.iter().any(|c| c.contains(name))
    }
}

/// Borrows `part` from `source` when it is a sub-slice of it (quick-xml hands
/// out slices of its input); otherwise copies. Safe pointer arithmetic only.
fn reborrow<'a>(source: &'a str, part: &str) -> Cow<'a, str> {
    let start = (part.as_ptr() as usize).wrapping_sub(source.as_ptr() as usize);
    match source.get(start..start.wrapping_add(part.len())) {
        Some(s) if s.as_ptr() == part.as_ptr() => Cow::Borrowed(s),
        _ => Cow::Owned(part.to_owned()),
    }
}

/// A text event's content with XML 1.0 line ends (CR LF and CR become LF).
/// Almost no text holds a CR: test that with a plain loop, which for the
/// messages' short values is cheaper than quick-xml's general search
/// (`xml10_content`), four per cent of a batch's parse (issue 13).
fn text_content(t: BytesText<'_>) -> Cow<'_, str> {
    if t.as_bytes().contains(&b'\r') { t.xml10_content() } else { t.into_inner() }
}

fn append<'a>(text: &mut Cow<'a, str>, piece: Cow<'a, str>) {
    if text.is_empty() {
        *text = piece;
    } else {
        text.to_mut().push_str(&piece);
    }
}

/// An element whose end tag has not come yet. Its children so far are not
/// in `element.children` but at `first_child..` of the builder's one
/// `children` buffer, and are moved into an exact-sized `Vec` when it
/// closes: growing a `Vec` per element (4, 8, 16, 32 … for a 35-field
/// qualification) was a tenth of a batch's parse time (issue 13).
struct Open<'a> {
    element: Element<'a>,
    /// Once an element has a child, its own text is indentation: ignore it.
    has_children: bool,
    first_child: usize,
}

/// The elements being built: the open ones, and the closed children of
/// all open ones, in document order.
#[derive(Default)]
struct Building<'a> {
    stack: Vec<Open<'a>>,
    children: Vec<Element<'a>>,
}

/// Builds the tree of `text`. Elements whose name is in `streamed` are given
/// to `on_streamed` (with their 1-based position among streamed elements)
/// instead of being attached to their parent.
pub fn build<'a>(
    text: &'a str,
    limits: &Limits,
    streamed: &[&str],
    mut on_streamed: impl FnMut(Element<'a>, usize),
) -> Result<Element<'a>, ParseError> {
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.trim_text(false);
    let mut building = Building::default();
    let mut root: Option<Element<'a>> = None;
    let mut elements = 0usize;
    let mut streamed_count = 0usize;
    let not_well_formed = |reader: &Reader<&[u8]>, reason: String| ParseError::NotWellFormed {
        offset: reader.buffer_position(),
        reason,
    };
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                use quick_xml::errors::{IllFormedError, SyntaxError};
                use quick_xml::Error as X;
                let open = building.stack.last().map(|o| o.element.name.to_string());
                return Err(match (&e, open) {
                    (X::Syntax(SyntaxError::UnclosedTag | SyntaxError::UnclosedCData | SyntaxError::UnclosedComment), Some(open))
                    | (X::IllFormed(IllFormedError::MissingEndTag(_)), Some(open)) => ParseError::Truncated { open },
                    _ => ParseError::NotWellFormed { offset: reader.error_position(), reason: e.to_string() },
                });
            }
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(not_well_formed(&reader, "a second root element".into()));
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(ParseError::TooManyElements { limit: limits.max_elements });
                }
                if building.stack.len() >= limits.max_depth {
                    return Err(ParseError::TooDeep { limit: limits.max_depth });
                }
                let raw_name = start.name().into_inner();
                let element = Element { name: reborrow(text, raw_name), text: Cow::Borrowed(""), children: Vec::new() };
                if let Some(parent) = building.stack.last_mut()
                    && !parent.has_children
                {
                    parent.has_children = true;
                    parent.element.text = Cow::Borrowed("");
                }
                building.stack.push(Open { element, has_children: false, first_child: building.children.len() });
                if matches!(event, Event::Empty(_)) {
                    close(&mut building, &mut root, streamed, &mut streamed_count, &mut on_streamed);
                }
            }
            Event::End(_) => close(&mut building, &mut root, streamed, &mut streamed_count, &mut on_streamed),
            Event::Text(t) => match building.stack.last_mut() {
                Some(open) if !open.has_children => append(&mut open.element.text, text_content(t)),
                Some(_) => {}
                None if t.trim().is_empty() => {}
                None => return Err(not_well_formed(&reader, "text outside the root element".into())),
            },
            Event::CData(c) => {
                if let Some(open) = building.stack.last_mut().filter(|o| !o.has_children) {
                    append(&mut open.element.text, c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref() {
                    Ok(Some(ch)) => ch,
                    Ok(None) => match r.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(ParseError::Entity { name: other.chars().take(64).collect() }),
                    },
                    Err(e) => return Err(not_well_formed(&reader, e.to_string())),
                };
                match building.stack.last_mut() {
                    Some(open) if !open.has_children => {
                        let mut buf = [0u8; 4];
                        append(&mut open.element.text, Cow::Owned(ch.encode_utf8(&mut buf).to_owned()));
                    }
                    Some(_) => {}
                    None => return Err(not_well_formed(&reader, "reference outside the root element".into())),
                }
            }
            Event::DocType(_) => return Err(ParseError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = building.stack.last() {
        return Err(ParseError::Truncated { open: open.element.name.to_string() });
    }
    root.ok_or(ParseError::Truncated { open: String::new() })
}

fn close<'a>(
    building: &mut Building<'a>,
    root: &mut Option<Element<'a>>,
    streamed: &[&str],
    streamed_count: &mut usize,
    on_streamed: &mut impl FnMut(Element<'a>, usize),
) {
    let Some(open) = building.stack.pop() else { return };
    let mut element = open.element;
    // A leaf takes no allocation: collecting an empty drain allocates nothing.
    element.children = building.children.drain(open.first_child..).collect();
    match building.stack.last() {
        None => *root = Some(element),
        Some(_) if streamed.iter().any(|s| element.name == *s) => {
            *streamed_count += 1;
            on_streamed(element, *streamed_count);
        }
        Some(_) => building.children.push(element),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Element<'_>, ParseError> {
        build(s, &Limits::default(), &[], |_, _| {})
    }

    #[test]
    fn leaves_keep_text_verbatim_and_indentation_is_dropped() {
        let e = parse("<a>\n  <b>  138057</b>\n  <c/>\n  <d></d><e>x &amp; &#x9AD9;</e>\n</a>").unwrap();
        let texts: Vec<_> = e.children.iter().map(|c| (c.name.as_ref(), c.text.as_ref())).collect();
        assert_eq!(texts, [("b", "  138057"), ("c", ""), ("d", ""), ("e", "x & 髙")]);
        assert_eq!(e.text, "");
        assert!(matches!(e.children[0].name, Cow::Borrowed(_)));
    }

    #[test]
    fn line_ends_in_text_become_lf_and_plain_text_stays_borrowed() {
        let e = parse("<a><b>x\r\ny\rz\n</b><c>plain</c></a>").unwrap();
        assert_eq!(e.children[0].text, "x\ny\nz\n");
        assert!(matches!(e.children[1].text, Cow::Borrowed("plain")));
    }

    #[test]
    fn hostile_and_broken_input_is_refused() {
        assert_eq!(parse("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>").unwrap_err(), ParseError::Doctype);
        assert_eq!(parse("<a>&x;</a>").unwrap_err(), ParseError::Entity { name: "x".into() });
        let deep = "<a>".repeat(40) + &"</a>".repeat(40);
        assert_eq!(parse(&deep).unwrap_err(), ParseError::TooDeep { limit: 32 });
        let many = build("<a><b/><b/><b/></a>", &Limits { max_elements: 3, ..Limits::default() }, &[], |_, _| {});
        assert_eq!(many.unwrap_err(), ParseError::TooManyElements { limit: 3 });
        assert!(matches!(parse("<a><b>12</b><c>3"), Err(ParseError::Truncated { .. })));
        assert!(matches!(parse("<a><b>12</b><c"), Err(ParseError::Truncated { .. })));
        assert!(matches!(parse("<a><b></c></a>"), Err(ParseError::NotWellFormed { .. })));
        assert!(matches!(parse("<a/><b/>"), Err(ParseError::NotWellFormed { .. })));
    }

    #[test]
    fn streamed_elements_go_to_the_callback() {
        let mut got = Vec::new();
        let root = build("<a><u><x>1</x></u><h/><u><x>2</x></u></a>", &Limits::default(), &["u"], |e, i| {
            got.push((i, e.child("x").map(|x| x.text.to_string())))
        })
        .unwrap();
        assert_eq!(root.children.len(), 1);
        assert_eq!(got, [(1, Some("1".into())), (2, Some("2".into()))]);
    }
}
