//! Did each fault take effect? A fault that never touched anything proves
//! nothing, so every run records, per fault, the evidence that it bit (in
//! the spirit of Antithesis' "sometimes" assertions), and `sweep` fails
//! when a kind in its menu never bit across the whole sweep.
//!
//! The evidence is read from the run's trace, which records every command
//! sent, every apply, every poll's fate and every line said:
//!
//! - `drop`: a command it covers was dropped while it was active;
//! - `partition`, `hold`, `latency`: traffic crossed the link it cuts, holds
//!   or slows while it was active (the bot sent, a db-service applied, or
//!   the chat spoke, as the link's ends say): each such message was lost,
//!   held or delayed;
//! - `crash_db`, `restart_bus`: the bot sent while the host was down;
//! - `slow_store`: a db-service applied (and so committed) while active;
//! - `chat_fail`, `mute`, `chat_throttle`: the bot tried to say a line while active;
//! - `chat_disconnect`, `chat_restart`: the bot saw its chat connection drop;
//! - `burst`: it added lines.

use std::collections::BTreeMap;

use rosey::trace::{TraceEvent, TraceRecord};
use serde::Serialize;

use crate::fault::{pattern_covers, Fault, FaultKind, FaultSpec};

/// Whether one fault bit, and how we know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Effect {
    pub kind: FaultKind,
    pub took_effect: bool,
    pub evidence: String,
}

/// The effect of each fault of a run, in schedule order.
pub fn effects(faults: &[Fault], trace: &[TraceRecord]) -> Vec<Effect> {
    faults.iter().map(|fault| effect(fault, trace)).collect()
}

fn active(fault: &Fault, record: &TraceRecord) -> bool {
    fault.is_active(record.t)
}

/// Records on `host` while `fault` is active that `matches`.
fn count(fault: &Fault, trace: &[TraceRecord], matches: impl Fn(&TraceRecord) -> bool) -> usize {
    trace.iter().filter(|r| active(fault, r) && matches(r)).count()
}

fn is_db(host: &str) -> bool {
    host == "db" || (host.starts_with("db") && host[2..].chars().all(|c| c.is_ascii_digit()))
}

/// Messages that crossed the link between `a` and `b` while `fault` was active.
fn link_traffic(fault: &Fault, trace: &[TraceRecord], a: &str, b: &str) -> (usize, &'static str) {
    let ends = |x: &str, y: &str| (a == x && b == y) || (a == y && b == x);
    let bot_sends = || count(fault, trace, |r| r.host == "bot" && matches!(r.event, TraceEvent::Send { .. }));
    if ends("bot", "bus") {
        return (bot_sends(), "commands the bot sent across it");
    }
    if a == "bus" && is_db(b) || b == "bus" && is_db(a) {
        let db = if a == "bus" { b } else { a };
        let applied = count(fault, trace, |r| r.host == db && matches!(r.event, TraceEvent::Apply { .. }));
        return (applied + bot_sends(), "commands sent for, or applied by, the db-service");
    }
    if a == "chat" || b == "chat" {
        let said = count(fault, trace, |r| matches!(r.event, TraceEvent::Say { .. } | TraceEvent::Event { .. }));
        return (said, "chat events and lines across it");
    }
    // Links the bot's traffic does not cross (bot-db: everything goes through the bus).
    (0, "messages across it (none cross this link)")
}

fn effect(fault: &Fault, trace: &[TraceRecord]) -> Effect {
    let (n, what) = match &fault.what {
        FaultSpec::Drop { subject, .. } => {
            let dropped = count(
                fault,
                trace,
                |r| matches!(&r.event, TraceEvent::FaultDrop { subject: s } if pattern_covers(subject.as_deref(), *s)),
            );
            (dropped, "commands dropped")
        }
        FaultSpec::Partition { a, b, .. } | FaultSpec::Hold { a, b } | FaultSpec::Latency { a, b, .. } => {
            link_traffic(fault, trace, a, b)
        }
        FaultSpec::CrashDb { .. } | FaultSpec::RestartBus => (
            count(fault, trace, |r| r.host == "bot" && matches!(r.event, TraceEvent::Send { .. })),
            "commands the bot sent while it was down",
        ),
        FaultSpec::SlowStore { .. } => (
            count(fault, trace, |r| matches!(r.event, TraceEvent::Apply { .. })),
            "commands applied under slow commits",
        ),
        FaultSpec::ChatFail | FaultSpec::Mute | FaultSpec::ChatThrottle => {
            (count(fault, trace, |r| matches!(r.event, TraceEvent::Say { .. })), "lines the bot tried to say")
        }
        FaultSpec::ChatDisconnect | FaultSpec::ChatRestart => {
            // The drop is noticed at or a little after the cut.
            let cut =
                Fault { until_ms: fault.until_ms.max(fault.from_ms + crate::fault::CHAT_RECOVERY_MS), ..fault.clone() };
            let lost = count(
                &cut,
                trace,
                |r| matches!(&r.event, TraceEvent::Event { event, .. } if event == "rosey:disconnect"),
            );
            (lost, "chat connections the bot saw drop")
        }
        FaultSpec::Burst { lines, .. } => (*lines, "lines added"),
    };
    Effect { kind: fault.kind(), took_effect: n > 0, evidence: format!("{n} {what}") }
}

/// Per fault kind, across runs: how many faults were scheduled and how many bit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub by_kind: BTreeMap<String, (usize, usize)>,
}

impl Coverage {
    pub fn add(&mut self, effects: &[Effect]) {
        for effect in effects {
            let entry = self.by_kind.entry(kind_name(effect.kind)).or_default();
            entry.0 += 1;
            entry.1 += usize::from(effect.took_effect);
        }
    }

    /// The kinds of `menu` that never took effect (never drawn, or never bit).
    pub fn never_bit(&self, menu: &[FaultKind]) -> Vec<String> {
        let kinds: std::collections::BTreeSet<String> = menu.iter().map(|kind| kind_name(*kind)).collect();
        kinds.into_iter().filter(|name| self.by_kind.get(name).is_none_or(|(_, bit)| *bit == 0)).collect()
    }

    /// One line per kind: `partition  12 scheduled, 11 took effect`.
    pub fn render(&self) -> String {
        let mut out = String::from("fault coverage (took effect / scheduled):\n");
        for (kind, (scheduled, bit)) in &self.by_kind {
            out.push_str(&format!("  {kind:<16} {bit:>5} / {scheduled:<5}\n"));
        }
        out
    }
}

/// A kind's name as a scenario writes it.
pub fn kind_name(kind: FaultKind) -> String {
    serde_json::to_value(kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}
