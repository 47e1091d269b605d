//! Issue 14 at the service level: the card's certificate is judged before
//! the PIN window opens, with "today" fixed through `Settings::today` (the
//! certificates were issued relative to that day), and the refusal is
//! audited like any other card outcome.

use super::*;
use crate::card::testing::{cert_case_person, cert_test_today, SimTransport};
use onshi_core::protocol::CertificateState;
use onshi_sim::pki::CertCase;

fn harness_for(case: CertCase) -> H {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let card = Arc::new(SimAccess::with(SimTransport::for_person(cert_case_person(case), 3)));
    let settings = Settings { today: Some(cert_test_today()), ..quick() };
    open(&root, Some(dir), Arc::new(FakeBackend::new(Duration::ZERO)), card, settings)
}

fn no_pin_window(h: &H) {
    assert!(!h.queue.iter().any(|f| matches!(f, FromHelper::Event { event: Event::PinNeeded { .. }, .. })), "a PIN window was asked for");
}

fn no_verify(h: &H) {
    let card = h.card.card.lock().unwrap();
    assert!(!card.log.iter().any(|c| c[1] == 0x20), "a VERIFY reached the card: {:?}", card.log_hex());
    assert_eq!(card.card.tries_left(), 3);
}

fn last_audit(h: &H) -> crate::store::AuditEntry {
    h.rt.with_store(|s| s.audit_tail(1).unwrap()).pop().expect("an audit entry")
}

#[tokio::test]
async fn a_card_lapsed_beyond_the_grace_is_refused_before_the_pin_window_and_audited() {
    let mut h = harness_for(CertCase::Lapsed);
    for mode in ["pin", "visual"] {
        let cc = h.card_confirm(mode);
        let e = h.reply(&cc).await.expect_err("refused");
        assert_eq!((e.code, e.retryable), (C::CertificateExpired, false), "{mode}");
        assert!(e.message.ja.contains("資格確認書"), "{}", e.message.ja);
        assert!(e.detail.not_after.is_some() && e.detail.usable_until.is_some());
        let a = last_audit(&h);
        assert_eq!((a.kind.as_str(), a.outcome.as_str()), ("card_confirm", "failed"), "{mode}");
        assert!(a.detail.contains("certificate_expired"), "{}", a.detail);
    }
    no_pin_window(&h);
    no_verify(&h);
    assert_eq!(h.backend.proofs.lock().unwrap().len(), 0, "the gateway was never asked");
}

#[tokio::test]
async fn a_card_in_its_grace_is_confirmed_by_a_visual_check_only() {
    let mut h = harness_for(CertCase::LapsedGrace);
    let cc = h.card_confirm("pin");
    let e = h.reply(&cc).await.expect_err("no PIN with a lapsed certificate");
    assert_eq!((e.code, e.retryable), (C::CertificateInGrace, true));
    assert!(last_audit(&h).detail.contains("certificate_in_grace"));
    no_pin_window(&h);
    let cc = h.card_confirm("visual");
    let Ok(Response::CardConfirm(r)) = h.reply(&cc).await else { panic!("a result") };
    let notice = r.certificate.expect("the grace notice");
    assert_eq!(notice.state, CertificateState::LapsedGrace);
    assert!(notice.usable_until.is_some() && notice.message.ja.contains("市区町村の窓口"));
    no_verify(&h);
    let p = h.backend.proofs.lock().unwrap();
    assert_eq!((p.len(), p[0].mode), (1, onshi_core::protocol::ConfirmMode::Visual));
}

#[tokio::test]
async fn a_card_expiring_soon_takes_the_pin_and_carries_the_reminder() {
    let mut h = harness_for(CertCase::ExpiresSoon);
    let cc = h.card_confirm("pin");
    let (confirm, tries) = h.pin_needed().await;
    assert_eq!(tries, 3);
    let pe = h.pin(&confirm, "1234", false);
    assert!(matches!(h.reply(&pe).await, Ok(Response::PinEntry)));
    let Ok(Response::CardConfirm(r)) = h.reply(&cc).await else { panic!("a result") };
    let notice = r.certificate.expect("the reminder");
    assert_eq!((notice.state, notice.days_left), (CertificateState::ExpiresSoon, Some(30)));
}

#[tokio::test]
async fn a_plainly_valid_card_carries_no_notice() {
    let mut h = harness(3);
    let cc = h.card_confirm("visual");
    let Ok(Response::CardConfirm(r)) = h.reply(&cc).await else { panic!("a result") };
    assert_eq!(r.certificate, None);
}

#[tokio::test]
async fn a_card_in_its_grace_cannot_be_registered_and_is_told_so() {
    let mut h = harness_for(CertCase::LapsedGrace);
    let id = h.send(PAGE, "page", r#"{"type":"card_register","consents":{}}"#);
    let e = h.reply(&id).await.expect_err("no registration without a usable certificate");
    assert_eq!((e.code, e.retryable), (C::CertificateInGrace, false));
    assert!(e.message.ja.contains("保険証利用登録はできません"), "{}", e.message.ja);
    no_pin_window(&h);
    no_verify(&h);
}
