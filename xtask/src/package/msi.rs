//! The helper as a per-user Windows installer, `onshi-helper-<version>-x64.msi`,
//! compiled by `wixl` (msitools) from a WiX source this module writes. Like
//! the .deb, it never decides itself what a manifest or a registry value
//! says: the Linux helper prints them (`onshi-helper package-parts`, from
//! `helper/src/install.rs`) and this module only places them.
//!
//! What the package installs, with no administrator rights (a clinic's IT
//! person is often not the PC's administrator, and the reception account
//! never is):
//! - `%LOCALAPPDATA%\Programs\Onshi\` — `onshi-helper.exe`, the starter
//!   `onshi-helper-start.exe` (no console window), and one host manifest per
//!   browser family whose `path` is the bare file name: Chrome, Edge and
//!   Firefox read a relative `path` on Windows as relative to the manifest,
//!   so the files are right wherever the folder lands.
//! - `HKCU\Software\{Google\Chrome,Chromium,Microsoft\Edge,Mozilla}\NativeMessagingHosts\jp.onshi.helper`
//!   = the manifest's full path (`[#file]`, resolved by Windows Installer).
//! - `HKCU\…\CurrentVersion\Run` `OnshiHelper` = the starter, so the service
//!   runs from sign-in.
//! - A Start-menu entry "Onshi doctor" that opens a console running
//!   `onshi-helper doctor` and stays open, for the IT person.
//!
//! Uninstall removes exactly these; the store, config and logs under
//! `%LOCALAPPDATA%\onshi` are the clinic's records and stay.
//!
//! The running service: Windows cannot delete or replace an exe that runs,
//! so uninstall, repair and the old product's removal in an upgrade first
//! run `onshi-helper.exe service --stop` (custom action `StopService`,
//! before `RemoveFiles`; its failure does not block the uninstall). After an
//! install or upgrade the starter runs once (`StartService`), so the page
//! finds the helper without waiting for the next sign-in.
//!
//! wixl limits met here (wixl 0.101, Debian 12): any non-ASCII text in the
//! source with a `Codepage` makes it crash, and without one the strings
//! would be stored in no declared code page, so every name in the package is
//! ASCII; `ALLUSERS` must not be set (toolchain.md).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::VERSION;
use crate::util::{self, Result};

/// Never changes: Windows Installer finds earlier versions by it, so a new
/// MSI replaces the old one (`MajorUpgrade`) instead of installing beside it.
const UPGRADE_CODE: &str = "6f1b6a52-7a0e-4c59-9a34-0d6d1f2f7c11";

/// Component GUIDs are fixed per component, as Windows Installer requires
/// for upgrades and reference counting.
const COMPONENT_FILES: &str = "0b8e0c3e-1f2a-4a57-8a5c-2d7e7c0f7a01";
const COMPONENT_MENU: &str = "0b8e0c3e-1f2a-4a57-8a5c-2d7e7c0f7a02";

/// The installed file names (the starter finds the helper beside it by name).
pub const HELPER_EXE: &str = "onshi-helper.exe";
pub const STARTER_EXE: &str = "onshi-helper-start.exe";

/// The package's product name as Windows lists it (ASCII, see above).
const PRODUCT: &str = "Onshi reception helper";

/// Writes the MSI for the cross-built `helper` and `starter` into `out`,
/// staging below `work`; `linux_helper` prints the manifests and values.
pub fn build(helper: &Path, starter: &Path, linux_helper: &Path, work: &Path, out: &Path) -> Result<PathBuf> {
    for exe in [helper, starter, linux_helper] {
        if !exe.is_file() {
            return Err(format!("{} is not built", exe.display()));
        }
    }
    if !util::command_exists("wixl") {
        return Err("wixl is missing; install the Debian package wixl (cargo xtask setup)".into());
    }
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work).map_err(|e| format!("{}: {e}", work.display()))?;

    // wixl finds `Source` files relative to its working folder only (an
    // absolute path is "Couldn't find file"), so everything is staged in `work`.
    for (from, name) in [(helper, HELPER_EXE), (starter, STARTER_EXE)] {
        std::fs::copy(from, work.join(name)).map_err(|e| format!("{} → {}: {e}", from.display(), work.display()))?;
    }
    let parts = package_parts(linux_helper)?;
    let text = |v: &Value, what: &str| v.as_str().map(str::to_owned).ok_or_else(|| format!("package-parts: {what} missing"));
    let mut manifests = Vec::new();
    for m in parts["manifests"].as_array().ok_or("package-parts: no manifests")? {
        let (family, name) = (text(&m["family"], "family")?, text(&m["file"], "file")?);
        let staged = PathBuf::from(format!("{family}.json"));
        write(&work.join(&staged), &text(&m["text"], "manifest text")?)?;
        manifests.push(Manifest { family, name, staged });
    }
    let mut keys = Vec::new();
    for k in parts["manifest_keys"].as_array().ok_or("package-parts: no manifest keys")? {
        keys.push((text(&k["family"], "family")?, text(&k["key"], "key")?));
    }
    let run = &parts["run"];
    let run = (text(&run["key"], "run key")?, text(&run["name"], "run name")?, text(&run["command"], "run command")?);

    let wxs = wxs(&Sources { manifests: &manifests, keys: &keys, run: &run });
    let source = work.join("onshi-helper.wxs");
    write(&source, &wxs)?;
    let msi = out.join(format!("onshi-helper-{VERSION}-x64.msi"));
    util::run(Command::new("wixl").current_dir(work).args(["-a", "x64", "-o"]).arg(&msi).arg(&source))?;
    Ok(msi)
}

/// What the helper says a Windows install consists of.
fn package_parts(linux_helper: &Path) -> Result<Value> {
    let out = Command::new(linux_helper)
        .args(["package-parts", "--exe-file", HELPER_EXE, "--starter", "[#starter]"])
        .output()
        .map_err(|e| format!("{}: {e}", linux_helper.display()))?;
    if !out.status.success() {
        return Err(format!("onshi-helper package-parts failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("onshi-helper package-parts printed no JSON: {e}"))
}

/// One browser family's manifest: its installed file name and staged copy.
struct Manifest {
    family: String,
    name: String,
    staged: PathBuf,
}

/// What goes into the WiX source besides the two exes (staged under their
/// installed names, [`HELPER_EXE`] and [`STARTER_EXE`]).
struct Sources<'a> {
    manifests: &'a [Manifest],
    /// (family, registry key below HKCU)
    keys: &'a [(String, String)],
    /// (key, value name, command)
    run: &'a (String, String, String),
}

fn wxs(s: &Sources) -> String {
    let mut files = format!(
        "              <File Id=\"helper\" Name=\"{HELPER_EXE}\" Source=\"{HELPER_EXE}\"/>\n\
         \x20             <File Id=\"starter\" Name=\"{STARTER_EXE}\" Source=\"{STARTER_EXE}\"/>\n",
    );
    for m in s.manifests {
        files.push_str(&format!(
            "              <File Id=\"manifest_{}\" Name=\"{}\" Source=\"{}\"/>\n",
            m.family,
            attr(&m.name),
            attr(&m.staged.display().to_string()),
        ));
    }
    let mut values = String::new();
    for (family, key) in s.keys {
        values.push_str(&format!(
            "              <RegistryValue Root=\"HKCU\" Key=\"{}\" Type=\"string\" Value=\"[#manifest_{family}]\"/>\n",
            attr(key)
        ));
    }
    let (run_key, run_name, run_command) = s.run;
    values.push_str(&format!(
        "              <RegistryValue Root=\"HKCU\" Key=\"{}\" Name=\"{}\" Type=\"string\" Value=\"{}\"/>\n",
        attr(run_key),
        attr(run_name),
        attr(run_command)
    ));
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<!-- Written by `cargo xtask package` (xtask/src/package/msi.rs); do not edit. -->
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="{PRODUCT}" Language="1033" Version="{VERSION}" Manufacturer="Onshi reception" UpgradeCode="{UPGRADE_CODE}">
    <Package InstallerVersion="500" Compressed="yes" InstallScope="perUser" Description="{PRODUCT} {VERSION}" Comments="Card reader and eligibility link for the Onshi reception page"/>
    <MajorUpgrade DowngradeErrorMessage="A newer Onshi reception helper is already installed."/>
    <Media Id="1" Cabinet="onshi.cab" EmbedCab="yes"/>
    <Property Id="ARPNOMODIFY" Value="1"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="LocalAppDataFolder">
        <Directory Id="ProgramsDir" Name="Programs">
          <Directory Id="INSTALLDIR" Name="Onshi">
            <Component Id="Files" Guid="{COMPONENT_FILES}">
              <RegistryValue Root="HKCU" Key="Software\Onshi\Helper" Name="InstallDir" Type="string" Value="[INSTALLDIR]" KeyPath="yes"/>
{files}{values}              <RemoveFolder Id="RemoveInstallDir" On="uninstall"/>
            </Component>
          </Directory>
        </Directory>
      </Directory>
      <Directory Id="ProgramMenuFolder">
        <Directory Id="MenuDir" Name="Onshi">
          <Component Id="Menu" Guid="{COMPONENT_MENU}">
            <RegistryValue Root="HKCU" Key="Software\Onshi\Helper" Name="StartMenu" Type="integer" Value="1" KeyPath="yes"/>
            <Shortcut Id="Doctor" Name="Onshi doctor" Description="Checks the reader, the browsers' registration and the link to the eligibility system" Target="[SystemFolder]cmd.exe" Arguments="/k &quot;&quot;[#helper]&quot; doctor&quot;" WorkingDirectory="INSTALLDIR"/>
            <RemoveFolder Id="RemoveMenuDir" On="uninstall"/>
          </Component>
        </Directory>
      </Directory>
    </Directory>
    <CustomAction Id="StopService" FileKey="helper" ExeCommand="service --stop" Execute="deferred" Impersonate="yes" Return="ignore"/>
    <CustomAction Id="StartService" FileKey="starter" ExeCommand="" Execute="immediate" Return="asyncNoWait"/>
    <InstallExecuteSequence>
      <Custom Action="StopService" Before="RemoveFiles">Installed</Custom>
      <Custom Action="StartService" After="InstallFinalize">NOT REMOVE~="ALL"</Custom>
    </InstallExecuteSequence>
    <Feature Id="Helper" Level="1">
      <ComponentRef Id="Files"/>
      <ComponentRef Id="Menu"/>
    </Feature>
  </Product>
</Wix>
"#
    )
}

/// Escapes text for an XML attribute in double quotes.
fn attr(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_text_is_escaped() {
        assert_eq!(attr(r#""[#helper]" service & <x>"#), "&quot;[#helper]&quot; service &amp; &lt;x&gt;");
    }
}
