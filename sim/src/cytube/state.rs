//! All the fake server's state, behind one lock: engine connections,
//! socket.io users (a socket's or a simulated one), the channel's member
//! list, the chat history, the limiters and the counters.
//!
//! Every method runs to completion under the lock and never awaits; what
//! a socket should receive goes into its connection's unbounded queue, in
//! order, so the emit order of the real server's synchronous handlers is
//! the order on the wire. Maps are `BTreeMap`s keyed by a counter, so
//! every broadcast walks sockets in connect order, the same every run.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{mpsc, watch, Notify};

use super::config::{FakeClock, FakeConfig};
use super::limiter::{ChatLimiter, ConnectBucket, Debounce};
use super::packet;
use super::payload::ChatLine;

/// What a connection task is told to do with its socket.
#[derive(Debug)]
pub(crate) enum Out {
    /// Send one text frame.
    Text(String),
    /// Close the websocket (close frame, then the stream).
    Close,
    /// Drop the stream without a word, as a crashed server or a cut cable.
    Cut,
}

/// One engine.io connection (a websocket).
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) ip: IpAddr,
    pub(crate) tx: mpsc::UnboundedSender<Out>,
    /// The socket.io socket of the default namespace, once connected.
    pub(crate) user: Option<u64>,
}

/// Where a user is with the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinState {
    /// Not asked to join (or asked for another channel).
    Outside,
    /// Waiting for the channel password (`needPassword` sent).
    NeedPassword,
    /// In the channel's member list.
    Member,
}

/// A socket.io socket's user (`user.js` `User` with its `Account`), or a
/// simulated user driven by the control handle (no connection).
#[derive(Debug)]
pub(crate) struct User {
    pub(crate) conn: Option<u64>,
    pub(crate) ip: IpAddr,
    /// `""` until logged in.
    pub(crate) name: String,
    pub(crate) global_rank: i64,
    pub(crate) channel_rank: i64,
    pub(crate) registered: bool,
    pub(crate) logged_in: bool,
    /// `U_HAS_CHANNEL_RANK`: the channel rank was looked up.
    pub(crate) has_channel_rank: bool,
    pub(crate) join: JoinState,
    /// `socket.once("joinChannel")`: only the first request counts.
    pub(crate) join_asked: bool,
    pub(crate) afk: bool,
    pub(crate) muted: bool,
    pub(crate) limiter: ChatLimiter,
    /// When the auto-AFK timer fires, if armed.
    pub(crate) afk_due: Option<Duration>,
}

impl User {
    /// A fresh anonymous user (rank -1).
    pub(crate) fn anonymous(conn: Option<u64>, ip: IpAddr) -> User {
        User {
            conn,
            ip,
            name: String::new(),
            global_rank: -1,
            channel_rank: -1,
            registered: false,
            logged_in: false,
            has_channel_rank: false,
            join: JoinState::Outside,
            join_asked: false,
            afk: false,
            muted: false,
            limiter: ChatLimiter::default(),
            afk_due: None,
        }
    }

    /// `Account.effectiveRank`: the larger of the global and channel ranks.
    pub(crate) fn rank(&self) -> i64 {
        self.global_rank.max(self.channel_rank)
    }
}

/// Counters and gauges, for tests and the simulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FakeStats {
    /// Websocket connections opened (Engine.IO opens), ever.
    pub connects: u64,
    /// Namespace connects (`40`) accepted, ever.
    pub socket_connects: u64,
    /// Namespace connects answered `44` (refused or out of connect tokens).
    pub refused: u64,
    /// socketconfig requests answered.
    pub http_requests: u64,
    /// Websocket connections open now.
    pub open_connections: usize,
    /// socket.io sockets connected now.
    pub sockets: usize,
    /// Users in the channel now, anonymous and simulated ones included (the `usercount`).
    pub members: usize,
    /// Kicks sent (duplicate logins, too many sockets, bad channel names).
    pub kicks: u64,
    /// Connections closed because a ping went unanswered.
    pub ping_timeouts: u64,
    /// `restart()` calls and fresh starts of the accept loops after the first.
    pub restarts: u64,
}

/// The state proper.
pub(crate) struct Fake {
    pub(crate) config: FakeConfig,
    pub(crate) clock: Arc<dyn FakeClock>,
    pub(crate) conns: BTreeMap<u64, Conn>,
    pub(crate) users: BTreeMap<u64, User>,
    /// The channel's `users` array, in join order.
    pub(crate) members: Vec<u64>,
    /// The last 15 chat lines (`chat.js` `buffer`), replayed on join.
    pub(crate) history: VecDeque<ChatLine>,
    /// Every chat line ever broadcast, for `said` (kept across `/clear` and restarts).
    pub(crate) log: Vec<ChatLine>,
    pub(crate) usercount: Debounce,
    pub(crate) buckets: BTreeMap<IpAddr, ConnectBucket>,
    pub(crate) last_guest_login: BTreeMap<IpAddr, Duration>,
    /// Cooldowns sent, by the sender's name (`""` for none).
    pub(crate) cooldowns: BTreeMap<String, u64>,
    pub(crate) refuse: bool,
    /// Lower-cased names whose every line is throttled (the simulator's
    /// `chat_throttle` fault): a stricter limit than the real one.
    pub(crate) throttled: std::collections::BTreeSet<String>,
    pub(crate) stats: FakeStats,
    /// The accept loops ran before: a new start is a restart.
    pub(crate) started: bool,
    next_id: u64,
}

/// Chat lines the history keeps.
pub(crate) const HISTORY_LINES: usize = 15;

impl Fake {
    pub(crate) fn new(mut config: FakeConfig, clock: Arc<dyn FakeClock>) -> Fake {
        config.channel = config.channel.to_lowercase();
        Fake {
            usercount: Debounce::new(config.usercount_debounce),
            config,
            clock,
            conns: BTreeMap::new(),
            users: BTreeMap::new(),
            members: Vec::new(),
            history: VecDeque::new(),
            log: Vec::new(),
            buckets: BTreeMap::new(),
            last_guest_login: BTreeMap::new(),
            cooldowns: BTreeMap::new(),
            refuse: false,
            throttled: std::collections::BTreeSet::new(),
            stats: FakeStats::default(),
            started: false,
            next_id: 1,
        }
    }

    /// A fresh id for a connection or a user.
    pub(crate) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The monotonic now.
    pub(crate) fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Sends a raw frame to a user's socket; simulated users hear nothing.
    pub(crate) fn send(&self, uid: u64, frame: String) {
        let conn = self.users.get(&uid).and_then(|user| user.conn);
        if let Some(conn) = conn.and_then(|id| self.conns.get(&id)) {
            let _ = conn.tx.send(Out::Text(frame));
        }
    }

    /// `socket.emit(event, data)`.
    pub(crate) fn emit(&self, uid: u64, event: &str, data: &impl Serialize) {
        self.send(uid, packet::event(event, data));
    }

    /// `socket.emit` of a payload kept as JSON text.
    pub(crate) fn emit_json(&self, uid: u64, event: &str, json: &str) {
        self.send(uid, packet::event_json(event, json));
    }

    /// `channel.broadcastAll`: every member of the channel.
    pub(crate) fn broadcast(&self, event: &str, data: &impl Serialize) {
        let frame = packet::event(event, data);
        for &uid in &self.members {
            self.send(uid, frame.clone());
        }
    }

    /// The user in the channel whose name matches `name` case-insensitively.
    pub(crate) fn member_named(&self, name: &str) -> Option<u64> {
        let lower = name.to_lowercase();
        self.members
            .iter()
            .copied()
            .find(|uid| self.users[uid].logged_in && self.users[uid].name.to_lowercase() == lower)
    }

    /// The gauges, fresh.
    pub(crate) fn stats(&self) -> FakeStats {
        FakeStats {
            open_connections: self.conns.len(),
            sockets: self.conns.values().filter(|conn| conn.user.is_some()).count(),
            members: self.members.len(),
            ..self.stats.clone()
        }
    }

    /// The earliest armed timer.
    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        let afk = self.users.values().filter_map(|user| user.afk_due).min();
        [self.usercount.timer, afk].into_iter().flatten().min()
    }

    /// Runs every timer due by now: the usercount trailing edge, auto-AFK.
    pub(crate) fn fire_timers(&mut self) {
        let now = self.now();
        if self.usercount.timer.is_some_and(|at| at <= now) && self.usercount.expire(now) {
            self.broadcast("usercount", &self.members.len());
        }
        let due: Vec<u64> =
            self.users.iter().filter(|(_, u)| u.afk_due.is_some_and(|at| at <= now)).map(|(&id, _)| id).collect();
        for uid in due {
            if let Some(user) = self.users.get_mut(&uid) {
                user.afk_due = None;
            }
            self.set_afk(uid, true);
        }
    }
}

/// The state and what wakes those who wait on it.
pub(crate) struct Shared {
    state: Mutex<Fake>,
    /// Bumped after every change; control waits watch it.
    pub(crate) changed: watch::Sender<u64>,
    /// Wakes the timer task when a deadline may have moved.
    pub(crate) timers: Notify,
}

impl Shared {
    pub(crate) fn new(fake: Fake) -> Arc<Shared> {
        Arc::new(Shared { state: Mutex::new(fake), changed: watch::channel(0).0, timers: Notify::new() })
    }

    /// Runs `f` on the state, then wakes the waiters and the timer task.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Fake) -> R) -> R {
        let result = f(&mut self.lock());
        self.changed.send_modify(|version| *version += 1);
        self.timers.notify_one();
        result
    }

    /// Reads the state without waking anyone.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Fake> {
        self.state.lock().expect("fake cytube state lock")
    }
}
