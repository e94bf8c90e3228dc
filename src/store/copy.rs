//! Copying a whole database between backends (`rosey migrate`): every row of every table,
//! ids kept, and each id sequence carried over so an id is never handed out twice.
//!
//! # Idempotent
//! Rows are upserted by primary key, and a row already equal to the source's is left
//! alone: a second copy of the same source writes nothing and says so (every table's
//! `written` is 0). The copy is one transaction on the destination: it lands whole or
//! not at all.
//!
//! # Sources
//! An SQLite source is never modified: it is copied with `VACUUM INTO` (which works on a
//! read-only connection) to a temporary file, and that copy is opened and upgraded, so a
//! v0.5.0 file reads as a current one (its later columns filled with their defaults).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use super::dump::{dump_table, TableDump};
use super::error::StoreError;
use super::schema::{Table, TABLES};
use super::{DbLocation, SqliteStore, Store, UnixSeconds};

/// The additive tables, created on demand by SQLite and with the schema by PostgreSQL.
pub(super) const EXTRA_TABLES: [Table; 2] = [
    Table { name: "enqueue_requests", key: "request_id", columns: &["request_id", "outbound_id"] },
    Table { name: "delivery_progress", key: "stream", columns: &["stream", "applied_seq"] },
];

/// Every table a copy carries, in order.
pub(super) fn copied_tables() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().chain(EXTRA_TABLES.iter())
}

/// A whole database, read in one snapshot.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The tables in [`copied_tables`] order (an absent additive table is empty).
    pub tables: Vec<TableDump>,
    /// The highest id each `AUTOINCREMENT` / `BIGSERIAL` table has handed out.
    pub sequences: BTreeMap<String, i64>,
}

impl Snapshot {
    /// How many rows it holds.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|table| table.rows.len() as u64).sum()
    }
}

/// What a copy did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table.
    pub name: String,
    /// Rows in the source.
    pub read: u64,
    /// Rows inserted or changed in the destination (0 on a repeated copy).
    pub written: u64,
}

/// Told the number of rows done so far, as a copy goes.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Reads the database at `location` for a copy (an SQLite file is not modified).
pub fn snapshot_of(location: &DbLocation, now: UnixSeconds) -> Result<Snapshot, StoreError> {
    match location {
        DbLocation::Sqlite(path) => SqliteStore::snapshot_file(path),
        DbLocation::Postgres(_) => Store::connect(location, now)?.snapshot(),
    }
}

impl Store {
    /// Every table and sequence, in one read transaction.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        match self {
            Store::Sqlite(store) => store.snapshot(),
            #[cfg(feature = "postgres")]
            Store::Postgres(store) => store.snapshot(),
        }
    }

    /// Upserts `snapshot` into this database in one transaction; see the module docs.
    pub fn absorb(&mut self, snapshot: &Snapshot, progress: Progress) -> Result<Vec<TableCopy>, StoreError> {
        match self {
            Store::Sqlite(store) => store.absorb(snapshot, progress),
            #[cfg(feature = "postgres")]
            Store::Postgres(store) => store.absorb(snapshot, progress),
        }
    }
}

impl SqliteStore {
    /// Reads an SQLite file for a copy without touching it; see the module docs.
    pub fn snapshot_file(path: &Path) -> Result<Snapshot, StoreError> {
        let source = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|err| StoreError::from(err).at(Some(path)))?;
        let dir = tempfile::tempdir().map_err(|err| {
            tracing::error!(error = %err, "cannot make a temporary directory for the copy");
            StoreError::new(super::StoreErrorKind::CannotOpen)
        })?;
        let copy = dir.path().join("source.db");
        source
            .execute("VACUUM INTO ?1", [copy.to_string_lossy().as_ref()])
            .map_err(|err| StoreError::from(err).at(Some(path)))?;
        drop(source);
        // Errors on the temporary copy are reported against the file the user named.
        let store = SqliteStore::open(&copy, 0).map_err(|err| err.moved_to(path))?;
        store.snapshot().map_err(|err| err.moved_to(path))
    }

    /// Every table and sequence, in one read transaction.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.read(|conn| {
            let tx = conn.unchecked_transaction()?;
            let mut tables = Vec::new();
            for table in copied_tables() {
                if table_exists(conn, table.name)? {
                    tables.push(dump_table(conn, table)?);
                } else {
                    tables.push(empty(table));
                }
            }
            let mut sequences = BTreeMap::new();
            let mut stmt = conn.prepare("SELECT name, seq FROM sqlite_sequence")?;
            for row in stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?)))? {
                let (name, seq) = row?;
                sequences.insert(name, seq);
            }
            drop(stmt);
            tx.commit()?;
            Ok(Snapshot { tables, sequences })
        })
    }

    /// Upserts `snapshot` into this database in one transaction; see the module docs.
    pub fn absorb(&mut self, snapshot: &Snapshot, progress: Progress) -> Result<Vec<TableCopy>, StoreError> {
        self.write(|conn| {
            conn.execute_batch(super::outbound::CREATE_ENQUEUE_REQUESTS)?;
            conn.execute_batch(super::delivery::CREATE)?;
            let mut done = 0;
            let mut report = Vec::new();
            for (table, rows) in copied_tables().zip(&snapshot.tables) {
                let mut upsert = conn.prepare(&sqlite_upsert(table))?;
                let mut written = 0;
                for row in &rows.rows {
                    written += upsert.execute(rusqlite::params_from_iter(row.iter().map(sql_value)))? as u64;
                    done += 1;
                    if done % 1000 == 0 {
                        progress(done);
                    }
                }
                report.push(TableCopy { name: table.name.to_owned(), read: rows.rows.len() as u64, written });
            }
            for (name, seq) in &snapshot.sequences {
                let raised =
                    conn.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?2) WHERE name = ?1", (name, seq))?;
                if raised == 0 {
                    conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)", (name, seq))?;
                }
            }
            progress(done);
            Ok(report)
        })
    }
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let count: i64 =
        conn.query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |row| {
            row.get(0)
        })?;
    Ok(count > 0)
}

pub(super) fn empty(table: &Table) -> TableDump {
    TableDump {
        name: table.name.to_owned(),
        columns: table.columns.iter().map(|c| (*c).to_owned()).collect(),
        rows: Vec::new(),
    }
}

/// `INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE` some column differs.
fn sqlite_upsert(table: &Table) -> String {
    let columns: Vec<String> = table.columns.iter().map(|c| format!("\"{c}\"")).collect();
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let others: Vec<&&str> = table.columns.iter().filter(|c| **c != table.key).collect();
    let set: Vec<String> = others.iter().map(|c| format!("\"{c}\" = excluded.\"{c}\"")).collect();
    let differs: Vec<String> =
        others.iter().map(|c| format!("\"{}\".\"{c}\" IS NOT excluded.\"{c}\"", table.name)).collect();
    format!(
        "INSERT INTO \"{}\" ({}) VALUES ({}) ON CONFLICT (\"{}\") DO UPDATE SET {} WHERE {}",
        table.name,
        columns.join(", "),
        marks.join(", "),
        table.key,
        set.join(", "),
        differs.join(" OR ")
    )
}

/// A dumped value back as SQLite's (the column's affinity does the rest).
fn sql_value(value: &Value) -> SqlValue {
    match value {
        Value::Null => SqlValue::Null,
        Value::Bool(flag) => SqlValue::Integer(i64::from(*flag)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(int), _) => SqlValue::Integer(int),
            (None, Some(real)) => SqlValue::Real(real),
            (None, None) => SqlValue::Null,
        },
        Value::String(text) => SqlValue::Text(text.clone()),
        other => SqlValue::Text(other.to_string()),
    }
}
