//! Scenarios: a fixture, a seed, a mode, a protocol, a fault schedule and the
//! expected verdict, in a TOML file a person can read, diff and commit.
//!
//! # Format
//!
//! ```toml
//! description = "A lost mark_sent makes v0.5.0 say a line twice"
//! fixture = "../chat/smoke.jsonl"   # relative to this file
//! seed = 1                            # turmoil's and the faults' RNG
//! mode = "bus"                        # bus | direct
//! protocol = "v0.5"                   # hardened | v0.5
//! db_services = 1                     # db-service hosts: db, db2, ...
//! expect_violation = "said_once"      # omit: every invariant must hold
//! chat = "standin"                    # standin | cytube (a fake CyTube host, bus mode)
//! delivery = "core"                   # core | jetstream (bus mode)
//! ack_window = 1024                   # jetstream: the bot's most unacknowledged publishes
//!
//! [[faults]]
//! kind = "drop"                       # see Fault for every kind and its keys
//! subject = "rosey.db.messages.outbound.mark_sent"
//! probability = 1.0
//! from_ms = 5000
//! until_ms = 15000
//!
//! [swarm]                             # optional: draw more faults per seed
//! faults = 3
//! menu = ["partition", "hold", "latency", "drop", "crash_db", "restart_bus", "slow_store", "chat_fail", "mute"]
//! ```

use std::path::{Path, PathBuf};

use rosey::bot::Protocol;
use rosey::delivery::Delivery;
use serde::Deserialize;

use crate::chathost::ChatMode;
use crate::error::{Result, SimError};
use crate::fault::{Fault, FaultKind};

/// Where the bot's commands go in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No bus: the bot calls the store in-process (instant virtual time).
    #[default]
    Direct,
    /// The simulated bus under turmoil: bus, db-service(s) and bot hosts.
    Bus,
}

/// A parsed scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default)]
    pub description: String,
    /// The chat fixture, relative to the scenario file.
    pub fixture: PathBuf,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_mode")]
    pub mode: Mode,
    #[serde(default)]
    pub protocol: Protocol,
    #[serde(default = "default_services")]
    pub db_services: usize,
    /// The invariant this scenario demonstrates failing; `None`: all hold.
    #[serde(default)]
    pub expect_violation: Option<String>,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub swarm: Option<Swarm>,
    /// The turmoil tick, ms: every network hop takes at least one.
    #[serde(default = "default_tick_ms")]
    pub tick_ms: u64,
    /// The bot's chat: the in-process stand-in, or a fake CyTube server host.
    #[serde(default)]
    pub chat: ChatMode,
    /// How commands travel in bus mode: core NATS, or a JetStream stream.
    #[serde(default)]
    pub delivery: Delivery,
    /// JetStream: the bot's most unacknowledged publishes.
    #[serde(default = "default_ack_window")]
    pub ack_window: usize,
    /// Set by [`Scenario::load`]: the file it came from.
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// Random fault schedules, drawn per seed from a menu.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Swarm {
    /// How many faults to draw.
    pub faults: usize,
    /// Which kinds may be drawn.
    pub menu: Vec<FaultKind>,
}

fn default_seed() -> u64 {
    1
}
fn default_mode() -> Mode {
    Mode::Bus
}
fn default_services() -> usize {
    1
}
fn default_ack_window() -> usize {
    rosey::delivery::DEFAULT_ACK_WINDOW
}
fn default_tick_ms() -> u64 {
    10
}

impl Scenario {
    /// Reads a scenario file.
    ///
    /// # Errors
    ///
    /// [`SimError::Scenario`], naming the file and the problem.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::scenario(path, format!("cannot read the scenario: {e}")))?;
        let mut scenario: Scenario = toml::from_str(&text).map_err(|e| SimError::scenario(path, e.message()))?;
        scenario.path = Some(path.to_path_buf());
        scenario.validate().map_err(|problem| SimError::scenario(path, problem))?;
        Ok(scenario)
    }

    /// A scenario with no faults around a bare fixture file.
    pub fn for_fixture(fixture: &Path, mode: Mode) -> Scenario {
        Scenario {
            description: format!("{} with no faults", fixture.display()),
            fixture: fixture.to_path_buf(),
            seed: default_seed(),
            mode,
            protocol: Protocol::Hardened,
            db_services: 1,
            expect_violation: None,
            faults: Vec::new(),
            swarm: None,
            tick_ms: default_tick_ms(),
            chat: ChatMode::Standin,
            delivery: Delivery::Core,
            ack_window: default_ack_window(),
            path: None,
        }
    }

    /// The fixture's path, resolved against the scenario file's folder.
    pub fn fixture_path(&self) -> PathBuf {
        match self.path.as_ref().and_then(|p| p.parent()) {
            Some(dir) if self.fixture.is_relative() => dir.join(&self.fixture),
            _ => self.fixture.clone(),
        }
    }

    /// Hosts besides bot, bus and the db-services that faults may name.
    fn extra_hosts(&self) -> &'static [&'static str] {
        match self.chat {
            ChatMode::Cytube => &[crate::chathost::CHAT_HOST],
            ChatMode::Standin => &[],
        }
    }

    fn validate(&self) -> std::result::Result<(), String> {
        if self.db_services == 0 || self.db_services > 4 {
            return Err(format!("db_services must be 1 to 4, got {}", self.db_services));
        }
        if self.ack_window == 0 {
            return Err("ack_window must be at least 1".into());
        }
        if self.tick_ms == 0 || self.tick_ms > 100 {
            return Err(format!("tick_ms must be 1 to 100, got {}", self.tick_ms));
        }
        if let Some(name) = &self.expect_violation {
            if !crate::invariants::names().any(|known| known == name) {
                let known: Vec<&str> = crate::invariants::names().collect();
                return Err(format!("expect_violation = {name:?} is not an invariant (known: {})", known.join(", ")));
            }
        }
        if self.mode == Mode::Direct && (!self.faults.is_empty() || self.swarm.is_some()) {
            let bus_only = self.faults.iter().find(|f| f.needs_bus());
            if let Some(fault) = bus_only {
                return Err(format!("fault {:?} needs mode = \"bus\"", fault.kind()));
            }
        }
        if self.delivery == Delivery::Jetstream && self.mode != Mode::Bus {
            return Err("delivery = \"jetstream\" needs mode = \"bus\"".into());
        }
        if self.chat == ChatMode::Cytube && self.mode != Mode::Bus {
            return Err("chat = \"cytube\" needs mode = \"bus\"".into());
        }
        for (index, fault) in self.faults.iter().enumerate() {
            fault.validate(self.db_services, self.extra_hosts()).map_err(|e| format!("faults[{index}]: {e}"))?;
            match self.chat {
                ChatMode::Standin if fault.needs_cytube() => {
                    return Err(format!("faults[{index}]: {:?} needs chat = \"cytube\"", fault.kind()));
                }
                ChatMode::Cytube if fault.needs_standin() => {
                    return Err(format!("faults[{index}]: {:?} needs chat = \"standin\"", fault.kind()));
                }
                _ => {}
            }
        }
        if let Some(swarm) = &self.swarm {
            if swarm.menu.is_empty() {
                return Err("swarm.menu is empty".into());
            }
        }
        Ok(())
    }
}
