//! One websocket connection: the Engine.IO open packet, the server's pings
//! and the ping timeout, socket.io packets in, the connection's queue out.
//!
//! The task owns the websocket; the state only ever talks to it through
//! its queue ([`Out`]), so a handler under the state lock never waits on a
//! socket, and a slow socket never holds up the others.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use rosey::timers::sleep_until;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_websockets::{Message, WebSocketStream};

use super::packet::{self, ClientPacket};
use super::state::{Out, Shared};

/// How long a close handshake may take before the stream is dropped anyway.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Serves one upgraded websocket until it ends, then parts its user.
pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
    ip: IpAddr,
    shared: Arc<Shared>,
) {
    let (conn, mut queue, interval, timeout, connect_timeout, max_payload) = shared.with(|fake| {
        let (conn, queue) = fake.open_conn(ip);
        let c = &fake.config;
        (conn, queue, c.ping_interval, c.ping_timeout, c.connect_timeout, c.max_payload)
    });
    let open = packet::open(&format!("eio{conn:017}"), interval.as_millis(), timeout.as_millis(), max_payload);
    let reason = match ws.send(Message::text(open)).await {
        Ok(()) => serve(&mut ws, conn, &mut queue, &shared, (interval, timeout, connect_timeout)).await,
        Err(error) => Ending::Dropped(format!("open failed: {error}")),
    };
    tracing::debug!(conn, reason = reason.why(), "[CYTUBE] connection ended");
    // engine.io reports the close at once; the close handshake follows.
    shared.with(|fake| fake.close_conn(conn));
    if let Ending::Close(_) = &reason {
        let _ = rosey::timers::timeout(CLOSE_GRACE, ws.close()).await;
    }
}

/// Why a connection ended, and whether it gets a close frame.
#[derive(Debug)]
enum Ending {
    /// The server closes the websocket.
    Close(&'static str),
    /// The stream is dropped (cut, failed, or closed by the client).
    Dropped(String),
}

impl Ending {
    fn why(&self) -> &str {
        match self {
            Ending::Close(why) => why,
            Ending::Dropped(why) => why,
        }
    }
}

/// The connection's loop.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    conn: u64,
    queue: &mut tokio::sync::mpsc::UnboundedReceiver<Out>,
    shared: &Shared,
    (interval, timeout, connect_timeout): (Duration, Duration, Duration),
) -> Ending {
    let far = Instant::now() + Duration::from_secs(86_400 * 365);
    let mut next_ping = Some(Instant::now() + interval);
    let mut pong_due: Option<Instant> = None;
    let mut connect_due = Some(Instant::now() + connect_timeout);
    loop {
        tokio::select! {
            biased;
            out = queue.recv() => match out {
                Some(Out::Text(text)) => {
                    if let Err(error) = ws.send(Message::text(text)).await {
                        return Ending::Dropped(format!("write failed: {error}"));
                    }
                }
                Some(Out::Close) => return Ending::Close("closed by the server"),
                Some(Out::Cut) | None => return Ending::Dropped("cut by the server".into()),
            },
            message = ws.next() => match message {
                Some(Ok(message)) if message.is_text() => {
                    let text = message.as_text().unwrap_or_default();
                    match ClientPacket::parse(text) {
                        ClientPacket::Pong => {
                            pong_due = None;
                            next_ping = Some(Instant::now() + interval);
                        }
                        ClientPacket::Close => return Ending::Dropped("client sent close".into()),
                        ClientPacket::Connect { namespace } => shared.with(|fake| fake.connect_socket(conn, &namespace)),
                        ClientPacket::Disconnect { namespace } if namespace == "/" => {
                            shared.with(|fake| fake.disconnect_socket(conn));
                        }
                        ClientPacket::Event { namespace, name, data, .. } if namespace == "/" => {
                            shared.with(|fake| fake.on_event(conn, &name, data));
                        }
                        ClientPacket::Invalid(why) => {
                            tracing::debug!(conn, %why, "[CYTUBE] parse error");
                            return Ending::Close("parse error");
                        }
                        _ => {}
                    }
                }
                Some(Ok(message)) if message.is_close() => return Ending::Dropped("client closed".into()),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Ending::Dropped(format!("read failed: {error}")),
                None => return Ending::Dropped("end of stream".into()),
            },
            () = sleep_until(next_ping.unwrap_or(far)), if next_ping.is_some() => {
                next_ping = None;
                pong_due = Some(Instant::now() + timeout);
                if let Err(error) = ws.send(Message::text(packet::PING)).await {
                    return Ending::Dropped(format!("write failed: {error}"));
                }
            }
            () = sleep_until(pong_due.unwrap_or(far)), if pong_due.is_some() => {
                shared.with(|fake| fake.stats.ping_timeouts += 1);
                return Ending::Close("ping timeout");
            }
            () = sleep_until(connect_due.unwrap_or(far)), if connect_due.is_some() => {
                connect_due = None;
                // socket.io's connectTimeout: close when no namespace is connected now.
                let idle = shared.lock().conns.get(&conn).is_some_and(|entry| entry.user.is_none());
                if idle {
                    return Ending::Close("no namespace connected in time");
                }
            }
        }
    }
}
