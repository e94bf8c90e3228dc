//! Direct mode: the bot calls the store in its own process.

use std::cell::RefCell;
use std::time::Duration;

use super::{BadReply, DbLink, LinkError};
use crate::clock::Clock;
use crate::contract::{Command, Reply};
use crate::service::{apply_command, command_now};
use crate::store::Store;

/// The store, called in-process. Each command is applied as it arrives, with
/// "now" from its `at_ms` (or `clock` when absent), exactly as the db-service
/// would apply it: a fault-free bus run and a direct run write the same rows.
pub struct DirectLink<C: Clock> {
    store: RefCell<Store>,
    clock: C,
}

impl<C: Clock> DirectLink<C> {
    pub fn new(store: Store, clock: C) -> DirectLink<C> {
        DirectLink { store: RefCell::new(store), clock }
    }

    /// Gives the store back (to inspect or close it).
    pub fn into_store(self) -> Store {
        self.store.into_inner()
    }

    /// Runs `f` on the store (a borrow; never held across an await).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.store.borrow_mut())
    }

    /// Applies `command` to the store at the command's own "now" ([`command_now`]).
    fn apply_to_store(&self, command: &Command) -> Result<Option<Reply>, LinkError> {
        let now = command_now(command, &self.clock);
        tracing::debug!(subject = %command.subject(), "[DB] apply");
        Ok(apply_command(&mut self.store.borrow_mut(), command, now)?)
    }
}

impl<C: Clock> DbLink for DirectLink<C> {
    async fn send(&self, command: Command) -> Result<(), LinkError> {
        self.apply_to_store(&command).map(drop)
    }

    async fn request(&self, command: Command, _timeout: Duration) -> Result<Reply, LinkError> {
        self.apply_to_store(&command)?.ok_or_else(|| BadReply::NoReply(command.subject()).into())
    }
}
