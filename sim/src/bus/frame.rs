//! The bus's wire format: length-prefixed binary frames.
//!
//! Real NATS speaks a text protocol (`PUB subject reply len\r\npayload\r\n`).
//! The simulated bus does not need to interoperate with anything, so it uses
//! a binary framing that is simpler to parse and carries payloads of any
//! bytes; the set of operations mirrors NATS (`CONNECT`, `SUB`, `UNSUB`,
//! `PUB`, `MSG`, `PING`, `PONG`, and `HPUB`/`HMSG` for messages with headers).
//!
//! Headers: of NATS's free-form header block the bus carries the two that
//! JetStream needs, a `Nats-Msg-Id` (publish dedup) and a status code (503
//! no responders, 408 pull request expired, 404/409 pull refused). A frame
//! without either is encoded as the plain `Pub`/`Msg` kind, byte for byte
//! as before headers existed.
//!
//! # Format
//!
//! ```text
//! frame   := len:u32be body            (len = body length, at most MAX_FRAME_LEN)
//! body    := kind:u8 fields
//! str     := len:u16be utf-8 bytes     (an empty string stands for "none")
//! Connect := 1 name:str
//! Sub     := 2 sid:u64be subject:str queue:str
//! Unsub   := 3 sid:u64be
//! Pub     := 4 subject:str reply:str payload:rest-of-body
//! Msg     := 5 sid:u64be flags:u8 subject:str reply:str payload:rest-of-body
//! Ping    := 6 token:u64be
//! Pong    := 7 token:u64be
//! HPub    := 8 subject:str reply:str msg_id:str payload:rest-of-body
//! XPub    := 10 subject:str reply:str msg_id:str expected_last_msg_id:str payload:rest-of-body
//! HMsg    := 9 sid:u64be flags:u8 status:u16be subject:str reply:str msg_id:str payload:rest-of-body
//! ```
//!
//! `Pub`/`Msg` are `HPub`/`HMsg` with no msg id and no status; a status of 0
//! stands for "none". `flags` bit 0 is the no-responders mark (NATS status 503).

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// The largest frame body accepted: the 1 MiB default `max_payload` of
/// nats-server plus room for two maximal subjects. Anything longer is
/// treated as a corrupt stream rather than buffered.
pub const MAX_FRAME_LEN: usize = 1024 * 1024 + 2 * (u16::MAX as usize + 2) + 32;

/// Most bytes of frames handed to one socket write (one turmoil segment), by
/// the bus and the client alike; a larger backlog goes out in pieces.
pub(crate) const WRITE_BATCH: usize = 64 * 1024;

/// `Msg` flag: the bus found no subscriber for a request (the NATS 503 status).
const FLAG_NO_RESPONDERS: u8 = 1;

/// One protocol operation, in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Client -> bus, first: names the connection in the bus's logs.
    Connect { name: String },
    /// Client -> bus: starts delivering `subject` to `sid`.
    Sub { sid: u64, subject: String, queue: Option<String> },
    /// Client -> bus: stops delivering to `sid`.
    Unsub { sid: u64 },
    /// Client -> bus: a message to route, with the `Nats-Msg-Id` header when
    /// `msg_id` is set (JetStream drops a republish of an id it has seen).
    /// `expected_last_msg_id`: store only if the stream's last message has
    /// that id (nats-server's `Nats-Expected-Last-Msg-Id`).
    Pub {
        subject: String,
        reply: Option<String>,
        msg_id: Option<String>,
        expected_last_msg_id: Option<String>,
        payload: Bytes,
    },
    /// Bus -> client: a routed message for subscription `sid`. `status` is a
    /// NATS status header (408 a pull request expired, ...); `msg_id` the
    /// publisher's `Nats-Msg-Id`, passed on as nats-server passes headers on.
    Msg {
        sid: u64,
        subject: String,
        reply: Option<String>,
        msg_id: Option<String>,
        status: Option<u16>,
        payload: Bytes,
        no_responders: bool,
    },
    /// Either way: asks the peer for a `Pong` with the same token.
    Ping { token: u64 },
    /// Either way: answers the `Ping` with this token.
    Pong { token: u64 },
}

/// Why a byte stream is not a valid sequence of frames. Either side closes
/// the connection on it: once framing is lost nothing after it can be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix exceeds [`MAX_FRAME_LEN`].
    TooLong(usize),
    /// The body ends before its fields do.
    Truncated,
    /// An unknown frame kind.
    UnknownKind(u8),
    /// A subject, reply or name that is not UTF-8.
    NotUtf8,
    /// Bytes left over after a fixed-size frame.
    TrailingBytes(usize),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLong(len) => write!(f, "frame of {len} bytes exceeds the limit of {MAX_FRAME_LEN}"),
            FrameError::Truncated => f.write_str("frame body ends inside a field"),
            FrameError::UnknownKind(kind) => write!(f, "unknown frame kind {kind}"),
            FrameError::NotUtf8 => f.write_str("string field is not UTF-8"),
            FrameError::TrailingBytes(n) => write!(f, "{n} unexpected bytes after the frame's fields"),
        }
    }
}

impl std::error::Error for FrameError {}

impl Frame {
    /// Appends the encoded frame to `dst`.
    ///
    /// # Panics
    ///
    /// When a string is longer than 65,535 bytes; callers validate subjects first.
    pub fn encode(&self, dst: &mut BytesMut) {
        let start = dst.len();
        dst.put_u32(0);
        match self {
            Frame::Connect { name } => {
                dst.put_u8(1);
                put_str(dst, name);
            }
            Frame::Sub { sid, subject, queue } => {
                dst.put_u8(2);
                dst.put_u64(*sid);
                put_str(dst, subject);
                put_str(dst, queue.as_deref().unwrap_or(""));
            }
            Frame::Unsub { sid } => {
                dst.put_u8(3);
                dst.put_u64(*sid);
            }
            Frame::Pub { subject, reply, msg_id, expected_last_msg_id, payload } => {
                let msg_id = msg_id.as_deref().unwrap_or("");
                let expected = expected_last_msg_id.as_deref().unwrap_or("");
                let kind = match (msg_id.is_empty(), expected.is_empty()) {
                    (true, true) => 4,
                    (false, true) => 8,
                    _ => 10,
                };
                dst.put_u8(kind);
                put_str(dst, subject);
                put_str(dst, reply.as_deref().unwrap_or(""));
                if kind != 4 {
                    put_str(dst, msg_id);
                }
                if kind == 10 {
                    put_str(dst, expected);
                }
                dst.put_slice(payload);
            }
            Frame::Msg { sid, subject, reply, msg_id, status, payload, no_responders } => {
                let msg_id = msg_id.as_deref().unwrap_or("");
                let status = status.unwrap_or(0);
                let headers = !msg_id.is_empty() || status != 0;
                dst.put_u8(if headers { 9 } else { 5 });
                dst.put_u64(*sid);
                dst.put_u8(if *no_responders { FLAG_NO_RESPONDERS } else { 0 });
                if headers {
                    dst.put_u16(status);
                }
                put_str(dst, subject);
                put_str(dst, reply.as_deref().unwrap_or(""));
                if headers {
                    put_str(dst, msg_id);
                }
                dst.put_slice(payload);
            }
            Frame::Ping { token } => {
                dst.put_u8(6);
                dst.put_u64(*token);
            }
            Frame::Pong { token } => {
                dst.put_u8(7);
                dst.put_u64(*token);
            }
        }
        let len = u32::try_from(dst.len() - start - 4).expect("a frame body fits in u32");
        dst[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// The encoded frame on its own.
    pub fn to_bytes(&self) -> Bytes {
        let mut buf = BytesMut::new();
        self.encode(&mut buf);
        buf.freeze()
    }

    /// Takes one whole frame off the front of `src`.
    ///
    /// # Returns
    ///
    /// `Ok(None)` when `src` holds only part of a frame (read more and call
    /// again); the bytes stay in `src`.
    ///
    /// # Errors
    ///
    /// A [`FrameError`] when the stream is corrupt.
    pub fn decode(src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(FrameError::TooLong(len));
        }
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        let mut body = src.split_to(len).freeze();
        parse_body(&mut body).map(Some)
    }
}

fn parse_body(body: &mut Bytes) -> Result<Frame, FrameError> {
    let frame = match get_u8(body)? {
        1 => Frame::Connect { name: get_str(body)? },
        2 => Frame::Sub { sid: get_u64(body)?, subject: get_str(body)?, queue: none_if_empty(get_str(body)?) },
        3 => Frame::Unsub { sid: get_u64(body)? },
        kind @ (4 | 8 | 10) => {
            let subject = get_str(body)?;
            let reply = none_if_empty(get_str(body)?);
            let msg_id = if kind != 4 { none_if_empty(get_str(body)?) } else { None };
            let expected_last_msg_id = if kind == 10 { none_if_empty(get_str(body)?) } else { None };
            return Ok(Frame::Pub { subject, reply, msg_id, expected_last_msg_id, payload: std::mem::take(body) });
        }
        kind @ (5 | 9) => {
            let sid = get_u64(body)?;
            let flags = get_u8(body)?;
            let status = if kind == 9 { Some(get_u16(body)?).filter(|&s| s != 0) } else { None };
            let subject = get_str(body)?;
            let reply = none_if_empty(get_str(body)?);
            let msg_id = if kind == 9 { none_if_empty(get_str(body)?) } else { None };
            let no_responders = flags & FLAG_NO_RESPONDERS != 0;
            let payload = std::mem::take(body);
            return Ok(Frame::Msg { sid, subject, reply, msg_id, status, payload, no_responders });
        }
        6 => Frame::Ping { token: get_u64(body)? },
        7 => Frame::Pong { token: get_u64(body)? },
        kind => return Err(FrameError::UnknownKind(kind)),
    };
    if body.has_remaining() {
        return Err(FrameError::TrailingBytes(body.remaining()));
    }
    Ok(frame)
}

fn put_str(dst: &mut BytesMut, s: &str) {
    let len = u16::try_from(s.len()).expect("strings are validated to fit in u16 before encoding");
    dst.put_u16(len);
    dst.put_slice(s.as_bytes());
}

fn get_u8(src: &mut Bytes) -> Result<u8, FrameError> {
    src.try_get_u8().map_err(|_| FrameError::Truncated)
}

fn get_u16(src: &mut Bytes) -> Result<u16, FrameError> {
    src.try_get_u16().map_err(|_| FrameError::Truncated)
}

fn get_u64(src: &mut Bytes) -> Result<u64, FrameError> {
    src.try_get_u64().map_err(|_| FrameError::Truncated)
}

fn get_str(src: &mut Bytes) -> Result<String, FrameError> {
    let len = src.try_get_u16().map_err(|_| FrameError::Truncated)? as usize;
    if src.remaining() < len {
        return Err(FrameError::Truncated);
    }
    String::from_utf8(src.split_to(len).to_vec()).map_err(|_| FrameError::NotUtf8)
}

fn none_if_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds() -> Vec<Frame> {
        vec![
            Frame::Connect { name: "bot".into() },
            Frame::Sub { sid: 7, subject: "a.*.>".into(), queue: Some("workers".into()) },
            Frame::Sub { sid: 8, subject: "a".into(), queue: None },
            Frame::Unsub { sid: u64::MAX },
            Frame::Pub {
                subject: "a.b".into(),
                reply: Some("_INBOX.x.1".into()),
                msg_id: None,
                expected_last_msg_id: None,
                payload: Bytes::from_static(b"\0\xff"),
            },
            Frame::Pub {
                subject: "a.b".into(),
                reply: None,
                msg_id: None,
                expected_last_msg_id: None,
                payload: Bytes::new(),
            },
            Frame::Pub {
                subject: "a.b".into(),
                reply: Some("_INBOX.x.2".into()),
                msg_id: Some("evt-1".into()),
                expected_last_msg_id: None,
                payload: Bytes::from_static(b"{}"),
            },
            Frame::Pub {
                subject: "a.b".into(),
                reply: Some("_INBOX.x.3".into()),
                msg_id: Some("evt-2".into()),
                expected_last_msg_id: Some("evt-1".into()),
                payload: Bytes::from_static(b"{}"),
            },
            Frame::Msg {
                sid: 3,
                subject: "a.b".into(),
                reply: None,
                msg_id: None,
                status: None,
                payload: Bytes::from_static(&[0xc3, 0x28]),
                no_responders: true,
            },
            Frame::Msg {
                sid: 4,
                subject: "a.b".into(),
                reply: Some("$JS.ACK.S.C.1.1.1.0.0".into()),
                msg_id: Some("evt-1".into()),
                status: None,
                payload: Bytes::from_static(b"x"),
                no_responders: false,
            },
            Frame::Msg {
                sid: 5,
                subject: "_INBOX.x.3".into(),
                reply: None,
                msg_id: None,
                status: Some(408),
                payload: Bytes::new(),
                no_responders: false,
            },
            Frame::Ping { token: 1 },
            Frame::Pong { token: 2 },
        ]
    }

    #[test]
    fn every_kind_round_trips_through_one_stream() {
        let mut stream = BytesMut::new();
        for frame in all_kinds() {
            frame.encode(&mut stream);
        }
        let mut decoded = Vec::new();
        while let Some(frame) = Frame::decode(&mut stream).unwrap() {
            decoded.push(frame);
        }
        assert_eq!(decoded, all_kinds());
        assert!(stream.is_empty());
    }

    #[test]
    fn a_partial_frame_waits_for_more_bytes() {
        let bytes = Frame::Pub {
            subject: "s".into(),
            reply: None,
            msg_id: None,
            expected_last_msg_id: None,
            payload: Bytes::from_static(b"xyz"),
        }
        .to_bytes();
        for cut in 0..bytes.len() {
            let mut partial = BytesMut::from(&bytes[..cut]);
            assert_eq!(Frame::decode(&mut partial), Ok(None), "cut at {cut}");
            assert_eq!(partial.len(), cut, "a partial frame is left in place");
        }
    }

    #[test]
    fn corrupt_frames_are_errors_not_panics() {
        let cases: [(&[u8], FrameError); 5] = [
            (&[0xff, 0xff, 0xff, 0xff], FrameError::TooLong(u32::MAX as usize)),
            (&[0, 0, 0, 1, 99], FrameError::UnknownKind(99)),
            (&[0, 0, 0, 3, 6, 0, 0], FrameError::Truncated),
            (&[0, 0, 0, 5, 1, 0, 2, 0xc3, 0x28], FrameError::NotUtf8),
            (&[0, 0, 0, 10, 7, 0, 0, 0, 0, 0, 0, 0, 1, 9], FrameError::TrailingBytes(1)),
        ];
        for (bytes, expected) in cases {
            assert_eq!(Frame::decode(&mut BytesMut::from(bytes)), Err(expected.clone()), "{bytes:?}");
        }
        assert_eq!(Frame::decode(&mut BytesMut::from(&[0, 0, 0, 0][..])), Err(FrameError::Truncated));
    }

    /// Frames without headers keep the encoding they had before headers
    /// existed, byte for byte: kind 4 / 5 and the same fields.
    #[test]
    fn frames_without_headers_keep_the_old_encoding() {
        let publish = Frame::Pub {
            subject: "a".into(),
            reply: None,
            msg_id: None,
            expected_last_msg_id: None,
            payload: Bytes::from_static(b"p"),
        };
        assert_eq!(publish.to_bytes().as_ref(), [0, 0, 0, 7, 4, 0, 1, b'a', 0, 0, b'p']);
        let message = Frame::Msg {
            sid: 1,
            subject: "a".into(),
            reply: None,
            msg_id: None,
            status: None,
            payload: Bytes::new(),
            no_responders: false,
        };
        assert_eq!(message.to_bytes().as_ref(), [0, 0, 0, 15, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, b'a', 0, 0]);
    }

    /// An empty msg id means "none" on the wire, so it decodes as `None`.
    #[test]
    fn an_empty_msg_id_is_no_msg_id() {
        let publish = Frame::Pub {
            subject: "a".into(),
            reply: None,
            msg_id: Some(String::new()),
            expected_last_msg_id: None,
            payload: Bytes::new(),
        };
        let decoded = Frame::decode(&mut BytesMut::from(publish.to_bytes().as_ref())).unwrap().unwrap();
        assert_eq!(
            decoded,
            Frame::Pub {
                subject: "a".into(),
                reply: None,
                msg_id: None,
                expected_last_msg_id: None,
                payload: Bytes::new()
            }
        );
    }

    #[test]
    fn a_truncated_header_frame_is_an_error() {
        // HMsg whose body ends inside the status field.
        let bytes: &[u8] = &[0, 0, 0, 11, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(Frame::decode(&mut BytesMut::from(bytes)), Err(FrameError::Truncated));
    }
}
