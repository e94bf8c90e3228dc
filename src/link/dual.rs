//! Dual mode, the seed's pattern: the bus first, the store itself when the
//! bus is unavailable.
//!
//! "Unavailable" means the connection is down (or was never up: dual mode
//! starts without a server and connects in the background), or a request
//! found no responders (no db-service). A timed-out request does not fall
//! back: the service may still apply it, and an enqueue applied twice would
//! be said twice.
//!
//! A connection alone does not prove a db-service listens, and a publish
//! nobody hears is lost without an error. So after a start or a reconnect,
//! fire-and-forget commands keep going to the store until a request (the
//! bot's next outbound poll, at most 2 s later) is answered over the bus;
//! requests always try the bus first, and are that proof. Each command goes
//! one way only, so nothing is applied twice, and both ways write the same
//! database.

use std::cell::Cell;
use std::time::Duration;

use super::{BusLink, DbLink, DirectLink, LinkError};
use crate::clock::Clock;
use crate::contract::{Command, Reply};
use crate::transport::{Transport, TransportError};

/// Bus primary, direct fallback.
pub struct DualLink<T: Transport, C: Clock> {
    bus: BusLink<T>,
    direct: DirectLink<C>,
    /// A db-service has answered over the bus since the connection last
    /// came up: publishing is safe.
    heard: Cell<bool>,
}

impl<T: Transport, C: Clock> DualLink<T, C> {
    pub fn new(bus: BusLink<T>, direct: DirectLink<C>) -> DualLink<T, C> {
        DualLink { bus, direct, heard: Cell::new(false) }
    }

    pub fn bus(&self) -> &BusLink<T> {
        &self.bus
    }

    /// Whether the connection is up; forgets the last answer when it is not.
    fn connected(&self) -> bool {
        let connected = self.bus.transport().is_connected();
        if !connected {
            self.unheard();
        }
        connected
    }

    fn heard_now(&self) {
        if !self.heard.replace(true) {
            tracing::info!("[NATS] a db-service answers; sending over the bus");
        }
    }

    fn unheard(&self) {
        self.heard.set(false);
    }
}

fn falls_back(error: &LinkError) -> bool {
    matches!(error, LinkError::Transport(TransportError::NoResponders | TransportError::Disconnected(_)))
}

impl<T: Transport, C: Clock> DbLink for DualLink<T, C> {
    fn vitals(&self) -> super::LinkVitals {
        self.bus.vitals()
    }

    async fn send(&self, command: Command) -> Result<(), LinkError> {
        let subject = command.subject();
        if !self.connected() {
            tracing::info!(%subject, "[DB] bus down; writing to the store directly");
        } else if !self.heard.get() {
            tracing::info!(%subject, "[DB] no db-service has answered on the bus yet; writing to the store directly");
        } else {
            match self.bus.send(command.clone()).await {
                Err(error) if falls_back(&error) => {
                    self.unheard();
                    tracing::warn!(%error, "[NATS] publish failed; [DB] falling back to the store");
                }
                other => return other,
            }
        }
        self.direct.send(command).await
    }

    async fn request(&self, command: Command, timeout: Duration) -> Result<Reply, LinkError> {
        if self.connected() {
            match self.bus.request(command.clone(), timeout).await {
                Err(error) if falls_back(&error) => {
                    self.unheard();
                    tracing::warn!(%error, "[NATS] request failed; [DB] asking the store directly");
                }
                Ok(reply) => {
                    self.heard_now();
                    return Ok(reply);
                }
                other => return other,
            }
        } else {
            tracing::info!(subject = %command.subject(), "[DB] bus down; asking the store directly");
        }
        self.direct.request(command, timeout).await
    }
}
