//! Faults: what can go wrong, when, and what it may legitimately cost.
//!
//! Each fault is active over `[from_ms, until_ms)` of virtual time. Network
//! faults are turmoil's (partition, hold, latency, crash, bounce); the rest are
//! injected by the bus link (drop), the store (slow commits) and the chat
//! stand-in (failing sends, mute). Every fault also says which events it may
//! lose and when the system should have recovered from it: that is what lets
//! the invariants tell a declared loss from a bug.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Time after a network fault heals for clients to notice, reconnect and
/// resubscribe: a ping timeout (2 s), reconnect backoff (up to 4 s) and a poll (2 s).
pub const RECOVERY_MS: i64 = 10_000;
/// How much before a crash an uncommitted batch may reach back.
pub const CRASH_REACH_MS: i64 = 1_000;
/// A poll's failure is reported when its timeout expires: this much after a
/// fault that lost it ended.
pub const REQUEST_TIMEOUT_MS: i64 = 2_000;
/// After a db-service crash, how long until the hardened bot's next poll finds
/// nobody listening and starts holding commands (one poll period, plus a tick).
pub const UNHEARD_MS: i64 = 2_100;

/// One scheduled fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// No traffic between hosts `a` and `b` (only a -> b when `oneway`).
    Partition {
        a: String,
        b: String,
        #[serde(default)]
        oneway: bool,
        from_ms: i64,
        until_ms: i64,
    },
    /// Traffic between `a` and `b` is held, then released.
    Hold { a: String, b: String, from_ms: i64, until_ms: i64 },
    /// Extra latency on the link between `a` and `b`.
    Latency { a: String, b: String, ms: u64, from_ms: i64, until_ms: i64 },
    /// The bot's commands on `subject` (a NATS pattern; all when absent) are
    /// lost with `probability`; for a request, its reply is lost.
    Drop {
        #[serde(default)]
        subject: Option<String>,
        probability: f64,
        from_ms: i64,
        until_ms: i64,
    },
    /// The db-service host `host` (default `db`) crashes, and restarts at `until_ms`.
    CrashDb {
        #[serde(default = "default_db")]
        host: String,
        from_ms: i64,
        until_ms: i64,
    },
    /// The bus crashes (all its state lost) and restarts at `until_ms`.
    RestartBus { from_ms: i64, until_ms: i64 },
    /// Every store commit takes `commit_ms` more.
    SlowStore { commit_ms: u64, from_ms: i64, until_ms: i64 },
    /// Chat sends fail with a transient error (not connected).
    ChatFail { from_ms: i64, until_ms: i64 },
    /// The bot is muted: sends fail with a permanent error.
    Mute { from_ms: i64, until_ms: i64 },
    /// `lines` extra chat lines from `user`, evenly spread over the window.
    Burst {
        lines: usize,
        #[serde(default = "default_burst_user")]
        user: String,
        from_ms: i64,
        until_ms: i64,
    },
}

/// The fault kinds, for the swarm menu.
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
    Burst,
}

fn default_db() -> String {
    "db".into()
}
fn default_burst_user() -> String {
    "burst".into()
}

/// The subjects that carry events a database row comes from.
const EVENT_SUBJECTS: [&str; 6] = [
    "rosey.db.user.joined",
    "rosey.db.user.left",
    "rosey.db.message.log",
    "rosey.db.stats.user_count",
    "rosey.db.stats.high_water",
    "rosey.db.status.update",
];

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::Hold { .. } => FaultKind::Hold,
            Fault::Latency { .. } => FaultKind::Latency,
            Fault::Drop { .. } => FaultKind::Drop,
            Fault::CrashDb { .. } => FaultKind::CrashDb,
            Fault::RestartBus { .. } => FaultKind::RestartBus,
            Fault::SlowStore { .. } => FaultKind::SlowStore,
            Fault::ChatFail { .. } => FaultKind::ChatFail,
            Fault::Mute { .. } => FaultKind::Mute,
            Fault::Burst { .. } => FaultKind::Burst,
        }
    }

    /// `[from_ms, until_ms)`.
    pub fn window(&self) -> (i64, i64) {
        match *self {
            Fault::Partition { from_ms, until_ms, .. }
            | Fault::Hold { from_ms, until_ms, .. }
            | Fault::Latency { from_ms, until_ms, .. }
            | Fault::Drop { from_ms, until_ms, .. }
            | Fault::CrashDb { from_ms, until_ms, .. }
            | Fault::RestartBus { from_ms, until_ms }
            | Fault::SlowStore { from_ms, until_ms, .. }
            | Fault::ChatFail { from_ms, until_ms }
            | Fault::Mute { from_ms, until_ms }
            | Fault::Burst { from_ms, until_ms, .. } => (from_ms, until_ms),
        }
    }

    pub fn is_active(&self, t_ms: i64) -> bool {
        let (from, until) = self.window();
        from <= t_ms && t_ms < until
    }

    /// Faults that only make sense with a bus (everything but bursts and chat faults).
    pub fn needs_bus(&self) -> bool {
        !matches!(self, Fault::Burst { .. } | Fault::ChatFail { .. } | Fault::Mute { .. })
    }

    /// The span of virtual time whose events this fault may lose, if any.
    pub fn loss_window(&self) -> Option<(i64, i64)> {
        let (from, until) = self.window();
        match self {
            Fault::Partition { .. } | Fault::Hold { .. } => Some((from, until + RECOVERY_MS)),
            Fault::RestartBus { .. } => Some((from - CRASH_REACH_MS, until + RECOVERY_MS)),
            Fault::CrashDb { .. } => Some((from - CRASH_REACH_MS, from + UNHEARD_MS)),
            Fault::Drop { subject, .. } => {
                let loses_events = match subject {
                    None => true,
                    Some(pattern) => EVENT_SUBJECTS.iter().any(|s| crate::bus::subject::matches(pattern, s)),
                };
                loses_events.then_some((from, until))
            }
            Fault::Latency { .. }
            | Fault::SlowStore { .. }
            | Fault::ChatFail { .. }
            | Fault::Mute { .. }
            | Fault::Burst { .. } => None,
        }
    }

    /// The span during which a poll may fail (time out, find no responders)
    /// because of this fault. Slow stores and bursts are not excuses: a
    /// db-service must answer through them.
    pub fn poll_excuse(&self) -> Option<(i64, i64)> {
        let (from, until) = self.window();
        match self {
            Fault::Partition { .. } | Fault::Hold { .. } | Fault::RestartBus { .. } | Fault::CrashDb { .. } => {
                Some((from, until + RECOVERY_MS))
            }
            Fault::Latency { ms, .. } => (*ms >= 1_000).then_some((from, until + RECOVERY_MS)),
            Fault::Drop { subject, .. } => {
                let hits_polls = subject
                    .as_deref()
                    .is_none_or(|p| crate::bus::subject::matches(p, "rosey.db.messages.outbound.get"));
                hits_polls.then_some((from, until + REQUEST_TIMEOUT_MS))
            }
            Fault::SlowStore { .. } | Fault::ChatFail { .. } | Fault::Mute { .. } | Fault::Burst { .. } => None,
        }
    }

    /// Checks hosts and numbers.
    pub fn validate(&self, db_services: usize) -> Result<(), String> {
        let (from, until) = self.window();
        if from < 0 || until <= from {
            return Err(format!("the window must satisfy 0 <= from_ms < until_ms, got {from}..{until}"));
        }
        let host_ok = |h: &str| matches!(h, "bot" | "bus") || db_host_names(db_services).iter().any(|name| name == h);
        match self {
            Fault::Partition { a, b, .. } | Fault::Hold { a, b, .. } | Fault::Latency { a, b, .. } => {
                for host in [a, b] {
                    if !host_ok(host) {
                        return Err(format!(
                            "unknown host {host:?} (hosts: bot, bus, {})",
                            db_host_names(db_services).join(", ")
                        ));
                    }
                }
                if a == b {
                    return Err("a and b must be different hosts".into());
                }
            }
            Fault::CrashDb { host, .. } if !db_host_names(db_services).contains(host) => {
                return Err(format!("crash_db host {host:?} is not a db-service host"));
            }
            Fault::Drop { probability, .. } if !(0.0..=1.0).contains(probability) => {
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

/// Draws `count` faults from `menu` for one seed, within `[5 s, end - 20 s)`
/// so every fault heals before the replay ends.
pub fn draw(menu: &[FaultKind], count: usize, seed: u64, end_ms: i64, db_services: usize) -> Vec<Fault> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_fa17);
    let latest_start = (end_ms - 20_000).max(5_001);
    let hosts: Vec<String> = ["bot", "bus"].iter().map(|h| h.to_string()).chain(db_host_names(db_services)).collect();
    let subjects = [
        None,
        Some("rosey.db.messages.outbound.mark_sent"),
        Some("rosey.db.message.log"),
        Some("rosey.db.messages.outbound.get"),
    ];
    (0..count)
        .map(|_| {
            let kind = menu[rng.random_range(0..menu.len())];
            let from_ms = rng.random_range(5_000..latest_start);
            let until_ms = (from_ms + rng.random_range(1_000..15_000)).min(end_ms - 10_000).max(from_ms + 1);
            let mut pair = || {
                let a = rng.random_range(0..hosts.len());
                let b = (a + rng.random_range(1..hosts.len())) % hosts.len();
                (hosts[a].clone(), hosts[b].clone())
            };
            match kind {
                FaultKind::Partition => {
                    let (a, b) = pair();
                    Fault::Partition { a, b, oneway: rng.random_bool(0.3), from_ms, until_ms }
                }
                FaultKind::Hold => {
                    let (a, b) = pair();
                    Fault::Hold { a, b, from_ms, until_ms }
                }
                FaultKind::Latency => {
                    let (a, b) = pair();
                    Fault::Latency { a, b, ms: rng.random_range(5..400), from_ms, until_ms }
                }
                FaultKind::Drop => Fault::Drop {
                    subject: subjects[rng.random_range(0..subjects.len())].map(str::to_string),
                    probability: f64::from(rng.random_range(1..=10u32)) / 10.0,
                    from_ms,
                    until_ms,
                },
                FaultKind::CrashDb => Fault::CrashDb { host: default_db(), from_ms, until_ms },
                FaultKind::RestartBus => Fault::RestartBus { from_ms, until_ms },
                FaultKind::SlowStore => Fault::SlowStore { commit_ms: rng.random_range(5..300), from_ms, until_ms },
                FaultKind::ChatFail => Fault::ChatFail { from_ms, until_ms },
                FaultKind::Mute => Fault::Mute { from_ms, until_ms },
                FaultKind::Burst => {
                    Fault::Burst { lines: rng.random_range(100..2_000), user: default_burst_user(), from_ms, until_ms }
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_and_heal_before_the_end() {
        let menu = [FaultKind::Partition, FaultKind::Drop, FaultKind::CrashDb, FaultKind::SlowStore];
        let a = draw(&menu, 5, 42, 60_000, 1);
        assert_eq!(a, draw(&menu, 5, 42, 60_000, 1));
        assert_ne!(a, draw(&menu, 5, 43, 60_000, 1));
        for fault in &a {
            let (from, until) = fault.window();
            assert!(5_000 <= from && from < until && until <= 50_000, "{fault:?}");
            fault.validate(1).unwrap();
        }
    }

    #[test]
    fn only_event_losing_faults_have_a_loss_window() {
        let drop_marks = Fault::Drop {
            subject: Some("rosey.db.messages.outbound.mark_sent".into()),
            probability: 1.0,
            from_ms: 0,
            until_ms: 9,
        };
        assert_eq!(drop_marks.loss_window(), None);
        let drop_all = Fault::Drop { subject: Some("rosey.db.>".into()), probability: 0.5, from_ms: 0, until_ms: 9 };
        assert_eq!(drop_all.loss_window(), Some((0, 9)));
        let crash = Fault::CrashDb { host: "db".into(), from_ms: 10_000, until_ms: 30_000 };
        assert_eq!(crash.loss_window(), Some((9_000, 12_100)));
        assert_eq!(Fault::SlowStore { commit_ms: 50, from_ms: 0, until_ms: 9 }.poll_excuse(), None);
    }
}
