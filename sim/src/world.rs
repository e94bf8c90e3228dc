//! Bus mode: the unchanged bot and db-service on their own turmoil hosts,
//! talking through the simulated bus, with faults applied on schedule.
//!
//! Hosts: `bus` (the bus server), `db`, `db2`, ... (db-services over one
//! SQLite file in a temp folder, so a crash loses only the uncommitted batch;
//! under the hardened protocol they elect one to apply, as in production:
//! `rosey::service::serve_elected`),
//! and `bot` (the client whose end ends the run). The bot starts once every
//! db-service has subscribed, replays the fixture on turmoil's clock, then
//! makes a round trip (the bus has everything), tells the services to stop and
//! waits for them to drain and commit. The driver steps the simulation itself
//! and applies the network faults (partition, hold, latency, crash, restart)
//! at their instants; the others are read from the schedule by the component
//! they act on. Stretches in which nothing can happen (no message lands, no
//! registered timer is due, no fault starts or ends) pass in one step
//! ([`Stepping`]), the run unchanged.
//!
//! With `chat = "cytube"` two more hosts join ([`crate::chathost`]): `chat`
//! (the fake CyTube server; `chat_restart` crashes and bounces it) and
//! `users` (the fixture's channel as simulated users, which also applies
//! `chat_disconnect` and `chat_throttle`), and the bot's chat is its real
//! CyTube client on turmoil TCP instead of the stand-in.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use rosey::bot::{Bot, Protocol, ReplayReport, Runner, RunnerConfig, TokioTimeline};
use rosey::clock::unix_seconds;
use rosey::contract::{Command, RecentChatGet, Request};
use rosey::cytube::client::{ChannelUrl, Login, Secret, Session, SessionConfig};
use rosey::delivery::Delivery;
use rosey::fixture::Fixture;
use rosey::link::{BusLink, DbLink, OutboxStats};
use rosey::live::LiveChannel;
use rosey::metrics::{encode_text, BotMetrics, ServiceMetrics};
use rosey::service::{serve_elected, DbService, Leadership, ServiceConfig, ServiceReport};
use rosey::store::Store;
use rosey::trace::{Trace, TraceEvent};
use rosey::transport::Transport;
use tokio::sync::watch;

use crate::bus::{BusServerOptions, JetStreamStore, SimBusOptions, SimTransport, BUS_ADDR};
use crate::chathost::{self, ChatMode, CytubeSource, TurmoilDialer, CHAT_HOST};
use crate::clock::{sim_now_ms, SimClock};
use crate::cytube::{ChatLine, FakeCytube};
use crate::fault::{db_host_names, Fault, FaultSpec};
use crate::faulty_link::{DropScope, Drops, FaultyLink, FaultyTransport};
use crate::standin::ChatStandIn;

/// The bus's listening port.
const BUS_PORT: u16 = 4222;
/// Link latency when no fault says otherwise: a LAN.
const BASE_LATENCY: Duration = Duration::from_millis(2);
/// How long past the replay's end the run may take to settle before it is a failure.
const SETTLE: Duration = Duration::from_secs(120);

/// What a bus run needs.
pub struct BusRun<'a> {
    pub fixture: &'a Fixture,
    pub faults: &'a [Fault],
    pub protocol: Protocol,
    pub delivery: Delivery,
    /// JetStream: the bot's most unacknowledged publishes.
    pub ack_window: usize,
    pub db_services: usize,
    pub seed: u64,
    pub tick_ms: u64,
    pub trace: Trace,
    pub chat: ChatMode,
    pub stepping: Stepping,
}

/// How the driver moves the simulation through time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Stepping {
    /// Steps that nothing can happen in (no message lands, no timer is due,
    /// no fault starts or ends, no host was woken) pass in one go: the same
    /// run, trace and database as [`Stepping::EveryTick`], several times
    /// faster (`sim/tests/stepping.rs` holds the two equal).
    #[default]
    SkipQuiet,
    /// One turmoil step per tick, as turmoil itself runs: the reference the
    /// quiet skipping is checked against.
    EveryTick,
}

/// What the bot host hands back.
pub struct BotOutput {
    pub report: ReplayReport,
    pub chat: ChatStandIn,
    pub outbox: OutboxStats,
    pub dropped: u64,
}

/// What a bus run produced.
pub struct BusOutcome {
    pub bot: Option<BotOutput>,
    pub services: Vec<ServiceReport>,
    /// A host failed or panicked, or the run did not settle in time.
    pub host_error: Option<String>,
    pub store: Option<Store>,
    /// `chat = "cytube"`: every line the chat server broadcast.
    pub chat_log: Option<Vec<ChatLine>>,
    /// Each host's `/metrics` text at its end (its own registry): the bot's
    /// as `bot`, each db-service's by host name; a host restarted after a crash starts a new registry, as a
    /// restarted process would.
    pub metrics: BTreeMap<String, String>,
}

/// State the hosts share with each other and the driver (one thread: `Rc`).
struct HostsShared {
    ready: watch::Sender<usize>,
    stop: watch::Sender<bool>,
    done: watch::Sender<usize>,
    services: RefCell<Vec<ServiceReport>>,
    metrics: RefCell<BTreeMap<String, String>>,
    bot: RefCell<Option<BotOutput>>,
}

impl BusRun<'_> {
    /// Runs the simulation to its end.
    pub fn run(&self) -> BusOutcome {
        let dir = match tempfile::tempdir() {
            Ok(dir) => dir,
            Err(e) => return failed(format!("cannot create a temp folder for the database: {e}")),
        };
        let db_path = dir.path().join("rosey.db");
        let start = self.fixture.header.start_unix_ms;
        let shared = Rc::new(HostsShared {
            ready: watch::channel(0).0,
            stop: watch::channel(false).0,
            done: watch::channel(0).0,
            services: RefCell::new(Vec::new()),
            metrics: RefCell::new(BTreeMap::new()),
            bot: RefCell::new(None),
        });

        let mut builder = crate::bus::sim_builder(self.seed, start);
        builder
            .tick_duration(Duration::from_millis(self.tick_ms))
            .min_message_latency(Duration::ZERO)
            .max_message_latency(BASE_LATENCY)
            .simulation_duration(Duration::from_millis(self.fixture.end_ms().max(0) as u64) + SETTLE);
        // Before any host runs: every timer they make is registered with it.
        let timers = rosey::timers::Watch::install(turmoil::sim_elapsed);
        let mut sim = builder.build();
        // File storage outlives the bus host: a `restart_bus` bounces the host
        // and the stream, its ids and the consumer's position are still there.
        let jetstream = (self.delivery == Delivery::Jetstream).then(JetStreamStore::default);
        sim.host("bus", move || {
            crate::bus::serve_with(
                BUS_PORT,
                BusServerOptions { jetstream: jetstream.clone(), ..BusServerOptions::default() },
            )
        });
        for host in db_host_names(self.db_services) {
            let plan = ServicePlan {
                host: host.clone(),
                db_path: db_path.clone(),
                start,
                protocol: self.protocol,
                delivery: self.delivery,
                trace: self.trace.clone(),
                faults: self.faults.to_vec(),
            };
            let shared = shared.clone();
            sim.host(host.as_str(), move || service_host(plan.clone(), shared.clone()));
        }
        let fake = (self.chat == ChatMode::Cytube).then(|| chathost::fake_for(self.fixture));
        if let Some(fake) = &fake {
            let host = fake.clone();
            sim.host(CHAT_HOST, move || {
                let fake = host.clone();
                async move { fake.serve_turmoil(chathost::WEB_PORT, chathost::IO_PORT).await }
            });
            let (fixture, fake, faults) = (self.fixture.clone(), fake.clone(), self.faults.to_vec());
            sim.client("users", chathost::feeder::feed(fixture, fake, faults));
        }
        sim.client("bot", bot_host(self, shared.clone(), fake.clone()));

        // The CyTube client's websocket keys and masks come from fastrand's
        // thread-local generator: seeded here, even the bytes on the wire
        // repeat with the seed (every host runs on this thread).
        fastrand::seed(self.seed ^ 0x00c7_7be5);
        let stepping = match self.stepping {
            Stepping::SkipQuiet => Some(&timers),
            Stepping::EveryTick => None,
        };
        let host_error = drive(&mut sim, self.faults, Duration::from_millis(self.tick_ms), stepping).err();
        drop(sim);
        drop(timers);
        let store = Store::open(&db_path, unix_seconds(start)).ok();
        let bot = shared.bot.borrow_mut().take();
        let services = shared.services.borrow().clone();
        let metrics = shared.metrics.borrow().clone();
        let chat_log = fake.map(|fake| fake.chat_log());
        BusOutcome { bot, services, host_error, store, chat_log, metrics }
    }
}

fn failed(reason: String) -> BusOutcome {
    BusOutcome {
        bot: None,
        services: Vec::new(),
        host_error: Some(reason),
        store: None,
        chat_log: None,
        metrics: BTreeMap::new(),
    }
}

/// Steps the simulation, applying each network fault's start and end at its
/// instant; with `timers`, quiet stretches pass in one step.
fn drive(
    sim: &mut turmoil::Sim<'_>,
    faults: &[Fault],
    tick: Duration,
    timers: Option<&rosey::timers::Watch>,
) -> Result<(), String> {
    let mut transitions: Vec<(i64, usize, bool)> = Vec::new();
    for (index, fault) in faults.iter().enumerate() {
        let (from, until) = fault.window();
        transitions.push((from, index, true));
        transitions.push((until, index, false));
    }
    transitions.sort();
    let mut next = 0;
    loop {
        let now = sim.elapsed().as_millis() as i64;
        while next < transitions.len() && transitions[next].0 <= now {
            let (_, index, starts) = transitions[next];
            apply_fault_transition(sim, &faults[index], starts);
            next += 1;
        }
        let quiet = match timers {
            Some(timers) => quiet_steps(sim, timers, tick, transitions.get(next).map(|t| t.0)),
            None => 0,
        };
        let stepped = if quiet > 0 { sim.step_quiet(quiet) } else { sim.step() };
        match stepped {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(error) => return Err(error.to_string()),
        }
    }
}

/// How many steps from now nothing can happen in: before the next timer
/// deadline, the next fault transition (applied at the first step boundary
/// at or after its instant) and whatever turmoil itself sees coming.
fn quiet_steps(
    sim: &turmoil::Sim<'_>,
    timers: &rosey::timers::Watch,
    tick: Duration,
    transition_ms: Option<i64>,
) -> u64 {
    let now = sim.elapsed();
    let steps_until = |at: Duration, round_up: bool| -> u64 {
        let ahead = at.saturating_sub(now).as_nanos();
        let steps = if round_up { ahead.div_ceil(tick.as_nanos()) } else { ahead / tick.as_nanos() };
        u64::try_from(steps).unwrap_or(u64::MAX)
    };
    let mut max = u64::MAX;
    if let Some(due) = timers.next_due(now) {
        max = max.min(steps_until(due, false));
    }
    if let Some(ms) = transition_ms {
        max = max.min(steps_until(Duration::from_millis(ms.max(0) as u64), true));
    }
    sim.quiet_steps(max)
}

fn apply_fault_transition(sim: &mut turmoil::Sim<'_>, fault: &Fault, starts: bool) {
    match &fault.what {
        FaultSpec::Partition { a, b, oneway } => match (starts, oneway) {
            (true, false) => sim.partition(a.as_str(), b.as_str()),
            (true, true) => sim.partition_oneway(a.as_str(), b.as_str()),
            (false, false) => sim.repair(a.as_str(), b.as_str()),
            (false, true) => sim.repair_oneway(a.as_str(), b.as_str()),
        },
        FaultSpec::Hold { a, b } if starts => sim.hold(a.as_str(), b.as_str()),
        FaultSpec::Hold { a, b } => sim.release(a.as_str(), b.as_str()),
        FaultSpec::Latency { a, b, ms } if starts => {
            sim.set_link_latency(a.as_str(), b.as_str(), Duration::from_millis(*ms))
        }
        FaultSpec::Latency { a, b, .. } => {
            sim.set_link_latency(a.as_str(), b.as_str(), Duration::ZERO);
            sim.set_link_max_message_latency(a.as_str(), b.as_str(), BASE_LATENCY);
        }
        FaultSpec::CrashDb { host } if starts => sim.crash(host.as_str()),
        FaultSpec::CrashDb { host } => sim.bounce(host.as_str()),
        FaultSpec::RestartBus if starts => sim.crash("bus"),
        FaultSpec::RestartBus => sim.bounce("bus"),
        FaultSpec::ChatRestart if starts => sim.crash(CHAT_HOST),
        FaultSpec::ChatRestart => sim.bounce(CHAT_HOST),
        // Read from the schedule by the link, the store, the chat stand-in
        // and the `users` host.
        FaultSpec::Drop { .. }
        | FaultSpec::SlowStore { .. }
        | FaultSpec::ChatFail
        | FaultSpec::Mute
        | FaultSpec::ChatDisconnect
        | FaultSpec::ChatThrottle
        | FaultSpec::Burst { .. } => {}
    }
}

/// How much later each db-service host after `db` first tries the writer's lease.
const ELECTION_STAGGER: Duration = Duration::from_millis(100);

/// 0 for `db`, 1 for `db2`, ...
fn host_rank(host: &str) -> u32 {
    host.strip_prefix("db").and_then(|n| n.parse::<u32>().ok()).map_or(0, |n| n.saturating_sub(1))
}

/// What a db-service host runs with.
#[derive(Clone)]
struct ServicePlan {
    host: String,
    db_path: PathBuf,
    start: i64,
    protocol: Protocol,
    delivery: Delivery,
    trace: Trace,
    faults: Vec<Fault>,
}

/// One db-service instance; a restart after a crash runs this again.
async fn service_host(plan: ServicePlan, shared: Rc<HostsShared>) -> turmoil::Result {
    let ServicePlan { host, db_path, start, protocol, delivery, trace, faults } = plan;
    let store = Store::open(&db_path, unix_seconds(start))?;
    let transport = SimTransport::connect(BUS_ADDR, SimBusOptions { name: host.clone(), ..SimBusOptions::default() });
    let config = ServiceConfig { host: host.clone(), delivery, ..rosey::app::service_config(protocol, None) };
    let slow: Vec<(Fault, u64)> = faults
        .into_iter()
        .filter_map(|f| match f.what {
            FaultSpec::SlowStore { commit_ms } => Some((f, commit_ms)),
            _ => None,
        })
        .collect();
    let commit_delay = move || {
        let now = sim_now_ms();
        let ms = slow.iter().filter(|(f, _)| f.is_active(now)).map(|(_, ms)| *ms).max().unwrap_or(0);
        Duration::from_millis(ms)
    };
    let commit_delay = std::rc::Rc::new(commit_delay);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let mut registry = Registry::default();
    let metrics = ServiceMetrics::register(&mut registry);
    let start_term = move |transport, store| {
        let delay = commit_delay.clone();
        DbService::new(transport, store, SimClock { start_unix_ms: start }, config.clone())
            .with_metrics(metrics.clone())
            .with_trace(trace.clone(), start)
            .with_commit_delay(Box::new(move || delay()))
    };
    let mut stop = shared.stop.subscribe();
    let stopped = async move {
        let _ = stop.wait_for(|stopped| *stopped).await;
    };
    let announce = async {
        if ready_rx.await.is_ok() {
            shared.ready.send_modify(|count| *count += 1);
        }
    };
    let run = async {
        match protocol {
            // v0.5.0 had no election: every instance applies (zoo-double-count).
            Protocol::V05 => start_term(transport, store).with_ready(ready_tx).run(stopped).await,
            Protocol::Hardened => {
                // `db` tries the lease first, `db2` next, ...: so a scenario's faults
                // know which host they hit (the active one is `db` until it fails).
                rosey::timers::sleep(ELECTION_STAGGER * host_rank(&host)).await;
                serve_elected(transport, store, Leadership::default(), start_term, || None, Some(ready_tx), stopped)
                    .await
            }
        }
    };
    let (result, ()) = tokio::join!(run, announce);
    let (report, _store) = result?;
    shared.services.borrow_mut().push(report);
    shared.metrics.borrow_mut().insert(host, encode_text(&registry));
    shared.done.send_modify(|count| *count += 1);
    Ok(())
}

/// The bot: waits for the services, replays, settles, stops the services.
fn bot_host(
    run: &BusRun<'_>,
    shared: Rc<HostsShared>,
    fake: Option<FakeCytube>,
) -> impl std::future::Future<Output = turmoil::Result> + 'static {
    let fixture = run.fixture.clone();
    let faults = run.faults.to_vec();
    let (protocol, delivery, services, seed, trace) =
        (run.protocol, run.delivery, run.db_services, run.seed, run.trace.clone());
    let ack_window = run.ack_window;
    async move {
        // Virtual 0 is the simulation's start, so fault windows and replay
        // times agree: the timeline starts before the wait for the services.
        let timeline = TokioTimeline::new(1.0);
        let transport =
            SimTransport::connect(BUS_ADDR, SimBusOptions { name: "bot".into(), ..SimBusOptions::default() });
        let mut ready = shared.ready.subscribe();
        ready.wait_for(|count| *count >= services).await?;
        let drops = |scope| Drops::new(&faults, scope, seed, sim_now_ms, trace.clone());
        let bot =
            BotPlan { fixture: &fixture, faults: &faults, protocol, seed, trace: &trace, fake, services, timeline };
        match delivery {
            Delivery::Core => {
                let link = BusLink::new(transport.clone(), rosey::app::outbox_for(protocol));
                let link = FaultyLink::new(link, drops(DropScope::All));
                bot.play(&link, &shared, None).await
            }
            Delivery::Jetstream => {
                let faulty = FaultyTransport::new(transport.clone(), drops(DropScope::Stream));
                // One bot per run: its instance id only has to be unique in the stream.
                let link = BusLink::jetstream(faulty.clone(), format!("bot-{seed:x}"), ack_window);
                let link = FaultyLink::new(link, drops(DropScope::Requests));
                bot.play(&link, &shared, Some(&faulty)).await
            }
        }
    }
}

/// What the bot host runs with.
struct BotPlan<'a> {
    fixture: &'a Fixture,
    faults: &'a [Fault],
    protocol: Protocol,
    seed: u64,
    trace: &'a Trace,
    fake: Option<FakeCytube>,
    services: usize,
    timeline: TokioTimeline,
}

impl BotPlan<'_> {
    /// Replays over `link`, settles, stops the services and hands back what it saw.
    async fn play<T: Transport>(
        self,
        link: &FaultyLink<BusLink<T>>,
        shared: &HostsShared,
        below: Option<&FaultyTransport<SimTransport>>,
    ) -> turmoil::Result {
        let (fixture, trace) = (self.fixture, self.trace);
        let header = &fixture.header;
        let timeline = self.timeline;
        let bot = Bot::new(&header.channel, &header.bot, header.start_unix_ms, self.protocol);
        let mut registry = Registry::default();
        let config = RunnerConfig { metrics: BotMetrics::register(&mut registry), ..RunnerConfig::default() };
        let (report, chat) = match self.fake {
            None => {
                let chat = ChatStandIn::new(self.faults, header.start_unix_ms);
                let runner = Runner::new(bot, link, chat, timeline, trace.clone(), config);
                let (report, chat, _bot) = runner.replay(fixture).await;
                (report, chat)
            }
            Some(fake) => {
                let session = Session::new(TurmoilDialer, chat_session(fixture, self.seed)?);
                let (live, sink) = LiveChannel::new(session);
                let mut source = CytubeSource::new(live, fixture);
                let runner = Runner::new(bot, link, sink, timeline, trace.clone(), config);
                let (report, _sink, _bot) = runner.run(&mut source).await;
                source.close().await;
                let said = chathost::said_by_bot(&fake.chat_log(), &header.bot, &chathost::enqueued_texts(fixture));
                (report, ChatStandIn::recorded(said, attempts(trace)))
            }
        };

        shared.metrics.borrow_mut().insert("bot".to_string(), encode_text(&registry));
        // Settle: the bus has every command, then the services drain and commit.
        let bus = link.inner();
        let mut report = report;
        if bus.stream_stats().is_some() {
            settle_stream(bus).await;
            report.jetstream = bus.stream_stats();
        }
        let _ = rosey::timers::timeout(Duration::from_secs(30), bus.transport().round_trip()).await;
        shared.stop.send_replace(true);
        let mut done = shared.done.subscribe();
        let services = self.services;
        let settled = rosey::timers::timeout(Duration::from_secs(60), done.wait_for(|count| *count >= services)).await;
        trace.record(sim_now_ms(), "bot", TraceEvent::Settled { services_done: settled.is_ok() });
        let outbox = bus.outbox_stats();
        let dropped = link.dropped() + below.map_or(0, FaultyTransport::dropped);
        *shared.bot.borrow_mut() = Some(BotOutput { report, chat, outbox, dropped });
        if settled.is_err() {
            return Err("the db-services did not drain within 60 s of the replay's end".into());
        }
        Ok(())
    }
}

/// JetStream: waits until the stream has acknowledged every command, then
/// until a db-service has applied them all. A read is the proof: the service
/// answers it only once it has applied the stream up to its last sequence.
pub(crate) async fn settle_stream<T: Transport>(link: &BusLink<T>) {
    if let Err(error) = link.settle(Duration::from_secs(60)).await {
        tracing::warn!(%error, "[NATS] the stream did not acknowledge everything in time");
    }
    let read = Command::Request(Request::RecentChat(RecentChatGet { limit: 1, at_ms: None }));
    for _ in 0..30 {
        if link.request(read.clone(), Duration::from_secs(2)).await.is_ok() {
            return;
        }
    }
    tracing::warn!("[NATS] no db-service caught up with the stream after the replay");
}

/// The bot's session with the `chat` host: the fixture's channel, logged in
/// with the account the fake registered; the backoff's jitter from the seed.
fn chat_session(fixture: &Fixture, seed: u64) -> Result<SessionConfig, Box<dyn std::error::Error>> {
    let header = &fixture.header;
    let url = format!("http://{CHAT_HOST}:{}/r/{}", chathost::WEB_PORT, header.channel);
    let login = Login { name: header.bot.clone(), password: Some(Secret::new(chathost::BOT_PASSWORD)) };
    let mut config = SessionConfig::new(ChannelUrl::parse(&url)?, Some(login));
    config.seed = seed;
    Ok(config)
}

/// Attempts to say each text, from the trace: every `say` but those held back
/// for the throttle (never written).
pub(crate) fn attempts(trace: &Trace) -> std::collections::BTreeMap<String, u64> {
    let mut attempts = std::collections::BTreeMap::new();
    for record in trace.records() {
        if let TraceEvent::Say { text, outcome } = &record.event {
            if !outcome.starts_with("held") {
                *attempts.entry(text.clone()).or_default() += 1;
            }
        }
    }
    attempts
}
