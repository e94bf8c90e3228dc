//! Engine.IO 4 / socket.io 5 framing over websocket text frames, written by hand.
//!
//! One websocket text frame is one Engine.IO packet: a type digit and a payload. The
//! `4` (message) type carries a socket.io packet: a second digit, then (for events) a JSON
//! array. The client needs only the default namespace and text events: the packets below.
//! Binary attachments (`45`, `46`), acks (`43`) and other namespaces are decoded as
//! [`Packet::Other`] and ignored; CyTube uses none of them.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

/// One decoded packet.
#[derive(Debug, Clone, PartialEq)]
pub enum Packet {
    /// `0{...}`: the engine's open packet, the first frame on a websocket.
    Open(OpenInfo),
    /// `1`: the engine closes.
    Close,
    /// `2`: the server's ping; answer [`PONG`] within pingTimeout.
    Ping,
    /// `3`: a pong (a server never sends one in EIO4; decoded for symmetry).
    Pong,
    /// `6`: a no-op (polling upgrade leftovers).
    Noop,
    /// `40{"sid"}`: the namespace connect is accepted.
    Connect { sid: Option<String> },
    /// `41`: the server disconnected this socket from the namespace.
    Disconnect,
    /// `42["event", data]` (or `42<ack id>[...]`): an event with its first argument
    /// (`null` when there is none; CyTube never sends more than one).
    Event { name: String, data: Value },
    /// `44{"message"}`: the namespace connect was refused (a middleware's error).
    ConnectError { message: String },
    /// Anything else, kept as received for logs.
    Other(String),
}

/// The open packet's fields the client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenInfo {
    pub sid: String,
    /// How often the server pings (CyTube: 25 s).
    pub ping_interval: Duration,
    /// How long the server waits for the pong (CyTube: 120 s).
    pub ping_timeout: Duration,
    /// The largest packet the server accepts (CyTube: 1 MiB).
    pub max_payload: u64,
}

impl OpenInfo {
    /// How long without a ping before the connection counts as dead: pingInterval +
    /// pingTimeout, as the reference socket.io client reckons it.
    pub fn liveness(&self) -> Duration {
        self.ping_interval + self.ping_timeout
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpenJson {
    sid: String,
    ping_interval: u64,
    ping_timeout: u64,
    #[serde(default)]
    max_payload: u64,
}

/// The namespace connect for the default namespace.
pub const CONNECT: &str = "40";
/// The answer to a ping.
pub const PONG: &str = "3";
/// A namespace disconnect, sent by a client that leaves cleanly.
pub const DISCONNECT: &str = "41";

/// `42["name",data]`.
pub fn encode_event(name: &str, data: &Value) -> String {
    let array = serde_json::to_string(&(name, data)).expect("a string and a Value always serialize");
    format!("42{array}")
}

/// Decodes one text frame.
///
/// # Errors
///
/// A frame that is empty, has an unknown engine type, or carries JSON that does not fit
/// its packet type.
pub fn decode(frame: &str) -> Result<Packet, String> {
    let mut chars = frame.chars();
    let kind = chars.next().ok_or("an empty frame")?;
    let rest = chars.as_str();
    match kind {
        '0' => {
            let open: OpenJson =
                serde_json::from_str(rest).map_err(|err| format!("a bad open packet `{}`: {err}", clip(frame)))?;
            Ok(Packet::Open(OpenInfo {
                sid: open.sid,
                ping_interval: Duration::from_millis(open.ping_interval),
                ping_timeout: Duration::from_millis(open.ping_timeout),
                max_payload: open.max_payload,
            }))
        }
        '1' => Ok(Packet::Close),
        '2' => Ok(Packet::Ping),
        '3' => Ok(Packet::Pong),
        '4' => decode_socketio(rest, frame),
        '5' | '6' => Ok(Packet::Noop),
        _ => Err(format!("unknown Engine.IO packet type in `{}`", clip(frame))),
    }
}

/// Decodes the socket.io packet inside an engine message.
fn decode_socketio(packet: &str, frame: &str) -> Result<Packet, String> {
    let mut chars = packet.chars();
    let kind = chars.next().ok_or("an empty socket.io packet")?;
    let rest = chars.as_str();
    if rest.starts_with('/') {
        return Ok(Packet::Other(frame.to_string()));
    }
    match kind {
        '0' => {
            let sid = if rest.is_empty() {
                None
            } else {
                let body: Value =
                    serde_json::from_str(rest).map_err(|err| format!("a bad connect `{}`: {err}", clip(frame)))?;
                body.get("sid").and_then(Value::as_str).map(str::to_string)
            };
            Ok(Packet::Connect { sid })
        }
        '1' => Ok(Packet::Disconnect),
        '2' => {
            let json = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            let args: Vec<Value> =
                serde_json::from_str(json).map_err(|err| format!("a bad event `{}`: {err}", clip(frame)))?;
            let mut args = args.into_iter();
            let name = match args.next() {
                Some(Value::String(name)) => name,
                _ => return Err(format!("an event without a name `{}`", clip(frame))),
            };
            Ok(Packet::Event { name, data: args.next().unwrap_or(Value::Null) })
        }
        '4' => {
            let body: Value =
                serde_json::from_str(rest).map_err(|err| format!("a bad connect error `{}`: {err}", clip(frame)))?;
            let message = body.get("message").and_then(Value::as_str).unwrap_or(rest).to_string();
            Ok(Packet::ConnectError { message })
        }
        _ => Ok(Packet::Other(frame.to_string())),
    }
}

/// The first 120 characters of a frame, for error messages.
fn clip(frame: &str) -> String {
    let mut clipped: String = frame.chars().take(120).collect();
    if clipped.len() < frame.len() {
        clipped.push('…');
    }
    clipped
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn open_packet_from_cytube() {
        let frame = r#"0{"sid":"gVNBu5lIqvkx2gQsAAAB","upgrades":[],"pingInterval":25000,"pingTimeout":120000,"maxPayload":1048576}"#;
        let Packet::Open(open) = decode(frame).unwrap() else { panic!("not an open packet") };
        assert_eq!(open.sid, "gVNBu5lIqvkx2gQsAAAB");
        assert_eq!(open.ping_interval, Duration::from_secs(25));
        assert_eq!(open.ping_timeout, Duration::from_secs(120));
        assert_eq!(open.max_payload, 1 << 20);
        assert_eq!(open.liveness(), Duration::from_secs(145));
    }

    #[test]
    fn recorded_frames_decode() {
        assert_eq!(decode("2").unwrap(), Packet::Ping);
        assert_eq!(decode("1").unwrap(), Packet::Close);
        assert_eq!(decode("41").unwrap(), Packet::Disconnect);
        assert_eq!(
            decode(r#"40{"sid":"cRWB8j1ZP3Y8GUpGAAAC"}"#).unwrap(),
            Packet::Connect { sid: Some("cRWB8j1ZP3Y8GUpGAAAC".into()) }
        );
        assert_eq!(decode(r#"42["rank",-1]"#).unwrap(), Packet::Event { name: "rank".into(), data: json!(-1) });
        let chat = r#"42["chatMsg",{"username":"alice","msg":"thanks rosey","meta":{},"time":1796109560671}]"#;
        assert_eq!(
            decode(chat).unwrap(),
            Packet::Event {
                name: "chatMsg".into(),
                data: json!({"username": "alice", "msg": "thanks rosey", "meta": {}, "time": 1796109560671u64}),
            }
        );
        assert_eq!(
            decode(r#"44{"message":"Rate limit exceeded"}"#).unwrap(),
            Packet::ConnectError { message: "Rate limit exceeded".into() }
        );
    }

    #[test]
    fn events_without_data_with_ack_ids_or_in_other_namespaces() {
        assert_eq!(
            decode(r#"42["cancelNeedPassword"]"#).unwrap(),
            Packet::Event { name: "cancelNeedPassword".into(), data: Value::Null }
        );
        assert_eq!(decode(r#"4212["x",1]"#).unwrap(), Packet::Event { name: "x".into(), data: json!(1) });
        assert!(matches!(decode(r#"42/admin,["x",1]"#).unwrap(), Packet::Other(_)));
        assert!(matches!(decode(r#"451-["x",{"_placeholder":true,"num":0}]"#).unwrap(), Packet::Other(_)));
    }

    #[test]
    fn encoded_frames_match_the_recording() {
        assert_eq!(
            encode_event("joinChannel", &json!({"name": "testchan"})),
            r#"42["joinChannel",{"name":"testchan"}]"#
        );
        let data = json!({"msg": "hi \"all\" 👋", "meta": {}});
        let frame = encode_event("chatMsg", &data);
        assert!(frame.starts_with(r#"42["chatMsg",{"#), "{frame}");
        assert_eq!(decode(&frame).unwrap(), Packet::Event { name: "chatMsg".into(), data });
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert!(decode("").is_err());
        assert!(decode("9").unwrap_err().contains("unknown Engine.IO packet type"));
        assert!(decode("42[1,2]").unwrap_err().contains("without a name"));
        assert!(decode("42{").unwrap_err().contains("a bad event"));
        assert!(decode("0{}").unwrap_err().contains("a bad open packet"));
    }
}
