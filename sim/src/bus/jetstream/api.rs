//! The JSON of the JetStream API subset the bus speaks, shared by its server
//! side and [`SimTransport`](crate::bus::SimTransport), so the two cannot
//! drift apart. Field names, units (durations in nanoseconds, -1 for
//! "unlimited") and error codes are nats-server 2.9's; unknown fields in a
//! request are ignored, as nats-server ignores fields it does not know.

use std::time::Duration;

use rosey::transport::{ConsumerConfig, StreamConfig, StreamState, StreamStorage};
use serde::{Deserialize, Serialize};

/// The `type` of each response, as nats-server names them.
pub(crate) const STREAM_CREATE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_create_response";
pub(crate) const STREAM_UPDATE_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_update_response";
pub(crate) const STREAM_INFO_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_info_response";
pub(crate) const CONSUMER_CREATE_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_create_response";
pub(crate) const CONSUMER_INFO_RESPONSE: &str = "io.nats.jetstream.api.v1.consumer_info_response";
pub(crate) const MSG_GET_RESPONSE: &str = "io.nats.jetstream.api.v1.stream_msg_get_response";

/// nats-server's default duplicate window when a stream asks for none.
pub(crate) const DEFAULT_DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// nats-server's default `ack_wait` (30 s) and `max_ack_pending` (1000 in 2.9).
pub(crate) const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);
pub(crate) const DEFAULT_MAX_ACK_PENDING: i64 = 1000;

fn unlimited() -> i64 {
    -1
}

fn file() -> StreamStorage {
    StreamStorage::File
}

/// A stream's configuration, the fields the bus models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StreamConfigJson {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) subjects: Vec<String>,
    #[serde(default = "file")]
    pub(crate) storage: StreamStorage,
    /// Nanoseconds; 0 asks for the default.
    #[serde(default)]
    pub(crate) duplicate_window: u64,
    /// Nanoseconds; 0 keeps messages forever.
    #[serde(default)]
    pub(crate) max_age: u64,
    #[serde(default = "unlimited")]
    pub(crate) max_bytes: i64,
    #[serde(default = "unlimited")]
    pub(crate) max_msgs: i64,
}

impl From<&StreamConfig> for StreamConfigJson {
    fn from(config: &StreamConfig) -> StreamConfigJson {
        let limit = |n: Option<u64>| n.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        StreamConfigJson {
            name: config.name.clone(),
            subjects: config.subjects.clone(),
            storage: config.storage,
            duplicate_window: nanos(config.duplicate_window),
            max_age: nanos(config.max_age),
            max_bytes: limit(config.max_bytes),
            max_msgs: limit(config.max_messages),
        }
    }
}

/// A stream's extent, as in a stream info response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StreamStateJson {
    pub(crate) messages: u64,
    pub(crate) bytes: u64,
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    #[serde(default)]
    pub(crate) consumer_count: u64,
}

impl From<StreamStateJson> for StreamState {
    fn from(state: StreamStateJson) -> StreamState {
        StreamState { first_seq: state.first_seq, last_seq: state.last_seq, messages: state.messages }
    }
}

/// The answer to STREAM.CREATE / UPDATE / INFO.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StreamInfoJson {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    pub(crate) config: StreamConfigJson,
    pub(crate) state: StreamStateJson,
}

/// A consumer's configuration, the fields the bus models.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConsumerConfigJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) durable_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default = "deliver_all")]
    pub(crate) deliver_policy: String,
    #[serde(default = "ack_explicit")]
    pub(crate) ack_policy: String,
    /// Nanoseconds; 0 asks for the default.
    #[serde(default)]
    pub(crate) ack_wait: u64,
    #[serde(default = "unlimited")]
    pub(crate) max_deliver: i64,
    /// 0 asks for the default; -1 is unlimited.
    #[serde(default)]
    pub(crate) max_ack_pending: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) filter_subject: Option<String>,
}

fn deliver_all() -> String {
    "all".into()
}

fn ack_explicit() -> String {
    "explicit".into()
}

impl From<&ConsumerConfig> for ConsumerConfigJson {
    fn from(config: &ConsumerConfig) -> ConsumerConfigJson {
        ConsumerConfigJson {
            durable_name: Some(config.durable_name.clone()),
            name: None,
            deliver_policy: deliver_all(),
            ack_policy: ack_explicit(),
            ack_wait: nanos(config.ack_wait),
            max_deliver: -1,
            max_ack_pending: config.max_ack_pending,
            filter_subject: None,
        }
    }
}

/// The body of CONSUMER.CREATE / DURABLE.CREATE.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CreateConsumerJson {
    pub(crate) stream_name: String,
    pub(crate) config: ConsumerConfigJson,
}

/// A (consumer seq, stream seq) pair, as in `delivered` and `ack_floor`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SequencePairJson {
    pub(crate) consumer_seq: u64,
    pub(crate) stream_seq: u64,
}

/// The answer to CONSUMER.CREATE / INFO.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConsumerInfoJson {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    pub(crate) stream_name: String,
    pub(crate) name: String,
    pub(crate) config: ConsumerConfigJson,
    pub(crate) delivered: SequencePairJson,
    pub(crate) ack_floor: SequencePairJson,
    pub(crate) num_ack_pending: u64,
    pub(crate) num_redelivered: u64,
    pub(crate) num_waiting: u64,
    pub(crate) num_pending: u64,
}

/// The body of CONSUMER.MSG.NEXT (a pull request).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PullRequestJson {
    #[serde(default)]
    pub(crate) batch: u64,
    /// Nanoseconds; 0 waits until the batch is full.
    #[serde(default)]
    pub(crate) expires: u64,
    #[serde(default)]
    pub(crate) no_wait: bool,
}

/// The answer to a captured publish with a reply subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PubAckJson {
    pub(crate) stream: String,
    pub(crate) seq: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) duplicate: bool,
}

/// What an API error carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ApiErrorJson {
    pub(crate) code: u16,
    #[serde(default)]
    pub(crate) err_code: u32,
    #[serde(default)]
    pub(crate) description: String,
}

impl ApiErrorJson {
    pub(crate) fn new(code: u16, err_code: u32, description: impl Into<String>) -> ApiErrorJson {
        ApiErrorJson { code, err_code, description: description.into() }
    }

    pub(crate) fn stream_not_found() -> ApiErrorJson {
        ApiErrorJson::new(404, 10059, "stream not found")
    }

    pub(crate) fn consumer_not_found() -> ApiErrorJson {
        ApiErrorJson::new(404, 10014, "consumer not found")
    }

    pub(crate) fn invalid_json(why: impl std::fmt::Display) -> ApiErrorJson {
        ApiErrorJson::new(400, 10025, format!("invalid JSON: {why}"))
    }

    /// The response body `{"type":..,"error":{..}}`.
    pub(crate) fn to_body(&self, kind: &str) -> Vec<u8> {
        serde_json::json!({ "type": kind, "error": self }).to_string().into_bytes()
    }
}

/// The whole-nanosecond count of `duration`, saturating.
pub(crate) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_stream_request_gets_nats_defaults() {
        let config: StreamConfigJson = serde_json::from_str(r#"{"name":"S","subjects":["a.>"]}"#).unwrap();
        assert_eq!((config.storage, config.max_msgs, config.max_bytes), (StreamStorage::File, -1, -1));
    }

    #[test]
    fn a_pub_ack_says_duplicate_only_when_it_is() {
        let fresh = PubAckJson { stream: "S".into(), seq: 3, duplicate: false };
        assert_eq!(serde_json::to_string(&fresh).unwrap(), r#"{"stream":"S","seq":3}"#);
        let dup = PubAckJson { duplicate: true, ..fresh };
        assert_eq!(serde_json::to_string(&dup).unwrap(), r#"{"stream":"S","seq":3,"duplicate":true}"#);
    }

    #[test]
    fn errors_have_the_nats_shape() {
        let body = ApiErrorJson::stream_not_found().to_body(STREAM_INFO_RESPONSE);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["error"]["code"], 404);
        assert_eq!(value["error"]["err_code"], 10059);
        assert_eq!(value["error"]["description"], "stream not found");
    }
}
