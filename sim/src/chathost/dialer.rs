//! [`TurmoilDialer`]: the CyTube client's byte streams over turmoil TCP.

use std::io;

use rosey::cytube::client::Dialer;

/// Dials hosts of the turmoil world by name (`chat:8080`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TurmoilDialer;

impl Dialer for TurmoilDialer {
    type Stream = turmoil::net::TcpStream;

    async fn dial(&self, host: &str, port: u16) -> io::Result<turmoil::net::TcpStream> {
        turmoil::net::TcpStream::connect((host, port)).await
    }
}
