//! Disaster mode on the page (issue 16): the helper's `disaster_status`
//! answer, the card-less search form and its last answer. Shown only while
//! the helper says disaster mode is open; a refusal (`disaster_closed`)
//! closes it again and keeps the message. The rule is core `disaster`, the
//! key checks core `PersonKey::checked`; dates typed in 和暦 go through core
//! `wareki::parse`. Nothing here decides whether viewing is allowed.

use onshi_core::disaster::{Declaration, PersonKey, Reason, Sex};
use onshi_core::protocol::{DisasterSearch, DisasterSearchReply, DisasterStatusReply, ErrorCode, InsuredPerson, ProtocolError};
use onshi_core::text::{Bilingual, Explain};

/// What the page knows about disaster mode.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DisasterView {
    /// The last `disaster_status` answer; `None` (never asked, failed, or
    /// an older helper without it) means closed: the option is not shown.
    pub status: Option<DisasterStatusReply>,
    pub searching: bool,
    /// The last search's answer, while disaster mode stays open.
    pub reply: Option<DisasterSearchReply>,
    /// The last refusal of a search (kept even when it closed the mode).
    pub error: Option<ProtocolError>,
}

impl DisasterView {
    /// The declaration in force, when the helper said so.
    pub fn open(&self) -> Option<&Declaration> {
        self.status.as_ref()?.open.as_ref()
    }

    /// Whether the page shows anything of disaster mode at all.
    pub fn visible(&self) -> bool {
        self.open().is_some() || self.error.is_some()
    }

    pub fn status_answered(&mut self, s: DisasterStatusReply) {
        if s.open.is_none() {
            // Closed: records found under an earlier declaration go.
            self.reply = None;
        }
        self.status = Some(s);
    }

    pub fn status_failed(&mut self) {
        self.status = None;
        self.reply = None;
    }

    pub fn sent(&mut self) {
        self.searching = true;
        self.error = None;
    }

    pub fn answered(&mut self, r: DisasterSearchReply) {
        self.searching = false;
        self.error = None;
        self.reply = Some(r);
    }

    pub fn failed(&mut self, e: ProtocolError) {
        self.searching = false;
        if e.code == ErrorCode::DisasterClosed {
            // The helper (or the system) says it is closed: the option goes, the reason stays.
            if let Some(s) = &mut self.status {
                s.open = None;
            }
            self.reply = None;
        }
        self.error = Some(e);
    }
}

/// Which way the person is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum By {
    #[default]
    Name,
    Numbers,
}

/// The search form as typed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DisasterForm {
    pub by: By,
    pub kana: String,
    /// 生年月日 as typed: `19640303`, `S39.3.3`, `昭和39年3月3日` …
    pub birth: String,
    pub sex: Option<Sex>,
    pub insurer_number: String,
    pub symbol: String,
    pub number: String,
    pub branch: String,
    pub reason: Option<Reason>,
}

/// One problem with the form: the field's element id and what to do.
pub type FormProblem = (&'static str, Bilingual);

fn optional(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl DisasterForm {
    /// The request to send, or every problem to show (field ids of the
    /// form: `disaster-kana`, `disaster-birth`, `disaster-sex`, `disaster-reason` …).
    /// `today` is `YYYYMMDD…` from the page's clock.
    pub fn request(&self, today: &str) -> Result<DisasterSearch, Vec<FormProblem>> {
        let today = today.get(..8).unwrap_or(today);
        let mut problems = Vec::new();
        let birth = match onshi_core::wareki::parse(&self.birth) {
            Ok(d) => Some(d.yyyymmdd()),
            Err(e) => {
                problems.push(("disaster-birth", e.explain()));
                None
            }
        };
        let reason = self.reason;
        if reason.is_none() {
            problems.push(("disaster-reason", Bilingual::new("閲覧の理由を選んでください。", "Choose the reason for this view.")));
        }
        let person = match self.by {
            By::Name => {
                if self.sex.is_none() {
                    problems.push(("disaster-sex", Bilingual::new("性別を選んでください。", "Choose the sex.")));
                }
                self.sex.map(|sex| PersonKey::NameBirthSex { kana: self.kana.clone(), birth_date: birth.clone().unwrap_or_default(), sex })
            }
            By::Numbers => Some(PersonKey::InsuredNumbers {
                insured: InsuredPerson {
                    insurer_number: self.insurer_number.trim().to_string(),
                    symbol: optional(&self.symbol),
                    number: self.number.trim().to_string(),
                    branch: optional(&self.branch),
                    birth_date: birth.clone().unwrap_or_default(),
                },
            }),
        };
        // The core's own checks, for what the date did not already refuse.
        if let Some(p) = &person
            && let Err(e) = p.checked(today)
            && !(birth.is_none() && e.field() == "birth_date")
        {
            let id = match e.field() {
                "kana" => "disaster-kana",
                "birth_date" => "disaster-birth",
                "insurer_number" => "disaster-insurer",
                _ => "disaster-number",
            };
            problems.push((id, e.explain()));
        }
        match (person, reason, problems.is_empty()) {
            // The treatment setting is the desk's; the shell fills it in.
            (Some(person), Some(reason), true) => Ok(DisasterSearch { person, reason, treatment: Default::default() }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named() -> DisasterForm {
        DisasterForm {
            kana: "ﾔﾏﾀﾞ ﾊﾅｺ".into(),
            birth: "S39.3.3".into(),
            sex: Some(Sex::Female),
            reason: Some(Reason::DisasterAreaVisit),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_name_search_becomes_the_request() {
        let r = named().request("20261206093000").unwrap();
        assert_eq!(r.reason, Reason::DisasterAreaVisit);
        assert_eq!(
            r.person,
            PersonKey::NameBirthSex { kana: "ﾔﾏﾀﾞ ﾊﾅｺ".into(), birth_date: "19640303".into(), sex: Sex::Female }
        );
    }

    #[test]
    fn the_reason_sex_and_fields_are_required() {
        let ids = |f: DisasterForm| f.request("20261206").unwrap_err().into_iter().map(|p| p.0).collect::<Vec<_>>();
        assert_eq!(ids(DisasterForm { reason: None, ..named() }), ["disaster-reason"]);
        assert_eq!(ids(DisasterForm { sex: None, ..named() }), ["disaster-sex"]);
        assert_eq!(ids(DisasterForm { kana: "山田".into(), ..named() }), ["disaster-kana"]);
        assert_eq!(ids(DisasterForm { birth: "昭和99年".into(), ..named() }), ["disaster-birth"]);
        let numbers = DisasterForm { by: By::Numbers, insurer_number: "06132014".into(), number: "1".into(), ..named() };
        assert_eq!(ids(numbers), ["disaster-insurer"]);
    }

    #[test]
    fn a_closed_refusal_hides_the_option_but_keeps_the_message() {
        let d = Declaration::parse("01:20261201-20261231").unwrap();
        let mut v = DisasterView::default();
        assert!(!v.visible());
        v.status_answered(DisasterStatusReply { today: "20261206".into(), open: Some(d), closed: None });
        assert!(v.visible() && v.open().is_some());
        v.sent();
        v.failed(ProtocolError::new(ErrorCode::DisasterClosed));
        assert!(v.open().is_none() && v.visible() && !v.searching);
        v.status_answered(DisasterStatusReply { today: "20261206".into(), open: None, closed: None });
        v.error = None;
        assert!(!v.visible());
    }
}
