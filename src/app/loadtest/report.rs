//! What a load test did, and how it reads to a person.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::args::{Mix, Rate};
use super::percentiles::Percentiles;

/// What a load test did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadtestReport {
    pub mix: Mix,
    pub rate: Rate,
    /// How long events were sent.
    pub sending: Duration,
    /// From the start to the reply of the final probe.
    pub until_applied: Duration,
    /// Bot events generated, by kind.
    pub events: BTreeMap<&'static str, u64>,
    /// Commands published (the opening userlist's included).
    pub sent: u64,
    /// Commands the link refused (disconnected, payload too large).
    pub send_errors: u64,
    /// Commands held in the link's outbox (no db-service answered).
    pub held: usize,
    /// Commands proven applied (see the module docs).
    pub applied: u64,
    /// Chat lines sent, checked by the final tail check, and missing there.
    pub chat_lines: u64,
    pub tail_checked: u64,
    pub tail_missing: u64,
    /// Probes that timed out or failed.
    pub probe_failures: u64,
    /// `outbound.get` round trips during the load.
    pub get_latency: Percentiles,
    /// Age of the oldest command each probe proved applied.
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
        writeln!(f, "loadtest: {} for {:.1} s, mix {}", self.rate, self.sending.as_secs_f64(), self.mix)?;
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
            "applied  {} commands ({:.0}/s), proven by a round trip {:.1} ms after the last send",
            self.applied,
            per_sec(self.applied, self.until_applied),
            self.until_applied.saturating_sub(self.sending).as_secs_f64() * 1e3
        )?;
        if self.send_errors > 0 || self.held > 0 {
            writeln!(
                f,
                "LOST     {} commands refused by the link, {} held in its outbox",
                self.send_errors, self.held
            )?;
        }
        match self.tail_missing {
            0 => writeln!(f, "tail     the last {} chat lines are all in the database, in order", self.tail_checked)?,
            n => writeln!(f, "MISSING  {n} of the last {} chat lines are not in the database", self.tail_checked)?,
        }
        writeln!(f, "outbound.get round trip under load:  {}", self.get_latency)?;
        if self.probe_failures > 0 {
            writeln!(f, "         {} probes failed (timed out or no responders)", self.probe_failures)?;
        }
        writeln!(f, "event -> applied (oldest per probe): {}", self.applied_latency)
    }
}
