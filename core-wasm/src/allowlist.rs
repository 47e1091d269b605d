//! Which web origins may use the helper: the allowlist IT writes in the
//! helper's config (`allowed_origins`) and pushes to the extension by browser
//! policy. The same rule is written in the extension (`extension/lib/allowlist.js`);
//! both run every case of `tests/fixtures/origin-allowlist.json`, so they
//! cannot drift apart.
//!
//! An entry is one of:
//! - an exact origin: `https://host[:port]`, or `http://host[:port]` — plain
//!   HTTP only because IT wrote it down (a page served over HTTP on the
//!   clinic LAN can be rewritten in transit, so nothing else admits it);
//! - a wildcard for one domain's subdomains: `https://*.domain[:port]`,
//!   HTTPS only, with at least two labels after `*.` (never `*.com`). It
//!   matches one or more labels in front of the domain, not the domain itself.
//!
//! Scheme and host compare case-insensitively; a default port (443, 80) and
//! one trailing slash are dropped. Anything else (paths, queries, user
//! names, other schemes) is refused with the reason.

use std::fmt;

/// Why an allowlist entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("{entry:?}: an entry starts with https:// or http://")]
    Scheme { entry: String },
    #[error("{entry:?}: an origin has no path, query, fragment or user name")]
    NotAnOrigin { entry: String },
    #[error("{entry:?}: the host name is empty or has characters a host cannot have")]
    Host { entry: String },
    #[error("{entry:?}: the port is not a number from 1 to 65535")]
    Port { entry: String },
    #[error("{entry:?}: a wildcard is https://*.<domain with at least two labels>, nothing else")]
    Wildcard { entry: String },
}

/// One parsed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    https: bool,
    /// Lower-case host; for a wildcard, the domain after `*.`.
    host: String,
    wildcard: bool,
    /// `None` is the scheme's default port.
    port: Option<u16>,
}

/// An origin or entry split into its parts (no validation of meaning yet).
struct Parts<'a> {
    https: bool,
    host: &'a str,
    port: Option<u16>,
}

/// Splits `scheme://host[:port][/]`; `entry` names the text in errors.
fn split(text: &str) -> Result<Parts<'_>, EntryError> {
    let entry = || text.to_owned();
    let lower_scheme = text.get(..8).map(str::to_ascii_lowercase);
    let (https, rest) = if lower_scheme.as_deref() == Some("https://") {
        (true, &text[8..])
    } else if text.get(..7).map(str::to_ascii_lowercase).as_deref() == Some("http://") {
        (false, &text[7..])
    } else {
        return Err(EntryError::Scheme { entry: entry() });
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@', '\\']) {
        return Err(EntryError::NotAnOrigin { entry: entry() });
    }
    // `[::1]:8080`: the port follows the closing bracket.
    let (host, port) = match rest.rfind(':') {
        Some(i) if !rest.starts_with('[') || rest[..i].ends_with(']') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    let port = match port {
        None => None,
        Some(p) => {
            let n: u16 = p.parse().ok().filter(|n| *n > 0 && p.bytes().all(|b| b.is_ascii_digit())).ok_or(EntryError::Port { entry: entry() })?;
            let default = if https { 443 } else { 80 };
            (n != default).then_some(n)
        }
    };
    Ok(Parts { https, host, port })
}

/// Longer than any real origin; keeps a pasted document out of the parser.
const MAX_ENTRY_CHARS: usize = 300;

/// A canonical dotted-quad IPv4 address (what a browser writes in an origin).
fn is_ipv4(host: &str) -> bool {
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) && (p.len() == 1 || !p.starts_with('0')) && p.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// A host as browsers serialise it: ASCII lower case (IDNs as `xn--`),
/// labels of `[a-z0-9_-]`, no empty label, no trailing dot. A name whose
/// last label looks numeric must be a canonical IPv4 address: a browser
/// rewrites anything else (`127.1`, `0x7f.1`), so such an entry could never
/// match. Or a bracketed IPv6 address.
fn valid_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.contains(':') && inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    }
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    let label_ok = |l: &str| (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !host.split('.').all(label_ok) {
        return false;
    }
    let last = host.rsplit('.').next().unwrap_or("");
    let numeric = last.bytes().all(|b| b.is_ascii_digit()) || last.strip_prefix("0x").is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    !numeric || is_ipv4(host)
}

impl Entry {
    /// Parses one entry exactly as written (no trimming: the extension,
    /// which reads the same list from browser policy, does not trim either).
    pub fn parse(text: &str) -> Result<Entry, EntryError> {
        if text.len() > MAX_ENTRY_CHARS {
            return Err(EntryError::NotAnOrigin { entry: text.chars().take(40).collect::<String>() + "…" });
        }
        let p = split(text)?;
        let host = p.host.to_ascii_lowercase();
        if let Some(domain) = host.strip_prefix("*.") {
            let ok = p.https && valid_host(domain) && !domain.starts_with('[') && !is_ipv4(domain) && domain.split('.').count() >= 2;
            if !ok {
                return Err(EntryError::Wildcard { entry: text.to_owned() });
            }
            return Ok(Entry { https: true, host: domain.to_owned(), wildcard: true, port: p.port });
        }
        if host.contains('*') {
            return Err(EntryError::Wildcard { entry: text.to_owned() });
        }
        if !valid_host(&host) {
            return Err(EntryError::Host { entry: text.to_owned() });
        }
        Ok(Entry { https: p.https, host, wildcard: false, port: p.port })
    }

    /// Whether the browser-given `origin` is admitted by this entry.
    pub fn matches(&self, origin: &str) -> bool {
        let Ok(p) = split(origin) else { return false };
        if p.https != self.https || p.port != self.port {
            return false;
        }
        let host = p.host.to_ascii_lowercase();
        if self.wildcard {
            host.strip_suffix(self.host.as_str()).is_some_and(|front| front.len() > 1 && front.ends_with('.') && valid_host(&front[..front.len() - 1]))
        } else {
            host == self.host
        }
    }

    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }
}

impl fmt::Display for Entry {
    /// The normal form: lower case, no default port, no trailing slash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        let star = if self.wildcard { "*." } else { "" };
        match self.port {
            Some(port) => write!(f, "{scheme}://{star}{}:{port}", self.host),
            None => write!(f, "{scheme}://{star}{}", self.host),
        }
    }
}

/// The configured entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowlist {
    entries: Vec<Entry>,
}

impl Allowlist {
    /// Parses every entry; all errors are returned, so IT fixes them in one go.
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Allowlist, Vec<EntryError>> {
        let (ok, bad): (Vec<_>, Vec<_>) = texts.iter().map(|t| Entry::parse(t.as_ref())).partition(Result::is_ok);
        if bad.is_empty() {
            Ok(Allowlist { entries: ok.into_iter().filter_map(Result::ok).collect() })
        } else {
            Err(bad.into_iter().filter_map(Result::err).collect())
        }
    }

    /// The usable entries only. A list whose entries are all unusable
    /// admits nothing: a typo must never open the helper to every site.
    pub fn valid_only<S: AsRef<str>>(texts: &[S]) -> Allowlist {
        Allowlist { entries: texts.iter().filter_map(|t| Entry::parse(t.as_ref()).ok()).collect() }
    }

    pub fn matches(&self, origin: &str) -> bool {
        self.entries.iter().any(|e| e.matches(origin))
    }

    /// Whether `origin` is admitted by an entry that names it exactly (the
    /// only way a non-loopback `http://` origin may pair).
    pub fn names_exactly(&self, origin: &str) -> bool {
        self.entries.iter().any(|e| !e.wildcard && e.matches(origin))
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// Whether `origin`'s host is this machine (`localhost`, `127.0.0.0/8`,
/// `[::1]`): plain HTTP there never crosses a network.
pub fn is_loopback(origin: &str) -> bool {
    let Ok(p) = split(origin) else { return false };
    let host = p.host.to_ascii_lowercase();
    if host == "localhost" || host == "[::1]" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4 && octets[0] == "127" && octets.iter().all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u8>().is_ok())
}

/// Whether `origin` is plain HTTP to another machine: such a page may be
/// rewritten on the way, so it pairs only when IT lists it exactly.
pub fn is_insecure_remote(origin: &str) -> bool {
    split(origin).is_ok_and(|p| !p.https) && !is_loopback(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases the extension runs too.
    fn cases() -> serde_json::Value {
        serde_json::from_str(include_str!("../tests/fixtures/origin-allowlist.json")).expect("fixture JSON")
    }

    #[test]
    fn valid_entries_have_their_normal_form() {
        for c in cases()["valid_entries"].as_array().unwrap() {
            let (text, normal) = (c["entry"].as_str().unwrap(), c["normal"].as_str().unwrap());
            let e = Entry::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(e.to_string(), normal, "{text}");
        }
    }

    #[test]
    fn invalid_entries_are_refused() {
        for c in cases()["invalid_entries"].as_array().unwrap() {
            let text = c.as_str().unwrap();
            assert!(Entry::parse(text).is_err(), "{text:?} was accepted as {:?}", Entry::parse(text));
        }
    }

    #[test]
    fn origins_match_as_the_cases_say() {
        for c in cases()["matches"].as_array().unwrap() {
            let (entry, origin, want) = (c["entry"].as_str().unwrap(), c["origin"].as_str().unwrap(), c["match"].as_bool().unwrap());
            assert_eq!(Entry::parse(entry).unwrap().matches(origin), want, "{entry} vs {origin}");
        }
    }

    #[test]
    fn loopback_as_the_cases_say() {
        for c in cases()["loopback"].as_array().unwrap() {
            let (origin, want) = (c["origin"].as_str().unwrap(), c["loopback"].as_bool().unwrap());
            assert_eq!(is_loopback(origin), want, "{origin}");
        }
    }

    #[test]
    fn a_list_reports_every_bad_entry_and_knows_exact_names() {
        let errs = Allowlist::parse(&["https://ok.example", "ftp://x", "https://*.com"]).unwrap_err();
        assert_eq!(errs.len(), 2);
        let list = Allowlist::parse(&["https://*.clinic.example", "http://192.168.1.20:8080"]).unwrap();
        assert!(list.matches("https://a.clinic.example"));
        assert!(!list.names_exactly("https://a.clinic.example"));
        assert!(list.names_exactly("http://192.168.1.20:8080"));
        assert!(is_insecure_remote("http://192.168.1.20:8080"));
        assert!(!is_insecure_remote("http://127.0.0.1:8080"));
        assert!(!is_insecure_remote("https://clinic.example"));
    }
}
