//! The mTLS gateway on loopback, driven by a plain reqwest client: who may
//! connect, every XML prefix, a batch going from "processing" to done, each
//! card refusal with its code and status, fault injection and the log.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use onshi_core::codes::*;
use onshi_core::gateway_wire::{CardProofRequest, ChallengeResponse, ErrorBody, ErrorCode, base64};
use onshi_core::message::{BatchUploadBody, Msg, SearchInfo};
use onshi_core::protocol::{ConfirmMode, Consents};
use onshi_core::{Encoding, Message, parse};
use onshi_sim::gateway::{self, Faults, Gateway, GatewayOptions, PREFIXES};
use onshi_sim::pki::{self, PersonCard, PkiLayout, PkiOptions};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::Sha256;

use crate::answer::{download_request, probe_at as probe, request};

/// P0001/P0002 registered, P0003 card not registered (registry scenarios);
/// Z9999 has a valid certificate but is nobody in the registry.
const PEOPLE: [&str; 4] = ["P0001", "P0002", "P0003", "Z9999"];

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// The gateway's PKI (kept between runs: RSA keygen is slow in debug).
pub fn gw_pki() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp("onshi-sim-gateway-pki");
        let opts = PkiOptions { people: PEOPLE.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        pki::init(&dir, &opts).expect("gateway PKI");
        dir
    })
}

/// A second, unrelated PKI (other seed, so other CA keys): its clinic
/// certificate and its cards must be refused.
fn other_pki() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp("onshi-sim-other-pki");
        let opts = PkiOptions { people: vec!["P0001".into()], seed: 99, ..Default::default() };
        pki::init(&dir, &opts).expect("other PKI");
        dir
    })
}

/// A fresh registry per gateway (card registration writes to it).
fn fresh_db(tag: &str) -> PathBuf {
    let p = tmp(&format!("gw-{tag}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&p);
    onshi_sim::registry::seed(&p, 120, 7).expect("seed");
    p
}

async fn start(tag: &str, tweak: impl FnOnce(&mut GatewayOptions)) -> Gateway {
    start_on(tag, tweak).await.0
}

/// [`start`], and the path of its fresh registry.
pub async fn start_on(tag: &str, tweak: impl FnOnce(&mut GatewayOptions)) -> (Gateway, PathBuf) {
    let db = fresh_db(tag);
    let mut opts = GatewayOptions::new(&db, gw_pki());
    opts.encoding = Encoding::Utf8;
    tweak(&mut opts);
    (Gateway::start(&opts).await.expect("gateway starts"), db)
}

fn client_for(pki_dir: &Path, identity: bool) -> reqwest::Client {
    let ours = PkiLayout::new(gw_pki());
    let theirs = PkiLayout::new(pki_dir);
    let (cert, key) = (theirs.clinic_client(), theirs.clinic_client_key());
    let tls = gateway::client_tls(&ours.gateway_ca(), identity.then_some((cert.as_path(), key.as_path()))).unwrap();
    reqwest::Client::builder().use_preconfigured_tls(tls).timeout(Duration::from_secs(20)).build().unwrap()
}

pub fn client() -> reqwest::Client {
    client_for(gw_pki(), true)
}

async fn post(c: &reqwest::Client, gw: &Gateway, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let r = c.post(format!("{}{path}", gw.url())).body(body).send().await.expect("answered");
    let status = r.status().as_u16();
    (status, r.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn only_clients_of_the_clinic_ca_get_through() {
    let gw = start("who", |_| {}).await;
    let (status, body) = post(&client(), &gw, "/oqs/v1/card/challenge", b"{}".to_vec()).await;
    assert_eq!(status, 200);
    let c: ChallengeResponse = serde_json::from_slice(&body).unwrap();
    assert_eq!(base64::decode(&c.nonce).map(|n| n.len()), Some(32));
    assert_eq!(c.expires_in_secs, 120);

    for (label, client) in [("no certificate", client_for(gw_pki(), false)), ("other CA", client_for(other_pki(), true))] {
        let r = client.post(format!("{}/oqs/v1/card/challenge", gw.url())).body("{}").send().await;
        assert!(r.is_err(), "{label}: the handshake must be refused, got {r:?}");
    }
}

#[tokio::test]
async fn every_prefix_answers_and_a_batch_goes_from_processing_to_done() {
    let gw = start("xml", |o| o.batch_delay = Duration::from_millis(400)).await;
    let c = client();
    let db = fresh_db("xml-probes");

    // Individual: a valid person.
    let req = Message::IndividualRequest(request(probe(&db, "valid"))).write(Encoding::ShiftJis);
    let (status, body) = post(&c, &gw, "/oqs/v1/OQSsiquc01req", req).await;
    assert_eq!(status, 200);
    let Message::IndividualResult(m) = parse(&body).unwrap().message else { panic!("not a result") };
    assert_eq!(m.body.qualification_validity, Some(QualificationValidity::Valid));

    // Every prefix answers a broken document with HTTP 400 and an error result.
    for prefix in PREFIXES {
        let (status, body) = post(&c, &gw, &format!("/oqs/v1/{prefix}"), b"<XmlMsg><oops".to_vec()).await;
        assert_eq!(status, 400, "{prefix}");
        let Message::IndividualResult(m) = parse(&body).unwrap().message else { panic!("{prefix}: not an error result") };
        assert_eq!(m.body.processing_result_status, Some(ProcessingResultStatus::Error), "{prefix}");
        assert_eq!(m.body.processing_result_code.as_deref(), Some("EQ1002"), "{prefix}");
    }
    // An unknown prefix or method is a JSON not_found.
    let (status, body) = post(&c, &gw, "/oqs/v1/XYZsiquc01req", b"x".to_vec()).await;
    assert_eq!((status, serde_json::from_slice::<ErrorBody>(&body).unwrap().code), (404, ErrorCode::NotFound));

    // Batch: upload, download while processing (2), then done (1) with units.
    let searches = vec![probe(&db, "valid"), probe(&db, "no_match"), probe(&db, "lost_death")];
    let upload = Message::BatchUploadRequest(Msg { header: request(SearchInfo::default()).header, body: BatchUploadBody { searches } });
    let (status, body) = post(&c, &gw, "/oqs/v1/OQSmuquc01req", upload.write(Encoding::ShiftJis)).await;
    assert_eq!(status, 200);
    let Message::BatchUploadResult(ack) = parse(&body).unwrap().message else { panic!("not an ack") };
    let reception = ack.body.reception_number.expect("reception number");
    let download = download_request(&reception);
    let fetch = |body: Vec<u8>| {
        let c = c.clone();
        let gw = &gw;
        async move {
            let (status, bytes) = post(&c, gw, "/oqs/v1/OQSmuquc02req", body).await;
            assert_eq!(status, 200);
            let Message::BatchDownloadResult(m) = parse(&bytes).unwrap().message else { panic!("not a batch result") };
            m
        }
    };
    let first = fetch(download.clone()).await;
    assert_eq!(first.header.segment_of_result, Some(SegmentOfResult::InProgress));
    assert!(first.body.units.is_empty());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let done = fetch(download).await;
    assert_eq!(done.header.segment_of_result, Some(SegmentOfResult::Normal));
    let v: Vec<_> = done.body.units.iter().map(|u| u.qualification_validity.clone()).collect();
    assert_eq!(v, [Some(QualificationValidity::Valid), Some(QualificationValidity::NoMatch), Some(QualificationValidity::Invalid)]);
}

async fn challenge(c: &reqwest::Client, gw: &Gateway) -> Vec<u8> {
    let (status, body) = post(c, gw, "/oqs/v1/card/challenge", b"{}".to_vec()).await;
    assert_eq!(status, 200);
    let r: ChallengeResponse = serde_json::from_slice(&body).unwrap();
    base64::decode(&r.nonce).unwrap()
}

fn person(dir: &Path, id: &str) -> PersonCard {
    pki::load_person(dir, id).unwrap()
}

/// The proof a card holding `signer`'s key would produce for `cert_of`'s certificate.
fn proof(cert_of: &PersonCard, signer: &PersonCard, nonce: &[u8]) -> Vec<u8> {
    let sig = SigningKey::<Sha256>::new(signer.auth_key.clone()).sign(nonce).to_vec();
    serde_json::to_vec(&CardProofRequest {
        certificate: base64::encode(&cert_of.auth_cert_der),
        signature: base64::encode(&sig),
        nonce: base64::encode(nonce),
        mode: ConfirmMode::Pin,
        consents: Consents { limit_certificate: true, ..Default::default() },
    })
    .unwrap()
}

fn refusal(status: u16, body: &[u8]) -> (u16, ErrorCode) {
    let e: ErrorBody = serde_json::from_slice(body).unwrap_or_else(|_| panic!("not an error body: {}", String::from_utf8_lossy(body)));
    assert!(!e.message.ja.is_empty() && !e.message.en.is_empty());
    (status, e.code)
}

fn face(status: u16, body: &[u8]) -> QualificationValidity {
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(body));
    let Message::FaceResult(m) = parse(body).unwrap().message else { panic!("not a face result") };
    assert_eq!(m.header.reference_classification, Some(ReferenceClassification::Card));
    assert!(!m.body.results.is_empty());
    m.body.qualification_validity.unwrap()
}

#[tokio::test]
async fn card_confirm_checks_nonce_chain_signature_and_person() {
    let gw = start("card", |_| {}).await;
    let c = client();
    let p1 = person(gw_pki(), "P0001");
    let p2 = person(gw_pki(), "P0002");

    // The good path, then the same proof again.
    let nonce = challenge(&c, &gw).await;
    let good = proof(&p1, &p1, &nonce);
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", good.clone()).await;
    assert_eq!(face(s, &b), QualificationValidity::Valid);
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", good).await;
    assert_eq!(refusal(s, &b), (409, ErrorCode::ReplayedNonce));

    // Refusals, each on a fresh nonce so only one thing is wrong.
    let other_card = person(other_pki(), "P0001");
    let unknown = person(gw_pki(), "Z9999");
    let cases: [(&str, &PersonCard, &PersonCard, (u16, ErrorCode)); 3] = [
        ("wrong key", &p1, &p2, (401, ErrorCode::BadSignature)),
        ("other JPKI CA", &other_card, &other_card, (401, ErrorCode::UntrustedCertificate)),
        ("nobody in the registry", &unknown, &unknown, (404, ErrorCode::UnknownCertificate)),
    ];
    for (label, cert_of, signer, want) in cases {
        let nonce = challenge(&c, &gw).await;
        let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", proof(cert_of, signer, &nonce)).await;
        assert_eq!(refusal(s, &b), want, "{label}");
    }
    // A nonce the gateway never issued; a body that is not a proof.
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", proof(&p1, &p1, &[7u8; 32])).await;
    assert_eq!(refusal(s, &b), (401, ErrorCode::UnknownNonce));
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", b"{\"certificate\":1}".to_vec()).await;
    assert_eq!(refusal(s, &b), (400, ErrorCode::BadRequest));
}

/// A card proof as the helper sends it: `signature` as given (empty in a visual check).
fn proof_as(cert_of: &PersonCard, mode: ConfirmMode, signature: &[u8], nonce: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&CardProofRequest {
        certificate: base64::encode(&cert_of.auth_cert_der),
        signature: base64::encode(signature),
        nonce: base64::encode(nonce),
        mode,
        consents: Consents::default(),
    })
    .unwrap()
}

/// 目視確認: the card cannot sign without the PIN, so a visual check comes
/// without a signature and passes; every other check still applies, and
/// PIN mode without (or with a wrong) signature is still refused. The
/// request log says which mode each confirmation used.
#[tokio::test]
async fn a_visual_check_needs_no_signature_but_every_other_check() {
    let log = tmp(&format!("gw-visual-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let gw = start("visual", |o| o.log = Some(log.clone())).await;
    let c = client();
    let p1 = person(gw_pki(), "P0001");
    let other_card = person(other_pki(), "P0001");
    let unknown = person(gw_pki(), "Z9999");
    let garbage = [0x5au8; 256];
    // (label, certificate, mode, signature, expected: Ok(validity) or Err(status, code))
    type Case<'a> = (&'a str, &'a PersonCard, ConfirmMode, &'a [u8], Result<QualificationValidity, (u16, ErrorCode)>);
    let cases: [Case<'_>; 6] = [
        ("visual, no signature", &p1, ConfirmMode::Visual, &[], Ok(QualificationValidity::Valid)),
        ("PIN, no signature", &p1, ConfirmMode::Pin, &[], Err((401, ErrorCode::BadSignature))),
        ("PIN, wrong signature", &p1, ConfirmMode::Pin, &garbage, Err((401, ErrorCode::BadSignature))),
        ("visual, other JPKI CA", &other_card, ConfirmMode::Visual, &[], Err((401, ErrorCode::UntrustedCertificate))),
        ("visual, nobody in the registry", &unknown, ConfirmMode::Visual, &[], Err((404, ErrorCode::UnknownCertificate))),
        ("visual, garbage signature ignored", &p1, ConfirmMode::Visual, &garbage, Ok(QualificationValidity::Valid)),
    ];
    for (label, cert_of, mode, signature, want) in cases {
        let nonce = challenge(&c, &gw).await;
        let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", proof_as(cert_of, mode, signature, &nonce)).await;
        let got = if s == 200 { Ok(face(s, &b)) } else { Err(refusal(s, &b)) };
        assert_eq!(got, want, "{label}");
    }
    // The nonce stays single-use in a visual check.
    let nonce = challenge(&c, &gw).await;
    let visual = proof_as(&p1, ConfirmMode::Visual, &[], &nonce);
    assert_eq!(post(&c, &gw, "/oqs/v1/card/confirm", visual.clone()).await.0, 200);
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", visual).await;
    assert_eq!(refusal(s, &b), (409, ErrorCode::ReplayedNonce));
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", proof_as(&p1, ConfirmMode::Visual, &[], &[9u8; 32])).await;
    assert_eq!(refusal(s, &b), (401, ErrorCode::UnknownNonce));

    let text = std::fs::read_to_string(&log).unwrap();
    let modes: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["path"] == "/oqs/v1/card/confirm")
        .map(|l| format!("{}:{}", l["mode"].as_str().unwrap_or("-"), l["status"]))
        .collect();
    assert_eq!(
        modes,
        ["visual:200", "pin:401", "pin:401", "visual:401", "visual:404", "visual:200", "visual:200", "visual:409", "visual:401"],
        "{text}"
    );
}

#[tokio::test]
async fn an_expired_nonce_is_refused() {
    let gw = start("expiry", |o| o.nonce_ttl = Duration::from_millis(300)).await;
    let c = client();
    let p1 = person(gw_pki(), "P0001");
    let nonce = challenge(&c, &gw).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", proof(&p1, &p1, &nonce)).await;
    assert_eq!(refusal(s, &b), (410, ErrorCode::ExpiredNonce));
    // In time, the same person is fine.
    let nonce = challenge(&c, &gw).await;
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", proof(&p1, &p1, &nonce)).await;
    assert_eq!(face(s, &b), QualificationValidity::Valid);
}

#[tokio::test]
async fn an_unregistered_card_can_be_registered_then_confirmed() {
    let gw = start("register", |_| {}).await;
    let c = client();
    let p3 = person(gw_pki(), "P0003");
    let nonce = challenge(&c, &gw).await;
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", proof(&p3, &p3, &nonce)).await;
    assert_eq!(refusal(s, &b), (409, ErrorCode::CardNotRegistered));
    // The spent nonce cannot be reused for the registration.
    let (s, b) = post(&c, &gw, "/oqs/v1/card/register", proof(&p3, &p3, &nonce)).await;
    assert_eq!(refusal(s, &b), (409, ErrorCode::ReplayedNonce));
    let nonce = challenge(&c, &gw).await;
    let (s, b) = post(&c, &gw, "/oqs/v1/card/register", proof(&p3, &p3, &nonce)).await;
    assert_eq!(face(s, &b), QualificationValidity::Valid);
    let nonce = challenge(&c, &gw).await;
    let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", proof(&p3, &p3, &nonce)).await;
    assert_eq!(face(s, &b), QualificationValidity::Valid);
    let nonce = challenge(&c, &gw).await;
    let (s, b) = post(&c, &gw, "/oqs/v1/card/register", proof(&p3, &p3, &nonce)).await;
    assert_eq!(refusal(s, &b), (409, ErrorCode::AlreadyRegistered));
}

#[tokio::test]
async fn faults_are_injected_and_requests_logged_without_bodies() {
    let log = tmp(&format!("gw-faults-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let c = client();

    let gw = start("f5xx", |o| o.faults = Faults { error_percent: 100, ..Default::default() }).await;
    let (s, b) = post(&c, &gw, "/oqs/v1/card/challenge", b"{}".to_vec()).await;
    assert_eq!(refusal(s, &b), (503, ErrorCode::Unavailable));

    let gw = start("fdrop", |o| o.faults = Faults { drop_percent: 100, ..Default::default() }).await;
    let r = c.post(format!("{}/oqs/v1/card/challenge", gw.url())).body("{}").send().await;
    assert!(r.is_err(), "a dropped connection gives no answer: {r:?}");

    let gw = start("fslow", |o| {
        o.faults = Faults { latency: Duration::from_millis(200), slow_body: Duration::from_millis(300), ..Default::default() };
        o.log = Some(log.clone());
    })
    .await;
    let t = Instant::now();
    let r = c.post(format!("{}/oqs/v1/card/challenge", gw.url())).body("{}").send().await.unwrap();
    let headers_after = t.elapsed();
    let body = r.bytes().await.unwrap();
    assert!(headers_after >= Duration::from_millis(200), "latency: {headers_after:?}");
    assert!(t.elapsed() >= Duration::from_millis(500), "slow body: {:?}", t.elapsed());
    assert!(serde_json::from_slice::<ChallengeResponse>(&body).is_ok(), "the stalled body still arrives whole");
    let nonce = base64::decode(&serde_json::from_slice::<ChallengeResponse>(&body).unwrap().nonce).unwrap();
    let p1 = person(gw_pki(), "P0001");
    let (s, _) = post(&c, &gw, "/oqs/v1/card/confirm", proof(&p1, &p1, &nonce)).await;
    assert_eq!(s, 200);

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["path"], "/oqs/v1/card/challenge");
    assert_eq!(lines[1]["path"], "/oqs/v1/card/confirm");
    for l in &lines {
        assert_eq!(l["institution"], "0110113719");
        assert_eq!(l["status"], 200);
        assert!(l["duration_ms"].as_u64().unwrap() >= 200);
    }
    // Nothing of the proof (certificate, signature, nonce) is in the log.
    assert!(!text.contains(&base64::encode(&nonce)) && !text.contains("signature") && !text.contains("MII"));
}

/// Another valid 医療機関コード (check digit 7) than the test PKI's 0110113719.
const OTHER_INSTITUTION: &str = "1311123457";

/// A second clinic under the same clinic CA: the gateway PKI's CA files
/// copied, and a client certificate issued for [`OTHER_INSTITUTION`].
fn second_clinic_pki() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp(&format!("onshi-sim-second-clinic-pki-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (from, to) = (PkiLayout::new(gw_pki()), PkiLayout::new(&dir));
        let files = |l: &PkiLayout| {
            [l.gateway_ca(), l.gateway_ca_key(), l.gateway_server(), l.gateway_server_key(), l.clinic_ca(), l.clinic_ca_key(), l.jpki_ca(), l.jpki_ca_key()]
        };
        for (a, b) in files(&from).iter().zip(files(&to).iter()) {
            std::fs::create_dir_all(b.parent().unwrap()).unwrap();
            std::fs::copy(a, b).unwrap();
        }
        let opts = PkiOptions { institution: OTHER_INSTITUTION.into(), people: vec![], ..Default::default() };
        let report = pki::init(&dir, &opts).expect("second clinic PKI");
        assert!(report.created.contains(&to.clinic_client()), "a new client certificate: {report:?}");
        assert!(!report.created.contains(&to.clinic_ca()), "the same clinic CA: {report:?}");
        dir
    })
}

/// Issue: the gateway must check the request's institution against the
/// client certificate. The code in the XML header has to be the
/// certificate's; another clinic's code is refused with EQ1006 (HTTP 403, an
/// error result document) and the refusal is in the request log; another
/// clinic's batch is as unknown as a number never issued.
#[tokio::test]
async fn requests_must_name_the_institution_of_their_certificate() {
    let log = tmp(&format!("gw-institution-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let gw = start("inst", |o| {
        o.log = Some(log.clone());
        o.batch_delay = Duration::ZERO;
    })
    .await;
    let (ours, theirs) = (client(), client_for(second_clinic_pki(), true));
    let db = fresh_db("inst-probes");
    let with_code = |code: &str| {
        let mut r = request(probe(&db, "valid"));
        r.header.medical_institution_code = Some(code.to_string());
        Message::IndividualRequest(r).write(Encoding::ShiftJis)
    };
    let refused_with = |status: u16, body: &[u8]| {
        let Message::IndividualResult(m) = parse(body).unwrap().message else { panic!("not an error result") };
        assert_eq!(m.body.processing_result_status, Some(ProcessingResultStatus::Error));
        (status, m.body.processing_result_code.unwrap_or_default(), m.header.error_message.unwrap_or_default())
    };

    // Each clinic asking for itself passes (full-width digits are the same code).
    let (status, _) = post(&ours, &gw, "/oqs/v1/OQSsiquc01req", with_code("0110113719")).await;
    assert_eq!(status, 200);
    let (status, _) = post(&theirs, &gw, "/oqs/v1/OQSsiquc01req", with_code("１３１１１２３４５７")).await;
    assert_eq!(status, 200);

    // Each asking for the other is refused, whatever the kind of request.
    let (status, body) = post(&ours, &gw, "/oqs/v1/OQSsiquc01req", with_code(OTHER_INSTITUTION)).await;
    let (s, code, message) = refused_with(status, &body);
    assert_eq!((s, code.as_str()), (403, "EQ1006"));
    assert!(message.contains(OTHER_INSTITUTION) && message.contains("0110113719"), "{message}");
    let (status, body) = post(&theirs, &gw, "/oqs/v1/OQSsiquc01req", with_code("0110113719")).await;
    assert_eq!(refused_with(status, &body).1, "EQ1006");
    let upload = Message::BatchUploadRequest(Msg {
        header: request(SearchInfo::default()).header,
        body: BatchUploadBody { searches: vec![probe(&db, "valid")] },
    })
    .write(Encoding::ShiftJis);
    let (status, body) = post(&theirs, &gw, "/oqs/v1/OQSmuquc01req", upload.clone()).await;
    assert_eq!(refused_with(status, &body).1, "EQ1006");

    // Our batch, downloaded by the other clinic under its own code: unknown to it.
    let (status, body) = post(&ours, &gw, "/oqs/v1/OQSmuquc01req", upload).await;
    assert_eq!(status, 200);
    let Message::BatchUploadResult(ack) = parse(&body).unwrap().message else { panic!("not an ack") };
    let reception = ack.body.reception_number.unwrap();
    let mut theirs_download = parse(&download_request(&reception)).unwrap().message;
    if let Message::BatchDownloadRequest(m) = &mut theirs_download {
        m.header.medical_institution_code = Some(OTHER_INSTITUTION.into());
    }
    let (status, body) = post(&theirs, &gw, "/oqs/v1/OQSmuquc02req", theirs_download.write(Encoding::ShiftJis)).await;
    let (s, code, _) = refused_with(status, &body);
    assert_eq!((s, code.as_str()), (400, "EQ1005"));
    let (status, _) = post(&ours, &gw, "/oqs/v1/OQSmuquc02req", download_request(&reception)).await;
    assert_eq!(status, 200);

    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let refused: Vec<(&str, &str, u64)> = lines
        .iter()
        .filter(|l| !l["refusal"].is_null())
        .map(|l| (l["institution"].as_str().unwrap(), l["refusal"].as_str().unwrap(), l["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        refused,
        [("0110113719", "EQ1006", 403), (OTHER_INSTITUTION, "EQ1006", 403), (OTHER_INSTITUTION, "EQ1006", 403), (OTHER_INSTITUTION, "EQ1005", 400)],
        "{text}"
    );
    assert_eq!(lines.len(), 8, "every request is logged: {text}");
}

/// The day the certificate cases are issued for and the gateway judges on.
fn cert_day() -> onshi_core::wareki::Date {
    onshi_core::wareki::Date::new(2026, 12, 6).unwrap()
}

/// A PKI with the `pki::CERT_CASES` people issued for [`cert_day`] (kept
/// between runs like [`gw_pki`]; same CA seed, so the gateway trusts it).
fn cert_pki() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp("onshi-sim-gateway-cert-pki");
        let opts = PkiOptions { people: vec!["P0001".into()], ..Default::default() }.cert_cases(cert_day());
        pki::init(&dir, &opts).expect("certificate-case PKI");
        dir
    })
}

/// Issue 14: the gateway applies core `cert_validity` to every card proof:
/// a certificate lapsed beyond the grace is refused in either mode, one in
/// its grace gets the qualification only (history consents "could not be
/// obtained"), one expiring soon is an ordinary result. The same cards are
/// judged by the core function here, so gateway and helper agree.
#[tokio::test]
async fn lapsed_certificates_get_the_qualification_only_or_nothing() {
    use onshi_core::cert_validity::{self, Standing};
    use onshi_sim::pki::{CERT_CASES, CertCase};
    let gw = start("cert", |o| {
        o.pki = cert_pki().to_path_buf();
        o.today = Some(cert_day());
    })
    .await;
    // The client certificate of the gateway's own PKI.
    let ours = PkiLayout::new(cert_pki());
    let tls = gateway::client_tls(&ours.gateway_ca(), Some((ours.clinic_client().as_path(), ours.clinic_client_key().as_path()))).unwrap();
    let c = reqwest::Client::builder().use_preconfigured_tls(tls).timeout(Duration::from_secs(20)).build().unwrap();
    let signed = |p: &PersonCard, nonce: &[u8], mode: ConfirmMode| {
        let sig = SigningKey::<Sha256>::new(p.auth_key.clone()).sign(nonce).to_vec();
        let all = Consents { medication: true, diagnosis_procedure: true, health_check: true, limit_certificate: true, specified_disease: true };
        serde_json::to_vec(&CardProofRequest {
            certificate: base64::encode(&p.auth_cert_der),
            signature: base64::encode(if mode == ConfirmMode::Pin { &sig[..] } else { &[] }),
            nonce: base64::encode(nonce),
            mode,
            consents: all,
        })
        .unwrap()
    };
    for (id, case) in CERT_CASES {
        let p = person(cert_pki(), id);
        let not_after = cert_validity::not_after_unix(&p.auth_cert_der).unwrap();
        let standing = cert_validity::standing(cert_validity::expiry_day(not_after, 540), cert_day());
        match case {
            CertCase::ExpiresSoon => assert_eq!(standing, Standing::ExpiresSoon { days_left: 30 }),
            CertCase::LapsedGrace => assert!(matches!(standing, Standing::LapsedGrace { .. }), "{standing:?}"),
            CertCase::Lapsed => assert!(matches!(standing, Standing::Lapsed { .. }), "{standing:?}"),
        }
        for mode in [ConfirmMode::Pin, ConfirmMode::Visual] {
            let nonce = challenge(&c, &gw).await;
            let (s, b) = post(&c, &gw, "/oqs/v1/card/confirm", signed(&p, &nonce, mode)).await;
            if !standing.qualification_allowed() {
                assert_eq!(refusal(s, &b), (403, ErrorCode::CertificateExpired), "{id} {mode:?}");
                continue;
            }
            assert_eq!(face(s, &b), QualificationValidity::Valid, "{id} {mode:?}");
            let Message::FaceResult(m) = parse(&b).unwrap().message else { unreachable!() };
            let r = &m.body.results[0];
            let history = [&r.pharmacists_consent, &r.diagnosis_consent, &r.operation_consent, &r.checkup_consent];
            if standing.history_allowed() {
                assert!(history.iter().all(|f| **f != Some(ConsentFlag::Unobtainable)), "{id}: {history:?}");
                assert_eq!(m.body.processing_result_message, None);
            } else {
                assert!(history.iter().all(|f| **f == Some(ConsentFlag::Unobtainable)), "{id}: {history:?}");
                assert!(r.pharmacists_available_time.is_none() && r.diagnosis_available_time.is_none());
                assert!(m.body.processing_result_message.as_deref().is_some_and(|t| t.contains("資格情報のみ")));
            }
        }
    }
    // The same valid card judged on a day far past its grace is refused: the rule is the date, not the person.
    let later = start("cert-later", |o| {
        o.pki = cert_pki().to_path_buf();
        o.today = Some(onshi_core::wareki::Date::new(2027, 6, 1).unwrap());
    })
    .await;
    let soon = person(cert_pki(), CERT_CASES[0].0);
    let nonce = challenge(&c, &later).await;
    let (s, b) = post(&c, &later, "/oqs/v1/card/confirm", signed(&soon, &nonce, ConfirmMode::Pin)).await;
    assert_eq!(refusal(s, &b), (403, ErrorCode::CertificateExpired));
}
