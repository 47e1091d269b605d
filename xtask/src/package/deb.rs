//! The helper as a Debian package, `onshi-helper_<version>_<arch>.deb`,
//! built with `dpkg-deb` from a staging folder. It must never decide itself
//! what a manifest or an autostart entry says, or where it goes.
//!
//! Those files come from the freshly built helper: it runs its own
//! `install --system --exe /usr/bin/onshi-helper --root <staging>`, so the
//! package holds exactly what `onshi-helper install --system` writes
//! (`helper/src/install.rs`). This module only arranges them for dpkg:
//!
//! - A file the helper puts under `/etc` ships as
//!   `/usr/share/onshi-helper/etc/…`, and `/etc` gets a symbolic link to
//!   it. A regular file under `/etc` would have to be a conffile (Debian
//!   policy 10.7), and dpkg keeps conffiles after `dpkg --remove`: every
//!   browser would go on finding a manifest for a helper that is gone, and
//!   every login would try to start it. Links are ordinary package files,
//!   removed on remove and on purge, with no maintainer script.
//! - The systemd user unit and its enable link are left out. The XDG
//!   autostart entry already starts the service in every desktop session
//!   (under systemd too, through its xdg-autostart generator); a globally
//!   enabled user unit would also start it for sessions without a browser
//!   (ssh, cron, service accounts) and a second time in desktop sessions.
//!   Should nothing have started it, the browser's first connection does.
//!
//! The package therefore has no maintainer scripts: installing is
//! unpacking, removing is deleting what was unpacked.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{files_below, VERSION};
use crate::util::{self, Result};

/// Where the package puts the helper; the manifests and the autostart entry name it.
const INSTALLED_EXE: &str = "/usr/bin/onshi-helper";
/// Where the files that `/etc` links to live.
const SHARE: &str = "usr/share/onshi-helper";
/// Needed at run time but not linked: the PC/SC daemon the library talks to.
const RUNTIME_DEPENDS: &str = "pcscd";

const DESCRIPTION: &str = "\
Onshi reception helper (card reader and eligibility link)
 The native program behind the Onshi reception page and its browser
 extension: it reads the patient's My Number card on a PC/SC reader and
 asks the health-insurance eligibility system. The package registers it
 with Chromium, Google Chrome, Microsoft Edge and Firefox (native
 messaging, machine-wide) and starts it at login in desktop sessions.
 .
 受付画面のためのオンライン資格確認ヘルパー（カードリーダーと資格確認の連携）。";

/// Stages `binary` with what its `install --system` writes below `work`,
/// and writes the package into `out`. Returns the package's path.
pub fn build(binary: &Path, work: &Path, out: &Path) -> Result<PathBuf> {
    if !binary.is_file() {
        return Err(format!("{} is not built (cargo build --release -p onshi-helper)", binary.display()));
    }
    let arch = stdout(Command::new("dpkg").arg("--print-architecture"))?;
    let _ = std::fs::remove_dir_all(work);
    let root = work.join("root");

    let bin = root.join(INSTALLED_EXE.trim_start_matches('/'));
    create_parent(&bin)?;
    std::fs::copy(binary, &bin).map_err(|e| format!("{} → {}: {e}", binary.display(), bin.display()))?;
    if util::command_exists("strip") {
        util::run(Command::new("strip").arg(&bin))?;
    } else {
        eprintln!("note: `strip` not found (package binutils); the packaged helper keeps its symbols");
    }

    let planned = work.join("planned");
    util::run(Command::new(binary).args(["install", "--system", "--exe", INSTALLED_EXE, "--root"]).arg(&planned))?;
    arrange(&planned, &root)?;

    let debian = root.join("DEBIAN");
    std::fs::create_dir_all(&debian).map_err(|e| format!("{}: {e}", debian.display()))?;
    let control = format!(
        "Package: onshi-helper\n\
         Version: {VERSION}\n\
         Architecture: {arch}\n\
         Maintainer: Onshi reception developers <onshi@example.invalid>\n\
         Installed-Size: {}\n\
         Depends: {}, {RUNTIME_DEPENDS}\n\
         Section: misc\n\
         Priority: optional\n\
         Description: {DESCRIPTION}\n",
        installed_kib(&root)?,
        shlib_depends(&bin, work)?,
    );
    write(&debian.join("control"), &control)?;
    write(&debian.join("md5sums"), &md5sums(&root)?)?;
    normalise_modes(&root)?;

    let deb = out.join(format!("onshi-helper_{VERSION}_{arch}.deb"));
    util::run(Command::new("dpkg-deb").args(["--build", "--root-owner-group", "-Zxz"]).arg(&root).arg(&deb))?;
    Ok(deb)
}

/// Moves what the helper planned into the package tree (see the module
/// comment for why `/etc` gets links and systemd files are left out).
fn arrange(planned: &Path, root: &Path) -> Result {
    for rel in files_below(planned)? {
        let from = planned.join(&rel);
        if rel.starts_with("etc/systemd") {
            continue;
        }
        if std::fs::symlink_metadata(&from).map_err(|e| format!("{}: {e}", from.display()))?.file_type().is_symlink() {
            return Err(format!("{}: a link the package does not know how to ship", from.display()));
        }
        let (file, link) =
            if rel.starts_with("etc") { (root.join(SHARE).join(&rel), Some(root.join(&rel))) } else { (root.join(&rel), None) };
        create_parent(&file)?;
        std::fs::copy(&from, &file).map_err(|e| format!("{} → {}: {e}", from.display(), file.display()))?;
        if let Some(link) = link {
            create_parent(&link)?;
            let target = Path::new("/").join(SHARE).join(&rel);
            std::os::unix::fs::symlink(&target, &link).map_err(|e| format!("{} → {}: {e}", link.display(), target.display()))?;
        }
    }
    Ok(())
}

/// The shared libraries the binary links, as Debian names their packages
/// (`libc6 (>= …), libpcsclite1 (>= …)` …), from `dpkg-shlibdeps`, which
/// wants a `debian/control` in its working folder.
fn shlib_depends(bin: &Path, work: &Path) -> Result<String> {
    let dir = work.join("shlibdeps");
    std::fs::create_dir_all(dir.join("debian")).map_err(|e| format!("{}: {e}", dir.display()))?;
    write(&dir.join("debian/control"), "Source: onshi-helper\n\nPackage: onshi-helper\nArchitecture: any\n")?;
    let line = stdout(Command::new("dpkg-shlibdeps").current_dir(&dir).arg("-O").arg(bin))?;
    let depends = line.strip_prefix("shlibs:Depends=").unwrap_or_default().trim();
    if !depends.contains("libpcsclite1") {
        return Err(format!("dpkg-shlibdeps did not find libpcsclite1 among the helper's libraries: {line:?}"));
    }
    Ok(depends.to_owned())
}

/// `Installed-Size` as dpkg-gencontrol counts it: KiB per file rounded up,
/// one per link.
fn installed_kib(root: &Path) -> Result<u64> {
    let mut kib = 0;
    for rel in files_below(root)? {
        let meta = std::fs::symlink_metadata(root.join(&rel)).map_err(|e| format!("{}: {e}", rel.display()))?;
        kib += if meta.is_file() { meta.len().div_ceil(1024) } else { 1 };
    }
    Ok(kib)
}

/// `DEBIAN/md5sums` (what `dpkg --verify` checks): regular files only.
fn md5sums(root: &Path) -> Result<String> {
    let files: Vec<PathBuf> =
        files_below(root)?.into_iter().filter(|rel| !rel.starts_with("DEBIAN") && !root.join(rel).is_symlink()).collect();
    stdout(Command::new("md5sum").current_dir(root).args(&files)).map(|s| s + "\n")
}

/// Folders 0755, files 0644, the program 0755, whatever the umask was.
/// Links are skipped: setting a link's mode would change its target.
fn normalise_modes(root: &Path) -> Result {
    let mut paths = vec![root.to_owned()];
    for rel in files_below(root)? {
        let mut dir = rel.parent();
        while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
            paths.push(root.join(d));
            dir = d.parent();
        }
        paths.push(root.join(rel));
    }
    for path in paths {
        let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mode = match meta.file_type() {
            t if t.is_symlink() => continue,
            t if t.is_dir() => 0o755,
            _ if path.ends_with(INSTALLED_EXE.trim_start_matches('/')) => 0o755,
            _ => 0o644,
        };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn create_parent(path: &Path) -> Result {
    let dir = path.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs a command and returns its trimmed stdout; an error names it.
fn stdout(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(|e| format!("cannot start `{}`: {e}", util::describe(cmd)))?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({}): {}", util::describe(cmd), out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
