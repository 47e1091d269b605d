//! `install` / `uninstall`: native-messaging host manifests for Chrome,
//! Chromium, Edge and Firefox, and the start-at-login entry for the
//! service. Planning is pure (paths and file contents from an [`Env`], an
//! [`Os`] and the options), so every OS's output is tested on Linux;
//! [`apply`] and [`remove`] are the only functions that touch the disk.
//!
//! Manifest locations (file name `jp.onshi.helper.json`):
//!
//! | OS / scope     | Chrome | Chromium | Edge | Firefox |
//! |----------------|--------|----------|------|---------|
//! | Linux user     | `$XDG_CONFIG_HOME/google-chrome/NativeMessagingHosts` | `…/chromium/NativeMessagingHosts` | `…/microsoft-edge/NativeMessagingHosts` | `~/.mozilla/native-messaging-hosts` |
//! | Linux system   | `/etc/opt/chrome/native-messaging-hosts` | `/etc/chromium/native-messaging-hosts` | `/etc/opt/edge/native-messaging-hosts` | `/usr/lib/mozilla/native-messaging-hosts` |
//! | macOS user     | `~/Library/Application Support/Google/Chrome/NativeMessagingHosts` | `…/Chromium/NativeMessagingHosts` | `…/Microsoft Edge/NativeMessagingHosts` | `…/Mozilla/NativeMessagingHosts` |
//! | macOS system   | `/Library/Google/Chrome/NativeMessagingHosts` | `/Library/Application Support/Chromium/NativeMessagingHosts` | `/Library/Microsoft/Edge/NativeMessagingHosts` | `/Library/Application Support/Mozilla/NativeMessagingHosts` |
//! | Windows        | a file under `%LOCALAPPDATA%\onshi\NativeMessagingHosts\<browser>\` (system: next to the exe), registered by the default value of `HKCU` (system: `HKLM`) `\Software\{Google\Chrome,Chromium,Microsoft\Edge,Mozilla}\NativeMessagingHosts\jp.onshi.helper` (written through [`crate::platform::registry`]) |
//! | `--profile-dir DIR` | `DIR/NativeMessagingHosts` for the Chromium family (a custom `--user-data-dir` reads only that); Firefox still uses `~/.mozilla`, which it finds through `$HOME` |
//!
//! Start at login: Linux writes a systemd user unit `onshi-helper.service`
//! (enabled by the `default.target.wants` link, as `systemctl --user enable`
//! would) and an XDG autostart `onshi-helper.desktop` for sessions without
//! systemd; both run `onshi-helper service`, which must exit quietly when
//! another instance already runs. macOS gets a LaunchAgent plist, Windows
//! the `Run` registry value `OnshiHelper`. With `--profile-dir` (tests,
//! demo) no start-at-login entry is written.

use std::path::{Path, PathBuf};

use onshi_core::text::{Bilingual, Explain};

use crate::browser::{Browser, Family};
use crate::paths::{Env, Os, PathError};
use crate::platform::registry;
use crate::store::ExtensionId;

/// The native-messaging host name the extension connects to.
pub const HOST_NAME: &str = "jp.onshi.helper";
pub const MANIFEST_FILE: &str = "jp.onshi.helper.json";

/// Whether a file name is one of our manifests: [`MANIFEST_FILE`], or a
/// per-family variant `jp.onshi.helper.<family>.json` (the MSI keeps both
/// families' manifests in one folder, so they cannot share a name).
pub fn is_our_manifest_name(name: &str) -> bool {
    name == MANIFEST_FILE || name.strip_prefix(HOST_NAME).is_some_and(|rest| rest.starts_with('.') && rest.ends_with(".json"))
}
/// The Firefox add-on id (`browser_specific_settings.gecko.id`).
pub const FIREFOX_EXTENSION_ID: &str = "onshi-bridge@onshi.example";
/// The Chromium extension id baked in at build time from
/// `extension/extension-id.txt`, when that file exists.
pub const BUILT_IN_EXTENSION_ID: Option<&str> = option_env!("ONSHI_EXTENSION_ID");
/// The name of the start-at-login entries.
pub const SERVICE_NAME: &str = "onshi-helper";
const DESCRIPTION: &str = "Onshi reception helper (オンライン資格確認ヘルパー)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The current user's folders (default).
    User,
    /// Machine-wide folders; needs administrator rights.
    System,
    /// A Chromium `--user-data-dir`; no start-at-login entry.
    ProfileDir(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    pub browsers: Vec<Browser>,
    pub scope: Scope,
    /// Required when a Chromium-family browser is among `browsers`.
    pub extension_id: Option<ExtensionId>,
    /// The helper binary the manifests and the autostart entry start.
    pub exe: PathBuf,
    pub autostart: bool,
}

/// What a planned entry is, for messages and for safe removal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Manifest(Family),
    SystemdUnit,
    SystemdEnableLink,
    XdgAutostart,
    LaunchAgent,
    /// A browser's registry key whose default value is a manifest's path (Windows).
    ManifestKey,
    /// The `Run` value that starts the service at sign-in (Windows).
    RunValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    File(String),
    /// A symbolic link pointing at the given target.
    Symlink(PathBuf),
    /// A string value in the registry key `Planned::path` (`name` "" is the
    /// key's default value).
    RegistryValue { name: String, data: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// A file, or for registry entries the full key (`HKEY_CURRENT_USER\…`).
    pub path: PathBuf,
    pub purpose: Purpose,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("no Chromium extension id: pass --extension-id")]
    NoExtensionId,
    #[error("{id} is not a Chromium extension id (32 letters a-p)")]
    NotChromiumId { id: String },
    #[error("the helper path {path} is not absolute")]
    ExeNotAbsolute { path: PathBuf },
    #[error("the helper path {path} is not valid UTF-8")]
    ExeNotUtf8 { path: PathBuf },
    #[error("cannot {op} {path}: {reason}")]
    Io { op: &'static str, path: PathBuf, reason: String },
    #[error("the registry refused: {reason}")]
    Registry { reason: String },
}

impl Explain for InstallError {
    fn explain(&self) -> Bilingual {
        match self {
            InstallError::Path(e) => e.explain(),
            InstallError::NoExtensionId => Bilingual::new(
                "拡張機能のIDが分かりません。--extension-id に chrome://extensions に表示される32文字のIDを指定してください。",
                "The extension id is unknown; pass --extension-id with the 32-letter id shown on chrome://extensions.",
            ),
            InstallError::NotChromiumId { id } => Bilingual::new(
                format!("「{id}」はChrome系の拡張機能IDではありません（a〜pの32文字）。chrome://extensions でIDを確認してください。"),
                format!("{id:?} is not a Chromium extension id (32 letters a-p); check the id on chrome://extensions."),
            ),
            InstallError::ExeNotAbsolute { path } => Bilingual::new(
                format!("ヘルパーのパス {} が絶対パスではありません。--exe に絶対パスを指定してください。", path.display()),
                format!("The helper path {} is not absolute; pass an absolute path with --exe.", path.display()),
            ),
            InstallError::ExeNotUtf8 { path } => Bilingual::new(
                format!("ヘルパーのパス {} に扱えない文字が含まれています。英数字のみのフォルダーに置いてください。", path.display()),
                format!("The helper path {} contains characters that cannot be written to a manifest; move it to a plain folder.", path.display()),
            ),
            InstallError::Io { op, path, reason } => Bilingual::new(
                format!("{} の処理（{op}）に失敗しました（{reason}）。権限を確認し、システム全体なら管理者として実行してください。", path.display()),
                format!("Could not {op} {} ({reason}); check permissions, and run as administrator for --system.", path.display()),
            ),
            InstallError::Registry { reason } => Bilingual::new(
                format!("レジストリへの登録に失敗しました（{reason}）。--system の場合は管理者として実行してください。"),
                format!("Registering in the Windows registry failed ({reason}); run as administrator for --system."),
            ),
        }
    }
}

/// The folder where `browser` looks for host manifests.
pub fn manifest_dir(browser: Browser, scope: &Scope, os: Os, env: &Env, exe: &Path) -> Result<PathBuf, PathError> {
    use Browser::*;
    if let (Scope::ProfileDir(dir), Family::Chromium) = (scope, browser.family()) {
        return Ok(dir.join("NativeMessagingHosts"));
    }
    let system = *scope == Scope::System;
    Ok(match (os, system) {
        (Os::Linux, false) => match browser {
            Chrome => env.config_home()?.join("google-chrome/NativeMessagingHosts"),
            Chromium => env.config_home()?.join("chromium/NativeMessagingHosts"),
            Edge => env.config_home()?.join("microsoft-edge/NativeMessagingHosts"),
            Firefox => env.home()?.join(".mozilla/native-messaging-hosts"),
        },
        (Os::Linux, true) => PathBuf::from(match browser {
            Chrome => "/etc/opt/chrome/native-messaging-hosts",
            Chromium => "/etc/chromium/native-messaging-hosts",
            Edge => "/etc/opt/edge/native-messaging-hosts",
            Firefox => "/usr/lib/mozilla/native-messaging-hosts",
        }),
        (Os::MacOs, false) => env.home()?.join("Library/Application Support").join(match browser {
            Chrome => "Google/Chrome/NativeMessagingHosts",
            Chromium => "Chromium/NativeMessagingHosts",
            Edge => "Microsoft Edge/NativeMessagingHosts",
            Firefox => "Mozilla/NativeMessagingHosts",
        }),
        (Os::MacOs, true) => PathBuf::from(match browser {
            Chrome => "/Library/Google/Chrome/NativeMessagingHosts",
            Chromium => "/Library/Application Support/Chromium/NativeMessagingHosts",
            Edge => "/Library/Microsoft/Edge/NativeMessagingHosts",
            Firefox => "/Library/Application Support/Mozilla/NativeMessagingHosts",
        }),
        // Windows finds manifests through the registry, so the file may
        // live anywhere; one folder per browser keeps uninstall simple.
        (Os::Windows, false) => env
            .local_appdata
            .clone()
            .ok_or(PathError { var: "LOCALAPPDATA" })?
            .join("onshi")
            .join("NativeMessagingHosts")
            .join(browser.as_str()),
        (Os::Windows, true) => exe.parent().unwrap_or(Path::new(".")).join("NativeMessagingHosts").join(browser.as_str()),
    })
}

/// The registry key (below HKCU or HKLM) that points `browser` at its manifest.
pub fn windows_manifest_key(browser: Browser) -> String {
    let vendor = match browser {
        Browser::Chrome => r"Google\Chrome",
        Browser::Chromium => "Chromium",
        Browser::Edge => r"Microsoft\Edge",
        Browser::Firefox => "Mozilla",
    };
    format!(r"Software\{vendor}\NativeMessagingHosts\{HOST_NAME}")
}

pub const WINDOWS_RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
pub const WINDOWS_RUN_VALUE: &str = "OnshiHelper";

/// A host manifest; fields in the order the browser documentation shows
/// them, so an IT person reading the file finds `name` and `path` first.
#[derive(serde::Serialize)]
struct Manifest<'a> {
    name: &'a str,
    description: &'a str,
    path: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_origins: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    allowed_extensions: Option<Vec<&'a str>>,
}

/// The manifest text for one browser family.
pub fn manifest_json(family: Family, exe: &str, chromium_id: Option<&ExtensionId>) -> String {
    let (allowed_origins, allowed_extensions) = match family {
        Family::Chromium => (Some(chromium_id.map(|id| format!("chrome-extension://{id}/")).into_iter().collect()), None),
        Family::Firefox => (None, Some(vec![FIREFOX_EXTENSION_ID])),
    };
    let m = Manifest { name: HOST_NAME, description: DESCRIPTION, path: exe, kind: "stdio", allowed_origins, allowed_extensions };
    // Serialising plain strings cannot fail.
    let mut text = serde_json::to_string_pretty(&m).unwrap_or_default();
    text.push('\n');
    text
}

/// Quotes one argument for systemd's `ExecStart=` (and escapes `%`, which
/// systemd would expand as a specifier).
fn systemd_quote(arg: &str) -> String {
    let escaped = arg.replace('\\', "\\\\").replace('"', "\\\"").replace('%', "%%");
    format!("\"{escaped}\"")
}

/// The systemd user unit that runs the service at login.
pub fn systemd_unit(exe: &str) -> String {
    format!(
        "[Unit]\n\
         Description={DESCRIPTION}\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={} service\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        systemd_quote(exe)
    )
}

/// Quotes one argument for a desktop entry's `Exec=` key: the Exec rules
/// (backslash-escape `"`, `` ` ``, `$`, `\` inside quotes; `%` doubled),
/// then the desktop-file string rule that doubles backslashes again.
fn desktop_quote(arg: &str) -> String {
    let mut inner = String::new();
    for c in arg.chars() {
        if matches!(c, '"' | '`' | '$' | '\\') {
            inner.push('\\');
        }
        if c == '%' {
            inner.push('%');
        }
        inner.push(c);
    }
    format!("\"{inner}\"").replace('\\', "\\\\")
}

/// The XDG autostart entry, for desktop sessions without systemd.
pub fn xdg_autostart(exe: &str) -> String {
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=Onshi reception helper\n\
         Name[ja]=オンライン資格確認ヘルパー\n\
         Comment=Card reader and eligibility backend for the reception page\n\
         Comment[ja]=受付画面のためのカードリーダーと資格確認の連携\n\
         Exec={} service\n\
         Terminal=false\n\
         NoDisplay=true\n\
         X-GNOME-Autostart-enabled=true\n",
        desktop_quote(exe)
    )
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The macOS LaunchAgent (`~/Library/LaunchAgents/jp.onshi.helper.plist`).
pub fn launch_agent_plist(exe: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{HOST_NAME}</string>
  <key>ProgramArguments</key>
  <array>
    <string>{}</string>
    <string>service</string>
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ProcessType</key>
  <string>Interactive</string>
</dict>
</plist>
"#,
        xml_escape(exe)
    )
}

/// The windowless starter (`helper/src/bin/onshi-helper-start.rs`), which
/// lives beside the helper.
pub const WINDOWS_STARTER: &str = "onshi-helper-start.exe";

/// The command line stored in the Windows `Run` value: the starter, not
/// `onshi-helper service`, whose console window would stay on the reception
/// screen for as long as the service runs.
pub fn windows_run_command(starter: &str) -> String {
    format!("\"{starter}\"")
}

/// The starter's full path beside `exe` (a Windows path, as text: plans are
/// made on Linux too).
fn windows_starter_beside(exe: &str) -> String {
    match exe.rfind(['\\', '/']) {
        Some(i) => format!("{}{WINDOWS_STARTER}", &exe[..=i]),
        None => WINDOWS_STARTER.to_owned(),
    }
}

/// What a Windows installer package writes, for `cargo xtask package` (the
/// MSI): each family's manifest naming `exe_file` relative to the manifest
/// (the package puts both in one folder), the key below the hive for each
/// browser, and the `Run` value naming `starter` (the installer's own
/// reference to the file). The MSI builder decides nothing of this itself.
pub fn windows_package_parts(exe_file: &str, starter: &str, chromium_id: Option<&ExtensionId>) -> serde_json::Value {
    // Chromium first: its file keeps the plain name.
    let manifests: Vec<serde_json::Value> = [Family::Chromium, Family::Firefox]
        .into_iter()
        .map(|f| {
            let file = if f == Family::Chromium { MANIFEST_FILE.to_owned() } else { format!("{HOST_NAME}.{}.json", family_name(f)) };
            serde_json::json!({ "family": family_name(f), "file": file, "text": manifest_json(f, exe_file, chromium_id) })
        })
        .collect();
    let keys: Vec<serde_json::Value> = Browser::ALL
        .iter()
        .map(|&b| serde_json::json!({ "browser": b.as_str(), "family": family_name(b.family()), "key": windows_manifest_key(b) }))
        .collect();
    serde_json::json!({
        "manifests": manifests,
        "manifest_keys": keys,
        "run": { "key": WINDOWS_RUN_KEY, "name": WINDOWS_RUN_VALUE, "command": windows_run_command(starter) },
    })
}

fn family_name(f: Family) -> &'static str {
    match f {
        Family::Chromium => "chromium",
        Family::Firefox => "firefox",
    }
}

fn exe_text(exe: &Path, os: Os) -> Result<String, InstallError> {
    let text = exe.to_str().ok_or_else(|| InstallError::ExeNotUtf8 { path: exe.to_owned() })?;
    // Checked by text, not Path::is_absolute, so Windows paths are judged
    // correctly when planned on Linux.
    let absolute = match os {
        Os::Windows => {
            let b = text.as_bytes();
            text.starts_with(r"\\") || (b.len() > 2 && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
        }
        _ => text.starts_with('/'),
    };
    if absolute { Ok(text.to_owned()) } else { Err(InstallError::ExeNotAbsolute { path: exe.to_owned() }) }
}

fn autostart_entries(scope: &Scope, os: Os, env: &Env, exe: &str) -> Result<Vec<Planned>, InstallError> {
    let system = *scope == Scope::System;
    let mut out = Vec::new();
    match os {
        Os::Linux => {
            let (units, autostart) = if system {
                (PathBuf::from("/etc/systemd/user"), PathBuf::from("/etc/xdg/autostart"))
            } else {
                let cfg = env.config_home()?;
                (cfg.join("systemd/user"), cfg.join("autostart"))
            };
            let unit = format!("{SERVICE_NAME}.service");
            out.push(Planned { path: units.join(&unit), purpose: Purpose::SystemdUnit, content: Content::File(systemd_unit(exe)) });
            out.push(Planned {
                path: units.join("default.target.wants").join(&unit),
                purpose: Purpose::SystemdEnableLink,
                content: Content::Symlink(PathBuf::from("..").join(&unit)),
            });
            out.push(Planned {
                path: autostart.join(format!("{SERVICE_NAME}.desktop")),
                purpose: Purpose::XdgAutostart,
                content: Content::File(xdg_autostart(exe)),
            });
        }
        Os::MacOs => {
            let dir = if system { PathBuf::from("/Library/LaunchAgents") } else { env.home()?.join("Library/LaunchAgents") };
            out.push(Planned {
                path: dir.join(format!("{HOST_NAME}.plist")),
                purpose: Purpose::LaunchAgent,
                content: Content::File(launch_agent_plist(exe)),
            });
        }
        Os::Windows => out.push(Planned {
            path: PathBuf::from(format!(r"{}\{WINDOWS_RUN_KEY}", windows_hive(system))),
            purpose: Purpose::RunValue,
            content: Content::RegistryValue { name: WINDOWS_RUN_VALUE.into(), data: windows_run_command(&windows_starter_beside(exe)) },
        }),
    }
    Ok(out)
}

fn windows_hive(system: bool) -> &'static str {
    if system { "HKEY_LOCAL_MACHINE" } else { "HKEY_CURRENT_USER" }
}

/// Everything `install` would write, without writing it.
pub fn plan_install(opts: &InstallOptions, os: Os, env: &Env) -> Result<Vec<Planned>, InstallError> {
    let exe = exe_text(&opts.exe, os)?;
    let wants_chromium = opts.browsers.iter().any(|b| b.family() == Family::Chromium);
    let chromium_id = match (&opts.extension_id, wants_chromium) {
        (_, false) => None,
        (Some(id), true) if id.is_chromium() => Some(id),
        (Some(id), true) => return Err(InstallError::NotChromiumId { id: id.to_string() }),
        (None, true) => return Err(InstallError::NoExtensionId),
    };
    let mut out: Vec<Planned> = Vec::new();
    let mut keys = Vec::new();
    for &b in &opts.browsers {
        let path = manifest_dir(b, &opts.scope, os, env, &opts.exe)?.join(MANIFEST_FILE);
        // Chrome, Chromium and Edge share one folder under --profile-dir.
        if out.iter().any(|p| p.path == path) {
            continue;
        }
        // Windows browsers find manifests only through the registry.
        if os == Os::Windows {
            keys.push(Planned {
                path: PathBuf::from(format!(r"{}\{}", windows_hive(opts.scope == Scope::System), windows_manifest_key(b))),
                purpose: Purpose::ManifestKey,
                content: Content::RegistryValue { name: String::new(), data: path.to_string_lossy().into_owned() },
            });
        }
        let json = manifest_json(b.family(), &exe, chromium_id);
        out.push(Planned { path, purpose: Purpose::Manifest(b.family()), content: Content::File(json) });
    }
    out.extend(keys);
    let autostart = opts.autostart && !matches!(opts.scope, Scope::ProfileDir(_));
    if autostart {
        out.extend(autostart_entries(&opts.scope, os, env, &exe)?);
    }
    Ok(out)
}

/// Everything `uninstall` would remove (all browsers' manifests and the
/// start-at-login entries of `scope`).
pub fn plan_uninstall(browsers: &[Browser], scope: &Scope, os: Os, env: &Env, exe: &Path) -> Result<Vec<Planned>, InstallError> {
    let opts = InstallOptions {
        browsers: browsers.to_vec(),
        scope: scope.clone(),
        // Any valid id: the contents are not written, only the paths matter.
        extension_id: ExtensionId::new("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").ok(),
        exe: exe.to_owned(),
        autostart: true,
    };
    plan_install(&opts, os, env)
}

/// What happened to one planned path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Wrote(PathBuf),
    Removed(PathBuf),
    /// Nothing was there.
    Absent(PathBuf),
    /// A file is there but was not written by this helper; left alone.
    NotOurs(PathBuf),
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl Fn(std::io::Error) -> InstallError + 'a {
    move |e| InstallError::Io { op, path: path.to_owned(), reason: e.to_string() }
}

/// Writes the plan: folders are created, files are written to a temporary
/// name and renamed so a browser never reads half a manifest.
pub fn apply(plan: &[Planned]) -> Result<Vec<Done>, InstallError> {
    let mut done = Vec::new();
    for p in plan {
        if let (Some(dir), false) = (p.path.parent(), matches!(p.content, Content::RegistryValue { .. })) {
            std::fs::create_dir_all(dir).map_err(io("create folder", dir))?;
        }
        match &p.content {
            Content::File(text) => {
                let tmp = p.path.with_extension("tmp-onshi");
                std::fs::write(&tmp, text).map_err(io("write", &tmp))?;
                std::fs::rename(&tmp, &p.path).map_err(io("rename into place", &p.path))?;
            }
            Content::Symlink(target) => {
                if std::fs::symlink_metadata(&p.path).is_ok() {
                    std::fs::remove_file(&p.path).map_err(io("replace", &p.path))?;
                }
                crate::platform::symlink(target, &p.path).map_err(io("link", &p.path))?;
            }
            Content::RegistryValue { name, data } => registry::set(&p.path.to_string_lossy(), name, data)?,
        }
        done.push(Done::Wrote(p.path.clone()));
    }
    Ok(done)
}

/// Removes what the plan names, but only entries this helper wrote: a
/// manifest must name our host, other files must mention `onshi-helper`.
pub fn remove(plan: &[Planned]) -> Result<Vec<Done>, InstallError> {
    let mut done = Vec::new();
    for p in plan {
        if let Content::RegistryValue { name, .. } = &p.content {
            done.push(remove_registry(p, name)?);
            continue;
        }
        let meta = match std::fs::symlink_metadata(&p.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                done.push(Done::Absent(p.path.clone()));
                continue;
            }
            Err(e) => return Err(io("inspect", &p.path)(e)),
        };
        let ours = if p.purpose == Purpose::SystemdEnableLink {
            meta.file_type().is_symlink()
        } else {
            let text = std::fs::read_to_string(&p.path).unwrap_or_default();
            match p.purpose {
                Purpose::Manifest(_) => serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .is_some_and(|v| v.get("name").and_then(|n| n.as_str()) == Some(HOST_NAME)),
                _ => text.contains(SERVICE_NAME) || text.contains(HOST_NAME),
            }
        };
        if ours {
            std::fs::remove_file(&p.path).map_err(io("remove", &p.path))?;
            done.push(Done::Removed(p.path.clone()));
        } else {
            done.push(Done::NotOurs(p.path.clone()));
        }
    }
    Ok(done)
}

/// Removes one registry entry if it is ours: a manifest key whose default
/// value names one of our manifests, or a `Run` value that starts this helper.
fn remove_registry(p: &Planned, name: &str) -> Result<Done, InstallError> {
    let key = p.path.to_string_lossy();
    let Some(current) = registry::get(&key, name)? else { return Ok(Done::Absent(p.path.clone())) };
    let ours = match p.purpose {
        Purpose::ManifestKey => Path::new(&current).file_name().and_then(|n| n.to_str()).is_some_and(is_our_manifest_name),
        _ => current.contains(SERVICE_NAME),
    };
    if !ours {
        return Ok(Done::NotOurs(p.path.clone()));
    }
    match p.purpose {
        Purpose::ManifestKey => registry::delete(&key, None)?,
        _ => registry::delete(&key, Some(name))?,
    }
    Ok(Done::Removed(p.path.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "abcdefghijklmnopabcdefghijklmnop";

    fn opts(scope: Scope, exe: &str) -> InstallOptions {
        InstallOptions {
            browsers: Browser::ALL.to_vec(),
            scope,
            extension_id: Some(ExtensionId::new(ID).unwrap()),
            exe: exe.into(),
            autostart: true,
        }
    }

    /// The planned paths with `/` between components: a Linux or macOS plan
    /// made on Windows (the unit tests run there too) joins with `\`, and
    /// these tests are about the folders, not the host's separator.
    fn paths(plan: &[Planned]) -> Vec<String> {
        plan.iter().map(|p| p.path.to_string_lossy().replace('\\', "/")).collect()
    }

    #[test]
    fn linux_user_and_system_locations() {
        let env = Env::with_home(Path::new("/home/u"));
        let user = plan_install(&opts(Scope::User, "/opt/onshi/onshi-helper"), Os::Linux, &env).unwrap();
        assert_eq!(
            paths(&user),
            [
                "/home/u/.config/google-chrome/NativeMessagingHosts/jp.onshi.helper.json",
                "/home/u/.config/chromium/NativeMessagingHosts/jp.onshi.helper.json",
                "/home/u/.config/microsoft-edge/NativeMessagingHosts/jp.onshi.helper.json",
                "/home/u/.mozilla/native-messaging-hosts/jp.onshi.helper.json",
                "/home/u/.config/systemd/user/onshi-helper.service",
                "/home/u/.config/systemd/user/default.target.wants/onshi-helper.service",
                "/home/u/.config/autostart/onshi-helper.desktop",
            ]
        );
        let system = plan_install(&opts(Scope::System, "/opt/onshi/onshi-helper"), Os::Linux, &env).unwrap();
        assert_eq!(
            paths(&system)[..4],
            [
                "/etc/opt/chrome/native-messaging-hosts/jp.onshi.helper.json",
                "/etc/chromium/native-messaging-hosts/jp.onshi.helper.json",
                "/etc/opt/edge/native-messaging-hosts/jp.onshi.helper.json",
                "/usr/lib/mozilla/native-messaging-hosts/jp.onshi.helper.json",
            ]
        );
        assert_eq!(paths(&system)[4], "/etc/systemd/user/onshi-helper.service");
    }

    #[test]
    fn profile_dir_gets_one_chromium_manifest_and_no_autostart() {
        let env = Env::with_home(Path::new("/home/u"));
        let plan = plan_install(&opts(Scope::ProfileDir("/tmp/prof".into()), "/opt/onshi-helper"), Os::Linux, &env).unwrap();
        assert_eq!(
            paths(&plan),
            ["/tmp/prof/NativeMessagingHosts/jp.onshi.helper.json", "/home/u/.mozilla/native-messaging-hosts/jp.onshi.helper.json"]
        );
    }

    #[test]
    fn manifests_per_family() {
        let id = ExtensionId::new(ID).unwrap();
        let chrome: serde_json::Value = serde_json::from_str(&manifest_json(Family::Chromium, "/opt/h", Some(&id))).unwrap();
        assert_eq!(chrome["name"], HOST_NAME);
        assert_eq!(chrome["path"], "/opt/h");
        assert_eq!(chrome["type"], "stdio");
        assert_eq!(chrome["allowed_origins"], serde_json::json!([format!("chrome-extension://{ID}/")]));
        assert!(chrome.get("allowed_extensions").is_none());
        assert!(manifest_json(Family::Chromium, "/opt/h", Some(&id)).starts_with("{\n  \"name\": \"jp.onshi.helper\",\n"));
        let ff: serde_json::Value = serde_json::from_str(&manifest_json(Family::Firefox, "/opt/h", None)).unwrap();
        assert_eq!(ff["allowed_extensions"], serde_json::json!([FIREFOX_EXTENSION_ID]));
        assert!(ff.get("allowed_origins").is_none(), "Firefox rejects allowed_origins");
    }

    #[test]
    fn extension_id_and_exe_are_checked() {
        let env = Env::with_home(Path::new("/home/u"));
        let mut o = opts(Scope::User, "/opt/h");
        o.extension_id = None;
        assert_eq!(plan_install(&o, Os::Linux, &env), Err(InstallError::NoExtensionId));
        o.browsers = vec![Browser::Firefox];
        assert!(plan_install(&o, Os::Linux, &env).is_ok(), "Firefox alone needs no Chromium id");
        o.browsers = vec![Browser::Chrome];
        o.extension_id = Some(ExtensionId::new("x@y.example").unwrap());
        assert!(matches!(plan_install(&o, Os::Linux, &env), Err(InstallError::NotChromiumId { .. })));
        let rel = opts(Scope::User, "target/onshi-helper");
        assert!(matches!(plan_install(&rel, Os::Linux, &env), Err(InstallError::ExeNotAbsolute { .. })));
    }

    #[test]
    fn macos_locations_and_launch_agent() {
        let env = Env::with_home(Path::new("/Users/u"));
        let plan = plan_install(&opts(Scope::User, "/Applications/Onshi/onshi-helper"), Os::MacOs, &env).unwrap();
        assert_eq!(
            paths(&plan),
            [
                "/Users/u/Library/Application Support/Google/Chrome/NativeMessagingHosts/jp.onshi.helper.json",
                "/Users/u/Library/Application Support/Chromium/NativeMessagingHosts/jp.onshi.helper.json",
                "/Users/u/Library/Application Support/Microsoft Edge/NativeMessagingHosts/jp.onshi.helper.json",
                "/Users/u/Library/Application Support/Mozilla/NativeMessagingHosts/jp.onshi.helper.json",
                "/Users/u/Library/LaunchAgents/jp.onshi.helper.plist",
            ]
        );
        let plist = launch_agent_plist("/Apps/A&B/onshi-helper");
        assert!(plist.contains("<string>/Apps/A&amp;B/onshi-helper</string>\n    <string>service</string>"));
        assert!(plist.contains("<key>RunAtLoad</key>\n  <true/>"));
    }

    #[test]
    fn windows_registry_entries() {
        let env = Env { local_appdata: Some(r"C:\Users\u\AppData\Local".into()), ..Env::default() };
        let plan = plan_install(&opts(Scope::User, r"C:\Program Files\Onshi\onshi-helper.exe"), Os::Windows, &env).unwrap();
        let keys: Vec<_> = plan.iter().filter(|p| p.purpose == Purpose::ManifestKey).collect();
        assert_eq!(keys.len(), 4, "one key per browser");
        let chrome = keys.iter().find(|p| p.path.to_string_lossy().contains(r"Google\Chrome")).unwrap();
        assert_eq!(chrome.path.to_string_lossy(), r"HKEY_CURRENT_USER\Software\Google\Chrome\NativeMessagingHosts\jp.onshi.helper");
        let Content::RegistryValue { name, data } = &chrome.content else { panic!() };
        assert_eq!(name, "");
        // The key points at the manifest file this same plan writes.
        assert!(plan.iter().any(|p| p.path.to_string_lossy() == *data && matches!(p.purpose, Purpose::Manifest(_))), "{data}");
        let run = plan.iter().find(|p| p.purpose == Purpose::RunValue).unwrap();
        assert_eq!(run.path.to_string_lossy(), r"HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run");
        assert_eq!(
            run.content,
            Content::RegistryValue { name: "OnshiHelper".into(), data: r#""C:\Program Files\Onshi\onshi-helper-start.exe""#.into() }
        );
        let system = plan_install(&opts(Scope::System, r"C:\Program Files\Onshi\onshi-helper.exe"), Os::Windows, &env).unwrap();
        assert!(system.iter().filter(|p| matches!(p.content, Content::RegistryValue { .. })).all(|p| p.path.to_string_lossy().starts_with("HKEY_LOCAL_MACHINE")));
        let rel = opts(Scope::User, r"onshi-helper.exe");
        assert!(matches!(plan_install(&rel, Os::Windows, &env), Err(InstallError::ExeNotAbsolute { .. })));
    }

    #[test]
    fn windows_package_parts_name_the_exe_relative_and_the_starter() {
        let id = ExtensionId::new(ID).unwrap();
        let parts = windows_package_parts("onshi-helper.exe", "[#starter]", Some(&id));
        let [chromium, firefox] = parts["manifests"].as_array().unwrap().as_slice() else { panic!("{parts}") };
        assert_eq!((&chromium["family"], &chromium["file"]), (&"chromium".into(), &MANIFEST_FILE.into()));
        assert_eq!(firefox["file"], "jp.onshi.helper.firefox.json");
        assert!(is_our_manifest_name(firefox["file"].as_str().unwrap()) && !is_our_manifest_name("jp.onshi.helperx.json"));
        let chromium: serde_json::Value = serde_json::from_str(chromium["text"].as_str().unwrap()).unwrap();
        assert_eq!(chromium["path"], "onshi-helper.exe");
        assert_eq!(chromium["allowed_origins"], serde_json::json!([format!("chrome-extension://{ID}/")]));
        let firefox: serde_json::Value = serde_json::from_str(firefox["text"].as_str().unwrap()).unwrap();
        assert_eq!(firefox["allowed_extensions"], serde_json::json!([FIREFOX_EXTENSION_ID]));
        let keys = parts["manifest_keys"].as_array().unwrap();
        assert_eq!(keys.len(), Browser::ALL.len());
        assert!(keys.iter().any(|k| k["key"] == r"Software\Microsoft\Edge\NativeMessagingHosts\jp.onshi.helper" && k["family"] == "chromium"));
        assert_eq!(parts["run"]["command"], r#""[#starter]""#);
        assert_eq!(windows_starter_beside(r"C:\x\onshi-helper.exe"), r"C:\x\onshi-helper-start.exe");
    }

    #[test]
    fn linux_autostart_files_quote_the_path() {
        let unit = systemd_unit("/opt/my dir/100%/onshi-helper");
        assert!(unit.contains("ExecStart=\"/opt/my dir/100%%/onshi-helper\" service\n"), "{unit}");
        assert!(unit.contains("WantedBy=default.target"));
        let desktop = xdg_autostart("/opt/my dir/a$b/onshi-helper");
        assert!(desktop.contains("Exec=\"/opt/my dir/a\\\\$b/onshi-helper\" service\n"), "{desktop}");
        assert!(desktop.starts_with("[Desktop Entry]\nType=Application\n"));
    }

    #[test]
    #[cfg_attr(windows, ignore = "applies a Linux plan, symbolic link included; the Windows half (registry values) is installed and removed by the MSI test under Wine")]
    fn apply_and_remove_in_a_temp_home() {
        let home = tempfile::tempdir().unwrap();
        let env = Env::with_home(home.path());
        let plan = plan_install(&opts(Scope::User, "/opt/onshi-helper"), Os::Linux, &env).unwrap();
        let wrote = apply(&plan).unwrap();
        assert_eq!(wrote.len(), plan.len());
        let link = home.path().join(".config/systemd/user/default.target.wants/onshi-helper.service");
        assert!(std::fs::read_to_string(&link).unwrap().contains("ExecStart="), "link resolves to the unit");
        // A foreign manifest with our file name is left alone.
        let chrome = home.path().join(".config/google-chrome/NativeMessagingHosts/jp.onshi.helper.json");
        std::fs::write(&chrome, r#"{"name":"someone.else"}"#).unwrap();
        let un = plan_uninstall(&Browser::ALL, &Scope::User, Os::Linux, &env, Path::new("/opt/onshi-helper")).unwrap();
        let done = remove(&un).unwrap();
        assert_eq!(done.iter().filter(|d| matches!(d, Done::NotOurs(_))).count(), 1);
        assert_eq!(done.iter().filter(|d| matches!(d, Done::Removed(_))).count(), plan.len() - 1);
        assert!(chrome.exists());
        let again = remove(&un).unwrap();
        assert!(again.iter().filter(|d| !matches!(d, Done::NotOurs(_))).all(|d| matches!(d, Done::Absent(_))));
    }
}
