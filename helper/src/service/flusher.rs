//! The shared store's heartbeat and the sender of the local queue (issue
//! 17, a down database): while the server answers, a trivial statement now
//! and then notices an outage even when nobody checks a patient; while it
//! does not, a fresh connection is tried *outside* the store's lock (a
//! server that does not answer at all costs the connect timeout, which desk
//! requests must not wait for), with backoff; once it answers, the queue is
//! sent under the lock (`Store::flush_queue`: in order, once each). It
//! decides only *when*; what is queued and how it is sent is `store::outbox`.

use std::sync::Arc;
use std::time::Duration;

use crate::store::{PgSettings, Store};

use super::runtime::Runtime;

/// The heartbeat while all is well, and the first retry after an outage.
const BASE: Duration = Duration::from_secs(2);
/// The longest wait between two tries while the server is down.
const MAX: Duration = Duration::from_secs(30);

/// Runs for the life of the service (spawned only with a shared store).
pub async fn run(rt: Arc<Runtime>, settings: PgSettings) {
    let mut wait = BASE;
    loop {
        tokio::time::sleep(wait).await;
        let state = match rt.with_store(|s| s.shared_state()) {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                eprintln!("onshi-helper service: cannot read the local queue: {e}");
                wait = (wait * 2).min(MAX);
                continue;
            }
        };
        let queued = state.queued_results + state.queued_audit;
        if state.reachable && queued == 0 {
            // Heartbeat: fast on a live connection; a failure marks it down.
            if let Err(e) = rt.with_store(|s| s.ping_shared()) {
                eprintln!("onshi-helper service: shared database: {e}");
            }
            wait = BASE;
            continue;
        }
        if !state.reachable {
            let probe = settings.clone();
            let up = tokio::task::spawn_blocking(move || Store::probe_shared(&probe)).await;
            if !matches!(up, Ok(Ok(_))) {
                wait = (wait * 2).min(MAX);
                continue;
            }
        }
        match rt.with_store(|s| s.flush_queue()) {
            Ok(sent) => {
                if sent.results + sent.audit > 0 {
                    eprintln!(
                        "onshi-helper service: shared database back; sent {} queued results and {} audit entries",
                        sent.results, sent.audit
                    );
                }
                wait = BASE;
            }
            Err(e) => {
                eprintln!("onshi-helper service: sending the local queue failed: {e}");
                wait = (wait * 2).min(MAX);
            }
        }
    }
}
