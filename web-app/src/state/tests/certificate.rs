//! Issue 14 on the page: a certificate in its grace switches the card check
//! to 目視確認 (no PIN can help), and a result's certificate notice — the
//! grace's "qualification only" or the renewal reminder — stays with the
//! result on screen.

use super::*;
use onshi_core::cert_validity::standing;
use onshi_core::protocol::{CertificateNotice, CertificateState};
use onshi_core::wareki::Date;

fn d(s: &str) -> Date {
    Date::parse_yyyymmdd(s).unwrap()
}

#[test]
fn a_certificate_in_its_grace_switches_to_the_visual_check() {
    let mut s = state();
    s.apply(Action::Sent(Op::Card, seq()));
    let e = ProtocolError::certificate(d("20250310"), standing(d("20250310"), d("20250401"))).unwrap();
    assert_eq!(e.code, ErrorCode::CertificateInGrace);
    s.apply(Action::Failed(Op::Card, seq(), e));
    assert_eq!(s.card.mode, ConfirmMode::Visual);
    assert!(!s.card.offer_registration && !s.card.step.busy());
    // A card lapsed for good changes nothing about the mode: the card cannot be used.
    let mut s = state();
    s.apply(Action::Sent(Op::Card, seq()));
    let e = ProtocolError::certificate(d("20240610"), standing(d("20240610"), d("20250401"))).unwrap();
    s.apply(Action::Failed(Op::Card, seq(), e));
    assert_eq!(s.card.mode, ConfirmMode::Pin);
    assert!(matches!(&s.card.step, CardStep::Failed(e) if e.code == ErrorCode::CertificateExpired));
}

#[test]
fn the_certificate_notice_stays_with_the_card_result() {
    let mut s = state();
    s.apply(Action::CardMode(ConfirmMode::Visual));
    s.apply(Action::Sent(Op::Card, seq()));
    let notice = CertificateNotice::new(d("20250310"), standing(d("20250310"), d("20250401"))).unwrap();
    let e = Eligibility { certificate: Some(notice.clone()), ..eligibility(VALID_XML) };
    s.apply(Action::Reply(Op::Card, seq(), Response::CardConfirm(e)));
    let shown = s.shown.as_ref().expect("shown");
    assert_eq!(shown.certificate.as_ref().map(|c| c.state), Some(CertificateState::LapsedGrace));
    assert!(shown.certificate.as_ref().unwrap().message.ja.contains("資格情報だけ"));
    // The next result (an insurance check) has no card, so no notice.
    let mut s = good_form();
    s.apply(Action::Sent(Op::Insurance, seq()));
    s.apply(Action::Reply(Op::Insurance, seq(), Response::InsuranceConfirm(eligibility(VALID_XML))));
    assert_eq!(s.shown.as_ref().and_then(|sh| sh.certificate.clone()), None);
}
