//! What the benches share: the bot and its events, a db-service / echo
//! responder / chat flooder on a live nats-server (each on its own thread and
//! runtime, stopped and joined on drop), a turmoil rig that runs jobs on a
//! long-lived simulation, and the percentile files `benches/report.sh` reads.
//!
//! Benches are not replays: the determinism rules do not apply here (wall
//! clock, threads), except that nothing inside a turmoil host blocks on
//! another thread (no `spawn_blocking`).

#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rosey::app::Percentiles;
use rosey::bot::{Bot, Protocol};
use rosey::clock::{Clock, FixedClock, SystemClock};
use rosey::contract::{Command, MessageLog, Subject};
use rosey::cytube::{ChatEvent, User, UserlistUpdate};
use rosey::link::{BusLink, DbLink, DirectLink};
use rosey::service::{DbService, ServiceConfig, ServiceReport};
use rosey::store::{Journal, Store};
use rosey::transport::{NatsOptions, NatsTransport, Subscription, Transport};
use rosey_sim::bus::{SimBusOptions, SimTransport, BUS_ADDR};
use tokio::sync::{mpsc, oneshot};

/// The benches' virtual start (Unix ms); every command carries an `at_ms` near it.
pub const T0_MS: i64 = 1_731_000_000_000;
/// Events per measured chunk in `bot_event_cost` (a flush ends each chunk).
pub const CHUNK: u64 = 256;
/// Users in the channel before the measurements start.
pub const CHANNEL_USERS: usize = 20;
/// The subject of the raw request/reply floor.
pub const ECHO_SUBJECT: &str = "bench.echo";

/// Whether criterion measures (`cargo bench`) rather than smoke-tests each
/// bench once (`cargo test --benches`); expensive extras run only then.
pub fn bench_mode() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// One current-thread runtime, as the `rosey` binary runs.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// A file database in WAL mode (the db-service's default) at `path`.
pub fn wal_store(path: &Path) -> Store {
    Store::open_with(path, Journal::Wal, T0_MS / 1000).expect("a bench database")
}

pub fn direct_link(path: &Path) -> DirectLink<FixedClock> {
    DirectLink::new(wal_store(path), FixedClock(T0_MS))
}

pub fn nats_options(url: &str, name: &str) -> NatsOptions {
    NatsOptions { url: url.to_string(), name: name.to_string(), ..NatsOptions::default() }
}

pub async fn nats_connect(url: &str, name: &str) -> NatsTransport {
    NatsTransport::connect(&nats_options(url, name)).await.expect("the bench's nats-server accepts connections")
}

pub fn sim_options(name: &str) -> SimBusOptions {
    SimBusOptions { name: name.into(), ..SimBusOptions::default() }
}

/// A DB-facing bot event kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `chatMsg` -> `message.log`.
    Chat,
    /// `addUser` of a new user -> `user.joined` + `stats.high_water`.
    Join,
    /// `userLeave` -> `user.left`.
    Leave,
    /// `usercount` -> `stats.high_water`.
    HighWater,
    /// The 10 s tick -> `status.update` (`Bot::status`, not `Bot::handle`).
    Status,
}

pub const KINDS: [Kind; 5] = [Kind::Chat, Kind::Join, Kind::Leave, Kind::HighWater, Kind::Status];

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Chat => "chat",
            Kind::Join => "join",
            Kind::Leave => "leave",
            Kind::HighWater => "high_water",
            Kind::Status => "status",
        }
    }
}

/// What one measured step does.
pub enum Step {
    Event(ChatEvent),
    Status,
}

/// The bot, in a channel of [`CHANNEL_USERS`], and the events fed to it.
///
/// Events are built before the clock starts (parsing a socket event is not
/// the bot's cost here). `Join` and `Leave` need a counterpart so the channel
/// stays realistic (a bot's userlist is tens of users, not millions): a
/// measured chunk of joins is followed by unmeasured leaves of the same
/// users, a measured chunk of leaves is preceded by unmeasured joins.
pub struct Feed {
    pub bot: Bot,
    next_user: u64,
    chat: Vec<ChatEvent>,
    next_chat: usize,
    chunk_users: Vec<String>,
    at_ms: i64,
}

impl Feed {
    /// The feed and the opening userlist's commands (send them first).
    pub fn new() -> (Feed, Vec<Command>) {
        let mut bot = Bot::new("bench", "Rosey", T0_MS, Protocol::Hardened);
        let users = (0..CHANNEL_USERS).map(|i| user(format!("chatter{i}"))).collect();
        let opening = bot.handle(&ChatEvent::Userlist(UserlistUpdate { users, dropped: Vec::new() }), T0_MS);
        let chat = (0..CHUNK as usize)
            .map(|i| ChatEvent::ChatMsg {
                username: format!("chatter{}", i % CHANNEL_USERS),
                msg: format!("bench line {i}: the quick brown fox jumps over the lazy dog"),
            })
            .collect();
        (Feed { bot, next_user: 0, chat, next_chat: 0, chunk_users: Vec::new(), at_ms: T0_MS }, opening)
    }

    /// The time of the next chunk: one second later each time.
    pub fn tick(&mut self) -> i64 {
        self.at_ms += 1000;
        self.at_ms
    }

    /// Builds the steps of a chunk of `n` events of `kind`, and the
    /// unmeasured commands to send before it.
    pub fn chunk(&mut self, kind: Kind, n: u64, at_ms: i64) -> (Vec<Command>, Vec<Step>) {
        let mut before = Vec::new();
        let steps = (0..n)
            .map(|_| match kind {
                Kind::Chat => {
                    self.next_chat = (self.next_chat + 1) % self.chat.len();
                    Step::Event(self.chat[self.next_chat].clone())
                }
                Kind::Join => Step::Event(ChatEvent::AddUser(user(self.fresh_user()))),
                Kind::Leave => {
                    let name = self.fresh_user();
                    before.extend(self.bot.handle(&ChatEvent::AddUser(user(name.clone())), at_ms));
                    Step::Event(ChatEvent::UserLeave { name })
                }
                Kind::HighWater => Step::Event(ChatEvent::Usercount(40 + (self.next_user % 7) as i64)),
                Kind::Status => Step::Status,
            })
            .collect();
        (before, steps)
    }

    /// The measured part: the bot's handler for one step.
    pub fn step(&mut self, step: &Step, at_ms: i64) -> Vec<Command> {
        match step {
            Step::Event(event) => {
                if let ChatEvent::AddUser(user) = event {
                    self.chunk_users.push(user.name.clone());
                }
                self.bot.handle(event, at_ms)
            }
            Step::Status => vec![self.bot.status(at_ms, true)],
        }
    }

    /// The unmeasured commands after a chunk: the joined users leave again.
    pub fn after(&mut self, at_ms: i64) -> Vec<Command> {
        let names = std::mem::take(&mut self.chunk_users);
        names.iter().flat_map(|name| self.bot.handle(&ChatEvent::UserLeave { name: name.clone() }, at_ms)).collect()
    }

    fn fresh_user(&mut self) -> String {
        self.next_user += 1;
        format!("visitor{}", self.next_user)
    }

    /// The bot's commands for the next chat line (for end-to-end batches).
    pub fn chat(&mut self, at_ms: i64) -> Vec<Command> {
        self.next_chat = (self.next_chat + 1) % self.chat.len();
        self.bot.handle(&self.chat[self.next_chat], at_ms)
    }
}

fn user(name: String) -> User {
    User { name, rank: 0.0, afk: false, muted: false }
}

/// How a link finishes the bot's side of a chunk, and lets the far side catch up.
pub trait Drain {
    /// Ends the measured part: for a bus link, until everything published is
    /// written to the socket (async-nats and the sim client both write from a
    /// background task, on the bot's own runtime thread).
    fn drain(&self) -> impl Future<Output = ()>;
    /// Unmeasured: lets the server catch up (a round trip for bus links).
    fn settle(&self) -> impl Future<Output = ()>;
}

impl<C: Clock> Drain for DirectLink<C> {
    async fn drain(&self) {}
    async fn settle(&self) {}
}

impl<T: Transport> Drain for BusLink<T> {
    async fn drain(&self) {
        self.transport().flush().await.expect("flush");
    }
    async fn settle(&self) {
        self.transport().round_trip().await.expect("round trip");
    }
}

pub async fn send_all<L: DbLink>(link: &L, commands: Vec<Command>) {
    for command in commands {
        link.send(command).await.expect("send");
    }
}

/// The bot-side cost of `iters` events of `kind`: `Bot::handle` (or
/// `Bot::status`) plus `link.send` of each command, in chunks of [`CHUNK`],
/// each ended by [`Drain::drain`]. Only that is timed. Returns the time and
/// how many chunks saw the tokio clock move (under turmoil: a chunk that
/// waited for another simulated host, which would bill its work to the bot).
pub async fn bot_cost<L: DbLink + Drain>(feed: &mut Feed, link: &L, kind: Kind, iters: u64) -> (Duration, u64) {
    let (mut total, mut spanned, mut left) = (Duration::ZERO, 0, iters);
    while left > 0 {
        let n = left.min(CHUNK);
        left -= n;
        let at_ms = feed.tick();
        let (before, steps) = feed.chunk(kind, n, at_ms);
        send_all(link, before).await;
        link.drain().await;
        let (wall, clock) = (Instant::now(), tokio::time::Instant::now());
        for step in &steps {
            for command in feed.step(step, at_ms) {
                link.send(command).await.expect("send");
            }
        }
        link.drain().await;
        total += wall.elapsed();
        if clock.elapsed() > Duration::ZERO {
            spanned += 1;
        }
        let after = feed.after(at_ms);
        send_all(link, after).await;
        link.settle().await;
    }
    (total, spanned)
}

/// What a simulated host returns (turmoil's `Result`; turmoil itself is
/// only a dependency of `rosey-sim`, so benches build sims without naming its types).
pub type HostResult = Result<(), Box<dyn std::error::Error>>;

/// A turmoil builder for the benches: [`bus::sim_builder`] with link latency
/// 0-1 ms (a LAN; turmoil's default is 0-100 ms) and its 1 ms tick.
#[macro_export]
macro_rules! lan_sim {
    () => {{
        let mut builder = rosey_sim::bus::sim_builder(1, $crate::common::T0_MS);
        builder.min_message_latency(std::time::Duration::ZERO).max_message_latency(std::time::Duration::from_millis(1));
        builder.build()
    }};
}

/// A turmoil simulation kept alive across criterion's calls: the client host
/// waits for jobs, and [`SimRig::run`] steps the simulation until the job's
/// result is in. Nothing is stepped between jobs.
pub struct SimRig<'a, J> {
    step: Box<dyn FnMut() -> Result<bool, String> + 'a>,
    jobs: mpsc::UnboundedSender<J>,
    done: Rc<Cell<Option<Duration>>>,
}

/// What a rig's client gets: its jobs, and where to put each job's time.
pub type Jobs<J> = (mpsc::UnboundedReceiver<J>, Rc<Cell<Option<Duration>>>);

impl<'a, J: 'static> SimRig<'a, J> {
    /// `build` makes the sim (hosts, and a client that serves the jobs it is
    /// given) and returns its step function.
    pub fn new(build: impl FnOnce(Jobs<J>) -> Box<dyn FnMut() -> Result<bool, String> + 'a>) -> Self {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let done = Rc::new(Cell::new(None));
        let step = build((receiver, done.clone()));
        SimRig { step, jobs, done }
    }

    /// Runs one job to its end.
    pub fn run(&mut self, job: J) -> Duration {
        self.jobs.send(job).unwrap_or_else(|_| panic!("the sim client has ended"));
        loop {
            if let Some(took) = self.done.take() {
                return took;
            }
            match (self.step)() {
                Ok(false) => {}
                Ok(true) => panic!("the sim client ended before its job was done"),
                Err(error) => panic!("the simulation failed: {error}"),
            }
        }
    }
}

/// Waits until a db-service answers on the simulated bus.
pub async fn sim_wait_for_service(link: &BusLink<SimTransport>) {
    loop {
        let poll = rosey::bot::Outbound::new(Protocol::Hardened).request(T0_MS);
        if link.request(poll, Duration::from_secs(1)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A db-service host for a sim, over the WAL file at `path`, group commit:
/// `sim.host("db", move || sim_db_host(path.clone()))`.
pub async fn sim_db_host(path: PathBuf) -> HostResult {
    let transport = SimTransport::connect(BUS_ADDR, sim_options("db"));
    let service = DbService::new(transport, wal_store(&path), FixedClock(T0_MS), ServiceConfig::default());
    service.run(std::future::pending()).await?;
    Ok(())
}

/// A host publishing `per_ms` chat lines every virtual millisecond.
pub async fn sim_flood_host(per_ms: u64) -> HostResult {
    let transport = SimTransport::connect(BUS_ADDR, sim_options("flood"));
    transport.round_trip().await?;
    let mut seq = 0_u64;
    loop {
        for _ in 0..per_ms {
            seq += 1;
            transport.publish(Subject::MessageLog.as_str(), flood_line(seq, T0_MS)).await?;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A chat line as the bot would publish it.
pub fn flood_line(seq: u64, at_ms: i64) -> Bytes {
    let line = Command::MessageLog(MessageLog {
        username: format!("flooder{}", seq % 50),
        message: format!("flood line {seq}: the quick brown fox jumps over the lazy dog"),
        at_ms: Some(at_ms),
    });
    Bytes::from(line.encode())
}

/// A thread running `body` on its own current-thread runtime until `stop`
/// fires; joined (and its result returned) by [`Worker::stop`] or on drop.
pub struct Worker<R> {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<R>>,
}

impl<R: Send + 'static> Worker<R> {
    /// Starts `body(stop)`; returns once `body` has called `ready`.
    pub fn start<F, Fut>(name: &str, body: F) -> Worker<R>
    where
        F: FnOnce(oneshot::Receiver<()>, std::sync::mpsc::Sender<()>) -> Fut + Send + 'static,
        Fut: Future<Output = R>,
    {
        let (stop, stop_rx) = oneshot::channel();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || runtime().block_on(body(stop_rx, ready_tx)))
            .expect("a bench thread");
        ready.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("{name} did not become ready"));
        Worker { stop: Some(stop), thread: Some(thread) }
    }

    pub fn stop(mut self) -> R {
        self.finish().expect("stopped once")
    }

    fn finish(&mut self) -> Option<R> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread.take().map(|thread| thread.join().expect("the bench thread panicked"))
    }
}

impl<R> Drop for Worker<R> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A db-service on the live server: WAL file at `path`, group commit
/// (`ServiceConfig::default()`), on its own thread.
pub fn live_service(url: &str, path: &Path) -> Worker<ServiceReport> {
    let (url, path) = (url.to_string(), path.to_path_buf());
    Worker::start("db-service", move |stop, ready| async move {
        let transport = nats_connect(&url, "bench-db-service").await;
        let (ready_tx, ready_rx) = oneshot::channel();
        let service =
            DbService::new(transport, wal_store(&path), SystemClock, ServiceConfig::default()).with_ready(ready_tx);
        let run = service.run(async move {
            let _ = stop.await;
        });
        let announce = async move {
            if ready_rx.await.is_ok() {
                let _ = ready.send(());
            }
        };
        let (result, ()) = tokio::join!(run, announce);
        result.expect("the db-service subscribes").0
    })
}

/// Replies to every request on [`ECHO_SUBJECT`] with its payload: the floor
/// of a NATS request/reply, with no work behind it.
pub fn live_echo(url: &str) -> Worker<()> {
    let url = url.to_string();
    Worker::start("echo", move |mut stop, ready| async move {
        let transport = nats_connect(&url, "bench-echo").await;
        let mut requests = transport.subscribe(ECHO_SUBJECT, None).await.expect("subscribe");
        transport.round_trip().await.expect("round trip");
        let _ = ready.send(());
        loop {
            tokio::select! {
                _ = &mut stop => break,
                request = requests.next() => {
                    let Some(request) = request else { break };
                    if let Some(reply) = request.reply {
                        let _ = transport.publish(&reply, request.payload).await;
                    }
                }
            }
        }
    })
}

/// Publishes chat lines at `per_sec` (in 1 ms slices) until stopped; returns
/// how many it published.
pub fn live_flood(url: &str, per_sec: u64) -> Worker<u64> {
    let url = url.to_string();
    Worker::start("flood", move |mut stop, ready| async move {
        let transport = nats_connect(&url, "bench-flood").await;
        let _ = ready.send(());
        let started = Instant::now();
        let mut sent = 0_u64;
        loop {
            let due = (per_sec as f64 * started.elapsed().as_secs_f64()) as u64;
            while sent < due {
                sent += 1;
                transport.publish(Subject::MessageLog.as_str(), flood_line(sent, SystemClock.now_ms())).await.ok();
            }
            tokio::select! {
                _ = &mut stop => break,
                () = tokio::time::sleep(Duration::from_millis(1)) => {}
            }
        }
        let _ = transport.flush().await;
        sent
    })
}

/// Where criterion writes (its own rule): `CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `<target>/criterion` next to this
/// bench binary (`<target>/<profile>/deps/<bench>`).
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let exe = std::env::current_exe().ok();
    let target = exe.as_deref().and_then(|exe| exe.parent()?.parent()?.parent());
    target.map_or_else(|| PathBuf::from("target/criterion"), |target| target.join("criterion"))
}

/// Writes nearest-rank percentiles of `samples` to
/// `<criterion home>/rosey-percentiles/<name>.json` (for `benches/report.sh`)
/// and prints them.
pub fn write_percentiles(name: &str, samples: &mut [Duration]) {
    let p = Percentiles::of(samples);
    let dir = criterion_home().join("rosey-percentiles");
    let ns = |d: Duration| d.as_nanos();
    let json = format!(
        "{{\"count\":{},\"p50_ns\":{},\"p99_ns\":{},\"p999_ns\":{},\"max_ns\":{}}}\n",
        p.count,
        ns(p.p50),
        ns(p.p99),
        ns(p.p999),
        ns(p.max)
    );
    if let Err(error) =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(format!("{name}.json")), json))
    {
        eprintln!("cannot write the percentiles of {name}: {error}");
    }
    eprintln!("{name}: {p}");
}

/// A shared list of samples, for a sim client to fill.
pub type Samples = Rc<RefCell<Vec<Duration>>>;
