//! The registry outside Windows: there is none. Install plans for Windows
//! are still made (and tested) on Linux; applying one here is refused.

use crate::install::InstallError;

fn unsupported() -> InstallError {
    InstallError::Registry { reason: "the Windows registry exists only on Windows".into() }
}

/// Sets a string value (`name` "" is the key's default value).
pub fn set(_key: &str, _name: &str, _data: &str) -> Result<(), InstallError> {
    Err(unsupported())
}

/// Reads a string value; `Ok(None)` when the key or value is absent.
pub fn get(_key: &str, _name: &str) -> Result<Option<String>, InstallError> {
    Err(unsupported())
}

/// Deletes a value, or the whole key when `name` is `None`; absent is fine.
pub fn delete(_key: &str, _name: Option<&str>) -> Result<(), InstallError> {
    Err(unsupported())
}
