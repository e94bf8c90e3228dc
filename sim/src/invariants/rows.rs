//! The database rows the invariants judge, typed, read from a [`DbDump`] by
//! column name (so a v0.5.0 file's column order does not matter).

use std::collections::BTreeMap;
use std::fmt::Debug;

use rosey::contract::Subject;
use rosey::store::{DbDump, TableDump};
use serde::Serialize;
use serde_json::Value;

/// A table whose rows come from the bot's events: what "lost" and "counted
/// twice" are judged on.
pub trait EventRow: Sized {
    const TABLE: &'static str;
    /// The subject whose commands write these rows.
    const SUBJECT: Subject;
    /// What makes two rows the same row (serialized, it is the row in messages).
    type Key: Ord + Serialize + Debug;
    /// What makes two rows the same when counting (usually the key).
    type CountKey: Ord + Serialize + Debug;
    fn read(table: &TableDump) -> Vec<Self>;
    fn key(&self) -> Self::Key;
    fn count_key(&self) -> Self::CountKey;
    /// The Unix second the row's event happened at.
    fn time_s(&self) -> i64;
    /// Whether a sent command's wire payload carries this row.
    fn carried_by(&self, payload: &Value) -> bool;
}

/// Reads a table's rows from a dump (none when the table is absent).
pub fn read<R: EventRow>(dump: &DbDump) -> Vec<R> {
    dump.table(R::TABLE).map(R::read).unwrap_or_default()
}

/// How many times each key occurs.
pub fn multiset<K: Ord>(keys: impl IntoIterator<Item = K>) -> BTreeMap<K, usize> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// Renders a key as the JSON array the verdicts print.
pub fn show<K: Serialize>(key: &K) -> String {
    serde_json::to_string(key).unwrap_or_default()
}

/// Column access by name.
struct Columns<'a> {
    table: &'a TableDump,
}

impl<'a> Columns<'a> {
    fn value<'r>(&self, row: &'r [Value], name: &str) -> Option<&'r Value> {
        self.table.columns.iter().position(|c| c == name).and_then(|i| row.get(i))
    }
    fn int(&self, row: &[Value], name: &str) -> i64 {
        self.value(row, name).and_then(Value::as_i64).unwrap_or(0)
    }
    fn opt_int(&self, row: &[Value], name: &str) -> Option<i64> {
        self.value(row, name).and_then(Value::as_i64)
    }
    fn text(&self, row: &[Value], name: &str) -> String {
        self.value(row, name).and_then(Value::as_str).unwrap_or_default().to_string()
    }
    fn opt_text(&self, row: &[Value], name: &str) -> Option<String> {
        self.value(row, name).and_then(Value::as_str).map(str::to_string)
    }
    fn rows<T>(table: &'a TableDump, read: impl Fn(&Columns<'a>, &[Value]) -> T) -> Vec<T> {
        let columns = Columns { table };
        table.rows.iter().map(|row| read(&columns, row)).collect()
    }
}

/// A `recent_chat` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRow {
    pub timestamp: i64,
    pub username: String,
    pub message: String,
}

impl EventRow for ChatRow {
    const TABLE: &'static str = "recent_chat";
    const SUBJECT: Subject = Subject::MessageLog;
    type Key = (i64, String, String);
    type CountKey = (i64, String, String);

    fn read(table: &TableDump) -> Vec<ChatRow> {
        Columns::rows(table, |c, row| ChatRow {
            timestamp: c.int(row, "timestamp"),
            username: c.text(row, "username"),
            message: c.text(row, "message"),
        })
    }
    fn key(&self) -> Self::Key {
        (self.timestamp, self.username.clone(), self.message.clone())
    }
    fn count_key(&self) -> Self::CountKey {
        self.key()
    }
    fn time_s(&self) -> i64 {
        self.timestamp
    }
    fn carried_by(&self, payload: &Value) -> bool {
        payload["username"] == self.username.as_str() && payload["message"] == self.message.as_str()
    }
}

/// A `user_count_history` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    pub timestamp: i64,
    pub chat_users: i64,
    pub connected_users: i64,
}

impl EventRow for CountRow {
    const TABLE: &'static str = "user_count_history";
    const SUBJECT: Subject = Subject::StatsUserCount;
    type Key = (i64, i64, i64);
    type CountKey = (i64, i64, i64);

    fn read(table: &TableDump) -> Vec<CountRow> {
        Columns::rows(table, |c, row| CountRow {
            timestamp: c.int(row, "timestamp"),
            chat_users: c.int(row, "chat_users"),
            connected_users: c.int(row, "connected_users"),
        })
    }
    fn key(&self) -> Self::Key {
        (self.timestamp, self.chat_users, self.connected_users)
    }
    fn count_key(&self) -> Self::CountKey {
        self.key()
    }
    fn time_s(&self) -> i64 {
        self.timestamp
    }
    fn carried_by(&self, payload: &Value) -> bool {
        payload["chat_count"] == self.chat_users && payload["connected_count"] == self.connected_users
    }
}

/// An `outbound_messages` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRow {
    pub id: i64,
    pub timestamp: i64,
    pub message: String,
    pub sent: bool,
    pub sent_timestamp: Option<i64>,
    pub retry_count: i64,
    pub last_error: Option<String>,
}

impl OutboundRow {
    pub fn read_all(dump: &DbDump) -> Vec<OutboundRow> {
        read(dump)
    }
}

impl EventRow for OutboundRow {
    const TABLE: &'static str = "outbound_messages";
    const SUBJECT: Subject = Subject::OutboundEnqueue;
    type Key = (i64, String);
    type CountKey = (i64, String);

    fn read(table: &TableDump) -> Vec<OutboundRow> {
        Columns::rows(table, |c, row| OutboundRow {
            id: c.int(row, "id"),
            timestamp: c.int(row, "timestamp"),
            message: c.text(row, "message"),
            sent: c.int(row, "sent") != 0,
            sent_timestamp: c.opt_int(row, "sent_timestamp"),
            retry_count: c.int(row, "retry_count"),
            last_error: c.opt_text(row, "last_error"),
        })
    }
    fn key(&self) -> Self::Key {
        (self.timestamp, self.message.clone())
    }
    fn count_key(&self) -> Self::CountKey {
        self.key()
    }
    fn time_s(&self) -> i64 {
        self.timestamp
    }
    fn carried_by(&self, payload: &Value) -> bool {
        payload["message"].as_str().is_some_and(|m| m.trim() == self.message)
    }
}

/// A `user_stats` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub username: String,
    pub first_seen: i64,
    pub total_chat_lines: i64,
}

impl EventRow for UserRow {
    const TABLE: &'static str = "user_stats";
    const SUBJECT: Subject = Subject::UserJoined;
    type Key = (String, i64);
    /// By name alone: a lost first event legitimately moves `first_seen`.
    type CountKey = (String,);

    fn read(table: &TableDump) -> Vec<UserRow> {
        Columns::rows(table, |c, row| UserRow {
            username: c.text(row, "username"),
            first_seen: c.int(row, "first_seen"),
            total_chat_lines: c.int(row, "total_chat_lines"),
        })
    }
    fn key(&self) -> Self::Key {
        (self.username.clone(), self.first_seen)
    }
    fn count_key(&self) -> Self::CountKey {
        (self.username.clone(),)
    }
    fn time_s(&self) -> i64 {
        self.first_seen
    }
    fn carried_by(&self, payload: &Value) -> bool {
        payload["username"] == self.username.as_str()
    }
}
