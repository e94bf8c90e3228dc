//! The part of JetStream Rosey relies on, behind the [`Transport`](super::Transport)
//! trait: a stream with a duplicate window, publishes acknowledged by the
//! server, and a durable pull consumer whose messages carry their stream
//! sequence.
//!
//! Both buses implement it the way nats-server does it, over core subjects:
//! `$JS.API.STREAM.*` / `$JS.API.CONSUMER.*` requests with JSON bodies, a
//! `Nats-Msg-Id` header on publishes, deliveries whose reply subject is the
//! `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ms>.<pending>`
//! an ack is published to. [`ack_subject_info`] reads that subject, so the
//! two buses cannot disagree about what it means.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;

use super::TransportError;

/// Where a stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StreamStorage {
    /// On disk: survives a server restart (`nats-server -js -sd DIR`).
    File,
    /// In memory: gone when the server stops.
    Memory,
}

/// The stream to create or update (idempotently).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    pub name: String,
    /// What it captures; never a request subject (the publisher of a
    /// captured request would get the stream's ack as its reply).
    pub subjects: Vec<String>,
    pub storage: StreamStorage,
    /// How long the server remembers a `Nats-Msg-Id` to drop a republish.
    pub duplicate_window: Duration,
    /// Oldest message kept; zero keeps them forever.
    pub max_age: Duration,
    /// Most bytes kept (oldest go first); `None` is unlimited.
    pub max_bytes: Option<u64>,
    /// Most messages kept (oldest go first); `None` is unlimited.
    pub max_messages: Option<u64>,
    /// Copies kept across a cluster's servers (1 on a lone server; 3 survives a node
    /// loss). The simulated bus is one server and keeps one.
    pub replicas: usize,
}

/// A stream's extent right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamState {
    /// Sequence of the oldest message still stored (limits remove from the front).
    pub first_seq: u64,
    /// Sequence of the newest message stored: everything published and
    /// acknowledged so far is at or below it.
    pub last_seq: u64,
    pub messages: u64,
}

/// The server's answer to an acknowledged publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubAck {
    pub stream: String,
    /// Where the message sits in the stream (the original's, for a duplicate).
    pub seq: u64,
    /// The server already had a message with this `Nats-Msg-Id` in its window.
    pub duplicate: bool,
}

/// The server's acknowledgement of one publish, awaited later: publishes are
/// pipelined and their acks collected in windows.
pub type PendingAck = Pin<Box<dyn Future<Output = Result<PubAck, TransportError>> + Send>>;

/// The durable pull consumer the db-service reads with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// Survives restarts of both sides: the server remembers what was acked.
    pub durable_name: String,
    /// How long a delivered message may stay unacknowledged before the
    /// server delivers it again.
    pub ack_wait: Duration,
    /// Most unacknowledged messages in flight; the server stops delivering beyond it.
    pub max_ack_pending: i64,
}

/// One message delivered by a consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMessage {
    pub subject: String,
    pub payload: Bytes,
    /// Where it sits in the stream: what an idempotent apply records.
    pub stream_seq: u64,
    /// How many times it has been delivered, 1 the first time.
    pub delivered: u64,
    /// The `$JS.ACK...` subject an acknowledgement is published to.
    pub ack_subject: String,
}

/// One message read straight from a stream (not through a consumer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    pub seq: u64,
    pub subject: String,
    pub payload: Bytes,
}

/// The `$JS.API.STREAM.MSG.GET.<stream>` request for the first message at or
/// after `seq` whose subject matches `next_by_subj` (wildcards allowed).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MsgGetRequest {
    #[serde(default)]
    pub seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_by_subj: Option<String>,
}

/// The API subject of [`MsgGetRequest`].
pub fn msg_get_subject(stream: &str) -> String {
    format!("$JS.API.STREAM.MSG.GET.{stream}")
}

/// The error code nats-server answers a MSG.GET with when no message matches.
pub const NO_MESSAGE_FOUND: u32 = 10037;

#[derive(serde::Deserialize)]
struct MsgGetResponse {
    message: Option<RawStoredMessage>,
    error: Option<ApiError>,
}

#[derive(serde::Deserialize)]
struct RawStoredMessage {
    subject: String,
    seq: u64,
    /// Base64; absent for an empty payload.
    #[serde(default)]
    data: Option<String>,
}

#[derive(serde::Deserialize)]
struct ApiError {
    code: u16,
    #[serde(default)]
    err_code: u32,
    #[serde(default)]
    description: String,
}

/// Reads a MSG.GET answer: the message, `None` when none matches, or the error.
pub fn parse_msg_get(payload: &[u8]) -> Result<Option<StoredMessage>, TransportError> {
    use base64::Engine;
    let response: MsgGetResponse = serde_json::from_slice(payload)
        .map_err(|e| TransportError::Other(format!("unreadable JetStream MSG.GET answer: {e}")))?;
    match (response.message, response.error) {
        (_, Some(error)) if error.err_code == NO_MESSAGE_FOUND => Ok(None),
        (_, Some(error)) => Err(TransportError::JetStream { code: error.code, description: error.description }),
        (Some(message), None) => {
            let payload = match message.data {
                Some(data) => base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .map_err(|e| TransportError::Other(format!("JetStream sent a message that is not base64: {e}")))?,
                None => Vec::new(),
            };
            Ok(Some(StoredMessage { seq: message.seq, subject: message.subject, payload: Bytes::from(payload) }))
        }
        (None, None) => Err(TransportError::Other("JetStream MSG.GET answered neither a message nor an error".into())),
    }
}

/// What a `$JS.ACK` reply subject says about the message it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckSubjectInfo {
    pub delivered: u64,
    pub stream_seq: u64,
    pub consumer_seq: u64,
    pub pending: u64,
}

/// Reads `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`
/// (nats-server 2.9; newer servers prefix a domain and account hash, also read).
pub fn ack_subject_info(subject: &str) -> Option<AckSubjectInfo> {
    let tokens: Vec<&str> = subject.split('.').collect();
    if tokens.len() < 9 || tokens[0] != "$JS" || tokens[1] != "ACK" {
        return None;
    }
    // The last five numeric tokens are delivered, sseq, cseq, ts, pending in
    // the 9-token form; the 12-token form adds a token after them (a random suffix).
    let numbers = if tokens.len() == 9 { &tokens[4..9] } else { &tokens[6..11] };
    let number = |i: usize| numbers.get(i).and_then(|t| t.parse::<u64>().ok());
    Some(AckSubjectInfo {
        delivered: number(0)?,
        stream_seq: number(1)?,
        consumer_seq: number(2)?,
        pending: number(4)?,
    })
}

/// The payload that acknowledges a delivered message.
pub const ACK_PAYLOAD: &[u8] = b"+ACK";

/// The header a publisher's message id travels in.
pub const MSG_ID_HEADER: &str = "Nats-Msg-Id";

/// A durable pull consumer's message stream.
pub trait StreamConsumer {
    /// The next message; waits for one. `Err` when the consumer is gone for good.
    fn next(&mut self) -> impl Future<Output = Result<StreamMessage, TransportError>>;

    /// The next message if one has already arrived, without waiting (grows a batch).
    fn try_next(&mut self) -> Option<StreamMessage>;

    /// The highest stream sequence the server counts as acknowledged: what is
    /// at or below it will not be delivered again.
    fn ack_floor(&self) -> impl Future<Output = Result<u64, TransportError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_2_9_ack_subject() {
        let info = ack_subject_info("$JS.ACK.ROSEY_DB.rosey-db.2.17.40.1733050000000000000.5").unwrap();
        assert_eq!(info, AckSubjectInfo { delivered: 2, stream_seq: 17, consumer_seq: 40, pending: 5 });
    }

    #[test]
    fn reads_the_domain_form() {
        let info = ack_subject_info("$JS.ACK.hub.ACCHASH.ROSEY_DB.rosey-db.1.9.9.1733050000000000000.0.abc").unwrap();
        assert_eq!((info.delivered, info.stream_seq, info.consumer_seq, info.pending), (1, 9, 9, 0));
    }

    #[test]
    fn refuses_other_subjects() {
        assert_eq!(ack_subject_info("_INBOX.abc.1"), None);
        assert_eq!(ack_subject_info("$JS.ACK.S.C.x.1.1.1.1"), None);
        assert_eq!(ack_subject_info("$JS.ACK.S.C.1.1"), None);
    }
}
