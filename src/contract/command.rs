//! `Command`: any message the bot sends the db-service, typed.

use serde::Deserialize;

use super::payload::*;
use super::subject::Subject;

/// Any message on a db-service subject, decoded. Events are fire-and-forget;
/// the variants wrapping a [`Request`] expect a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    UserJoined(UserEvent),
    UserLeft(UserEvent),
    MessageLog(MessageLog),
    UserCount(StatsUserCount),
    HighWater(StatsHighWater),
    Status(StatusUpdate),
    MarkSent(MarkSent),
    MarkFailed(MarkFailed),
    Request(Request),
}

/// The request/reply subset of [`Command`].
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    OutboundGet(OutboundGet),
    Enqueue(EnqueueRequest),
    RecentChat(RecentChatGet),
}

/// Why a payload could not be decoded; names the subject and the reason so a
/// counted skip in the service log says what to fix in the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The subject the payload arrived on.
    pub subject: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad payload on {}: {}", self.subject, self.reason)
    }
}

impl std::error::Error for DecodeError {}

impl Command {
    /// The subject this command travels on.
    pub fn subject(&self) -> Subject {
        match self {
            Command::UserJoined(_) => Subject::UserJoined,
            Command::UserLeft(_) => Subject::UserLeft,
            Command::MessageLog(_) => Subject::MessageLog,
            Command::UserCount(_) => Subject::StatsUserCount,
            Command::HighWater(_) => Subject::StatsHighWater,
            Command::Status(_) => Subject::StatusUpdate,
            Command::MarkSent(_) => Subject::OutboundMarkSent,
            Command::MarkFailed(_) => Subject::OutboundMarkFailed,
            Command::Request(Request::OutboundGet(_)) => Subject::OutboundGet,
            Command::Request(Request::Enqueue(_)) => Subject::OutboundEnqueue,
            Command::Request(Request::RecentChat(_)) => Subject::RecentChatGet,
        }
    }

    /// When the bot observed or decided this (Unix ms), if it said.
    pub fn at_ms(&self) -> Option<i64> {
        match self {
            Command::UserJoined(p) | Command::UserLeft(p) => p.at_ms,
            Command::MessageLog(p) => p.at_ms,
            Command::UserCount(p) => p.at_ms,
            Command::HighWater(p) => p.at_ms,
            Command::Status(p) => p.at_ms,
            Command::MarkSent(p) => p.at_ms,
            Command::MarkFailed(p) => p.at_ms,
            Command::Request(Request::OutboundGet(p)) => p.at_ms,
            Command::Request(Request::Enqueue(p)) => p.at_ms,
            Command::Request(Request::RecentChat(p)) => p.at_ms,
        }
    }

    /// The JSON payload, as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let value = match self {
            Command::UserJoined(p) | Command::UserLeft(p) => serde_json::to_vec(p),
            Command::MessageLog(p) => serde_json::to_vec(p),
            Command::UserCount(p) => serde_json::to_vec(p),
            Command::HighWater(p) => serde_json::to_vec(p),
            Command::Status(p) => serde_json::to_vec(p),
            Command::MarkSent(p) => serde_json::to_vec(p),
            Command::MarkFailed(p) => serde_json::to_vec(p),
            Command::Request(Request::OutboundGet(p)) => serde_json::to_vec(p),
            Command::Request(Request::Enqueue(p)) => serde_json::to_vec(p),
            Command::Request(Request::RecentChat(p)) => serde_json::to_vec(p),
        };
        // Serializing these plain structs (strings, integers, a JSON map) cannot fail.
        value.expect("payload structs always serialize")
    }

    /// Decodes a payload received on `subject`.
    ///
    /// # Errors
    ///
    /// A subject that is not a db-service subject, a payload that is not a JSON
    /// object, or a used field that is missing or of the wrong type.
    pub fn decode(subject: &str, payload: &[u8]) -> Result<Command, DecodeError> {
        let err = |reason: String| DecodeError { subject: subject.to_string(), reason };
        let known = Subject::parse(subject).ok_or_else(|| err("unknown subject".into()))?;
        if known == Subject::MessageLog {
            if let Some(log) = message_log_in_one_pass(payload) {
                return Ok(Command::MessageLog(log));
            }
        }
        decode_in_two_passes(known, payload).map_err(err)
    }
}

/// `rosey.db.message.log` exactly as this bot and v0.5.0's send it: these fields and no
/// others, each at most once. What this accepts, the two-pass decode accepts with the same
/// result; everything else goes there.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainMessageLog {
    username: String,
    message: String,
    #[serde(default)]
    at_ms: Option<i64>,
}

/// Decodes the chat line, the hot subject, straight into its struct (no
/// `serde_json::Value` in between), or `None` when the payload needs the two-pass decode
/// to be read (or refused) exactly as before.
///
/// Why only the plain shape: skipping an unknown field checks less than parsing it into a
/// `Value` does (UTF-8 and range of ignored values, nesting depth), and a struct also
/// accepts a JSON array or repeated keys, which the two-pass decode refuses or reads as
/// last-wins. So anything but one object of known, distinct fields falls back, and every
/// error message is the two-pass decode's own.
fn message_log_in_one_pass(payload: &[u8]) -> Option<MessageLog> {
    let opens_an_object = payload.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'{');
    if !opens_an_object {
        return None;
    }
    let plain: PlainMessageLog = serde_json::from_slice(payload).ok()?;
    Some(MessageLog { username: plain.username, message: plain.message, at_ms: plain.at_ms })
}

/// The general decode: the payload as a `serde_json::Value` (so syntax errors and
/// non-objects are named as such), then the subject's struct from it.
fn decode_in_two_passes(known: Subject, payload: &[u8]) -> Result<Command, String> {
    let value: serde_json::Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!("expected a JSON object, got {}", kind_of(&value)));
    }
    fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, serde_json::Error> {
        serde_json::from_value(value)
    }
    let command = match known {
        Subject::UserJoined => parse(value).map(Command::UserJoined),
        Subject::UserLeft => parse(value).map(Command::UserLeft),
        Subject::MessageLog => parse(value).map(Command::MessageLog),
        Subject::StatsUserCount => parse(value).map(Command::UserCount),
        Subject::StatsHighWater => parse(value).map(Command::HighWater),
        Subject::StatusUpdate => parse(value).map(Command::Status),
        Subject::OutboundMarkSent => parse(value).map(Command::MarkSent),
        Subject::OutboundMarkFailed => parse(value).map(Command::MarkFailed),
        Subject::OutboundGet => parse(value).map(|r| Command::Request(Request::OutboundGet(r))),
        Subject::OutboundEnqueue => parse(value).map(|r| Command::Request(Request::Enqueue(r))),
        Subject::RecentChatGet => parse(value).map(|r| Command::Request(Request::RecentChat(r))),
    };
    command.map_err(|e| e.to_string())
}

/// A short name for a JSON value's type, for error messages.
pub(crate) fn kind_of(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(subject: Subject, value: serde_json::Value) -> Result<Command, DecodeError> {
        Command::decode(subject.as_str(), value.to_string().as_bytes())
    }

    /// The payloads a v0.5.0 bot sends (no `at_ms`, real field names) decode.
    #[test]
    fn v05_payload_shapes_decode() {
        let cases = [
            (Subject::UserJoined, json!({"username": "alice"})),
            (Subject::UserLeft, json!({"username": "alice"})),
            (Subject::MessageLog, json!({"username": "alice", "message": "hi"})),
            (Subject::StatsUserCount, json!({"chat_count": 3, "connected_count": 9})),
            (Subject::StatsHighWater, json!({"chat_count": 3, "connected_count": null})),
            (Subject::StatusUpdate, json!({"status_data": {"bot_name": "Rosey", "bot_afk": 0}})),
            (Subject::OutboundMarkSent, json!({"message_id": 7})),
            (Subject::OutboundGet, json!({"limit": 20, "max_retries": 3})),
            (Subject::RecentChatGet, json!({"limit": 10})),
        ];
        for (subject, payload) in cases {
            let command = decode(subject, payload.clone()).unwrap_or_else(|e| panic!("{subject} {payload}: {e}"));
            assert_eq!(command.subject(), subject);
            assert_eq!(command.at_ms(), None);
        }
    }

    #[test]
    fn missing_counts_and_limits_take_v05_defaults() {
        let Ok(Command::UserCount(count)) = decode(Subject::StatsUserCount, json!({})) else {
            panic!("user_count with no fields must decode");
        };
        assert_eq!((count.chat_count, count.connected_count), (0, 0));
        let Ok(Command::Request(Request::OutboundGet(get))) = decode(Subject::OutboundGet, json!({})) else {
            panic!("outbound.get with no fields must decode");
        };
        assert_eq!((get.limit, get.max_retries), (50, 3));
        let Ok(Command::MarkFailed(failed)) = decode(Subject::OutboundMarkFailed, json!({"message_id": 1})) else {
            panic!("mark_failed with only an id must decode");
        };
        assert_eq!((failed.error.as_str(), failed.permanent), ("", false));
    }

    #[test]
    fn unknown_fields_are_tolerated() {
        let command = decode(Subject::UserJoined, json!({"username": "bob", "timestamp": 1731000000, "extra": [1, 2]}));
        assert!(matches!(command, Ok(Command::UserJoined(UserEvent { ref username, .. })) if username == "bob"));
    }

    /// What this bot sends reads the way v0.5.0 reads it: the same field names,
    /// and `at_ms` only as an extra field.
    #[test]
    fn what_we_send_uses_v05_field_names() {
        let sent =
            Command::HighWater(StatsHighWater { chat_count: 4, connected_count: None, at_ms: Some(1_731_000_000_500) });
        let value: serde_json::Value = serde_json::from_slice(&sent.encode()).unwrap();
        assert_eq!(value, json!({"chat_count": 4, "connected_count": null, "at_ms": 1_731_000_000_500_i64}));
        let mark = Command::MarkSent(MarkSent { message_id: 3, at_ms: None });
        assert_eq!(mark.encode(), br#"{"message_id":3}"#);
        let status = Command::Status(StatusUpdate {
            status_data: json!({"bot_name": "Rosey"}).as_object().unwrap().clone(),
            at_ms: Some(5),
        });
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&status.encode()).unwrap(),
            json!({"status_data": {"bot_name": "Rosey"}, "at_ms": 5})
        );
    }

    #[test]
    fn malformed_payloads_name_subject_and_reason() {
        let cases = [
            (Subject::UserJoined.as_str(), "{}".to_string(), "missing field `username`"),
            (Subject::UserJoined.as_str(), r#"{"username": 5}"#.into(), "invalid type"),
            (Subject::MessageLog.as_str(), "[1]".into(), "expected a JSON object"),
            (Subject::OutboundMarkSent.as_str(), r#"{"message_id": "x"}"#.into(), "invalid type"),
            (Subject::UserLeft.as_str(), "not json".into(), "not JSON"),
            ("rosey.db.nope", "{}".into(), "unknown subject"),
            (Subject::UserJoined.as_str(), r#"{"username": "a", "at_ms": "soon"}"#.into(), "invalid type"),
            (Subject::MessageLog.as_str(), r#"{"username": "a", "message": "m", "at_ms": 1.5}"#.into(), "invalid type"),
        ];
        for (subject, payload, reason) in cases {
            let err = Command::decode(subject, payload.as_bytes()).unwrap_err();
            assert_eq!(err.subject, subject);
            assert!(err.reason.contains(reason), "{subject} {payload}: {err}");
        }
    }

    /// The one-pass chat decode reads every payload as the two-pass decode does: the same
    /// command, or the same error, for shapes at the edge of what it takes.
    #[test]
    fn chat_line_decodes_as_the_two_pass_decode_does() {
        let payloads: [&[u8]; 16] = [
            br#"{"username": "a", "message": "m"}"#,
            br#"  {"message": "m", "username": "a", "at_ms": 1731000000123}"#,
            br#"{"username": "a", "message": "m", "at_ms": null}"#,
            br#"{"username": "a", "message": "m", "extra": {"deep": [1, 2]}}"#,
            br#"{"username": "a", "message": "m", "extra": 1e400}"#,
            br#"{"username": "a", "message": "m", "extra": "\ud800"}"#,
            br#"{"username": "a", "username": "b", "message": "m"}"#,
            br#"{"usern\u0061me": "\u00e9t\u00e9", "message": "tab\tline"}"#,
            br#"["a", "m"]"#,
            br#"{"username": "a", "message": "m"} trailing"#,
            br#"{"username": 5, "message": "#,
            br#"{"username": "a"}"#,
            br#"{"username": "a", "message": "m", "at_ms": 1.5}"#,
            br#"{"username": "a", "message": "m", "at_ms": 18446744073709551615}"#,
            b"{\"username\": \"a\", \"message\": \"m\", \"x\": \"\xff\"}",
            b"",
        ];
        for payload in payloads {
            let once = Command::decode(Subject::MessageLog.as_str(), payload).map_err(|e| e.reason);
            let twice = decode_in_two_passes(Subject::MessageLog, payload);
            assert_eq!(once, twice, "{}", String::from_utf8_lossy(payload));
        }
    }

    #[test]
    fn every_command_round_trips() {
        let commands = [
            Command::UserJoined(UserEvent { username: "a".into(), at_ms: Some(1) }),
            Command::MessageLog(MessageLog { username: "a".into(), message: "m".into(), at_ms: None }),
            Command::MarkFailed(MarkFailed { message_id: 2, error: "muted".into(), permanent: true, at_ms: Some(9) }),
            Command::Request(Request::Enqueue(EnqueueRequest {
                message: "hi".into(),
                at_ms: Some(3),
                request_id: None,
            })),
            Command::Request(Request::RecentChat(RecentChatGet { limit: 4, at_ms: None })),
        ];
        for command in commands {
            let decoded = Command::decode(command.subject().as_str(), &command.encode()).unwrap();
            assert_eq!(decoded, command);
        }
    }
}
