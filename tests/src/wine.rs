//! Wine, the Windows the tests run on (toolchain.md, "Windows"): a prefix
//! prepared so that Rust programs start, and commands that run in it. std
//! only — `cargo xtask test` includes this file by path for the helper's unit
//! tests under Wine, and the MSI test uses it through the tests crate.
//!
//! What the prefix gets: Rust's std imports `ProcessPrng` from
//! `bcryptprimitives.dll`, which every Windows 10+ has and Wine 8 lacks, so a
//! test-only shim (built by xtask from [`PRNG_SHIM_C`]) goes into the
//! prefix's `system32` — the place Windows has it — and never beside our own
//! files, so an installed tree is exactly what the MSI put there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's wine64 loader (not on PATH).
pub const WINE64: &str = "/usr/lib/wine/wine64";
/// Its server; `-k` stops every process of a prefix, `-w` waits for them.
pub const WINESERVER: &str = "/usr/lib/wine/wineserver64";

/// The shim's source: `ProcessPrng` on top of `RtlGenRandom` (advapi32's
/// `SystemFunction036`), which Wine has.
pub const PRNG_SHIM_C: &str = "#include <windows.h>
#include <ntsecapi.h>
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) { return RtlGenRandom(data, (ULONG)len); }
";
/// Its export list (the DLL's name is what the loader matches).
pub const PRNG_SHIM_DEF: &str = "LIBRARY bcryptprimitives\nEXPORTS\n    ProcessPrng\n";

/// Where xtask builds the shim, relative to the workspace root.
pub const PRNG_SHIM_DLL: &str = "target/windows/shim/bcryptprimitives.dll";

/// One Wine prefix (a Windows user profile and registry). Dropping it stops
/// every process still running in it — a helper service started detached
/// must not outlive its test.
pub struct Prefix {
    pub dir: PathBuf,
}

impl Prefix {
    /// Creates (or refreshes) the prefix at `dir` and installs the shim.
    /// About 10–20 s the first time, a second when it exists.
    pub fn create(dir: &Path, shim_dll: &Path) -> Result<Self, String> {
        if !Path::new(WINE64).exists() {
            return Err(format!("{WINE64} is missing; install the Debian package wine64 (cargo xtask setup)"));
        }
        if !shim_dll.is_file() {
            return Err(format!("{} is missing; `cargo xtask package` builds it", shim_dll.display()));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let prefix = Prefix { dir: dir.to_path_buf() };
        let out = prefix
            .command("wineboot")
            .arg("--init")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| format!("{WINE64} wineboot: {e}"))?;
        if !out.status.success() {
            return Err(format!("wineboot --init failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr)));
        }
        prefix.wait_idle(Duration::from_secs(60));
        let system32 = dir.join("drive_c/windows/system32");
        std::fs::copy(shim_dll, system32.join("bcryptprimitives.dll"))
            .map_err(|e| format!("{} → {}: {e}", shim_dll.display(), system32.display()))?;
        Ok(prefix)
    }

    /// `wine64 <program>` in this prefix, quiet, without Wine's Mono and
    /// Gecko installers (they would open dialogs on a headless machine).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(WINE64);
        c.arg(program).envs(self.env());
        c
    }

    /// The environment every command in this prefix gets.
    pub fn env(&self) -> Vec<(&'static str, std::ffi::OsString)> {
        vec![
            ("WINEPREFIX", self.dir.clone().into_os_string()),
            ("WINEDEBUG", "-all".into()),
            ("WINEDLLOVERRIDES", "mscoree,mshtml=;bcryptprimitives=n".into()),
        ]
    }

    /// The Windows name of a Linux path (Wine maps `/` to drive `Z:`).
    pub fn windows_path(path: &Path) -> String {
        format!("Z:{}", path.display().to_string().replace('/', "\\"))
    }

    /// The prefix's `C:` drive folder for the Windows path `C:\…`.
    pub fn c_drive(&self, windows: &str) -> PathBuf {
        let rest = windows.trim_start_matches("C:").trim_start_matches(['\\', '/']).replace('\\', "/");
        self.dir.join("drive_c").join(rest)
    }

    /// Waits until no process of this prefix runs (at most `limit`).
    pub fn wait_idle(&self, limit: Duration) {
        let start = Instant::now();
        let Ok(mut child) = Command::new(WINESERVER).arg("-w").envs(self.env()).spawn() else { return };
        while start.elapsed() < limit {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops every process of this prefix.
    pub fn kill_all(&self) {
        let _ = Command::new(WINESERVER).arg("-k").envs(self.env()).status();
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        self.kill_all();
    }
}
