//! The service's open connections (one per native host), shared by the
//! runtime and the dispatcher: whatever stores a desk check announces it to
//! every page without reaching back into the runtime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use onshi_core::protocol::{Event, FromHelper};
use tokio::sync::mpsc;

use crate::store::ExtensionId;

/// Frames to one connection (already JSON, without the socket header).
pub type Sender = mpsc::UnboundedSender<Vec<u8>>;

/// Connection number → its extension and frame sender. Cloning shares it.
#[derive(Clone, Default)]
pub struct Connections(Arc<Mutex<HashMap<u64, (ExtensionId, Sender)>>>);

impl Connections {
    fn map(&self) -> MutexGuard<'_, HashMap<u64, (ExtensionId, Sender)>> {
        // Plain inserts and removes: a panic elsewhere leaves it consistent.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, conn: u64, extension: ExtensionId, tx: Sender) {
        self.map().insert(conn, (extension, tx));
    }

    pub fn remove(&self, conn: u64) {
        self.map().remove(&conn);
    }

    /// A frame for every connection of one extension.
    pub fn to_extension(&self, to: &ExtensionId, frame: &FromHelper) {
        let targets: Vec<Sender> = self.map().values().filter(|(ext, _)| ext == to).map(|(_, s)| s.clone()).collect();
        send(&targets, frame);
    }

    /// An event for every connection (origin `null`: every paired page).
    pub fn broadcast(&self, event: Event) {
        let targets: Vec<Sender> = self.map().values().map(|(_, s)| s.clone()).collect();
        send(&targets, &FromHelper::event(event, None));
    }
}

fn send(targets: &[Sender], frame: &FromHelper) {
    if targets.is_empty() {
        return;
    }
    for f in super::runtime::encode(frame) {
        for t in targets {
            let _ = t.send(f.clone());
        }
    }
}
