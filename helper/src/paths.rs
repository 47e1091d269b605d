//! Where the helper keeps its config file and database on each OS, and the
//! home/config folders the install step writes under. Everything is computed
//! from an [`Env`] snapshot, so tests pass a temp HOME instead of touching the
//! real user's folders; only [`Env::from_process`] reads the environment.
//!
//! | OS      | config file                                   | database                                   | service log |
//! |---------|-----------------------------------------------|--------------------------------------------|-------------|
//! | Linux   | `$XDG_CONFIG_HOME/onshi/helper.toml` (`~/.config`) | `$XDG_DATA_HOME/onshi/helper.sqlite` (`~/.local/share`) | `$XDG_STATE_HOME/onshi/service.log` (`~/.local/state`) |
//! | macOS   | `~/Library/Application Support/onshi/helper.toml` | `~/Library/Application Support/onshi/helper.sqlite` | `~/Library/Logs/onshi/service.log` |
//! | Windows | `%LOCALAPPDATA%\onshi\helper.toml`           | `%LOCALAPPDATA%\onshi\helper.sqlite`       | `%LOCALAPPDATA%\onshi\logs\service.log` |
//!
//! Windows keeps all three under `%LOCALAPPDATA%` (not the roaming
//! `%APPDATA%`): the config names this PC's reader and folders, and clinic
//! domains with roaming profiles must not copy a desk's database around.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use onshi_core::text::{Bilingual, Explain};

/// The OS whose conventions to follow. Passed explicitly so the per-OS
/// rules are all tested on the Linux build machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Windows,
}

impl Os {
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::MacOs
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }
}

/// The environment variables that decide paths, captured once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub xdg_state_home: Option<PathBuf>,
    pub appdata: Option<PathBuf>,
    pub local_appdata: Option<PathBuf>,
}

/// A variable needed for a path is unset or not absolute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var} is not set to an absolute path")]
pub struct PathError {
    pub var: &'static str,
}

impl Explain for PathError {
    fn explain(&self) -> Bilingual {
        Bilingual::new(
            format!("環境変数 {} が設定されていないか、絶対パスではありません。ログインし直すか、--config / --store で場所を指定してください。", self.var),
            format!("The environment variable {} is unset or not an absolute path; log in again or give the location with --config / --store.", self.var),
        )
    }
}

/// Only absolute values count; XDG says relative ones must be ignored.
fn absolute(v: Option<OsString>) -> Option<PathBuf> {
    v.map(PathBuf::from).filter(|p| p.is_absolute())
}

impl Env {
    pub fn from_process() -> Env {
        let var = |name| absolute(std::env::var_os(name));
        Env {
            home: var("HOME").or_else(|| var("USERPROFILE")),
            xdg_config_home: var("XDG_CONFIG_HOME"),
            xdg_data_home: var("XDG_DATA_HOME"),
            xdg_state_home: var("XDG_STATE_HOME"),
            appdata: var("APPDATA"),
            local_appdata: var("LOCALAPPDATA"),
        }
    }

    /// An environment with only HOME set (what tests use).
    pub fn with_home(home: &Path) -> Env {
        Env { home: Some(home.to_owned()), ..Env::default() }
    }

    pub fn home(&self) -> Result<&Path, PathError> {
        self.home.as_deref().ok_or(PathError { var: "HOME" })
    }

    /// `$XDG_CONFIG_HOME`, else `~/.config` (Linux; also where Chromium-family
    /// browsers keep their profiles there).
    pub fn config_home(&self) -> Result<PathBuf, PathError> {
        match &self.xdg_config_home {
            Some(p) => Ok(p.clone()),
            None => Ok(self.home()?.join(".config")),
        }
    }

    /// `$XDG_DATA_HOME`, else `~/.local/share`.
    pub fn data_home(&self) -> Result<PathBuf, PathError> {
        match &self.xdg_data_home {
            Some(p) => Ok(p.clone()),
            None => Ok(self.home()?.join(".local").join("share")),
        }
    }
}

fn local_appdata(env: &Env) -> Result<PathBuf, PathError> {
    Ok(env.local_appdata.clone().ok_or(PathError { var: "LOCALAPPDATA" })?.join("onshi"))
}

fn mac_support(env: &Env) -> Result<PathBuf, PathError> {
    Ok(env.home()?.join("Library").join("Application Support").join("onshi"))
}

/// The default config file.
pub fn config_file(env: &Env, os: Os) -> Result<PathBuf, PathError> {
    Ok(match os {
        Os::Linux => env.config_home()?.join("onshi").join("helper.toml"),
        Os::MacOs => mac_support(env)?.join("helper.toml"),
        Os::Windows => local_appdata(env)?.join("helper.toml"),
    })
}

/// The default database file.
pub fn data_file(env: &Env, os: Os) -> Result<PathBuf, PathError> {
    Ok(match os {
        Os::Linux => env.data_home()?.join("onshi").join("helper.sqlite"),
        Os::MacOs => mac_support(env)?.join("helper.sqlite"),
        Os::Windows => local_appdata(env)?.join("helper.sqlite"),
    })
}

/// The service's log file (the native host points the service's stderr at
/// it when it starts the service; systemd users also have the journal).
pub fn log_file(env: &Env, os: Os) -> Result<PathBuf, PathError> {
    Ok(match os {
        Os::Linux => match &env.xdg_state_home {
            Some(p) => p.join("onshi").join("service.log"),
            None => env.home()?.join(".local/state/onshi/service.log"),
        },
        Os::MacOs => env.home()?.join("Library/Logs/onshi/service.log"),
        Os::Windows => local_appdata(env)?.join("logs").join("service.log"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_os_defaults() {
        let home = Path::new("/home/uketsuke");
        let env = Env::with_home(home);
        assert_eq!(config_file(&env, Os::Linux).unwrap(), home.join(".config/onshi/helper.toml"));
        assert_eq!(data_file(&env, Os::Linux).unwrap(), home.join(".local/share/onshi/helper.sqlite"));
        assert_eq!(
            config_file(&env, Os::MacOs).unwrap(),
            home.join("Library/Application Support/onshi/helper.toml")
        );
        assert_eq!(config_file(&env, Os::Windows), Err(PathError { var: "LOCALAPPDATA" }));
        let win = Env { appdata: Some("/c/Users/u/AppData/Roaming".into()), local_appdata: Some("/c/Users/u/AppData/Local".into()), ..Env::default() };
        assert_eq!(config_file(&win, Os::Windows).unwrap(), Path::new("/c/Users/u/AppData/Local/onshi/helper.toml"));
        assert_eq!(data_file(&win, Os::Windows).unwrap(), Path::new("/c/Users/u/AppData/Local/onshi/helper.sqlite"));
        assert_eq!(log_file(&win, Os::Windows).unwrap(), Path::new("/c/Users/u/AppData/Local/onshi/logs/service.log"));
        assert_eq!(log_file(&env, Os::Linux).unwrap(), home.join(".local/state/onshi/service.log"));
    }

    #[test]
    fn xdg_overrides_and_missing_home() {
        let env = Env { xdg_config_home: Some("/x/cfg".into()), xdg_data_home: Some("/x/data".into()), ..Env::default() };
        assert_eq!(config_file(&env, Os::Linux).unwrap(), Path::new("/x/cfg/onshi/helper.toml"));
        assert_eq!(data_file(&env, Os::Linux).unwrap(), Path::new("/x/data/onshi/helper.sqlite"));
        assert_eq!(config_file(&Env::default(), Os::Linux), Err(PathError { var: "HOME" }));
        assert_eq!(absolute(Some("relative/dir".into())), None);
    }
}
