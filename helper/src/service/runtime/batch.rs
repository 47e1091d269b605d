//! Batch pre-checks (一括照会): upload, the sweeper that claims jobs for
//! this desk, the poller per held job (after 2 s, then doubling up to the
//! configured maximum), and one look at a job's answer.
//!
//! Leases (issue 17): with many desks on one shared store every desk sees
//! every job, but only the desk holding a job's lease polls it and stores
//! its result (the store checks the lease in the same transaction as each
//! change). A desk claims what it submits at once; its sweeper, every third
//! of the lease, renews what it holds and claims jobs that are free or whose
//! desk let the lease run out (that PC was switched off), auditing each
//! takeover. A poller that finds its lease gone stops without a word: the
//! new holder carries on.

use crate::store::{Claimed, StoreError};

use super::*;

/// What one look at a job came to for the desk that made it.
enum Polled {
    Answer(BatchAnswer),
    /// Another desk holds the job's lease: it polls and stores the result.
    NotHolder,
}

/// Who looks at a job: its poller (which must still hold the lease), or a
/// page or the command line asking at this desk (which may claim a job
/// that is free or whose lease ran out).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Looker {
    Poller,
    Visitor,
}

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
        let job = d.store_mut().insert_job(&file, Some(&reception), &now, self.settings.batch_lease).map_err(internal)?;
        d.audit(&actor, Outcome::Ok, &AuditDetail::Batch { action: BatchAction::Submit, job: Some(job.0), reception: Some(reception), count: Some(count), error: None });
        drop(d);
        self.spawn_poller(job);
        Ok(Response::BatchSubmit(BatchSubmitted { batch_id: batch_id(job), accepted: count }))
    }

    /// Claims the batches this desk may poll and starts their pollers, now
    /// and then every third of the lease, for as long as the runtime lives:
    /// after a restart this resumes the desk's own jobs at once, and on a
    /// shared store it takes over jobs of desks that stopped. Must run inside
    /// a tokio runtime; a second call does nothing.
    pub fn resume_batches(self: &Arc<Self>) {
        if self.sweeping.swap(true, Ordering::SeqCst) {
            return;
        }
        self.sweep();
        // A weak handle, so the sweeper alone never keeps a dropped runtime (and its store) alive.
        let me = Arc::downgrade(self);
        let every = (self.settings.batch_lease / 3).max(Duration::from_millis(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(rt) = me.upgrade() else { break };
                rt.sweep();
            }
        });
    }

    /// One round of the sweeper: claim (and renew), audit takeovers, start pollers.
    fn sweep(self: &Arc<Self>) {
        let claimed = {
            let mut d = lock(&self.dispatcher);
            let Ok(now) = d.now() else { return };
            match d.store_mut().claim_jobs(&now, self.settings.batch_lease) {
                Ok(claimed) => {
                    for c in &claimed {
                        audit_takeover(&mut d, c);
                    }
                    claimed
                }
                Err(e) => {
                    // The database may be down for a while: the next round tries again.
                    eprintln!("onshi-helper service: batch jobs not claimed this round: {e}");
                    return;
                }
            }
        };
        for c in claimed {
            self.spawn_poller(c.job.id);
        }
    }

    /// Polls `job` until it is finished or its lease is lost, one poller
    /// per job: first after 2 s, then twice as long each time up to
    /// `batch_poll`. A small batch is often ready within seconds (the
    /// receptionist is watching the progress bar); a large one then costs the
    /// eligibility system few requests.
    pub(super) fn spawn_poller(self: &Arc<Self>, job: JobId) {
        if !lock(&self.polling).insert(job) {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let mut wait = me.settings.batch_poll.min(Duration::from_secs(2));
            loop {
                tokio::time::sleep(wait).await;
                match me.look(job, Looker::Poller).await {
                    Ok(Polled::Answer(BatchAnswer::Done { .. })) | Ok(Polled::NotHolder) => break,
                    Ok(Polled::Answer(BatchAnswer::Processing)) => wait = (wait * 2).min(me.settings.batch_poll),
                    // A retryable failure backs off (up to 10 minutes); others end the job in `look`.
                    Err(e) if e.retryable => wait = (wait * 2).min(Duration::from_secs(600)),
                    // Anything else (the store unreachable, say) ends this poller; the
                    // sweeper starts another while the lease is this desk's.
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

    /// One `OQSmuquc02req` for `job` asked at this desk (a page's
    /// `batch_results`, the command line's `batch fetch`); stores the result
    /// when it is done. A job another desk holds is `Processing` here: that
    /// desk polls it and stores the result, which every desk then reads.
    pub async fn poll_once(&self, job: JobId) -> Result<BatchAnswer, ProtocolError> {
        match self.look(job, Looker::Visitor).await? {
            Polled::Answer(a) => Ok(a),
            Polled::NotHolder => Ok(BatchAnswer::Processing),
        }
    }

    /// One `OQSmuquc02req` for `job` by a desk that holds (or, as a
    /// visitor, may claim) its lease; stores the result when it is done.
    async fn look(&self, job: JobId, looker: Looker) -> Result<Polled, ProtocolError> {
        let (institution, reception) = {
            let mut d = lock(&self.dispatcher);
            let now = d.now()?;
            let lease = self.settings.batch_lease;
            let held = match looker {
                Looker::Poller => d.store_mut().renew_lease(job, &now, lease),
                Looker::Visitor => d.store_mut().claim_job(job, &now, lease).map(|c| {
                    audit_takeover(&mut d, &c);
                    c.job
                }),
            };
            let j = match held {
                Ok(j) => j,
                Err(StoreError::JobFinished { .. }) => return Ok(Polled::Answer(BatchAnswer::Done { total: 0, normal: 0, errors: 0 })),
                Err(StoreError::LeaseNotHeld { .. }) => return Ok(Polled::NotHolder),
                Err(e) => return Err(internal(e)),
            };
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
                if let Some(quiet) = lost(d.store_mut().record_poll(job, &now))? {
                    return Ok(quiet);
                }
                audit(&mut d, Outcome::Ok, None);
                drop(d);
                self.broadcast(Event::BatchProgress { batch_id: batch_id(job), state: BatchState::Processing });
                Ok(Polled::Answer(BatchAnswer::Processing))
            }
            Ok((a, done @ BatchAnswer::Done { total, normal, errors })) => {
                let xml = ResultXml::received(a.received).map_err(|_| ProtocolError::new(Code::Internal))?;
                // The result and the finished job in one transaction, only while this
                // desk holds the lease: stored exactly once, whichever desk gets there.
                let counts = JobCounts { total, succeeded: normal, failed: errors };
                if let Some(quiet) = lost(d.store_mut().store_batch_result(job, &now, xml, counts))? {
                    return Ok(quiet);
                }
                audit(&mut d, Outcome::Ok, None);
                drop(d);
                self.broadcast(Event::BatchProgress { batch_id: batch_id(job), state: BatchState::Done });
                Ok(Polled::Answer(done))
            }
            Err(e) => {
                let code = ErrorCode::new(e.code.as_str()).ok();
                audit(&mut d, Outcome::Failed, code.clone());
                if !e.retryable {
                    let code = code.unwrap_or_else(|| ErrorCode::new("gateway_error").expect("a valid code"));
                    if d.store_mut().finish_job(job, &now, Err(code)).is_ok() {
                        drop(d);
                        self.broadcast(Event::BatchProgress { batch_id: batch_id(job), state: BatchState::Failed });
                    }
                }
                Err(e)
            }
        }
    }
}

/// A store refusal after the gateway answered: the lease went to another
/// desk (`NotHolder`) or the job was finished meanwhile (`Done`, the result
/// already stored) end the look quietly; anything else is an error.
fn lost(r: Result<crate::store::BatchJob, StoreError>) -> Result<Option<Polled>, ProtocolError> {
    match r {
        Ok(_) => Ok(None),
        Err(StoreError::LeaseNotHeld { .. }) => Ok(Some(Polled::NotHolder)),
        Err(StoreError::JobFinished { .. }) => Ok(Some(Polled::Answer(BatchAnswer::Done { total: 0, normal: 0, errors: 0 }))),
        Err(e) => Err(internal(e)),
    }
}

/// Audits a job taken over from a desk whose lease ran out, as this desk
/// (the actor; no free text: the job and its reception number).
fn audit_takeover(d: &mut Dispatcher<SystemEnv>, c: &Claimed) {
    if c.taken_from.is_none() {
        return;
    }
    let actor = d.store_mut().desk().cloned().map_or(Actor::Cli, Actor::Desk);
    let detail = AuditDetail::Batch {
        action: BatchAction::Takeover,
        job: Some(c.job.id.0),
        reception: c.job.reception_number.clone(),
        count: None,
        error: None,
    };
    d.audit(&actor, Outcome::Ok, &detail);
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
