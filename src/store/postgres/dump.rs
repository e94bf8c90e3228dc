//! The whole database in [`DbDump`]'s format (see `store::dump`), so a PostgreSQL database
//! compares directly with an SQLite one: schema order, primary-key order (text keys in
//! byte order, as SQLite's `BINARY` collation), integers and floats as numbers.

use postgres::types::Type;
use postgres::{Client, Row};
use serde_json::{Number, Value};

use super::super::dump::{DbDump, TableDump};
use super::super::schema::{Table, TABLES};

/// Reads every table in one read-only snapshot (or inside the open batch, which it sees).
pub(super) fn dump(client: &mut Client, in_batch: bool) -> Result<DbDump, postgres::Error> {
    if !in_batch {
        client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    }
    let tables: Result<Vec<TableDump>, postgres::Error> =
        TABLES.iter().map(|table| dump_table(client, table)).collect();
    if !in_batch {
        let ended = client.batch_execute("COMMIT");
        if tables.is_ok() {
            ended?;
        }
    }
    Ok(DbDump { tables: tables? })
}

pub(super) fn dump_table(
    client: &mut impl postgres::GenericClient,
    table: &Table,
) -> Result<TableDump, postgres::Error> {
    let list: Vec<String> = table.columns.iter().map(|c| format!("\"{c}\"")).collect();
    let key_order = if table.key == "id" { "\"id\"".to_owned() } else { format!("\"{}\" COLLATE \"C\"", table.key) };
    let sql = format!("SELECT {} FROM \"{}\" ORDER BY {key_order}", list.join(", "), table.name);
    let rows = client.query(&sql, &[])?;
    Ok(TableDump {
        name: table.name.to_owned(),
        columns: table.columns.iter().map(|c| (*c).to_owned()).collect(),
        rows: rows.iter().map(|row| (0..table.columns.len()).map(|i| json_value(row, i)).collect()).collect(),
    })
}

fn json_value(row: &Row, index: usize) -> Value {
    let column_type = row.columns()[index].type_();
    if *column_type == Type::INT8 {
        row.get::<_, Option<i64>>(index).map_or(Value::Null, Value::from)
    } else if *column_type == Type::INT4 {
        row.get::<_, Option<i32>>(index).map_or(Value::Null, Value::from)
    } else if *column_type == Type::FLOAT8 {
        match row.get::<_, Option<f64>>(index) {
            None => Value::Null,
            Some(real) => Number::from_f64(real).map_or_else(|| Value::String(real.to_string()), Value::Number),
        }
    } else {
        row.get::<_, Option<String>>(index).map_or(Value::Null, Value::String)
    }
}
