//! Bus mode: commands travel as NATS messages to the db-service.

use std::time::Duration;

use bytes::Bytes;

use super::{DbLink, LinkError};
use crate::contract::{Command, Reply};
use crate::transport::{Transport, TransportError};

/// The bot's link over any [`Transport`].
pub struct BusLink<T: Transport> {
    transport: T,
}

impl<T: Transport> BusLink<T> {
    pub fn new(transport: T) -> BusLink<T> {
        BusLink { transport }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }
}

impl From<TransportError> for LinkError {
    fn from(error: TransportError) -> LinkError {
        match error {
            TransportError::TimedOut => LinkError::TimedOut,
            TransportError::NoResponders => LinkError::NoResponders,
            TransportError::Disconnected(why) => LinkError::Disconnected(why),
            TransportError::PayloadTooLarge(size) => LinkError::PayloadTooLarge(size),
            TransportError::InvalidSubject(why) | TransportError::Other(why) => LinkError::Other(why),
        }
    }
}

impl<T: Transport> DbLink for BusLink<T> {
    async fn send(&self, command: Command) -> Result<(), LinkError> {
        let subject = command.subject();
        tracing::debug!(%subject, "[NATS] publish");
        self.transport.publish(subject.as_str(), Bytes::from(command.encode())).await?;
        Ok(())
    }

    async fn request(&self, command: Command, timeout: Duration) -> Result<Reply, LinkError> {
        let subject = command.subject();
        tracing::debug!(%subject, "[NATS] request");
        let reply = self
            .transport
            .request(subject.as_str(), Bytes::from(command.encode()), timeout)
            .await
            .inspect_err(|error| tracing::warn!(%subject, %error, "[NATS] request failed"))?;
        Reply::decode(subject, &reply.payload).map_err(|e| LinkError::BadReply(e.to_string()))
    }
}
