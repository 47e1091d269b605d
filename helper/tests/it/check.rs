//! `check insurance`, `batch submit | status | fetch` and `doctor` through
//! the real binary, against the simulator's OQS-folder responder (run
//! in-process on a thread, on a real folder).

use std::path::{Path, PathBuf};
use std::time::Duration;

use onshi_sim::folder::FolderOptions;

use super::{helper, run};


/// A seeded registry, a responder on `dir/oqs`, and a config naming it.
/// insurer, symbol, number, branch, birth of a person the registry knows.
type Probe = (String, Option<String>, String, Option<String>, String);

fn setup(dir: &Path) -> (onshi_sim::folder::Background, PathBuf, Probe) {
    let db = dir.join("registry.sqlite");
    onshi_sim::registry::seed(&db, onshi_sim::registry::MIN_PEOPLE, 11).unwrap();
    let probe = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row(
            "SELECT insurer_number, symbol, number, branch, birthdate FROM probes WHERE expected_validity = 1 AND expected_people = 1 ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .unwrap()
    };
    let opts = FolderOptions {
        dir: dir.join("oqs"),
        db,
        encoding: onshi_core::Encoding::ShiftJis,
        poll: Duration::from_millis(10),
        batch_delay: Duration::from_millis(0),
        log: Some(dir.join("sent.jsonl")),
    };
    let sim = onshi_sim::folder::spawn(&opts).unwrap();
    let cfg = dir.join("helper.toml");
    std::fs::write(&cfg, "institution_code = \"0110113719\"\n[backend]\nkind = \"oqs-folder\"\npath = \"oqs\"\n[timeouts]\nfolder_response_secs = 20\n").unwrap();
    (sim, cfg, probe)
}

/// Issue 14: `file` holds exactly the bytes of the responder's last answer to
/// a `prefix` request (its log has their length and SHA-256), and they are
/// still Shift_JIS as the declaration says.
fn same_as_sent(dir: &Path, prefix: &str, file: &Path) {
    let log = std::fs::read_to_string(dir.join("sent.jsonl")).unwrap();
    let sent: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["request"].as_str().is_some_and(|r| r.starts_with(prefix)))
        .last()
        .unwrap_or_else(|| panic!("the responder logged no answer to {prefix}: {log}"));
    let bytes = std::fs::read(file).unwrap();
    assert_eq!(sent["bytes"].as_u64(), Some(bytes.len() as u64), "{}", file.display());
    assert_eq!(sent["sha256"].as_str(), Some(onshi_sim::sent::sha256_hex(&bytes).as_str()), "{}", file.display());
    assert!(bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"Shift_JIS\""), "{:?}", String::from_utf8_lossy(&bytes[..60.min(bytes.len())]));
    let (_, encoding, _) = onshi_core::xml::decode(&bytes, 1 << 24).unwrap();
    assert_eq!(encoding, onshi_core::Encoding::ShiftJis, "not re-encoded to UTF-8");
}

#[test]
fn check_insurance_and_a_batch_through_the_oqs_folder() {
    let home = tempfile::tempdir().unwrap();
    let (_sim, cfg, (insurer, symbol, number, branch, birth)) = setup(home.path());
    let store = home.path().join("helper.sqlite");
    let mut c = helper(home.path());
    c.arg("--config").arg(&cfg).arg("--store").arg(&store);
    c.args(["check", "insurance", "--insurer", insurer.trim(), "--number", &number, "--birth", &birth]);
    c.arg("--out").arg(home.path().join("single.xml"));
    if let Some(s) = &symbol {
        c.args(["--symbol", s]);
    }
    if let Some(b) = &branch {
        c.args(["--branch", b]);
    }
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"), "Shift_JIS answers are handed on as UTF-8: {out}");
    assert!(err.contains("validity: 1"), "{err}");
    // Issue 14: the file for receipt software is the terminal's answer byte for byte.
    same_as_sent(home.path(), "OQSsiquc01req", &home.path().join("single.xml"));

    // A wrong check digit is refused before anything is sent, with the core's text.
    let mut c = helper(home.path());
    c.arg("--config").arg(&cfg).arg("--store").arg(&store);
    c.args(["check", "insurance", "--insurer", "39131157", "--number", "1", "--birth", "19600105"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 1);
    assert!(err.contains("保険者番号") || err.contains("insurer"), "{err}");

    // Batch: submit from CSV, then fetch (the responder answers at once).
    let csv = home.path().join("tomorrow.csv");
    std::fs::write(&csv, format!("insurer,symbol,number,branch,birth,name\n{},{},{number},{},{birth},山田\n", insurer.trim(), symbol.unwrap_or_default(), branch.unwrap_or_default())).unwrap();
    let mut c = helper(home.path());
    c.arg("--config").arg(&cfg).arg("--store").arg(&store).args(["batch", "submit"]).arg(&csv);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("b-1"), "{out}");
    let mut c = helper(home.path());
    c.arg("--config").arg(&cfg).arg("--store").arg(&store).args(["batch", "fetch", "b-1", "--out"]).arg(home.path().join("batch.xml"));
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("BulkConfirmUnit"), "{out}");
    same_as_sent(home.path(), "OQSmuquc02req", &home.path().join("batch.xml"));
    let mut c = helper(home.path());
    c.arg("--config").arg(&cfg).arg("--store").arg(&store).args(["batch", "status", "b-1"]);
    let (code, out, _) = run(c);
    assert_eq!(code, 0);
    assert!(out.starts_with("b-1: done") && out.contains("total=1") && out.contains(" desk="), "{out}");

    // Everything above is in the audit log, and the chain is intact.
    let s = onshi_helper::store::Store::open(&store).unwrap();
    let kinds: Vec<String> = s.audit_tail(20).unwrap().into_iter().map(|e| format!("{}:{}", e.kind, e.outcome)).collect();
    assert!(kinds.contains(&"eligibility_query:ok".to_string()), "{kinds:?}");
    assert!(kinds.iter().filter(|k| k.starts_with("batch:ok")).count() >= 2, "{kinds:?}");
    assert!(s.verify_audit().unwrap().is_intact());
}

#[test]
fn doctor_names_each_problem_and_fails() {
    let home = tempfile::tempdir().unwrap();
    let mut c = helper(home.path());
    c.args(["doctor", "--socket"]).arg(home.path().join("none.sock"));
    let (code, out, _) = run(c);
    assert_eq!(code, 1, "{out}");
    for link in ["[config]", "[service]", "[manifest]", "[backend]"] {
        assert!(out.lines().any(|l| l.starts_with("NG ") && l.contains(link)), "{link} missing in {out}");
    }
    // Each problem is a Japanese line followed by an English one.
    let ng: Vec<&str> = out.lines().filter(|l| l.starts_with("NG ")).collect();
    assert!(ng.iter().all(|l| !l.is_ascii()), "{out}");
}

/// `reference import`: the batch CSV's columns plus 患者ID. A file with a bad
/// row is not sent at all; a good file goes out as the bulk form
/// `OQSmuimm01req` through the folder, and the simulator's terminal answers
/// each row: the row nobody matches is reported with its line and the
/// system's code, the other is registered.
#[test]
fn reference_import_checks_rows_and_sends_the_bulk_form() {
    let home = tempfile::tempdir().unwrap();
    let (_sim, cfg, (insurer, symbol, number, branch, birth)) = setup(home.path());
    let store = home.path().join("helper.sqlite");
    let row = |pid: &str| {
        format!("{},{},{},{},{},{pid}\n", insurer.trim(), symbol.clone().unwrap_or_default(), number, branch.clone().unwrap_or_default(), birth)
    };
    let import = |csv: &str| {
        let path = home.path().join("refs.csv");
        std::fs::write(&path, csv).unwrap();
        let mut c = helper(home.path());
        c.arg("--config").arg(&cfg).arg("--store").arg(&store).args(["reference", "import"]).arg(&path);
        run(c)
    };
    let header = "保険者番号,記号,番号,枝番,生年月日,患者ID\n";
    // Line 3 has no patient id: nothing is sent.
    let (code, _, err) = import(&format!("{header}{}{}", row("K1"), row("")));
    assert_ne!(code, 0);
    assert!(err.contains("refs.csv:3:") && err.contains("患者ID") && err.contains("patient id"), "{err}");
    let audit = || match onshi_helper::store::Store::open(&store) {
        Ok(s) => s.audit_tail(5).unwrap(),
        Err(_) => Vec::new(),
    };
    assert!(!audit().iter().any(|e| e.kind == "reference"), "a file with errors is not sent");
    // A good row and one with numbers nobody has (well-formed, so the helper sends it): one bulk document.
    let nobody = format!("{},,99999999,,{birth},K9\n", insurer.trim());
    let (code, out, err) = import(&format!("{header}{}{nobody}", row("K1")));
    assert_ne!(code, 0, "a row was not registered: {out}{err}");
    assert!(err.contains("refs.csv:3:") && err.contains("EQ2001") && err.contains("2件目"), "{err}");
    assert!(out.contains("1 人分") && out.contains("登録できなかった行: 1"), "{out}");
    // (The responder and the helper clear req/ and res/, so the file names
    // cannot be checked here; the service tests check the bulk document.)
    let tail = audit();
    let ok = |e: &&onshi_helper::store::AuditEntry| e.kind == "reference" && e.outcome == "ok";
    assert!(tail.iter().any(|e| ok(&e) && e.detail.contains("\"count\":1") && e.detail.contains("\"rejected\":1")), "{tail:?}");
    let s = onshi_helper::store::Store::open(&store).unwrap();
    assert!(s.reference(&onshi_helper::store::PatientId::new("K1").unwrap()).unwrap().is_some());
    assert!(s.reference(&onshi_helper::store::PatientId::new("K9").unwrap()).unwrap().is_none());
}
