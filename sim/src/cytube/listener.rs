//! [`Listener`]: what the fake's accept loops take, so one server runs on
//! tokio's TCP in tests, on turmoil's in the simulator, and on in-memory
//! pipes for paused-time tests.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncRead, AsyncWrite};

/// Something that accepts connections: a TCP listener, real or simulated.
pub trait Listener {
    /// A connection's stream.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The next connection and its peer.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>>;

    /// The port it listens on.
    ///
    /// # Errors
    ///
    /// When the socket has no local address.
    fn local_port(&self) -> io::Result<u16>;
}

impl Listener for tokio::net::TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(tokio::net::TcpStream, SocketAddr)> {
        tokio::net::TcpListener::accept(self).await
    }

    fn local_port(&self) -> io::Result<u16> {
        Ok(self.local_addr()?.port())
    }
}

impl Listener for turmoil::net::TcpListener {
    type Stream = turmoil::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(turmoil::net::TcpStream, SocketAddr)> {
        turmoil::net::TcpListener::accept(self).await
    }

    fn local_port(&self) -> io::Result<u16> {
        Ok(self.local_addr()?.port())
    }
}
