//! One socket.io connection: the websocket upgrade, the Engine.IO handshake, pings, events.
//!
//! CyTube's socket.io 4 (engine.io 6) accepts a websocket straight away at
//! `/socket.io/?EIO=4&transport=websocket`; the first frame is the open packet, whose
//! pingInterval (25 s) and pingTimeout (120 s) set the liveness window. The client then
//! connects the default namespace (`40`) and the server's middlewares answer `40{sid}` or
//! refuse with `44{message}` (CyTube's connect bucket says "Rate limit exceeded"). In EIO4
//! the server pings; the client answers each `2` with `3` and, like the reference client,
//! counts the connection dead after pingInterval + pingTimeout without a ping. Polling,
//! the EIO3 dialect, binary events and acks are left out: CyTube does not need them.
//!
//! # Cancel safety
//!
//! [`Connection::next_event`] can be dropped at any await (in a `select!`) without losing a
//! frame: reads go through the websocket stream's own buffer, the liveness deadline is
//! state, and a pong is queued synchronously and written by the next poll.

use std::pin::Pin;
use std::time::Duration;

use futures::{Sink, SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_websockets::{ClientBuilder, Message, WebSocketStream};

use super::dial::Dialer;
use super::engineio::{self, OpenInfo, Packet};
use super::error::CytubeError;
use super::tls::{MaybeTls, Tls};
use super::url::{Endpoint, SocketServer};

/// The socket.io endpoint's path and query (Engine.IO 4, websocket only).
pub const SOCKET_PATH: &str = "/socket.io/?EIO=4&transport=websocket";

/// How long a clean close waits for the server's websocket close before dropping the socket.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Settings for one connection.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Bounds each handshake step (dial, TLS, upgrade, open packet, namespace connect).
    pub handshake_timeout: Duration,
    /// Replaces the open packet's pingInterval + pingTimeout (145 s on CyTube) as the time
    /// without a ping after which the connection is dead; for tests.
    pub liveness: Option<Duration>,
}

impl Default for ConnectOptions {
    fn default() -> ConnectOptions {
        ConnectOptions { handshake_timeout: Duration::from_secs(20), liveness: None }
    }
}

/// An open socket.io connection to a CyTube server, namespace connected.
pub struct Connection<S> {
    ws: WebSocketStream<S>,
    /// The websocket URL, for errors.
    url: String,
    open: OpenInfo,
    /// The namespace connect's sid.
    sid: Option<String>,
    /// Time without a ping after which the connection is dead.
    liveness: Duration,
    /// When the last ping (or the open packet) arrived.
    last_ping: Instant,
}

impl<S> std::fmt::Debug for Connection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("url", &self.url).field("sid", &self.sid).finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<MaybeTls<S>> {
    /// Dials `server`, wraps it in TLS when secure, and runs [`Connection::handshake`].
    ///
    /// # Errors
    ///
    /// [`CytubeError::Dial`], [`CytubeError::Tls`], and those of [`Connection::handshake`].
    pub async fn open<D: Dialer<Stream = S>>(
        dialer: &D,
        server: &SocketServer,
        options: &ConnectOptions,
    ) -> Result<Connection<MaybeTls<S>>, CytubeError> {
        Connection::open_with(dialer, server, options, &Tls::default()).await
    }

    /// [`Connection::open`] with the session's TLS configuration.
    pub(crate) async fn open_with<D: Dialer<Stream = S>>(
        dialer: &D,
        server: &SocketServer,
        options: &ConnectOptions,
        tls: &Tls,
    ) -> Result<Connection<MaybeTls<S>>, CytubeError> {
        let endpoint = server.endpoint()?;
        let after = options.handshake_timeout;
        let stream = within("dialing the socket server", after, async {
            dialer.dial(&endpoint.host, endpoint.port).await.map_err(|source| CytubeError::Dial {
                host: endpoint.host.clone(),
                port: endpoint.port,
                source,
            })
        })
        .await?;
        let stream = within("the TLS handshake", after, tls.wrap(stream, &endpoint)).await?;
        Connection::handshake(stream, &endpoint, options).await
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Upgrades `stream` to a websocket at [`SOCKET_PATH`], waits for the open packet,
    /// connects the default namespace and waits for its answer.
    ///
    /// # Errors
    ///
    /// [`CytubeError::ConnectRefused`] when the server answers `44` (CyTube's connect
    /// bucket), [`CytubeError::HandshakeTimeout`], [`CytubeError::WebSocket`],
    /// [`CytubeError::Protocol`] or [`CytubeError::Closed`] otherwise.
    pub async fn handshake(
        stream: S,
        endpoint: &Endpoint,
        options: &ConnectOptions,
    ) -> Result<Connection<S>, CytubeError> {
        let scheme = if endpoint.secure { "wss" } else { "ws" };
        let url = format!("{scheme}://{}{SOCKET_PATH}", endpoint.authority());
        let ws_error = |source| CytubeError::WebSocket { url: url.clone(), source };
        let builder = ClientBuilder::new()
            .uri(&url)
            .map_err(|err| CytubeError::Protocol { reason: format!("cannot build the websocket URL {url}: {err}") })?;
        let after = options.handshake_timeout;
        let (ws, _response) =
            within("the websocket upgrade", after, async { builder.connect_on(stream).await.map_err(ws_error) })
                .await?;
        let mut connection = Connection {
            ws,
            url: url.clone(),
            open: OpenInfo {
                sid: String::new(),
                ping_interval: Duration::ZERO,
                ping_timeout: Duration::ZERO,
                max_payload: 0,
            },
            sid: None,
            liveness: Duration::ZERO,
            last_ping: Instant::now(),
        };
        let open = within("the open packet", after, async {
            loop {
                match connection.next_packet().await? {
                    Packet::Open(open) => return Ok(open),
                    Packet::Ping => connection.queue(engineio::PONG)?,
                    other => {
                        return Err(CytubeError::Protocol {
                            reason: format!("expected the open packet, got {other:?}"),
                        })
                    }
                }
            }
        })
        .await?;
        connection.liveness = options.liveness.unwrap_or_else(|| open.liveness());
        connection.last_ping = Instant::now();
        connection.open = open;
        connection.emit_raw(engineio::CONNECT).await?;
        connection.sid = within("the namespace connect", after, async {
            loop {
                match connection.next_packet().await? {
                    Packet::Connect { sid } => return Ok(sid),
                    Packet::ConnectError { message } => return Err(CytubeError::ConnectRefused { message }),
                    Packet::Ping => connection.ping(),
                    other => tracing::debug!(packet = ?other, "before the namespace connect, ignored"),
                }
            }
        })
        .await?;
        tracing::debug!(url = %connection.url, sid = ?connection.sid, "socket.io connected");
        Ok(connection)
    }

    /// The engine's open packet.
    pub fn open_info(&self) -> &OpenInfo {
        &self.open
    }

    /// The time without a ping after which [`Connection::next_event`] fails.
    pub fn liveness(&self) -> Duration {
        self.liveness
    }

    /// The next socket event `(name, data)`, answering pings on the way.
    ///
    /// # Errors
    ///
    /// [`CytubeError::PingTimeout`] when no ping arrived within the liveness window,
    /// [`CytubeError::Closed`] when the socket ends (engine close `1`, namespace
    /// disconnect `41`, websocket close, EOF), [`CytubeError::WebSocket`] on a read or
    /// write failure. A frame that does not decode is logged and skipped.
    pub async fn next_event(&mut self) -> Result<(String, Value), CytubeError> {
        loop {
            match self.next_packet().await? {
                Packet::Event { name, data } => return Ok((name, data)),
                Packet::Ping => self.ping(),
                Packet::Close => return Err(closed("the server closed the engine (packet 1)")),
                Packet::Disconnect => return Err(closed("the server disconnected the socket (packet 41)")),
                Packet::ConnectError { message } => return Err(CytubeError::ConnectRefused { message }),
                other => tracing::debug!(packet = ?other, "socket.io packet ignored"),
            }
        }
    }

    /// Sends `42["event", data]` and flushes it.
    ///
    /// # Errors
    ///
    /// [`CytubeError::WebSocket`] when the socket is closed or the write fails.
    pub async fn emit(&mut self, event: &str, data: &Value) -> Result<(), CytubeError> {
        self.emit_raw(&engineio::encode_event(event, data)).await
    }

    /// Queues `42["event", data]` without waiting: written by the next
    /// [`Connection::next_event`] poll (or flush). Cancel-safe by construction.
    ///
    /// # Errors
    ///
    /// [`CytubeError::WebSocket`] when the socket is already closed.
    pub fn queue_event(&mut self, event: &str, data: &Value) -> Result<(), CytubeError> {
        self.queue(&engineio::encode_event(event, data))
    }

    /// Leaves cleanly: a namespace disconnect (`41`), then a websocket close, waiting at
    /// most two seconds for the server's half of it.
    pub async fn close(mut self) {
        let _ = self.queue(engineio::DISCONNECT);
        let _ = crate::timers::timeout(CLOSE_GRACE, self.ws.close()).await;
    }

    /// A ping arrived: restart the liveness window and queue the pong.
    fn ping(&mut self) {
        self.last_ping = Instant::now();
        if let Err(err) = self.queue(engineio::PONG) {
            // The read that follows reports the closed socket.
            tracing::debug!(error = %err, "pong not queued");
        }
    }

    /// Queues a text frame. tokio-websockets' `poll_ready` never refuses a frame (it only
    /// flushes early past a threshold), so calling `start_send` directly is sound and keeps
    /// queueing synchronous; every `poll_next` flushes what is queued.
    fn queue(&mut self, text: &str) -> Result<(), CytubeError> {
        Pin::new(&mut self.ws)
            .start_send(Message::text(text.to_string()))
            .map_err(|source| CytubeError::WebSocket { url: self.url.clone(), source })
    }

    async fn emit_raw(&mut self, text: &str) -> Result<(), CytubeError> {
        self.queue(text)?;
        self.ws.flush().await.map_err(|source| CytubeError::WebSocket { url: self.url.clone(), source })
    }

    /// The next Engine.IO packet, within the liveness window.
    async fn next_packet(&mut self) -> Result<Packet, CytubeError> {
        loop {
            let deadline = self.last_ping + self.liveness;
            let message = if self.liveness.is_zero() {
                // The handshake: bounded by its stage timeouts instead.
                self.ws.next().await
            } else {
                tokio::select! {
                    biased;
                    message = self.ws.next() => message,
                    () = crate::timers::sleep_until(deadline) => {
                        return Err(CytubeError::PingTimeout { after: self.liveness });
                    }
                }
            };
            let message = match message {
                None => return Err(closed("the server ended the connection")),
                Some(Err(source)) => return Err(CytubeError::WebSocket { url: self.url.clone(), source }),
                Some(Ok(message)) => message,
            };
            if let Some((code, reason)) = message.as_close() {
                return Err(closed(&format!("the server closed the websocket ({code:?} {reason:?})")));
            }
            let Some(text) = message.as_text() else {
                // Websocket pings are answered by tokio-websockets; binary frames are unused.
                continue;
            };
            match engineio::decode(text) {
                Ok(packet) => return Ok(packet),
                Err(reason) => tracing::warn!(%reason, "undecodable socket.io frame skipped"),
            }
        }
    }
}

fn closed(reason: &str) -> CytubeError {
    CytubeError::Closed { reason: reason.to_string() }
}

/// Runs a handshake stage under `after`.
pub(crate) async fn within<T>(
    stage: &'static str,
    after: Duration,
    step: impl std::future::Future<Output = Result<T, CytubeError>>,
) -> Result<T, CytubeError> {
    crate::timers::timeout(after, step).await.unwrap_or(Err(CytubeError::HandshakeTimeout { stage, after }))
}
