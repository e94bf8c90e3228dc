//! The `rosey loadtest` flags and the values they parse into.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::app::parse_duration;

/// The `rosey loadtest` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadtestArgs {
    /// Event mix as kind=weight pairs; kinds: chat, join, leave, status, high_water.
    #[arg(long, default_value = "chat=8,join=1,leave=1")]
    pub mix: Mix,
    /// Bot events per second (open loop: past what the db-service applies,
    /// its backlog overflows and it drops), or `max`: as fast as the
    /// db-service applies, with at most `--in-flight` commands sent and not
    /// yet applied (closed loop, read from its counters).
    #[arg(long, default_value = "1000")]
    pub rate: Rate,
    /// With `--rate max`: the most commands sent and not yet through the db-service.
    #[arg(long, default_value = "50000")]
    pub in_flight: u64,
    /// How long to send (e.g. 10s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How often to probe with an `outbound.get` (the bot polls every 2 s).
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    pub probe_every: Duration,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// A DB-facing bot event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// `chatMsg` -> `message.log`.
    Chat,
    /// `addUser` of a new user -> `user.joined` + `stats.high_water`.
    Join,
    /// `userLeave` -> `user.left`.
    Leave,
    /// The 10 s status tick -> `status.update`.
    Status,
    /// `usercount` -> `stats.high_water`.
    HighWater,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Chat => "chat",
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::Status => "status",
            EventKind::HighWater => "high_water",
        }
    }
}

/// Weighted event kinds, e.g. `chat=8,join=1,leave=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(Vec<(EventKind, u32)>);

impl FromStr for Mix {
    type Err = String;

    fn from_str(s: &str) -> Result<Mix, String> {
        let mut weights = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
            let kind = match name.trim() {
                "chat" => EventKind::Chat,
                "join" => EventKind::Join,
                "leave" => EventKind::Leave,
                "status" => EventKind::Status,
                "high_water" | "high-water" | "highwater" => EventKind::HighWater,
                other => return Err(format!("unknown event kind {other:?} (chat, join, leave, status, high_water)")),
            };
            let weight: u32 = weight.trim().parse().map_err(|_| format!("bad weight in {part:?}"))?;
            if weights.iter().any(|(k, _)| *k == kind) {
                return Err(format!("{} appears twice in the mix", kind.name()));
            }
            if weight > 0 {
                weights.push((kind, weight));
            }
        }
        if weights.is_empty() {
            return Err("the mix has no event with a weight above 0".into());
        }
        Ok(Mix(weights))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(kind, w)| format!("{}={w}", kind.name())).collect();
        f.write_str(&parts.join(","))
    }
}

impl Mix {
    /// An endless, evenly interleaved sequence with the mix's proportions
    /// (smooth weighted round-robin: no randomness, so runs repeat).
    pub(super) fn schedule(&self) -> impl Iterator<Item = EventKind> + '_ {
        let total: i64 = self.0.iter().map(|(_, w)| i64::from(*w)).sum();
        let mut current = vec![0_i64; self.0.len()];
        std::iter::repeat(()).map(move |()| {
            for (credit, (_, weight)) in current.iter_mut().zip(&self.0) {
                *credit += i64::from(*weight);
            }
            let best = (0..current.len()).max_by_key(|&i| (current[i], std::cmp::Reverse(i))).unwrap_or(0);
            current[best] -= total;
            self.0[best].0
        })
    }
}

/// Events per second, or as fast as the link takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    PerSecond(u64),
    Max,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        match s.trim() {
            "max" => Ok(Rate::Max),
            n => match n.replace('_', "").parse::<u64>() {
                Ok(0) | Err(_) => Err(format!("bad rate {s:?}: events per second above 0, or max")),
                Ok(n) => Ok(Rate::PerSecond(n)),
            },
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::PerSecond(n) => write!(f, "{n} events/s"),
            Rate::Max => f.write_str("max rate"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_interleaves_in_proportion() {
        let mix: Mix = "chat=8, join=1,leave=1,status=0".parse().unwrap();
        assert_eq!(mix.to_string(), "chat=8,join=1,leave=1");
        let first: Vec<EventKind> = mix.schedule().take(10).collect();
        let count = |kind| first.iter().filter(|k| **k == kind).count();
        assert_eq!((count(EventKind::Chat), count(EventKind::Join), count(EventKind::Leave)), (8, 1, 1));
        assert_ne!(first[..2], [EventKind::Join, EventKind::Leave], "spread out, not grouped");
        assert!("chat=1,chat=2".parse::<Mix>().is_err());
        assert!("chat=0".parse::<Mix>().is_err());
        assert!("typing=3".parse::<Mix>().unwrap_err().contains("typing"));
    }

    #[test]
    fn rate_and_duration_parse() {
        assert_eq!("max".parse::<Rate>(), Ok(Rate::Max));
        assert_eq!("50_000".parse::<Rate>(), Ok(Rate::PerSecond(50_000)));
        assert!("0".parse::<Rate>().is_err());
    }
}
