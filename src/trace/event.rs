//! What a trace line says: one [`TraceEvent`] variant per kind of record.
//!
//! Producers build these values and readers (the simulator's invariants, a
//! trace viewer) match on them; the JSON line is only their serialized form.
//! A line is `{"t": virtual ms, "host": ..., "kind": ..., fields...}` with the
//! keys in alphabetical order, exactly as the README's trace table documents.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::Subject;

/// One thing that happened on one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TraceEvent {
    /// The bot handled a chat event (`line`: its fixture line, 0 for a burst).
    Event { line: usize, event: String },
    /// A bad fixture line, placed at the last good event's time.
    Skip { line: usize, reason: String },
    /// A command as the bot sent it (its wire payload).
    Send { subject: Subject, payload: Value },
    /// An outbound poll's rows, by id.
    PollReply { ids: Vec<i64> },
    /// An outbound poll that timed out, found no responders or got a bad reply.
    PollFailed { error: String },
    /// A poll not sent because the previous one is still in flight.
    PollSkipped { reason: String },
    /// The bot tried to say `text` in chat.
    Say { text: String, outcome: String },
    /// An enqueue's reply: its id, or the reply itself when it carried none.
    Reply {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply: Option<String>,
    },
    /// A send or request that failed on the link.
    LinkError { error: String },
    /// A command the simulator's `drop` fault ate.
    FaultDrop { subject: Subject },
    /// A db-service applied a command; `now` is the Unix second its rows got.
    Apply { subject: Subject, now: i64 },
    /// A db-service skipped a malformed payload (`subject` as received).
    Malformed { subject: String, reason: String },
    /// The store rejected a command (rolled back alone).
    StoreError { subject: Subject, error: String },
    /// A db-service skipped a JetStream redelivery it had already applied.
    Redelivered { subject: String, seq: u64 },
    /// The replay ended; `listed` users get their `user.left`.
    Shutdown { listed: usize },
    /// The simulated db-services drained after the replay (or did not).
    Settled { services_done: bool },
}

impl TraceEvent {
    /// The `kind` field of the line.
    pub fn kind(&self) -> &'static str {
        match self {
            TraceEvent::Event { .. } => "event",
            TraceEvent::Skip { .. } => "skip",
            TraceEvent::Send { .. } => "send",
            TraceEvent::PollReply { .. } => "poll_reply",
            TraceEvent::PollFailed { .. } => "poll_failed",
            TraceEvent::PollSkipped { .. } => "poll_skipped",
            TraceEvent::Say { .. } => "say",
            TraceEvent::Reply { .. } => "reply",
            TraceEvent::LinkError { .. } => "link_error",
            TraceEvent::FaultDrop { .. } => "fault_drop",
            TraceEvent::Apply { .. } => "apply",
            TraceEvent::Malformed { .. } => "malformed",
            TraceEvent::StoreError { .. } => "store_error",
            TraceEvent::Redelivered { .. } => "redelivered",
            TraceEvent::Shutdown { .. } => "shutdown",
            TraceEvent::Settled { .. } => "settled",
        }
    }
}

/// A [`TraceEvent`] with its virtual time and host: one line of the trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Virtual ms since the run's start.
    pub t: i64,
    pub host: String,
    #[serde(flatten)]
    pub event: TraceEvent,
}

impl TraceRecord {
    /// The JSON line (keys sorted, no trailing newline).
    pub fn to_line(&self) -> String {
        // Through `Value`, whose object keys are sorted: the line's layout is
        // then independent of field declaration order.
        serde_json::to_value(self).map(|value| value.to_string()).unwrap_or_default()
    }

    /// Parses one line of a trace file.
    ///
    /// # Errors
    ///
    /// When the line is not JSON or not a known kind with its fields.
    pub fn parse(line: &str) -> Result<TraceRecord, serde_json::Error> {
        serde_json::from_str(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_sorted_keys_and_parse_back() {
        let record = TraceRecord {
            t: 7,
            host: "db".into(),
            event: TraceEvent::Apply { subject: Subject::MessageLog, now: 1_731_000_000 },
        };
        let line = record.to_line();
        assert_eq!(line, r#"{"host":"db","kind":"apply","now":1731000000,"subject":"rosey.db.message.log","t":7}"#);
        assert_eq!(TraceRecord::parse(&line).unwrap(), record);
        let reply = TraceRecord { t: 1, host: "bot".into(), event: TraceEvent::Reply { id: Some(3), reply: None } };
        assert_eq!(reply.to_line(), r#"{"host":"bot","id":3,"kind":"reply","t":1}"#);
        assert_eq!(TraceRecord::parse(&reply.to_line()).unwrap(), reply);
        assert!(TraceRecord::parse(r#"{"t":1,"host":"bot","kind":"nonsense"}"#).is_err());
    }
}
