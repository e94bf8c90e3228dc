//! Engine.IO 4 and socket.io 5 text packets, as one websocket text frame each.
//!
//! # Format
//!
//! An Engine.IO packet is a type digit and its data: `0` open, `1` close,
//! `2` ping, `3` pong, `4` message, `5` upgrade, `6` noop. A message (`4`)
//! carries a socket.io packet: a type digit (`0` connect, `1` disconnect,
//! `2` event, `3` ack, `4` connect error), an optional namespace ending in
//! `,` (left out for `/`), an optional ack id, then JSON. So an event on the
//! default namespace is `42["name",data]` and one that wants an ack `421["name",data]`.

use serde::Serialize;
use serde_json::Value;

/// What a client sent, parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ClientPacket {
    /// `3`: the answer to the server's ping.
    Pong,
    /// `2`: a ping from the client (EIO3 style); an EIO4 server ignores it.
    Ping,
    /// `1`: the client closes the engine connection.
    Close,
    /// `6`: noop.
    Noop,
    /// `40[nsp,][auth]`: connect a namespace.
    Connect { namespace: String },
    /// `41[nsp,]`: disconnect a namespace.
    Disconnect { namespace: String },
    /// `42[nsp,][ack]["name", args...]`: an event; only the first argument
    /// is kept, the only one CyTube reads.
    Event { namespace: String, name: String, data: Value, ack: Option<u64> },
    /// A packet the server cannot parse: engine.io closes the connection.
    Invalid(String),
    /// Well formed but of no interest (acks, binary events, upgrade probes).
    Ignored,
}

impl ClientPacket {
    /// Parses one text frame.
    pub(crate) fn parse(text: &str) -> ClientPacket {
        let mut chars = text.chars();
        match chars.next() {
            Some('1') => ClientPacket::Close,
            Some('2') => ClientPacket::Ping,
            Some('3') => ClientPacket::Pong,
            Some('5') => ClientPacket::Ignored,
            Some('6') => ClientPacket::Noop,
            Some('4') => parse_socket_io(chars.as_str()),
            _ => ClientPacket::Invalid(format!("unknown engine.io packet {text:?}")),
        }
    }
}

/// Parses a socket.io packet (what follows the engine's `4`).
fn parse_socket_io(packet: &str) -> ClientPacket {
    let Some(kind) = packet.chars().next() else {
        return ClientPacket::Invalid("empty socket.io packet".into());
    };
    let mut rest = &packet[1..];
    let mut namespace = String::from("/");
    if rest.starts_with('/') {
        let end = rest.find(',').unwrap_or(rest.len());
        namespace = rest[..end].to_string();
        rest = rest.get(end + 1..).unwrap_or("");
    }
    match kind {
        '0' => ClientPacket::Connect { namespace },
        '1' => ClientPacket::Disconnect { namespace },
        '2' => {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            let ack = rest[..digits].parse().ok();
            match serde_json::from_str::<Value>(&rest[digits..]) {
                Ok(Value::Array(mut args)) if matches!(args.first(), Some(Value::String(_))) => {
                    let data = if args.len() > 1 { args.swap_remove(1) } else { Value::Null };
                    let Value::String(name) = args.swap_remove(0) else { unreachable!("checked above") };
                    ClientPacket::Event { namespace, name, data, ack }
                }
                _ => ClientPacket::Invalid(format!("malformed event {packet:?}")),
            }
        }
        '3' | '5' | '6' => ClientPacket::Ignored,
        _ => ClientPacket::Invalid(format!("unknown socket.io packet {packet:?}")),
    }
}

/// The Engine.IO open packet: the first frame on a websocket.
pub(crate) fn open(sid: &str, ping_interval_ms: u128, ping_timeout_ms: u128, max_payload: usize) -> String {
    let sid = serde_json::to_string(sid).expect("a string serializes");
    format!(
        "0{{\"sid\":{sid},\"upgrades\":[],\"pingInterval\":{ping_interval_ms},\"pingTimeout\":{ping_timeout_ms},\"maxPayload\":{max_payload}}}"
    )
}

/// The server's ping.
pub(crate) const PING: &str = "2";

/// The answer to a namespace connect: `40{"sid":...}`.
pub(crate) fn connected(sid: &str) -> String {
    format!("40{{\"sid\":{}}}", serde_json::to_string(sid).expect("a string serializes"))
}

/// A refused namespace connect: `44{"message":...}` (`44/nsp,{...}` elsewhere).
pub(crate) fn connect_error(namespace: &str, message: &str) -> String {
    let body = serde_json::json!({ "message": message });
    if namespace == "/" {
        format!("44{body}")
    } else {
        format!("44{namespace},{body}")
    }
}

/// The server disconnecting the namespace: `41`.
pub(crate) const DISCONNECT: &str = "41";

/// An event on the default namespace: `42["name",data]`.
pub(crate) fn event(name: &str, data: &impl Serialize) -> String {
    let name = serde_json::to_string(name).expect("a string serializes");
    let data = serde_json::to_string(data).expect("payloads serialize");
    format!("42[{name},{data}]")
}

/// An event whose data is JSON text already: `42["name",<json>]`.
pub(crate) fn event_json(name: &str, json: &str) -> String {
    let name = serde_json::to_string(name).expect("a string serializes");
    format!("42[{name},{json}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_parse_with_and_without_ack_ids() {
        let parsed = ClientPacket::parse(r#"42["chatMsg",{"msg":"hi"}]"#);
        let expected = ClientPacket::Event {
            namespace: "/".into(),
            name: "chatMsg".into(),
            data: serde_json::json!({"msg": "hi"}),
            ack: None,
        };
        assert_eq!(parsed, expected);
        let acked = ClientPacket::parse(r#"4217["login",{"name":"x"}]"#);
        assert!(matches!(acked, ClientPacket::Event { ack: Some(17), .. }));
        let bare = ClientPacket::parse(r#"42["playerReady"]"#);
        assert!(matches!(bare, ClientPacket::Event { data: Value::Null, .. }));
    }

    #[test]
    fn namespaces_and_engine_packets_parse() {
        assert_eq!(ClientPacket::parse("40"), ClientPacket::Connect { namespace: "/".into() });
        assert_eq!(ClientPacket::parse(r#"40{"token":"x"}"#), ClientPacket::Connect { namespace: "/".into() });
        assert_eq!(ClientPacket::parse("40/admin,"), ClientPacket::Connect { namespace: "/admin".into() });
        assert_eq!(ClientPacket::parse("41"), ClientPacket::Disconnect { namespace: "/".into() });
        assert_eq!(ClientPacket::parse("3"), ClientPacket::Pong);
        assert_eq!(ClientPacket::parse("1"), ClientPacket::Close);
        assert!(matches!(ClientPacket::parse("42nope"), ClientPacket::Invalid(_)));
        assert!(matches!(ClientPacket::parse("x"), ClientPacket::Invalid(_)));
    }

    #[test]
    fn server_frames_match_the_real_servers_bytes() {
        assert_eq!(
            open("abc", 25_000, 120_000, 1_048_576),
            r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":120000,"maxPayload":1048576}"#
        );
        assert_eq!(connected("s1"), r#"40{"sid":"s1"}"#);
        assert_eq!(connect_error("/", "Rate limit exceeded"), r#"44{"message":"Rate limit exceeded"}"#);
        assert_eq!(event("rank", &-1), r#"42["rank",-1]"#);
    }
}
