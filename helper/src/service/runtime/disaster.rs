//! Disaster mode's slow work (issue 16): asking the system whether card-less
//! viewing is open to this clinic, and the card-less search itself. The
//! helper never takes the page's word: before every search it asks the
//! system again and applies core `disaster::standing` to what it declared,
//! on the helper's own calendar day, so a search outside the declared
//! period is refused here even if the page (or the system's clock) thought
//! otherwise. Every search is audited with its reason — the codes only,
//! never the name, birth date or numbers typed.

use onshi_core::disaster::wire::GatewaySearch;
use onshi_core::disaster::{standing, Closed, History, PersonKey, Reason, Standing};
use onshi_core::protocol::{DisasterFound, DisasterSearchReply, DisasterStatusReply, Treatment};
use onshi_core::text::Explain;

use super::*;
use crate::store::DisasterFound as AuditFound;

/// A closed standing as the page's error: the code, and the rule's words
/// (which name the declared period when there was one).
fn closed_error(why: &Closed) -> ProtocolError {
    let mut e = ProtocolError::new(Code::DisasterClosed);
    e.message = why.explain();
    e
}

impl Runtime {
    /// The system's declaration for this clinic, judged on the helper's day:
    /// (today, standing). An OQS-folder backend has no disaster exchange, so
    /// nothing is declared there.
    async fn disaster_standing(&self) -> Result<(String, Standing), ProtocolError> {
        let (institution, today) = lock(&self.dispatcher).institution_and_today()?;
        let status = match self.backend()?.disaster_status().await {
            Ok(s) => s,
            Err(BackendError::Unsupported { .. }) => return Ok((today, Standing::Closed(Closed::NotDeclared))),
            Err(e) => return Err(backend_error(&e)),
        };
        let judged = match (status.open, status.closed) {
            // Applied again here: the declaration must cover this clinic on this PC's day.
            (Some(declared), _) => standing(std::slice::from_ref(&declared), &institution, &today),
            (None, Some(why)) => Standing::Closed(why),
            (None, None) => Standing::Closed(Closed::NotDeclared),
        };
        Ok((today, judged))
    }

    /// `disaster_status`.
    pub(super) async fn disaster_status(&self) -> Result<Response, ProtocolError> {
        let (today, s) = self.disaster_standing().await?;
        let reply = match s {
            Standing::Open(d) => DisasterStatusReply { today, open: Some(d), closed: None },
            Standing::Closed(c) => DisasterStatusReply { today, open: None, closed: Some(c) },
        };
        Ok(Response::DisasterStatus(reply))
    }

    /// `disaster_search`: `key` is already checked by the dispatcher.
    /// Medication first, then health checks; nobody or several people end
    /// the search after the first answer, with nothing shown.
    pub(super) async fn disaster_search(&self, origin: &Origin, key: PersonKey, reason: Reason, treatment: Treatment) -> Result<Response, ProtocolError> {
        let by = key.by();
        let audit = |history: History, outcome: Outcome, found: Option<AuditFound>, error: Option<&ProtocolError>| {
            let error = error.and_then(|e| ErrorCode::new(e.code.as_str()).ok());
            let detail = AuditDetail::DisasterView { history, by, reason, treatment, found, error };
            lock(&self.dispatcher).audit(&Actor::Origin(origin.clone()), outcome, &detail);
        };
        let declaration = match self.disaster_standing().await {
            Ok((_, Standing::Open(d))) => d,
            Ok((_, Standing::Closed(why))) => {
                let e = closed_error(&why);
                audit(History::Medication, Outcome::Refused, None, Some(&e));
                return Err(e);
            }
            Err(e) => {
                audit(History::Medication, Outcome::Failed, None, Some(&e));
                return Err(e);
            }
        };
        let reply = |found| Ok(Response::DisasterSearch(DisasterSearchReply { declaration: declaration.clone(), by, reason, found }));
        let backend = self.backend()?;
        let mut documents = Vec::with_capacity(2);
        for history in [History::Medication, History::Checkup] {
            let search = GatewaySearch { history, person: key.clone(), reason, treatment, start_month: None, end_month: None };
            let answer = backend.disaster_search(&search).await;
            let gateway_code = match &answer {
                Err(BackendError::Rejected { code, .. }) => Some(code.as_str()),
                _ => None,
            };
            if gateway_code == Some(GatewayCode::NoMatch.as_str()) {
                audit(history, Outcome::Ok, Some(AuditFound::NoMatch), None);
                return reply(DisasterFound::NoMatch);
            }
            if gateway_code == Some(GatewayCode::SeveralMatches.as_str()) {
                audit(history, Outcome::Ok, Some(AuditFound::SeveralMatches), None);
                return reply(DisasterFound::SeveralMatches);
            }
            if gateway_code == Some(GatewayCode::DisasterClosed.as_str()) {
                // The system closed it between the status and the search.
                let e = ProtocolError::new(Code::DisasterClosed);
                audit(history, Outcome::Refused, None, Some(&e));
                return Err(e);
            }
            match answer.map_err(|e| backend_error(&e)).and_then(|bytes| eligibility::read_answer(&bytes)) {
                Ok(a) => {
                    audit(history, Outcome::Ok, Some(AuditFound::Person), None);
                    documents.push(a.xml);
                }
                Err(e) => {
                    audit(history, Outcome::Failed, None, Some(&e));
                    return Err(e);
                }
            }
        }
        let checkup_xml = documents.pop().unwrap_or_default();
        let medication_xml = documents.pop().unwrap_or_default();
        reply(DisasterFound::Person { medication_xml, checkup_xml })
    }
}
