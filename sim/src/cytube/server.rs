//! The accept loops, over any listener: tokio's TCP in tests, turmoil's in
//! the simulator. Two ports, as the real server has: the web port answers
//! socketconfig, the socket.io port upgrades `/socket.io/` to a websocket.

use std::error::Error;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_websockets::{Limits, ServerBuilder};

use super::config::{FakeConfig, TokioClock, TurmoilClock};
use super::control::FakeCytube;
use super::http::{self, Rewind};
use super::listener::Listener;
use super::memory::{memory_listener, MemoryPorts};
use super::socket;
use super::state::Shared;

/// Aborts a task when dropped, so the timer task ends with the server.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl FakeCytube {
    /// Starts the fake on loopback with tokio's clock (paused or not) and
    /// returns it with its web base URL, `http://127.0.0.1:<web port>`.
    /// The server runs on spawned tasks until the runtime ends.
    ///
    /// # Errors
    ///
    /// When a port cannot be bound.
    ///
    /// Its chat times start at the wall clock, as the real server's follow it:
    /// a live bot stores recovered history lines at those times, and they must
    /// fall inside its retention window.
    pub async fn start_local(config: FakeConfig) -> io::Result<(FakeCytube, String)> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(FAKE_EPOCH_UNIX_MS, |elapsed| elapsed.as_millis() as i64);
        FakeCytube::start_local_at(config, now_ms).await
    }

    /// [`FakeCytube::start_local`] with its clock at `epoch_unix_ms` now
    /// (`rosey-sim live`: a replayed fixture's start).
    pub async fn start_local_at(config: FakeConfig, epoch_unix_ms: i64) -> io::Result<(FakeCytube, String)> {
        let server = LocalServer::start_at(config, epoch_unix_ms).await?;
        Ok((server.fake.clone(), server.base_url()))
    }

    /// Starts the fake on in-memory pipes with tokio's clock, for tests
    /// with paused time (see [`memory`](super::MemoryListener)). socketconfig
    /// names `http://127.0.0.1:1337`; connect through the returned ports.
    pub fn start_in_memory(config: FakeConfig) -> (FakeCytube, MemoryPorts) {
        let fake = FakeCytube::new(config, Arc::new(TokioClock::new(FAKE_EPOCH_UNIX_MS)));
        let (web, web_connector) = memory_listener(8080);
        let (io, io_connector) = memory_listener(1337);
        let server = fake.clone();
        tokio::spawn(async move {
            if let Err(error) = server.serve(web, io).await {
                tracing::debug!(%error, "[CYTUBE] in-memory fake stopped");
            }
        });
        (fake, MemoryPorts { web: web_connector, io: io_connector })
    }

    /// A fake for a turmoil world, on the world's clock (chat `time` is the
    /// sim's Unix time). Build it outside the sim and run
    /// [`serve_turmoil`](FakeCytube::serve_turmoil) in a host.
    pub fn for_turmoil(config: FakeConfig) -> FakeCytube {
        FakeCytube::new(config, Arc::new(TurmoilClock::default()))
    }

    /// Binds turmoil listeners on `web_port` and `io_port` and serves until
    /// the host is crashed. State lives in the handle, outside the host: a
    /// host that is bounced starts again as [`restart`](FakeCytube::restart)
    /// leaves it, with the chat history and without anyone connected.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use rosey_sim::cytube::{FakeConfig, FakeCytube};
    ///
    /// let fake = FakeCytube::for_turmoil(FakeConfig { public_host: "cytube".into(), ..FakeConfig::default() });
    /// let mut sim = rosey_sim::bus::sim_builder(7, 1_731_000_000_000).build();
    /// let host = fake.clone();
    /// sim.host("cytube", move || {
    ///     let fake = host.clone();
    ///     async move { fake.serve_turmoil(8080, 1337).await }
    /// });
    /// ```
    ///
    /// # Errors
    ///
    /// When a port cannot be bound or accepting fails.
    pub async fn serve_turmoil(&self, web_port: u16, io_port: u16) -> Result<(), Box<dyn Error>> {
        let web = turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, web_port)).await?;
        let io = turmoil::net::TcpListener::bind((Ipv4Addr::UNSPECIFIED, io_port)).await?;
        self.serve(web, io).await?;
        Ok(())
    }

    /// Serves socketconfig on `web` and socket.io on `io` until accepting
    /// fails. Connections and the timer task run on spawned tasks.
    ///
    /// # Errors
    ///
    /// When accepting fails or the io listener has no port.
    pub async fn serve<W: Listener, I: Listener>(&self, mut web: W, mut io: I) -> io::Result<()> {
        let io_port = io.local_port()?;
        let shared = self.shared.clone();
        shared.with(|fake| fake.server_started());
        let _timers = AbortOnDrop(tokio::spawn(run_timers(shared.clone())));
        tracing::info!(io_port, "[CYTUBE] fake listening");
        loop {
            tokio::select! {
                accepted = web.accept() => {
                    let (stream, _) = accepted?;
                    let (shared, host) = (shared.clone(), shared.lock().config.public_host.clone());
                    tokio::spawn(async move { serve_web(stream, &shared, &host, io_port).await });
                }
                accepted = io.accept() => {
                    let (stream, peer) = accepted?;
                    tokio::spawn(serve_io(stream, peer, shared.clone()));
                }
            }
        }
    }
}

/// The Unix time a loopback fake's clock starts at.
pub const FAKE_EPOCH_UNIX_MS: i64 = 1_731_000_000_000;

/// One request on the web port.
/// The fake on loopback, on two ports that stay its own across a restart:
/// `rosey-sim live` stops and starts it for `chat_restart`, as the real
/// server's process is restarted.
pub struct LocalServer {
    pub fake: FakeCytube,
    web_port: u16,
    io_port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl LocalServer {
    /// Binds two free loopback ports and serves on them, with the fake's
    /// clock at `epoch_unix_ms` now.
    ///
    /// # Errors
    ///
    /// When a port cannot be bound.
    pub async fn start_at(config: FakeConfig, epoch_unix_ms: i64) -> io::Result<LocalServer> {
        let fake = FakeCytube::new(config, Arc::new(TokioClock::new(epoch_unix_ms)));
        let web = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let io = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let (web_port, io_port) = (web.local_addr()?.port(), io.local_addr()?.port());
        let mut server = LocalServer { fake, web_port, io_port, task: None };
        server.serve(web, io);
        Ok(server)
    }

    /// `http://127.0.0.1:<web port>`, the channel URLs' base.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_port)
    }

    /// Stops as a crashed server stops: the ports closed, so a connect is
    /// refused, and every connection dropped without a word. What the
    /// channel keeps across a restart (its history) stays.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.fake.restart();
    }

    /// Serves again on the same two ports.
    ///
    /// # Errors
    ///
    /// When a port cannot be bound again.
    pub async fn start_again(&mut self) -> io::Result<()> {
        if self.task.is_some() {
            return Ok(());
        }
        let web = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, self.web_port)).await?;
        let io = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, self.io_port)).await?;
        self.serve(web, io);
        Ok(())
    }

    fn serve(&mut self, web: tokio::net::TcpListener, io: tokio::net::TcpListener) {
        let server = self.fake.clone();
        self.task = Some(tokio::spawn(async move {
            if let Err(error) = server.serve(web, io).await {
                tracing::warn!(%error, "[CYTUBE] fake server stopped");
            }
        }));
    }
}

async fn serve_web<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, shared: &Shared, host: &str, io_port: u16) {
    match http::read_head(&mut stream).await {
        Ok(Some(head)) => {
            let response = http::socketconfig(&head, host, io_port);
            shared.with(|fake| fake.stats.http_requests += 1);
            if let Err(error) = response.write(&mut stream).await {
                tracing::debug!(%error, "[CYTUBE] socketconfig write failed");
            }
        }
        Ok(None) => {}
        Err(error) => tracing::debug!(%error, "[CYTUBE] bad web request"),
    }
}

/// One connection on the socket.io port: handshake checks, upgrade, socket.
async fn serve_io<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, peer: SocketAddr, shared: Arc<Shared>) {
    let head = match http::read_head(&mut stream).await {
        Ok(Some(head)) => head,
        Ok(None) => return,
        Err(error) => return tracing::debug!(%error, "[CYTUBE] bad handshake"),
    };
    if let Some(response) = http::engine_handshake_error(&head) {
        let _ = response.write(&mut stream).await;
        return;
    }
    let max_payload = shared.lock().config.max_payload;
    let builder = ServerBuilder::new().limits(Limits::default().max_payload_len(Some(max_payload)));
    match builder.accept(Rewind::new(head.bytes, stream)).await {
        Ok((_request, ws)) => socket::run(ws, peer.ip(), shared).await,
        Err(error) => tracing::debug!(%error, "[CYTUBE] websocket upgrade failed"),
    }
}

/// Runs the state's timers (usercount's trailing edge, auto-AFK) on time.
async fn run_timers(shared: Arc<Shared>) {
    loop {
        let (deadline, now) = {
            let fake = shared.lock();
            (fake.next_deadline(), fake.now())
        };
        match deadline {
            Some(at) if at <= now => shared.with(|fake| fake.fire_timers()),
            Some(at) => {
                tokio::select! {
                    () = rosey::timers::sleep(at - now) => {}
                    () = shared.timers.notified() => {}
                }
            }
            None => shared.timers.notified().await,
        }
    }
}
