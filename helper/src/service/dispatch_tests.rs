//! The dispatcher's access rules, pairing and the gate for unpaired pages,
//! with a fake clock and a fixed pairing code.

use super::*;
use onshi_core::protocol::{ErrorCode as C, Event, FromHelper, PairApproveReply, PairRevokeReply};
use std::cell::Cell;

struct FakeEnv(Cell<i64>);
impl Env for FakeEnv {
    fn now_secs(&self) -> i64 {
        self.0.get()
    }
    fn code(&self) -> Result<String, ProtocolError> {
        Ok("K7QA9X".to_owned())
    }
}

const EXT: &str = "lbhdjimbjnckfihbhjblgoboclngejdi";
const PAGE: &str = "https://clinic.example";

fn setup() -> (tempfile::TempDir, Dispatcher<FakeEnv>, Caller) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    let d = Dispatcher::new(store, None, FakeEnv(Cell::new(1_800_000_000)));
    let caller = Caller { extension_id: ExtensionId::new(EXT).unwrap(), browser: Browser::Chromium };
    (dir, d, caller)
}

fn send(d: &mut Dispatcher<FakeEnv>, c: &Caller, origin: &str, via: &str, body: &str) -> (Result<Response, ProtocolError>, Vec<Out>) {
    let text = format!(r#"{{"v":1,"id":"9","origin":"{origin}","via":"{via}","body":{body}}}"#);
    let mut outs = d.handle(c, &text);
    let Out::Reply(FromHelper::Reply { id, result }) = outs.remove(0) else { panic!("no reply first") };
    assert_eq!(id, "9");
    (result, outs)
}

fn code(r: Result<Response, ProtocolError>) -> C {
    r.expect_err("expected an error").code
}

fn pair(d: &mut Dispatcher<FakeEnv>, c: &Caller, origin: &str) {
    let (r, _) = send(d, c, origin, "page", r#"{"type":"pair_begin"}"#);
    let Ok(Response::PairBegin(b)) = r else { panic!("{r:?}") };
    assert_eq!(b.code.len(), CODE_LEN);
    let ext = format!("chrome-extension://{EXT}");
    let (r, events) = send(d, c, &ext, "extension", &format!(r#"{{"type":"pair_approve","pairing_id":"{}","approve":true}}"#, b.pairing_id));
    assert!(matches!(r, Ok(Response::PairApprove(PairApproveReply { approved: true, .. }))), "{r:?}");
    assert!(matches!(&events[..], [Out::Event { frame: FromHelper::Event { event: Event::PairingDecided { approved: true, .. }, origin: Some(o) }, .. }] if o == origin));
}

#[test]
fn unpaired_origin_is_refused_and_audited() {
    let (_t, mut d, c) = setup();
    for body in [r#"{"type":"status"}"#, r#"{"type":"today"}"#, r#"{"type":"audit_tail"}"#, r#"{"type":"card_confirm","mode":"visual"}"#] {
        assert_eq!(code(send(&mut d, &c, PAGE, "page", body).0), C::NotPaired, "{body}");
    }
    let (r, _) = send(&mut d, &c, PAGE, "page", r#"{"type":"hello","page_version":"x"}"#);
    assert!(matches!(r, Ok(Response::Hello(HelloReply { paired: false, .. }))));
    // Four refusals, one line: an unpaired origin is counted, not written
    // down per request; the next line (ten minutes on) carries the count.
    let tail = d.store_mut().audit_tail(10).unwrap();
    let lines: Vec<_> = tail.iter().filter(|e| e.kind == "access" && e.outcome == "refused").collect();
    assert_eq!(lines.len(), 1, "{tail:?}");
    assert!(lines[0].detail.contains("not_paired") && lines[0].detail.contains(r#""count":1"#), "{}", lines[0].detail);
    d.env.0.set(d.env.0.get() + 600);
    assert_eq!(code(send(&mut d, &c, PAGE, "page", r#"{"type":"status"}"#).0), C::NotPaired);
    let tail = d.store_mut().audit_tail(1).unwrap();
    assert!(tail[0].detail.contains(r#""count":4"#), "the second line counts the three unwritten refusals and itself: {}", tail[0].detail);
}

fn setup_with(config_toml: &str) -> (tempfile::TempDir, Dispatcher<FakeEnv>, Caller) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    let config = Config::parse(config_toml, dir.path()).unwrap();
    let d = Dispatcher::new(store, Some(config), FakeEnv(Cell::new(1_800_000_000)));
    let caller = Caller { extension_id: ExtensionId::new(EXT).unwrap(), browser: Browser::Chromium };
    (dir, d, caller)
}

const ALLOW_CLINIC: &str = "institution_code = \"0110113719\"\nallowed_origins = [\"https://clinic.example\", \"https://*.clinic.example\"]\n[backend]\nkind = \"oqs-folder\"\npath = \"oqs\"\n";

#[test]
fn an_origin_outside_the_allowlist_is_refused_before_anything_else() {
    let (_t, mut d, c) = setup_with(ALLOW_CLINIC);
    let evil = "https://evil.example";
    for body in [r#"{"type":"hello","page_version":"x"}"#, r#"{"type":"pair_begin"}"#, r#"{"type":"status"}"#] {
        let (r, outs) = send(&mut d, &c, evil, "page", body);
        assert_eq!(code(r), C::OriginNotAllowed, "{body}");
        assert!(outs.is_empty(), "nothing else happens: {outs:?}");
    }
    assert!(d.pending.is_empty(), "no pairing attempt was recorded");
    assert!(d.store_mut().pairings().unwrap().is_empty(), "no pairing row");
    let access = d.store_mut().audit_tail(10).unwrap().into_iter().filter(|e| e.kind == "access").count();
    assert_eq!(access, 1, "one audit line for the refused origin");
    // Listed origins, exact and by wildcard, pair as before.
    pair(&mut d, &c, PAGE);
    pair(&mut d, &c, "https://uketsuke.clinic.example");
}

#[test]
fn pairing_attempts_leave_no_rows_until_a_person_decides() {
    let (_t, mut d, c) = setup();
    let (r, _) = send(&mut d, &c, PAGE, "page", r#"{"type":"pair_begin"}"#);
    assert!(matches!(r, Ok(Response::PairBegin(_))));
    assert!(d.store_mut().pairings().unwrap().is_empty(), "an attempt is not a row");
    pair(&mut d, &c, PAGE);
    let rows = d.store_mut().pairings().unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].is_live() && rows[0].approved);
}

#[test]
fn a_flood_of_pair_begin_is_limited_and_a_paired_page_is_not() {
    let (_t, mut d, c) = setup();
    pair(&mut d, &c, PAGE);
    let mut begun = 0;
    let mut limited = 0;
    for i in 0..2000 {
        let origin = format!("https://site{}.example", i % 50);
        match send(&mut d, &c, &origin, "page", r#"{"type":"pair_begin"}"#).0 {
            Ok(Response::PairBegin(_)) => begun += 1,
            Err(e) if e.code == C::RateLimited => {
                assert!(e.detail.retry_after_s.is_some_and(|s| s >= 1), "{e:?}");
                limited += 1
            }
            other => panic!("{other:?}"),
        }
        // The paired page is answered every time, whatever the flood does.
        if i % 100 == 0 {
            assert!(matches!(send(&mut d, &c, PAGE, "page", r#"{"type":"status"}"#).0, Ok(Response::Status(_))));
        }
    }
    assert_eq!(begun + limited, 2000);
    assert!(begun <= 10, "{begun} pairing windows opened in one instant");
    assert!(d.pending.len() <= 8, "{} attempts waiting", d.pending.len());
    assert_eq!(d.store_mut().pairings().unwrap().len(), 1, "only the decided pairing is stored");
    let audit = d.store_mut().audit_tail(5000).unwrap();
    assert!(audit.len() <= 70, "{} audit lines for a 2,000-request flood", audit.len());
    assert!(d.store_mut().verify_audit().unwrap().is_intact());
}

#[test]
fn plain_http_pairing_needs_the_exact_origin_listed() {
    let (_t, mut d, c) = setup();
    assert_eq!(code(send(&mut d, &c, "http://192.168.1.5:8080", "page", r#"{"type":"pair_begin"}"#).0), C::OriginNotAllowed);
    // Loopback is this machine: allowed without a list.
    pair(&mut d, &c, "http://127.0.0.1:8080");
    let toml = "institution_code = \"0110113719\"\nallowed_origins = [\"http://192.168.1.5:8080\"]\n[backend]\nkind = \"oqs-folder\"\npath = \"oqs\"\n";
    let (_t, mut d, c) = setup_with(toml);
    pair(&mut d, &c, "http://192.168.1.5:8080");
}

#[test]
fn origin_in_body_is_ignored() {
    let (_t, mut d, c) = setup();
    pair(&mut d, &c, PAGE);
    // An unpaired page names the paired origin in its body: still refused.
    let body = format!(r#"{{"type":"status","origin":"{PAGE}","via":"extension"}}"#);
    assert_eq!(code(send(&mut d, &c, "https://evil.example", "page", &body).0), C::NotPaired);
    // And the paired origin's own status works.
    assert!(matches!(send(&mut d, &c, PAGE, "page", r#"{"type":"status"}"#).0, Ok(Response::Status(StatusReply { paired: true, .. }))));
}

#[test]
fn approval_from_a_page_is_refused() {
    let (_t, mut d, c) = setup();
    let (r, _) = send(&mut d, &c, PAGE, "page", r#"{"type":"pair_begin"}"#);
    let Ok(Response::PairBegin(b)) = r else { panic!() };
    let approve = format!(r#"{{"type":"pair_approve","pairing_id":"{}","approve":true}}"#, b.pairing_id);
    assert_eq!(code(send(&mut d, &c, PAGE, "page", &approve).0), C::ExtensionOnly);
    assert_eq!(code(send(&mut d, &c, PAGE, "page", r#"{"type":"pairings_list"}"#).0), C::ExtensionOnly);
    assert_eq!(code(send(&mut d, &c, PAGE, "page", r#"{"type":"status"}"#).0), C::NotPaired);
}

#[test]
fn expired_code_cannot_be_approved() {
    let (_t, mut d, c) = setup();
    let (r, _) = send(&mut d, &c, PAGE, "page", r#"{"type":"pair_begin"}"#);
    let Ok(Response::PairBegin(b)) = r else { panic!() };
    d.env.0.set(d.env.0.get() + i64::from(PAIRING_TTL_S) + 1);
    let ext = format!("chrome-extension://{EXT}");
    let approve = format!(r#"{{"type":"pair_approve","pairing_id":"{}","approve":true}}"#, b.pairing_id);
    assert_eq!(code(send(&mut d, &c, &ext, "extension", &approve).0), C::InvalidArgument);
}

#[test]
fn revoke_works_and_later_features_are_honest() {
    let (_t, mut d, c) = setup();
    pair(&mut d, &c, PAGE);
    // Card work is handed out, not answered by the dispatcher.
    let outs = d.handle(&c, &format!(r#"{{"v":1,"id":"9","origin":"{PAGE}","via":"page","body":{{"type":"card_confirm","mode":"visual"}}}}"#));
    assert!(matches!(&outs[..], [Out::Work(Work { job: Job::Card { .. }, .. })]), "{outs:?}");
    let med = r#"{"type":"checkup_fetch","insured":{"insurer_number":"39131156","number":"1","birth_date":"19600105"}}"#;
    let (r, _) = send(&mut d, &c, PAGE, "page", med);
    let e = r.unwrap_err();
    // Without a config the helper cannot build the request, and says who can fix it.
    assert_eq!(e.code, C::Internal);
    assert!(e.message.ja.contains("config check") && e.message.en.contains("config check"));
    let ext = format!("chrome-extension://{EXT}");
    let (r, _) = send(&mut d, &c, &ext, "extension", r#"{"type":"pairings_list"}"#);
    let Ok(Response::PairingsList(l)) = r else { panic!() };
    assert_eq!(l.pairings.len(), 1);
    let (r, ev) = send(&mut d, &c, &ext, "extension", &format!(r#"{{"type":"pair_revoke","origin":"{PAGE}"}}"#));
    assert!(matches!(r, Ok(Response::PairRevoke(PairRevokeReply { revoked: true, .. }))));
    assert!(matches!(&ev[..], [Out::Event { frame: FromHelper::Event { event: Event::PairingRevoked, .. }, .. }]));
    assert_eq!(code(send(&mut d, &c, PAGE, "page", r#"{"type":"status"}"#).0), C::NotPaired);
}

#[test]
fn codes_are_unambiguous_and_unbiased_source() {
    let mut n = 0u8;
    let c = random_code(|b| {
        for x in b.iter_mut() {
            *x = n;
            n = n.wrapping_add(1);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(c.len(), CODE_LEN);
    assert!(c.bytes().all(|b| CODE_ALPHABET.contains(&b)));
    for bad in b"0O1IL2Z5S8B" {
        assert!(!CODE_ALPHABET.contains(bad));
    }
    assert_ne!(SystemEnv.code().unwrap(), SystemEnv.code().unwrap());
}

#[test]
fn usage_is_paired_only_checks_its_range_and_counts_stored_checks() {
    use crate::store::{NewResult, ResultKind, ResultStatus, ResultXml};
    let (_t, mut d, c) = setup();
    let body = r#"{"type":"usage","from":"20260101","to":"20261231"}"#;
    assert_eq!(code(send(&mut d, &c, PAGE, "page", body).0), C::NotPaired);
    pair(&mut d, &c, PAGE);
    let mk = |at: &str, kind| NewResult {
        at: Timestamp::parse(at).unwrap(),
        kind,
        origin: None,
        job: None,
        status: ResultStatus::Error,
        insurer_number: None,
        name_kana: None,
        error: None,
        card: None,
        document: None, treatment: None,
        xml: ResultXml::received(b"<XmlMsg/>".to_vec()).unwrap(),
    };
    let rows = [mk("2026-03-02T09:00:00+09:00", ResultKind::Face), mk("2026-03-02T09:01:00+09:00", ResultKind::InsuranceConfirm)];
    d.store_mut().insert_results(&rows).unwrap();
    let (r, _) = send(&mut d, &c, PAGE, "page", body);
    let Ok(Response::Usage(u)) = r else { panic!("{r:?}") };
    assert_eq!((u.days.len(), u.days[0].day.as_str()), (1, "20260302"));
    assert_eq!((u.days[0].counts.face, u.days[0].counts.numbers_unrecorded), (1, 1), "errors count: the system logged the query");
    for (bad, field) in [
        (r#"{"type":"usage","from":"2026-01-01","to":"20261231"}"#, "from"),
        (r#"{"type":"usage","from":"20260101","to":"20250101"}"#, "to"),
        (r#"{"type":"usage","from":"20200101","to":"20261231"}"#, "to"),
    ] {
        let e = send(&mut d, &c, PAGE, "page", bad).0.expect_err(bad);
        assert_eq!((e.code, e.detail.field.as_deref()), (C::InvalidArgument, Some(field)), "{bad}");
    }
}

/// Issue 16: the patient of an online consultation is not at this reader,
/// so a card check with `online` is refused before any card work, with a
/// message that says to check by numbers; the other settings go on to the
/// card (here: later work, since the dispatcher itself never touches it).
#[test]
fn an_online_consultation_has_no_card_check() {
    let (_t, mut d, c) = setup();
    pair(&mut d, &c, PAGE);
    let e = send(&mut d, &c, PAGE, "page", r#"{"type":"card_confirm","mode":"visual","treatment":"online"}"#).0.expect_err("online card check");
    assert_eq!((e.code, e.detail.field.as_deref()), (C::InvalidArgument, Some("treatment")));
    assert!(e.message.ja.contains("番号で確認"), "{}", e.message.ja);
    for t in ["outpatient", "home_visit"] {
        let text = format!(r#"{{"v":1,"id":"9","origin":"{PAGE}","via":"page","body":{{"type":"card_confirm","mode":"visual","treatment":"{t}"}}}}"#);
        let outs = d.handle(&c, &text);
        let work = outs.iter().find_map(|o| match o {
            Out::Work(w) => Some(&w.job),
            _ => None,
        });
        assert!(matches!(work, Some(Job::Card { treatment, .. }) if treatment.as_str() == t), "{t}: {outs:?}");
    }
}
