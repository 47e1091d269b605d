//! Patient reference numbers: the clinic's own patient id mapped to the
//! insurance numbers printed on the card, stored exactly as given so that
//! a later query sends what the card says.

use super::engine::{vals, Db};
use super::values::{insurer_digits, ValueError};
use super::{Store, StoreError};
use crate::time::Timestamp;

/// The clinic's patient id (カルテ番号). Unlike other identifiers this is
/// not refused for being four digits: short numeric patient ids are normal,
/// and no PIN-handling flow passes text here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PatientId(String);

impl PatientId {
    pub fn new(text: &str) -> Result<Self, ValueError> {
        let field = "patient id";
        check_verbatim(field, text, 64)?;
        Ok(PatientId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 保険者番号 / 記号 / 番号 / 枝番, verbatim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceNumbers {
    pub insurer: String,
    pub symbol: Option<String>,
    pub number: String,
    pub branch: Option<String>,
}

/// Bounded, non-empty, no control characters; nothing is rewritten.
fn check_verbatim(field: &'static str, text: &str, max: usize) -> Result<(), ValueError> {
    if text.trim().is_empty() {
        return Err(ValueError::Empty { field });
    }
    if text.chars().count() > max {
        return Err(ValueError::TooLong { field, max });
    }
    if text.chars().any(char::is_control) {
        return Err(ValueError::BadChars { field });
    }
    Ok(())
}

impl ReferenceNumbers {
    fn validate(&self) -> Result<(), ValueError> {
        insurer_digits("insurer number", &self.insurer)?;
        if let Some(s) = &self.symbol {
            check_verbatim("symbol", s, 38)?;
        }
        check_verbatim("number", &self.number, 38)?;
        if let Some(b) = &self.branch {
            check_verbatim("branch", b, 2)?;
            if !b.bytes().all(|c| c.is_ascii_digit()) {
                return Err(ValueError::BadShape { field: "branch", expected: "2 digits" });
            }
        }
        Ok(())
    }
}

const UPSERT: &str = "INSERT INTO patient_refs (patient_id, insurer_number, symbol, number, branch, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (patient_id) DO UPDATE SET insurer_number = ?2, symbol = ?3, number = ?4,
     branch = ?5, updated_at = ?6";

fn upsert(db: Db<'_>, patient: &PatientId, n: &ReferenceNumbers, now: &Timestamp) -> Result<(), StoreError> {
    db.execute(
        "store reference numbers",
        UPSERT,
        vals![patient.as_str(), n.insurer.as_str(), n.symbol.as_deref(), n.number.as_str(), n.branch.as_deref(), now.as_str()],
    )
    .map(drop)
}

impl Store {
    /// Registers or replaces the numbers for a patient.
    pub fn put_reference(&mut self, patient: &PatientId, numbers: &ReferenceNumbers, now: &Timestamp) -> Result<(), StoreError> {
        numbers.validate()?;
        upsert(self.db(), patient, numbers, now)
    }

    /// Registers or replaces many at once, in one transaction (one disk
    /// sync for a whole import, and all or nothing).
    pub fn put_references(&mut self, entries: &[(PatientId, ReferenceNumbers)], now: &Timestamp) -> Result<(), StoreError> {
        for (_, numbers) in entries {
            numbers.validate()?;
        }
        self.db().transaction("store reference numbers", None, |db| {
            entries.iter().try_for_each(|(patient, n)| upsert(db, patient, n, now))
        })
    }

    pub fn reference(&self, patient: &PatientId) -> Result<Option<ReferenceNumbers>, StoreError> {
        let row = self.db().query_opt(
            "read reference numbers",
            "SELECT insurer_number, symbol, number, branch FROM patient_refs WHERE patient_id = ?1",
            vals![patient.as_str()],
        )?;
        row.map(|r| {
            Ok(ReferenceNumbers { insurer: r.text(0)?, symbol: r.opt_text(1)?, number: r.text(2)?, branch: r.opt_text(3)? })
        })
        .transpose()
    }

    /// Removes a patient's numbers; true if there were any.
    pub fn delete_reference(&mut self, patient: &PatientId) -> Result<bool, StoreError> {
        let n = self.db().execute(
            "delete reference numbers",
            "DELETE FROM patient_refs WHERE patient_id = ?1",
            vals![patient.as_str()],
        )?;
        Ok(n > 0)
    }
}
