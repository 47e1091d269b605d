//! How the process tells that a browser started it as a native-messaging
//! host. Manifests cannot pass arguments, so the manifest's `path` is the
//! helper binary itself and the mode is read from what the browser appends:
//!
//! - Chrome, Chromium and Edge pass the caller's origin
//!   `chrome-extension://<id>/` as the first argument (on Windows also
//!   `--parent-window=<n>` after it);
//! - Firefox passes the manifest's path and then the add-on id.
//!
//! `onshi-helper native-host` starts the same mode explicitly (tests).
//! Nothing here reads stdin or writes stdout: in that mode stdout belongs
//! to the browser's frame stream.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::install::is_our_manifest_name;

/// Who started the host, as the browser told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeCaller {
    /// `origin` is `chrome-extension://<id>/` exactly as passed.
    Chromium { origin: String },
    Firefox { manifest: PathBuf, extension_id: String },
}

impl NativeCaller {
    /// The calling extension's id (Chromium: the host part of the origin).
    pub fn extension_id(&self) -> &str {
        match self {
            NativeCaller::Chromium { origin } => {
                origin.trim_start_matches("chrome-extension://").trim_end_matches('/')
            }
            NativeCaller::Firefox { extension_id, .. } => extension_id,
        }
    }
}

/// Looks at the arguments after the program name.
pub fn detect_native_host(args: &[OsString]) -> Option<NativeCaller> {
    let first = args.first()?.to_str()?;
    if first.starts_with("chrome-extension://") {
        return Some(NativeCaller::Chromium { origin: first.to_owned() });
    }
    let second = args.get(1)?.to_str()?;
    let manifest = PathBuf::from(first);
    let named_like_ours = manifest.file_name().and_then(|n| n.to_str()).is_some_and(is_our_manifest_name);
    if manifest.is_absolute() && named_like_ours && !second.starts_with('-') {
        return Some(NativeCaller::Firefox { manifest, extension_id: second.to_owned() });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn browser_invocations_are_recognised() {
        let chrome = detect_native_host(&args(&["chrome-extension://abcdefghijklmnopabcdefghijklmnop/"])).unwrap();
        assert_eq!(chrome.extension_id(), "abcdefghijklmnopabcdefghijklmnop");
        let win = detect_native_host(&args(&["chrome-extension://abcdefghijklmnopabcdefghijklmnop/", "--parent-window=0"]));
        assert!(matches!(win, Some(NativeCaller::Chromium { .. })));
        // Firefox passes the manifest's full path (absolute on this OS): the
        // helper's own file name, or the MSI's per-family one.
        for name in ["jp.onshi.helper.json", "jp.onshi.helper.firefox.json"] {
            let manifest = std::env::temp_dir().join("native-messaging-hosts").join(name);
            let ff = detect_native_host(&[manifest.into_os_string(), "onshi-bridge@onshi.example".into()]).unwrap();
            assert_eq!(ff.extension_id(), "onshi-bridge@onshi.example");
        }
        let other = std::env::temp_dir().join("someone.else.json");
        assert_eq!(detect_native_host(&[other.into_os_string(), "x@y".into()]), None);
    }

    #[test]
    fn cli_invocations_are_not_mistaken() {
        for a in [
            &[][..],
            &["install"][..],
            &["audit", "show"][..],
            &["config", "check"][..],
            &["jp.onshi.helper.json", "x@y"][..],
            &["/tmp/other.json", "x@y"][..],
            &["/tmp/jp.onshi.helper.json", "--last"][..],
        ] {
            assert_eq!(detect_native_host(&args(a)), None, "{a:?}");
        }
    }
}
