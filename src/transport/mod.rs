//! The bus, behind a trait: publish, request with a timeout, subscribe
//! (optionally in a queue group).
//!
//! Bot and db-service are written against [`Transport`] only. [`NatsTransport`]
//! speaks to a live nats-server through async-nats; the simulator's bus client
//! (crate `rosey-sim`) is the second implementation and runs inside turmoil.

pub mod jetstream;
#[cfg(feature = "nats")]
mod nats;
mod options;
mod url;

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

pub use jetstream::{
    ack_subject_info, msg_get_subject, parse_msg_get, AckSubjectInfo, ConsumerConfig, MsgGetRequest, PendingAck,
    PubAck, StoredMessage, StreamConfig, StreamConsumer, StreamMessage, StreamState, StreamStorage, ACK_PAYLOAD,
    MSG_ID_HEADER, NO_MESSAGE_FOUND,
};
#[cfg(feature = "nats")]
pub use nats::{NatsConsumer, NatsTransport};
pub use options::NatsOptions;
pub use url::{hidden as hidden_secret, redact as redact_url, ServerList, UrlAuth};

/// How long a [`Transport::round_trip`] may take before it is reported as
/// timed out; every implementation (async-nats here, the simulator's bus
/// client) waits this long, so the two buses agree.
pub const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a read straight from a stream may take (async-nats' JetStream default).
pub const STREAM_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A message as delivered to a subscriber.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusMessage {
    pub subject: String,
    /// Where to send the reply, for requests.
    pub reply: Option<String>,
    pub payload: Bytes,
}

/// Why a bus operation failed; the cases stay apart because callers react
/// differently to each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// A request got no reply in time.
    TimedOut,
    /// Nobody subscribes to the request's subject.
    NoResponders,
    /// The connection is down and the operation could not be queued.
    Disconnected(String),
    /// The payload exceeds the server's `max_payload`.
    PayloadTooLarge(usize),
    /// The subject or queue group is not valid NATS.
    InvalidSubject(String),
    /// The server has no JetStream (a request to its API found nobody).
    JetStreamUnavailable,
    /// The JetStream API refused a request (its error code and description).
    JetStream { code: u16, description: String },
    /// Anything else.
    Other(String),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::TimedOut => f.write_str("request timed out"),
            TransportError::NoResponders => f.write_str("no responders"),
            TransportError::Disconnected(why) => write!(f, "disconnected: {why}"),
            TransportError::PayloadTooLarge(size) => {
                write!(f, "payload of {size} bytes exceeds the server's max_payload")
            }
            TransportError::InvalidSubject(why) => write!(f, "invalid subject: {why}"),
            TransportError::JetStreamUnavailable => f.write_str(
                "the NATS server has no JetStream: start it with `nats-server -js -sd <store dir>` \
                 (or `jetstream {}` in its config), or use `delivery = \"core\"`",
            ),
            TransportError::JetStream { code, description } => write!(f, "JetStream refused: {description} ({code})"),
            TransportError::Other(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for TransportError {}

/// A subscription's message stream.
pub trait Subscription {
    /// The next message; `None` once the subscription is closed.
    fn next(&mut self) -> impl Future<Output = Option<BusMessage>>;

    /// The next message if one is already waiting, without blocking: lets the
    /// db-service grow a batch only from what has already arrived. Must not be
    /// subject to tokio's cooperative budget (a waiting message is returned).
    fn try_next(&mut self) -> Option<BusMessage>;
}

/// A connection to the bus.
pub trait Transport {
    type Subscription: Subscription;
    type Consumer: StreamConsumer;

    /// Publishes fire-and-forget (at-most-once, like core NATS).
    fn publish(&self, subject: &str, payload: Bytes) -> impl Future<Output = Result<(), TransportError>>;

    /// Sends a request and waits up to `timeout` for the first reply.
    fn request(
        &self,
        subject: &str,
        payload: Bytes,
        timeout: Duration,
    ) -> impl Future<Output = Result<BusMessage, TransportError>>;

    /// Subscribes to `subject` (wildcards allowed), in `queue_group` when given.
    fn subscribe(
        &self,
        subject: &str,
        queue_group: Option<&str>,
    ) -> impl Future<Output = Result<Self::Subscription, TransportError>>;

    /// Waits until what was published so far has been written to the socket.
    /// Proves nothing about the server: see [`Transport::round_trip`].
    fn flush(&self) -> impl Future<Output = Result<(), TransportError>>;

    /// A round trip through the server on this connection: when it returns,
    /// the server has processed everything this connection sent before it
    /// (so routed it to subscribers), and this connection has received
    /// everything the server queued for it before it. The synchronization
    /// point for "all published" and "all delivered", without sleeps.
    fn round_trip(&self) -> impl Future<Output = Result<(), TransportError>>;

    /// Whether the connection is up right now (dual mode falls back when not).
    fn is_connected(&self) -> bool;

    /// Which connection this is: a number that grows with every (re)connect.
    /// What was written on an older connection and not acknowledged may be
    /// lost while what goes out on this one is not: the JetStream publisher
    /// holds newer commands back until those acks resolve, or they would be
    /// stored ahead of older ones. A transport that never reconnects may
    /// keep the default.
    fn connection_epoch(&self) -> u64 {
        0
    }

    /// Creates the stream, or updates it to `config` when it exists
    /// (idempotent), and returns its state.
    ///
    /// # Errors
    ///
    /// [`TransportError::JetStreamUnavailable`] when the server has no
    /// JetStream; [`TransportError::JetStream`] when it refuses the config.
    fn ensure_stream(&self, config: &StreamConfig) -> impl Future<Output = Result<StreamState, TransportError>>;

    /// The stream's current extent.
    fn stream_state(&self, stream: &str) -> impl Future<Output = Result<StreamState, TransportError>>;

    /// Publishes with `Nats-Msg-Id: msg_id` and a reply inbox for the
    /// server's ack; returns once the publish is queued on the connection,
    /// with the ack to await later (it fails with `TimedOut` after the
    /// transport's ack timeout, or `NoResponders` when no stream captures
    /// `subject`). With `expected_last_msg_id` (`Nats-Expected-Last-Msg-Id`)
    /// the server stores it only right after the message with that id, and
    /// otherwise refuses it (a `JetStream` error, code 400): how a publisher
    /// keeps its own order when an earlier publish may have been lost.
    fn publish_with_ack(
        &self,
        subject: &str,
        payload: Bytes,
        msg_id: &str,
        expected_last_msg_id: Option<&str>,
    ) -> impl Future<Output = Result<PendingAck, TransportError>>;

    /// The first message of `stream` at or after `from_seq` whose subject
    /// matches `filter` (wildcards allowed), read straight from the stream
    /// (`$JS.API.STREAM.MSG.GET` with `next_by_subj`); `None` when there is
    /// none. How the db-service applies the outbound queue's marks ahead of
    /// a backlog of chat.
    fn stream_next_message(
        &self,
        stream: &str,
        from_seq: u64,
        filter: &str,
    ) -> impl Future<Output = Result<Option<StoredMessage>, TransportError>> {
        let request = MsgGetRequest { seq: from_seq, next_by_subj: Some(filter.to_string()) };
        let subject = msg_get_subject(stream);
        async move {
            let body = serde_json::to_vec(&request).map_err(|e| TransportError::Other(e.to_string()))?;
            match self.request(&subject, Bytes::from(body), STREAM_READ_TIMEOUT).await {
                Ok(reply) => parse_msg_get(&reply.payload),
                Err(TransportError::NoResponders) => Err(TransportError::JetStreamUnavailable),
                Err(error) => Err(error),
            }
        }
    }

    /// Creates (or binds to) the durable pull consumer on `stream`,
    /// delivering every message from the stream's start, acked explicitly.
    fn durable_consumer(
        &self,
        stream: &str,
        config: &ConsumerConfig,
    ) -> impl Future<Output = Result<Self::Consumer, TransportError>>;
}
