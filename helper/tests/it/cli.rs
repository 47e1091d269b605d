//! The command line's basics: version, config check.

use super::{helper, run};

#[test]
fn version_line() {
    let home = tempfile::tempdir().unwrap();
    let mut c = helper(home.path());
    c.arg("--version");
    let (code, out, _) = run(c);
    assert_eq!(code, 0);
    assert_eq!(out, format!("onshi-helper {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn config_check_reports_each_problem_ja_then_en() {
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("helper.toml");
    // Bad check digit, missing folder: two problems.
    std::fs::write(&cfg, "institution_code = \"1312345675\"\n[backend]\nkind = \"oqs-folder\"\npath = \"no-such\"\n").unwrap();
    let mut c = helper(home.path());
    c.args(["config", "check", "--config"]).arg(&cfg);
    let (code, _out, err) = run(c);
    assert_eq!(code, 1);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(lines[0].contains("医療機関コード") && lines[1].starts_with("institution_code"), "{err}");
    assert!(lines[2].contains("OQSフォルダー") && lines[3].starts_with("The OQS folder"), "{err}");

    for sub in ["req", "res", "face"] {
        std::fs::create_dir_all(home.path().join("oqs").join(sub)).unwrap();
    }
    std::fs::write(&cfg, "institution_code = \"1312345679\"\n[backend]\nkind = \"oqs-folder\"\npath = \"oqs\"\n").unwrap();
    let mut c = helper(home.path());
    c.args(["config", "check", "--config"]).arg(&cfg);
    let (code, out, err) = run(c);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.contains("問題はありません") && out.contains("no problems"));
}

#[test]
fn config_check_without_a_file_and_with_a_syntax_error() {
    let home = tempfile::tempdir().unwrap();
    let mut c = helper(home.path());
    c.args(["config", "check"]);
    let (code, _, err) = run(c);
    assert_eq!(code, 1);
    assert!(err.contains(".config/onshi/helper.toml"), "default path under HOME: {err}");
    let cfg = home.path().join("bad.toml");
    std::fs::write(&cfg, "institution_code = [\n").unwrap();
    let mut c = helper(home.path());
    c.args(["config", "check", "--config"]).arg(&cfg);
    let (code, _, err) = run(c);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 2, "one problem, two lines: {err}");
}

#[test]
fn reading_commands_do_not_create_a_database() {
    let home = tempfile::tempdir().unwrap();
    for args in [&["audit", "verify"][..], &["audit", "show"][..], &["pairings", "list"][..]] {
        let mut c = helper(home.path());
        c.args(args);
        let (code, _, err) = run(c);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains("helper.sqlite"), "{err}");
    }
    assert!(!home.path().join(".local/share/onshi/helper.sqlite").exists());
}
