//! The generic machinery behind every typed message: how a field is read
//! from the element tree, written back and walked for validation. Message
//! structs are declared once with `record!` and get all three from here,
//! so no message type has hand-written reading code.
//!
//! Reading never depends on element order: each child is matched by name.
//! A child no record knows is kept out of the way and reported once per
//! document as an Info diagnostic.

use std::collections::{HashMap, HashSet};

use crate::codes::CodeValue;
use crate::diag::{Diagnostic, Severity};
use crate::text::{Bilingual, Explain};
use crate::xml::{Element, XmlWriter};

/// The walk context: the current element path and the diagnostics so far.
#[derive(Debug, Default)]
pub struct Cx {
    path: String,
    pub(crate) diagnostics: Vec<Diagnostic>,
    unknown_seen: HashSet<String>,
    /// Messages already written, by `code\0tag\0value`: a batch repeats the
    /// same warning on many units, and formatting it again each time cost
    /// more than the rest of validation (issue 14's name warnings).
    memo: HashMap<String, Bilingual>,
    memo_key: String,
}

impl Cx {
    /// Enters `/name` (or `/name[index]`); returns the length to leave to.
    pub(crate) fn enter(&mut self, name: &str, index: Option<usize>) -> usize {
        let len = self.path.len();
        self.path.push('/');
        self.path.push_str(name);
        if let Some(i) = index {
            use std::fmt::Write;
            let _ = write!(self.path, "[{i}]");
        }
        len
    }

    pub(crate) fn leave(&mut self, len: usize) {
        self.path.truncate(len);
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// Adds a diagnostic at the current path, or at `/child` below it.
    pub(crate) fn report(&mut self, child: Option<&str>, severity: Severity, code: &str, message: Bilingual) {
        let path = match child {
            Some(c) => format!("{}/{c}", self.path),
            None => self.path.clone(),
        };
        self.diagnostics.push(Diagnostic::new(severity, path, code, message));
    }

    /// Like `report` at `/child`, for a message that depends only on
    /// `code` and `key` (e.g. the elements and the value it names): written
    /// once per document, cloned after.
    pub(crate) fn report_memo(&mut self, child: &str, severity: Severity, code: &str, key: &[&str], make: impl FnOnce() -> Bilingual) {
        self.memo_key.clear();
        self.memo_key.push_str(code);
        for part in key {
            self.memo_key.push('\0');
            self.memo_key.push_str(part);
        }
        let message = match self.memo.get(self.memo_key.as_str()) {
            Some(m) => m.clone(),
            None => {
                let m = make();
                self.memo.insert(self.memo_key.clone(), m.clone());
                m
            }
        };
        self.report(Some(child), severity, code, message);
    }

    fn unknown_element(&mut self, name: &str) {
        if self.unknown_seen.insert(name.to_string()) {
            let name = name.to_string();
            self.report(
                Some(&name),
                Severity::Info,
                "unknown_element",
                Bilingual::new(
                    format!("未知の要素<{name}>は読み飛ばしました（以後同名の要素は報告しません）。"),
                    format!("Unknown element <{name}> was skipped (later ones with this name are not reported)."),
                ),
            );
        }
    }

    fn duplicate(&mut self, name: &str) {
        self.report(
            Some(name),
            Severity::Warning,
            "duplicate_element",
            Bilingual::new(
                format!("<{name}>が2回以上あります。最初の値を使いました。"),
                format!("<{name}> appears more than once; the first value was used."),
            ),
        );
    }
}

/// A value that lives in one element: text, a code, or a nested record.
pub trait FieldValue: Sized {
    /// Whether `read` reports anything (so needs the element's path entered
    /// in `cx`). Leaves say no, and the walk then skips building a path
    /// nobody reads: hundreds of thousands of fields in a batch (issue 13).
    const READ_REPORTS: bool = true;
    /// Whether `check` does anything; same reason.
    const CHECKS: bool = true;
    fn read(el: &Element<'_>, cx: &mut Cx) -> Self;
    fn emit(&self, name: &str, w: &mut XmlWriter);
    /// Validation with the value's own path already entered.
    fn check(&self, _cx: &mut Cx) {}
}

impl FieldValue for String {
    const READ_REPORTS: bool = false;
    const CHECKS: bool = false;
    fn read(el: &Element<'_>, _cx: &mut Cx) -> Self {
        el.text.to_string()
    }
    fn emit(&self, name: &str, w: &mut XmlWriter) {
        w.leaf(name, self);
    }
}

/// Code tables read and write their wire code; an unknown one is a warning.
macro_rules! code_fields {
    ($($t:ty),*) => {$(
        impl FieldValue for $t {
            const READ_REPORTS: bool = false;
            fn read(el: &Element<'_>, _cx: &mut Cx) -> Self {
                <$t as CodeValue>::from_code(&el.text)
            }
            fn emit(&self, name: &str, w: &mut XmlWriter) {
                w.leaf(name, self.code());
            }
            fn check(&self, cx: &mut Cx) {
                if !self.is_known() {
                    let message = self.explain();
                    cx.report(None, Severity::Warning, "unknown_code", message);
                }
            }
        }
    )*};
}
use crate::codes::*;
code_fields!(
    QualificationValidity, Sex, ReasonOfLoss, InsuredCardClassification, PersonalFamilyClassification,
    SegmentOfResult, ProcessingResultStatus, ReferenceClassification, LimitClassificationFlag, ConsentFlag,
    SpecificDiseaseCategory, FileCategory, MedicalTreatmentFlag, CharacterCodeIdentifier
);

/// A struct declared with `record!`.
pub trait Record: Default {
    /// Takes `child` into the matching field; false when no field wants it.
    fn absorb_child(&mut self, child: &Element<'_>, cx: &mut Cx) -> bool;
    fn emit_fields(&self, w: &mut XmlWriter);
    fn check_fields(&self, cx: &mut Cx);
}

/// Cross-field rules of one record (valid-from ≤ expiry …); most have none.
pub trait Rules {
    fn rules(&self, _cx: &mut Cx) {}
}

pub(crate) fn read_record<R: Record>(el: &Element<'_>, cx: &mut Cx) -> R {
    let mut record = R::default();
    for child in &el.children {
        if !record.absorb_child(child, cx) {
            cx.unknown_element(&child.name);
        }
    }
    record
}

/// How a struct field holds its element(s): `Option` (absent vs present,
/// present-but-empty is `Some("")`) or `Vec` (repeated). `path` is the
/// element name, or a wrapper and the item name inside it.
pub trait Field {
    fn absorb(&mut self, el: &Element<'_>, rest: &[&str], cx: &mut Cx);
    fn emit(&self, path: &[&str], w: &mut XmlWriter);
    fn check(&self, path: &[&str], cx: &mut Cx);
    fn is_absent(&self) -> bool;
}

impl<T: FieldValue> Field for Option<T> {
    fn absorb(&mut self, el: &Element<'_>, rest: &[&str], cx: &mut Cx) {
        if rest.is_empty() && !T::READ_REPORTS {
            // As below, without entering a path that neither `read` nor
            // the duplicate report (made from the parent's path) uses.
            match self {
                Some(_) => cx.duplicate(&el.name),
                None => *self = Some(T::read(el, cx)),
            }
            return;
        }
        let mark = cx.enter(&el.name, None);
        match rest.split_first() {
            None if self.is_some() => {
                cx.leave(mark);
                cx.duplicate(&el.name);
                return;
            }
            None => *self = Some(T::read(el, cx)),
            Some((next, rest)) => {
                for c in el.children.iter().filter(|c| c.name == *next) {
                    self.absorb(c, rest, cx);
                }
            }
        }
        cx.leave(mark);
    }
    fn emit(&self, path: &[&str], w: &mut XmlWriter) {
        let Some(value) = self else { return };
        match path {
            [name] => value.emit(name, w),
            [wrapper, rest @ ..] => {
                w.open(wrapper);
                self.emit(rest, w);
                w.close(wrapper);
            }
            [] => {}
        }
    }
    fn check(&self, path: &[&str], cx: &mut Cx) {
        let Some(value) = self.as_ref().filter(|_| T::CHECKS) else { return };
        let mark = cx.path().len();
        for p in path {
            cx.enter(p, None);
        }
        value.check(cx);
        cx.leave(mark);
    }
    fn is_absent(&self) -> bool {
        self.is_none()
    }
}

impl<T: FieldValue> Field for Vec<T> {
    fn absorb(&mut self, el: &Element<'_>, rest: &[&str], cx: &mut Cx) {
        match rest.split_first() {
            None if !T::READ_REPORTS => self.push(T::read(el, cx)),
            None => {
                let mark = cx.enter(&el.name, Some(self.len() + 1));
                self.push(T::read(el, cx));
                cx.leave(mark);
            }
            Some((next, rest)) => {
                let mark = cx.enter(&el.name, None);
                for c in el.children.iter().filter(|c| c.name == *next) {
                    self.absorb(c, rest, cx);
                }
                cx.leave(mark);
            }
        }
    }
    fn emit(&self, path: &[&str], w: &mut XmlWriter) {
        if self.is_empty() {
            return;
        }
        match path {
            [name] => self.iter().for_each(|v| v.emit(name, w)),
            [wrapper, rest @ ..] => {
                w.open(wrapper);
                self.emit(rest, w);
                w.close(wrapper);
            }
            [] => {}
        }
    }
    fn check(&self, path: &[&str], cx: &mut Cx) {
        if !T::CHECKS {
            return;
        }
        let Some((last, wrappers)) = path.split_last() else { return };
        let mark = cx.path().len();
        for p in wrappers {
            cx.enter(p, None);
        }
        for (i, value) in self.iter().enumerate() {
            let m = cx.enter(last, Some(i + 1));
            value.check(cx);
            cx.leave(m);
        }
        cx.leave(mark);
    }
    fn is_absent(&self) -> bool {
        self.is_empty()
    }
}

/// Declares a message record: the struct (serde-ready), its reading by
/// element name, its writing in declaration order, and its validation walk.
/// A field is `name: Type = "Element"` or `= "Wrapper" / "Item"`, optionally
/// followed by `=> check` naming a value rule in `crate::validate::value`.
macro_rules! record {
    ($(
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $tag:literal $(/ $item:literal)? $(=> $check:ident)? ),* $(,)?
        }
    )*) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[doc = concat!("`", $tag $(, "/", $item)?, "`")]
                #[serde(rename = $tag, skip_serializing_if = "crate::message::model::Field::is_absent")]
                pub $field: $ty,
            )*
        }

        impl $crate::message::model::Record for $name {
            fn absorb_child(&mut self, child: &$crate::xml::Element<'_>, cx: &mut $crate::message::model::Cx) -> bool {
                match child.name.as_ref() {
                    $( $tag => {
                        $crate::message::model::Field::absorb(&mut self.$field, child, &[$($item)?], cx);
                        true
                    } )*
                    _ => false,
                }
            }
            fn emit_fields(&self, w: &mut $crate::xml::XmlWriter) {
                $( $crate::message::model::Field::emit(&self.$field, &[$tag $(, $item)?], w); )*
            }
            fn check_fields(&self, cx: &mut $crate::message::model::Cx) {
                $(
                    $crate::message::model::Field::check(&self.$field, &[$tag $(, $item)?], cx);
                    $( $crate::validate::value::$check(&self.$field, $tag, cx); )?
                )*
                $crate::message::model::Rules::rules(self, cx);
            }
        }

        impl $crate::message::model::FieldValue for $name {
            fn read(el: &$crate::xml::Element<'_>, cx: &mut $crate::message::model::Cx) -> Self {
                $crate::message::model::read_record(el, cx)
            }
            fn emit(&self, name: &str, w: &mut $crate::xml::XmlWriter) {
                w.open(name);
                $crate::message::model::Record::emit_fields(self, w);
                w.close(name);
            }
            fn check(&self, cx: &mut $crate::message::model::Cx) {
                $crate::message::model::Record::check_fields(self, cx);
            }
        }
    )*};
}
pub(crate) use record;
