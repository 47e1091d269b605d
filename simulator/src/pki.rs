//! The simulator's test PKI, made on the spot: the closed network's gateway
//! CA and server certificate, the clinic CA and its client certificate
//! (carrying the 医療機関コード), and a JPKI test CA with per-person RSA-2048
//! user-authentication certificates and keys for virtual My Number cards.
//!
//! Nothing here is a real trust anchor; the files exist only so the rest of
//! the system is exercised with real TLS and real signatures.
//!
//! # Layout of `DIR` (all PEM)
//! ```text
//! DIR/gateway/ca.pem  ca-key.pem  server.pem  server-key.pem   (ECDSA P-256; SAN localhost, 127.0.0.1)
//! DIR/clinic/ca.pem   ca-key.pem  client.pem  client-key.pem   (ECDSA P-256; subject serialNumber = 医療機関コード)
//! DIR/jpki/ca.pem     ca-key.pem                               (RSA-2048, sha256WithRSAEncryption)
//! DIR/jpki/people/<ID>/cert.pem  key.pem                       (RSA-2048; subject serialNumber = person id)
//! ```
//! Keys are PKCS#8 ("PRIVATE KEY"). [`init`] is idempotent: a file that exists
//! is kept, and a missing certificate is issued by the existing CA key (a
//! person given an expiry day in [`PkiOptions::expiries`] whose kept
//! certificate ends on another day is issued again).
//! RSA keys are derived deterministically from a seed and their label, so the
//! same seed always yields the same JPKI keys; the ECDSA keys come from the
//! system RNG (ring cannot take a seeded RNG) and are kept in `DIR`.
//!
//! Architecture invariant: the certificate parameters of each CA are built by
//! one function, so an issuer rebuilt from those parameters plus the stored
//! key is the same issuer that signed the stored CA certificate.

use std::fs;
use std::path::{Path, PathBuf};

use onshi_core::numbers::check_institution;
use onshi_core::text::Bilingual;
use onshi_core::wareki::Date;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use sha2::{Digest, Sha256};

/// The institution code put in the clinic certificate when none is given
/// (a valid 医療機関コード: Hokkaido, medical fee table).
pub const DEFAULT_INSTITUTION: &str = "0110113719";
/// The person ids `pki init` creates when none are given.
pub const DEFAULT_PEOPLE: [&str; 3] = ["P0001", "P0002", "P0003"];
/// The default seed for deterministic RSA keys.
pub const DEFAULT_SEED: u64 = 1;

/// Japan's UTC offset in minutes: JPKI certificates end at 23:59:59 JST.
const JST_MINUTES: i32 = 9 * 60;

/// The OID of the X.520 `serialNumber` attribute (2.5.4.5).
const OID_SERIAL_NUMBER: [u64; 4] = [2, 5, 4, 5];

/// Errors of the test PKI, by cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Reading or writing a file in `DIR` failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// A person id is empty, too long or has characters other than ASCII
    /// letters, digits, `-` and `_` (it becomes a folder name).
    #[error("person id {0:?} is not 1–32 ASCII letters, digits, '-' or '_'")]
    BadPersonId(String),
    /// The institution code failed the number rules.
    #[error("institution code {code:?}: {source}")]
    BadInstitution { code: String, source: onshi_core::numbers::NumberError },
    /// The person has no certificate in `DIR` yet.
    #[error("no JPKI certificate for person {id} in {dir}")]
    UnknownPerson { id: String, dir: PathBuf },
    /// A stored key or certificate could not be read back.
    #[error("{path}: not a usable key or certificate: {reason}")]
    BadFile { path: PathBuf, reason: String },
    /// RSA key generation or certificate signing failed.
    #[error("generating {what}: {reason}")]
    Generate { what: String, reason: String },
}

impl PkiError {
    /// A message for the clinic IT person: Japanese first, then English, with what to do.
    pub fn explain(&self) -> Bilingual {
        let en = self.to_string();
        let ja = match self {
            PkiError::Io { path, .. } => {
                format!("{} を読み書きできません。フォルダの場所と権限を確認してください。", path.display())
            }
            PkiError::BadPersonId(id) => {
                format!("本人ID「{id}」は使えません。半角英数字・-・_ で32文字以内にしてください。")
            }
            PkiError::BadInstitution { code, .. } => {
                format!("医療機関コード「{code}」が正しくありません。10桁のコードを確認してください。")
            }
            PkiError::UnknownPerson { id, dir } => format!(
                "本人ID {id} の証明書が {} にありません。`onshi-sim pki init {} --person {id}` を実行してください。",
                dir.display(),
                dir.display()
            ),
            PkiError::BadFile { path, .. } => format!(
                "{} が壊れています。このファイルを削除して `onshi-sim pki init` をやり直してください。",
                path.display()
            ),
            PkiError::Generate { .. } => "テスト用の鍵・証明書を作れませんでした。".to_string(),
        };
        Bilingual { ja, en: format!("{en}. Check the test PKI folder and run `onshi-sim pki init` again.") }
    }
}

/// The state a test person's card certificate is issued in (issue 14),
/// relative to a day given to [`PkiOptions::cert_cases`]; core
/// `cert_validity` is the rule the helper and the gateway apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertCase {
    /// Expires in 30 days: valid, with the renewal reminder.
    ExpiresSoon,
    /// Expired 20 days ago: within the grace whatever the month (the grace
    /// runs at least to the end of the third month after the expiry month).
    LapsedGrace,
    /// Expired 200 days ago: beyond any grace (at most about 123 days).
    Lapsed,
}

impl CertCase {
    /// Days from the given day to the expiry day (negative: in the past).
    pub fn days_from_today(self) -> i64 {
        match self {
            CertCase::ExpiresSoon => 30,
            CertCase::LapsedGrace => -20,
            CertCase::Lapsed => -200,
        }
    }

    /// The registry's case tag for the person holding such a card.
    pub fn tag(self) -> &'static str {
        match self {
            CertCase::ExpiresSoon => "cert_expires_soon",
            CertCase::LapsedGrace => "cert_lapsed_grace",
            CertCase::Lapsed => "cert_lapsed",
        }
    }
}

/// The registry's people whose cards hold a certificate in each state
/// (`registry` creates them with these ids and checks it).
pub const CERT_CASES: [(&str, CertCase); 3] =
    [("P0042", CertCase::ExpiresSoon), ("P0043", CertCase::LapsedGrace), ("P0044", CertCase::Lapsed)];

/// What `pki init` should make.
#[derive(Debug, Clone)]
pub struct PkiOptions {
    /// The 医療機関コード in the clinic client certificate.
    pub institution: String,
    /// Person ids that get a JPKI user-authentication certificate.
    pub people: Vec<String>,
    /// Seed for the deterministic RSA keys.
    pub seed: u64,
    /// People whose certificate ends on this day (23:59:59 JST, five years
    /// after it began, as JPKI issues them) instead of the fixed 2049 end.
    /// Same inputs, same certificates: the day is given, never read from a clock.
    pub expiries: Vec<(String, Date)>,
}

impl Default for PkiOptions {
    fn default() -> Self {
        PkiOptions {
            institution: DEFAULT_INSTITUTION.to_string(),
            people: DEFAULT_PEOPLE.iter().map(|s| s.to_string()).collect(),
            seed: DEFAULT_SEED,
            expiries: Vec::new(),
        }
    }
}

impl PkiOptions {
    /// Adds the [`CERT_CASES`] people with certificates in their state as
    /// seen on `today`.
    pub fn cert_cases(mut self, today: Date) -> Self {
        for (id, case) in CERT_CASES {
            if !self.people.iter().any(|p| p == id) {
                self.people.push(id.to_string());
            }
            self.expiries.retain(|(p, _)| p != id);
            self.expiries.push((id.to_string(), Date::from_days(today.days() + case.days_from_today())));
        }
        self
    }
}

/// What [`init`] did, for the command line to report.
#[derive(Debug, Default, Clone)]
pub struct InitReport {
    /// Files written by this run.
    pub created: Vec<PathBuf>,
    /// Files that existed and were kept.
    pub kept: Vec<PathBuf>,
    /// Time spent generating each RSA key (label, milliseconds).
    pub rsa_keygen_ms: Vec<(String, u128)>,
}

/// The paths of the PKI under one root folder.
#[derive(Debug, Clone)]
pub struct PkiLayout {
    pub root: PathBuf,
}

impl PkiLayout {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        PkiLayout { root: root.into() }
    }
    pub fn gateway_ca(&self) -> PathBuf {
        self.root.join("gateway/ca.pem")
    }
    pub fn gateway_ca_key(&self) -> PathBuf {
        self.root.join("gateway/ca-key.pem")
    }
    pub fn gateway_server(&self) -> PathBuf {
        self.root.join("gateway/server.pem")
    }
    pub fn gateway_server_key(&self) -> PathBuf {
        self.root.join("gateway/server-key.pem")
    }
    pub fn clinic_ca(&self) -> PathBuf {
        self.root.join("clinic/ca.pem")
    }
    pub fn clinic_ca_key(&self) -> PathBuf {
        self.root.join("clinic/ca-key.pem")
    }
    pub fn clinic_client(&self) -> PathBuf {
        self.root.join("clinic/client.pem")
    }
    pub fn clinic_client_key(&self) -> PathBuf {
        self.root.join("clinic/client-key.pem")
    }
    pub fn jpki_ca(&self) -> PathBuf {
        self.root.join("jpki/ca.pem")
    }
    pub fn jpki_ca_key(&self) -> PathBuf {
        self.root.join("jpki/ca-key.pem")
    }
    pub fn person_dir(&self, id: &str) -> PathBuf {
        self.root.join("jpki/people").join(id)
    }
    pub fn person_cert(&self, id: &str) -> PathBuf {
        self.person_dir(id).join("cert.pem")
    }
    pub fn person_key(&self, id: &str) -> PathBuf {
        self.person_dir(id).join("key.pem")
    }
}

/// A person's card contents: what a virtual My Number card holds.
#[derive(Clone)]
pub struct PersonCard {
    pub person_id: String,
    /// The user-authentication certificate (EF 000A), DER.
    pub auth_cert_der: Vec<u8>,
    /// The JPKI CA certificate (EF 000B), DER.
    pub ca_cert_der: Vec<u8>,
    /// The user-authentication private key (EF 0017; never leaves the card).
    pub auth_key: RsaPrivateKey,
}

impl std::fmt::Debug for PersonCard {
    // The private key is not printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonCard").field("person_id", &self.person_id).finish_non_exhaustive()
    }
}

/// Checks that a person id is safe as a folder name and a certificate field.
pub fn check_person_id(id: &str) -> Result<(), PkiError> {
    let ok = !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(()) } else { Err(PkiError::BadPersonId(id.to_string())) }
}

/// Creates whatever is missing of the test PKI under `dir` (see the module docs).
pub fn init(dir: &Path, opts: &PkiOptions) -> Result<InitReport, PkiError> {
    let institution = check_institution(&opts.institution)
        .map_err(|source| PkiError::BadInstitution { code: opts.institution.clone(), source })?;
    for id in &opts.people {
        check_person_id(id)?;
    }
    let layout = PkiLayout::new(dir);
    let mut report = InitReport::default();

    // Gateway: CA and a server certificate for loopback.
    let gw_ca_key = ecdsa_key(&layout.gateway_ca_key(), &mut report)?;
    let gw_ca_params = ca_params("Onshi Test Gateway CA", "gateway-ca");
    write_cert_if_missing(&layout.gateway_ca(), &mut report, || gw_ca_params.self_signed(&gw_ca_key))?;
    let gw_issuer = Issuer::from_params(&gw_ca_params, &gw_ca_key);
    let server_key = ecdsa_key(&layout.gateway_server_key(), &mut report)?;
    write_cert_if_missing(&layout.gateway_server(), &mut report, || {
        let mut p = leaf_params("localhost", "gateway-server");
        p.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into()?),
            SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
        ];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        p.signed_by(&server_key, &gw_issuer)
    })?;

    // Clinic: CA and a client certificate naming the institution.
    let cl_ca_key = ecdsa_key(&layout.clinic_ca_key(), &mut report)?;
    let cl_ca_params = ca_params("Onshi Test Clinic CA", "clinic-ca");
    write_cert_if_missing(&layout.clinic_ca(), &mut report, || cl_ca_params.self_signed(&cl_ca_key))?;
    let cl_issuer = Issuer::from_params(&cl_ca_params, &cl_ca_key);
    let client_key = ecdsa_key(&layout.clinic_client_key(), &mut report)?;
    write_cert_if_missing(&layout.clinic_client(), &mut report, || {
        let mut p = leaf_params(&format!("Onshi Test Clinic {}", institution.digits), "clinic-client");
        p.distinguished_name.push(DnType::OrganizationalUnitName, "医療機関コード");
        p.distinguished_name
            .push(DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()), printable(&institution.digits)?);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        p.signed_by(&client_key, &cl_issuer)
    })?;

    // JPKI: an RSA CA and one RSA-2048 user-authentication certificate per person.
    let jpki_rsa = rsa_key(&layout.jpki_ca_key(), &format!("jpki-ca/{}", opts.seed), opts.seed, &mut report)?;
    let jpki_ca_key = rcgen_rsa(&jpki_rsa, &layout.jpki_ca_key())?;
    let jpki_ca_params = ca_params("Onshi Test JPKI CA for User Authentication", "jpki-ca");
    write_cert_if_missing(&layout.jpki_ca(), &mut report, || jpki_ca_params.self_signed(&jpki_ca_key))?;
    let jpki_issuer = Issuer::from_params(&jpki_ca_params, &jpki_ca_key);
    for id in &opts.people {
        let expiry = opts.expiries.iter().find(|(p, _)| p == id).map(|(_, d)| *d);
        // A kept certificate with another expiry day than the one asked for
        // (a folder made on an earlier day) is issued again, so the state
        // asked for holds; its key is kept (and deterministic anyway).
        if let Some(want) = expiry {
            let cert_path = layout.person_cert(id);
            let stale = cert_path.exists()
                && onshi_core::cert_validity::not_after_unix(&pem_der(&cert_path)?)
                    .map(|t| onshi_core::cert_validity::expiry_day(t, JST_MINUTES))
                    != Some(want);
            if stale {
                fs::remove_file(&cert_path).map_err(|source| PkiError::Io { path: cert_path.clone(), source })?;
            }
        }
        let key_path = layout.person_key(id);
        let person_rsa = rsa_key(&key_path, &format!("person/{id}/{}", opts.seed), opts.seed, &mut report)?;
        let person_key = rcgen_rsa(&person_rsa, &key_path)?;
        write_cert_if_missing(&layout.person_cert(id), &mut report, || {
            let mut p = leaf_params("JPKI Test User Authentication", &format!("person/{id}"));
            p.distinguished_name.push(DnType::CustomDnType(OID_SERIAL_NUMBER.to_vec()), printable(id)?);
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            if let Some(expiry) = expiry {
                expiring_on(&mut p, expiry);
            }
            p.signed_by(&person_key, &jpki_issuer)
        })?;
    }
    Ok(report)
}

/// Loads what a person's virtual card holds from `dir`.
pub fn load_person(dir: &Path, id: &str) -> Result<PersonCard, PkiError> {
    check_person_id(id)?;
    let layout = PkiLayout::new(dir);
    let cert_path = layout.person_cert(id);
    if !cert_path.exists() {
        return Err(PkiError::UnknownPerson { id: id.to_string(), dir: dir.to_path_buf() });
    }
    let key_path = layout.person_key(id);
    let key_pem = read(&key_path)?;
    let auth_key = RsaPrivateKey::from_pkcs8_pem(&key_pem)
        .map_err(|e| PkiError::BadFile { path: key_path.clone(), reason: e.to_string() })?;
    Ok(PersonCard {
        person_id: id.to_string(),
        auth_cert_der: pem_der(&cert_path)?,
        ca_cert_der: pem_der(&layout.jpki_ca())?,
        auth_key,
    })
}

/// Reads the DER content of a one-block PEM file.
pub fn pem_der(path: &Path) -> Result<Vec<u8>, PkiError> {
    let text = read(path)?;
    let begin = text.find("-----BEGIN ").and_then(|i| text[i..].find('\n').map(|j| i + j + 1));
    let end = text.find("-----END ");
    let (Some(b), Some(e)) = (begin, end) else {
        return Err(PkiError::BadFile { path: path.to_path_buf(), reason: "no PEM block".into() });
    };
    if e < b {
        return Err(PkiError::BadFile { path: path.to_path_buf(), reason: "no PEM block".into() });
    }
    let b64: String = text[b..e].chars().filter(|c| !c.is_whitespace()).collect();
    base64_decode(&b64).ok_or_else(|| PkiError::BadFile { path: path.to_path_buf(), reason: "bad base64".into() })
}

/// The one base64 codec of the project (core's, shared with the gateway wire).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    onshi_core::gateway_wire::base64::decode(s)
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Io { path: path.to_path_buf(), source })
}

fn write_new(path: &Path, text: &str, report: &mut InitReport) -> Result<(), PkiError> {
    let io = |source| PkiError::Io { path: path.to_path_buf(), source };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io)?;
    }
    fs::write(path, text).map_err(io)?;
    report.created.push(path.to_path_buf());
    Ok(())
}

fn printable(s: &str) -> Result<DnValue, rcgen::Error> {
    Ok(DnValue::PrintableString(s.try_into()?))
}

fn write_cert_if_missing(
    path: &Path,
    report: &mut InitReport,
    make: impl FnOnce() -> Result<rcgen::Certificate, rcgen::Error>,
) -> Result<(), PkiError> {
    if path.exists() {
        report.kept.push(path.to_path_buf());
        return Ok(());
    }
    let cert = make().map_err(|e| PkiError::Generate { what: path.display().to_string(), reason: e.to_string() })?;
    write_new(path, &cert.pem(), report)
}

/// Loads or creates an ECDSA P-256 key (random; kept in the file).
fn ecdsa_key(path: &Path, report: &mut InitReport) -> Result<KeyPair, PkiError> {
    if path.exists() {
        report.kept.push(path.to_path_buf());
        let pem = read(path)?;
        return KeyPair::from_pem(&pem).map_err(|e| PkiError::BadFile { path: path.to_path_buf(), reason: e.to_string() });
    }
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| PkiError::Generate { what: path.display().to_string(), reason: e.to_string() })?;
    write_new(path, &key.serialize_pem(), report)?;
    Ok(key)
}

/// Loads or deterministically creates an RSA-2048 key for `label`.
fn rsa_key(path: &Path, label: &str, seed: u64, report: &mut InitReport) -> Result<RsaPrivateKey, PkiError> {
    if path.exists() {
        report.kept.push(path.to_path_buf());
        let pem = read(path)?;
        return RsaPrivateKey::from_pkcs8_pem(&pem)
            .map_err(|e| PkiError::BadFile { path: path.to_path_buf(), reason: e.to_string() });
    }
    let started = std::time::Instant::now();
    let key = deterministic_rsa(label, seed)?;
    report.rsa_keygen_ms.push((label.to_string(), started.elapsed().as_millis()));
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| PkiError::Generate { what: label.to_string(), reason: e.to_string() })?;
    write_new(path, &pem, report)?;
    Ok(key)
}

/// An RSA-2048 key that depends only on `label` and `seed` (for a given
/// version of the `rsa` crate): ChaCha20 seeded with SHA-256 of both.
pub fn deterministic_rsa(label: &str, seed: u64) -> Result<RsaPrivateKey, PkiError> {
    let mut h = Sha256::new();
    h.update(b"onshi-sim pki v1\0");
    h.update(seed.to_be_bytes());
    h.update(label.as_bytes());
    let mut rng = ChaCha20Rng::from_seed(h.finalize().into());
    RsaPrivateKey::new(&mut rng, 2048).map_err(|e| PkiError::Generate { what: label.to_string(), reason: e.to_string() })
}

/// Wraps an RSA key for rcgen (ring signs from PKCS#8).
fn rcgen_rsa(key: &RsaPrivateKey, path: &Path) -> Result<KeyPair, PkiError> {
    let der = key
        .to_pkcs8_der()
        .map_err(|e| PkiError::BadFile { path: path.to_path_buf(), reason: e.to_string() })?;
    KeyPair::from_pkcs8_der_and_sign_algo(&der.as_bytes().into(), &rcgen::PKCS_RSA_SHA256)
        .map_err(|e| PkiError::BadFile { path: path.to_path_buf(), reason: e.to_string() })
}

/// A serial number derived from the label, so re-issued certificates match.
fn serial(label: &str) -> SerialNumber {
    let digest = Sha256::digest(label.as_bytes());
    let mut bytes = digest[..16].to_vec();
    bytes[0] &= 0x7f; // positive INTEGER
    SerialNumber::from_slice(&bytes)
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "JP");
    dn.push(DnType::OrganizationName, "Onshi Reception Test PKI");
    dn.push(DnType::CommonName, cn);
    dn
}

/// Fixed validity so the same inputs give the same certificates; UTCTime ends in 2049.
fn validity(p: &mut CertificateParams) {
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2049, 12, 31);
}

/// A JPKI-like validity ending on `expiry` at 23:59:59 JST (14:59:59Z) and
/// starting five years before (its day and month; 29 February → 28th).
fn expiring_on(p: &mut CertificateParams, expiry: Date) {
    let (y, m, d) = (i32::from(expiry.year()), expiry.month(), expiry.day());
    let end_seconds = std::time::Duration::from_secs(24 * 3600 - 1 - JST_MINUTES as u64 * 60);
    p.not_after = rcgen::date_time_ymd(y, m, d) + end_seconds;
    p.not_before = rcgen::date_time_ymd(y - 5, m, if (m, d) == (2, 29) { 28 } else { d });
}

/// The one definition of each CA's parameters (see the architecture invariant).
fn ca_params(cn: &str, label: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.serial_number = Some(serial(label));
    validity(&mut p);
    p
}

fn leaf_params(cn: &str, label: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.use_authority_key_identifier_extension = true;
    p.serial_number = Some(serial(label));
    validity(&mut p);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_of_known_vectors() {
        // RFC 4648 §10 test vectors.
        for (enc, dec) in [("", ""), ("Zg==", "f"), ("Zm8=", "fo"), ("Zm9v", "foo"), ("Zm9vYmFy", "foobar")] {
            assert_eq!(base64_decode(enc).as_deref(), Some(dec.as_bytes()), "{enc}");
        }
        assert_eq!(base64_decode("Zm9v!"), None);
    }

    #[test]
    fn person_ids_that_would_escape_the_folder_are_refused() {
        for bad in ["", "../x", "a/b", "名前", &"x".repeat(33)] {
            assert!(matches!(check_person_id(bad), Err(PkiError::BadPersonId(_))), "{bad:?}");
        }
        check_person_id("P0001").unwrap();
    }
}
