//! Pairing a page's origin with this helper: the code shown on both sides,
//! the attempts waiting for a person (in memory only, bounded and expiring,
//! so the store keeps decided pairings and never one row per attempt), and
//! the extension's own approve / list / revoke requests.

use onshi_core::protocol::{
    Event, FromExtensionUi, FromHelper, PairApproveReply, PairBeginReply, PairRevokeReply, PairingInfo,
    PairingsListReply, ProtocolError, Response, ToHelper,
};

use super::dispatch::{internal, Caller, Dispatcher, Env, Out};
use crate::browser::Browser;
use crate::store::{Actor, AuditDetail, ExtensionId, Origin, Outcome, PairingAction};
use crate::time::Timestamp;

/// How long a pairing code stays valid.
pub const PAIRING_TTL_S: u32 = 120;
/// Pairing codes use letters and digits that cannot be mistaken for each
/// other on screen (no 0/O, 1/I/L, 2/Z, 5/S, 8/B).
pub const CODE_ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTUVWXY34679";
/// Characters in a pairing code.
pub const CODE_LEN: usize = 6;

/// A pairing attempt waiting for the pairing window.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    origin: Origin,
    extension_id: ExtensionId,
    browser: Browser,
    begun: Timestamp,
    expires_at: i64,
}

/// A code from `fill` (random bytes), without modulo bias: bytes at or above
/// the largest multiple of the alphabet size are drawn again.
pub fn random_code(mut fill: impl FnMut(&mut [u8]) -> Result<(), ProtocolError>) -> Result<String, ProtocolError> {
    let n = CODE_ALPHABET.len();
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(CODE_LEN);
    let mut buf = [0u8; 16];
    while out.len() < CODE_LEN {
        fill(&mut buf)?;
        for &b in &buf {
            if (b as usize) < limit && out.len() < CODE_LEN {
                out.push(char::from(CODE_ALPHABET[b as usize % n]));
            }
        }
    }
    Ok(out)
}

/// The extension's own origin as the audit's actor.
fn extension_actor(caller: &Caller) -> Actor {
    Origin::new(&format!("chrome-extension://{}", caller.extension_id)).map(Actor::Origin).unwrap_or(Actor::Cli)
}

impl<E: Env> Dispatcher<E> {
    /// Attempts still waiting for a person, after dropping the expired ones.
    pub(super) fn live_pending(&mut self) -> usize {
        let now_secs = self.env.now_secs();
        self.pending.retain(|_, p| p.expires_at > now_secs);
        self.pending.len()
    }

    pub(super) fn pair_begin(&mut self, caller: &Caller, frame: &ToHelper) -> Result<Response, ProtocolError> {
        let origin = Origin::new(&frame.origin)
            .map_err(|_| ProtocolError::invalid_argument("origin", "the sender's origin cannot be paired"))?;
        let begun = self.now()?;
        let now_secs = self.env.now_secs();
        self.live_pending();
        // A new attempt from the same origin voids the older code.
        self.pending.retain(|_, p| !(p.origin == origin && p.extension_id == caller.extension_id));
        let code = self.env.code()?;
        self.next_pairing += 1;
        let pairing_id = format!("p-{}", self.next_pairing);
        self.pending.insert(
            pairing_id.clone(),
            Pending {
                origin: origin.clone(),
                extension_id: caller.extension_id.clone(),
                browser: caller.browser,
                begun,
                expires_at: now_secs + i64::from(PAIRING_TTL_S),
            },
        );
        self.audit(&Actor::Origin(origin.clone()), Outcome::Ok, &AuditDetail::Pairing { action: PairingAction::Begin, origin });
        Ok(Response::PairBegin(PairBeginReply { pairing_id, code, expires_in_s: PAIRING_TTL_S }))
    }

    pub(super) fn pair_approve(
        &mut self,
        _proof: FromExtensionUi,
        caller: &Caller,
        pairing_id: &str,
        approve: bool,
        out: &mut Vec<Out>,
    ) -> Result<Response, ProtocolError> {
        let now_secs = self.env.now_secs();
        let pending = match self.pending.remove(pairing_id) {
            Some(p) if p.expires_at > now_secs && p.extension_id == caller.extension_id => p,
            _ => {
                return Err(ProtocolError::invalid_argument("pairing_id", "unknown or expired pairing attempt"));
            }
        };
        let now = self.now()?;
        let action = if approve {
            self.store.pair(&pending.origin, &pending.extension_id, pending.browser, &pending.begun, &now).map_err(internal)?;
            PairingAction::Approve
        } else {
            // The person said no to this origin: an older pairing of it ends too.
            self.store.revoke_pairings(&pending.origin, &now).map_err(internal)?;
            PairingAction::Reject
        };
        self.audit(&extension_actor(caller), Outcome::Ok, &AuditDetail::Pairing { action, origin: pending.origin.clone() });
        out.push(Out::Event {
            to: caller.extension_id.clone(),
            frame: FromHelper::event(
                Event::PairingDecided { pairing_id: pairing_id.to_owned(), approved: approve },
                Some(pending.origin.to_string()),
            ),
        });
        Ok(Response::PairApprove(PairApproveReply {
            pairing_id: pairing_id.to_owned(),
            origin: pending.origin.to_string(),
            approved: approve,
        }))
    }

    pub(super) fn pairings_list(&self, caller: &Caller) -> Result<Response, ProtocolError> {
        let pairings = self
            .store
            .pairings()
            .map_err(internal)?
            .into_iter()
            .filter(|p| p.is_live() && p.extension_id == caller.extension_id)
            .map(|p| PairingInfo {
                origin: p.origin.to_string(),
                paired_at: p.approved_at.unwrap_or(p.created_at),
                last_used: None,
            })
            .collect();
        Ok(Response::PairingsList(PairingsListReply { pairings }))
    }

    pub(super) fn pair_revoke(
        &mut self,
        _proof: FromExtensionUi,
        caller: &Caller,
        origin_text: &str,
        out: &mut Vec<Out>,
    ) -> Result<Response, ProtocolError> {
        let origin =
            Origin::new(origin_text).map_err(|_| ProtocolError::invalid_argument("origin", "not an origin"))?;
        let now = self.now()?;
        let n = self.store.revoke_pairings(&origin, &now).map_err(internal)?;
        self.pending.retain(|_, p| p.origin != origin);
        if n > 0 {
            self.audit(&extension_actor(caller), Outcome::Ok, &AuditDetail::Pairing { action: PairingAction::Revoke, origin: origin.clone() });
            out.push(Out::Event {
                to: caller.extension_id.clone(),
                frame: FromHelper::event(Event::PairingRevoked, Some(origin.to_string())),
            });
        }
        Ok(Response::PairRevoke(PairRevokeReply { origin: origin.to_string(), revoked: n > 0 }))
    }
}
