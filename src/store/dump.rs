//! A whole-database dump: every table of the schema, every row, as JSON values, so tests
//! can snapshot a database and compare two of them (a bus run against a direct run).
//!
//! # Format
//! Tables come in schema order, rows in primary-key order, columns in the schema's
//! declaration order whatever the file's own order is (a v0.5.0 file upgraded with
//! `ALTER TABLE` has its added columns last). INTEGER and REAL become numbers, TEXT a
//! string, NULL null. Two cases our schema never writes are still dumped without failing:
//! an infinite REAL becomes the string `"inf"` / `"-inf"`, a BLOB the string `x'hex'`.

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde::Serialize;
use serde_json::{Number, Value};

use super::error::StoreError;
use super::schema::{Table, TABLES};
use super::SqliteStore;

/// Every table of the database; see the module docs for the format.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DbDump {
    /// The eight tables, in schema order.
    pub tables: Vec<TableDump>,
}

/// One table's rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableDump {
    /// The table's name.
    pub name: String,
    /// Its columns, in declaration order.
    pub columns: Vec<String>,
    /// Its rows in primary-key order, one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// Whether a column holds a time (an instant or, for `total_time_connected`, a span), and
/// so differs between two runs of the same events at different clocks.
pub(super) fn is_time_column(name: &str) -> bool {
    matches!(
        name,
        "first_seen"
            | "last_seen"
            | "current_session_start"
            | "total_time_connected"
            | "timestamp"
            | "last_updated"
            | "bot_start_time"
            | "created_at"
            | "last_used"
    ) || name.ends_with("_timestamp")
}

impl DbDump {
    /// The same dump with every time column (`first_seen`, `last_seen`,
    /// `current_session_start`, `total_time_connected`, `timestamp`, `*_timestamp`,
    /// `last_updated`, `bot_start_time`, `created_at`, `last_used`) set to null, to compare
    /// two runs "time columns aside".
    pub fn without_time_columns(&self) -> DbDump {
        let tables = self
            .tables
            .iter()
            .map(|table| {
                let timed: Vec<bool> = table.columns.iter().map(|c| is_time_column(c)).collect();
                let rows = table
                    .rows
                    .iter()
                    .map(|row| {
                        row.iter()
                            .zip(timed.iter().chain(std::iter::repeat(&false)))
                            .map(|(value, &timed)| if timed { Value::Null } else { value.clone() })
                            .collect()
                    })
                    .collect();
                TableDump { name: table.name.clone(), columns: table.columns.clone(), rows }
            })
            .collect();
        DbDump { tables }
    }

    /// The table called `name`, if the dump has it.
    pub fn table(&self, name: &str) -> Option<&TableDump> {
        self.tables.iter().find(|table| table.name == name)
    }
}

impl SqliteStore {
    /// Dumps the whole database (an open batch included), read in one transaction so
    /// the tables agree with each other.
    pub fn dump(&self) -> Result<DbDump, StoreError> {
        self.read(|conn| {
            let snapshot = if self.batch_open.get() { None } else { Some(conn.unchecked_transaction()?) };
            let tables = TABLES.iter().map(|table| dump_table(conn, table)).collect::<Result<_, _>>()?;
            if let Some(snapshot) = snapshot {
                snapshot.commit()?;
            }
            Ok(DbDump { tables })
        })
    }
}

pub(super) fn dump_table(conn: &Connection, table: &Table) -> Result<TableDump, StoreError> {
    let list: Vec<String> = table.columns.iter().map(|c| format!("\"{c}\"")).collect();
    let sql = format!("SELECT {} FROM \"{}\" ORDER BY \"{}\"", list.join(", "), table.name, table.key);
    let mut stmt = conn.prepare(&sql)?;
    let width = table.columns.len();
    let rows =
        stmt.query_map([], |row| (0..width).map(|i| row.get_ref(i).map(json_value)).collect::<Result<Vec<_>, _>>())?;
    Ok(TableDump {
        name: table.name.to_owned(),
        columns: table.columns.iter().map(|c| (*c).to_owned()).collect(),
        rows: rows.collect::<Result<_, _>>()?,
    })
}

fn json_value(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(int) => Value::from(int),
        ValueRef::Real(float) => match Number::from_f64(float) {
            Some(number) => Value::Number(number),
            None => Value::String(float.to_string()),
        },
        ValueRef::Text(text) => Value::String(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            Value::String(format!("x'{hex}'"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn dump_of_new_database_has_every_table_and_singletons() -> TestResult {
        let store = SqliteStore::open_in_memory(42)?;
        let dump = store.dump()?;
        let names: Vec<&str> = dump.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "user_stats",
                "user_actions",
                "channel_stats",
                "user_count_history",
                "recent_chat",
                "current_status",
                "outbound_messages",
                "api_tokens"
            ]
        );
        let stats = dump.table("channel_stats").ok_or("no channel_stats")?;
        assert_eq!(stats.rows, [vec![json!(1), json!(0), json!(null), json!(0), json!(null), json!(42)]]);
        let status = dump.table("current_status").ok_or("no current_status")?;
        assert_eq!(status.rows.len(), 1);
        assert_eq!(status.rows[0].last(), Some(&json!(42)));
        assert!(dump.table("user_stats").is_some_and(|t| t.rows.is_empty()));
        Ok(())
    }

    #[test]
    fn dump_orders_rows_by_primary_key() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.user_joined("zed", 5)?;
        store.user_joined("Amy", 6)?;
        store.user_joined("bob", 7)?;
        let dump = store.dump()?;
        let users = dump.table("user_stats").ok_or("no user_stats")?;
        let names: Vec<&Value> = users.rows.iter().map(|row| &row[0]).collect();
        assert_eq!(names, [&json!("Amy"), &json!("bob"), &json!("zed")]);
        assert_eq!(users.rows[0], [json!("Amy"), json!(6), json!(6), json!(0), json!(0), json!(6)]);
        Ok(())
    }

    #[test]
    fn runs_at_different_times_match_without_time_columns() -> TestResult {
        let run = |start: i64| -> Result<DbDump, StoreError> {
            let mut store = SqliteStore::open_in_memory(start)?;
            store.user_joined("alice", start + 1)?;
            store.user_chat_message("alice", "hi", start + 2)?;
            store.log_user_count(1, 3, start + 3)?;
            store.update_high_water_mark(1, Some(3), start + 4)?;
            let id = store.enqueue_outbound_message("hello", start + 5)?;
            store.mark_outbound_sent(id, start + 6)?;
            store.user_left("alice", start + 7)?;
            store.dump()
        };
        let early = run(1_000)?;
        let late = run(2_000_000)?;
        assert_ne!(early, late);
        let early = early.without_time_columns();
        assert_eq!(early, late.without_time_columns());
        let chat = early.table("recent_chat").ok_or("no recent_chat")?;
        assert_eq!(chat.rows, [vec![json!(1), json!(null), json!("alice"), json!("hi")]]);
        let outbound = early.table("outbound_messages").ok_or("no outbound")?;
        assert_eq!(
            outbound.rows,
            [vec![json!(1), json!(null), json!("hello"), json!(1), json!(null), json!(0), json!(null)]]
        );
        Ok(())
    }

    #[test]
    fn odd_values_dump_without_failing() -> TestResult {
        let store = SqliteStore::open_in_memory(0)?;
        store.conn.execute_batch(
            "INSERT INTO user_actions (timestamp, username, action_type, details) \
             VALUES (1, 'a', 'kick', x'00ff');
             UPDATE current_status SET bot_rank = 9e999;",
        )?;
        let dump = store.dump()?;
        let actions = dump.table("user_actions").ok_or("no user_actions")?;
        assert_eq!(actions.rows[0][4], json!("x'00ff'"));
        let status = dump.table("current_status").ok_or("no current_status")?;
        assert_eq!(status.rows[0][2], json!("inf"));
        Ok(())
    }

    #[test]
    fn time_columns_are_recognised() {
        for name in ["max_users_timestamp", "sent_timestamp", "created_at", "last_used"] {
            assert!(is_time_column(name), "{name}");
        }
        for name in ["max_users", "retry_count", "message", "username", "sent"] {
            assert!(!is_time_column(name), "{name}");
        }
    }
}
