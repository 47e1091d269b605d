//! The extension as store-ready archives: `onshi-extension-<v>-chromium.zip`
//! (Chrome Web Store, Edge Add-ons) and `onshi-extension-<v>-firefox.xpi`
//! (addons.mozilla.org signing). Both hold the files a browser loads with
//! `manifest.json` at the root, and are reproducible: entries sorted, one
//! fixed timestamp and mode, so two builds give the same bytes. The unpacked
//! development copy (`extension/`, `dist/extension/`) is never changed.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{files_below, VERSION};
use crate::util::Result;

/// What stays out of the archives, by first path component: the unit tests
/// and their browser harness, the file that marks `*.js` as ES modules for
/// node, the development id (stores assign their own), and the page-side
/// API (`onshi.js`), which reception pages include themselves.
const LEFT_OUT: [&str; 6] = ["test", "test-support", "package.json", "extension-id.txt", "onshi.js", "onshi.esm.js"];

/// The browsers an archive is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Chromium,
    Firefox,
}

impl Target {
    fn file_name(self) -> String {
        match self {
            Target::Chromium => format!("onshi-extension-{VERSION}-chromium.zip"),
            Target::Firefox => format!("onshi-extension-{VERSION}-firefox.xpi"),
        }
    }
}

/// Writes both archives from the unpacked extension in `src` into `out`.
pub fn build(src: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    if !src.join("manifest.json").is_file() {
        return Err(format!("{} has no manifest.json; run `cargo xtask build` first", src.display()));
    }
    let mut files = Vec::new();
    for rel in files_below(src)? {
        let first = rel.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
        if LEFT_OUT.contains(&first.as_str()) || first.starts_with('.') {
            continue;
        }
        let name = rel.to_str().ok_or_else(|| format!("{}: not UTF-8", rel.display()))?.to_owned();
        let path = src.join(&rel);
        files.push((name, std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?));
    }
    let mut written = Vec::new();
    for target in [Target::Chromium, Target::Firefox] {
        let entries: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|(name, data)| Ok((name.clone(), if name == "manifest.json" { store_manifest(data, target)? } else { data.clone() })))
            .collect::<Result<_>>()?;
        let path = out.join(target.file_name());
        write_zip(&path, &entries)?;
        written.push(path);
    }
    Ok(written)
}

/// The manifest as a store takes it. The development `"key"` goes: the
/// Chrome Web Store refuses a manifest carrying one (the store's own key
/// decides the id), and Firefox does not know the field. Each archive also
/// drops the other family's field, which its browser would list as
/// unrecognised. Firefox needs its add-on id, which the native-messaging
/// manifest's `allowed_extensions` names.
fn store_manifest(data: &[u8], target: Target) -> Result<Vec<u8>> {
    let mut m: Value = serde_json::from_slice(data).map_err(|e| format!("extension manifest.json: {e}"))?;
    let Some(fields) = m.as_object_mut() else { return Err("extension manifest.json is not a JSON object".into()) };
    fields.remove("key");
    fields.remove(match target {
        Target::Chromium => "browser_specific_settings",
        Target::Firefox => "minimum_chrome_version",
    });
    let version = fields.get("version").and_then(Value::as_str).unwrap_or_default();
    if version != VERSION {
        return Err(format!("extension/manifest.json has version {version:?}, the workspace {VERSION}: change both together"));
    }
    if target == Target::Firefox && m.pointer("/browser_specific_settings/gecko/id").and_then(Value::as_str).is_none() {
        return Err("extension/manifest.json lacks browser_specific_settings.gecko.id, which Firefox needs".into());
    }
    let mut text = serde_json::to_vec_pretty(&m).map_err(|e| e.to_string())?;
    text.push(b'\n');
    Ok(text)
}

/// A zip with `entries` in the given order, each deflated, dated
/// 1980-01-01 (the format's first day) and mode 0644.
fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) -> Result {
    let err = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(|e| err(&e))?;
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o644);
    for (name, data) in entries {
        zip.start_file(name.as_str(), options).map_err(|e| err(&e))?;
        zip.write_all(data).map_err(|e| err(&e))?;
    }
    zip.finish().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: the archives from the extension's own folder (what
    /// `cargo xtask build` copies to dist/extension).
    fn build_into(dir: &Path) -> Vec<PathBuf> {
        build(&crate::util::root().join("extension"), dir).unwrap()
    }

    fn read(path: &Path) -> zip::ZipArchive<std::io::Cursor<Vec<u8>>> {
        zip::ZipArchive::new(std::io::Cursor::new(std::fs::read(path).unwrap())).unwrap()
    }

    fn manifest(archive: &mut zip::ZipArchive<std::io::Cursor<Vec<u8>>>) -> Value {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("manifest.json").unwrap(), &mut text).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn store_archives_are_complete_key_free_and_reproducible() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = build_into(a.path());
        let second = build_into(b.path());
        assert_eq!(first.len(), 2);
        for (x, y) in first.iter().zip(&second) {
            assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap(), "{} differs between two builds", x.display());
        }

        let mut chromium = read(&first[0]);
        let names: Vec<String> = chromium.file_names().map(|n| n.unwrap().into_owned()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for wanted in ["manifest.json", "background.js", "content.js", "pin.html", "pair.html", "options.html", "lib/hostlink.js"] {
            assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
        }
        for unwanted in ["package.json", "extension-id.txt", "onshi.js"] {
            assert!(!names.contains(&unwanted), "{unwanted} should not ship: {names:?}");
        }
        assert!(!names.iter().any(|n| n.starts_with("test")), "{names:?}");
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "entries are sorted");
        let m = manifest(&mut chromium);
        assert!(m.get("key").is_none(), "the Chrome Web Store refuses a manifest with \"key\"");
        assert!(m.get("browser_specific_settings").is_none(), "Firefox's field stays out of the Chromium archive");
        assert_eq!(m["minimum_chrome_version"], "121", "Chromium before 121 rejects background.scripts");
        assert_eq!(m["manifest_version"], 3);
        assert_eq!(m["version"], VERSION);

        let mut firefox = read(&first[1]);
        assert!(first[1].to_string_lossy().ends_with(&format!("onshi-extension-{VERSION}-firefox.xpi")));
        let m = manifest(&mut firefox);
        assert_eq!(m["browser_specific_settings"]["gecko"]["id"], "onshi-bridge@onshi.example");
        assert!(m["background"]["scripts"].is_array(), "Firefox MV3 runs background.scripts");
        assert!(m.get("minimum_chrome_version").is_none());
        assert!(m.get("key").is_none());

        // The development copy keeps its key (it fixes the unpacked id).
        let dev: Value = serde_json::from_slice(&std::fs::read(crate::util::root().join("extension/manifest.json")).unwrap()).unwrap();
        assert!(dev.get("key").is_some());
    }
}
