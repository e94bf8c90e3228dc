//! [`Snapshot`]s on PostgreSQL: reading one in a repeatable-read snapshot, and absorbing
//! one with typed upserts (values converted as SQLite's affinity would store them) and
//! `rosey_sequence` (and the `BIGSERIAL` defaults) raised past every id the source handed
//! out.

use std::collections::BTreeMap;

use postgres::types::ToSql;

use super::super::copy::{copied_tables, Progress, Snapshot, TableCopy};
use super::super::error::StoreError;
use super::super::schema::Table;
use super::dump::dump_table;
use super::schema::SEQUENCED;
use super::status::{typed, Affinity, Param};
use super::PgStore;

impl PgStore {
    /// Every table and sequence, in one read-only snapshot.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.read(|conn| {
            let client = &mut conn.client;
            client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
            let read = (|| {
                let mut tables = Vec::new();
                for table in copied_tables() {
                    tables.push(dump_table(client, table)?);
                }
                let mut sequences = BTreeMap::new();
                for row in client.query("SELECT name, seq FROM rosey_sequence", &[])? {
                    sequences.insert(row.get::<_, String>(0), row.get::<_, i64>(1));
                }
                Ok(Snapshot { tables, sequences })
            })();
            let ended = client.batch_execute("COMMIT");
            let snapshot = read?;
            ended?;
            Ok(snapshot)
        })
    }

    /// Upserts `snapshot` in one transaction; see `store::copy`.
    pub fn absorb(&mut self, snapshot: &Snapshot, progress: Progress) -> Result<Vec<TableCopy>, StoreError> {
        let snapshot = snapshot.clone();
        let server = self.server.clone();
        let absorbed = self.worker.run(move |conn| {
            let mut tx = conn.client.transaction().map_err(StoreError::postgres)?;
            let report = absorb_in(&mut tx, &snapshot, &progress)?;
            tx.commit().map_err(StoreError::postgres)?;
            Ok(report)
        });
        absorbed.map_err(|err| err.on_server(&server))
    }
}

fn absorb_in(
    client: &mut postgres::Transaction<'_>,
    snapshot: &Snapshot,
    progress: &Progress,
) -> Result<Vec<TableCopy>, StoreError> {
    let mut done = 0;
    let mut report = Vec::new();
    for (table, rows) in copied_tables().zip(&snapshot.tables) {
        let affinities = column_affinities(client, table)?;
        let upsert = client.prepare(&pg_upsert(table)).map_err(StoreError::postgres)?;
        let mut written = 0;
        for (number, row) in rows.rows.iter().enumerate() {
            let params = row
                .iter()
                .zip(&affinities)
                .zip(table.columns)
                .map(|((value, affinity), column)| {
                    typed(value, *affinity).map_err(|column_type| {
                        StoreError::new(super::super::StoreErrorKind::SchemaMismatch {
                            detail: format!(
                                "row {} of {}: {column} = {value} does not fit PostgreSQL's {column_type}",
                                number + 1,
                                table.name
                            ),
                        })
                    })
                })
                .collect::<Result<Vec<Param>, StoreError>>()?;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
            written += client.execute(&upsert, &refs).map_err(StoreError::postgres)?;
            done += 1;
            if done % 1000 == 0 {
                progress(done);
            }
        }
        report.push(TableCopy { name: table.name.to_owned(), read: rows.rows.len() as u64, written });
    }
    for table in SEQUENCED {
        let source = snapshot.sequences.get(table).copied().unwrap_or(0);
        client
            .execute(
                &format!(
                    "UPDATE rosey_sequence SET seq = GREATEST(seq, $2, (SELECT COALESCE(MAX(id), 0) FROM \"{table}\")) \
                     WHERE name = $1"
                ),
                &[&table, &source],
            )
            .map_err(StoreError::postgres)?;
        client
            .execute(
                "SELECT setval(pg_get_serial_sequence($1, 'id'), seq) FROM rosey_sequence WHERE name = $1 AND seq > 0",
                &[&table],
            )
            .map_err(StoreError::postgres)?;
    }
    progress(done);
    Ok(report)
}

/// Each column's affinity, from the destination's own types.
fn column_affinities(client: &mut postgres::Transaction<'_>, table: &Table) -> Result<Vec<Affinity>, StoreError> {
    let rows = client
        .query(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1",
            &[&table.name],
        )
        .map_err(StoreError::postgres)?;
    let types: BTreeMap<String, String> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    Ok(table.columns.iter().map(|c| Affinity::of_pg_type(types.get(*c).map_or("text", String::as_str))).collect())
}

/// `INSERT ... ON CONFLICT (key) DO UPDATE ... WHERE` the row differs.
fn pg_upsert(table: &Table) -> String {
    let columns: Vec<String> = table.columns.iter().map(|c| format!("\"{c}\"")).collect();
    let marks: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
    let others: Vec<&&str> = table.columns.iter().filter(|c| **c != table.key).collect();
    let set: Vec<String> = others.iter().map(|c| format!("\"{c}\" = excluded.\"{c}\"")).collect();
    let old: Vec<String> = others.iter().map(|c| format!("t.\"{c}\"")).collect();
    let new: Vec<String> = others.iter().map(|c| format!("excluded.\"{c}\"")).collect();
    format!(
        "INSERT INTO \"{}\" AS t ({}) VALUES ({}) ON CONFLICT (\"{}\") DO UPDATE SET {} \
         WHERE ({}) IS DISTINCT FROM ({})",
        table.name,
        columns.join(", "),
        marks.join(", "),
        table.key,
        set.join(", "),
        old.join(", "),
        new.join(", ")
    )
}
