//! Pairings: which page origins, through which extension and browser, may
//! talk to the helper. A pairing is created pending and answers only after
//! approval in the extension's own window; revoking keeps the row as history.

use rusqlite::{params, OptionalExtension};

use super::values::{ExtensionId, Origin};
use super::{Store, StoreError};
use crate::browser::Browser;
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PairingId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairing {
    pub id: PairingId,
    pub origin: Origin,
    pub extension_id: ExtensionId,
    pub browser: Browser,
    pub created_at: String,
    pub approved: bool,
    pub approved_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl Pairing {
    /// Approved and not revoked: the only state in which the helper answers.
    pub fn is_live(&self) -> bool {
        self.approved && self.revoked_at.is_none()
    }
}

const COLUMNS: &str = "id, origin, extension_id, browser, created_at, approved, approved_at, revoked_at";

fn row_to_pairing(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Pairing, StoreError>> {
    let id: i64 = r.get(0)?;
    let origin: String = r.get(1)?;
    let ext: String = r.get(2)?;
    let browser: String = r.get(3)?;
    let corrupt = |column| StoreError::Corrupt { table: "pairings", row: id, column };
    let build = || -> Result<Pairing, StoreError> {
        Ok(Pairing {
            id: PairingId(id),
            origin: Origin::new(&origin).map_err(|_| corrupt("origin"))?,
            extension_id: ExtensionId::new(&ext).map_err(|_| corrupt("extension_id"))?,
            browser: browser.parse().map_err(|_| corrupt("browser"))?,
            created_at: r.get(4).map_err(StoreError::sql("read pairing"))?,
            approved: r.get::<_, i64>(5).map_err(StoreError::sql("read pairing"))? == 1,
            approved_at: r.get(6).map_err(StoreError::sql("read pairing"))?,
            revoked_at: r.get(7).map_err(StoreError::sql("read pairing"))?,
        })
    };
    Ok(build())
}

impl Store {
    /// Records a pending pairing. A live (not revoked) pairing for the same
    /// origin and extension is replaced: it is revoked at `now` first, so
    /// re-pairing always needs a fresh approval.
    pub fn begin_pairing(
        &mut self,
        origin: &Origin,
        extension_id: &ExtensionId,
        browser: Browser,
        now: &Timestamp,
    ) -> Result<PairingId, StoreError> {
        let tx = self.conn.transaction().map_err(StoreError::sql("begin pairing"))?;
        tx.execute(
            "UPDATE pairings SET revoked_at = ?3 WHERE origin = ?1 AND extension_id = ?2 AND revoked_at IS NULL",
            params![origin.as_str(), extension_id.as_str(), now.as_str()],
        )
        .map_err(StoreError::sql("replace pairing"))?;
        tx.execute(
            "INSERT INTO pairings (origin, extension_id, browser, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![origin.as_str(), extension_id.as_str(), browser.as_str(), now.as_str()],
        )
        .map_err(StoreError::sql("insert pairing"))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(StoreError::sql("commit pairing"))?;
        Ok(PairingId(id))
    }

    /// Records a pairing a person approved: begun at `begun`, approved at
    /// `approved`. Replaces a live pairing of the same origin and extension
    /// (revoked at `approved`). This is the service's only way in: attempts
    /// wait in memory, so the table holds decided pairings, not every attempt.
    pub fn pair(
        &mut self,
        origin: &Origin,
        extension_id: &ExtensionId,
        browser: Browser,
        begun: &Timestamp,
        approved: &Timestamp,
    ) -> Result<PairingId, StoreError> {
        let tx = self.conn.transaction().map_err(StoreError::sql("begin pairing"))?;
        tx.execute(
            "UPDATE pairings SET revoked_at = ?3 WHERE origin = ?1 AND extension_id = ?2 AND revoked_at IS NULL",
            params![origin.as_str(), extension_id.as_str(), approved.as_str()],
        )
        .map_err(StoreError::sql("replace pairing"))?;
        tx.execute(
            "INSERT INTO pairings (origin, extension_id, browser, created_at, approved, approved_at) VALUES (?1, ?2, ?3, ?4, 1, ?5)",
            params![origin.as_str(), extension_id.as_str(), browser.as_str(), begun.as_str(), approved.as_str()],
        )
        .map_err(StoreError::sql("insert pairing"))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(StoreError::sql("commit pairing"))?;
        Ok(PairingId(id))
    }

    /// Approves a pending pairing. Fails with `NotFound` if it does not
    /// exist or was revoked meanwhile.
    pub fn approve_pairing(&mut self, id: PairingId, now: &Timestamp) -> Result<(), StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE pairings SET approved = 1, approved_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![id.0, now.as_str()],
            )
            .map_err(StoreError::sql("approve pairing"))?;
        if n == 0 { Err(StoreError::NotFound { what: "pairing", id: id.0 }) } else { Ok(()) }
    }

    /// Revokes every live pairing of `origin`; returns how many there were.
    pub fn revoke_pairings(&mut self, origin: &Origin, now: &Timestamp) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE pairings SET revoked_at = ?2 WHERE origin = ?1 AND revoked_at IS NULL",
                params![origin.as_str(), now.as_str()],
            )
            .map_err(StoreError::sql("revoke pairing"))
    }

    /// All pairings including revoked ones, oldest first.
    pub fn pairings(&self) -> Result<Vec<Pairing>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM pairings ORDER BY id"))
            .map_err(StoreError::sql("list pairings"))?;
        let rows = stmt.query_map([], row_to_pairing).map_err(StoreError::sql("list pairings"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(StoreError::sql("list pairings"))??);
        }
        Ok(out)
    }

    /// The live pairing for `origin` through `extension_id`, if any.
    pub fn live_pairing(&self, origin: &Origin, extension_id: &ExtensionId) -> Result<Option<Pairing>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {COLUMNS} FROM pairings WHERE origin = ?1 AND extension_id = ?2
                     AND approved = 1 AND revoked_at IS NULL"
                ),
                params![origin.as_str(), extension_id.as_str()],
                row_to_pairing,
            )
            .optional()
            .map_err(StoreError::sql("find pairing"))?
            .transpose()
    }
}
