//! Settings of the fake server, its accounts, and the clock it reads.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A registered account, as CyTube's `users` and `channel_ranks` tables hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The name as registered; logins match it case-insensitively and
    /// answer with this spelling, as `verifyLogin` does.
    pub name: String,
    /// The password a `login {name, pw}` must carry.
    pub password: String,
    /// The site-wide rank (1 for an ordinary account, 255 for a site admin).
    pub global_rank: i64,
    /// The rank in the fake's channel (0 when the channel never ranked the
    /// account); the effective rank is the larger of the two.
    pub channel_rank: i64,
}

/// Settings. Defaults are the real server's (v3.86.0 with its default
/// config), except where a field says otherwise.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// The one channel this server hosts (CyTube lower-cases channel names).
    pub channel: String,
    /// The channel password (`channelOpts.password`); `None` is no password.
    pub channel_password: Option<String>,
    /// Registered accounts by lower-cased name.
    pub accounts: BTreeMap<String, Account>,
    /// Whether the channel is registered; an unregistered one ends the join
    /// sequence with `channelNotRegistered`.
    pub registered_channel: bool,
    /// The host written into socketconfig's server URL (`http://<host>:<io port>`):
    /// `127.0.0.1` on loopback, the host's name in a turmoil world.
    pub public_host: String,
    /// The message of the day sent as `setMotd` on join.
    pub motd: String,
    /// The rank `setPermissions.chat` requires to chat (CyTube default 0).
    pub chat_permission: f64,
    /// Engine.IO `pingInterval` (25 s): how long after the open (or after a
    /// pong) the server sends the next ping.
    pub ping_interval: Duration,
    /// Engine.IO `pingTimeout` (CyTube: 120 s): how long a ping may go
    /// unanswered before the server closes the connection.
    pub ping_timeout: Duration,
    /// socket.io `connectTimeout` (45 s): an engine connection that never
    /// connects a namespace is closed after this long.
    pub connect_timeout: Duration,
    /// Engine.IO `maxHttpBufferSize` (1 MiB): a larger frame closes the connection.
    pub max_payload: usize,
    /// The `usercount` debounce (10 s, leading and trailing edge);
    /// `Duration::ZERO` sends every change at once.
    pub usercount_debounce: Duration,
    /// Idle time before a user in the channel is marked AFK
    /// (`channelOpts.afk_timeout`, 600 s); `None` disables it.
    pub afk_timeout: Option<Duration>,
    /// One guest login per IP per this long (`guest-login-delay`, 60 s).
    /// Every loopback test client shares 127.0.0.1, so tests with several
    /// guests set it to zero.
    pub guest_login_delay: Duration,
    /// Enforce the per-IP connect bucket (5, one more per 10 s). Off by
    /// default here (on in the real server, where it is not configurable):
    /// tests turn it on to meet it, and otherwise every loopback client
    /// would share one bucket.
    pub connect_bucket: bool,
    /// Sockets per IP (`io.ip-connection-limit`, 10); the next is kicked
    /// with "Too many connections from your IP address" and closed.
    pub max_sockets_per_ip: usize,
}

impl Default for FakeConfig {
    fn default() -> FakeConfig {
        FakeConfig {
            channel: "testchan".into(),
            channel_password: None,
            accounts: BTreeMap::new(),
            registered_channel: true,
            public_host: "127.0.0.1".into(),
            motd: String::new(),
            chat_permission: 0.0,
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(120_000),
            connect_timeout: Duration::from_millis(45_000),
            max_payload: 1 << 20,
            usercount_debounce: Duration::from_secs(10),
            afk_timeout: Some(Duration::from_secs(600)),
            guest_login_delay: Duration::from_secs(60),
            connect_bucket: false,
            max_sockets_per_ip: 10,
        }
    }
}

impl FakeConfig {
    /// Adds a registered account with global rank 1 and `channel_rank`.
    #[must_use]
    pub fn with_account(mut self, name: &str, password: &str, channel_rank: i64) -> FakeConfig {
        let account = Account { name: name.into(), password: password.into(), global_rank: 1, channel_rank };
        self.accounts.insert(name.to_lowercase(), account);
        self
    }
}

/// Where the fake reads time: a monotonic offset for its timers and
/// throttles, and Unix milliseconds for the `time` of chat lines. Never the
/// OS clock, so a run under paused tokio time or turmoil replays exactly.
pub trait FakeClock: Send + Sync + fmt::Debug {
    /// Time since the clock's start (monotonic).
    fn elapsed(&self) -> Duration;
    /// Unix milliseconds now.
    fn unix_ms(&self) -> i64;
}

/// tokio's clock (paused in tests, so time only moves when the test lets it):
/// `epoch_unix_ms` at creation, then tokio's elapsed time.
#[derive(Debug)]
pub struct TokioClock {
    start: tokio::time::Instant,
    epoch_unix_ms: i64,
}

impl TokioClock {
    /// Starts the clock now at `epoch_unix_ms`. Call it inside the runtime
    /// that runs the fake: a paused runtime has its own idea of now.
    pub fn new(epoch_unix_ms: i64) -> TokioClock {
        TokioClock { start: tokio::time::Instant::now(), epoch_unix_ms }
    }
}

impl FakeClock for TokioClock {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn unix_ms(&self) -> i64 {
        self.epoch_unix_ms.saturating_add(i64::try_from(self.elapsed().as_millis()).unwrap_or(i64::MAX))
    }
}

/// The turmoil world's clock (`turmoil::sim_elapsed`, `turmoil::since_epoch`),
/// one timeline for every host, so the control handle may be used from any
/// host. Outside a host (between `sim.step()`s) it repeats the last reading.
#[derive(Debug, Default)]
pub struct TurmoilClock {
    last_elapsed_ms: AtomicU64,
    last_unix_ms: AtomicU64,
}

impl FakeClock for TurmoilClock {
    fn elapsed(&self) -> Duration {
        match turmoil::sim_elapsed() {
            Some(elapsed) => {
                let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
                self.last_elapsed_ms.store(ms, Ordering::Relaxed);
                elapsed
            }
            None => Duration::from_millis(self.last_elapsed_ms.load(Ordering::Relaxed)),
        }
    }

    fn unix_ms(&self) -> i64 {
        let ms = match turmoil::since_epoch() {
            Some(since) => {
                let ms = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
                self.last_unix_ms.store(ms, Ordering::Relaxed);
                ms
            }
            None => self.last_unix_ms.load(Ordering::Relaxed),
        };
        i64::try_from(ms).unwrap_or(i64::MAX)
    }
}
