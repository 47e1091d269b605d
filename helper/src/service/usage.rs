//! The `usage` request (issue 16): checks the range with the core's rule,
//! then asks the store. A read, like `today`: refusals are audited by the
//! dispatcher, answers are not (they reveal counts, no patient data).

use onshi_core::protocol::{ProtocolError, Response};
use onshi_core::usage::{RangeError, UsageQuery};

use super::dispatch::internal;
use crate::store::Store;
use crate::time::Day;

/// `2026-01-25` from a checked `YYYYMMDD` date.
fn day(d: onshi_core::wareki::Date) -> Result<Day, ProtocolError> {
    let text = format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
    Day::parse(&text).map_err(|_| ProtocolError::invalid_argument("from", "not a date (YYYYMMDD)"))
}

pub(super) fn usage(store: &Store, query: &UsageQuery) -> Result<Response, ProtocolError> {
    let (from, to) = query.days().map_err(|e| {
        let field = match e {
            RangeError::NotADate { field } => field,
            _ => "to",
        };
        ProtocolError::invalid_argument(field, e.to_string())
    })?;
    let reply = store.usage(query, &day(from)?, &day(to)?).map_err(internal)?;
    Ok(Response::Usage(reply))
}
