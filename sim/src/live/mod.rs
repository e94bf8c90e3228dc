//! `rosey-sim live <scenario>`: the scenario against the live stack.
//!
//! The same bot and db-service code as in the simulator, on real sockets
//! and a real nats-server, in real time (times `--speed`): the fixture
//! replays through the bot, and the fault schedule happens for real. A TCP
//! proxy in front of nats-server for each client host ([`proxy`]) cuts
//! (`partition`), stalls (`hold`) or slows (`latency`) its link; `crash_db`
//! aborts that db-service's task mid-whatever (its open transaction rolls
//! back, as a kill -9 would lose it) and starts a new one on the same file
//! at the window's end; `restart_bus` kills nats-server (SIGKILL) and starts
//! it again on the same port; `drop`, `slow_store`, `chat_fail`, `mute` and
//! `burst` act where they do in the simulator (the bot's link, the store's
//! commits, the chat stand-in, the fixture). Then the same invariants judge
//! the run, so a verdict found in the simulator is confirmed, or not, in
//! production.
//!
//! With `delivery = "jetstream"` the server runs with `-js` over a store of
//! its own and the db-services consume the stream, as in production.
//!
//! With `chat = "cytube"` the bot joins the fake CyTube over real TCP and the
//! fixture's users speak through it, in real time (`--speed 1`: the fake's
//! limits and timers run on the wall clock); `chat_disconnect` and
//! `chat_throttle` act in the fake, and `chat_restart` stops the fake's
//! server (its ports closed, every connection dropped) and serves again on
//! the same ports at the window's end.
//!
//! One difference in kind: a one-way partition drops what the simulator's
//! network carries that way (turmoil has no retransmission), while through
//! the proxy the bytes wait, as TCP keeps resending them, and arrive once the
//! partition ends, if the connection is still there.

pub mod proxy;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use rosey::bot::{Bot, Runner, RunnerConfig, TokioTimeline};
use rosey::clock::{unix_seconds, Clock};
use rosey::contract::DEFAULT_REQUEST_TIMEOUT;
use rosey::delivery::Delivery;
use rosey::link::BusLink;
use rosey::service::{DbService, ServiceConfig, ServiceReport};
use rosey::store::Store;
use rosey::trace::Trace;
use rosey::transport::{NatsOptions, NatsTransport, Transport};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::chathost::{self, ChatMode, CytubeSource};
use crate::cytube::{FakeConfig, FakeCytube, LocalServer};
use crate::error::{Result, SimError};
use crate::fault::{db_host_names, Fault, FaultSpec};
use crate::faulty_link::{DropScope, Drops, FaultyLink, FaultyTransport};
use crate::invariants::{self, Observed};
use crate::nats_server::{nats_server_binary, NatsServer};
use crate::run::{meets_expectation, reference, with_bursts, Prepared, RunResult};
use crate::standin::ChatStandIn;
use proxy::Proxy;
use rosey::cytube::client::{ChannelUrl, Login, Secret, Session, SessionConfig, TcpDialer};
use rosey::live::LiveChannel;

thread_local! {
    /// When virtual 0 was, and how fast virtual time runs: for the `drop`
    /// faults' clock, which is a plain `fn` (one run at a time per thread).
    static ORIGIN: Cell<Option<(tokio::time::Instant, f64)>> = const { Cell::new(None) };
}

/// Virtual ms since the run's start.
fn live_now_ms() -> i64 {
    ORIGIN.with(|origin| match origin.get() {
        Some((start, speed)) => (start.elapsed().as_secs_f64() * 1000.0 * speed) as i64,
        None => 0,
    })
}

/// The db-services' clock: the fixture's start plus virtual time.
#[derive(Clone, Copy)]
struct LiveClock {
    start_unix_ms: i64,
}

impl Clock for LiveClock {
    fn now_ms(&self) -> i64 {
        self.start_unix_ms + live_now_ms()
    }
}

/// Real time for `virtual_ms` of virtual time.
fn real(virtual_ms: i64, speed: f64) -> Duration {
    Duration::from_secs_f64(virtual_ms.max(0) as f64 / 1000.0 / speed)
}

/// Runs `prepared` at `seed` against a live nats-server, `speed` times real time.
///
/// # Errors
/// No nats-server, a CyTube scenario at a speed other than 1, or a failure to start a part.
pub fn run_live(prepared: &Prepared, seed: u64, speed: f64) -> Result<RunResult> {
    let scenario = &prepared.scenario;
    if scenario.chat == ChatMode::Cytube && speed != 1.0 {
        return Err(SimError::Usage(
            "chat = \"cytube\" runs live at --speed 1 only (the fake CyTube's limits and timers run in real time)"
                .into(),
        ));
    }
    if !(speed > 0.0 && speed <= 10.0) {
        return Err(SimError::Usage(format!("--speed must be above 0 and at most 10, not {speed}")));
    }
    nats_server_binary().map_err(SimError::Usage)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| SimError::Usage(format!("cannot start a runtime: {e}")))?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, live(prepared, seed, speed))
}

/// One db-service host's task, started again after a crash.
type ServiceTask = JoinHandle<std::result::Result<ServiceReport, String>>;

struct Stack {
    server: RefCell<NatsServer>,
    bot_proxy: Proxy,
    db_proxies: BTreeMap<String, Proxy>,
    db_path: std::path::PathBuf,
    start_unix_ms: i64,
    scenario: crate::scenario::Scenario,
    faults: Vec<Fault>,
    trace: Trace,
    speed: f64,
    stop: watch::Sender<bool>,
    services: RefCell<BTreeMap<String, ServiceTask>>,
    reports: RefCell<Vec<ServiceReport>>,
    errors: RefCell<Vec<String>>,
    /// `chat = "cytube"`: the fake's server, stopped and started by `chat_restart`.
    chat: RefCell<Option<LocalServer>>,
}

fn options(port: u16, name: &str) -> NatsOptions {
    NatsOptions { url: format!("nats://127.0.0.1:{port}"), name: name.to_string(), ..NatsOptions::default() }
}

impl Stack {
    /// Starts db-service `host` and returns once it is subscribed.
    async fn start_service(self: &Rc<Self>, host: &str) -> std::result::Result<(), String> {
        let store = Store::open(&self.db_path, unix_seconds(self.start_unix_ms)).map_err(|e| e.to_string())?;
        let port = self.db_proxies[host].port;
        let transport = NatsTransport::connect_in_background(&options(port, host)).await.map_err(|e| e.to_string())?;
        let config = ServiceConfig {
            host: host.to_string(),
            delivery: self.scenario.delivery,
            ..rosey::app::service_config(self.scenario.protocol, None)
        };
        let slow: Vec<(Fault, u64)> = self
            .faults
            .iter()
            .filter_map(|f| match f.what {
                FaultSpec::SlowStore { commit_ms } => Some((f.clone(), commit_ms)),
                _ => None,
            })
            .collect();
        let speed = self.speed;
        let commit_delay = move || {
            let now = live_now_ms();
            let ms = slow.iter().filter(|(f, _)| f.is_active(now)).map(|(_, ms)| *ms).max().unwrap_or(0);
            Duration::from_secs_f64(ms as f64 / 1000.0 / speed)
        };
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let service = DbService::new(transport, store, LiveClock { start_unix_ms: self.start_unix_ms }, config)
            .with_trace(self.trace.clone(), self.start_unix_ms)
            .with_commit_delay(Box::new(commit_delay))
            .with_ready(ready_tx);
        let mut stop = self.stop.subscribe();
        let task = tokio::task::spawn_local(async move {
            let run = service.run(async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            });
            run.await.map(|(report, _store)| report).map_err(|e| e.to_string())
        });
        self.services.borrow_mut().insert(host.to_string(), task);
        ready_rx.await.map_err(|_| format!("db-service {host} stopped before it subscribed"))
    }

    /// Aborts db-service `host` where it stands (a kill -9: the open batch is lost).
    fn crash_service(&self, host: &str) {
        if let Some(task) = self.services.borrow_mut().remove(host) {
            task.abort();
        }
    }

    fn proxy(&self, a: &str, b: &str) -> Option<&Proxy> {
        match (a, b) {
            ("bot", "bus") | ("bus", "bot") => Some(&self.bot_proxy),
            ("bus", db) | (db, "bus") => self.db_proxies.get(db),
            _ => None,
        }
    }

    /// Applies a fault's start (`starts`) or end.
    async fn transition(self: &Rc<Self>, fault: &Fault, starts: bool) {
        match &fault.what {
            FaultSpec::Partition { a, b, oneway: false } => {
                if let Some(proxy) = self.proxy(a, b) {
                    proxy.set(|s| s.partitioned = starts);
                }
            }
            FaultSpec::Partition { a, b, oneway: true } => {
                if let Some(proxy) = self.proxy(a, b) {
                    // The proxies stand between a client host and the bus:
                    // from the bus is down, from anyone else up.
                    let toward_client = a == "bus";
                    proxy.set(|s| if toward_client { s.cut_down = starts } else { s.cut_up = starts });
                }
            }
            FaultSpec::Hold { a, b } => {
                if let Some(proxy) = self.proxy(a, b) {
                    proxy.set(|s| s.held = starts);
                }
            }
            FaultSpec::Latency { a, b, ms } => {
                let real_ms = if starts { (*ms as f64 / self.speed) as u64 } else { 0 };
                if let Some(proxy) = self.proxy(a, b) {
                    proxy.set(|s| s.latency_ms = real_ms);
                }
            }
            FaultSpec::CrashDb { host } if starts => self.crash_service(host),
            FaultSpec::CrashDb { host } => {
                if let Err(error) = self.start_service(host).await {
                    self.errors.borrow_mut().push(format!("{host} did not come back: {error}"));
                }
            }
            FaultSpec::RestartBus if starts => self.server.borrow_mut().kill(),
            FaultSpec::RestartBus => self.server.borrow_mut().restart(),
            FaultSpec::ChatRestart => {
                // Taken out while it restarts, so no borrow spans the await.
                let Some(mut chat) = self.chat.borrow_mut().take() else { return };
                if starts {
                    chat.stop().await;
                } else if let Err(error) = chat.start_again().await {
                    self.errors.borrow_mut().push(format!("the fake CyTube did not come back: {error}"));
                }
                *self.chat.borrow_mut() = Some(chat);
            }
            _ => {}
        }
    }

    /// Stops every db-service (they drain and commit) and collects their reports.
    async fn stop_services(&self) {
        self.stop.send_replace(true);
        let tasks: Vec<(String, ServiceTask)> = std::mem::take(&mut *self.services.borrow_mut()).into_iter().collect();
        for (host, task) in tasks {
            match rosey::timers::timeout(Duration::from_secs(30), task).await {
                Ok(Ok(Ok(report))) => self.reports.borrow_mut().push(report),
                Ok(Ok(Err(error))) => self.errors.borrow_mut().push(format!("{host}: {error}")),
                Ok(Err(error)) => self.errors.borrow_mut().push(format!("{host}: {error}")),
                Err(_) => self.errors.borrow_mut().push(format!("{host} did not stop within 30 s")),
            }
        }
    }
}

async fn live(prepared: &Prepared, seed: u64, speed: f64) -> Result<RunResult> {
    let scenario = prepared.scenario.clone();
    let faults = prepared.faults_for(seed);
    let fixture = with_bursts(&prepared.fixture, &faults);
    let reference = reference(&fixture)?;
    let start = fixture.header.start_unix_ms;
    let dir = tempfile::tempdir().map_err(|e| SimError::Usage(format!("cannot make a temporary folder: {e}")))?;
    let server = match scenario.delivery {
        Delivery::Core => NatsServer::start(),
        Delivery::Jetstream => {
            let store = dir.path().join("jetstream");
            std::fs::create_dir_all(&store).map_err(|e| SimError::write("JetStream store", &store, e))?;
            NatsServer::start_jetstream(&store)
        }
    };
    let bot_proxy = Proxy::start(server.port()).await.map_err(|e| SimError::Usage(format!("proxy: {e}")))?;
    let mut db_proxies = BTreeMap::new();
    for host in db_host_names(scenario.db_services) {
        let proxy = Proxy::start(server.port()).await.map_err(|e| SimError::Usage(format!("proxy: {e}")))?;
        db_proxies.insert(host, proxy);
    }
    let trace = Trace::new(true);
    let stack = Rc::new(Stack {
        server: RefCell::new(server),
        bot_proxy,
        db_proxies,
        db_path: dir.path().join("bot_data.db"),
        start_unix_ms: start,
        scenario: scenario.clone(),
        faults: faults.clone(),
        trace: trace.clone(),
        speed,
        stop: watch::channel(false).0,
        services: RefCell::default(),
        reports: RefCell::default(),
        errors: RefCell::default(),
        chat: RefCell::default(),
    });

    // The fake CyTube's clock starts at the fixture's start, now.
    let chat_plan = match scenario.chat {
        ChatMode::Standin => ChatPlan::Standin,
        ChatMode::Cytube => {
            let header = &fixture.header;
            let config = FakeConfig { channel: header.channel.clone(), ..FakeConfig::default() }.with_account(
                &header.bot,
                chathost::BOT_PASSWORD,
                chathost::BOT_RANK,
            );
            let server = LocalServer::start_at(config, start)
                .await
                .map_err(|e| SimError::Usage(format!("cannot start the fake CyTube: {e}")))?;
            let (fake, base) = (server.fake.clone(), server.base_url());
            *stack.chat.borrow_mut() = Some(server);
            fake.seed_history(chathost::feeder::history_of(&fixture));
            ChatPlan::Cytube { fake, base }
        }
    };
    // Virtual 0: the timeline, the faults' clock and the services' clock agree.
    ORIGIN.with(|origin| origin.set(Some((tokio::time::Instant::now(), speed))));
    let timeline = TokioTimeline::new(speed);
    for host in db_host_names(scenario.db_services) {
        stack.start_service(&host).await.map_err(SimError::Usage)?;
    }
    let origin = tokio::time::Instant::now();
    let schedule = {
        let stack = stack.clone();
        let mut transitions: Vec<(i64, usize, bool)> = Vec::new();
        for (index, fault) in faults.iter().enumerate() {
            transitions.push((fault.from_ms, index, true));
            transitions.push((fault.until_ms, index, false));
        }
        transitions.sort();
        let faults = faults.clone();
        tokio::task::spawn_local(async move {
            for (at, index, starts) in transitions {
                rosey::timers::sleep_until(origin + real(at, speed)).await;
                stack.transition(&faults[index], starts).await;
            }
        })
    };

    let transport = NatsTransport::connect_in_background(&options(stack.bot_proxy.port, "bot"))
        .await
        .map_err(|e| SimError::Usage(e.to_string()))?;
    let header = &fixture.header;
    let bot = Bot::new(&header.channel, &header.bot, start, scenario.protocol);
    let config = RunnerConfig { request_timeout: DEFAULT_REQUEST_TIMEOUT.div_f64(speed), ..RunnerConfig::default() };
    let drops = |scope| Drops::new(&faults, scope, seed, live_now_ms, trace.clone());
    if let ChatPlan::Cytube { fake, .. } = &chat_plan {
        let users = chathost::feeder::feed_with(fixture.clone(), fake.clone(), faults.clone(), live_now_ms);
        tokio::task::spawn_local(async move {
            if let Err(error) = users.await {
                tracing::warn!(%error, "[CYTUBE] the users stopped");
            }
        });
    }
    let play = Play { fixture: &fixture, faults: &faults, trace: &trace, chat: &chat_plan, seed };
    let played = match scenario.delivery {
        Delivery::Core => {
            let link = BusLink::new(transport, rosey::app::outbox_for(scenario.protocol));
            let link = FaultyLink::new(link, drops(DropScope::All));
            play.run(&link, bot, timeline, config).await?
        }
        Delivery::Jetstream => {
            // One bot per run: its instance id only has to be unique in the stream.
            let faulty = FaultyTransport::new(transport, drops(DropScope::Stream));
            let link = BusLink::jetstream(faulty, format!("bot-live-{seed:x}"), scenario.ack_window);
            let link = FaultyLink::new(link, drops(DropScope::Requests));
            play.run(&link, bot, timeline, config).await?
        }
    };
    let Played { report, chat, outbox, dropped } = played;
    schedule.abort();
    stack.stop_services().await;
    ORIGIN.with(|origin| origin.set(None));

    let chat_log = match &chat_plan {
        ChatPlan::Cytube { fake, .. } => Some(fake.chat_log()),
        ChatPlan::Standin => None,
    };
    let store = Store::open(&stack.db_path, unix_seconds(start))?;
    let dump = store.dump()?;
    let records = trace.records();
    let errors = stack.errors.borrow().clone();
    let host_error = (!errors.is_empty()).then(|| errors.join("; "));
    let verdicts = invariants::check(&Observed {
        dump: &dump,
        reference: &reference,
        faults: &faults,
        said: &chat.said,
        attempts: &chat.attempts,
        report: &report,
        host_error: host_error.as_deref(),
        trace: &records,
        start_unix_ms: start,
        end_ms: fixture.end_ms(),
        strict: scenario.delivery == Delivery::Jetstream,
        cytube: chat_log.as_deref().map(|log| invariants::CytubeView { bot: &fixture.header.bot, log }),
    });
    let expected_violation = scenario.expect_violation.clone();
    let passed = meets_expectation(expected_violation.as_deref(), &verdicts);
    let effects = crate::coverage::effects(&faults, &records);
    let services = stack.reports.borrow().clone();
    Ok(RunResult {
        seed,
        mode: crate::scenario::Mode::Bus,
        protocol: scenario.protocol,
        delivery: scenario.delivery,
        faults,
        virtual_ms: report.virtual_ms,
        outbox: Some(outbox),
        dropped_by_faults: dropped,
        report,
        said: chat.said,
        services,
        verdicts,
        expected_violation,
        passed,
        trace_hash: trace.hash_hex(),
        effects,
        trace,
        dump: Some(dump),
    })
}

/// What the bot's replay left.
struct Played {
    report: rosey::bot::ReplayReport,
    chat: ChatStandIn,
    outbox: rosey::link::OutboxStats,
    dropped: u64,
}

/// The bot's chat: the in-process stand-in, or the fake CyTube on a real socket.
enum ChatPlan {
    Standin,
    Cytube { fake: FakeCytube, base: String },
}

/// What the bot's replay runs with.
struct Play<'a> {
    fixture: &'a rosey::fixture::Fixture,
    faults: &'a [Fault],
    trace: &'a Trace,
    chat: &'a ChatPlan,
    seed: u64,
}

impl Play<'_> {
    /// Replays the fixture through the bot over `link` (its chat as planned),
    /// then makes sure the server has everything (JetStream: acknowledged
    /// and applied; core: a round trip).
    async fn run<T: Transport>(
        &self,
        link: &FaultyLink<BusLink<T>>,
        bot: Bot,
        timeline: TokioTimeline,
        config: RunnerConfig,
    ) -> Result<Played> {
        let fixture = self.fixture;
        let (mut report, chat) = match self.chat {
            ChatPlan::Standin => {
                let chat = ChatStandIn::new(self.faults, fixture.header.start_unix_ms);
                let runner = Runner::new(bot, link, chat, timeline, self.trace.clone(), config);
                let (report, chat, _bot) = runner.replay(fixture).await;
                (report, chat)
            }
            ChatPlan::Cytube { fake, base } => {
                let header = &fixture.header;
                let url = ChannelUrl::parse(&format!("{base}/r/{}", header.channel))
                    .map_err(|e| SimError::Usage(format!("the fake's URL: {e}")))?;
                let login = Login { name: header.bot.clone(), password: Some(Secret::new(chathost::BOT_PASSWORD)) };
                let mut session = SessionConfig::new(url, Some(login));
                session.seed = self.seed;
                let (live, sink) = LiveChannel::new(Session::new(TcpDialer, session));
                let mut source = CytubeSource::new(live, fixture);
                let runner = Runner::new(bot, link, sink, timeline, self.trace.clone(), config);
                let (report, _sink, _bot) = runner.run(&mut source).await;
                source.close().await;
                let said = chathost::said_by_bot(&fake.chat_log(), &header.bot, &chathost::enqueued_texts(fixture));
                (report, ChatStandIn::recorded(said, crate::world::attempts(self.trace)))
            }
        };
        let bus = link.inner();
        if bus.stream_stats().is_some() {
            crate::world::settle_stream(bus).await;
            report.jetstream = bus.stream_stats();
        }
        let _ = rosey::timers::timeout(Duration::from_secs(10), bus.transport().round_trip()).await;
        Ok(Played { report, chat, outbox: bus.outbox_stats(), dropped: link.dropped() })
    }
}
