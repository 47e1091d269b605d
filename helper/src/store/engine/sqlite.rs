//! The SQLite side of [`Db`](super::Db): values bound and read through
//! rusqlite, statements cached per connection. SQLite's own SQL needs no
//! rewriting: the store's statements are written in its `?N` style.

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::Connection;

use super::{EngineError, Row, Value};
use crate::store::StoreError;

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Value::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

pub(super) fn execute(c: &Connection, op: &'static str, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(StoreError::sql(op))?;
    let n = stmt.execute(rusqlite::params_from_iter(params)).map_err(StoreError::sql(op))?;
    Ok(n as u64)
}

pub(super) fn query(c: &Connection, op: &'static str, sql: &str, params: &[Value]) -> Result<Vec<Row>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(StoreError::sql(op))?;
    let width = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(StoreError::sql(op))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(StoreError::sql(op))? {
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(match r.get_ref(i).map_err(StoreError::sql(op))? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Int(v),
                ValueRef::Text(t) => Value::Text(
                    String::from_utf8(t.to_vec())
                        .map_err(|_| StoreError::Sql { op, source: EngineError::Type { column: i, expected: "UTF-8 text" } })?,
                ),
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                ValueRef::Real(_) => {
                    return Err(StoreError::Sql { op, source: EngineError::Type { column: i, expected: "not a float" } })
                }
            });
        }
        out.push(Row(values));
    }
    Ok(out)
}
