//! One run of a scenario: fixture plus bursts, the direct-mode reference, the
//! run itself (direct or bus), the invariants, and the verdict.

use std::path::Path;

use rosey::bot::{Protocol, ReplayReport};
use rosey::chat::SaidLine;
use rosey::clock::unix_seconds;
use rosey::cytube::ChatEvent;
use rosey::delivery::Delivery;
use rosey::fixture::{Fixture, TimedEvent};
use rosey::service::ServiceReport;
use rosey::store::{DbDump, Store};
use rosey::trace::Trace;
use serde::Serialize;

use crate::error::Result;
use crate::fault::{self, Fault, FaultSpec};
use crate::invariants::{self, Observed, Verdict};
use crate::scenario::{Mode, Scenario};
use crate::standin::ChatStandIn;
use crate::world::{BusRun, Stepping};

/// A scenario ready to run many seeds: its fixture is loaded once.
pub struct Prepared {
    pub scenario: Scenario,
    pub fixture: Fixture,
    /// The reference database when no per-seed burst changes it.
    reference: Option<DbDump>,
}

/// What to override in a scenario for one run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub mode: Option<Mode>,
    pub protocol: Option<Protocol>,
    pub delivery: Option<Delivery>,
    /// Step every tick instead of skipping quiet stretches (same run, slower).
    pub every_tick: bool,
}

/// One run's result.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub seed: u64,
    pub mode: Mode,
    pub protocol: Protocol,
    pub delivery: Delivery,
    pub faults: Vec<Fault>,
    #[serde(skip)]
    pub report: ReplayReport,
    #[serde(skip)]
    pub said: Vec<SaidLine>,
    #[serde(skip)]
    pub services: Vec<ServiceReport>,
    pub verdicts: Vec<Verdict>,
    /// The invariant expected to fail, when the scenario demonstrates a defect.
    pub expected_violation: Option<String>,
    /// Whether the run met the scenario's expectation.
    pub passed: bool,
    pub trace_hash: String,
    /// Bus runs: the hardened outbox at the end, and commands the `drop` fault ate.
    pub outbox: Option<rosey::link::OutboxStats>,
    pub dropped_by_faults: u64,
    /// Per fault, whether it took effect and the evidence.
    pub effects: Vec<crate::coverage::Effect>,
    #[serde(skip)]
    pub trace: Trace,
    #[serde(skip)]
    pub dump: Option<DbDump>,
    pub virtual_ms: i64,
}

impl Prepared {
    /// Loads a scenario file or, for a `.jsonl` path, a bare fixture.
    pub fn load(path: &Path, default_mode: Mode) -> Result<Prepared> {
        let scenario = if path.extension().is_some_and(|e| e == "jsonl") {
            Scenario::for_fixture(path, default_mode)
        } else {
            Scenario::load(path)?
        };
        Prepared::new(scenario)
    }

    pub fn new(scenario: Scenario) -> Result<Prepared> {
        let fixture = Fixture::load(&scenario.fixture_path())?;
        Prepared::with_fixture(scenario, fixture)
    }

    /// A scenario over a fixture already in memory (the shrinker's candidates).
    pub fn with_fixture(scenario: Scenario, fixture: Fixture) -> Result<Prepared> {
        let mut prepared = Prepared { scenario, fixture, reference: None };
        let swarm_bursts = prepared.scenario.swarm.as_ref().is_some_and(|s| s.menu.contains(&fault::FaultKind::Burst));
        if !swarm_bursts {
            let fixture = with_bursts(&prepared.fixture, &prepared.scenario.faults);
            prepared.reference = Some(reference(&fixture)?);
        }
        Ok(prepared)
    }

    /// The fault kinds a sweep must see take effect: the swarm's menu, else
    /// the kinds the scenario schedules.
    pub fn menu(&self) -> Vec<fault::FaultKind> {
        match &self.scenario.swarm {
            Some(swarm) => swarm.menu.clone(),
            None => self.scenario.faults.iter().map(Fault::kind).collect(),
        }
    }

    /// The scenario's faults plus, in swarm mode, those drawn for `seed`.
    pub fn faults_for(&self, seed: u64) -> Vec<Fault> {
        let mut faults = self.scenario.faults.clone();
        if let Some(swarm) = &self.scenario.swarm {
            let end = self.fixture.end_ms();
            faults.extend(fault::draw(&swarm.menu, swarm.faults, seed, end, self.scenario.db_services));
        }
        faults
    }

    /// Runs one seed.
    pub fn run(&self, overrides: Overrides) -> Result<RunResult> {
        self.run_saving(overrides, None)
    }

    /// Runs one seed and, when `save_to` is given, writes the run's final
    /// database there as a new SQLite file.
    pub fn run_saving(&self, overrides: Overrides, save_to: Option<&Path>) -> Result<RunResult> {
        let seed = overrides.seed.unwrap_or(self.scenario.seed);
        let mode = overrides.mode.unwrap_or(self.scenario.mode);
        let protocol = overrides.protocol.unwrap_or(self.scenario.protocol);
        let delivery = overrides.delivery.unwrap_or(self.scenario.delivery);
        // A scenario's expected violation is about its own protocol and
        // delivery; under another, every invariant must hold.
        let expected_violation = self
            .scenario
            .expect_violation
            .clone()
            .filter(|_| protocol == self.scenario.protocol && delivery == self.scenario.delivery);
        let faults = self.faults_for(seed);
        let fixture = with_bursts(&self.fixture, &faults);
        let reference = match &self.reference {
            Some(reference) => reference.clone(),
            None => reference(&fixture)?,
        };
        // Verdicts read the trace's lines, so they are always kept.
        let trace = Trace::new(true);
        let start = fixture.header.start_unix_ms;

        let (mut outbox, mut dropped_by_faults, mut chat_log) = (None, 0, None);
        let (report, chat, services, host_error, store) = match mode {
            Mode::Direct => {
                let store = Store::open_in_memory(unix_seconds(start))?;
                let chat = ChatStandIn::new(&faults, start);
                let (report, chat, store) =
                    crate::direct::run_direct_with(&fixture, store, protocol, trace.clone(), chat);
                (report, chat, Vec::new(), None, Some(store))
            }
            Mode::Bus => {
                let run = BusRun {
                    fixture: &fixture,
                    faults: &faults,
                    protocol,
                    delivery,
                    ack_window: self.scenario.ack_window,
                    db_services: self.scenario.db_services,
                    seed,
                    tick_ms: self.scenario.tick_ms,
                    trace: trace.clone(),
                    chat: self.scenario.chat,
                    stepping: if overrides.every_tick { Stepping::EveryTick } else { Stepping::SkipQuiet },
                };
                let outcome = run.run();
                let (report, chat) = match outcome.bot {
                    Some(bot) => {
                        outbox = Some(bot.outbox);
                        dropped_by_faults = bot.dropped;
                        (bot.report, bot.chat)
                    }
                    None => (ReplayReport::default(), ChatStandIn::new(&faults, start)),
                };
                chat_log = outcome.chat_log;
                (report, chat, outcome.services, outcome.host_error, outcome.store)
            }
        };
        let dump = match &store {
            Some(store) => Some(store.dump()?),
            None => None,
        };
        if let (Some(path), Some(sqlite)) = (save_to, store.as_ref().and_then(Store::as_sqlite)) {
            sqlite.save_copy(path)?;
        }
        let records = trace.records();
        let empty = DbDump { tables: Vec::new() };
        let host_error =
            host_error.or_else(|| dump.is_none().then(|| "the database could not be read back".to_string()));
        let verdicts = invariants::check(&Observed {
            dump: dump.as_ref().unwrap_or(&empty),
            reference: &reference,
            faults: &faults,
            said: &chat.said,
            attempts: &chat.attempts,
            report: &report,
            host_error: host_error.as_deref(),
            trace: &records,
            start_unix_ms: start,
            end_ms: fixture.end_ms(),
            strict: mode == Mode::Bus && delivery == Delivery::Jetstream,
            cytube: chat_log.as_deref().map(|log| invariants::CytubeView { bot: &fixture.header.bot, log }),
        });
        let effects = crate::coverage::effects(&faults, &records);
        let passed = meets_expectation(expected_violation.as_deref(), &verdicts);
        Ok(RunResult {
            seed,
            mode,
            protocol,
            delivery,
            faults,
            virtual_ms: report.virtual_ms,
            report,
            said: chat.said,
            services,
            verdicts,
            expected_violation,
            passed,
            trace_hash: trace.hash_hex(),
            outbox,
            dropped_by_faults,
            effects,
            trace,
            dump,
        })
    }
}

/// Whether a run met its scenario's expectation: the expected invariant
/// fails, or, with none expected, every invariant holds.
pub(crate) fn meets_expectation(expected_violation: Option<&str>, verdicts: &[invariants::Verdict]) -> bool {
    match expected_violation {
        None => verdicts.iter().all(|v| v.holds),
        Some(name) => verdicts.iter().any(|v| v.name == name && !v.holds),
    }
}

/// The direct-mode, fault-free replay: what the fixture implies.
pub(crate) fn reference(fixture: &Fixture) -> Result<DbDump> {
    let store = Store::open_in_memory(unix_seconds(fixture.header.start_unix_ms))?;
    let (_, store) = crate::direct::run_direct(fixture, store, Protocol::Hardened, Trace::new(false));
    Ok(store.dump()?)
}

/// The fixture with each `burst` fault's chat lines merged in, evenly spread
/// over the burst's window (after the fixture's own events at the same ms).
pub fn with_bursts(fixture: &Fixture, faults: &[Fault]) -> Fixture {
    let mut merged = fixture.clone();
    for fault in faults {
        if let FaultSpec::Burst { lines, user } = &fault.what {
            let span = (fault.until_ms - fault.from_ms).max(1);
            for i in 0..*lines {
                let at_ms = fault.from_ms + span * i as i64 / (*lines).max(1) as i64;
                let event = ChatEvent::ChatMsg { username: user.clone(), msg: format!("burst line {i}"), time: None };
                let position = merged.events.partition_point(|e| e.at_ms <= at_ms);
                merged.events.insert(position, TimedEvent { line: 0, at_ms, event });
            }
        }
    }
    merged
}
