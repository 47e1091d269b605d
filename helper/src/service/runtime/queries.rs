//! Eligibility queries that need no card: insurance numbers, the medication
//! and check-up documents, and bulk reference registration with its results.

use super::*;

impl Runtime {
    // ----- insurance card ------------------------------------------------

    /// Sends an `OQSsiquc01req`, stores and audits the answer. `origin` is
    /// the asking page (absent for the command line).
    /// A check by numbers: `document` is what the patient handed over (when
    /// the page said), `treatment` where they are treated.
    pub async fn insurance(
        &self,
        origin: Option<&Origin>,
        request_xml: &[u8],
        document: Option<PresentedDocument>,
        treatment: Treatment,
    ) -> Result<Response, ProtocolError> {
        let made = Made { document, treatment: Some(treatment), ..Made::default() };
        let answer = match self.backend() {
            Ok(b) => timing::network(b.query(Query::Individual, request_xml)).await.map_err(|e| backend_error(&e)),
            Err(e) => Err(e),
        };
        let result = answer.and_then(|bytes| eligibility::read_answer(&bytes));
        let mut d = lock(&self.dispatcher);
        let reply = match result {
            Ok(a) => store_eligibility(&mut d, ResultKind::InsuranceConfirm, origin, made, &a),
            Err(e) => Err(e),
        };
        let error = reply.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let outcome = if reply.is_ok() { Outcome::Ok } else { Outcome::Failed };
        d.audit(&actor(origin), outcome, &AuditDetail::EligibilityQuery { query: QueryKind::InsuranceCard, error, treatment: made.treatment });
        reply.map(Response::InsuranceConfirm)
    }

    /// Medication / health-check history; `treatment` is the setting the
    /// request carried (`MedicalTreatmentFlag`), audited with it.
    pub(super) async fn document(&self, origin: &Origin, query: Query, request_xml: &[u8], treatment: Treatment) -> Result<Response, ProtocolError> {
        let answer = match self.backend() {
            Ok(b) => b.query(query, request_xml).await.map_err(|e| backend_error(&e)),
            Err(e) => Err(e),
        };
        let result = answer.and_then(|bytes| eligibility::read_answer(&bytes)).and_then(|a| match eligibility::error_of(&a.message) {
            Some(e) => Err(e),
            None => Ok(a),
        });
        let mut d = lock(&self.dispatcher);
        let error = result.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let outcome = if result.is_ok() { Outcome::Ok } else { Outcome::Failed };
        let actor = Actor::Origin(origin.clone());
        let (kind, query_kind) = match query {
            Query::Medication => (ResultKind::Medication, QueryKind::Medication),
            Query::Checkup => (ResultKind::HealthCheckup, QueryKind::HealthCheckup),
            _ => return Err(ProtocolError::new(Code::Internal)),
        };
        d.audit(&actor, outcome, &AuditDetail::EligibilityQuery { query: query_kind, error, treatment: Some(treatment) });
        let a = result?;
        let now = d.now()?;
        let xml = ResultXml::received(a.received.clone()).map_err(|_| ProtocolError::new(Code::Internal))?;
        let r = NewResult { at: now, kind, origin: Some(origin.clone()), job: None, status: crate::store::ResultStatus::Valid, insurer_number: None, name_kana: None, error: None, card: None, document: None, treatment: None, xml };
        d.store_mut().insert_result(&r).map_err(internal)?;
        let reply = onshi_core::protocol::XmlReply { xml: a.xml };
        Ok(if query == Query::Medication { Response::MedicationFetch(reply) } else { Response::CheckupFetch(reply) })
    }

    /// `reference_register`: the checked entries go out in one document (the
    /// single form for one, the bulk form for more); what the system
    /// registered is remembered locally (patient id → insurance numbers).
    /// The bulk form is acknowledged first; its per-entry results
    /// (`OQSmuimm02req`) are fetched at once, so entries the system refused
    /// come back in `rejected` with its reason and are not stored. Should the
    /// results not come (still processing, network) or not name an entry,
    /// that entry is stored as the acknowledgement accepted it and the reply
    /// says `results_pending`, so the person knows to check again.
    /// `origin` is the asking page (absent for the command line).
    pub async fn references(&self, origin: Option<&Origin>, request: eligibility::References) -> Result<Response, ProtocolError> {
        let eligibility::References { request_xml, bulk, mut sent, sent_index, mut rejected } = request;
        let query = if bulk { Query::BulkReferenceRegister } else { Query::ReferenceRegister };
        let answer = match self.backend() {
            Ok(b) => b.query(query, &request_xml).await.map_err(|e| backend_error(&e)),
            Err(e) => Err(e),
        };
        let result = answer.and_then(|bytes| eligibility::read_answer(&bytes)).and_then(|a| {
            eligibility::error_of(&a.message).map_or(Ok(()), Err)?;
            let reception = if bulk {
                Some(eligibility::reception_of(&a.message).ok_or_else(|| {
                    ProtocolError::gateway("NO_RECEPTION", "the bulk registration acknowledgement has no reception number")
                })?)
            } else {
                None
            };
            Ok((a, reception))
        });
        let (mut xml, mut refused, mut results_pending) = (None, 0u32, false);
        if let Ok((_, Some(reception))) = &result {
            match self.registration_results(reception).await {
                Some((results, outcome)) => {
                    let mut kept = Vec::with_capacity(sent.len());
                    let mut unknown = 0u32;
                    for ((patient, numbers), index) in sent.into_iter().zip(&sent_index) {
                        match outcome.whole.clone().or_else(|| outcome.refused.get(patient.as_str()).cloned()) {
                            Some(mut error) => {
                                refused += 1;
                                let n = index.saturating_add(1);
                                error.message = Bilingual::new(
                                    format!("{n}件目：{}", error.message.ja),
                                    format!("Entry {n}: {}", error.message.en),
                                );
                                rejected.push(EntryError { index: *index, error });
                            }
                            None => {
                                unknown += u32::from(!outcome.done.contains(patient.as_str()));
                                kept.push((patient, numbers));
                            }
                        }
                    }
                    if unknown > 0 {
                        eprintln!("onshi-helper service: bulk registration {reception}: the results do not name {unknown} of the entries sent");
                        results_pending = true;
                    }
                    sent = kept;
                    rejected.sort_by_key(|e| e.index);
                    xml = Some(results.xml);
                }
                None => results_pending = true,
            }
        }
        let count = u32::try_from(sent.len()).unwrap_or(u32::MAX);
        let mut d = lock(&self.dispatcher);
        let error = result.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let rejected_count = u32::try_from(rejected.len()).unwrap_or(u32::MAX);
        let detail = AuditDetail::Reference { action: crate::store::ReferenceAction::Register, count: Some(count), rejected: Some(rejected_count), error };
        d.audit(&actor(origin), if result.is_ok() { Outcome::Ok } else { Outcome::Failed }, &detail);
        let (a, reception_number) = result?;
        if refused > 0 {
            eprintln!("onshi-helper service: the system refused {refused} of the bulk registration's entries");
        }
        let now = d.now()?;
        d.store_mut().put_references(&sent, &now).map_err(internal)?;
        let xml = xml.unwrap_or(a.xml);
        Ok(Response::ReferenceRegister(onshi_core::protocol::ReferenceRegisterReply {
            xml,
            accepted: count,
            rejected,
            reception_number,
            results_pending,
        }))
    }

    /// The per-entry results of the bulk registration under `reception`:
    /// asked at once, then again after 0.5, 1, 2 and 4 s (`registration_poll`
    /// doubling) while the system is still working on it. `None` when they do
    /// not come in that time or the answer is unusable (the service log says which).
    async fn registration_results(&self, reception: &str) -> Option<(eligibility::Answer, eligibility::Registered)> {
        let institution = lock(&self.dispatcher).institution_and_today().ok()?.0;
        let request = eligibility::batch_download(&institution, reception);
        let mut wait = self.settings.registration_poll;
        for attempt in 0..5 {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            let answer = match self.backend() {
                Ok(b) => b.query(Query::BulkReferenceResult, &request).await.map_err(|e| backend_error(&e)),
                Err(e) => Err(e),
            }
            .and_then(|bytes| eligibility::read_answer(&bytes));
            match answer {
                Ok(a) => match eligibility::registration_outcomes(&a.message) {
                    Ok(outcomes) => return Some((a, outcomes)),
                    Err(true) => {}
                    Err(false) => {
                        let why = eligibility::error_of(&a.message).map_or_else(|| format!("{:?}", a.message.kind()), |e| e.message.en);
                        eprintln!("onshi-helper service: bulk registration {reception}: no per-entry results ({why})");
                        return None;
                    }
                },
                Err(e) => {
                    eprintln!("onshi-helper service: bulk registration {reception}: results not fetched ({})", e.message.en);
                    return None;
                }
            }
        }
        eprintln!("onshi-helper service: bulk registration {reception}: still processing; its entries count as accepted");
        None
    }
}
