//! The gateway's disaster-mode endpoints (our definition, docs/gateway.md):
//! `GET /oqs/v1/disaster` → [`GatewayStatus`] for the clinic of the client
//! certificate, and `POST /oqs/v1/disaster/search` with a [`GatewaySearch`]
//! → the standard result document (`YZKsiquc01res` / `TKKsiquc01res`) of the
//! one person found, or an `ErrorBody` (`gateway_wire`): `disaster_closed`
//! (403, outside the period or the area), `no_match` (404), `several_matches`
//! (409). Shared by the simulated gateway and the helper's gateway backend.

use serde::{Deserialize, Serialize};

use super::{Closed, Declaration, History, PersonKey, Reason};

/// `GET /oqs/v1/disaster`: whether card-less viewing is open to the asking
/// clinic today (Japan's calendar, the gateway's day).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayStatus {
    /// The day the gateway judged, `YYYYMMDD`.
    pub today: String,
    /// The clinic's prefecture code, from its 医療機関コード.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefecture: Option<String>,
    /// Set while open: the declaration in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open: Option<Declaration>,
    /// Set while closed: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Closed>,
}

/// `POST /oqs/v1/disaster/search`: one history of one person, without the card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewaySearch {
    pub history: History,
    pub person: PersonKey,
    /// Why reception looks (the national system keeps its own record).
    pub reason: Reason,
    /// Where the patient is treated: the documents' `MedicalTreatmentFlag`.
    #[serde(default)]
    pub treatment: crate::protocol::Treatment,
    /// First month `YYYYMM` of medication; absent = all that is held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_month: Option<String>,
    /// Last month `YYYYMM`; absent = up to now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_month: Option<String>,
}
