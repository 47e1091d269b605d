//! The test PKI: layout, idempotency, deterministic RSA keys, and that each
//! certificate says what the rest of the system relies on.

use std::path::{Path, PathBuf};

use onshi_sim::pki::{self, PkiError, PkiLayout, PkiOptions};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Pkcs1v15Sign, RsaPublicKey};
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::oid_registry::{OID_X509_COMMON_NAME, OID_X509_SERIALNUMBER};

use crate::fixture;

fn parse(path: &Path) -> Vec<u8> {
    pki::pem_der(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cert(der: &[u8]) -> X509Certificate<'_> {
    let (rest, c) = x509_parser::parse_x509_certificate(der).expect("X.509");
    assert!(rest.is_empty());
    c
}

fn attr(c: &X509Certificate<'_>, oid: &x509_parser::der_parser::Oid<'_>) -> Vec<String> {
    c.subject().iter_by_oid(oid).map(|a| a.as_str().unwrap_or("?").to_string()).collect()
}

/// Verifies an RSA/SHA-256 certificate signature with the issuer's key, independently of rcgen.
fn signed_by_rsa(child: &X509Certificate<'_>, issuer: &X509Certificate<'_>) -> bool {
    let key = RsaPublicKey::from_public_key_der(issuer.public_key().raw).expect("RSA issuer key");
    let tbs = Sha256::digest(child.tbs_certificate.as_ref());
    key.verify(Pkcs1v15Sign::new::<Sha256>(), &tbs, &child.signature_value.data).is_ok()
}

#[test]
fn every_file_of_the_documented_layout_exists_and_says_what_it_should() {
    let l = PkiLayout::new(fixture::pki_dir());
    for p in [
        l.gateway_ca(), l.gateway_ca_key(), l.gateway_server(), l.gateway_server_key(),
        l.clinic_ca(), l.clinic_ca_key(), l.clinic_client(), l.clinic_client_key(),
        l.jpki_ca(), l.jpki_ca_key(), l.person_cert(fixture::PERSON), l.person_key(fixture::PERSON),
    ] {
        assert!(p.exists(), "{}", p.display());
    }

    // Gateway server: loopback names, issued by the gateway CA.
    let (gw_ca, server) = (parse(&l.gateway_ca()), parse(&l.gateway_server()));
    let (gw_ca, server) = (cert(&gw_ca), cert(&server));
    assert!(gw_ca.is_ca());
    assert_eq!(server.issuer(), gw_ca.subject());
    let san = server.subject_alternative_name().expect("SAN ext").expect("SAN present");
    let names = format!("{:?}", san.value.general_names);
    assert!(names.contains("localhost") && names.contains("127, 0, 0, 1"), "{names}");

    // Clinic client: the institution code, issued by the clinic CA (not the gateway CA).
    let (cl_ca, client) = (parse(&l.clinic_ca()), parse(&l.clinic_client()));
    let (cl_ca, client) = (cert(&cl_ca), cert(&client));
    assert_eq!(client.issuer(), cl_ca.subject());
    assert_ne!(client.issuer(), gw_ca.subject());
    assert_eq!(attr(&client, &OID_X509_SERIALNUMBER), [pki::DEFAULT_INSTITUTION]);
    assert!(attr(&client, &OID_X509_COMMON_NAME)[0].contains(pki::DEFAULT_INSTITUTION));

    // JPKI user certificate: RSA-2048, person id, really signed by the JPKI CA.
    let (j_ca, user) = (parse(&l.jpki_ca()), parse(&l.person_cert(fixture::PERSON)));
    let (j_ca, user) = (cert(&j_ca), cert(&user));
    assert_eq!(attr(&user, &OID_X509_SERIALNUMBER), [fixture::PERSON]);
    let user_key = RsaPublicKey::from_public_key_der(user.public_key().raw).expect("RSA user key");
    assert_eq!(rsa::traits::PublicKeyParts::size(&user_key), 256, "RSA-2048");
    assert!(signed_by_rsa(&user, &j_ca), "user cert signed by the JPKI CA");
    assert!(signed_by_rsa(&j_ca, &j_ca), "JPKI CA self-signed");
}

#[test]
fn init_is_idempotent_and_rsa_keys_are_deterministic() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("onshi-sim-pki-fresh-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = PkiOptions { people: vec![fixture::PERSON.to_string()], ..Default::default() };
    let first = pki::init(&dir, &opts).expect("first init");
    assert_eq!(first.created.len(), 12);
    assert_eq!(first.rsa_keygen_ms.len(), 2, "JPKI CA + one person");
    for (label, ms) in &first.rsa_keygen_ms {
        eprintln!("RSA-2048 keygen {label}: {ms} ms");
    }
    let before = std::fs::read(PkiLayout::new(&dir).gateway_server()).unwrap();

    // A second run keeps every file and generates nothing.
    let second = pki::init(&dir, &opts).expect("second init");
    assert!(second.created.is_empty(), "{:?}", second.created);
    assert!(second.rsa_keygen_ms.is_empty());
    assert_eq!(std::fs::read(PkiLayout::new(&dir).gateway_server()).unwrap(), before);

    // A deleted certificate is re-issued by the stored CA key, and still chains.
    std::fs::remove_file(PkiLayout::new(&dir).person_cert(fixture::PERSON)).unwrap();
    let third = pki::init(&dir, &opts).expect("third init");
    assert_eq!(third.created, [PkiLayout::new(&dir).person_cert(fixture::PERSON)]);
    let (ca, user) = (parse(&PkiLayout::new(&dir).jpki_ca()), parse(&PkiLayout::new(&dir).person_cert(fixture::PERSON)));
    assert!(signed_by_rsa(&cert(&user), &cert(&ca)));

    // Same seed, same label → the same RSA key as the shared fixture made.
    let fixture_key = std::fs::read(PkiLayout::new(fixture::pki_dir()).person_key(fixture::PERSON)).unwrap();
    let fresh_key = std::fs::read(PkiLayout::new(&dir).person_key(fixture::PERSON)).unwrap();
    assert_eq!(fixture_key, fresh_key);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_options_are_typed_errors() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("onshi-sim-pki-never-made");
    let bad_inst = PkiOptions { institution: "0110113718".into(), ..Default::default() };
    assert!(matches!(pki::init(&dir, &bad_inst), Err(PkiError::BadInstitution { .. })));
    let bad_person = PkiOptions { people: vec!["../etc".into()], ..Default::default() };
    assert!(matches!(pki::init(&dir, &bad_person), Err(PkiError::BadPersonId(_))));
    assert!(!dir.exists(), "nothing written when the options are wrong");
    let e = pki::load_person(fixture::pki_dir(), "P9999").unwrap_err();
    assert!(matches!(e, PkiError::UnknownPerson { .. }));
    assert!(e.explain().ja.contains("pki init"), "tells the IT person what to run");
}

/// Issue 14: certificate-state people end on the asked day (23:59:59 JST),
/// the same day gives the same certificate, and a kept folder asked for
/// another day re-issues only those certificates.
#[test]
fn certificate_cases_follow_the_given_day() {
    use onshi_core::cert_validity::{expiry_day, not_after_unix};
    use onshi_core::wareki::Date;
    use onshi_sim::pki::{self, CERT_CASES, PkiOptions};
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("pki-cert-cases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let day = Date::new(2027, 3, 1).unwrap();
    let opts = |d: Date| PkiOptions { people: vec![], ..PkiOptions::default() }.cert_cases(d);
    pki::init(&dir, &opts(day)).unwrap();
    let cert = |id: &str| pki::load_person(&dir, id).unwrap().auth_cert_der;
    for (id, case) in CERT_CASES {
        let t = not_after_unix(&cert(id)).unwrap();
        assert_eq!(expiry_day(t, 540), Date::from_days(day.days() + case.days_from_today()), "{id}");
        assert_eq!(t.rem_euclid(86_400), 14 * 3600 + 59 * 60 + 59, "{id} ends 23:59:59 JST");
    }
    let first = cert(CERT_CASES[0].0);
    let again = pki::init(&dir, &opts(day)).unwrap();
    assert!(again.created.is_empty(), "same day, nothing new: {:?}", again.created);
    assert_eq!(cert(CERT_CASES[0].0), first);
    let next = pki::init(&dir, &opts(Date::new(2027, 3, 2).unwrap())).unwrap();
    assert_eq!(next.created.len(), CERT_CASES.len(), "{:?}", next.created);
    assert_ne!(cert(CERT_CASES[0].0), first);
    let _ = std::fs::remove_dir_all(&dir);
}
