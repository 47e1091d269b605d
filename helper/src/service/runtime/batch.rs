//! Batch pre-checks (一括照会): upload, the poller per job (after 2 s, then
//! doubling up to the configured maximum), and one look at a job's answer.

use super::*;

impl Runtime {
    // ----- batches -------------------------------------------------------

    /// Uploads a batch (`OQSmuquc01req`), records the job and starts polling it.
    pub async fn batch_submit(self: &Arc<Self>, origin: Option<&Origin>, request_xml: &[u8], count: u32) -> Result<Response, ProtocolError> {
        let answer = match self.backend() {
            Ok(b) => b.query(Query::BatchUpload, request_xml).await.map_err(|e| backend_error(&e)),
            Err(e) => Err(e),
        };
        let reception = answer.and_then(|bytes| eligibility::read_answer(&bytes)).and_then(|a| {
            eligibility::error_of(&a.message).map_or(Ok(()), Err)?;
            eligibility::reception_of(&a.message)
                .and_then(|r| ReceptionNumber::new(&r).ok())
                .ok_or_else(|| ProtocolError::gateway("NO_RECEPTION", "the batch acknowledgement has no reception number"))
        });
        let mut d = lock(&self.dispatcher);
        let actor = actor(origin);
        let reception = match reception {
            Ok(r) => r,
            Err(e) => {
                let error = ErrorCode::new(e.code.as_str()).ok();
                d.audit(&actor, Outcome::Failed, &AuditDetail::Batch { action: BatchAction::Submit, job: None, reception: None, count: Some(count), error });
                return Err(e);
            }
        };
        let now = d.now()?;
        let file = FileName::new(&format!("OQSmuquc01req_{}.xml", reception.as_str())).map_err(|_| ProtocolError::new(Code::Internal))?;
        let job = d.store_mut().insert_job(&file, Some(&reception), &now).map_err(internal)?;
        d.audit(&actor, Outcome::Ok, &AuditDetail::Batch { action: BatchAction::Submit, job: Some(job.0), reception: Some(reception), count: Some(count), error: None });
        drop(d);
        self.spawn_poller(job);
        Ok(Response::BatchSubmit(BatchSubmitted { batch_id: batch_id(job), accepted: count }))
    }

    /// Polls `job` until it is finished, one poller per job: first after 2 s,
    /// then twice as long each time up to `batch_poll`. A small batch is
    /// often ready within seconds (the receptionist is watching the progress
    /// bar); a large one then costs the eligibility system few requests.
    pub(super) fn spawn_poller(self: &Arc<Self>, job: JobId) {
        if !lock(&self.polling).insert(job) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut wait = me.settings.batch_poll.min(Duration::from_secs(2));
            loop {
                tokio::time::sleep(wait).await;
                match me.poll_once(job).await {
                    Ok(BatchAnswer::Done { .. }) => break,
                    Ok(BatchAnswer::Processing) => wait = (wait * 2).min(me.settings.batch_poll),
                    // A retryable failure backs off (up to 10 minutes); others end the job in poll_once.
                    Err(e) if e.retryable => wait = (wait * 2).min(Duration::from_secs(600)),
                    Err(_) => break,
                }
                let finished = lock(&me.dispatcher).store_mut().job(job).map(|j| j.state.is_finished()).unwrap_or(true);
                if finished {
                    break;
                }
            }
            lock(&me.polling).remove(&job);
        });
    }

    /// One `OQSmuquc02req` for `job`; stores the result when it is done.
    pub async fn poll_once(&self, job: JobId) -> Result<BatchAnswer, ProtocolError> {
        let (institution, reception) = {
            let mut d = lock(&self.dispatcher);
            let j = d.store_mut().job(job).map_err(internal)?;
            if j.state.is_finished() {
                return Ok(BatchAnswer::Done { total: 0, normal: 0, errors: 0 });
            }
            let (institution, _) = d.institution_and_today()?;
            let reception = j.reception_number.ok_or_else(|| ProtocolError::new(Code::Internal))?;
            (institution, reception)
        };
        let backend = self.backend()?;
        let request = eligibility::batch_download(&institution, reception.as_str());
        let answer = backend
            .query(Query::BatchDownload, &request)
            .await
            .map_err(|e| backend_error(&e))
            .and_then(|bytes| eligibility::read_answer(&bytes))
            .and_then(|a| match eligibility::batch_answer(&a.message) {
                Some(b) => Ok((a, b)),
                None => Err(eligibility::error_of(&a.message)
                    .unwrap_or_else(|| ProtocolError::gateway("BAD_ANSWER", "not a batch result document"))),
            });
        let mut d = lock(&self.dispatcher);
        let now = d.now()?;
        let actor = Actor::Cli;
        let audit = |d: &mut Dispatcher<SystemEnv>, outcome, error| {
            d.audit(&actor, outcome, &AuditDetail::Batch { action: BatchAction::Poll, job: Some(job.0), reception: Some(reception.clone()), count: None, error })
        };
        match answer {
            Ok((_, BatchAnswer::Processing)) => {
                d.store_mut().record_poll(job, &now).map_err(internal)?;
                audit(&mut d, Outcome::Ok, None);
                drop(d);
                self.broadcast(Event::BatchProgress { batch_id: batch_id(job), state: BatchState::Processing });
                Ok(BatchAnswer::Processing)
            }
            Ok((a, done @ BatchAnswer::Done { total, normal, errors })) => {
                let xml = ResultXml::received(a.received).map_err(|_| ProtocolError::new(Code::Internal))?;
                let result = NewResult {
                    at: now.clone(),
                    kind: ResultKind::Batch,
                    origin: None,
                    job: Some(job),
                    status: crate::store::ResultStatus::Valid,
                    insurer_number: None,
                    name_kana: None,
                    error: None,
                    card: None,
                    document: None, treatment: None,
                    xml,
                };
                d.store_mut().insert_result(&result).map_err(internal)?;
                d.store_mut()
                    .finish_job(job, &now, Ok(JobCounts { total, succeeded: normal, failed: errors }))
                    .map_err(internal)?;
                audit(&mut d, Outcome::Ok, None);
                drop(d);
                self.broadcast(Event::BatchProgress { batch_id: batch_id(job), state: BatchState::Done });
                Ok(done)
            }
            Err(e) => {
                let code = ErrorCode::new(e.code.as_str()).ok();
                audit(&mut d, Outcome::Failed, code.clone());
                if !e.retryable {
                    let code = code.unwrap_or_else(|| ErrorCode::new("gateway_error").expect("a valid code"));
                    let _ = d.store_mut().finish_job(job, &now, Err(code));
                    drop(d);
                    self.broadcast(Event::BatchProgress { batch_id: batch_id(job), state: BatchState::Failed });
                }
                Err(e)
            }
        }
    }
}

pub(super) fn still_processing() -> ProtocolError {
    let mut e = ProtocolError::new(Code::Busy);
    e.message = Bilingual::new(
        "一括照会はまだ処理中です。しばらくしてから結果を確認してください（自動で確認を続けています）。",
        "The batch is still being processed. Check the results again shortly (the helper keeps checking).",
    );
    e.retryable = true;
    e
}
