//! The bus server: a small NATS core that runs as a turmoil host.
//!
//! One task per connection reads frames and applies them to the shared
//! [`Router`] in arrival order; a second task per connection writes that
//! connection's outbound frames in FIFO order. The reader never waits on the
//! writer (an unbounded queue sits between them, capped by `max_pending`
//! bytes), so a peer whose stream has stalled in a partition cannot hold up
//! routing for anyone else.
//!
//! Everything lives in memory inside [`serve`]: a crash or bounce of the host
//! drops it all, as a restarted nats-server forgets every subscription;
//! except a JetStream store passed in [`BusServerOptions::jetstream`], which
//! the caller owns and which keeps its file streams across incarnations.

use std::error::Error;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};
use turmoil::net::tcp::OwnedWriteHalf;
use turmoil::net::{TcpListener, TcpStream};

use super::frame::{Frame, WRITE_BATCH};
use super::jetstream::{JetStream, JetStreamStore};
use super::router::{ConnectionOutput, Router};

/// Server settings. The defaults are the sim's, chosen against the client's
/// 1 s / 2 s liveness; the comments give nats-server's own defaults.
#[derive(Debug, Clone)]
pub struct BusServerOptions {
    /// How often the bus PINGs each client (nats-server: 2 min). A dead peer
    /// in a partition never says so, and its subscriptions would otherwise
    /// keep taking queue-group messages into the void forever.
    pub ping_interval: Duration,
    /// Unanswered PINGs after which a connection is closed as stale (nats-server: 2).
    pub max_pings_out: u32,
    /// Largest payload accepted; a larger PUB closes the connection, as
    /// nats-server's "Maximum Payload Violation" does (nats-server: 1 MiB).
    pub max_payload: usize,
    /// Bytes that may wait for one slow connection's socket before the bus
    /// drops it as a slow consumer (nats-server: 64 MiB).
    pub max_pending: usize,
    /// JetStream, as `nats-server -js -sd DIR` has it; `None` is a server
    /// without JetStream, whose `$JS.API.>` requests find no responders.
    /// Create the store outside the host closure and pass a clone each
    /// time the closure runs: it is the "store dir" that outlives a restart.
    pub jetstream: Option<JetStreamStore>,
}

impl Default for BusServerOptions {
    fn default() -> BusServerOptions {
        BusServerOptions {
            ping_interval: Duration::from_secs(2),
            max_pings_out: 2,
            max_payload: 1024 * 1024,
            max_pending: 64 * 1024 * 1024,
            jetstream: None,
        }
    }
}

/// Runs the bus with default options on `port` until the host is crashed.
///
/// # Examples
///
/// ```no_run
/// let mut sim = rosey_sim::bus::sim_builder(7, 1_731_000_000_000).build();
/// sim.host("bus", || rosey_sim::bus::serve(4222));
/// ```
///
/// # Errors
///
/// When the port cannot be bound or accepting fails.
pub async fn serve(port: u16) -> Result<(), Box<dyn Error>> {
    serve_with(port, BusServerOptions::default()).await
}

/// Runs the bus with JetStream over `store` and default options otherwise.
///
/// # Examples
///
/// ```no_run
/// use rosey_sim::bus::{self, JetStreamStore};
///
/// let mut sim = bus::sim_builder(7, 1_731_000_000_000).build();
/// let store = JetStreamStore::new();
/// sim.host("bus", move || bus::serve_jetstream(4222, store.clone()));
/// ```
///
/// # Errors
///
/// When the port cannot be bound or accepting fails.
pub async fn serve_jetstream(port: u16, store: JetStreamStore) -> Result<(), Box<dyn Error>> {
    serve_with(port, BusServerOptions { jetstream: Some(store), ..BusServerOptions::default() }).await
}

/// Runs the bus with `options` on `port`.
///
/// # Errors
///
/// When the port cannot be bound or accepting fails.
pub async fn serve_with(port: u16, options: BusServerOptions) -> Result<(), Box<dyn Error>> {
    let listener = TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).await?;
    tracing::info!(port, "[BUS] listening");
    let epoch = turmoil::since_epoch().zip(turmoil::sim_elapsed()).map_or(Duration::ZERO, |(unix, sim)| unix - sim);
    let jetstream = options.jetstream.clone().map(|store| JetStream::start(store, epoch));
    let enabled = jetstream.is_some();
    let router = Arc::new(Mutex::new(Router::new(jetstream)));
    if enabled {
        tokio::spawn(jetstream_timer(router.clone()));
    }
    loop {
        let (stream, peer) = listener.accept().await?;
        let connection = Connection::open(stream, peer.to_string(), router.clone(), options.clone());
        tokio::spawn(connection.run());
    }
}

/// One client connection's reading side and its settings.
struct Connection {
    id: u64,
    peer: String,
    reader: turmoil::net::tcp::OwnedReadHalf,
    router: Arc<Mutex<Router>>,
    stop: Arc<Notify>,
    options: BusServerOptions,
    writer: tokio::task::JoinHandle<()>,
}

impl Connection {
    /// Registers the connection with the router and starts its writer.
    fn open(stream: TcpStream, peer: String, router: Arc<Mutex<Router>>, options: BusServerOptions) -> Connection {
        let (reader, writer) = stream.into_split();
        let (output, queue) = ConnectionOutput::new(options.max_pending);
        let (pending, stop) = (output.pending.clone(), output.stop.clone());
        let id = router.lock().expect("bus router lock").add_connection(output);
        let writer = tokio::spawn(write_loop(writer, queue, pending, stop.clone()));
        tracing::debug!(id, %peer, "[BUS] client connected");
        Connection { id, peer, reader, router, stop, options, writer }
    }

    /// Serves the connection until it ends, then forgets it and its subscriptions.
    async fn run(mut self) {
        let reason = self.read_loop().await;
        self.writer.abort();
        let closing = self.router.lock().expect("bus router lock").remove_connection(self.id);
        let reason = closing.unwrap_or(reason);
        tracing::info!(id = self.id, peer = %self.peer, %reason, "[BUS] client connection closed");
    }

    /// Reads and applies frames, and PINGs the client; returns why it stopped.
    async fn read_loop(&mut self) -> String {
        let mut buf = BytesMut::with_capacity(8 * 1024);
        let start = tokio::time::Instant::now() + self.options.ping_interval;
        let mut ping = rosey::timers::interval_at(start, self.options.ping_interval);
        let mut pings_out = 0u32;
        let mut token = 0u64;
        loop {
            loop {
                match Frame::decode(&mut buf) {
                    Ok(Some(Frame::Pong { .. })) => pings_out = 0,
                    Ok(Some(frame)) => {
                        if let Err(reason) = self.apply_client_frame(frame) {
                            return reason;
                        }
                    }
                    Ok(None) => break,
                    Err(error) => return format!("malformed frame: {error}"),
                }
            }
            tokio::select! {
                biased;
                () = self.stop.notified() => return "closed by the bus".into(),
                read = self.reader.read_buf(&mut buf) => match read {
                    Ok(0) if buf.is_empty() => return "client closed the connection".into(),
                    Ok(0) => return "client closed the connection inside a frame".into(),
                    Ok(_) => {}
                    Err(error) => return format!("read failed: {error}"),
                },
                _ = ping.tick() => {
                    if pings_out >= self.options.max_pings_out {
                        return format!("stale connection: {pings_out} PINGs unanswered");
                    }
                    pings_out += 1;
                    token += 1;
                    self.router.lock().expect("bus router lock").send_to(self.id, &Frame::Ping { token });
                }
            }
        }
    }

    /// Applies one frame from the client.
    ///
    /// # Errors
    ///
    /// The reason to close the connection: a protocol violation.
    fn apply_client_frame(&mut self, frame: Frame) -> Result<(), String> {
        let mut router = self.router.lock().expect("bus router lock");
        match frame {
            Frame::Connect { name } => {
                tracing::debug!(id = self.id, %name, "[BUS] client named itself");
                self.peer = format!("{name}@{}", self.peer);
            }
            Frame::Sub { sid, subject, queue } => router.subscribe(self.id, sid, subject, queue),
            Frame::Unsub { sid } => router.unsubscribe(self.id, sid),
            Frame::Pub { subject, reply, msg_id, expected_last_msg_id, payload } => {
                if payload.len() > self.options.max_payload {
                    return Err(format!("maximum payload violation: {} bytes", payload.len()));
                }
                let headers = super::jetstream::PubHeaders {
                    msg_id: msg_id.as_deref(),
                    expected_last_msg_id: expected_last_msg_id.as_deref(),
                };
                router.publish(self.id, &subject, reply.as_deref(), headers, payload);
            }
            Frame::Ping { token } => router.send_to(self.id, &Frame::Pong { token }),
            Frame::Pong { .. } => {}
            Frame::Msg { .. } => return Err("protocol violation: clients do not send MSG".into()),
        }
        Ok(())
    }
}

/// JetStream's clock: expires pull requests, redelivers after `ack_wait`,
/// ages messages out. Sleeps until the next deadline JetStream reports, or
/// until the router says something changed; simulated time only.
async fn jetstream_timer(router: Arc<Mutex<Router>>) {
    let wake = router.lock().expect("bus router lock").jetstream_wake.clone();
    loop {
        let next = router.lock().expect("bus router lock").jetstream_tick().flatten();
        let sleep = match next {
            Some(at) => at.saturating_sub(super::jetstream::sim_now()).max(Duration::from_millis(1)),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            () = rosey::timers::sleep(sleep) => {}
            () = wake.notified() => {}
        }
    }
}

/// Writes queued frames to the socket in order, a batch at a time.
async fn write_loop(
    mut writer: OwnedWriteHalf,
    mut queue: mpsc::UnboundedReceiver<Bytes>,
    pending: Arc<AtomicUsize>,
    stop: Arc<Notify>,
) {
    let mut batch = BytesMut::with_capacity(WRITE_BATCH);
    while let Some(first) = queue.recv().await {
        batch.extend_from_slice(&first);
        while batch.len() < WRITE_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.extend_from_slice(&next),
                Err(_) => break,
            }
        }
        if let Err(error) = writer.write_all(&batch).await {
            tracing::debug!(%error, "[BUS] write failed");
            stop.notify_one();
            return;
        }
        pending.fetch_sub(batch.len(), Ordering::Relaxed);
        batch.clear();
    }
}
