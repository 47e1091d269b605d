//! Checks other desks make, when a hospital's desks share one store (issue
//! 17): the store's listener hears each one as it is stored, and this
//! desk's pages are told (`today_added`) within about a second. A helper
//! with the store on its PC alone has nobody to listen to.

use std::collections::HashSet;

use super::*;
use crate::store::{Heard, Notice, ResultId};

/// Results already announced (or listed before this helper listened), so a
/// check is announced once, however it was heard.
#[derive(Default)]
struct Seen(HashSet<ResultId>);

impl Seen {
    /// `true` the first time `id` is seen. Forgets all once it is large: a
    /// check heard again after that is at worst announced twice, and pages
    /// list an `entry_id` once anyway.
    fn first(&mut self, id: ResultId) -> bool {
        if self.0.len() > 200_000 {
            self.0.clear();
        }
        self.0.insert(id)
    }
}

impl Runtime {
    /// Starts listening for other desks' checks when the store is shared.
    /// Called once, when the service starts.
    pub fn listen_shared(self: &Arc<Self>) {
        let (heard, own) = {
            let mut d = lock(&self.dispatcher);
            let own = d.store_mut().desk().map(|d| d.as_str().to_owned());
            match d.store_mut().listen_results() {
                Ok(Some(rx)) => (rx, own),
                Ok(None) => return,
                Err(e) => {
                    eprintln!("onshi-helper service: cannot listen for other desks' checks: {e}");
                    return;
                }
            }
        };
        let me = self.clone();
        let started = std::thread::Builder::new().name("onshi-shared-results".into()).spawn(move || {
            let mut seen = Seen::default();
            let mut first = true;
            for h in heard {
                match h {
                    Heard::Listening => {
                        me.catch_up(own.as_deref(), &mut seen, !first);
                        first = false;
                    }
                    Heard::Payload(p) => match Notice::decode(&p) {
                        Some(n) if n.desk.as_deref() != own.as_deref() && seen.first(n.id) => lock(&me.dispatcher).announce(n.id),
                        _ => {}
                    },
                }
            }
        });
        if let Err(e) = started {
            eprintln!("onshi-helper service: cannot start the listener thread: {e}");
        }
    }

    /// After the listener (re)connected: today's checks of other desks it
    /// has not announced — missed while the database was away. On the first
    /// connection they are only noted: a page reads the day's list itself
    /// when it opens.
    fn catch_up(&self, own: Option<&str>, seen: &mut Seen, announce: bool) {
        let mut d = lock(&self.dispatcher);
        let Ok(day) = d.now().map(|n| n.day()) else { return };
        let rows = match d.store_mut().results_for_day(&day) {
            Ok(rows) => rows,
            Err(e) => {
                eprintln!("onshi-helper service: store: reading today's checks after reconnecting: {e}");
                return;
            }
        };
        for r in rows {
            if r.kind.is_desk_check() && r.desk.as_deref() != own && seen.first(r.id) && announce {
                d.announce(r.id);
            }
        }
    }
}
