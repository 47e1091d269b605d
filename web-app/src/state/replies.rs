//! What the helper said, applied to the state: replies (matched to their
//! request by sequence number, so a late answer never overrides a newer
//! one), failures (which move the lamps), the effects of sending, and the
//! helper's events. Split from `mod.rs`, which keeps the state, the
//! actions and the reducer's entry point.

use super::*;

impl AppState {
    /// An answer to a request older than the newest of its kind.
    pub(super) fn superseded(&self, op: Op, seq: Seq) -> bool {
        self.sent.iter().any(|(o, newest)| *o == op && seq < *newest)
    }

    /// Whether an answer to request `seq` may change the lamps: not when an
    /// answer to a newer request already did. Records it if so.
    pub(super) fn fresh_for_links(&mut self, seq: Seq) -> bool {
        if seq < self.links_seq {
            return false;
        }
        self.links_seq = seq;
        true
    }

    pub(super) fn sent_effect(&mut self, op: Op) {
        match op {
                Op::Insurance => {
                    self.sending = true;
                    self.notice = None;
                }
                Op::Card => {
                    self.card.step = CardStep::Reading;
                    self.card.offer_registration = false;
                    self.card.registering = false;
                }
                // The offer stays up (its button disabled while busy) so a
                // cancelled or failed registration can be tried again.
                Op::CardRegister => {
                    self.card.step = CardStep::Reading;
                    self.card.registering = true;
                }
                Op::Pair => self.pairing = Pairing::Waiting,
                Op::BatchSubmit | Op::Medication | Op::Checkup => self.page_error = None,
                Op::Hello | Op::Status | Op::Today | Op::BatchStatus | Op::BatchResults => {}
                Op::Usage => self.usage.sent(),
                Op::DisasterStatus => {}
                Op::DisasterSearch => self.disaster.sent(),
        }
    }

    pub(super) fn failed(&mut self, op: Op, e: ProtocolError) {
            match op {
                Op::Insurance => {
                    self.sending = false;
                    self.notice = Some(Notice::Failed(e));
                }
                Op::Card => {
                    // A typed refusal, not wording: the card is fine but not registered for insurance use.
                    self.card.offer_registration = e.code == ErrorCode::CardNotRegistered;
                    // A lapsed certificate in its grace takes no PIN: the message asks for
                    // the photo check, so the mode is switched for the next press.
                    if e.code == ErrorCode::CertificateInGrace {
                        self.card.mode = onshi_core::protocol::ConfirmMode::Visual;
                    }
                    self.card.step = CardStep::Failed(e);
                }
                Op::CardRegister => {
                    self.card.registering = false;
                    self.card.step = CardStep::Failed(e);
                }
                Op::Pair => self.pairing = Pairing::Failed(e),
                Op::Hello | Op::Status | Op::Today => {}
                Op::Usage => self.usage.failed(e),
                Op::DisasterStatus => self.disaster.status_failed(),
                Op::DisasterSearch => self.disaster.failed(e),
                Op::BatchSubmit | Op::BatchStatus | Op::BatchResults | Op::Medication | Op::Checkup => {
                    self.page_error = Some(e);
                }
            }
    }

    pub(super) fn reply(&mut self, op: Op, r: Response, fresh: bool) {
        match r {
            Response::Hello(h) if fresh => {
                self.links.helper = if h.paired {
                    links::Helper::Ready { version: h.helper_version }
                } else {
                    links::Helper::NotPaired
                };
            }
            Response::Status(st) => {
                if fresh {
                    self.links.helper = if st.paired {
                        links::Helper::Ready { version: st.helper_version.clone() }
                    } else {
                        links::Helper::NotPaired
                    };
                    self.links.readers = links::Readers::Known(st.readers.clone());
                    self.links.store = st.store;
                }
                self.status = Some(st);
            }
            Response::Usage(u) => self.usage.answered(u, &self.now),
            Response::DisasterStatus(s) => self.disaster.status_answered(s),
            Response::DisasterSearch(r) => self.disaster.answered(r),
            Response::Today(t) => {
                self.today = t.entries.iter().map(TodayRow::from_entry).collect();
                self.today_loaded = true;
            }
            Response::InsuranceConfirm(e) => {
                self.sending = false;
                self.eligibility(e, ConfirmKind::Insurance);
            }
            Response::CardConfirm(e) => {
                let kind = match self.card.mode {
                    ConfirmMode::Pin => ConfirmKind::CardPin,
                    ConfirmMode::Visual => ConfirmKind::CardVisual,
                };
                self.eligibility(e, kind);
            }
            Response::CardRegister(_) => {
                self.card.registering = false;
                self.card.offer_registration = false;
                self.card.step = CardStep::Registered;
            }
            Response::PairBegin(p) => self.pairing = Pairing::Code { code: p.code, pairing_id: p.pairing_id },
            Response::BatchSubmit(b) => {
                self.page_error = None;
                self.batch = BatchRun { batch_id: Some(b.batch_id), ..BatchRun::default() };
            }
            Response::BatchStatus(st) => {
                if let Some(id) = &self.batch.batch_id
                    && let Some(info) = st.batches.into_iter().find(|b| &b.batch_id == id)
                {
                    self.batch.info = Some(info);
                }
            }
            Response::BatchResults(r) => {
                if self.batch.batch_id.as_deref() == Some(r.batch_id.as_str()) {
                    self.batch.results_xml = Some(r.xml);
                    self.batch.results_received = r.received.map(|x| x.base64);
                }
            }
            Response::MedicationFetch(x) => {
                self.page_error = None;
                self.history.medication_xml = Some(x.xml);
            }
            Response::CheckupFetch(x) => {
                self.page_error = None;
                self.history.checkup_xml = Some(x.xml);
            }
            other => {
                // Replies this page never asks for are ignored; `op` says who asked.
                let _ = (op, other);
            }
        }
    }

    pub(super) fn event(&mut self, e: Event) {
        match e {
            Event::ReaderAdded { reader } => self.set_readers(|r| {
                if !r.iter().any(|x| x.name == reader) {
                    r.push(ReaderInfo { name: reader, card_present: false });
                }
            }),
            Event::ReaderRemoved { reader } => self.set_readers(|r| r.retain(|x| x.name != reader)),
            Event::CardInserted { reader } => self.set_readers(|r| match r.iter_mut().find(|x| x.name == reader) {
                Some(x) => x.card_present = true,
                None => r.push(ReaderInfo { name: reader, card_present: true }),
            }),
            Event::CardRemoved { reader } => self.set_readers(|r| {
                r.iter_mut().filter(|x| x.name == reader).for_each(|x| x.card_present = false)
            }),
            Event::PinNeeded { tries_left, confirm_id, .. } => self.card.step = CardStep::WaitingPin { tries_left, confirm_id },
            Event::PairingDecided { approved, .. } => {
                self.pairing = if approved { Pairing::Approved } else { Pairing::Denied };
                if approved {
                    self.links.helper = links::Helper::Ready { version: String::new() };
                    self.refresh += 1;
                }
            }
            Event::PairingRevoked => {
                self.links.helper = links::Helper::NotPaired;
                self.pairing = Pairing::Idle;
            }
            Event::FaceResult { xml, summary, entry_id } => {
                self.eligibility(Eligibility { xml, received: None, summary, entry_id, timing: None, certificate: None }, ConfirmKind::Face)
            }
            // Listed once: the page's own check may have listed it already.
            Event::TodayAdded { entry } => {
                if !self.today.iter().any(|r| r.entry_id == entry.entry_id) {
                    self.today.push(TodayRow::from_entry(&entry));
                }
            }
            Event::BatchProgress { batch_id, state } => {
                if let Some(info) = self.batch.info.as_mut().filter(|i| i.batch_id == batch_id) {
                    info.state = state;
                }
            }
            _ => {}
        }
    }
}
