//! `install` / `uninstall` with a temp HOME: every browser's manifest and
//! the start-at-login files, then their removal.

use std::path::{Path, PathBuf};

use super::{helper, run};

const ID: &str = "abcdefghijklmnopabcdefghijklmnop";

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_onshi-helper"))
}

#[test]
fn user_install_and_uninstall_for_every_browser() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let mut c = helper(h);
    c.args(["install", "--extension-id", ID]);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    let chromium_family = [
        ".config/google-chrome/NativeMessagingHosts",
        ".config/chromium/NativeMessagingHosts",
        ".config/microsoft-edge/NativeMessagingHosts",
    ];
    for dir in chromium_family {
        let m = json(&h.join(dir).join("jp.onshi.helper.json"));
        assert_eq!(m["name"], "jp.onshi.helper");
        assert_eq!(m["type"], "stdio");
        assert_eq!(m["path"], exe().to_str().unwrap(), "the manifest starts this very binary");
        assert_eq!(m["allowed_origins"], serde_json::json!([format!("chrome-extension://{ID}/")]));
        assert!(m.get("allowed_extensions").is_none());
    }
    let ff = json(&h.join(".mozilla/native-messaging-hosts/jp.onshi.helper.json"));
    assert_eq!(ff["allowed_extensions"], serde_json::json!(["onshi-bridge@onshi.example"]));
    assert!(ff.get("allowed_origins").is_none());
    let unit = std::fs::read_to_string(h.join(".config/systemd/user/onshi-helper.service")).unwrap();
    assert!(unit.contains(&format!("ExecStart=\"{}\" service", exe().display())), "{unit}");
    let link = h.join(".config/systemd/user/default.target.wants/onshi-helper.service");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&link).unwrap(), unit, "the enable link resolves to the unit");
    assert!(std::fs::read_to_string(h.join(".config/autostart/onshi-helper.desktop")).unwrap().contains(" service\n"));
    assert_eq!(out.lines().count(), 7, "{out}");

    let mut c = helper(h);
    c.arg("uninstall");
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().filter(|l| l.contains("removed")).count(), 7, "{out}");
    for dir in chromium_family {
        assert!(!h.join(dir).join("jp.onshi.helper.json").exists());
    }
    assert!(!h.join(".mozilla/native-messaging-hosts/jp.onshi.helper.json").exists());
    assert!(std::fs::symlink_metadata(&link).is_err());
}

#[test]
fn profile_dir_install_for_a_test_browser() {
    let home = tempfile::tempdir().unwrap();
    let profile = home.path().join("chromium-profile");
    let mut c = helper(home.path());
    c.args(["install", "--browsers", "chromium", "--extension-id", ID, "--profile-dir"]).arg(&profile);
    let (code, out, err) = run(c);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "only the profile's manifest, no autostart: {out}");
    let m = json(&profile.join("NativeMessagingHosts/jp.onshi.helper.json"));
    assert_eq!(m["allowed_origins"][0], format!("chrome-extension://{ID}/"));
    assert!(!home.path().join(".config").exists(), "nothing outside the profile");
    let mut c = helper(home.path());
    c.args(["uninstall", "--browsers", "chromium", "--profile-dir"]).arg(&profile);
    assert_eq!(run(c).0, 0);
    assert!(!profile.join("NativeMessagingHosts/jp.onshi.helper.json").exists());
}

#[test]
fn install_refuses_bad_input_with_both_languages() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        // (Without --extension-id the id baked in from extension/extension-id.txt applies.)
        &["install", "--browsers", "chrome", "--extension-id", ""][..],
        &["install", "--browsers", "chrome", "--extension-id", "not-an-id"][..],
        &["install", "--browsers", "chrome", "--extension-id", "x@y.example"][..],
    ] {
        let mut c = helper(home.path());
        c.args(args);
        let (code, _, err) = run(c);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(err.lines().count(), 2, "ja + en: {err}");
        assert!(!err.lines().next().unwrap().is_ascii(), "Japanese first: {err}");
    }
    let mut c = helper(home.path());
    c.args(["install", "--browsers", "safari"]);
    assert_eq!(run(c).0, 2, "clap usage error");
    assert!(!home.path().join(".config").exists());
}

#[test]
fn a_browser_start_is_detected_and_keeps_stdout_clean() {
    let home = tempfile::tempdir().unwrap();
    // A socket place that cannot exist (under a regular file): the host tries
    // to start the service, which fails, and gives up after a few seconds.
    let blocker = home.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let mut c = helper(home.path());
    c.arg(format!("chrome-extension://{ID}/")).env("ONSHI_HELPER_SOCKET", blocker.join("h.sock"));
    c.stdin(std::process::Stdio::null());
    let (code, out, err) = run(c);
    assert_ne!(code, 0, "no service reachable");
    assert_eq!(out, "", "stdout belongs to the browser's frames");
    assert!(err.contains("helper service"), "{err}");
}
