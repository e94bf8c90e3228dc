//! The bot and the events fed to it, and the measured loop of
//! `bot_event_cost`: `Bot::handle` plus `link.send`, a chunk at a time.

use std::future::Future;
use std::time::{Duration, Instant};

use rosey::bot::{Bot, Protocol};
use rosey::clock::Clock;
use rosey::contract::Command;
use rosey::cytube::{ChatEvent, User, UserlistUpdate};
use rosey::link::{BusLink, DbLink, DirectLink};
use rosey::transport::Transport;

use super::setup::{CHANNEL_USERS, CHUNK, T0_MS};

/// A DB-facing bot event kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `chatMsg` -> `message.log`.
    Chat,
    /// `addUser` of a new user -> `user.joined` + `stats.high_water`.
    Join,
    /// `userLeave` -> `user.left`.
    Leave,
    /// `usercount` -> `stats.high_water`.
    HighWater,
    /// The 10 s tick -> `status.update` (`Bot::status`, not `Bot::handle`).
    Status,
}

pub const KINDS: [Kind; 5] = [Kind::Chat, Kind::Join, Kind::Leave, Kind::HighWater, Kind::Status];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::Join => "join",
            Kind::Leave => "leave",
            Kind::HighWater => "high_water",
            Kind::Status => "status",
        }
    }
}

/// What one measured step does.
pub enum Step {
    Event(ChatEvent),
    Status,
}

/// The bot, in a channel of [`CHANNEL_USERS`], and the events fed to it.
///
/// Events are built before the clock starts (parsing a socket event is not
/// the bot's cost here). `Join` and `Leave` need a counterpart so the channel
/// stays realistic (a bot's userlist is tens of users, not millions): a
/// measured chunk of joins is followed by unmeasured leaves of the same
/// users, a measured chunk of leaves is preceded by unmeasured joins.
pub struct Feed {
    pub bot: Bot,
    next_user: u64,
    chat: Vec<ChatEvent>,
    next_chat: usize,
    chunk_users: Vec<String>,
    at_ms: i64,
}

impl Feed {
    /// The feed and the opening userlist's commands (send them first).
    pub fn new() -> (Feed, Vec<Command>) {
        let mut bot = Bot::new("bench", "Rosey", T0_MS, Protocol::Hardened);
        let users = (0..CHANNEL_USERS).map(|i| user(format!("chatter{i}"))).collect();
        let opening = bot.handle(&ChatEvent::Userlist(UserlistUpdate { users, dropped: Vec::new() }), T0_MS);
        let chat = (0..CHUNK as usize)
            .map(|i| ChatEvent::ChatMsg {
                username: format!("chatter{}", i % CHANNEL_USERS),
                msg: format!("bench line {i}: the quick brown fox jumps over the lazy dog"),
                time: None,
            })
            .collect();
        (Feed { bot, next_user: 0, chat, next_chat: 0, chunk_users: Vec::new(), at_ms: T0_MS }, opening)
    }

    /// The time of the next chunk: one second later each time.
    pub fn tick(&mut self) -> i64 {
        self.at_ms += 1000;
        self.at_ms
    }

    /// Builds the steps of a chunk of `n` events of `kind`, and the
    /// unmeasured commands to send before it.
    pub fn chunk(&mut self, kind: Kind, n: u64, at_ms: i64) -> (Vec<Command>, Vec<Step>) {
        let mut before = Vec::new();
        let steps = (0..n)
            .map(|_| match kind {
                Kind::Chat => {
                    self.next_chat = (self.next_chat + 1) % self.chat.len();
                    Step::Event(self.chat[self.next_chat].clone())
                }
                Kind::Join => Step::Event(ChatEvent::AddUser(user(self.fresh_user()))),
                Kind::Leave => {
                    let name = self.fresh_user();
                    before.extend(self.bot.handle(&ChatEvent::AddUser(user(name.clone())), at_ms));
                    Step::Event(ChatEvent::UserLeave { name })
                }
                Kind::HighWater => Step::Event(ChatEvent::Usercount(40 + (self.next_user % 7) as i64)),
                Kind::Status => Step::Status,
            })
            .collect();
        (before, steps)
    }

    /// The measured part: the bot's handler for one step.
    pub fn step(&mut self, step: &Step, at_ms: i64) -> Vec<Command> {
        match step {
            Step::Event(event) => {
                if let ChatEvent::AddUser(user) = event {
                    self.chunk_users.push(user.name.clone());
                }
                self.bot.handle(event, at_ms)
            }
            Step::Status => vec![self.bot.status(at_ms, true)],
        }
    }

    /// The unmeasured commands after a chunk: the joined users leave again.
    pub fn after(&mut self, at_ms: i64) -> Vec<Command> {
        let names = std::mem::take(&mut self.chunk_users);
        names.iter().flat_map(|name| self.bot.handle(&ChatEvent::UserLeave { name: name.clone() }, at_ms)).collect()
    }

    fn fresh_user(&mut self) -> String {
        self.next_user += 1;
        format!("visitor{}", self.next_user)
    }

    /// The bot's commands for the next chat line (for end-to-end batches).
    pub fn chat(&mut self, at_ms: i64) -> Vec<Command> {
        self.next_chat = (self.next_chat + 1) % self.chat.len();
        self.bot.handle(&self.chat[self.next_chat], at_ms)
    }
}

fn user(name: String) -> User {
    User { name, rank: 0.0, afk: false, muted: false }
}

/// How a link finishes the bot's side of a chunk, and lets the far side catch up.
pub trait Drain {
    /// Ends the measured part: for a bus link, until everything published is
    /// written to the socket (async-nats and the sim client both write from a
    /// background task, on the bot's own runtime thread).
    fn drain(&self) -> impl Future<Output = ()>;
    /// Unmeasured: lets the server catch up (a round trip for bus links).
    fn settle(&self) -> impl Future<Output = ()>;
}

impl<C: Clock> Drain for DirectLink<C> {
    async fn drain(&self) {}
    async fn settle(&self) {}
}

impl<T: Transport> Drain for BusLink<T> {
    /// With JetStream also until every publish is acknowledged: collecting
    /// the acks is part of what an event costs the bot.
    async fn drain(&self) {
        self.transport().flush().await.expect("flush");
        if self.stream_stats().is_some() {
            self.settle(std::time::Duration::from_secs(30)).await.expect("the stream acknowledges");
        }
    }
    async fn settle(&self) {
        self.transport().round_trip().await.expect("round trip");
    }
}

pub async fn send_all<L: DbLink>(link: &L, commands: Vec<Command>) {
    for command in commands {
        link.send(command).await.expect("send");
    }
}

/// The bot-side cost of `iters` events of `kind`: `Bot::handle` (or
/// `Bot::status`) plus `link.send` of each command, in chunks of [`CHUNK`],
/// each ended by [`Drain::drain`]. Only that is timed. Returns the time and
/// how many chunks saw the tokio clock move (under turmoil: a chunk that
/// waited for another simulated host, which would bill its work to the bot).
pub async fn bot_cost<L: DbLink + Drain>(feed: &mut Feed, link: &L, kind: Kind, iters: u64) -> (Duration, u64) {
    let (mut total, mut spanned, mut left) = (Duration::ZERO, 0, iters);
    while left > 0 {
        let n = left.min(CHUNK);
        left -= n;
        let at_ms = feed.tick();
        let (before, steps) = feed.chunk(kind, n, at_ms);
        send_all(link, before).await;
        link.drain().await;
        let (wall, clock) = (Instant::now(), tokio::time::Instant::now());
        for step in &steps {
            for command in feed.step(step, at_ms) {
                link.send(command).await.expect("send");
            }
        }
        link.drain().await;
        total += wall.elapsed();
        if clock.elapsed() > Duration::ZERO {
            spanned += 1;
        }
        let after = feed.after(at_ms);
        send_all(link, after).await;
        link.settle().await;
    }
    (total, spanned)
}
