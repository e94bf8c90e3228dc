//! The dialer seam: how the client gets a byte stream to a host.
//!
//! Everything above this (HTTP, TLS, the websocket, Engine.IO) runs over any
//! `AsyncRead + AsyncWrite`, so the same client runs on a real TCP socket
//! ([`TcpDialer`]) and on turmoil's simulated TCP (the simulator's dialer).

use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};

/// Opens byte streams to hosts.
///
/// The stream and the dial future are `Send` and the dialer is `Clone + Send + Sync` so a
/// connect attempt can be kept in the [`super::Session`] across polls (its `next` stays
/// cancel-safe in a `select!` loop) and the session itself can live in a spawned task.
pub trait Dialer: Clone + Send + Sync + 'static {
    /// The stream a dial produces.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Connects to `host:port` (a name or an address; IPv6 without brackets).
    fn dial(&self, host: &str, port: u16) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Dials real TCP with [`tokio::net::TcpStream`] (name resolution by the system, Nagle off:
/// the client writes small frames and waits for answers).
#[derive(Debug, Clone, Copy, Default)]
pub struct TcpDialer;

impl Dialer for TcpDialer {
    type Stream = tokio::net::TcpStream;

    async fn dial(&self, host: &str, port: u16) -> io::Result<tokio::net::TcpStream> {
        let stream = tokio::net::TcpStream::connect((host, port)).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}
