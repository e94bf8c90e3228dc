//! What "correct" means, checked after every run and over every seed.
//!
//! The oracle for the database is the direct-mode replay of the same fixture:
//! no bus, no faults. A bus run may lose only what a declared fault could lose
//! (each fault says which span of time that is), must never count anything
//! more often than the reference, and without an event-losing fault must write
//! the same rows. The outbound invariants follow contract section 5: a message
//! is said once, not never, and not retried forever.
//!
//! Invariants read typed trace records ([`TraceRecord`]) and typed rows
//! ([`rows`]); the evidence they return is trace lines, as a person reads them.

mod chat;
mod database;
mod outbound;
pub mod rows;

use std::collections::BTreeMap;

use rosey::store::DbDump;
use rosey::trace::{TraceEvent, TraceRecord};
use serde::Serialize;

use crate::fault::Fault;

/// How long after it was enqueued (or after the last fault healed) a message
/// must have been said.
pub const SAY_BOUND_MS: i64 = 15_000;

/// One invariant: its name and its check.
pub struct Invariant {
    pub name: &'static str,
    /// `Err` says what is wrong and which trace records show it.
    check: fn(&Observed<'_>) -> Result<(), Failure>,
}

/// Every invariant, in the order verdicts are reported.
pub const INVARIANTS: [Invariant; 8] = [
    Invariant { name: "no_host_error", check: no_host_error },
    Invariant { name: "requests_end", check: outbound::requests_end },
    Invariant { name: "no_loss", check: no_loss },
    Invariant { name: "counted_once", check: counted_once },
    Invariant { name: "said_once", check: outbound::said_once },
    Invariant { name: "said_eventually", check: outbound::said_eventually },
    Invariant { name: "bounded_retries", check: outbound::bounded_retries },
    Invariant { name: "polls_answered", check: outbound::polls_answered },
];

/// The names of every invariant, for messages.
pub fn names() -> impl Iterator<Item = &'static str> {
    INVARIANTS.iter().map(|invariant| invariant.name)
}

/// Why an invariant does not hold.
#[derive(Debug)]
struct Failure {
    detail: String,
    evidence: Vec<TraceRecord>,
}

impl Failure {
    fn new(detail: String, evidence: Vec<TraceRecord>) -> Failure {
        Failure { detail, evidence }
    }
}

/// One invariant's result, with the evidence when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub name: &'static str,
    pub holds: bool,
    pub detail: String,
    /// Trace lines that show why (at most a few).
    pub evidence: Vec<String>,
}

/// Everything the invariants look at.
pub struct Observed<'a> {
    pub dump: &'a DbDump,
    pub reference: &'a DbDump,
    pub faults: &'a [Fault],
    pub said: &'a [rosey::chat::SaidLine],
    pub attempts: &'a BTreeMap<String, u64>,
    pub report: &'a rosey::bot::ReplayReport,
    pub host_error: Option<&'a str>,
    pub trace: &'a [TraceRecord],
    pub start_unix_ms: i64,
    pub end_ms: i64,
    /// JetStream delivery in bus mode: no fault on the bus may lose anything,
    /// so `no_loss` allows no loss window.
    pub strict: bool,
    /// `chat = "cytube"`: what the chat server broadcast, and the bot's name.
    pub cytube: Option<CytubeView<'a>>,
}

/// The chat server's side of a `chat = "cytube"` run.
pub struct CytubeView<'a> {
    pub bot: &'a str,
    /// Every line the server broadcast, in order, with its time.
    pub log: &'a [crate::cytube::ChatLine],
}

impl Observed<'_> {
    /// The spans of virtual time the faults may lose events in: under strict
    /// (JetStream) delivery only the chat link's faults have any.
    fn bus_loss_windows(&self) -> Vec<(i64, i64)> {
        self.faults.iter().filter(|fault| !self.strict || fault.on_chat_link()).filter_map(Fault::loss_window).collect()
    }

    /// At most `limit` trace records that `wanted` picks.
    fn evidence(&self, limit: usize, wanted: impl Fn(&TraceEvent) -> bool) -> Vec<TraceRecord> {
        self.trace.iter().filter(|record| wanted(&record.event)).take(limit).cloned().collect()
    }
}

/// Checks every invariant.
pub fn check(observed: &Observed<'_>) -> Vec<Verdict> {
    INVARIANTS
        .iter()
        .map(|invariant| match (invariant.check)(observed) {
            Ok(()) => Verdict { name: invariant.name, holds: true, detail: "holds".into(), evidence: Vec::new() },
            Err(failure) => Verdict {
                name: invariant.name,
                holds: false,
                detail: failure.detail,
                evidence: failure.evidence.iter().map(TraceRecord::to_line).collect(),
            },
        })
        .collect()
}

fn no_host_error(o: &Observed<'_>) -> Result<(), Failure> {
    match o.host_error {
        None => Ok(()),
        Some(error) => Err(Failure::new(error.to_string(), Vec::new())),
    }
}

/// Nothing lost: judged on the database alone, or (a `chat = "cytube"` run)
/// against what the chat server broadcast.
fn no_loss(o: &Observed<'_>) -> Result<(), Failure> {
    match &o.cytube {
        Some(view) => chat::no_loss(o, view),
        None => database::no_loss(o),
    }
}

/// Nothing counted twice, judged as [`no_loss`] is.
fn counted_once(o: &Observed<'_>) -> Result<(), Failure> {
    match &o.cytube {
        Some(view) => chat::counted_once(o, view),
        None => database::counted_once(o),
    }
}
