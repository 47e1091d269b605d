//! The browsers the helper registers with, and which manifest family each
//! one reads. Only names and families live here; paths are in `install`.

use std::fmt;
use std::str::FromStr;

/// A browser that can start the native-messaging host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Browser {
    Chrome,
    Chromium,
    Edge,
    Firefox,
}

/// The two manifest dialects: Chromium-family browsers want
/// `allowed_origins`, Firefox wants `allowed_extensions` and rejects the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Chromium,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 4] = [Browser::Chrome, Browser::Chromium, Browser::Edge, Browser::Firefox];

    pub fn family(self) -> Family {
        match self {
            Browser::Firefox => Family::Firefox,
            _ => Family::Chromium,
        }
    }

    /// The name used on the command line and in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Browser::Chrome => "chrome",
            Browser::Chromium => "chromium",
            Browser::Edge => "edge",
            Browser::Firefox => "firefox",
        }
    }
}

/// An unknown browser name. The text is a CLI argument or a stored value,
/// never a secret, so it is kept to show the person what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown browser {0:?}; use chrome, chromium, edge or firefox")]
pub struct UnknownBrowser(pub String);

impl FromStr for Browser {
    type Err = UnknownBrowser;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "chrome" | "google-chrome" => Ok(Browser::Chrome),
            "chromium" => Ok(Browser::Chromium),
            "edge" | "msedge" | "microsoft-edge" => Ok(Browser::Edge),
            "firefox" => Ok(Browser::Firefox),
            _ => Err(UnknownBrowser(s.chars().take(32).collect())),
        }
    }
}

impl fmt::Display for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Browser::ALL {
            assert_eq!(b.as_str().parse::<Browser>().unwrap(), b);
        }
        assert_eq!("Google-Chrome".parse::<Browser>().unwrap(), Browser::Chrome);
        assert!("safari".parse::<Browser>().is_err());
        assert_eq!(Browser::Firefox.family(), Family::Firefox);
        assert_eq!(Browser::Edge.family(), Family::Chromium);
    }
}
