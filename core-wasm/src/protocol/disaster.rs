//! Disaster mode's two requests (issue 16), kept out of `message.rs`:
//! `disaster_status` (is card-less viewing open to this clinic today?) and
//! `disaster_search` (find one person without the card and fetch their
//! medication and health-check documents). The rule itself is
//! [`crate::disaster`]; the helper applies it again before every search, so
//! a page cannot open what the system has not declared.

use serde::{Deserialize, Serialize};

use crate::disaster::{Closed, Declaration, PersonKey, Reason, SearchBy};

/// `disaster_status` reply: exactly one of `open` / `closed` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisasterStatusReply {
    /// The day judged (the helper's calendar day), `YYYYMMDD`.
    pub today: String,
    /// The declaration in force for this clinic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<Declaration>,
    /// Why card-less viewing is not open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Closed>,
}

/// `disaster_search`: who, and why. Refused with `disaster_closed` outside a
/// declaration, `invalid_argument` for a bad key (`detail.field`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisasterSearch {
    pub person: PersonKey,
    /// Required: a fixed choice, audited as its code.
    pub reason: Reason,
    /// The desk's treatment setting (`MedicalTreatmentFlag` of the
    /// documents), as in every viewing request; outpatient unless said.
    #[serde(default)]
    pub treatment: super::Treatment,
}

/// What a card-less search found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum DisasterFound {
    /// One person: their documents, as the system sent them (text).
    Person { medication_xml: String, checkup_xml: String },
    /// Nobody matches.
    NoMatch,
    /// Several people match; nothing is shown (the system does not guess).
    SeveralMatches,
}

/// `disaster_search` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisasterSearchReply {
    /// The declaration the view was made under (for the red banner).
    pub declaration: Declaration,
    /// The kind of search made (echoed; the values are not).
    pub by: SearchBy,
    pub reason: Reason,
    #[serde(flatten)]
    pub found: DisasterFound,
}
