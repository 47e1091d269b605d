//! The gateway's disaster-mode endpoints (docs/gateway.md): `GET
//! /oqs/v1/disaster` answers whether card-less viewing is open to the
//! clinic of the client certificate today, `POST /oqs/v1/disaster/search`
//! answers one card-less search — refused with `disaster_closed` unless the
//! declarations open it for that clinic on that day, whatever the helper
//! believed.

use onshi_core::disaster::wire::{GatewaySearch, GatewayStatus};
use onshi_core::disaster::{Prefecture, Standing, standing};
use onshi_core::gateway_wire::ErrorCode;
use onshi_core::text::Explain;

use super::{JSON, Reply, State, XML, json_error, registry_error};
use crate::answer::disaster::{Found, search as find};
use crate::answer::codes;
use crate::folder::now_jst;

/// The gateway's day and the standing of `institution` on it, or the reply
/// that says the declarations could not be read.
fn judged(state: &State, institution: &str) -> Result<(String, Standing), Reply> {
    let today = state.today().yyyymmdd();
    let declared = state.disaster.current().map_err(|e| json_error(ErrorCode::Unavailable, Some(e.explain())))?;
    let s = standing(&declared, institution, &today);
    Ok((today, s))
}

/// `GET /oqs/v1/disaster`.
pub(super) fn status(state: &State, institution: &str) -> Reply {
    let (today, s) = match judged(state, institution) {
        Ok(j) => j,
        Err(reply) => return reply,
    };
    let prefecture = Prefecture::of_institution(institution).map(Prefecture::code);
    let body = match s {
        Standing::Open(d) => GatewayStatus { today, prefecture, open: Some(d), closed: None },
        Standing::Closed(c) => GatewayStatus { today, prefecture, open: None, closed: Some(c) },
    };
    Reply::ok(JSON, serde_json::to_vec(&body).unwrap_or_default())
}

/// `POST /oqs/v1/disaster/search`.
pub(super) fn search(state: &State, institution: &str, body: &[u8]) -> Reply {
    let Ok(req) = serde_json::from_slice::<GatewaySearch>(body) else {
        return json_error(ErrorCode::BadRequest, None);
    };
    let (today, s) = match judged(state, institution) {
        Ok(j) => j,
        Err(reply) => return reply,
    };
    if let Standing::Closed(why) = s {
        return json_error(ErrorCode::DisasterClosed, Some(why.explain()));
    }
    // The documents' time on the gateway's day (pinned by `--today` in tests).
    let now = format!("{today}{}", now_jst().get(8..).unwrap_or("000000"));
    let encoding = state.encoding;
    match state.with_conn(|conn| find(conn, institution, &req, &now, encoding)) {
        Ok(Found::Document(bytes)) => Reply::ok(XML, bytes),
        Ok(Found::NoMatch) => json_error(ErrorCode::NoMatch, None),
        Ok(Found::Several) => json_error(ErrorCode::SeveralMatches, None),
        Err(r) if r.code == codes::INVALID => json_error(ErrorCode::BadRequest, Some(r.message)),
        Err(r) => registry_error(&r),
    }
}
