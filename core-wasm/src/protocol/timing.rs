//! Where the time of one card confirmation went, as the helper measured it
//! (issue 5, "Performance"). Only the shape lives here: the core has no clock,
//! so the helper fills it and pages may show or log it.

use serde::{Deserialize, Serialize};

/// Milliseconds, split by who spent them. Sent in the `card_confirm` and
/// `insurance_confirm` replies (field `timing`; `card_ms` is 0 in the latter)
/// and absent everywhere else; older pages ignore it.
///
/// `total_ms` runs from the moment the helper service received the request
/// to the moment it sent the reply. In PIN mode the clock starts at the
/// `pin_entry` that led to the result, not at `card_confirm`: the wait for a
/// person to type the PIN is not the helper's time. The other three fields
/// split `total_ms`; `helper_ms` is what remains after the other two, so
/// `card_ms + network_ms + helper_ms == total_ms` up to rounding.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Timing {
    /// Inside PC/SC calls: connecting, the transaction, the APDUs (the card's
    /// own signing included) and the card reset.
    pub card_ms: f64,
    /// Inside the eligibility backend's calls (the card challenge and the
    /// card confirmation, TLS and the gateway's own work included).
    pub network_ms: f64,
    /// Everything else: parsing, routing, the PIN hand-over, the result
    /// document, the SQLite writes and the audit chain.
    pub helper_ms: f64,
    /// From receiving the request (PIN mode: the `pin_entry`) to sending the reply.
    pub total_ms: f64,
}

impl Timing {
    /// The split from the measured parts; `helper_ms` is the remainder (never
    /// below zero, should a clock step make the parts exceed the total).
    pub fn from_parts(total_ms: f64, card_ms: f64, network_ms: f64) -> Timing {
        Timing { card_ms, network_ms, helper_ms: (total_ms - card_ms - network_ms).max(0.0), total_ms }
    }
}

// Bit-for-bit equality, so `Timing` can be `Eq` like every other protocol
// body (replies are compared whole in tests); the helper never makes a NaN.
impl PartialEq for Timing {
    fn eq(&self, other: &Self) -> bool {
        let bits = |t: &Timing| [t.card_ms.to_bits(), t.network_ms.to_bits(), t.helper_ms.to_bits(), t.total_ms.to_bits()];
        bits(self) == bits(other)
    }
}

impl Eq for Timing {}

#[cfg(test)]
mod tests {
    use super::Timing;

    #[test]
    fn helper_share_is_the_remainder() {
        let t = Timing::from_parts(20.0, 12.5, 5.0);
        assert_eq!((t.card_ms, t.network_ms, t.helper_ms, t.total_ms), (12.5, 5.0, 2.5, 20.0));
        // Parts that overshoot the total (clock granularity) leave no negative share.
        assert_eq!(Timing::from_parts(1.0, 0.8, 0.4).helper_ms, 0.0);
    }

    #[test]
    fn wire_shape() {
        let t = Timing::from_parts(4.0, 2.0, 1.0);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"card_ms":2.0,"network_ms":1.0,"helper_ms":1.0,"total_ms":4.0}"#);
        assert_eq!(serde_json::from_str::<Timing>(&json).unwrap(), t);
    }
}
