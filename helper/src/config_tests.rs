//! Tests of the configuration: parsing, path resolution, `check`.

use super::*;

const GOOD_CODE: &str = "1312345679";

fn gateway_toml(code: &str) -> String {
    format!(
        "institution_code = \"{code}\"\n[backend]\nkind = \"gateway\"\nurl = \"https://gw.example/\"\nca = \"ca.pem\"\nclient_cert = \"c.pem\"\nclient_key = \"k.pem\"\n"
    )
}

fn pem(label: &str) -> String {
    format!("-----BEGIN {label}-----\nMIIBszCCAVmgAwIBAgIU\nAAAA==\n-----END {label}-----\n")
}

#[test]
fn good_code_is_really_good() {
    assert!(check_institution(GOOD_CODE).is_ok(), "test fixture must be a valid code");
}

#[test]
fn parses_defaults_and_resolves_paths() {
    let c = Config::parse(&gateway_toml(GOOD_CODE), Path::new("/etc/onshi")).unwrap();
    assert_eq!(c.desk, "受付");
    assert_eq!(c.offset_minutes(), Some(540));
    assert_eq!(c.timeouts, Timeouts::default());
    match &c.backend {
        Backend::Gateway { ca, .. } => assert_eq!(ca, Path::new("/etc/onshi/ca.pem")),
        other => panic!("{other:?}"),
    }
    let f = Config::parse("institution_code = \"x\"\n[backend]\nkind = \"oqs-folder\"\npath = \"/srv/oqs\"\n", Path::new("/")).unwrap();
    assert_eq!(f.backend, Backend::OqsFolder { path: "/srv/oqs".into() });
    assert_eq!(c.store, StoreKind::Sqlite, "SQLite unless [store] says otherwise");
}

/// Issue 17: `[store] kind = "postgres"`, its CA resolved like the
/// other paths; a URL that is not one, and TLS without a CA, reported.
#[test]
fn a_shared_store_is_configured_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let toml = |store: &str| {
        let text = format!("institution_code = \"{GOOD_CODE}\"\ndesk = \"受付2\"\n[store]\n{store}\n[backend]\nkind = \"oqs-folder\"\npath = \"/srv/oqs\"\n");
        Config::parse(&text, dir.path()).unwrap()
    };
    let c = toml("kind = \"postgres\"\nurl = \"postgres://onshi@db.example/onshi?sslmode=require\"\nca = \"db-ca.pem\"");
    let ca = dir.path().join("db-ca.pem");
    assert_eq!(c.store, StoreKind::Postgres { url: "postgres://onshi@db.example/onshi?sslmode=require".into(), ca: Some(ca.clone()) });
    let settings = c.store_settings("/var/lib/onshi/helper.sqlite".into()).unwrap();
    assert_eq!(settings.desk.as_str(), "受付2");
    assert!(matches!(settings.shared, SharedStore::Postgres(PgSettings { ca: Some(_), .. })));
    let store_problems = |c: &Config| -> Vec<ConfigProblem> {
        c.check().into_iter().filter(|p| matches!(p, ConfigProblem::StoreUrl { .. } | ConfigProblem::StoreCaMissing | ConfigProblem::FileMissing { role: PemRole::StoreCa, .. } | ConfigProblem::NotPem { role: PemRole::StoreCa, .. })).collect()
    };
    assert_eq!(store_problems(&c), [ConfigProblem::FileMissing { role: PemRole::StoreCa, path: ca.clone() }]);
    std::fs::write(&ca, pem("CERTIFICATE")).unwrap();
    assert!(store_problems(&c).is_empty());
    let no_ca = toml("kind = \"postgres\"\nurl = \"postgres://onshi@db.example/onshi?sslmode=require\"");
    assert_eq!(store_problems(&no_ca), [ConfigProblem::StoreCaMissing]);
    assert!(store_problems(&toml("kind = \"postgres\"\nurl = \"postgres://onshi@db.example/onshi\"")).is_empty(), "plain TCP needs no CA");
    let bad = toml("kind = \"postgres\"\nurl = \"https://db.example/\"");
    assert!(matches!(&store_problems(&bad)[..], [ConfigProblem::StoreUrl { .. }]));
    for p in store_problems(&bad).iter().chain(&store_problems(&no_ca)) {
        let m = p.explain();
        assert!(m.ja.contains("[store]") && m.en.contains("[store]"), "{m:?}");
    }
    assert!(Config::parse("institution_code = \"x\"\n[store]\nkind = \"mysql\"\n[backend]\nkind = \"oqs-folder\"\npath = \"/\"\n", dir.path()).is_err());
}

/// The batch poll is the one service timing IT may change; 0 is a problem for `check`.
#[test]
fn batch_poll_from_the_timeouts_section() {
    let toml = format!("{}\n[timeouts]\nbatch_poll_max_secs = 5\n", gateway_toml(GOOD_CODE));
    let c = Config::parse(&toml, Path::new("/")).unwrap();
    assert_eq!(c.timeouts.batch_poll_max_secs, 5);
    let s = crate::service::runtime::Settings::from_config(Some(&c));
    assert_eq!(s.batch_poll, std::time::Duration::from_secs(5));
    assert_eq!(crate::service::runtime::Settings::from_config(None).batch_poll, std::time::Duration::from_secs(30));
    let zero = Config::parse(&toml.replace("= 5", "= 0"), Path::new("/")).unwrap();
    assert!(zero.check().iter().any(|p| matches!(p, ConfigProblem::ZeroTimeout { name: "batch_poll_max_secs" })));
}

/// Issue 17: the batch lease comes from `[timeouts]` too (60 s unset); 0 is a problem.
#[test]
fn batch_lease_from_the_timeouts_section() {
    let toml = format!("{}\n[timeouts]\nbatch_lease_secs = 6\n", gateway_toml(GOOD_CODE));
    let c = Config::parse(&toml, Path::new("/")).unwrap();
    let s = crate::service::runtime::Settings::from_config(Some(&c));
    assert_eq!(s.batch_lease, std::time::Duration::from_secs(6));
    assert_eq!(crate::service::runtime::Settings::from_config(None).batch_lease, std::time::Duration::from_secs(60));
    let zero = Config::parse(&toml.replace("= 6", "= 0"), Path::new("/")).unwrap();
    assert!(zero.check().iter().any(|p| matches!(p, ConfigProblem::ZeroTimeout { name: "batch_lease_secs" })));
}

#[test]
fn syntax_errors_and_unknown_keys() {
    assert!(Config::parse("institution_code = ", Path::new("/")).is_err());
    assert!(Config::parse("institution_code = \"1\"\nbackend = { kind = \"ftp\" }", Path::new("/")).is_err());
    let typo = format!("{}insitution = 1\n", gateway_toml(GOOD_CODE).replace("[backend]", "desk2 = \"x\"\n[backend]"));
    assert!(Config::parse(&typo, Path::new("/")).is_err(), "unknown keys are refused, not ignored");
}

#[test]
fn check_reports_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), pem("CERTIFICATE")).unwrap();
    std::fs::write(dir.path().join("c.pem"), pem("PRIVATE KEY")).unwrap(); // swapped on purpose
    let mut c = Config::parse(&gateway_toml("1312345675"), dir.path()).unwrap();
    c.timeouts.request_secs = 0;
    c.utc_offset = "JST".into();
    let problems = c.check();
    assert!(matches!(problems[0], ConfigProblem::InstitutionCode(NumberError::CheckDigit { .. })), "{problems:?}");
    assert!(matches!(problems[1], ConfigProblem::UtcOffset { .. }));
    assert!(matches!(&problems[2], ConfigProblem::WrongPem { role: PemRole::ClientCert, found, .. } if found == "PRIVATE KEY"));
    assert!(matches!(problems[3], ConfigProblem::FileMissing { role: PemRole::ClientKey, .. }));
    assert!(matches!(problems[4], ConfigProblem::ZeroTimeout { name: "request_secs" }));
    assert_eq!(problems.len(), 5);
    for p in &problems {
        let b = p.explain();
        assert!(!b.ja.is_empty() && !b.en.is_empty() && !b.ja.contains('\n'));
    }
}

#[test]
fn good_gateway_config_has_no_problems() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), pem("CERTIFICATE")).unwrap();
    std::fs::write(dir.path().join("c.pem"), pem("CERTIFICATE")).unwrap();
    std::fs::write(dir.path().join("k.pem"), pem("EC PRIVATE KEY")).unwrap();
    let c = Config::parse(&gateway_toml(GOOD_CODE), dir.path()).unwrap();
    assert_eq!(c.check(), vec![]);
}

#[test]
fn oqs_folder_needs_its_subfolders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("req")).unwrap();
    let toml = format!("institution_code = \"{GOOD_CODE}\"\n[backend]\nkind = \"oqs-folder\"\npath = \"oqs\"\n");
    let c = Config::parse(&toml, dir.path()).unwrap();
    assert!(matches!(c.check()[..], [ConfigProblem::FolderMissing { .. }]));
    let c = Config::parse(&toml.replace("\"oqs\"", "\".\""), dir.path()).unwrap();
    let subs: Vec<_> = c.check().into_iter().map(|p| match p {
        ConfigProblem::SubfolderMissing { sub, .. } => sub,
        other => panic!("{other:?}"),
    }).collect();
    assert_eq!(subs, vec!["res", "face"]);
}

#[test]
fn pem_labels() {
    assert_eq!(pem_label(&pem("CERTIFICATE")).as_deref(), Some("CERTIFICATE"));
    assert_eq!(pem_label("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), None, "empty body");
    assert_eq!(pem_label("-----BEGIN CERTIFICATE-----\nAAAA\n-----END X-----\n"), None, "mismatched END");
    assert_eq!(pem_label("-----BEGIN CERTIFICATE-----\nAA AA!\n-----END CERTIFICATE-----\n"), None);
    assert_eq!(pem_label("hello"), None);
    assert_eq!(parse_offset("-05:30"), Some(-330));
    assert_eq!(parse_offset("+24:00"), None);
    assert_eq!(parse_offset("+0a:00"), None);
}
