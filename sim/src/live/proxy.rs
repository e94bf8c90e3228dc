//! A TCP proxy in front of nats-server, one per client host, through which
//! a scenario's network faults happen for real: a `partition` cuts every
//! connection through it and refuses new ones, a `hold` stops forwarding
//! (the bytes wait, as in a stalled network) until released, a `latency`
//! delays every chunk. A one-way partition stops one direction only: what
//! is sent that way waits, as TCP keeps resending it until the path heals,
//! while the other way flows; new connections are refused, since a
//! handshake needs both ways.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the link does now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkState {
    pub partitioned: bool,
    pub held: bool,
    pub latency_ms: u64,
    /// One-way partitions: client to nats-server, and back.
    pub cut_up: bool,
    pub cut_down: bool,
}

/// Which way a pump copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client host to nats-server.
    Up,
    /// From nats-server to the client host.
    Down,
}

impl LinkState {
    /// Whether bytes going `direction` wait.
    fn stalls(&self, direction: Direction) -> bool {
        self.held
            || match direction {
                Direction::Up => self.cut_up,
                Direction::Down => self.cut_down,
            }
    }

    /// Whether a new connection is refused.
    fn refuses(&self) -> bool {
        self.partitioned || self.cut_up || self.cut_down
    }
}

/// A running proxy: its port, and the knob that sets its link's state.
pub struct Proxy {
    pub port: u16,
    state: watch::Sender<LinkState>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream_port`.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(upstream_port: u16) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (state, watcher) = watch::channel(LinkState::default());
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let tracked = connections.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if watcher.borrow().refuses() {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await else { continue };
                let (c_read, c_write) = client.into_split();
                let (s_read, s_write) = server.into_split();
                let up = tokio::spawn(pump(c_read, s_write, watcher.clone(), Direction::Up));
                let down = tokio::spawn(pump(s_read, c_write, watcher.clone(), Direction::Down));
                let mut list = tracked.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                list.retain(|handle| !handle.is_finished());
                list.extend([up, down]);
            }
        });
        Ok(Proxy { port, state, connections, accept })
    }

    /// Sets the link's state; a partition also cuts what is connected now.
    pub fn set(&self, change: impl FnOnce(&mut LinkState)) {
        self.state.send_modify(change);
        if self.state.borrow().partitioned {
            let mut list = self.connections.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            for handle in list.drain(..) {
                handle.abort();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for handle in self.connections.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
            handle.abort();
        }
    }
}

/// Copies `from` to `to` chunk by chunk (going `direction`), as the link's state allows.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
    direction: Direction,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // A hold, or a one-way cut this way, keeps the bytes until it ends.
        if state.wait_for(|s| !s.stalls(direction)).await.is_err() {
            break;
        }
        let latency = state.borrow().latency_ms;
        if latency > 0 {
            rosey::timers::sleep(Duration::from_millis(latency)).await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
