//! The HTTP side: reading a request head, the socketconfig route
//! (`web/routes/socketconfig.js`), the checks engine.io makes of a
//! handshake, and [`Rewind`], which hands the head it read back to the
//! websocket upgrade.
//!
//! One request per connection, answered with `Connection: close`: enough
//! for a client that fetches socketconfig once before it connects.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::channel::valid_channel_name;

/// The largest request head read (Node's default is 16 KiB).
const MAX_HEAD: usize = 16 * 1024;

/// A request's method and target, and every byte read so far.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    /// Path and query, as sent.
    pub(crate) target: String,
    /// The head and whatever followed it in the same reads.
    pub(crate) bytes: Vec<u8>,
}

/// Reads up to the end of the request head; `None` on a clean close first.
///
/// # Errors
///
/// A read error, a head over 16 KiB, or a malformed request line.
pub(crate) async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Option<Head>> {
    let mut bytes = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return if bytes.is_empty() { Ok(None) } else { Err(io::ErrorKind::UnexpectedEof.into()) };
        }
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let line_end = bytes.windows(2).position(|w| w == b"\r\n").unwrap_or(end);
            let line = String::from_utf8_lossy(&bytes[..line_end]).into_owned();
            let mut parts = line.split(' ');
            let (Some(method), Some(target), Some(_version)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(io::Error::new(io::ErrorKind::InvalidData, format!("bad request line {line:?}")));
            };
            return Ok(Some(Head { method: method.into(), target: target.into(), bytes }));
        }
        if bytes.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request head too large"));
        }
    }
}

/// An HTTP answer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl Response {
    fn json(status: u16, body: serde_json::Value) -> Response {
        Response { status, content_type: "application/json; charset=utf-8", body: body.to_string() }
    }

    /// Writes the response and flushes.
    pub(crate) async fn write<S: AsyncWrite + Unpin>(&self, stream: &mut S) -> io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            _ => "Error",
        };
        let head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.status,
            self.content_type,
            self.body.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(self.body.as_bytes()).await?;
        stream.flush().await
    }
}

/// `GET /socketconfig/<channel>.json` on the web port; anything else is 404.
pub(crate) fn socketconfig(head: &Head, public_host: &str, io_port: u16) -> Response {
    let path = head.target.split('?').next().unwrap_or("");
    let channel = path.strip_prefix("/socketconfig/").and_then(|rest| rest.strip_suffix(".json"));
    match channel {
        Some(channel) if head.method == "GET" && !channel.is_empty() && !channel.contains('/') => {
            if valid_channel_name(channel) {
                let url = format!("http://{public_host}:{io_port}");
                let url = serde_json::to_string(&url).expect("a string serializes");
                let body = format!(r#"{{"servers":[{{"url":{url},"secure":false}}]}}"#);
                Response { status: 200, content_type: "application/json; charset=utf-8", body }
            } else {
                Response::json(404, serde_json::json!({ "error": format!("Channel \"{channel}\" does not exist.") }))
            }
        }
        _ => Response { status: 404, content_type: "text/html; charset=utf-8", body: format!("Cannot GET {path}") },
    }
}

/// engine.io's checks of a handshake on the socket.io port: `None` when it
/// is a websocket open for EIO 4, else the error it answers. Polling and
/// EIO 3 are real transports the fake does not serve (see the module docs).
pub(crate) fn engine_handshake_error(head: &Head) -> Option<Response> {
    let (path, query) = head.target.split_once('?').unwrap_or((&head.target, ""));
    if !path.starts_with("/socket.io/") {
        return Some(Response {
            status: 404,
            content_type: "text/html; charset=utf-8",
            body: format!("Cannot GET {path}"),
        });
    }
    let param = |key: &str| query.split('&').find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='));
    let error =
        |code: u8, message: &str| Some(Response::json(400, serde_json::json!({ "code": code, "message": message })));
    if head.method != "GET" {
        return error(2, "Bad handshake method");
    }
    if param("sid").is_some() {
        return error(1, "Session ID unknown");
    }
    match (param("EIO"), param("transport")) {
        (_, t) if !matches!(t, Some("websocket" | "polling")) => error(0, "Transport unknown"),
        (Some("4"), Some("websocket")) => None,
        (Some("4"), _) => error(3, "Bad request"),
        _ => error(5, "Unsupported protocol version"),
    }
}

/// A stream that first yields bytes already read from it.
pub(crate) struct Rewind<S> {
    prefix: Vec<u8>,
    offset: usize,
    inner: S,
}

impl<S> Rewind<S> {
    pub(crate) fn new(prefix: Vec<u8>, inner: S) -> Rewind<S> {
        Rewind { prefix, offset: 0, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewind<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if self.offset < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.offset);
            let start = self.offset;
            buf.put_slice(&self.prefix[start..start + n]);
            self.offset += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewind<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(target: &str) -> Head {
        Head { method: "GET".into(), target: target.into(), bytes: Vec::new() }
    }

    #[test]
    fn socketconfig_answers_valid_names_and_404s_the_rest() {
        let ok = socketconfig(&head("/socketconfig/testchan.json"), "127.0.0.1", 1337);
        assert_eq!(
            (ok.status, ok.body.as_str()),
            (200, r#"{"servers":[{"url":"http://127.0.0.1:1337","secure":false}]}"#)
        );
        let other = socketconfig(&head("/socketconfig/Other-Chan_2.json?x=1"), "cytube", 9);
        assert_eq!(other.status, 200);
        let bad = socketconfig(&head("/socketconfig/bad!name.json"), "h", 1);
        assert_eq!((bad.status, bad.body.as_str()), (404, r#"{"error":"Channel \"bad!name\" does not exist."}"#));
        assert_eq!(socketconfig(&head("/elsewhere"), "h", 1).status, 404);
    }

    #[test]
    fn only_eio4_websocket_handshakes_pass() {
        assert_eq!(engine_handshake_error(&head("/socket.io/?EIO=4&transport=websocket")), None);
        let status = |target: &str| engine_handshake_error(&head(target)).map(|r| r.body);
        assert_eq!(
            status("/socket.io/?EIO=3&transport=websocket").unwrap(),
            r#"{"code":5,"message":"Unsupported protocol version"}"#
        );
        assert_eq!(status("/socket.io/?EIO=4&transport=xhr").unwrap(), r#"{"code":0,"message":"Transport unknown"}"#);
        assert!(status("/socket.io/?EIO=4&transport=polling").is_some());
        assert!(status("/other/?EIO=4&transport=websocket").is_some());
    }
}
