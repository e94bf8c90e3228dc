//! Channel statistics: the user count history, the high-water marks and the bot's
//! current status row.

use rusqlite::types::Value as SqlValue;
use serde_json::{Map, Value};

use super::error::{StoreError, StoreErrorKind};
use super::{SqliteStore, UnixSeconds};

/// The `current_status` columns a status update may set; every other key is ignored.
pub(super) const STATUS_FIELDS: [&str; 11] = [
    "bot_name",
    "bot_rank",
    "bot_afk",
    "channel_name",
    "current_chat_users",
    "current_connected_users",
    "playlist_items",
    "current_media_title",
    "current_media_duration",
    "bot_start_time",
    "bot_connected",
];

const LOG_COUNT: &str = "INSERT INTO user_count_history (timestamp, chat_users, connected_users) VALUES (?1, ?2, ?3)";

/// Raises whichever mark the counts beat. `?2` (connected) counts only when non-null and
/// non-zero; the `WHERE` leaves the row, `last_updated` included, alone when nothing rose.
/// SQLite evaluates every `SET` against the old row.
const HIGH_WATER: &str = "
UPDATE channel_stats SET
    max_users = CASE WHEN ?1 > COALESCE(max_users, 0) THEN ?1 ELSE max_users END,
    max_users_timestamp =
        CASE WHEN ?1 > COALESCE(max_users, 0) THEN ?3 ELSE max_users_timestamp END,
    max_connected = CASE WHEN ?2 <> 0 AND ?2 > COALESCE(max_connected, 0)
        THEN ?2 ELSE max_connected END,
    max_connected_timestamp = CASE WHEN ?2 <> 0 AND ?2 > COALESCE(max_connected, 0)
        THEN ?3 ELSE max_connected_timestamp END,
    last_updated = ?3
WHERE id = 1 AND (?1 > COALESCE(max_users, 0)
    OR (?2 <> 0 AND ?2 > COALESCE(max_connected, 0)))";

/// Maps a JSON status value to the SQLite value stored: booleans become 0/1, integers
/// beyond `i64` become REAL; objects and arrays have no column form.
fn sql_value(field: &str, value: &Value) -> Result<SqlValue, StoreError> {
    Ok(match value {
        Value::Null => SqlValue::Null,
        Value::Bool(flag) => SqlValue::Integer(i64::from(*flag)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(int), _) => SqlValue::Integer(int),
            (None, Some(float)) => SqlValue::Real(float),
            (None, None) => SqlValue::Null,
        },
        Value::String(text) => SqlValue::Text(text.clone()),
        Value::Array(_) | Value::Object(_) => {
            return Err(StoreError::new(StoreErrorKind::InvalidStatusValue { field: field.to_owned() }))
        }
    })
}

impl SqliteStore {
    /// Appends a `user_count_history` row at `now`.
    pub fn log_user_count(
        &mut self,
        chat_users: i64,
        connected_users: i64,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached(LOG_COUNT)?.execute((now, chat_users, connected_users))?;
            Ok(())
        })
    }

    /// Raises `max_users` when `chat_count` beats it, and `max_connected` when
    /// `connected_count` is present, non-zero and beats it, each with its timestamp;
    /// `last_updated` moves only when something rose.
    pub fn update_high_water_mark(
        &mut self,
        chat_count: i64,
        connected_count: Option<i64>,
        now: UnixSeconds,
    ) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.prepare_cached(HIGH_WATER)?.execute((chat_count, connected_count, now))?;
            Ok(())
        })
    }

    /// Sets the known status fields present in `fields` and `last_updated` = `now`.
    ///
    /// # Returns
    /// `false`, having written nothing, when no known field is present.
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidStatusValue`] when a known field holds an object or an
    /// array; nothing at all is written then.
    pub fn update_current_status(&mut self, fields: &Map<String, Value>, now: UnixSeconds) -> Result<bool, StoreError> {
        // The fixed field order makes the SQL text, and so its cache entry, depend only on
        // which fields are present.
        let mut columns = Vec::new();
        let mut values = Vec::new();
        for field in STATUS_FIELDS {
            if let Some(value) = fields.get(field) {
                values.push(sql_value(field, value).map_err(|err| self.here(err))?);
                columns.push(field);
            }
        }
        if columns.is_empty() {
            return Ok(false);
        }
        let mut sql = String::from("UPDATE current_status SET ");
        for (i, column) in columns.iter().enumerate() {
            sql.push_str(&format!("{column} = ?{}, ", i + 1));
        }
        sql.push_str(&format!("last_updated = ?{} WHERE id = 1", columns.len() + 1));
        values.push(SqlValue::Integer(now));
        self.write(|conn| {
            conn.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(values))?;
            Ok(true)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    /// (max_users, max_users_timestamp, max_connected, max_connected_timestamp, last_updated)
    type Marks = (i64, Option<i64>, i64, Option<i64>, Option<i64>);

    fn marks(store: &SqliteStore) -> rusqlite::Result<Marks> {
        store.conn.query_row(
            "SELECT max_users, max_users_timestamp, max_connected, max_connected_timestamp, \
             last_updated FROM channel_stats WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
    }

    fn status(store: &SqliteStore) -> Result<Vec<Value>, StoreError> {
        let dump = store.dump()?;
        let table = dump.tables.iter().find(|t| t.name == "current_status");
        Ok(table.and_then(|t| t.rows.first().cloned()).unwrap_or_default())
    }

    fn obj(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn log_user_count_appends_rows() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.log_user_count(3, 7, 300)?;
        store.log_user_count(4, 4, 600)?;
        let rows: Vec<(i64, i64, i64)> = store
            .conn
            .prepare("SELECT timestamp, chat_users, connected_users FROM user_count_history")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        assert_eq!(rows, [(300, 3, 7), (600, 4, 4)]);
        Ok(())
    }

    #[test]
    fn high_water_marks_rise_separately() -> TestResult {
        let mut store = SqliteStore::open_in_memory(5)?;
        assert_eq!(marks(&store)?, (0, None, 0, None, Some(5)));
        store.update_high_water_mark(3, Some(10), 100)?;
        assert_eq!(marks(&store)?, (3, Some(100), 10, Some(100), Some(100)));
        store.update_high_water_mark(4, Some(9), 200)?;
        assert_eq!(marks(&store)?, (4, Some(200), 10, Some(100), Some(200)));
        store.update_high_water_mark(2, Some(12), 300)?;
        assert_eq!(marks(&store)?, (4, Some(200), 12, Some(300), Some(300)));
        Ok(())
    }

    #[test]
    fn high_water_ignores_null_and_zero_connected() -> TestResult {
        let mut store = SqliteStore::open_in_memory(5)?;
        store.update_high_water_mark(2, None, 100)?;
        assert_eq!(marks(&store)?, (2, Some(100), 0, None, Some(100)));
        store.update_high_water_mark(2, Some(0), 200)?;
        store.update_high_water_mark(1, None, 300)?;
        assert_eq!(marks(&store)?, (2, Some(100), 0, None, Some(100)), "nothing rose: last_updated stays");
        Ok(())
    }

    #[test]
    fn status_takes_known_fields_only() -> TestResult {
        let mut store = SqliteStore::open_in_memory(5)?;
        let fields = obj(json!({
            "bot_name": "rosey", "bot_rank": 3, "bot_afk": true, "bot_connected": false,
            "current_media_title": null, "current_media_duration": 12.5, "unknown": [1, 2],
        }));
        assert!(store.update_current_status(&fields, 100)?);
        assert_eq!(
            status(&store)?,
            [
                json!(1),
                json!("rosey"),
                json!(3.0),
                json!(1),
                Value::Null,
                json!(0),
                json!(0),
                json!(0),
                Value::Null,
                json!(12.5),
                Value::Null,
                json!(0),
                json!(100),
            ]
        );
        Ok(())
    }

    #[test]
    fn status_without_known_fields_writes_nothing() -> TestResult {
        let mut store = SqliteStore::open_in_memory(5)?;
        let before = status(&store)?;
        assert!(!store.update_current_status(&obj(json!({"other": 1})), 100)?);
        assert!(!store.update_current_status(&Map::new(), 100)?);
        assert_eq!(status(&store)?, before);
        Ok(())
    }

    #[test]
    fn status_with_object_value_writes_nothing() -> TestResult {
        let mut store = SqliteStore::open_in_memory(5)?;
        let before = status(&store)?;
        let fields = obj(json!({"bot_name": "rosey", "playlist_items": {"n": 3}}));
        let err = match store.update_current_status(&fields, 100) {
            Err(err) => err,
            Ok(changed) => return Err(format!("accepted an object: {changed}").into()),
        };
        assert_eq!(err.kind(), &StoreErrorKind::InvalidStatusValue { field: "playlist_items".into() });
        assert_eq!(status(&store)?, before);
        Ok(())
    }
}
