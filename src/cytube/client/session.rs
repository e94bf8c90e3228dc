//! A reconnecting CyTube session: resolve, connect, join, log in, hand over every event,
//! and start again with backoff when the connection ends.
//!
//! Driven from one task: poll [`Session::next`] in the bot's `select!` loop. Nothing is
//! spawned; the connect attempt in flight, the backoff deadline and the connection are all
//! state in the session, so `next` is cancel-safe and a dropped poll loses nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::backoff::Backoff;
use super::connection::{within, Connection};
use super::dial::Dialer;
use super::error::CytubeError;
use super::options::{Login, SessionConfig};
use super::socketconfig::resolve_with;
use super::tls::{MaybeTls, Tls};
use super::watch::JoinWatch;

/// What a session reports, in order.
#[derive(Debug)]
pub enum SessionEvent {
    /// A connection is up and `joinChannel` (then `login`) was sent: the channel's join
    /// sequence (permissions, history, userlist, ...) and the login's answers follow as
    /// events. `attempt` counts connect attempts since the session began (1 for the first).
    Connected { attempt: u32 },
    /// A socket event, in order and unmodified; normalize it with
    /// [`crate::cytube::ChatEvent::parse`].
    Event { name: String, data: Value },
    /// A connect attempt failed before the connection was up (network, timeout, a refused
    /// connect); the next attempt starts after `retry_in`.
    ConnectFailed { attempt: u32, error: CytubeError, retry_in: Duration },
    /// A connection that was up ended (ping timeout, close, a non-fatal kick); the session
    /// reconnects, re-resolves, re-joins and logs in again after `retry_in`.
    Disconnected { reason: CytubeError, retry_in: Duration },
    /// The session gave up: the error names the cause and says the bot will not retry.
    /// [`Session::next`] returns `None` from now on.
    Fatal(CytubeError),
}

type Conn<D> = Connection<MaybeTls<<D as Dialer>::Stream>>;
type Attempt<D> = Pin<Box<dyn Future<Output = Result<Conn<D>, CytubeError>> + Send>>;

enum State<D: Dialer> {
    /// Waiting for the backoff (or the first attempt) to start one at `at`.
    Waiting {
        at: Instant,
    },
    /// An attempt in flight: resolve, dial, handshake, join, login.
    Connecting {
        attempt: u32,
        future: Attempt<D>,
    },
    Connected {
        connection: Box<Conn<D>>,
        since: Instant,
        watch: JoinWatch,
    },
    /// After a fatal error or [`Session::close`].
    Finished,
}

/// A reconnecting session with one CyTube channel.
pub struct Session<D: Dialer> {
    dialer: D,
    config: Arc<SessionConfig>,
    tls: Tls,
    backoff: Backoff,
    /// Connect attempts so far.
    attempts: u32,
    state: State<D>,
    /// The end an event just yielded caused (a kick, a failed login), yielded next.
    pending: Option<SessionEvent>,
}

impl<D: Dialer> std::fmt::Debug for Session<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("channel", &self.config.channel)
            .field("attempts", &self.attempts)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl<D: Dialer> Session<D> {
    /// A session whose first attempt starts at the first [`Session::next`].
    pub fn new(dialer: D, config: SessionConfig) -> Session<D> {
        let backoff = Backoff::new(config.backoff.clone(), config.seed);
        Session {
            dialer,
            config: Arc::new(config),
            tls: Tls::default(),
            backoff,
            attempts: 0,
            state: State::Waiting { at: Instant::now() },
            pending: None,
        }
    }

    /// The next thing that happened; `None` once the session is finished (after
    /// [`SessionEvent::Fatal`] or [`Session::close`]). Cancel-safe.
    pub async fn next(&mut self) -> Option<SessionEvent> {
        loop {
            if let Some(event) = self.pending.take() {
                return Some(event);
            }
            match &mut self.state {
                State::Finished => return None,
                State::Waiting { at } => {
                    crate::timers::sleep_until(*at).await;
                    self.start_attempt();
                }
                State::Connecting { attempt, future } => {
                    let attempt = *attempt;
                    match future.await {
                        Ok(connection) => {
                            let login = self.config.login.as_ref();
                            let watch = JoinWatch::new(
                                &self.config.channel.channel,
                                login.map(|l| l.name.as_str()),
                                login.is_some_and(|l| l.password.is_some()),
                            );
                            self.state =
                                State::Connected { connection: Box::new(connection), since: Instant::now(), watch };
                            return Some(SessionEvent::Connected { attempt });
                        }
                        Err(error) => return Some(self.end(error, None)),
                    }
                }
                State::Connected { connection, since, watch } => match connection.next_event().await {
                    Ok((name, data)) => {
                        if let Some(error) = watch.observe(&name, &data) {
                            let since = *since;
                            self.pending = Some(self.end(error, Some(since)));
                        }
                        return Some(SessionEvent::Event { name, data });
                    }
                    Err(error) => {
                        let since = *since;
                        return Some(self.end(error, Some(since)));
                    }
                },
            }
        }
    }

    /// Whether a connection is up now.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected { .. })
    }

    /// Connect attempts so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Queues `42["chatMsg", {"msg": msg, "meta": {}}]` on the current connection; the next
    /// poll of [`Session::next`] writes it. The server echoes the bot's own line back, cuts
    /// it at 320 characters, and drops it when the bot is throttled (burst 20, then 10/s:
    /// `cooldown` follows) or not logged in.
    ///
    /// # Errors
    ///
    /// [`CytubeError::NotConnected`] between connections; [`CytubeError::WebSocket`] when the
    /// socket has just closed.
    pub fn emit_chat(&mut self, msg: &str) -> Result<(), CytubeError> {
        self.emit("chatMsg", &json!({"msg": msg, "meta": {}}))
    }

    /// Queues any event on the current connection, as [`Session::emit_chat`] does.
    ///
    /// # Errors
    ///
    /// As [`Session::emit_chat`].
    pub fn emit(&mut self, event: &str, data: &Value) -> Result<(), CytubeError> {
        match &mut self.state {
            State::Connected { connection, .. } => connection.queue_event(event, data),
            _ => Err(CytubeError::NotConnected),
        }
    }

    /// Ends the session: a connection that is up leaves cleanly (`41`, websocket close); an
    /// attempt in flight is dropped. [`Session::next`] returns `None` afterwards.
    pub async fn close(&mut self) {
        self.pending = None;
        if let State::Connected { connection, .. } = std::mem::replace(&mut self.state, State::Finished) {
            connection.close().await;
        }
    }

    /// Starts an attempt now.
    fn start_attempt(&mut self) {
        self.attempts += 1;
        self.backoff.attempt(Instant::now());
        let attempt = self.attempts;
        let (dialer, config, tls) = (self.dialer.clone(), Arc::clone(&self.config), self.tls.clone());
        tracing::info!(channel = %config.channel, attempt, "connecting to CyTube");
        let future = Box::pin(async move { connect(dialer, config, tls).await });
        self.state = State::Connecting { attempt, future };
    }

    /// A connection or attempt ended with `error`: give up when it is fatal, else schedule
    /// the next attempt. `since` is when the connection came up, if it did.
    fn end(&mut self, error: CytubeError, since: Option<Instant>) -> SessionEvent {
        let now = Instant::now();
        if error.is_fatal() {
            tracing::error!(%error, "CyTube session ends");
            self.state = State::Finished;
            return SessionEvent::Fatal(error);
        }
        if let Some(since) = since {
            self.backoff.connection_ended(now - since);
        }
        if matches!(&error, CytubeError::ConnectRefused { message } if message == "Rate limit exceeded") {
            self.backoff.refused(now);
        }
        let retry_in = self.backoff.next_delay(now, error.min_retry_delay());
        let retry_in_s = retry_in.as_secs_f64();
        match since {
            Some(_) => tracing::warn!(%error, retry_in_s, "CyTube connection lost"),
            None => tracing::warn!(%error, retry_in_s, "CyTube connect attempt failed"),
        }
        self.state = State::Waiting { at: now + retry_in };
        match since {
            Some(_) => SessionEvent::Disconnected { reason: error, retry_in },
            None => SessionEvent::ConnectFailed { attempt: self.attempts, error, retry_in },
        }
    }
}

/// One attempt: resolve the socket config, open the connection, join, log in.
async fn connect<D: Dialer>(dialer: D, config: Arc<SessionConfig>, tls: Tls) -> Result<Conn<D>, CytubeError> {
    let after = config.connect.handshake_timeout;
    let server = within("resolving the socket config", after, resolve_with(&dialer, &config.channel, &tls)).await?;
    let mut connection = Connection::open_with(&dialer, &server, &config.connect, &tls).await?;
    within("sending joinChannel and login", after, async {
        connection.emit("joinChannel", &join_payload(&config)).await?;
        if let Some(login) = &config.login {
            let guest = login.password.is_none();
            tracing::info!(channel = %config.channel.channel, name = %login.name, guest, "joined; logging in");
            connection.emit("login", &login_payload(login)).await?;
        }
        Ok(())
    })
    .await?;
    Ok(connection)
}

/// `joinChannel {name, pw?}`.
fn join_payload(config: &SessionConfig) -> Value {
    let mut join = Map::new();
    join.insert("name".into(), Value::String(config.channel.channel.clone()));
    if let Some(pw) = &config.channel_password {
        join.insert("pw".into(), Value::String(pw.expose().to_string()));
    }
    Value::Object(join)
}

/// `login {name, pw}` for an account, `login {name}` for a guest.
fn login_payload(login: &Login) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), Value::String(login.name.clone()));
    if let Some(pw) = &login.password {
        body.insert("pw".into(), Value::String(pw.expose().to_string()));
    }
    Value::Object(body)
}
