//! Replies to the request subjects.

use super::command::{kind_of, DecodeError};
use super::payload::{EnqueueReply, OutboundRow, RecentChatRow};
use super::subject::Subject;

/// A db-service reply, typed by the request it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `outbound.get`: a JSON array of rows.
    Outbound(Vec<OutboundRow>),
    /// `outbound.enqueue`: `{"id"}` or `{"error"}`.
    Enqueued(EnqueueReply),
    /// `recent_chat.get`: a JSON array of rows, oldest first.
    RecentChat(Vec<RecentChatRow>),
    /// A malformed request or a failed read: `{"error": "..."}`.
    Error(String),
}

impl Reply {
    pub fn encode(&self) -> Vec<u8> {
        let bytes = match self {
            Reply::Outbound(rows) => serde_json::to_vec(rows),
            Reply::Enqueued(reply) => serde_json::to_vec(reply),
            Reply::RecentChat(rows) => serde_json::to_vec(rows),
            Reply::Error(error) => serde_json::to_vec(&serde_json::json!({ "error": error })),
        };
        bytes.expect("reply structs always serialize")
    }

    /// Decodes the reply to a request sent on `subject`.
    ///
    /// # Errors
    ///
    /// Bytes that are neither the expected shape nor an `{"error"}` object.
    pub fn decode(subject: Subject, payload: &[u8]) -> Result<Reply, DecodeError> {
        let err = |reason: String| DecodeError { subject: format!("reply to {subject}"), reason };
        let value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| err(format!("not JSON: {e}")))?;
        if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
            if subject != Subject::OutboundEnqueue {
                return Ok(Reply::Error(error.to_string()));
            }
        }
        let parsed = match subject {
            Subject::OutboundGet => serde_json::from_value(value.clone()).map(Reply::Outbound),
            Subject::OutboundEnqueue => serde_json::from_value(value.clone()).map(Reply::Enqueued),
            Subject::RecentChatGet => serde_json::from_value(value.clone()).map(Reply::RecentChat),
            other => return Err(err(format!("{other} takes no reply"))),
        };
        parsed.map_err(|e| err(format!("{e} (got {})", kind_of(&value))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v05_outbound_reply_decodes() {
        let bytes = br#"[{"id": 1, "timestamp": 1731000000, "message": "hi", "retry_count": 0, "last_error": null}]"#;
        let Ok(Reply::Outbound(rows)) = Reply::decode(Subject::OutboundGet, bytes) else {
            panic!("a v0.5.0 outbound.get reply must decode");
        };
        assert_eq!(rows[0].message, "hi");
        assert_eq!(Reply::decode(Subject::OutboundGet, b"[]"), Ok(Reply::Outbound(vec![])));
    }

    #[test]
    fn error_replies_decode_as_errors() {
        assert_eq!(
            Reply::decode(Subject::OutboundGet, br#"{"error": "bad limit"}"#),
            Ok(Reply::Error("bad limit".into()))
        );
        assert_eq!(
            Reply::decode(Subject::OutboundEnqueue, br#"{"error": "message is empty"}"#),
            Ok(Reply::Enqueued(EnqueueReply { id: None, error: Some("message is empty".into()) }))
        );
        assert!(Reply::decode(Subject::OutboundGet, b"{}").is_err());
    }

    #[test]
    fn replies_round_trip() {
        let reply = Reply::Enqueued(EnqueueReply { id: Some(4), error: None });
        assert_eq!(reply.encode(), br#"{"id":4}"#);
        assert_eq!(Reply::decode(Subject::OutboundEnqueue, &reply.encode()), Ok(reply));
    }
}
