//! A CyTube client: the bot's live connection to a channel.
//!
//! # What the real server does
//!
//! CyTube (calzoneman/sync 3.86) serves `GET /socketconfig/<channel>.json` naming its
//! socket servers, then speaks socket.io 4 on engine.io 6: Engine.IO 4 / socket.io 5, a
//! websocket at `/socket.io/?EIO=4&transport=websocket`. The server pings every 25 s and
//! waits 120 s for the pong. A client joins with `joinChannel {name, pw?}` and logs in with
//! `login {name, pw}` (or `{name}` as a guest); every answer is an event (see
//! `shared/reference/cytube-protocol.md`). Per IP it allows 5 connects, then one per 10 s.
//!
//! # Layout
//!
//! - [`ChannelUrl`] (`url`): the channel spec, and the socket servers' URLs.
//! - [`Dialer`], [`TcpDialer`] (`dial`): the byte-stream seam; the simulator dials turmoil.
//! - `tls`: rustls with the system roots, for https/wss servers.
//! - `http` and [`resolve_socket`] (`socketconfig`): a hand-written GET of the socket config.
//! - `engineio`: the packet codec. [`Connection`] (`connection`): one socket, its
//!   handshake, pings and events.
//! - [`Session`] (`session`), with [`SessionConfig`] (`options`), `backoff` and `watch` (the
//!   join and login outcome): reconnects, re-joins and logs in again, and stops on the
//!   errors a reconnect cannot fix.
//! - [`CytubeError`] (`error`): every failure, saying what to do next and whether it is fatal.
//!
//! # Left out
//!
//! HTTP long-polling and the polling-to-websocket upgrade (CyTube accepts a websocket
//! directly), the EIO3 dialect, binary events, acks, namespaces other than `/`, HTTP
//! redirects and proxies, and cookie (`auth`) logins. The websocket masking key and
//! handshake key come from fastrand's thread-local generator (tokio-websockets' `fastrand`
//! feature), which the simulator seeds for every run, so even the bytes on the wire repeat.
//!
//! # Example
//!
//! ```no_run
//! use rosey::cytube::client::{ChannelUrl, Login, Secret, Session, SessionConfig, SessionEvent, TcpDialer};
//! use rosey::cytube::ChatEvent;
//!
//! # async fn run() -> Result<(), rosey::cytube::client::CytubeError> {
//! let channel = ChannelUrl::parse("https://cytu.be/r/lounge")?;
//! let login = Login { name: "Rosey".into(), password: Some(Secret::new("...")) };
//! let mut session = Session::new(TcpDialer, SessionConfig::new(channel, Some(login)));
//! while let Some(event) = session.next().await {
//!     match event {
//!         SessionEvent::Event { name, data } => println!("{:?}", ChatEvent::parse(&name, &data)),
//!         SessionEvent::Fatal(error) => return Err(error),
//!         other => println!("{other:?}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod backoff;
mod connection;
mod dial;
pub mod engineio;
mod error;
mod http;
mod options;
mod session;
mod socketconfig;
mod tls;
mod url;
mod watch;

pub use backoff::{Backoff, BackoffConfig, ConnectBucket, BUCKET_CAPACITY, BUCKET_MARGIN, BUCKET_REFILL};
pub use connection::{ConnectOptions, Connection, SOCKET_PATH};
pub use dial::{Dialer, TcpDialer};
pub use error::CytubeError;
pub use options::{Login, Secret, SessionConfig};
pub use session::{Session, SessionEvent};
pub use socketconfig::resolve_socket;
pub use tls::MaybeTls;
pub use url::{ChannelUrl, Endpoint, SocketServer};
