//! `GatewayBackend` against a real `onshi-sim` gateway on loopback (started
//! in-process on the test's runtime; it still speaks real mTLS over TCP):
//! queries, challenge + confirm signed by the virtual card's key, refusals
//! mapped to `BackendError`, a wrong server CA, timeouts, and retries only
//! where a retry is harmless (counted in the gateway's request log).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use onshi_core::codes::*;
use onshi_core::gateway_wire::ErrorCode;
use onshi_core::message::{IndividualRequestBody, MessageHeader, Msg, SearchInfo};
use onshi_core::protocol::{ConfirmMode, Consents};
use onshi_core::{Encoding, Message, parse};
use onshi_helper::backend::gateway::{GatewayBackend, GatewaySettings};
use onshi_helper::backend::{Backend, BackendError, CardProof, Query};
use onshi_helper::config::Config;
use onshi_sim::gateway::{Faults, Gateway, GatewayOptions};
use onshi_sim::pki::{self, PersonCard, PkiLayout, PkiOptions};
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::Sha256;

fn tmp(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn pki_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tmp("helper-gateway-pki");
        let opts = PkiOptions { people: vec!["P0001".into(), "P0003".into()], ..Default::default() };
        pki::init(&dir, &opts).expect("test PKI");
        dir
    })
}

async fn start(tag: &str, tweak: impl FnOnce(&mut GatewayOptions)) -> Gateway {
    let db = tmp(&format!("helper-gw-{tag}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    onshi_sim::registry::seed(&db, 60, 3).expect("seed");
    let mut opts = GatewayOptions::new(db, pki_dir());
    tweak(&mut opts);
    Gateway::start(&opts).await.expect("gateway")
}

fn settings(gw: &Gateway) -> GatewaySettings {
    let l = PkiLayout::new(pki_dir());
    GatewaySettings {
        url: format!("{}/", gw.url()),
        ca: l.gateway_ca(),
        client_cert: l.clinic_client(),
        client_key: l.clinic_client_key(),
        connect_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(20),
        attempts: 3,
        backoff: Duration::from_millis(20),
    }
}

fn backend(gw: &Gateway) -> GatewayBackend {
    GatewayBackend::new(settings(gw)).expect("backend")
}

/// A request for the first "valid" probe of the seeded registry.
fn individual_request(gw_db_seed_probe: SearchInfo) -> Vec<u8> {
    Message::IndividualRequest(Msg {
        header: MessageHeader {
            qualification_confirmation_date: Some("20261125".into()),
            medical_institution_code: Some("0110113719".into()),
            ..Default::default()
        },
        body: IndividualRequestBody { search: Some(gw_db_seed_probe) },
    })
    .write(Encoding::ShiftJis)
}

fn valid_probe() -> SearchInfo {
    let db = tmp(&format!("helper-gw-probe-{}.db", std::process::id()));
    if !db.exists() {
        onshi_sim::registry::seed(&db, 60, 3).expect("seed");
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    onshi_sim::registry::probe_searches(&conn, onshi_sim::registry::Probes::Tag("valid")).unwrap().remove(0)
}

fn sign(card: &PersonCard, nonce: &[u8]) -> CardProof {
    CardProof {
        certificate_der: card.auth_cert_der.clone(),
        signature: SigningKey::<Sha256>::new(card.auth_key.clone()).sign(nonce).to_vec(),
        nonce: nonce.to_vec(),
        mode: ConfirmMode::Pin,
        consents: Consents::default(),
    }
}

#[tokio::test]
async fn query_and_card_confirm_through_the_real_gateway() {
    let gw = start("ok", |_| {}).await;
    let b = backend(&gw);
    b.probe().await.expect("probe");

    let bytes = b.query(Query::Individual, &individual_request(valid_probe())).await.expect("query");
    let Message::IndividualResult(m) = parse(&bytes).unwrap().message else { panic!("not a result") };
    assert_eq!(m.body.qualification_validity, Some(QualificationValidity::Valid));

    // A broken document: the system's error code comes back as Rejected.
    match b.query(Query::Individual, b"<XmlMsg>").await {
        Err(BackendError::Rejected { code, message }) => assert_eq!((code.as_str(), message.is_empty()), ("EQ1002", false)),
        other => panic!("{other:?}"),
    }

    let card = pki::load_person(pki_dir(), "P0001").unwrap();
    let challenge = b.card_challenge().await.expect("challenge");
    assert_eq!((challenge.nonce.len(), challenge.expires_in), (32, Duration::from_secs(120)));
    let proof = sign(&card, &challenge.nonce);
    let face = b.card_confirm(&proof).await.expect("confirm");
    let Message::FaceResult(m) = parse(&face).unwrap().message else { panic!("not a face result") };
    assert_eq!(m.body.qualification_validity, Some(QualificationValidity::Valid));
    // The same proof again is a replay.
    match b.card_confirm(&proof).await {
        Err(e @ BackendError::Rejected { .. }) => {
            assert!(matches!(&e, BackendError::Rejected { code, .. } if code == ErrorCode::ReplayedNonce.as_str()));
            assert!(!e.retryable());
        }
        other => panic!("{other:?}"),
    }

    // An unregistered card: the code that lets reception offer registration, then registration.
    let p3 = pki::load_person(pki_dir(), "P0003").unwrap();
    let c = b.card_challenge().await.unwrap();
    match b.card_confirm(&sign(&p3, &c.nonce)).await {
        Err(BackendError::Rejected { code, message }) => {
            assert_eq!(code, ErrorCode::CardNotRegistered.as_str());
            assert!(message.contains("利用登録"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let c = b.card_challenge().await.unwrap();
    let face = b.card_register(&sign(&p3, &c.nonce)).await.expect("register");
    assert!(matches!(parse(&face).unwrap().message, Message::FaceResult(_)));
}

#[tokio::test]
async fn a_gateway_certificate_from_another_ca_is_a_tls_error() {
    let gw = start("ca", |_| {}).await;
    // The clinic CA did not issue the gateway's certificate.
    let wrong = GatewaySettings { ca: PkiLayout::new(pki_dir()).clinic_ca(), ..settings(&gw) };
    let b = GatewayBackend::new(wrong).unwrap();
    match b.query(Query::Individual, &individual_request(valid_probe())).await {
        Err(BackendError::Tls { detail }) => assert!(!detail.is_empty()),
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert!(matches!(b.probe().await, Err(BackendError::Tls { .. })));

    // The gateway refuses a client certificate the clinic CA did not issue
    // (here: the gateway's own server certificate, issued by the gateway CA).
    let l = PkiLayout::new(pki_dir());
    let foreign = GatewaySettings { client_cert: l.gateway_server(), client_key: l.gateway_server_key(), ..settings(&gw) };
    let b = GatewayBackend::new(foreign).unwrap();
    match b.card_challenge().await {
        Err(BackendError::Tls { detail }) => assert!(!detail.is_empty()),
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_slow_gateway_times_out() {
    let gw = start("slow", |o| o.faults = Faults { latency: Duration::from_millis(1500), ..Default::default() }).await;
    let s = GatewaySettings { request_timeout: Duration::from_millis(400), attempts: 1, ..settings(&gw) };
    let b = GatewayBackend::new(s).unwrap();
    let t = Instant::now();
    match b.card_challenge().await {
        Err(e @ BackendError::Timeout { .. }) => {
            assert!(matches!(e, BackendError::Timeout { after } if after == Duration::from_millis(400)));
            assert!(e.retryable());
        }
        other => panic!("{other:?}"),
    }
    assert!(t.elapsed() < Duration::from_millis(1400), "gave up in time: {:?}", t.elapsed());

    // A body that stalls past the timeout is a timeout too.
    let gw = start("slowbody", |o| o.faults = Faults { slow_body: Duration::from_millis(1500), ..Default::default() }).await;
    let b = GatewayBackend::new(GatewaySettings { request_timeout: Duration::from_millis(400), attempts: 1, ..settings(&gw) }).unwrap();
    assert!(matches!(b.card_challenge().await, Err(BackendError::Timeout { .. })));
}

/// Requests the gateway logged for `path`.
fn logged(log: &Path, path: &str) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| l.contains(&format!("\"path\":\"{path}\""))).count()
}

#[tokio::test]
async fn only_idempotent_calls_are_retried() {
    let log = tmp(&format!("helper-gw-retry-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let gw = start("retry", |o| {
        o.faults = Faults { error_percent: 100, ..Default::default() };
        o.log = Some(log.clone());
    })
    .await;
    let b = backend(&gw);
    let req = individual_request(valid_probe());
    assert!(matches!(b.query(Query::Individual, &req).await, Err(BackendError::Http { status: 503, .. })));
    assert_eq!(logged(&log, "/oqs/v1/OQSsiquc01req"), 3, "an individual check is retried");
    assert!(matches!(b.query(Query::BatchUpload, &req).await, Err(BackendError::Http { status: 503, .. })));
    assert_eq!(logged(&log, "/oqs/v1/OQSmuquc01req"), 1, "a batch upload is never sent twice");
    let card = pki::load_person(pki_dir(), "P0001").unwrap();
    assert!(b.card_confirm(&sign(&card, &[1u8; 32])).await.is_err());
    assert_eq!(logged(&log, "/oqs/v1/card/confirm"), 1, "a card confirm is never sent twice");

    // Dropped connections: unreachable (retryable), retried for a query.
    let log2 = tmp(&format!("helper-gw-drop-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log2);
    let gw = start("drop", |o| {
        o.faults = Faults { drop_percent: 100, ..Default::default() };
        o.log = Some(log2.clone());
    })
    .await;
    let b = backend(&gw);
    match b.query(Query::BatchDownload, &req).await {
        Err(e @ BackendError::Unreachable { .. }) => assert!(e.retryable()),
        other => panic!("{other:?}"),
    }
    assert_eq!(logged(&log2, "/oqs/v1/OQSmuquc02req"), 3);
}

#[test]
fn from_config_reads_the_gateway_section() {
    let l = PkiLayout::new(pki_dir());
    let toml = format!(
        "institution_code = \"0110113719\"\n[backend]\nkind = \"gateway\"\nurl = \"https://127.0.0.1:9/\"\nca = {:?}\nclient_cert = {:?}\nclient_key = {:?}\n",
        l.gateway_ca(),
        l.clinic_client(),
        l.clinic_client_key()
    );
    let config = Config::parse(&toml, Path::new("/")).unwrap();
    let b = GatewayBackend::from_config(&config).expect("backend from config");
    assert_eq!(b.kind(), onshi_core::protocol::Backend::Gateway);
    // A key file that is not a key is refused before any connection.
    let bad = toml.replace(&format!("{:?}", l.clinic_client_key()), &format!("{:?}", l.gateway_ca()));
    let err = GatewayBackend::from_config(&Config::parse(&bad, Path::new("/")).unwrap()).unwrap_err();
    use onshi_core::text::Explain;
    assert!(err.explain().ja.contains("読めません"), "{}", err.explain().ja);
    let folder = Config::parse("institution_code = \"0110113719\"\n[backend]\nkind = \"oqs-folder\"\npath = \"/srv\"\n", Path::new("/")).unwrap();
    assert!(GatewayBackend::from_config(&folder).is_err());
}

/// Issue 14: `check insurance --out` through the real binary and the real
/// gateway writes the answer byte for byte as the gateway sent it (Shift_JIS;
/// the gateway's request log keeps each answer's length and SHA-256), while
/// stdout shows it as UTF-8 text.
#[tokio::test(flavor = "multi_thread")]
async fn check_insurance_out_is_the_gateway_answer_byte_for_byte() {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("gateway.jsonl");
    let gw = start("bytes", |o| o.log = Some(log.clone())).await;
    let l = PkiLayout::new(pki_dir());
    let q = |p: &Path| format!("{:?}", p.display().to_string());
    std::fs::write(
        home.path().join("helper.toml"),
        format!(
            "institution_code = \"0110113719\"\n[backend]\nkind = \"gateway\"\nurl = \"{}/\"\nca = {}\nclient_cert = {}\nclient_key = {}\n",
            gw.url(),
            q(&l.gateway_ca()),
            q(&l.clinic_client()),
            q(&l.clinic_client_key())
        ),
    )
    .unwrap();
    let p = valid_probe();
    let out = home.path().join("result.xml");
    let mut c = super::helper(home.path());
    c.arg("--config").arg(home.path().join("helper.toml")).arg("--store").arg(home.path().join("helper.sqlite"));
    c.args(["check", "insurance", "--insurer", p.insurer_number.as_deref().unwrap_or_default().trim()]);
    c.args(["--number", p.insured_identification_number.as_deref().unwrap_or_default()]);
    c.args(["--birth", p.birthdate.as_deref().unwrap_or_default()]);
    if let Some(s) = p.insured_card_symbol.as_deref() {
        c.args(["--symbol", s]);
    }
    if let Some(b) = p.insured_branch_number.as_deref() {
        c.args(["--branch", b]);
    }
    c.arg("--out").arg(&out);
    let (code, stdout, err) = tokio::task::spawn_blocking(move || super::run(c)).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(stdout.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "stdout is text to read: {stdout}");
    let bytes = std::fs::read(&out).unwrap();
    let sent: serde_json::Value = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["path"] == "/oqs/v1/OQSsiquc01req")
        .last()
        .expect("the gateway logged the query");
    assert_eq!(sent["body_bytes"].as_u64(), Some(bytes.len() as u64));
    assert_eq!(sent["body_sha256"].as_str(), Some(onshi_sim::sent::sha256_hex(&bytes).as_str()));
    assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\""), "{:?}", String::from_utf8_lossy(&bytes[..60]));
}
