//! Faults: what can go wrong, when, and what it may legitimately cost.
//!
//! Each fault is active over `[from_ms, until_ms)` of virtual time. Network
//! faults are turmoil's (partition, hold, latency, crash, bounce); the rest are
//! injected by the bus link (drop), the store (slow commits), the chat
//! stand-in (failing sends, mute) and, with `chat = "cytube"`, the chat host
//! (cuts, restarts, a throttled bot). Every fault also says which events it may
//! lose and when the system should have recovered from it: that is what lets
//! the invariants tell a declared loss from a bug.
//!
//! # Format
//!
//! In a scenario a fault is one table: its window and its kind's keys side by
//! side (`kind = "drop"`, `subject`, `probability`, `from_ms`, `until_ms`).
//! An unknown key is an error, so a typo cannot silently disable a fault.

mod draw;

use rosey::contract::{Subject, DEFAULT_REQUEST_TIMEOUT};
use serde::{Deserialize, Serialize};

pub use draw::draw;

/// Time after a network fault heals for clients to notice, reconnect and
/// resubscribe: a ping timeout (2 s), reconnect backoff (up to 4 s) and a poll (2 s).
pub const RECOVERY_MS: i64 = 10_000;
/// How much before a crash an uncommitted batch may reach back.
pub const CRASH_REACH_MS: i64 = 1_000;
/// A poll's failure is reported when its timeout expires: this much after a
/// fault that lost it ended.
pub const REQUEST_TIMEOUT_MS: i64 = DEFAULT_REQUEST_TIMEOUT.as_millis() as i64;
/// How long a lost JetStream publish's ack is waited for (the bus client's ack timeout).
pub const LOST_ACK_MS: i64 = 5_000;
/// How long a JetStream delivery lost in a fault waits for its redelivery
/// (the db-service's consumer's ack wait).
pub const ACK_WAIT_MS: i64 = rosey::delivery::DEFAULT_ACK_WAIT.as_millis() as i64;
/// After a db-service crash, how long until the hardened bot's next poll finds
/// nobody listening and starts holding commands (one poll period, plus a tick).
pub const UNHEARD_MS: i64 = rosey::bot::OUTBOUND_PERIOD_MS + 100;
/// After a chat fault ends, how long the bot may take to be back in the channel: its
/// reconnect backoff doubles up to 60 s, and a refused connect waits out the connect
/// bucket (10 s plus a 2 s margin); then the handshake, join and login.
pub const CHAT_RECOVERY_MS: i64 = 65_000;

/// One scheduled fault: when, and what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub from_ms: i64,
    pub until_ms: i64,
    #[serde(flatten)]
    pub what: FaultSpec,
}

/// What goes wrong while a [`Fault`] is active.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultSpec {
    /// No traffic between hosts `a` and `b` (only a -> b when `oneway`).
    Partition {
        a: String,
        b: String,
        #[serde(default)]
        oneway: bool,
    },
    /// Traffic between `a` and `b` is held, then released.
    Hold { a: String, b: String },
    /// Extra latency on the link between `a` and `b`.
    Latency { a: String, b: String, ms: u64 },
    /// The bot's commands on `subject` (a NATS pattern; all when absent) are
    /// lost with `probability`; for a request, its reply is lost.
    Drop {
        #[serde(default)]
        subject: Option<String>,
        probability: f64,
    },
    /// The db-service host `host` (default `db`) crashes, and restarts at `until_ms`.
    CrashDb {
        #[serde(default = "default_db")]
        host: String,
    },
    /// The bus crashes (all its state lost) and restarts at `until_ms`.
    RestartBus,
    /// Every store commit takes `commit_ms` more.
    SlowStore { commit_ms: u64 },
    /// Chat sends fail with a transient error (not connected).
    ChatFail,
    /// The bot is muted: sends fail with a permanent error.
    Mute,
    /// `chat = "cytube"` only: the chat server cuts the bot's socket at
    /// `from_ms` and refuses its connects (`44 Rate limit exceeded`) until `until_ms`.
    ChatDisconnect,
    /// `chat = "cytube"` only: the chat server's host crashes at `from_ms`
    /// (every socket closed, every user gone) and starts again at `until_ms`
    /// with its history; the channel's users come back 500 ms later.
    ChatRestart,
    /// `chat = "cytube"` only: the server drops every line from the bot, with
    /// a `cooldown`, as a stricter throttle than the bot mirrors would.
    ChatThrottle,
    /// `lines` extra chat lines from `user`, evenly spread over the window.
    Burst {
        lines: usize,
        #[serde(default = "default_burst_user")]
        user: String,
    },
}

/// The fault kinds, for the swarm menu: [`FaultSpec`]'s variants without their keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Partition,
    Hold,
    Latency,
    Drop,
    CrashDb,
    RestartBus,
    SlowStore,
    ChatFail,
    Mute,
    ChatDisconnect,
    ChatRestart,
    ChatThrottle,
    Burst,
}

fn default_db() -> String {
    "db".into()
}
fn default_burst_user() -> String {
    "burst".into()
}

/// Whether a `drop` fault's pattern (all subjects when absent) covers `subject`.
pub fn pattern_covers(pattern: Option<&str>, subject: Subject) -> bool {
    pattern.is_none_or(|p| crate::bus::subject::matches(p, subject.as_str()))
}

impl FaultSpec {
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultSpec::Partition { .. } => FaultKind::Partition,
            FaultSpec::Hold { .. } => FaultKind::Hold,
            FaultSpec::Latency { .. } => FaultKind::Latency,
            FaultSpec::Drop { .. } => FaultKind::Drop,
            FaultSpec::CrashDb { .. } => FaultKind::CrashDb,
            FaultSpec::RestartBus => FaultKind::RestartBus,
            FaultSpec::SlowStore { .. } => FaultKind::SlowStore,
            FaultSpec::ChatFail => FaultKind::ChatFail,
            FaultSpec::Mute => FaultKind::Mute,
            FaultSpec::ChatDisconnect => FaultKind::ChatDisconnect,
            FaultSpec::ChatRestart => FaultKind::ChatRestart,
            FaultSpec::ChatThrottle => FaultKind::ChatThrottle,
            FaultSpec::Burst { .. } => FaultKind::Burst,
        }
    }
}

impl Fault {
    pub fn new(from_ms: i64, until_ms: i64, what: FaultSpec) -> Fault {
        Fault { from_ms, until_ms, what }
    }

    pub fn kind(&self) -> FaultKind {
        self.what.kind()
    }

    /// `[from_ms, until_ms)`.
    pub fn window(&self) -> (i64, i64) {
        (self.from_ms, self.until_ms)
    }

    pub fn is_active(&self, t_ms: i64) -> bool {
        self.from_ms <= t_ms && t_ms < self.until_ms
    }

    /// Faults that only make sense with a bus (everything but bursts and the stand-in's chat faults).
    pub fn needs_bus(&self) -> bool {
        !matches!(self.what, FaultSpec::Burst { .. } | FaultSpec::ChatFail | FaultSpec::Mute)
    }

    /// Faults of the CyTube host, which need `chat = "cytube"`.
    pub fn needs_cytube(&self) -> bool {
        matches!(self.what, FaultSpec::ChatDisconnect | FaultSpec::ChatRestart | FaultSpec::ChatThrottle)
    }

    /// Faults that act on the chat stand-in or the fixture, which `chat = "cytube"` does not
    /// model: the stand-in's failing sends and mute, and bursts (one simulated user's
    /// thousands of lines would meet the server's throttle, not the bot's database path).
    pub fn needs_standin(&self) -> bool {
        matches!(self.what, FaultSpec::Burst { .. } | FaultSpec::ChatFail | FaultSpec::Mute)
    }

    /// For a chat fault: the span in which the bot may be away from the channel, so
    /// users' joins and leaves are seen late (at the re-join's `userlist`) and chat
    /// lines are recovered from the history (or, past its 15 lines, lost).
    pub fn chat_away(&self) -> Option<(i64, i64)> {
        let (from, until) = self.window();
        match self.what {
            FaultSpec::ChatDisconnect | FaultSpec::ChatRestart => Some((from, until + CHAT_RECOVERY_MS)),
            _ => None,
        }
    }

    /// The span of virtual time whose events this fault may lose, if any.
    pub fn loss_window(&self) -> Option<(i64, i64)> {
        let (from, until) = self.window();
        match &self.what {
            FaultSpec::Partition { .. } | FaultSpec::Hold { .. } => Some((from, until + RECOVERY_MS)),
            FaultSpec::RestartBus => Some((from - CRASH_REACH_MS, until + RECOVERY_MS)),
            FaultSpec::CrashDb { .. } => Some((from - CRASH_REACH_MS, from + UNHEARD_MS)),
            FaultSpec::Drop { subject, .. } => {
                let loses_events =
                    Subject::ALL.into_iter().any(|s| s.is_channel_event() && pattern_covers(subject.as_deref(), s));
                loses_events.then_some((from, until))
            }
            // Users seen late; chat lines have their own rule (the history), see `chat_away`.
            FaultSpec::ChatDisconnect | FaultSpec::ChatRestart => None,
            FaultSpec::Latency { .. }
            | FaultSpec::SlowStore { .. }
            | FaultSpec::ChatFail
            | FaultSpec::Mute
            | FaultSpec::ChatThrottle
            | FaultSpec::Burst { .. } => None,
        }
    }

    /// Whether the fault acts on the bot's chat link (the `chat` host) rather
    /// than on the bus: JetStream cannot recover what it loses.
    pub fn on_chat_link(&self) -> bool {
        match &self.what {
            FaultSpec::Partition { a, b, .. } | FaultSpec::Hold { a, b } | FaultSpec::Latency { a, b, .. } => {
                a == crate::chathost::CHAT_HOST || b == crate::chathost::CHAT_HOST
            }
            _ => self.needs_cytube(),
        }
    }

    /// Under JetStream: the span during which a poll may fail because a
    /// `drop` ate an event or mark before it. The bot's read waits for the
    /// acks of what it sent before it, and a lost publish is acked only
    /// after its ack times out and it is republished.
    pub fn poll_excuse_jetstream(&self) -> Option<(i64, i64)> {
        let (from, until) = self.window();
        match &self.what {
            FaultSpec::Drop { subject, .. } => {
                let drops_stream =
                    Subject::ALL.into_iter().any(|s| !s.is_request() && pattern_covers(subject.as_deref(), s));
                if drops_stream {
                    Some((from, until + LOST_ACK_MS + REQUEST_TIMEOUT_MS))
                } else {
                    self.poll_excuse()
                }
            }
            // A delivery lost in the fault comes back after the consumer's
            // ack wait, and reads wait for it: recovery takes that longer.
            _ => self.poll_excuse().map(|(from, until)| (from, until + ACK_WAIT_MS)),
        }
    }

    /// The span during which a poll may fail (time out, find no responders)
    /// because of this fault. Slow stores and bursts are not excuses: a
    /// db-service must answer through them.
    pub fn poll_excuse(&self) -> Option<(i64, i64)> {
        let (from, until) = self.window();
        match &self.what {
            FaultSpec::Partition { .. }
            | FaultSpec::Hold { .. }
            | FaultSpec::RestartBus
            | FaultSpec::CrashDb { .. } => Some((from, until + RECOVERY_MS)),
            FaultSpec::Latency { ms, .. } => (*ms >= 1_000).then_some((from, until + RECOVERY_MS)),
            FaultSpec::Drop { subject, .. } => {
                pattern_covers(subject.as_deref(), Subject::OutboundGet).then_some((from, until + REQUEST_TIMEOUT_MS))
            }
            FaultSpec::SlowStore { .. }
            | FaultSpec::ChatFail
            | FaultSpec::Mute
            | FaultSpec::ChatDisconnect
            | FaultSpec::ChatRestart
            | FaultSpec::ChatThrottle
            | FaultSpec::Burst { .. } => None,
        }
    }

    /// Checks hosts and numbers.
    ///
    /// # Errors
    ///
    /// A sentence naming the bad value and what is allowed.
    pub fn validate(&self, db_services: usize, other_hosts: &[&str]) -> Result<(), String> {
        let (from, until) = self.window();
        if from < 0 || until <= from {
            return Err(format!("the window must satisfy 0 <= from_ms < until_ms, got {from}..{until}"));
        }
        // `other_hosts`: a CyTube host, say, whose link to `bot` a partition
        // or hold then cuts or stalls.
        let mut hosts: Vec<String> = ["bot", "bus"].iter().map(|h| h.to_string()).collect();
        hosts.extend(db_host_names(db_services));
        hosts.extend(other_hosts.iter().map(|h| h.to_string()));
        match &self.what {
            FaultSpec::Partition { a, b, .. } | FaultSpec::Hold { a, b } | FaultSpec::Latency { a, b, .. } => {
                for host in [a, b] {
                    if !hosts.contains(host) {
                        return Err(format!("unknown host {host:?} (hosts: {})", hosts.join(", ")));
                    }
                }
                if a == b {
                    return Err("a and b must be different hosts".into());
                }
            }
            FaultSpec::CrashDb { host } if !db_host_names(db_services).contains(host) => {
                return Err(format!("crash_db host {host:?} is not a db-service host"));
            }
            FaultSpec::Drop { probability, .. } if !(0.0..=1.0).contains(probability) => {
                return Err(format!("probability must be within 0..=1, got {probability}"));
            }
            _ => {}
        }
        Ok(())
    }
}

/// The db-service host names: `db`, `db2`, `db3`, ...
pub fn db_host_names(count: usize) -> Vec<String> {
    (1..=count).map(|i| if i == 1 { "db".to_string() } else { format!("db{i}") }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_event_losing_faults_have_a_loss_window() {
        let marks = Some(Subject::OutboundMarkSent.as_str().to_string());
        let drop_marks = Fault::new(0, 9, FaultSpec::Drop { subject: marks, probability: 1.0 });
        assert_eq!(drop_marks.loss_window(), None);
        let drop_all = Fault::new(0, 9, FaultSpec::Drop { subject: Some("rosey.db.>".into()), probability: 0.5 });
        assert_eq!(drop_all.loss_window(), Some((0, 9)));
        let crash = Fault::new(10_000, 30_000, FaultSpec::CrashDb { host: "db".into() });
        assert_eq!(crash.loss_window(), Some((9_000, 12_100)));
        assert_eq!(Fault::new(0, 9, FaultSpec::SlowStore { commit_ms: 50 }).poll_excuse(), None);
    }

    #[test]
    fn a_fault_is_one_table_and_unknown_keys_are_refused() {
        let fault: Fault = toml::from_str("kind = \"drop\"\nprobability = 0.5\nfrom_ms = 1\nuntil_ms = 2\n").unwrap();
        assert_eq!(fault, Fault::new(1, 2, FaultSpec::Drop { subject: None, probability: 0.5 }));
        let typo = toml::from_str::<Fault>("kind = \"drop\"\nprobabilty = 0.5\nfrom_ms = 1\nuntil_ms = 2\n");
        assert!(typo.unwrap_err().to_string().contains("probabilty"));
        let restart: Fault = toml::from_str("kind = \"restart_bus\"\nfrom_ms = 1\nuntil_ms = 2\n").unwrap();
        assert_eq!(restart.what, FaultSpec::RestartBus);
    }
}
