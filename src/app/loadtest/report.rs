//! What a load test did, and how it reads to a person.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::args::{Mix, Rate};
use super::percentiles::Percentiles;
use crate::delivery::Delivery;

/// What a load test did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadtestReport {
    pub mix: Mix,
    pub rate: Rate,
    pub delivery: Delivery,
    /// How long events were sent.
    pub sending: Duration,
    /// From the start until the service had applied (or dropped) everything sent.
    pub until_applied: Duration,
    /// Bot events generated, by kind.
    pub events: BTreeMap<&'static str, u64>,
    /// Commands published (the opening userlist's included).
    pub sent: u64,
    /// Commands the link refused (disconnected, payload too large).
    pub send_errors: u64,
    /// Commands held in the link's outbox (no db-service answered).
    pub held: usize,
    /// Whether the db-service reported its counters (a v0.5.0 service does not).
    pub counters: bool,
    /// Commands applied, by the service's counters (without them: sent minus
    /// what the tail check missed).
    pub applied: u64,
    /// Commands the service dropped because its backlog was full (core delivery).
    pub dropped: u64,
    /// Commands sent that the service never counted (lost on the way).
    pub unaccounted: u64,
    /// The most commands sent and not yet through the service, at any reading.
    pub backlog_peak: u64,
    /// The service's own peak: its queue of events (core) or its lag behind the stream (JetStream).
    pub service_backlog_peak: u64,
    /// The db-service's peak resident memory in bytes (0: it did not say).
    pub service_peak_memory: u64,
    /// Chat lines sent, checked by the final tail check, and missing there.
    pub chat_lines: u64,
    pub tail_checked: u64,
    pub tail_missing: u64,
    /// `outbound.get` polls that timed out or failed, during the flood and after it.
    pub polls_failed_during: u64,
    pub polls_failed_after: u64,
    /// `outbound.get` round trips during the flood.
    pub get_during: Percentiles,
    /// `outbound.get` round trips after it, while the backlog drains and a little after.
    pub get_after: Percentiles,
    /// From a command's send to the service's counters showing it applied.
    pub applied_latency: Percentiles,
}

impl LoadtestReport {
    pub fn events_total(&self) -> u64 {
        self.events.values().sum()
    }
}

/// A rate over `over`, safe for a zero duration.
pub(super) fn per_sec(count: u64, over: Duration) -> f64 {
    count as f64 / over.as_secs_f64().max(1e-9)
}

impl fmt::Display for LoadtestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let events = self.events_total();
        let by_kind: Vec<String> = self.events.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            f,
            "loadtest: {} for {:.1} s, mix {}, {} delivery",
            self.rate,
            self.sending.as_secs_f64(),
            self.mix,
            self.delivery
        )?;
        writeln!(
            f,
            "sent     {events} events ({:.0}/s: {}), {} commands ({:.0}/s)",
            per_sec(events, self.sending),
            by_kind.join(", "),
            self.sent,
            per_sec(self.sent, self.sending)
        )?;
        writeln!(
            f,
            "applied  {} commands ({:.0}/s), all through the db-service {:.1} ms after the last send",
            self.applied,
            per_sec(self.applied, self.until_applied),
            self.until_applied.saturating_sub(self.sending).as_secs_f64() * 1e3
        )?;
        if !self.counters {
            writeln!(
                f,
                "         (the db-service reports no counters: applied is sent minus the tail's missing lines)"
            )?;
        }
        match self.dropped {
            0 => writeln!(f, "dropped  none")?,
            n => writeln!(
                f,
                "DROPPED  {n} commands: the db-service's backlog was full (a slow consumer; its log says when)"
            )?,
        }
        if self.unaccounted > 0 {
            writeln!(f, "LOST     {} commands sent were never counted by the db-service", self.unaccounted)?;
        }
        if self.send_errors > 0 || self.held > 0 {
            writeln!(
                f,
                "LOST     {} commands refused by the link, {} held in its outbox",
                self.send_errors, self.held
            )?;
        }
        writeln!(
            f,
            "backlog  peak {} commands sent and not yet applied (the db-service's own peak since it started: {})",
            self.backlog_peak, self.service_backlog_peak
        )?;
        if self.service_peak_memory > 0 {
            writeln!(
                f,
                "memory   the db-service's peak resident memory: {:.1} MB",
                self.service_peak_memory as f64 / 1e6
            )?;
        }
        match self.tail_missing {
            0 => writeln!(f, "tail     the last {} chat lines are all in the database, in order", self.tail_checked)?,
            n => writeln!(f, "MISSING  {n} of the last {} chat lines are not in the database", self.tail_checked)?,
        }
        writeln!(f, "outbound.get during the flood: {}", self.get_during)?;
        writeln!(f, "outbound.get after the flood:  {}", self.get_after)?;
        if self.polls_failed_during + self.polls_failed_after > 0 {
            writeln!(
                f,
                "         {} polls failed during the flood, {} after (timed out or no responders)",
                self.polls_failed_during, self.polls_failed_after
            )?;
        }
        writeln!(f, "event -> applied:              {}", self.applied_latency)
    }
}
