//! The registry values `install` plans: a browser's native-messaging key
//! (its default value is the manifest's path) and the `Run` value. Keys are
//! written as full paths, `HKEY_CURRENT_USER\…` or `HKEY_LOCAL_MACHINE\…`.
//! Manifest keys go through the `native_messaging` crate (the design names
//! it); the `Run` value, which that crate does not know, through `winreg`,
//! the same crate it uses underneath.

use native_messaging::install::paths::Scope as NmScope;
use winreg::enums::{HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE};
use winreg::RegKey;

use crate::install::InstallError;

const HKCU: &str = "HKEY_CURRENT_USER\\";
const HKLM: &str = "HKEY_LOCAL_MACHINE\\";

fn split(key: &str) -> Result<(NmScope, &str), InstallError> {
    if let Some(rest) = key.strip_prefix(HKCU) {
        Ok((NmScope::User, rest))
    } else if let Some(rest) = key.strip_prefix(HKLM) {
        Ok((NmScope::System, rest))
    } else {
        Err(InstallError::Registry { reason: format!("not a HKCU or HKLM key: {key}") })
    }
}

fn root(scope: NmScope) -> RegKey {
    match scope {
        NmScope::User => RegKey::predef(HKEY_CURRENT_USER),
        NmScope::System => RegKey::predef(HKEY_LOCAL_MACHINE),
    }
}

fn failed(key: &str) -> impl Fn(std::io::Error) -> InstallError + '_ {
    move |e| InstallError::Registry { reason: format!("{key}: {e}") }
}

/// Sets a string value (`name` "" is the key's default value).
pub fn set(key: &str, name: &str, data: &str) -> Result<(), InstallError> {
    let (scope, sub) = split(key)?;
    if name.is_empty() {
        return native_messaging::install::winreg::write_manifest_path_to_reg(scope, sub, std::path::Path::new(data))
            .map_err(failed(key));
    }
    let (k, _) = root(scope).create_subkey(sub).map_err(failed(key))?;
    k.set_value(name, &data.to_owned()).map_err(failed(key))
}

/// Reads a string value; `Ok(None)` when the key or value is absent.
pub fn get(key: &str, name: &str) -> Result<Option<String>, InstallError> {
    let (scope, sub) = split(key)?;
    if name.is_empty() {
        return native_messaging::install::winreg::read_manifest_path_from_reg(scope, sub)
            .map(|p| p.map(|p| p.to_string_lossy().into_owned()))
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(None) } else { Err(failed(key)(e)) });
    }
    let k = match root(scope).open_subkey(sub) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failed(key)(e)),
    };
    match k.get_value::<String, _>(name) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(failed(key)(e)),
    }
}

/// Deletes a value, or the whole key when `name` is `None`; absent is fine.
pub fn delete(key: &str, name: Option<&str>) -> Result<(), InstallError> {
    let (scope, sub) = split(key)?;
    let Some(name) = name else {
        return native_messaging::install::winreg::remove_manifest_reg(scope, sub).map_err(failed(key));
    };
    let k = match root(scope).open_subkey_with_flags(sub, winreg::enums::KEY_SET_VALUE) {
        Ok(k) => k,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(failed(key)(e)),
    };
    match k.delete_value(name) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed(key)(e)),
        _ => Ok(()),
    }
}
