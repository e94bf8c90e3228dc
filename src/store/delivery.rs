//! JetStream delivery bookkeeping: the highest stream sequence whose effects
//! are in the database, per stream.
//!
//! It is written in the same transaction as the effects of the commands it
//! counts, so after a crash the database and its bookkeeping agree: a
//! redelivered message at or below it was applied and is skipped, which is
//! what makes JetStream's at-least-once delivery apply exactly once.
//!
//! The table is additive and created only when a JetStream db-service first
//! asks for it: a v0.5.0 file keeps its eight tables and its meaning, and a
//! v0.5.0 service works on a file that has it.

use super::error::StoreError;
use super::SqliteStore;

pub(super) const CREATE: &str = "CREATE TABLE IF NOT EXISTS delivery_progress (
    stream TEXT PRIMARY KEY,
    applied_seq INTEGER NOT NULL
)";

const APPLIED: &str = "SELECT applied_seq FROM delivery_progress WHERE stream = ?1";

const RECORD: &str = "INSERT INTO delivery_progress (stream, applied_seq) VALUES (?1, ?2)
ON CONFLICT (stream) DO UPDATE SET applied_seq = MAX(applied_seq, excluded.applied_seq)";

impl SqliteStore {
    /// Creates the bookkeeping table if the file has none (a JetStream
    /// db-service's first start on it).
    pub fn prepare_delivery(&mut self) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.execute_batch(CREATE)?;
            Ok(())
        })
    }

    /// The highest sequence of `stream` applied to this database (0 when none);
    /// inside a batch, as the batch sees it. Needs [`SqliteStore::prepare_delivery`] first.
    pub fn applied_stream_seq(&self, stream: &str) -> Result<u64, StoreError> {
        self.read(|conn| {
            let seq: Option<i64> = match conn.prepare_cached(APPLIED)?.query_row([stream], |row| row.get(0)) {
                Ok(seq) => Some(seq),
                Err(rusqlite::Error::QueryReturnedNoRows) => None,
                Err(err) => return Err(err.into()),
            };
            Ok(seq.map_or(0, |seq| u64::try_from(seq).unwrap_or(0)))
        })
    }

    /// Records that everything of `stream` up to `seq` is applied; inside a
    /// batch it commits (or rolls back) with the batch. Never moves backwards.
    pub fn record_applied_seq(&mut self, stream: &str, seq: u64) -> Result<(), StoreError> {
        let seq = i64::try_from(seq).unwrap_or(i64::MAX);
        self.write(|conn| {
            conn.prepare_cached(RECORD)?.execute(rusqlite::params![stream, seq])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn starts_at_zero_and_never_moves_back() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        store.prepare_delivery()?;
        assert_eq!(store.applied_stream_seq("ROSEY_DB")?, 0);
        store.record_applied_seq("ROSEY_DB", 7)?;
        store.record_applied_seq("ROSEY_DB", 5)?;
        assert_eq!(store.applied_stream_seq("ROSEY_DB")?, 7);
        assert_eq!(store.applied_stream_seq("OTHER")?, 0);
        Ok(())
    }

    #[test]
    fn commits_and_rolls_back_with_the_batch() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("d.db");
        let mut store = SqliteStore::open(&path, 0)?;
        store.prepare_delivery()?;
        assert_eq!(store.applied_stream_seq("S")?, 0);
        store.begin_batch()?;
        store.record_applied_seq("S", 3)?;
        store.commit_batch()?;
        store.begin_batch()?;
        store.record_applied_seq("S", 9)?;
        drop(store); // a crash before the commit
        let mut store = SqliteStore::open(&path, 0)?;
        store.prepare_delivery()?;
        assert_eq!(store.applied_stream_seq("S")?, 3);
        Ok(())
    }

    #[test]
    fn the_dump_of_the_v05_tables_ignores_it() -> TestResult {
        let mut store = SqliteStore::open_in_memory(0)?;
        let before = store.dump()?;
        store.prepare_delivery()?;
        store.record_applied_seq("S", 4)?;
        assert_eq!(store.dump()?, before);
        Ok(())
    }
}
