//! WAL checkpoints off the applying thread.
//!
//! In WAL mode with `synchronous = NORMAL` a commit only appends to the log;
//! the fsyncs happen when the log is copied back into the file (a
//! checkpoint), which SQLite by default runs inside whichever commit crosses
//! 1,000 pages. On the db-service's one thread that commit then takes 10-20 ms
//! on this machine's disk, and every poll waiting behind it with it (the
//! loadtest's p99 under a flood was 20 ms on disk against 6 ms on tmpfs). The
//! db-service binary therefore turns automatic checkpoints off on its
//! connection and runs them here, on a thread with its own connection, in
//! `PASSIVE` mode: they never wait for (or block) the writer.
//!
//! Only the binary starts one: code that runs in the simulator starts no threads.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::error::StoreError;
use super::SqliteStore;

/// How often the log is copied back.
const EVERY: Duration = Duration::from_millis(250);

impl SqliteStore {
    /// Stops SQLite from checkpointing inside this connection's commits; a
    /// [`Checkpointer`] must run instead, or the log grows without end.
    pub fn disable_autocheckpoint(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(|err| self.here(err.into()))
    }
}

/// A thread that checkpoints the WAL of one database file until dropped.
pub struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` every 250 ms.
    ///
    /// # Errors
    /// When the file cannot be opened on a second connection, or no thread can be started.
    pub fn start(path: &Path) -> crate::Result<Checkpointer> {
        let conn = Connection::open(path).map_err(|err| StoreError::from(err).at(Some(path)))?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(|err| StoreError::from(err).at(Some(path)))?;
        let (stop, stopped) = mpsc::channel();
        let path: PathBuf = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || checkpoint_until_stopped(&conn, &path, &stopped))
            .map_err(|err| format!("cannot start the WAL checkpoint thread: {err}"))?;
        Ok(Checkpointer { stop: Some(stop), thread: Some(thread) })
    }
}

fn checkpoint_until_stopped(conn: &Connection, path: &Path, stopped: &mpsc::Receiver<()>) {
    let mut failing = false;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        let result: rusqlite::Result<(i64, i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)));
        match result {
            Ok(_) if failing => {
                tracing::info!(path = %path.display(), "WAL checkpoints work again");
                failing = false;
            }
            Ok(_) => {}
            Err(error) if !failing => {
                tracing::warn!(path = %path.display(), %error, "WAL checkpoint failed; the log grows until one succeeds");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(path: &Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    /// With automatic checkpoints off, 3,000 lines stay in the log and the
    /// file keeps its first pages; the thread then copies them into the file.
    #[test]
    fn the_log_is_copied_back_by_the_thread_not_by_commits() -> crate::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("rosey.db");
        let mut store = SqliteStore::open(&path, 0)?;
        store.disable_autocheckpoint()?;
        for n in 0..3_000 {
            store.user_chat_message("amy", &format!("line {n} {}", "x".repeat(200)), 10)?;
        }
        let (file, log) = (size(&path), size(&path.with_extension("db-wal")));
        assert!(log > 4 * 1024 * 1024, "no commit checkpointed the log: {log} bytes");
        assert!(file < 1024 * 1024, "the file holds none of the lines yet: {file} bytes");
        let checkpointer = Checkpointer::start(&path)?;
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while size(&path) < 512 * 1024 {
            assert!(std::time::Instant::now() < deadline, "the thread never checkpointed");
            std::thread::sleep(EVERY / 5);
        }
        drop(checkpointer);
        assert_eq!(store.recent_chat(1)?.len(), 1);
        Ok(())
    }
}
