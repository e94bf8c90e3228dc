//! Dual mode, the seed's pattern: the bus first, the store itself when the
//! bus is unavailable.
//!
//! "Unavailable" means the connection is down, or a request found no
//! responders (no db-service). A timed-out request does not fall back: the
//! service may still apply it, and an enqueue applied twice would be said twice.

use std::time::Duration;

use super::{BusLink, DbLink, DirectLink, LinkError};
use crate::clock::Clock;
use crate::contract::{Command, Reply};
use crate::transport::{Transport, TransportError};

/// Bus primary, direct fallback.
pub struct DualLink<T: Transport, C: Clock> {
    bus: BusLink<T>,
    direct: DirectLink<C>,
}

impl<T: Transport, C: Clock> DualLink<T, C> {
    pub fn new(bus: BusLink<T>, direct: DirectLink<C>) -> DualLink<T, C> {
        DualLink { bus, direct }
    }

    pub fn bus(&self) -> &BusLink<T> {
        &self.bus
    }
}

fn falls_back(error: &LinkError) -> bool {
    matches!(error, LinkError::Transport(TransportError::NoResponders | TransportError::Disconnected(_)))
}

impl<T: Transport, C: Clock> DbLink for DualLink<T, C> {
    async fn send(&self, command: Command) -> Result<(), LinkError> {
        if self.bus.transport().is_connected() {
            match self.bus.send(command.clone()).await {
                Err(error) if falls_back(&error) => {
                    tracing::warn!(%error, "[NATS] publish failed; [DB] falling back to the store");
                }
                other => return other,
            }
        } else {
            tracing::info!(subject = %command.subject(), "[DB] bus down; writing to the store directly");
        }
        self.direct.send(command).await
    }

    async fn request(&self, command: Command, timeout: Duration) -> Result<Reply, LinkError> {
        if self.bus.transport().is_connected() {
            match self.bus.request(command.clone(), timeout).await {
                Err(error) if falls_back(&error) => {
                    tracing::warn!(%error, "[NATS] request failed; [DB] asking the store directly");
                }
                other => return other,
            }
        } else {
            tracing::info!(subject = %command.subject(), "[DB] bus down; asking the store directly");
        }
        self.direct.request(command, timeout).await
    }
}
