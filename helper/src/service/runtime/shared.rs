//! Checks other desks make, when a hospital's desks share one store (issue
//! 17): the store's listener hears each one as it is stored, and this
//! desk's pages are told (`today_added`) within about a second. A helper
//! with the store on its PC alone has nobody to listen to.
//!
//! Under load the notices come in bursts (20 desks × several checks a
//! second): a burst is read back in one statement (ids first..last), and the
//! documents are read and the events sent with the dispatcher's lock
//! released, so this desk's own checks never queue behind other desks'.

use std::collections::HashSet;
use std::sync::mpsc::Receiver;

use super::*;
use crate::store::{Heard, Notice, ResultId, StoredResult};

/// The most notices read back in one statement.
const BURST: usize = 500;

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

/// What one wake-up of the listener thread brought.
#[derive(Default)]
struct Burst {
    /// Other desks' results not announced yet.
    ids: Vec<ResultId>,
    /// The listener (re)connected: look at the whole day.
    reconnected: bool,
}

/// Waits for something to be heard, then takes whatever else is already
/// waiting; `None` when the listener has gone.
fn next_burst(heard: &Receiver<Heard>, own: Option<&str>, seen: &mut Seen) -> Option<Burst> {
    let mut burst = Burst::default();
    let mut take = |h: Heard, burst: &mut Burst| match h {
        Heard::Listening => burst.reconnected = true,
        Heard::Payload(p) => {
            if let Some(n) = Notice::decode(&p) {
                if n.desk.as_deref() != own && seen.first(n.id) {
                    burst.ids.push(n.id);
                }
            }
        }
    };
    take(heard.recv().ok()?, &mut burst);
    while burst.ids.len() < BURST {
        match heard.try_recv() {
            Ok(h) => take(h, &mut burst),
            Err(_) => break,
        }
    }
    Some(burst)
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
            while let Some(burst) = next_burst(&heard, own.as_deref(), &mut seen) {
                if burst.reconnected {
                    // On the first connection the day's rows are only noted:
                    // a page reads the day's list itself when it opens.
                    me.catch_up(own.as_deref(), &mut seen, !first);
                    first = false;
                }
                me.announce_ids(&burst.ids);
            }
        });
        if let Err(e) = started {
            eprintln!("onshi-helper service: cannot start the listener thread: {e}");
        }
    }

    /// Reads the results `ids` in one statement and tells every page.
    fn announce_ids(&self, ids: &[ResultId]) {
        let (Some(first), Some(last)) = (ids.iter().min(), ids.iter().max()) else { return };
        let rows = lock(&self.dispatcher).store_mut().results_between(*first, *last);
        match rows {
            Ok(rows) => self.announce(rows.into_iter().filter(|r| ids.contains(&r.id))),
            Err(e) => eprintln!("onshi-helper service: store: reading other desks' checks: {e}"),
        }
    }

    /// `today_added` for each desk check, with no lock held.
    fn announce(&self, rows: impl Iterator<Item = StoredResult>) {
        for entry in rows.filter_map(today::entry) {
            self.broadcast(Event::TodayAdded { entry });
        }
    }

    /// After the listener (re)connected: today's checks of other desks not
    /// seen yet — missed while the database was away. On the first
    /// connection they are only noted (`announce` false).
    fn catch_up(&self, own: Option<&str>, seen: &mut Seen, announce: bool) {
        let rows = {
            let mut d = lock(&self.dispatcher);
            let Ok(day) = d.now().map(|n| n.day()) else { return };
            d.store_mut().results_for_day(&day)
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => {
                eprintln!("onshi-helper service: store: reading today's checks after reconnecting: {e}");
                return;
            }
        };
        let new = rows.into_iter().filter(|r| r.kind.is_desk_check() && r.desk.as_deref() != own && seen.first(r.id));
        if announce {
            self.announce(new);
        } else {
            new.for_each(drop);
        }
    }
}
