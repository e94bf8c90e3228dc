//! In-memory listeners: the fake over `tokio::io::duplex` pipes instead of
//! TCP, for tests that pause tokio time.
//!
//! With paused time tokio jumps the clock to the next timer whenever every
//! task is idle. A task waiting on a loopback socket looks idle while the
//! kernel still holds its bytes, so the clock can jump past a timeout that
//! should never fire. Pipes have no kernel in between: idle means idle.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;

use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use super::listener::Listener;

/// Bytes a pipe buffers each way.
const PIPE_BUFFER: usize = 256 * 1024;

/// The accepting end: yields one pipe per [`MemoryConnector::connect`].
#[derive(Debug)]
pub struct MemoryListener {
    incoming: mpsc::UnboundedReceiver<(DuplexStream, SocketAddr)>,
    port: u16,
}

/// The connecting end; clones share the listener.
#[derive(Debug, Clone)]
pub struct MemoryConnector {
    outgoing: mpsc::UnboundedSender<(DuplexStream, SocketAddr)>,
    /// Client ports handed out, so each connection has its own peer address.
    next_port: Arc<AtomicU16>,
}

/// The connectors of a fake started with
/// [`FakeCytube::start_in_memory`](super::FakeCytube::start_in_memory).
#[derive(Debug, Clone)]
pub struct MemoryPorts {
    /// The web port (socketconfig).
    pub web: MemoryConnector,
    /// The socket.io port.
    pub io: MemoryConnector,
}

/// A listener "on" `port` (it only shows in socketconfig's URL) and its connector.
pub fn memory_listener(port: u16) -> (MemoryListener, MemoryConnector) {
    let (outgoing, incoming) = mpsc::unbounded_channel();
    let connector = MemoryConnector { outgoing, next_port: Arc::new(AtomicU16::new(40_000)) };
    (MemoryListener { incoming, port }, connector)
}

impl MemoryConnector {
    /// Connects from 127.0.0.1: the client's end of a fresh pipe.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` when the listener is gone.
    pub fn connect(&self) -> io::Result<DuplexStream> {
        let (client, server) = tokio::io::duplex(PIPE_BUFFER);
        let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, self.next_port.fetch_add(1, Ordering::Relaxed)));
        self.outgoing.send((server, peer)).map_err(|_| io::Error::from(io::ErrorKind::ConnectionRefused))?;
        Ok(client)
    }
}

impl Listener for MemoryListener {
    type Stream = DuplexStream;

    async fn accept(&mut self) -> io::Result<(DuplexStream, SocketAddr)> {
        self.incoming.recv().await.ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    fn local_port(&self) -> io::Result<u16> {
        Ok(self.port)
    }
}
