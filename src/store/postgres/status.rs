//! `current_status` updates on PostgreSQL: each JSON value is stored the way SQLite's
//! column affinity stores it, so a dump of either database shows the same value.
//!
//! SQLite turns a number sent to a `TEXT` column into its text, an integer or numeric text
//! sent to the `REAL` column into a float, and an integral float or numeric text sent to an
//! `INTEGER` column into an integer; booleans are 0 and 1 everywhere. What SQLite keeps as
//! it came (a word in a number column, a fraction in an integer column) has no place in
//! PostgreSQL's typed column and is refused, nothing written.

use postgres::types::ToSql;
use serde_json::{Map, Value};

use super::super::error::{StoreError, StoreErrorKind};
use super::super::stats::STATUS_FIELDS;
use super::super::UnixSeconds;

/// The SQLite affinity, and so the PostgreSQL type, of a column.
#[derive(Clone, Copy)]
pub(super) enum Affinity {
    Text,
    Real,
    Integer,
}

fn affinity(field: &str) -> Affinity {
    match field {
        "bot_name" | "channel_name" | "current_media_title" => Affinity::Text,
        "bot_rank" => Affinity::Real,
        _ => Affinity::Integer,
    }
}

impl Affinity {
    /// The affinity of a PostgreSQL column type, as `information_schema` names it.
    pub(super) fn of_pg_type(data_type: &str) -> Affinity {
        match data_type {
            "bigint" | "integer" | "smallint" => Affinity::Integer,
            "double precision" | "real" => Affinity::Real,
            _ => Affinity::Text,
        }
    }

    fn pg_type(self) -> &'static str {
        match self {
            Affinity::Text => "text",
            Affinity::Real => "double precision",
            Affinity::Integer => "bigint",
        }
    }
}

/// One value, typed for its column (a NULL too: the driver checks the parameter's type).
pub(super) enum Param {
    Text(Option<String>),
    Real(Option<f64>),
    Integer(Option<i64>),
}

/// The `UPDATE` for the fields present, with their values.
pub(super) struct StatusUpdate {
    pub(super) sql: String,
    values: Vec<Param>,
    now: UnixSeconds,
}

impl StatusUpdate {
    /// `None` when no known field is present.
    pub(super) fn from_fields(
        fields: &Map<String, Value>,
        now: UnixSeconds,
    ) -> Result<Option<StatusUpdate>, StoreError> {
        let mut sql = String::from("UPDATE current_status SET ");
        let mut values = Vec::new();
        for field in STATUS_FIELDS {
            if let Some(value) = fields.get(field) {
                values.push(param(field, value)?);
                sql.push_str(&format!("{field} = ${}, ", values.len()));
            }
        }
        if values.is_empty() {
            return Ok(None);
        }
        sql.push_str(&format!("last_updated = ${} WHERE id = 1", values.len() + 1));
        Ok(Some(StatusUpdate { sql, values, now }))
    }

    /// The parameters, in `$n` order.
    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let mut params: Vec<&(dyn ToSql + Sync)> = self.values.iter().map(Param::as_sql).collect();
        params.push(&self.now);
        params
    }
}

impl Param {
    pub(super) fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(text) => text,
            Param::Real(real) => real,
            Param::Integer(int) => int,
        }
    }
}

fn param(field: &str, value: &Value) -> Result<Param, StoreError> {
    if matches!(value, Value::Array(_) | Value::Object(_)) {
        return Err(StoreError::new(StoreErrorKind::InvalidStatusValue { field: field.to_owned() }));
    }
    typed(value, affinity(field)).map_err(|column_type| {
        StoreError::new(StoreErrorKind::UntypedStatusValue { field: field.to_owned(), column_type })
    })
}

/// `value` as a column of `column`'s affinity stores it; the column's PostgreSQL type
/// when it cannot hold it. Arrays and objects are stored as their JSON text in text
/// columns, which is as SQLite would show them, and refused elsewhere.
pub(super) fn typed(value: &Value, column: Affinity) -> Result<Param, &'static str> {
    let number = match value {
        Value::Null => {
            return Ok(match column {
                Affinity::Text => Param::Text(None),
                Affinity::Real => Param::Real(None),
                Affinity::Integer => Param::Integer(None),
            })
        }
        Value::Array(_) | Value::Object(_) => match column {
            Affinity::Text => return Ok(Param::Text(Some(super::pg_text(&value.to_string())))),
            _ => return Err(column.pg_type()),
        },
        Value::Bool(flag) => Number::Integer(i64::from(*flag)),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(int), _) => Number::Integer(int),
            (None, Some(real)) => Number::Real(real),
            (None, None) => return Err(column.pg_type()),
        },
        Value::String(text) => match column {
            Affinity::Text => return Ok(Param::Text(Some(super::pg_text(text)))),
            _ => match numeric_text(text) {
                Some(number) => number,
                None => return Err(column.pg_type()),
            },
        },
    };
    Ok(match (column, number) {
        (Affinity::Text, Number::Integer(int)) => Param::Text(Some(int.to_string())),
        (Affinity::Text, Number::Real(real)) => Param::Text(Some(sqlite_real_text(real))),
        (Affinity::Real, Number::Integer(int)) => Param::Real(Some(int as f64)),
        (Affinity::Real, Number::Real(real)) => Param::Real(Some(real)),
        (Affinity::Integer, Number::Integer(int)) => Param::Integer(Some(int)),
        (Affinity::Integer, Number::Real(real)) => match exact_integer(real) {
            Some(int) => Param::Integer(Some(int)),
            None => return Err(column.pg_type()),
        },
    })
}

#[derive(Clone, Copy)]
enum Number {
    Integer(i64),
    Real(f64),
}

/// Text SQLite would read as a number in a numeric column.
fn numeric_text(text: &str) -> Option<Number> {
    let trimmed = text.trim();
    if let Ok(int) = trimmed.parse::<i64>() {
        return Some(Number::Integer(int));
    }
    trimmed.parse::<f64>().ok().filter(|real| real.is_finite()).map(Number::Real)
}

/// A float SQLite stores as an integer in an `INTEGER` column: integral and in range.
fn exact_integer(real: f64) -> Option<i64> {
    let in_range = (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&real);
    (real.fract() == 0.0 && in_range).then_some(real as i64)
}

/// A float as SQLite writes it into a `TEXT` column: integral values keep a `.0`.
fn sqlite_real_text(real: f64) -> String {
    if real.fract() == 0.0 && real.abs() < 1e15 {
        format!("{real:.1}")
    } else {
        real.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored(field: &str, value: Value) -> String {
        match param(field, &value) {
            Ok(Param::Text(text)) => format!("text {text:?}"),
            Ok(Param::Real(real)) => format!("real {real:?}"),
            Ok(Param::Integer(int)) => format!("int {int:?}"),
            Err(err) => format!("refused: {err}"),
        }
    }

    #[test]
    fn values_land_as_sqlite_affinity_stores_them() {
        assert_eq!(stored("bot_afk", json!(true)), "int Some(1)");
        assert_eq!(stored("bot_rank", json!(3)), "real Some(3.0)");
        assert_eq!(stored("bot_rank", json!("2.5")), "real Some(2.5)");
        assert_eq!(stored("current_media_duration", json!(90.0)), "int Some(90)");
        assert_eq!(stored("playlist_items", json!("12")), "int Some(12)");
        assert_eq!(stored("bot_name", json!(7)), "text Some(\"7\")");
        assert_eq!(stored("bot_name", json!(1.0)), "text Some(\"1.0\")");
        assert_eq!(stored("channel_name", Value::Null), "text None");
        assert!(stored("current_media_duration", json!(90.5)).starts_with("refused"));
        assert!(stored("bot_rank", json!("admin")).contains("double precision"));
    }
}
