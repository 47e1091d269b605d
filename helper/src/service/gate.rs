//! The gate in front of the dispatcher for pages that are not paired: the
//! allowlist IT set (`allowed_origins`), plain-HTTP pairing, and rate limits,
//! all decided in memory so that a flood from the open web costs neither a
//! database row nor an fsync'd audit entry per request.
//!
//! - An origin outside a set allowlist gets `origin_not_allowed` at once,
//!   before the store is even asked whether it is paired.
//! - Paired pages never reach the limits (the dispatcher asks the gate only
//!   for unpaired callers), so nothing unpaired callers do slows them.
//! - Unpaired callers: a token bucket per origin and one for all of them
//!   together; `pair_begin` has tighter buckets of its own, and the number
//!   of pairing windows waiting for a person is capped by the dispatcher.
//! - `pair_begin` from plain `http://` to another machine is refused unless
//!   IT listed that origin exactly (such a page can be rewritten in transit).
//! - Refusals are counted. The audit gets one line per origin and reason at
//!   most every [`AUDIT_EVERY_S`] seconds (carrying how many were refused
//!   since the last line), and never more than [`AUDIT_BURST`] such lines a
//!   minute in all; what is not written is still counted in the next line.
//!
//! Memory is bounded too: at most [`MAX_TRACKED`] origins are tracked; when
//! full, the longest-idle one is forgotten (its bucket restarts full, which
//! only ever errs on the side of the origin-wide limits still holding).

use std::collections::HashMap;

use onshi_core::allowlist::{self, Allowlist};
use onshi_core::protocol::{ErrorCode as Code, ErrorDetail, ProtocolError};

use super::dispatch::PAIRING_TTL_S;
use onshi_core::text::Bilingual;

/// Origins tracked at once.
pub const MAX_TRACKED: usize = 1024;
/// Seconds between two audit lines for the same origin and reason.
pub const AUDIT_EVERY_S: i64 = 600;
/// Refusal audit lines per minute, all origins together.
pub const AUDIT_BURST: f64 = 6.0;

/// A token bucket: `burst` tokens, refilled at `per_s` a second.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub burst: f64,
    pub per_s: f64,
}

/// The limits for unpaired callers. The defaults leave a person plenty of
/// room (a page reloads, asks `hello` and `status`, starts pairing once or
/// twice) and hold a script to a trickle.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Any request from one unpaired origin.
    pub per_origin: Rate,
    /// Any request from all unpaired origins together.
    pub unpaired_total: Rate,
    /// `pair_begin` from one origin.
    pub pair_begin_per_origin: Rate,
    /// `pair_begin` from all origins together.
    pub pair_begin_total: Rate,
    /// Pairing windows waiting for a person at once.
    pub max_pending: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_origin: Rate { burst: 20.0, per_s: 1.0 },
            unpaired_total: Rate { burst: 100.0, per_s: 20.0 },
            pair_begin_per_origin: Rate { burst: 3.0, per_s: 3.0 / 60.0 },
            pair_begin_total: Rate { burst: 10.0, per_s: 10.0 / 60.0 },
            max_pending: 8,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: i64,
}

impl Bucket {
    fn full(rate: Rate, now_ms: i64) -> Bucket {
        Bucket { tokens: rate.burst, at_ms: now_ms }
    }

    /// Takes one token, or says how many whole seconds until one is there.
    fn take(&mut self, rate: Rate, now_ms: i64) -> Result<(), u32> {
        let elapsed = (now_ms - self.at_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate.per_s).min(rate.burst);
        self.at_ms = now_ms;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / rate.per_s).ceil().max(1.0) as u32)
        }
    }
}

/// Why the gate refused (also the audit's error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Outside the allowlist.
    NotListed,
    /// Plain HTTP to another machine, asking to pair without being listed.
    InsecurePairing,
    /// Over a rate limit; retry after this many seconds.
    RateLimited(u32),
    /// Too many pairing windows already waiting for a person.
    TooManyPending,
}

impl Refusal {
    pub fn code(self) -> Code {
        match self {
            Refusal::NotListed | Refusal::InsecurePairing => Code::OriginNotAllowed,
            Refusal::RateLimited(_) | Refusal::TooManyPending => Code::RateLimited,
        }
    }

    /// The error the page gets.
    pub fn to_error(self) -> ProtocolError {
        let mut e = ProtocolError::new(self.code());
        match self {
            Refusal::NotListed => {}
            Refusal::InsecurePairing => {
                e.message = Bilingual::new(
                    "暗号化されていない（http:// の）ページは、IT担当者がヘルパーの設定 allowed_origins に書いた場合だけペアリングできます。受付画面は https:// で開いてください。",
                    "A page served over plain http:// can be paired only when IT lists it in the helper's allowed_origins. Open the reception page over https://.",
                )
            }
            Refusal::RateLimited(secs) => e.detail = ErrorDetail { retry_after_s: Some(secs), ..ErrorDetail::default() },
            Refusal::TooManyPending => {
                e.detail = ErrorDetail { retry_after_s: Some(PAIRING_TTL_S), ..ErrorDetail::default() };
                e.message = Bilingual::new(
                    "承認待ちのペアリングが多すぎます。開いているペアリングの窓で承認または拒否してから、もう一度お試しください。",
                    "Too many pairing requests are waiting. Approve or reject the open pairing windows, then try again.",
                );
            }
        }
        e
    }
}

/// An audit line the dispatcher should write now: `count` refusals with
/// this error code from this origin, including the one just made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDue {
    pub origin: String,
    pub code: Code,
    pub count: u32,
}

#[derive(Debug)]
struct Tracked {
    requests: Bucket,
    pair_begins: Bucket,
    seen_ms: i64,
    /// Per error code: refused since the last audit line, and when that line was.
    refused: HashMap<Code, (u32, Option<i64>)>,
}

/// Counts since the service started (for `status` and the benchmark).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub refused: u64,
    pub audit_lines: u64,
}

#[derive(Debug)]
pub struct Gate {
    allow: Option<Allowlist>,
    limits: Limits,
    tracked: HashMap<String, Tracked>,
    unpaired_total: Bucket,
    pair_begin_total: Bucket,
    audit_budget: Bucket,
    counts: Counts,
}

impl Gate {
    pub fn new(allow: Option<Allowlist>, limits: Limits) -> Gate {
        Gate {
            allow,
            limits,
            tracked: HashMap::new(),
            unpaired_total: Bucket::full(limits.unpaired_total, 0),
            pair_begin_total: Bucket::full(limits.pair_begin_total, 0),
            audit_budget: Bucket::full(Self::audit_rate(), 0),
            counts: Counts::default(),
        }
    }

    fn audit_rate() -> Rate {
        Rate { burst: AUDIT_BURST, per_s: AUDIT_BURST / 60.0 }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Whether a page of `origin` may be answered at all (the allowlist).
    /// Asked first, for every page request, paired or not.
    pub fn admits(&self, origin: &str) -> bool {
        self.allow.as_ref().is_none_or(|a| a.matches(origin))
    }

    /// The limits for a request from an unpaired `origin`; `pair_begin` says
    /// whether it asks to pair, `pending` how many pairing windows wait.
    pub fn check_unpaired(&mut self, origin: &str, pair_begin: bool, pending: usize, now_ms: i64) -> Result<(), Refusal> {
        if pair_begin && allowlist::is_insecure_remote(origin) && !self.allow.as_ref().is_some_and(|a| a.names_exactly(origin)) {
            return Err(Refusal::InsecurePairing);
        }
        let limits = self.limits;
        let t = self.track(origin, now_ms);
        t.requests.take(limits.per_origin, now_ms).map_err(Refusal::RateLimited)?;
        self.unpaired_total.take(limits.unpaired_total, now_ms).map_err(Refusal::RateLimited)?;
        if pair_begin {
            if pending >= limits.max_pending {
                return Err(Refusal::TooManyPending);
            }
            let t = self.track(origin, now_ms);
            t.pair_begins.take(limits.pair_begin_per_origin, now_ms).map_err(Refusal::RateLimited)?;
            self.pair_begin_total.take(limits.pair_begin_total, now_ms).map_err(Refusal::RateLimited)?;
        }
        Ok(())
    }

    /// Counts a refusal of a page that is not paired (by the gate, or later
    /// by the access rules: `not_paired`, `extension_only` …); returns the
    /// audit line to write, if one is due.
    pub fn refused(&mut self, origin: &str, key: Code, now_ms: i64) -> Option<AuditDue> {
        self.counts.refused += 1;
        let (count, last) = {
            let t = self.track(origin, now_ms);
            let e = t.refused.entry(key).or_insert((0, None));
            e.0 = e.0.saturating_add(1);
            *e
        };
        let due = last.is_none_or(|at| now_ms - at >= AUDIT_EVERY_S * 1000);
        if !due || self.audit_budget.take(Self::audit_rate(), now_ms).is_err() {
            return None;
        }
        if let Some(t) = self.tracked.get_mut(origin) {
            t.refused.insert(key, (0, Some(now_ms)));
        }
        self.counts.audit_lines += 1;
        Some(AuditDue { origin: origin.to_owned(), code: key, count })
    }

    fn track(&mut self, origin: &str, now_ms: i64) -> &mut Tracked {
        if !self.tracked.contains_key(origin) && self.tracked.len() >= MAX_TRACKED {
            if let Some(oldest) = self.tracked.iter().min_by_key(|(_, t)| t.seen_ms).map(|(k, _)| k.clone()) {
                self.tracked.remove(&oldest);
            }
        }
        let limits = self.limits;
        let t = self.tracked.entry(origin.to_owned()).or_insert_with(|| Tracked {
            requests: Bucket::full(limits.per_origin, now_ms),
            pair_begins: Bucket::full(limits.pair_begin_per_origin, now_ms),
            seen_ms: now_ms,
            refused: HashMap::new(),
        });
        t.seen_ms = now_ms;
        t
    }

    #[cfg(test)]
    fn tracked_len(&self) -> usize {
        self.tracked.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "https://a.example";
    const B: &str = "https://b.example";

    #[test]
    fn the_allowlist_admits_only_its_origins_and_none_means_all() {
        let open = Gate::new(None, Limits::default());
        assert!(open.admits("https://anything.example"));
        let closed = Gate::new(Some(Allowlist::parse(&["https://*.clinic.example"]).unwrap()), Limits::default());
        assert!(closed.admits("https://uketsuke.clinic.example"));
        assert!(!closed.admits("https://evil.example"));
    }

    #[test]
    fn plain_http_to_another_machine_pairs_only_when_listed_exactly() {
        let mut g = Gate::new(None, Limits::default());
        assert_eq!(g.check_unpaired("http://192.168.1.5:8080", true, 0, 0), Err(Refusal::InsecurePairing));
        assert_eq!(g.check_unpaired("http://192.168.1.5:8080", false, 0, 0), Ok(()), "other requests are not refused for it");
        assert_eq!(g.check_unpaired("http://127.0.0.1:8080", true, 0, 0), Ok(()), "loopback never crosses a network");
        let mut listed = Gate::new(Some(Allowlist::parse(&["http://192.168.1.5:8080"]).unwrap()), Limits::default());
        assert_eq!(listed.check_unpaired("http://192.168.1.5:8080", true, 0, 0), Ok(()));
    }

    #[test]
    fn pair_begin_is_limited_per_origin_and_refills_with_time() {
        let mut g = Gate::new(None, Limits::default());
        for _ in 0..3 {
            assert_eq!(g.check_unpaired(A, true, 0, 0), Ok(()));
        }
        let Err(Refusal::RateLimited(wait)) = g.check_unpaired(A, true, 0, 0) else { panic!("the fourth pair_begin in a minute passed") };
        assert!((1..=20).contains(&wait), "retry after {wait} s");
        // Another origin is not held back by A's bucket.
        assert_eq!(g.check_unpaired(B, true, 0, 0), Ok(()));
        // 20 s later one token is back.
        assert_eq!(g.check_unpaired(A, true, 0, 20_000), Ok(()));
    }

    #[test]
    fn many_origins_hit_the_total_limits() {
        let mut g = Gate::new(None, Limits::default());
        let passed = (0..50).filter(|i| g.check_unpaired(&format!("https://o{i}.example"), true, 0, 0).is_ok()).count();
        assert_eq!(passed, 10, "pair_begin from all origins together is capped by its burst");
        let mut g = Gate::new(None, Limits::default());
        let passed = (0..500).filter(|i| g.check_unpaired(&format!("https://o{}.example", i % 50), false, 0, 0).is_ok()).count();
        assert_eq!(passed, 100, "any request from all unpaired origins together is capped by its burst");
    }

    #[test]
    fn waiting_pairing_windows_are_capped() {
        let mut g = Gate::new(None, Limits::default());
        assert_eq!(g.check_unpaired(A, true, 8, 0), Err(Refusal::TooManyPending));
        assert_eq!(Refusal::TooManyPending.to_error().code, Code::RateLimited);
    }

    #[test]
    fn refusals_are_counted_and_audited_sparingly() {
        let mut g = Gate::new(None, Limits::default());
        let first = g.refused(A, Code::OriginNotAllowed, 0).expect("the first refusal is audited");
        assert_eq!(first.count, 1);
        for i in 1..1000 {
            assert_eq!(g.refused(A, Code::OriginNotAllowed, i), None, "refusal {i} wrote a line");
        }
        // Ten minutes later the next line carries everything since the first.
        let next = g.refused(A, Code::OriginNotAllowed, AUDIT_EVERY_S * 1000).expect("due again");
        assert_eq!(next.count, 1000);
        // Another code from the same origin has its own line.
        assert!(g.refused(A, Code::NotPaired, 1).is_some());
        assert!(g.refused(A, Code::NotPaired, 2).is_none());
        assert_eq!(g.counts().refused, 1003);
    }

    #[test]
    fn audit_lines_are_capped_across_origins() {
        let mut g = Gate::new(None, Limits::default());
        let lines = (0..100).filter(|i| g.refused(&format!("https://o{i}.example"), Code::OriginNotAllowed, 0).is_some()).count();
        assert_eq!(lines, AUDIT_BURST as usize);
        assert_eq!(g.counts().refused, 100);
    }

    #[test]
    fn tracked_origins_are_bounded() {
        let mut g = Gate::new(None, Limits::default());
        for i in 0..(MAX_TRACKED + 500) {
            let _ = g.check_unpaired(&format!("https://o{i}.example"), false, 0, i as i64 * 1000);
        }
        assert_eq!(g.tracked_len(), MAX_TRACKED);
    }
}
