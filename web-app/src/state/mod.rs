//! The page's state as plain data, the actions that change it, and the
//! reducer. Pure: no DOM, no helper calls, no clock ("now" arrives as an
//! action). Components read it; the app shell turns clicks and helper
//! replies into [`Action`]s.

use std::rc::Rc;

use onshi_core::protocol::{
    CardConfirm, ConfirmKind, ConfirmMode, Eligibility, ErrorCode, Event, InsuranceConfirm, PresentedDocument, ProtocolError, ReaderInfo,
    Response, StatusReply, TodayEntry, Treatment,
};
use onshi_core::text::Bilingual;
use yew::Reducible;

use crate::i18n::{t, Lang, Tx};

pub mod card;
pub mod desk;
pub mod disaster;
pub mod entry;
pub mod links;
pub mod result;
mod replies;
pub mod usage;

#[cfg(test)]
mod tests;

pub use card::{CardFlow, CardStep, Consent};
pub use desk::TodayRow;
pub use disaster::DisasterView;
pub use entry::{EntryForm, Field, FieldVerdict, Tone};
pub use links::{Lamp, Light, Links};
pub use result::{RecordSource, ResultModel, Stored};
pub use usage::UsageView;

/// The screens. `Batch` and `History` are mounted by the batch/history
/// pages (another part of the tree); the shell shows placeholders for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Route {
    #[default]
    Entry,
    Desk,
    Card,
    Result,
    Batch,
    History,
    Settings,
    /// 利用状況: usage statistics (issue 16).
    Usage,
}

impl Route {
    /// Nav order; Alt+1… selects them in this order.
    /// New screens go at the end, so the Alt numbers staff learned stay.
    pub const NAV: [Route; 8] =
        [Route::Desk, Route::Entry, Route::Card, Route::Result, Route::Batch, Route::History, Route::Settings, Route::Usage];

    pub fn label(self) -> Tx {
        match self {
            Route::Desk => t::NAV_DESK,
            Route::Entry => t::NAV_ENTRY,
            Route::Card => t::NAV_CARD,
            Route::Result => t::NAV_RESULT,
            Route::Batch => t::NAV_BATCH,
            Route::History => t::NAV_HISTORY,
            Route::Settings => t::NAV_SETTINGS,
            Route::Usage => t::NAV_USAGE,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Route::Desk => "desk",
            Route::Entry => "entry",
            Route::Card => "card",
            Route::Result => "result",
            Route::Batch => "batch",
            Route::History => "history",
            Route::Settings => "settings",
            Route::Usage => "usage",
        }
    }

    /// The route for Alt+`digit` (1-based), if any.
    pub fn from_digit(d: u32) -> Option<Route> {
        (d as usize).checked_sub(1).and_then(|i| Route::NAV.get(i)).copied()
    }

    pub fn from_slug(s: &str) -> Option<Route> {
        Route::NAV.into_iter().find(|r| r.slug() == s)
    }
}

/// The order in which the shell sent its requests: every request gets the
/// next number, and its reply or error carries it back. Answers arrive out
/// of order (a dead extension answers only after the 1 s ack timeout), so
/// the reducer uses it to ignore what a newer answer already superseded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Seq(pub u64);

/// Which request a reply or error belongs to, so the error lands where the
/// person is looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Hello,
    Status,
    Today,
    Insurance,
    Card,
    /// `card_register`, offered after `card_not_registered`.
    CardRegister,
    Pair,
    BatchSubmit,
    BatchStatus,
    BatchResults,
    Medication,
    Checkup,
    Usage,
    /// `disaster_status` (issue 16).
    DisasterStatus,
    /// `disaster_search`.
    DisasterSearch,
}

/// A message under the entry form.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Online checks need the extension and the helper.
    NeedHelper,
    /// Some fields stop the submit.
    FixFields,
    /// The helper (or the extension for it) refused.
    Failed(ProtocolError),
}

impl Notice {
    pub fn text(&self) -> Bilingual {
        match self {
            Notice::NeedHelper => t::NEED_HELPER.bi(),
            Notice::FixFields => t::FIX_FIELDS.bi(),
            Notice::Failed(e) if matches!(e.code, ErrorCode::ExtensionMissing | ErrorCode::HostNotFound | ErrorCode::HostCrashed) => {
                Bilingual::new(format!("{} {}", e.message.ja, t::NEED_HELPER.ja), format!("{} {}", e.message.en, t::NEED_HELPER.en))
            }
            Notice::Failed(e) => e.message.clone(),
        }
    }
}

/// The pairing panel.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Pairing {
    #[default]
    Idle,
    Waiting,
    Code { code: String, pairing_id: String },
    Approved,
    Denied,
    Failed(ProtocolError),
}

/// The result on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Shown {
    pub xml: String,
    pub kind: Option<ConfirmKind>,
    /// Checks by numbers: the document the numbers came from.
    pub document: Option<PresentedDocument>,
    /// Desk checks: where the patient was treated (`None` for a file, and
    /// for results from before helper 0.3).
    pub treatment: Option<Treatment>,
    /// `Err` when the document could not be read (the message says why).
    pub model: Result<ResultModel, Bilingual>,
    /// The card's certificate notice of a fresh card check (the renewal
    /// reminder, or "qualification only" in the grace), as the helper sent it.
    pub certificate: Option<onshi_core::protocol::CertificateNotice>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppState {
    pub lang: Lang,
    pub route: Route,
    pub links: Links,
    pub entry: EntryForm,
    pub notice: Option<Notice>,
    pub sending: bool,
    pub card: CardFlow,
    pub shown: Option<Shown>,
    /// A record the user loaded from a file to compare against.
    pub loaded_record: Option<Stored>,
    pub today: Vec<TodayRow>,
    pub today_loaded: bool,
    pub search: String,
    pub pairing: Pairing,
    pub status: Option<StatusReply>,
    /// `YYYYMMDDHHmmss`, local time, from the app shell's clock.
    pub now: String,
    /// Counts clears, so the shell can put the focus back on the first field.
    pub cleared: u32,
    /// The batch pre-check this page submitted (batch/ draws it).
    pub batch: BatchRun,
    /// Consented history of the person on screen (history/ draws it).
    pub history: HistoryDocs,
    /// The last refusal on the batch or history screen.
    pub page_error: Option<ProtocolError>,
    /// The newest request sent per kind: an answer to an older one of the
    /// same kind is stale and ignored.
    pub sent: Vec<(Op, Seq)>,
    /// The request whose answer last told us about the links; answers to
    /// requests sent before it do not change the lamps (a late
    /// `extension_missing` from an old `hello` after a newer success).
    pub links_seq: Seq,
    /// Bumped when the shell should ask `status` and `today` again (the
    /// pairing was approved: before it, both were refused as not paired,
    /// and reader/card events only report changes, so the lamps would stay
    /// unknown).
    pub refresh: u32,
    /// The 利用状況 screen.
    pub usage: UsageView,
    /// Disaster mode: shown only while the helper says it is open (issue 16).
    pub disaster: DisasterView,
    /// Where the next check's patient is treated (外来 on load): sent with
    /// card and number checks, kept with the result.
    pub treatment: Treatment,
}

/// The shell's view of one submitted batch.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchRun {
    pub batch_id: Option<String>,
    /// The latest `batch_status` entry for it.
    pub info: Option<onshi_core::protocol::BatchInfo>,
    /// The `OQSmuquc02res` document once the batch is done.
    pub results_xml: Option<String>,
    /// The same document as the system sent it (base64), for the XML export.
    pub results_received: Option<String>,
}

/// Fetched history documents for the person on screen; cleared when
/// another result is shown, so one patient's history never sits under
/// another's name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistoryDocs {
    pub medication_xml: Option<String>,
    pub checkup_xml: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    SetLang(Lang),
    Go(Route),
    Now(String),
    Type(Field, String),
    SetLimitConsent(bool),
    /// The document in hand for a check by numbers.
    SetDocument(PresentedDocument),
    /// Where the next check's patient is treated.
    SetTreatment(Treatment),
    ClearEntry,
    /// Submit pressed: the reducer records why nothing was sent, if so.
    SubmitRefused(Notice),
    /// A request went out.
    Sent(Op, Seq),
    Reply(Op, Seq, Response),
    Failed(Op, Seq, ProtocolError),
    Event(Event),
    CardMode(ConfirmMode),
    ToggleConsent(Consent),
    /// A result document loaded from a file.
    LoadResult(String),
    /// The clinic's stored record loaded from a file.
    LoadStored(String),
    ForgetStored,
    /// Esc: clears the entry form when it is on screen.
    Escape,
    OpenToday(String),
    Search(String),
    /// The 利用状況 month picked (`YYYYMM`).
    UsageMonth(String),
}

/// What pressing submit should do, decided from the state alone.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitPlan {
    Send(InsuranceConfirm),
    Refuse(Notice),
}

impl AppState {
    pub fn submit_plan(&self) -> SubmitPlan {
        match self.entry.request() {
            Err(_) => SubmitPlan::Refuse(Notice::FixFields),
            Ok(req) => match self.links.query_blocker() {
                None => SubmitPlan::Send(InsuranceConfirm { treatment: self.treatment, ..req }),
                Some(e) if e.code == ErrorCode::ExtensionMissing => SubmitPlan::Refuse(Notice::NeedHelper),
                // Not paired, or the helper down: its own message says what to do.
                Some(e) => SubmitPlan::Refuse(Notice::Failed(e)),
            },
        }
    }

    /// The record to compare a new result with: one the user loaded, else
    /// the newest earlier result for the same person today.
    fn stored_for(&self, xml: &str) -> Option<Stored> {
        if let Some(s) = &self.loaded_record {
            return Some(s.clone());
        }
        let key = result::first_entry(xml).map(|q| result::person_key(&q))?;
        // Today's earlier results in order, each accepted over the last, so
        // what the record keeps (the spelling before a ● name) carries on.
        self.today
            .iter()
            .filter(|r| r.xml != xml && r.person.as_deref() == Some(key.as_str()))
            .filter_map(|r| result::first_entry(&r.xml))
            .fold(None, |record, q| Some(onshi_core::diff::updated_record(record.as_ref(), &q)))
            .map(|record| Stored { record, source: RecordSource::Today })
    }

    /// The card check to send: the panel's mode and consents, this check's setting.
    pub fn card_request(&self) -> CardConfirm {
        CardConfirm { treatment: self.treatment, ..self.card.request() }
    }

    fn show(&mut self, xml: String, kind: Option<ConfirmKind>, document: Option<PresentedDocument>, treatment: Option<Treatment>) {
        let stored = self.stored_for(&xml);
        let mut model = result::read_result(&xml, &self.now, stored.as_ref(), document);
        // Away from the desk is worth a line on the slip; 外来 is the usual case.
        if let (Ok(m), Some(t)) = (&mut model, treatment.filter(|t| *t != Treatment::Outpatient)) {
            if let Some(first) = m.entries.first_mut() {
                first.rows.insert(0, result::Row { label: t::D_TREATMENT, value: t.label(), changed: None });
            }
        }
        self.shown = Some(Shown { xml, kind, document, treatment, model, certificate: None });
        self.route = Route::Result;
    }

    /// A fresh eligibility result from the helper: shown, and added to
    /// today's list (the helper keeps its own copy for reloads).
    fn eligibility(&mut self, e: Eligibility, kind: ConfirmKind) {
        self.links.network = links::Network::Ok;
        self.history = HistoryDocs::default();
        // The form keeps its document while the check runs (submit is disabled).
        let document = (kind == ConfirmKind::Insurance).then_some(self.entry.document);
        // The picker is locked while a check runs, so this is the setting it went out with.
        let treatment = (kind != ConfirmKind::Face).then_some(self.treatment);
        self.show(e.xml.clone(), Some(kind), document, treatment);
        if let Some(shown) = &mut self.shown {
            shown.certificate = e.certificate.clone();
        }
        let registration = matches!(&self.shown, Some(Shown { model: Ok(m), .. }) if m.registration_needed);
        if matches!(kind, ConfirmKind::CardPin | ConfirmKind::CardVisual) {
            self.card.offer_registration = registration;
            self.card.step = CardStep::Done;
        }
        // The helper's id when it sent one; its `today_added` event for the
        // same result may have come first and listed it already.
        let entry_id = e.entry_id.unwrap_or_else(|| format!("local-{}", self.today.len() + 1));
        if self.today.iter().any(|r| r.entry_id == entry_id) {
            return;
        }
        let at = rfc3339_of(&self.now);
        let consents = matches!(kind, ConfirmKind::CardPin | ConfirmKind::CardVisual).then_some(self.card.consents);
        self.today.push(TodayRow::from_entry(&TodayEntry {
            entry_id,
            at,
            kind,
            consents,
            document,
            treatment,
            desk: None,
            xml: e.xml,
            summary: e.summary,
        }));
    }

    fn clear_entry(&mut self) {
        self.entry = EntryForm::default();
        self.notice = None;
        self.cleared += 1;
    }

    fn set_readers(&mut self, f: impl FnOnce(&mut Vec<ReaderInfo>)) {
        let mut r = match &self.links.readers {
            links::Readers::Known(r) => r.clone(),
            links::Readers::Unknown => Vec::new(),
        };
        f(&mut r);
        self.links.readers = links::Readers::Known(r);
    }
}

/// `20250401091502` → `2025-04-01T09:15:02` (for rows added locally).
fn rfc3339_of(now: &str) -> String {
    let g = |a: usize, b: usize| now.get(a..b).unwrap_or("00");
    format!("{}-{}-{}T{}:{}:{}", g(0, 4), g(4, 6), g(6, 8), g(8, 10), g(10, 12), g(12, 14))
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        s.apply(action);
        Rc::new(s)
    }
}

impl AppState {
    /// The reducer proper, on a plain `&mut` so tests read naturally.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::SetLang(l) => self.lang = l,
            Action::Go(r) => self.route = r,
            Action::Now(n) => self.now = n,
            Action::Type(f, v) => {
                self.entry.set(f, v);
                if self.notice == Some(Notice::FixFields) && self.entry.request().is_ok() {
                    self.notice = None;
                }
            }
            Action::SetLimitConsent(b) => self.entry.limit_consent = b,
            Action::SetDocument(d) => self.entry.document = d,
            Action::SetTreatment(t) => self.treatment = t,
            Action::ClearEntry => self.clear_entry(),
            Action::Escape => {
                if self.route == Route::Entry {
                    self.clear_entry();
                }
            }
            Action::SubmitRefused(n) => {
                if n == Notice::FixFields {
                    self.entry.attempted = true;
                }
                self.notice = Some(n);
            }
            Action::Sent(op, seq) => {
                match self.sent.iter_mut().find(|(o, _)| *o == op) {
                    Some((_, s)) => *s = (*s).max(seq),
                    None => self.sent.push((op, seq)),
                }
                self.sent_effect(op);
            }
            Action::Reply(op, seq, r) => {
                if self.superseded(op, seq) {
                    return;
                }
                let fresh = self.fresh_for_links(seq);
                if fresh {
                    self.links.note_reply();
                }
                self.reply(op, r, fresh);
            }
            Action::Failed(op, seq, e) => {
                if self.superseded(op, seq) {
                    return;
                }
                if self.fresh_for_links(seq) {
                    self.links.note_error(&e);
                }
                self.failed(op, e);
            }
            Action::Event(e) => self.event(e),
            Action::CardMode(m) => self.card.mode = m,
            Action::ToggleConsent(c) => self.card.toggle(c),
            Action::LoadResult(xml) => self.show(xml, None, None, None),
            Action::LoadStored(xml) => {
                match result::stored_from_file(&xml) {
                    Ok(s) => self.loaded_record = Some(s),
                    Err(_) => self.loaded_record = None,
                }
                // Re-draw the result on screen against the new record.
                if let Some(sh) = self.shown.take() {
                    self.show(sh.xml, sh.kind, sh.document, sh.treatment);
                }
            }
            Action::ForgetStored => {
                self.loaded_record = None;
                if let Some(sh) = self.shown.take() {
                    self.show(sh.xml, sh.kind, sh.document, sh.treatment);
                }
            }
            Action::OpenToday(id) => {
                if let Some(r) = self.today.iter().find(|r| r.entry_id == id).cloned() {
                    // Compare with what came before this row, not after it.
                    let upto: Vec<TodayRow> = self.today.iter().take_while(|x| x.entry_id != id).cloned().collect();
                    let all = std::mem::replace(&mut self.today, upto);
                    self.show(r.xml.clone(), Some(r.kind), r.document, r.treatment);
                    self.today = all;
                }
            }
            Action::Search(q) => self.search = q,
            Action::UsageMonth(m) => self.usage.pick(m),
        }
    }
}

impl AppState {
    /// The person whose history the history screen offers: the first entry
    /// of the result on screen.
    pub fn history_subject(&self) -> Option<onshi_core::message::Qualification> {
        self.shown.as_ref().and_then(|sh| result::first_entry(&sh.xml))
    }

    /// The batch is still running (the shell keeps polling).
    pub fn batch_running(&self) -> bool {
        use onshi_core::protocol::BatchState as S;
        self.batch.batch_id.is_some()
            && self.batch.results_xml.is_none()
            && !matches!(self.batch.info.as_ref().map(|i| i.state), Some(S::Failed))
    }
}

/// The numbers a history request names, from a result entry; `None` when
/// the entry lacks the insurer, number or birth date.
pub fn insured_of(q: &onshi_core::message::Qualification) -> Option<onshi_core::protocol::InsuredPerson> {
    let clean = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    Some(onshi_core::protocol::InsuredPerson {
        insurer_number: clean(&q.insurer_number)?,
        symbol: clean(&q.insured_card_symbol),
        number: clean(&q.insured_identification_number)?,
        branch: clean(&q.insured_branch_number),
        birth_date: clean(&q.birthdate)?,
    })
}

/// The twelve months up to `now` (`YYYYMMDD…`), as `(start, end)` `YYYYMM`.
pub fn last_year_months(now: &str) -> Option<(String, String)> {
    let year: u32 = now.get(0..4)?.parse().ok()?;
    let month: u32 = now.get(4..6)?.parse().ok()?;
    if !(1..=12).contains(&month) || year < 1 {
        return None;
    }
    let (sy, sm) = if month == 12 { (year, 1) } else { (year - 1, month + 1) };
    Some((format!("{sy:04}{sm:02}"), format!("{year:04}{month:02}")))
}
