//! `onshi-helper doctor`: walks every link a confirmation needs — config,
//! service and socket, browser manifests, pcscd, readers and the card's
//! applet, the backend, the shared database when there is one, the clock —
//! and returns one finding per link. A
//! problem says in Japanese and English what to do; the command exits
//! non-zero when there is any. Read-only: it never changes a file, never
//! asks for a PIN and never sends a VERIFY.

use std::path::{Path, PathBuf};
use std::time::Duration;

use onshi_core::text::{Bilingual, Explain};

use crate::browser::Browser;
use crate::card::access::CardAccess;
use crate::card::flows::{self, CardError};
use crate::card::jpki::PinTries;
use crate::config::{Config, ConfigError};
use crate::install::{self, Scope};
use crate::paths::{Env, Os};

/// One checked link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Short name of the link, e.g. `service`.
    pub link: &'static str,
    /// `true` when this is a problem.
    pub problem: bool,
    pub text: Bilingual,
}

impl Finding {
    fn ok(link: &'static str, ja: impl Into<String>, en: impl Into<String>) -> Self {
        Finding { link, problem: false, text: Bilingual::new(ja, en) }
    }
    fn bad(link: &'static str, text: Bilingual) -> Self {
        Finding { link, problem: true, text }
    }
}

/// What the doctor looks at.
pub struct Inputs<'a> {
    pub config: Result<Config, ConfigError>,
    /// The endpoint, or why none could be chosen (its explanation names
    /// what to set on this OS).
    pub socket: Result<PathBuf, crate::ipc::IpcError>,
    pub env: &'a Env,
    pub os: Os,
    pub exe: PathBuf,
    pub card: &'a dyn CardAccess,
    /// Seconds since the Unix epoch, as the system clock says.
    pub now_secs: i64,
}

/// Reads one registry string value (`None`: absent or unreadable). Windows
/// keeps the manifest locations and the start-at-sign-in entry there.
pub type ReadRegistry<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

/// Runs every check. Must be called inside a tokio runtime (the backend probe is async).
pub async fn examine(i: Inputs<'_>) -> Vec<Finding> {
    examine_with(i, &|key, name| crate::platform::registry::get(key, name).ok().flatten()).await
}

/// [`examine`] with the registry read through `registry` (tests plan for
/// Windows on Linux with a map).
pub async fn examine_with(i: Inputs<'_>, registry: ReadRegistry<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    let config = match i.config {
        Ok(c) => {
            let problems = c.check();
            if problems.is_empty() {
                out.push(Finding::ok("config", "設定ファイルに問題はありません。", "The config file is fine."));
            }
            out.extend(problems.iter().map(|p| Finding::bad("config", p.explain())));
            Some(c)
        }
        Err(e) => {
            out.push(Finding::bad("config", e.explain()));
            None
        }
    };
    out.push(service(i.socket.as_deref()).await);
    out.extend(manifests(i.env, i.os, &i.exe, registry));
    out.extend(autostart(i.env, i.os, &i.exe, registry));
    out.extend(card(i.card, i.os));
    if let Some(c) = config.as_ref() {
        // Listed whatever it says: IT reads here which pages reach the helper.
        let usable = c.allowlist().is_none_or(|l| !l.entries().is_empty());
        out.push(if usable { Finding::ok("origins", c.origins_summary().ja, c.origins_summary().en) } else { Finding::bad("origins", c.origins_summary()) });
    }
    out.push(backend(config.as_ref()).await);
    if let Some(f) = shared_store(config.as_ref(), i.env, i.os).await {
        out.push(f);
    }
    out.push(clock(i.now_secs));
    out
}

async fn service(socket: Result<&Path, &crate::ipc::IpcError>) -> Finding {
    let socket = match socket {
        Ok(s) => s,
        Err(e) => return Finding::bad("service", e.explain()),
    };
    let connect = tokio::time::timeout(Duration::from_secs(3), crate::platform::connect(socket)).await;
    match connect {
        Ok(Ok(_)) => Finding::ok("service", format!("ヘルパーのサービスが動いています（{}）。", socket.display()), format!("The helper service is running ({}).", socket.display())),
        _ => Finding::bad("service", Bilingual::new(
            format!("ヘルパーのサービスが動いていません（{} に接続できません）。「onshi-helper service」を起動するか、いったんログアウトしてログインし直してください。", socket.display()),
            format!("The helper service is not running (cannot connect to {}). Start \"onshi-helper service\", or log out and in again.", socket.display()),
        )),
    }
}

/// A browser counts as set up when its user-level or machine-wide manifest
/// (what a package installs) names an existing program. Browsers with no
/// manifest at all are listed as a problem only when none has one. The
/// places come from `install`'s own plan (files, or on Windows the registry
/// keys whose default value is the manifest's path), so the two never disagree.
fn manifests(env: &Env, os: Os, exe: &Path, registry: ReadRegistry<'_>) -> Vec<Finding> {
    use install::{Content, Purpose};
    let mut found = Vec::new();
    let mut wrong = Vec::new();
    for scope in [Scope::User, Scope::System] {
        for b in Browser::ALL {
            let Ok(plan) = install::plan_uninstall(&[b], &scope, os, env, exe) else { continue };
            let path = plan.into_iter().find_map(|p| match (p.purpose, p.content) {
                (Purpose::ManifestKey, Content::RegistryValue { name, .. }) => registry(&p.path.to_string_lossy(), &name).map(PathBuf::from),
                (Purpose::Manifest(_), _) if os != Os::Windows => Some(p.path),
                _ => None,
            });
            let Some(path) = path else { continue };
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            let names_exe = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("path").and_then(|p| p.as_str()).map(|p| manifest_target(&path, p, os).exists()))
                .unwrap_or(false);
            if names_exe {
                found.push((b, path));
            } else {
                wrong.push((b, path));
            }
        }
    }
    let mut out: Vec<Finding> = wrong
        .into_iter()
        .map(|(b, path)| Finding::bad("manifest", Bilingual::new(
            format!("{} 用の設定ファイル {} が壊れているか、存在しないプログラムを指しています。「onshi-helper install」をやり直してください。", b.as_str(), path.display()),
            format!("The {} host manifest {} is broken or points to a missing program. Run \"onshi-helper install\" again.", b.as_str(), path.display()),
        )))
        .collect();
    if found.is_empty() && out.is_empty() {
        out.push(Finding::bad("manifest", Bilingual::new(
            "どのブラウザーにもヘルパーが登録されていません。「onshi-helper install」を実行してください（拡張機能からヘルパーが見つからない原因になります）。",
            "The helper is registered with no browser. Run \"onshi-helper install\" (otherwise the extension cannot find the helper).",
        )));
    }
    for (b, path) in found {
        out.push(Finding::ok(
            "manifest",
            format!("{} にヘルパーが登録されています（{}）。", b.as_str(), path.display()),
            format!("The helper is registered with {} ({}).", b.as_str(), path.display()),
        ));
    }
    out
}

/// The program a manifest's `path` names. Chrome, Edge and Firefox read a
/// relative path on Windows as relative to the manifest's folder (what the
/// MSI ships); elsewhere it must be absolute, and a relative one is judged
/// as it stands.
fn manifest_target(manifest: &Path, path: &str, os: Os) -> PathBuf {
    match manifest.parent() {
        Some(dir) if os == Os::Windows => dir.join(path),
        _ => PathBuf::from(path),
    }
}

/// The start-at-login entries `install` writes on this OS (user or
/// machine-wide), located through the same plan so the two never disagree:
/// files on Linux and macOS, the `Run` value on Windows, which counts when
/// the program it starts exists. Without one the browser's first connection
/// still starts the service, but the first check of the day waits for it.
fn autostart(env: &Env, os: Os, exe: &Path, registry: ReadRegistry<'_>) -> Vec<Finding> {
    use install::{Content, Purpose};
    let mut candidates = Vec::new();
    let mut present = Vec::new();
    for scope in [Scope::User, Scope::System] {
        let Ok(plan) = install::plan_uninstall(&[], &scope, os, env, exe) else { continue };
        for p in plan {
            match (&p.purpose, &p.content) {
                (Purpose::SystemdUnit | Purpose::XdgAutostart | Purpose::LaunchAgent, _) => {
                    if p.path.exists() {
                        present.push(p.path.display().to_string());
                    }
                    candidates.push(p.path);
                }
                (Purpose::RunValue, Content::RegistryValue { name, .. }) => {
                    let key = p.path.to_string_lossy().into_owned();
                    let starts = registry(&key, name).and_then(|command| run_program(&command));
                    if starts.as_ref().is_some_and(|program| Path::new(program).exists()) {
                        present.push(format!("{key}\\{name}"));
                    }
                    candidates.push(p.path);
                }
                _ => {}
            }
        }
    }
    if candidates.is_empty() {
        return Vec::new();
    }
    if present.is_empty() {
        return vec![Finding::bad("autostart", Bilingual::new(
            "ログイン時にヘルパーを起動する設定がありません。「onshi-helper install」を実行してください（ないと、その日最初の確認でサービスの起動を待ちます）。",
            "Nothing starts the helper at login. Run \"onshi-helper install\" (without it the first check of the day waits for the service to start).",
        ))];
    }
    present
        .into_iter()
        .map(|p| Finding::ok("autostart", format!("ログイン時の起動設定があります（{p}）。"), format!("The helper starts at login ({p}).")))
        .collect()
}

/// The program a `Run` command line starts: the quoted first word, or the
/// first word when unquoted.
fn run_program(command: &str) -> Option<String> {
    let command = command.trim();
    match command.strip_prefix('"') {
        Some(rest) => rest.split_once('"').map(|(program, _)| program.to_owned()),
        None => command.split_whitespace().next().map(str::to_owned),
    }
}

fn card(card: &dyn CardAccess, os: Os) -> Vec<Finding> {
    let readers = match card.readers() {
        Ok(r) => r,
        Err(CardError::ServiceNotRunning) => return vec![Finding::bad("pcsc", smart_card_service_down(os))],
        Err(e) => return vec![Finding::bad("pcsc", e.explain())],
    };
    if readers.is_empty() {
        return vec![Finding::bad("reader", CardError::NoReader.explain())];
    }
    let mut out = Vec::new();
    for r in readers {
        if !r.card_present {
            out.push(Finding::ok("reader", format!("カードリーダー「{}」: カードなし", r.name), format!("Reader {:?}: no card", r.name)));
            continue;
        }
        let mut tries = None;
        let status = card.with_card(Some(&r.name), &mut |t| {
            tries = Some(flows::pin_status(t)?);
            Ok(())
        });
        out.push(match (status, tries) {
            (Ok(()), Some(PinTries::Left(n))) => Finding::ok(
                "card",
                format!("カードリーダー「{}」: マイナンバーカード（暗証番号の残り{n}回）", r.name),
                format!("Reader {:?}: My Number card ({n} PIN tries left)", r.name),
            ),
            (Ok(()), _) => Finding::bad("card", CardError::PinLocked.explain()),
            (Err(e), _) => Finding::bad("card", e.explain()),
        });
    }
    out
}

/// The smart-card service is down: what IT does about it on this OS. (The
/// receptionist's text for the same error says "ask IT to run doctor"; here
/// IT is the one reading.)
fn smart_card_service_down(os: Os) -> Bilingual {
    match os {
        Os::Linux => Bilingual::new(
            "カードリーダーのサービス（pcscd）が動いていません。「sudo systemctl enable --now pcscd.socket」で起動してください（パッケージ pcscd が必要です）。",
            "The PC/SC service (pcscd) is not running. Start it with \"sudo systemctl enable --now pcscd.socket\" (package pcscd).",
        ),
        Os::MacOs => Bilingual::new(
            "macOS のスマートカードサービスに接続できません。カードリーダーを挿し直し、直らなければ PC を再起動してください。",
            "Cannot reach macOS's smart-card service. Plug the reader in again; if that does not help, restart the computer.",
        ),
        Os::Windows => Bilingual::new(
            "スマートカード サービス（SCardSvr）が止まっています。管理者のコマンドプロンプトで「sc config SCardSvr start= auto」と「sc start SCardSvr」を実行してください。",
            "The Smart Card service (SCardSvr) is stopped. In an administrator command prompt run \"sc config SCardSvr start= auto\" and \"sc start SCardSvr\".",
        ),
    }
}

async fn backend(config: Option<&Config>) -> Finding {
    let b = match crate::service::backend_from_config(config) {
        Ok(b) => b,
        Err(e) => return Finding::bad("backend", e.message),
    };
    match tokio::time::timeout(Duration::from_secs(15), b.probe()).await {
        Ok(Ok(())) => Finding::ok("backend", "資格確認の接続先に届きます。", "The eligibility backend is reachable."),
        Ok(Err(e)) => Finding::bad("backend", e.explain()),
        Err(_) => Finding::bad("backend", crate::backend::BackendError::Timeout { after: Duration::from_secs(15) }.explain()),
    }
}

/// The shared PostgreSQL store of `[store]` (issue 17), when configured:
/// reachable, TLS accepted, and a schema this helper knows; and what this
/// PC keeps queued for it (results made while it was down). Read-only (no
/// migration, the PC's file opened read-only); the connection runs on a
/// blocking thread.
async fn shared_store(config: Option<&Config>, env: &Env, os: Os) -> Option<Finding> {
    let config = config?;
    let crate::config::StoreKind::Postgres { url, ca } = &config.store else { return None };
    let settings = crate::store::PgSettings { url: url.clone(), ca: ca.clone() };
    let probe = tokio::task::spawn_blocking(move || crate::store::Store::probe_shared(&settings)).await;
    let local = config.store_path.clone().map(Ok).unwrap_or_else(|| crate::paths::data_file(env, os));
    let queued = match local {
        Ok(path) => crate::store::Store::queued_in(&path).map_err(|e| e.explain()),
        Err(e) => Err(e.explain()),
    };
    let reached = shared_reached(probe);
    Some(with_queue(reached, queued))
}

/// The server's answer to the probe, as a finding.
fn shared_reached(probe: Result<Result<(String, i64), crate::store::StoreError>, tokio::task::JoinError>) -> Finding {
    match probe {
        Ok(Ok((server, 0))) => Finding::ok(
            "store",
            format!("共有データベース {server} に接続できます（まだ空です。最初に起動したヘルパーが表を作ります）。"),
            format!("The shared database {server} is reachable (still empty; the first helper to start creates its tables)."),
        ),
        Ok(Ok((server, version))) => Finding::ok(
            "store",
            format!("共有データベース {server} に接続できます（スキーマ {version}）。"),
            format!("The shared database {server} is reachable (schema {version})."),
        ),
        Ok(Err(e)) => Finding::bad("store", e.explain()),
        Err(e) => Finding::bad("store", Bilingual::new(format!("共有データベースを確認できませんでした（{e}）。"), format!("Could not check the shared database ({e})."))),
    }
}

/// The probe's finding with what is queued on this PC added: while the
/// server is down, that desk checks go on and are sent later; once it is
/// back, that the service sends them (a queue that stays is a problem).
fn with_queue(reached: Finding, queued: Result<(u32, u32), Bilingual>) -> Finding {
    let (results, audit) = match queued {
        Ok(q) => q,
        Err(why) => {
            let mut f = reached;
            f.text = Bilingual::new(
                format!("{} このPCの未送信の記録を数えられませんでした: {}", f.text.ja, why.ja),
                format!("{} The records queued on this PC could not be counted: {}", f.text.en, why.en),
            );
            f.problem = true;
            return f;
        }
    };
    if results == 0 && audit == 0 {
        return reached;
    }
    let (ja, en) = if reached.problem {
        (
            format!("このPCに未送信の結果が {results} 件（監査記録 {audit} 件）あります。受付での確認は続けられ、結果はこのPCに保存されます。サーバーが復旧すると、ヘルパーのサービスが順番どおり一度ずつ自動で送ります。"),
            format!("{results} results ({audit} audit entries) are queued on this PC. Checks at the desk go on and are kept on this PC; when the server is back, the helper service sends them automatically, in order, once each."),
        )
    } else {
        (
            format!("ただし、このPCに未送信の結果が {results} 件（監査記録 {audit} 件）あります。ヘルパーのサービスが動いていれば数秒で自動的に送られます。減らないときはサービスのログを確認し、サービスを再起動してください（onshi-helper service --stop の後、ログインし直す）。"),
            format!("But {results} results ({audit} audit entries) are still queued on this PC. With the helper service running they are sent within seconds; if the number does not go down, read the service log and restart the service (onshi-helper service --stop, then log in again)."),
        )
    };
    Finding::bad("store", Bilingual::new(format!("{} {ja}", reached.text.ja), format!("{} {en}", reached.text.en)))
}

/// 2025-01-01 and 2100-01-01 as Unix seconds: a clock outside this range is
/// certainly wrong, and TLS certificates and "today" would be wrong with it.
const CLOCK_MIN: i64 = 1_735_689_600;
const CLOCK_MAX: i64 = 4_102_444_800;

fn clock(now: i64) -> Finding {
    if (CLOCK_MIN..CLOCK_MAX).contains(&now) {
        Finding::ok("clock", "PCの時計は妥当な範囲です。", "The PC clock is plausible.")
    } else {
        Finding::bad("clock", Bilingual::new(
            "PCの時計が大きくずれています。日付と時刻を正しく設定してください（証明書の確認と「今日」の判定に必要です）。",
            "The PC clock is far off. Set the correct date and time (needed for certificate checks and for \"today\").",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::testing::SimAccess;

    /// Issue 17: what this PC holds for a shared store is reported with the
    /// server's state — while it is down, that checks go on and are sent
    /// later; once it is back, a queue that stays is a problem to look at.
    #[test]
    fn queued_results_are_reported_with_what_to_do() {
        let down = Finding::bad("store", Bilingual::new("共有データベースのサーバーに接続できません。", "Cannot reach the shared database server."));
        let up = Finding::ok("store", "共有データベースに接続できます。", "The shared database is reachable.");
        assert_eq!(with_queue(up.clone(), Ok((0, 0))), up);
        assert_eq!(with_queue(down.clone(), Ok((0, 0))), down);
        let f = with_queue(down, Ok((3, 5)));
        assert!(f.problem);
        assert!(f.text.ja.contains("未送信の結果が 3 件（監査記録 5 件）") && f.text.ja.contains("自動で送ります"), "{:?}", f.text);
        assert!(f.text.en.contains("3 results (5 audit entries) are queued"), "{:?}", f.text);
        let f = with_queue(up, Ok((2, 0)));
        assert!(f.problem, "a queue while the server answers: the service is not sending it");
        assert!(f.text.ja.contains("再起動") && f.text.en.contains("restart the service"), "{:?}", f.text);
    }

    #[tokio::test]
    async fn every_broken_link_is_one_actionable_problem() {
        let home = tempfile::tempdir().unwrap();
        let env = Env::with_home(home.path());
        let card = SimAccess::new(3);
        let findings = examine(Inputs {
            config: Err(ConfigError::NotFound { path: home.path().join("helper.toml") }),
            socket: Ok(home.path().join("nobody.sock")),
            env: &env,
            os: Os::Linux,
            // A Linux path whatever the host (the plan for Linux wants one).
            exe: PathBuf::from("/opt/onshi/onshi-helper"),
            card: &card,
            now_secs: 0,
        })
        .await;
        let problems: Vec<_> = findings.iter().filter(|f| f.problem).map(|f| f.link).collect();
        assert_eq!(problems, ["config", "service", "manifest", "autostart", "backend", "clock"], "{findings:#?}");
        for f in &findings {
            assert!(!f.text.ja.is_empty() && !f.text.en.is_empty());
        }
        // The card link is fine: a My Number card with 3 tries, and doctor sent no PIN.
        assert!(findings.iter().any(|f| f.link == "card" && !f.problem && f.text.en.contains("3 PIN tries")));
        assert!(!card.card.lock().unwrap().sent_pin());
        assert!(!clock(1_800_000_000).problem);
    }

    /// Windows: the manifests are wherever the registry's keys point, their
    /// relative `path` is read against their folder, and the `Run` value
    /// counts when the program it starts exists. Planned for Windows on
    /// Linux, with a map for the registry.
    #[test]
    fn windows_registration_is_read_through_the_registry() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in ["onshi-helper.exe", "onshi-helper-start.exe"] {
            std::fs::write(d.join(f), b"").unwrap();
        }
        std::fs::write(d.join("jp.onshi.helper.json"), r#"{"name":"jp.onshi.helper","path":"onshi-helper.exe"}"#).unwrap();
        std::fs::write(d.join("old.json"), r#"{"name":"jp.onshi.helper","path":"gone.exe"}"#).unwrap();
        let key = |vendor: &str| format!(r"HKEY_CURRENT_USER\Software\{vendor}\NativeMessagingHosts\jp.onshi.helper");
        let run = r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run".to_owned();
        let mut reg = std::collections::HashMap::new();
        reg.insert((key(r"Google\Chrome"), String::new()), d.join("jp.onshi.helper.json").display().to_string());
        reg.insert((key(r"Microsoft\Edge"), String::new()), d.join("old.json").display().to_string());
        reg.insert((run.clone(), "OnshiHelper".to_owned()), format!("\"{}\"", d.join("onshi-helper-start.exe").display()));
        let read = |k: &str, n: &str| reg.get(&(k.to_owned(), n.to_owned())).cloned();
        let env = Env { local_appdata: Some(d.join("local")), ..Env::default() };
        let exe = Path::new(r"C:\Onshi\onshi-helper.exe");

        let m = manifests(&env, Os::Windows, exe, &read);
        let summary: Vec<_> = m.iter().map(|f| (f.problem, f.text.en.split(' ').nth(3).unwrap_or("").to_owned())).collect();
        assert_eq!(m.len(), 2, "{m:#?}");
        assert!(m.iter().any(|f| !f.problem && f.text.en.contains("chrome")), "{summary:?}");
        assert!(m.iter().any(|f| f.problem && f.text.en.contains("old.json")), "{summary:?}");
        let a = autostart(&env, Os::Windows, exe, &read);
        assert!(matches!(&a[..], [f] if !f.problem && f.text.en.contains(r"Run\OnshiHelper")), "{a:#?}");

        // Nothing registered: both links are problems that say what to run.
        let none = |_: &str, _: &str| None;
        assert!(matches!(&manifests(&env, Os::Windows, exe, &none)[..], [f] if f.problem && f.text.en.contains("onshi-helper install")));
        assert!(matches!(&autostart(&env, Os::Windows, exe, &none)[..], [f] if f.problem));
        assert_eq!(run_program(r#""C:\a b\x.exe" service"#).as_deref(), Some(r"C:\a b\x.exe"));
        assert_eq!(run_program(r"C:\x.exe service").as_deref(), Some(r"C:\x.exe"));
    }

    /// No smart-card service: the finding tells IT how to start it on this
    /// OS, instead of the receptionist's "ask IT to run doctor".
    #[test]
    fn a_stopped_smart_card_service_says_how_to_start_it() {
        struct NoService;
        impl CardAccess for NoService {
            fn with_card(&self, _: Option<&str>, _: crate::card::access::FlowFn<'_>) -> Result<(), CardError> {
                Err(CardError::ServiceNotRunning)
            }
            fn readers(&self) -> Result<Vec<crate::card::transport::Reader>, CardError> {
                Err(CardError::ServiceNotRunning)
            }
        }
        for (os, ja, en) in [(Os::Linux, "systemctl", "systemctl"), (Os::Windows, "SCardSvr", "SCardSvr"), (Os::MacOs, "挿し直し", "Plug the reader")] {
            let f = card(&NoService, os);
            assert_eq!((f.len(), f[0].link, f[0].problem), (1, "pcsc", true));
            assert!(f[0].text.ja.contains(ja) && f[0].text.en.contains(en), "{:?}", f[0].text);
            assert!(!f[0].text.ja.contains("doctor"), "not circular: {}", f[0].text.ja);
        }
    }
}
