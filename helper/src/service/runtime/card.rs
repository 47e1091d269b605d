//! The My Number card: the PIN waits, the card flows run off the async
//! threads (one at a time), the visual check, registration (利用登録), and
//! their audit lines. The PIN moves from `pin_entry` into one flow and is
//! dropped right after.

use super::*;

/// What a `card_confirm` asked for.
#[derive(Debug, Clone)]
pub(in crate::service) struct Asked {
    pub mode: ConfirmMode,
    pub consents: Consents,
    /// Reader name; absent = the only reader with a card.
    pub reader: Option<String>,
    /// Where the patient is treated: stored with the result and audited.
    pub treatment: Treatment,
}

/// Clears the card-busy flag when the card work ends, however it ends.
struct CardSlot<'a>(&'a AtomicBool);

impl Drop for CardSlot<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl Runtime {
    // ----- My Number card ------------------------------------------------

    pub(super) fn pin_message(&self, caller: &Caller, confirm_id: &str, reply: Reply, make: impl FnOnce(Reply) -> PinMsg) {
        let pins = lock(&self.pins);
        match pins.get(confirm_id) {
            // Only the extension that was asked for the PIN may answer it.
            Some(w) if w.extension == caller.extension_id => {
                if let Err(mpsc::error::SendError(msg)) = w.tx.send(make(reply)) {
                    let (PinMsg::Entry { reply, .. } | PinMsg::Cancel { reply }) = msg;
                    reply.send(Err(unknown_confirm()));
                }
            }
            _ => reply.send(Err(unknown_confirm())),
        }
    }

    /// Runs a card flow on a blocking thread; the flow's result comes back
    /// through `out`, and its PC/SC time goes to the request's [`timing`].
    async fn on_card<T: Send + 'static>(
        &self,
        reader: Option<String>,
        flow: impl FnOnce(&mut dyn crate::card::transport::CardTransport) -> Result<T, CardError> + Send + 'static,
    ) -> Result<T, CardError> {
        let card = self.card.clone();
        let (out, spent) = tokio::task::spawn_blocking(move || {
            let mut flow = Some(flow);
            let mut out = None;
            let mut clock = timing::CardClock::start();
            let done = card.with_card(reader.as_deref(), &mut |t| {
                let f = flow.take().ok_or(CardError::Card("flow ran twice".into()))?;
                out = Some(clock.flow(t, f)?);
                Ok(())
            });
            let out = done.and_then(|()| out.ok_or(CardError::Card("flow did not run".into())));
            (out, clock.card_time())
        })
        .await
        .unwrap_or_else(|_| (Err(CardError::Card("card thread failed".into())), Duration::ZERO));
        timing::on_card(spent);
        // The receptionist reads "the card could not be read"; IT needs what the card or
        // PC/SC actually said. These texts never hold the PIN (CardError carries none).
        if let Err(CardError::Card(why)) = &out {
            eprintln!("onshi-helper service: card failure: {why}");
        }
        out
    }

    fn audit_card(&self, origin: &Origin, asked: &Asked, tries_left: Option<u8>, result: &Result<(), ProtocolError>) {
        let Asked { mode, consents, treatment, .. } = *asked;
        let error = result.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let outcome = match result {
            Ok(()) => Outcome::Ok,
            Err(e) if e.code == Code::Cancelled => Outcome::Cancelled,
            Err(_) => Outcome::Failed,
        };
        let detail = AuditDetail::CardConfirm {
            mode: match mode {
                ConfirmMode::Pin => AuditMode::Pin,
                ConfirmMode::Visual => AuditMode::Visual,
            },
            consents: audit_consents(consents),
            tries_left,
            error,
            treatment: Some(treatment),
        };
        lock(&self.dispatcher).audit(&Actor::Origin(origin.clone()), outcome, &detail);
    }

    pub(super) async fn card_confirm(self: &Arc<Self>, reply: Reply, caller: &Caller, origin: &Origin, asked: Asked) {
        // One card operation at a time: a second one would interleave APDUs
        // with the first flow's transaction or wait on it for minutes.
        if self.card_busy.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            reply.send(Err(ProtocolError::new(Code::Busy)));
            return;
        }
        let _slot = CardSlot(&self.card_busy);
        let (result, tries) = match asked.mode {
            ConfirmMode::Pin => {
                let (proof, tries) = self.card_pin(&reply, caller, origin, &asked, PinPurpose::Confirm).await;
                let result = match (proof, self.backend()) {
                    (Ok((proof, cert)), Ok(backend)) => self
                        .finish_card(origin, &backend, &proof, asked.treatment)
                        .await
                        .map(|e| Eligibility { certificate: cert.notice(), ..e }),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                };
                (result, tries)
            }
            ConfirmMode::Visual => (self.card_visual(origin, &asked).await, None),
        };
        self.audit_card(origin, &asked, tries, &result.as_ref().map(|_| ()).map_err(Clone::clone));
        let timing = timing::finish();
        reply.send(result.map(|e| Response::CardConfirm(Eligibility { timing, ..e })));
    }

    /// `card_register`: the PIN flow of a card check, then the proof goes to
    /// the registration endpoint instead. "Already registered" is a success
    /// for the desk: the card check can go ahead.
    pub(super) async fn card_register(self: &Arc<Self>, reply: Reply, caller: &Caller, origin: &Origin, consents: Consents, reader: Option<String>) {
        if self.card_busy.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            reply.send(Err(ProtocolError::new(Code::Busy)));
            return;
        }
        let _slot = CardSlot(&self.card_busy);
        // Checked before the PIN window opens: a PIN the backend cannot use is never asked for.
        if self.backend.as_ref().is_some_and(|b| b.kind() == onshi_core::protocol::Backend::OqsFolder) {
            let result = Err(folder_cannot_register());
            self.audit_register(origin, consents, None, &result);
            reply.send(result.map(Response::CardRegister));
            return;
        }
        // Registration is asked at the clinic's reader, right after a card check.
        let asked = Asked { mode: ConfirmMode::Pin, consents, reader, treatment: Treatment::Outpatient };
        let (proof, tries) = self.card_pin(&reply, caller, origin, &asked, PinPurpose::Register).await;
        let proof = proof.map_err(no_registration_in_grace);
        let result = match (proof, self.backend()) {
            (Ok((proof, _)), Ok(backend)) => match timing::network(backend.card_register(&proof)).await {
                Ok(bytes) => eligibility::read_answer(&bytes)
                    .and_then(|a| eligibility::error_of(&a.message).map_or(Ok(CardRegistered { already_registered: false }), Err)),
                Err(BackendError::Rejected { code, .. }) if code == GatewayCode::AlreadyRegistered.as_str() => {
                    Ok(CardRegistered { already_registered: true })
                }
                Err(e) => Err(backend_error(&e)),
            },
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        self.audit_register(origin, consents, tries, &result);
        reply.send(result.map(Response::CardRegister));
    }

    fn audit_register(&self, origin: &Origin, consents: Consents, tries_left: Option<u8>, result: &Result<CardRegistered, ProtocolError>) {
        let error = result.as_ref().err().and_then(|e| ErrorCode::new(e.code.as_str()).ok());
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(e) if e.code == Code::Cancelled => Outcome::Cancelled,
            Err(_) => Outcome::Failed,
        };
        let detail = AuditDetail::CardRegister {
            consents: audit_consents(consents),
            tries_left,
            already_registered: matches!(result, Ok(CardRegistered { already_registered: true })),
            error,
        };
        lock(&self.dispatcher).audit(&Actor::Origin(origin.clone()), outcome, &detail);
    }

    /// Visual-check mode (目視確認). The JPKI user-authentication key signs
    /// only after a PIN VERIFY (the card enforces it), so without a PIN there
    /// can be no signature: the certificate alone is read and sent with an
    /// empty signature and mode `visual`; the gateway still checks the chain
    /// and the nonce, and staff vouch for the person by the card photo.
    /// This is also the one way a certificate in its grace (core
    /// `cert_validity`) confirms the qualification: a lapsed certificate
    /// makes a signature worthless, the photo check does not need one. One
    /// lapsed beyond the grace is refused before the gateway is asked.
    async fn card_visual(&self, origin: &Origin, asked: &Asked) -> Result<Eligibility, ProtocolError> {
        let (consents, reader) = (asked.consents, asked.reader.clone());
        let backend = self.backend()?;
        let today = self.cert_today();
        let (certificate_der, cert) =
            self.on_card(reader, move |t| flows::certificate_for_visual(t, today)).await.map_err(|e| e.to_protocol())?;
        let challenge = timing::network(backend.card_challenge()).await.map_err(|e| backend_error(&e))?;
        let proof = CardProof { certificate_der, signature: Vec::new(), nonce: challenge.nonce, mode: ConfirmMode::Visual, consents };
        let result = self.finish_card(origin, &backend, &proof, asked.treatment).await?;
        Ok(Eligibility { certificate: cert.notice(), ..result })
    }

    /// "Today" for the certificate rule: the clinic's day by the
    /// dispatcher's clock (the tests' fixed day when they set one).
    pub fn cert_today(&self) -> flows::Today {
        let d = lock(&self.dispatcher);
        flows::Today { date: self.settings.today.unwrap_or_else(|| d.calendar_day()), offset_minutes: d.offset_minutes() }
    }

    async fn finish_card(
        &self,
        origin: &Origin,
        backend: &Arc<dyn Backend>,
        proof: &CardProof,
        treatment: Treatment,
    ) -> Result<Eligibility, ProtocolError> {
        let bytes = timing::network(backend.card_confirm(proof)).await.map_err(|e| backend_error(&e))?;
        let answer = eligibility::read_answer(&bytes)?;
        let made = Made { card: Some(CardCheck { mode: proof.mode, consents: proof.consents }), treatment: Some(treatment), ..Made::default() };
        store_eligibility(&mut lock(&self.dispatcher), ResultKind::CardConfirm, Some(origin), made, &answer)
    }

    /// PIN mode up to the card's signature over a fresh challenge; returns
    /// the proof with the certificate's standing, and the tries left last
    /// seen (for the audit). `purpose` only changes what the PIN window says.
    /// The certificate is judged before anything else ([`flows::before_pin`]):
    /// a lapsed one ends here, before the PIN window opens and before any
    /// VERIFY, so no try is spent on a card that cannot succeed.
    async fn card_pin(
        self: &Arc<Self>,
        reply: &Reply,
        caller: &Caller,
        origin: &Origin,
        asked: &Asked,
        purpose: PinPurpose,
    ) -> (Result<(CardProof, flows::CertStanding), ProtocolError>, Option<u8>) {
        let (consents, reader) = (asked.consents, asked.reader.clone());
        let backend = match self.backend() {
            Ok(b) => b,
            Err(e) => return (Err(e), None),
        };
        let today = self.cert_today();
        let (mut tries, cert) = match self.on_card(reader.clone(), move |t| flows::before_pin(t, today)).await {
            Ok(flows::BeforePin { tries: PinTries::Left(n), certificate }) => (n, certificate),
            Ok(flows::BeforePin { tries: PinTries::Locked, .. }) => return (Err(CardError::PinLocked.to_protocol()), Some(0)),
            Err(e) => return (Err(e.to_protocol()), None),
        };
        let confirm_id = format!("c-{}", self.next_confirm.fetch_add(1, Ordering::Relaxed));
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&self.pins).insert(confirm_id.clone(), PinWaiter { extension: caller.extension_id.clone(), tx });
        // Removes the waiter however this function ends.
        struct Unregister<'a>(&'a Runtime, String);
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                lock(&self.0.pins).remove(&self.1);
            }
        }
        let _unregister = Unregister(self, confirm_id.clone());
        let ask = |tries_left: u8| {
            self.to_extension(
                &caller.extension_id,
                &FromHelper::event(
                    Event::PinNeeded { confirm_id: confirm_id.clone(), request_id: reply.id.clone(), tries_left, origin: origin.to_string(), purpose },
                    Some(origin.to_string()),
                ),
            )
        };
        ask(tries);
        loop {
            let msg = match tokio::time::timeout(self.settings.pin_timeout, rx.recv()).await {
                Ok(Some(m)) => m,
                Ok(None) | Err(_) => return (Err(ProtocolError::new(Code::PinRequired)), Some(tries)),
            };
            let (pin, confirm_last_try, entry_reply) = match msg {
                PinMsg::Cancel { reply: r } => {
                    r.send(Ok(Response::PinCancel));
                    return (Err(ProtocolError::new(Code::Cancelled)), Some(tries));
                }
                PinMsg::Entry { pin, confirm_last_try, reply, received } => {
                    timing::restart(received);
                    (pin, confirm_last_try, reply)
                }
            };
            if tries == 1 && !confirm_last_try {
                // Checked here too (the flow checks again): no challenge is spent and no card touched.
                drop(pin);
                entry_reply.send(Err(CardError::LastTryUnconfirmed { tries_left: 1 }.to_protocol()));
                continue;
            }
            let challenge = match timing::network(backend.card_challenge()).await {
                Ok(c) => c,
                Err(e) => {
                    drop(pin);
                    let err = backend_error(&e);
                    entry_reply.send(Err(err.clone()));
                    return (Err(err), Some(tries));
                }
            };
            let nonce = challenge.nonce.clone();
            // The PIN moves into the flow and is dropped (wiped) when it ends.
            let flow = self
                .on_card(reader.clone(), move |t| {
                    let out = flows::confirm_with_pin(t, &pin, &nonce, confirm_last_try);
                    drop(pin);
                    out
                })
                .await;
            match flow {
                Ok(p) => {
                    entry_reply.send(Ok(Response::PinEntry));
                    let proof = CardProof { certificate_der: p.cert_der, signature: p.signature, nonce: challenge.nonce, mode: ConfirmMode::Pin, consents };
                    return (Ok((proof, cert)), Some(tries));
                }
                Err(CardError::WrongPin { tries_left }) => {
                    tries = tries_left;
                    entry_reply.send(Err(CardError::WrongPin { tries_left }.to_protocol()));
                    let wrong = Err(CardError::WrongPin { tries_left }.to_protocol());
                    match purpose {
                        PinPurpose::Confirm => self.audit_card(origin, asked, Some(tries_left), &wrong),
                        PinPurpose::Register => self.audit_register(origin, consents, Some(tries_left), &wrong.map(|()| CardRegistered::default())),
                    }
                    if tries_left == 0 {
                        return (Err(CardError::PinLocked.to_protocol()), Some(0));
                    }
                    ask(tries_left);
                }
                Err(e @ CardError::LastTryUnconfirmed { .. }) => entry_reply.send(Err(e.to_protocol())),
                Err(e) => {
                    let err = e.to_protocol();
                    entry_reply.send(Err(err.clone()));
                    return (Err(err), Some(tries));
                }
            }
        }
    }
}

/// Registration needs the PIN, and a lapsed certificate takes none: the
/// grace's "use the visual check" does not apply to registering, so say
/// what does (same code, so the page and the audit still see why).
fn no_registration_in_grace(mut e: ProtocolError) -> ProtocolError {
    if e.code == Code::CertificateInGrace {
        e.retryable = false;
        e.message = Bilingual::new(
            "マイナンバーカードの電子証明書の有効期限が切れているため、保険証利用登録はできません。お住まいの市区町村の窓口で更新してから登録してください。今日は資格確認書か資格情報のお知らせの番号で確認してください。",
            "The My Number card's certificate has expired, so the card cannot be registered for insurance use. The patient renews it at their city office (市区町村の窓口) and registers afterwards. Today, confirm with the eligibility certificate's numbers.",
        );
    }
    e
}

/// With an official terminal, card registration happens at its reader.
fn folder_cannot_register() -> ProtocolError {
    let mut e = backend_error(&BackendError::Unsupported { backend: "oqs-folder", what: "card registration" });
    e.message = Bilingual::new(
        "この接続方式（資格確認端末のフォルダー連携）では、ここから保険証利用登録はできません。患者さんに資格確認端末のカードリーダー（顔認証付きカードリーダー）で登録していただき、その後もう一度カードで確認してください。",
        "With this connection (the official terminal's folders) the card cannot be registered from here. Ask the patient to register at the terminal's card reader, then check the card again.",
    );
    e
}

fn unknown_confirm() -> ProtocolError {
    let mut e = ProtocolError::invalid_argument("confirm_id", "no card confirm is waiting for this PIN");
    e.message = Bilingual::new(
        "この暗証番号入力に対応する確認はもう終わっています。画面からもう一度カード確認を始めてください。",
        "The card confirmation this PIN was for has already ended. Start the card confirmation again from the page.",
    );
    e
}
