//! `install` and `uninstall`: native-messaging manifests and the
//! start-at-login entry, planned by the library's `install` and applied
//! here. Files that are not ours are reported and left alone. Also the
//! hidden `package-parts`, which tells the MSI builder what a Windows
//! install consists of.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use onshi_core::text::Bilingual;
use onshi_helper::browser::Browser;
use onshi_helper::install::{self, Done, InstallOptions, Scope};
use onshi_helper::paths::{Env, Os};
use onshi_helper::store::ExtensionId;

use super::args::{InstallArgs, LocationArgs};
use super::output::{problem, Fail};

fn browsers(list: &[Browser]) -> Vec<Browser> {
    if list.is_empty() { Browser::ALL.to_vec() } else { list.to_vec() }
}

fn scope(a: &LocationArgs) -> Scope {
    match (&a.profile_dir, a.system) {
        (Some(d), _) => Scope::ProfileDir(d.clone()),
        (None, true) => Scope::System,
        (None, false) => Scope::User,
    }
}

fn exe(a: &LocationArgs) -> Result<PathBuf, Fail> {
    match &a.exe {
        Some(p) => Ok(p.clone()),
        None => std::env::current_exe().map_err(|e| {
            Fail(Bilingual::new(
                format!("ヘルパー自身の場所が分かりません（{e}）。--exe で指定してください。"),
                format!("Cannot find this helper's own path ({e}); give it with --exe."),
            ))
        }),
    }
}

fn report(done: &[Done]) -> ExitCode {
    let mut bad = false;
    for d in done {
        match d {
            Done::Wrote(p) => println!("書き込み / wrote: {}", p.display()),
            Done::Removed(p) => println!("削除 / removed: {}", p.display()),
            Done::Absent(p) => println!("なし / not present: {}", p.display()),
            Done::NotOurs(p) => {
                bad = true;
                problem(&Bilingual::new(
                    format!("{} はこのヘルパーが書いたものではないため残しました。内容を確認し、不要なら手で削除してください。", p.display()),
                    format!("{} was not written by this helper and was left alone; check it and delete it by hand if unwanted.", p.display()),
                ));
            }
        }
    }
    if bad { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

pub fn install(a: InstallArgs, env: &Env, os: Os) -> Result<ExitCode, Fail> {
    let id_text = a.extension_id.clone().or_else(|| install::BUILT_IN_EXTENSION_ID.map(str::to_owned));
    let extension_id = id_text.as_deref().map(ExtensionId::new).transpose()?;
    let opts = InstallOptions {
        browsers: browsers(&a.location.browsers),
        scope: scope(&a.location),
        extension_id,
        exe: absolute(exe(&a.location)?),
        autostart: !a.no_autostart,
    };
    let mut plan = install::plan_install(&opts, os, env)?;
    if a.root.is_some() && os == Os::Windows {
        // Windows registers manifests in the registry, which has no staging folder.
        return Err(Fail(Bilingual::new(
            "--root は Linux と macOS のパッケージ作成用です。Windows ではインストーラー（MSI）を使ってください。",
            "--root is for building Linux and macOS packages; on Windows use the installer (MSI).",
        )));
    }
    if let Some(root) = &a.root {
        for p in &mut plan {
            p.path = under_root(root, &p.path);
        }
    }
    Ok(report(&install::apply(&plan)?))
}

/// `path` moved below `root`: `/etc/x` → `root/etc/x` (a drive prefix is dropped too).
fn under_root(root: &Path, path: &Path) -> PathBuf {
    use std::path::Component;
    root.join(path.components().filter(|c| !matches!(c, Component::Prefix(_) | Component::RootDir)).collect::<PathBuf>())
}

pub fn uninstall(a: LocationArgs, env: &Env, os: Os) -> Result<ExitCode, Fail> {
    let exe = absolute(exe(&a)?);
    let plan = install::plan_uninstall(&browsers(&a.browsers), &scope(&a), os, env, &exe)?;
    Ok(report(&install::remove(&plan)?))
}

/// Makes a relative `--exe` absolute against the current folder.
fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        return p;
    }
    std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_root_keeps_the_planned_path_below_the_staging_folder() {
        let root = Path::new("/tmp/stage");
        assert_eq!(under_root(root, Path::new("/etc/chromium/x.json")), Path::new("/tmp/stage/etc/chromium/x.json"));
        assert_eq!(under_root(root, Path::new("usr/lib/y")), Path::new("/tmp/stage/usr/lib/y"));
    }
}

/// `package-parts`: the Windows install's manifests, keys and Run value as
/// JSON for `cargo xtask package` (the MSI), from the library's own plan.
pub fn package_parts(exe_file: &str, starter: &str) -> Result<ExitCode, Fail> {
    let id = install::BUILT_IN_EXTENSION_ID.map(ExtensionId::new).transpose()?;
    println!("{}", install::windows_package_parts(exe_file, starter, id.as_ref()));
    Ok(ExitCode::SUCCESS)
}
