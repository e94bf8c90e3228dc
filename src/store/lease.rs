//! The writer's lease: of several db-services sharing one database, only the one holding
//! it applies; the others stand by and try again (`service::leadership`).
//!
//! - SQLite: an exclusive `flock` on `<database>.lease` beside the file. The kernel drops
//!   it when the process dies, however it dies, so a standby on the same host takes over
//!   at its next try. (SQLite's own locks guard transactions, not who applies.)
//! - PostgreSQL: a session-level advisory lock, taken on the store's own connection. The
//!   server drops it when the session ends (the process died, or the network cut it), and
//!   every write of the holder goes through that same session: a holder that lost the lock
//!   has lost its connection too, so it cannot write after its successor started.
//! - An in-memory store has no one to share with and always holds it.

use std::fs::{File, OpenOptions, TryLockError};

use super::error::{StoreError, StoreErrorKind};
use super::SqliteStore;

impl SqliteStore {
    /// Takes the lease if no other store holds it; `true` while this one does.
    pub fn try_lead(&mut self) -> Result<bool, StoreError> {
        if self.lease.is_some() {
            return Ok(true);
        }
        let Some(path) = &self.path else { return Ok(true) };
        let mut lease_path = path.clone().into_os_string();
        lease_path.push(".lease");
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&lease_path).map_err(|err| {
            tracing::error!(error = %err, lease = ?lease_path, "cannot open the lease file beside the database");
            StoreError::new(StoreErrorKind::CannotOpen).at(Some(path))
        })?;
        match file.try_lock() {
            Ok(()) => {
                self.lease = Some(file);
                Ok(true)
            }
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Error(err)) => {
                tracing::error!(error = %err, lease = ?lease_path, "cannot lock the lease file");
                Err(StoreError::new(StoreErrorKind::CannotOpen).at(Some(path)))
            }
        }
    }

    /// Gives the lease up (a standby may take it at once).
    pub fn step_down(&mut self) {
        if let Some(file) = self.lease.take() {
            let _ = File::unlock(&file);
        }
    }
}
