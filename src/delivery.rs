//! How commands travel from the bot to the db-service: core NATS (v0.5.0's
//! at-most-once publishes, the default and wire-compatible) or JetStream
//! (stored in a stream, deduplicated by message id, applied exactly once).
//!
//! With JetStream every event and mark is captured by one stream; requests
//! (`outbound.get`, `outbound.enqueue`, `recent_chat.get`) stay core
//! request/reply, because a stream that captured them would answer their
//! publisher with its own ack.

use std::time::Duration;

use crate::contract::Subject;
use crate::transport::{ConsumerConfig, StreamConfig, StreamStorage};

/// The delivery mode of a bot or db-service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// Core NATS: at-most-once, what v0.5.0 speaks.
    #[default]
    Core,
    /// JetStream: at-least-once delivery, applied exactly once.
    Jetstream,
}

impl std::fmt::Display for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Delivery::Core => "core",
            Delivery::Jetstream => "jetstream",
        })
    }
}

/// The stream's default name.
pub const DEFAULT_STREAM: &str = "ROSEY_DB";

/// The db-service's durable consumer.
pub const DEFAULT_DURABLE: &str = "rosey-db";

/// How long the server drops a republished message id. A command is
/// republished when its ack did not come; if the original was stored after
/// all, only this window stops a second copy, so it must outlast the longest
/// outage a republish follows. nats-server's default is 2 min; 5 min covers
/// a server restart with room to spare, for a few bytes per id.
pub const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(300);

/// How long the stream keeps a message: a week, far past any outage the
/// db-service should catch up from.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// How many bytes the stream keeps before it drops its oldest messages.
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024 * 1024;

/// How long a delivered message may stay unacknowledged before the server
/// delivers it again. Acks follow each commit within milliseconds; a
/// redelivery is needed only when a delivery or an ack was lost, so the
/// wait is what such a loss costs in latency.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(5);

/// Most deliveries the consumer keeps unacknowledged (nats-server's default is 1,000).
pub const DEFAULT_MAX_ACK_PENDING: i64 = 20_000;

/// Most commands the bot keeps published but unacknowledged: what a bot
/// crash can lose. Well under the ~5,000 un-awaited acks async-nats handles.
pub const DEFAULT_ACK_WINDOW: usize = 1_024;

/// The subjects the stream captures: every event and mark, no request.
pub fn stream_subjects() -> Vec<String> {
    Subject::ALL.into_iter().filter(|subject| !subject.is_request()).map(|s| s.as_str().to_string()).collect()
}

/// Everything JetStream delivery is configured by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamSettings {
    pub stream: StreamConfig,
    pub consumer: ConsumerConfig,
    /// The bot's bound on unacknowledged publishes.
    pub ack_window: usize,
}

impl Default for JetStreamSettings {
    fn default() -> JetStreamSettings {
        JetStreamSettings {
            stream: StreamConfig {
                name: DEFAULT_STREAM.to_string(),
                subjects: stream_subjects(),
                storage: StreamStorage::File,
                duplicate_window: DEFAULT_DUPLICATE_WINDOW,
                max_age: DEFAULT_MAX_AGE,
                max_bytes: Some(DEFAULT_MAX_BYTES),
                max_messages: None,
                replicas: 1,
            },
            consumer: ConsumerConfig {
                durable_name: DEFAULT_DURABLE.to_string(),
                ack_wait: DEFAULT_ACK_WAIT,
                max_ack_pending: DEFAULT_MAX_ACK_PENDING,
            },
            ack_window: DEFAULT_ACK_WINDOW,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_captures_events_and_marks_but_no_request() {
        let subjects = stream_subjects();
        assert_eq!(subjects.len(), 8);
        for subject in Subject::ALL {
            assert_eq!(subjects.contains(&subject.as_str().to_string()), !subject.is_request(), "{subject}");
        }
    }
}
