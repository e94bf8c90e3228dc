use std::future::{poll_fn, Future};
use std::mem;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use rand::rngs::SmallRng;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio::task::LocalSet;
use tokio::time::{sleep, sleep_until, Duration, Instant};

use super::Result;

// To support re-creation, we need to store a factory of the future that
// represents the software. This is somewhat annoying in that it requires
// boxxing to avoid generics.
type Software<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Result>>> + 'a>;

/// Runtime kinds.
pub enum Kind<'a> {
    /// A runtime for executing test code.
    Client,

    /// A runtime that is running simulated host software.
    Host { software: Software<'a> },

    /// A runtime without any software. The network topology uses this for
    /// time tracking and message delivery.
    NoSoftware,
}

/// Runtime configuration.
#[derive(Clone, Default)]
pub struct Config {
    /// Whether io is enabled on the runtime.
    pub enable_io: bool,

    /// Rng used to seed the tokio runtime.
    ///
    /// Only used if the `tokio_unstable` cfg flag is set.
    #[cfg_attr(not(tokio_unstable), expect(dead_code))]
    pub rng: Option<SmallRng>,
}

/// Per host simulated runtime.
///
/// The tokio runtime is paused (see [`Builder::start_paused`]), which gives us
/// control over when and how to advance time. In particular, see [`Rt::tick`],
/// which lets the runtime do a bit more work.
pub struct Rt<'a> {
    pub kind: Kind<'a>,

    /// Handle to the Tokio runtime driving this simulated host. Each runtime
    /// may have a different sense of "now" which simulates clock skew.
    tokio: Runtime,

    /// Local task set used for running !Send tasks.
    local: LocalSet,

    /// A user readable name to identify the node.
    pub nodename: Arc<str>,

    /// Optional handle to a host's software. When software finishes, the handle is
    /// consumed to check for error, which is propagated up to fail the simulation.
    handle: Option<JoinHandle<Result>>,

    /// Runtime configuration.
    config: Config,

    /// Sees every wake of this host's `LocalSet` (rosey patch, quiet stepping).
    wakes: WakeWatch,

    /// Polls of tasks spawned on the tokio runtime itself, not the `LocalSet`
    /// (rosey patch, quiet stepping).
    polls: Arc<AtomicU64>,
}

/// `REMOTE_FIRST_INTERVAL` of tokio's `LocalSet`: every 31st turn of its
/// counter it takes a task woken from outside before one woken inside.
const LOCAL_SET_PHASE: u64 = 31;

/// Forwards the `block_on` waker and remembers that it was woken.
///
/// The `LocalSet` registers the waker of the `run_until` that polls it: with
/// this one in between, a wake of a host task from outside its own tick (by
/// another host's software, or by the code between steps) is seen, so the
/// host is not counted quiet.
struct Forward {
    woken: AtomicBool,
    target: Mutex<Option<Waker>>,
}

impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Relaxed);
        if let Some(target) = self.target.lock().expect("waker lock").as_ref() {
            target.wake_by_ref();
        }
    }
}

struct WakeWatch {
    forward: Arc<Forward>,
    waker: Waker,
}

impl WakeWatch {
    /// Starts woken: software spawned from outside a tick waits on the
    /// `LocalSet` without having woken anything.
    fn new() -> Self {
        let forward = Arc::new(Forward {
            woken: AtomicBool::new(true),
            target: Mutex::new(None),
        });
        let waker = Waker::from(forward.clone());
        Self { forward, waker }
    }

    /// The forwarding waker, pointed at `target` (the same `block_on` waker
    /// tick after tick, so it is rarely replaced).
    fn wrap(&self, target: &Waker) -> &Waker {
        let mut current = self.forward.target.lock().expect("waker lock");
        if !current.as_ref().is_some_and(|w| w.will_wake(target)) {
            *current = Some(target.clone());
        }
        &self.waker
    }

    fn clear(&self) {
        self.forward.woken.store(false, Ordering::Relaxed);
    }

    fn woken(&self) -> bool {
        self.forward.woken.load(Ordering::Relaxed)
    }
}

impl<'a> Rt<'a> {
    pub(crate) fn client<F>(nodename: Arc<str>, client: F, mut config: Config) -> Self
    where
        F: Future<Output = Result> + 'static,
    {
        let polls = Arc::new(AtomicU64::new(0));
        let (tokio, local) = init(&mut config, &polls);

        let handle = with(&tokio, &local, || tokio::task::spawn_local(client));

        Self {
            kind: Kind::Client,
            tokio,
            local,
            nodename,
            handle: Some(handle),
            config,
            wakes: WakeWatch::new(),
            polls,
        }
    }

    pub(crate) fn host<F, Fut>(nodename: Arc<str>, software: F, mut config: Config) -> Self
    where
        F: Fn() -> Fut + 'a,
        Fut: Future<Output = Result> + 'static,
    {
        let polls = Arc::new(AtomicU64::new(0));
        let (tokio, local) = init(&mut config, &polls);

        let software: Software = Box::new(move || Box::pin(software()));
        let handle = with(&tokio, &local, || tokio::task::spawn_local(software()));

        Self {
            kind: Kind::Host { software },
            tokio,
            local,
            nodename,
            handle: Some(handle),
            config,
            wakes: WakeWatch::new(),
            polls,
        }
    }

    pub(crate) fn no_software() -> Self {
        let mut config = Config::default();
        let polls = Arc::new(AtomicU64::new(0));
        let (tokio, local) = init(&mut config, &polls);

        Self {
            kind: Kind::NoSoftware,
            tokio,
            local,
            nodename: String::new().into(),
            handle: None,
            config,
            wakes: WakeWatch::new(),
            polls,
        }
    }

    pub(crate) fn is_client(&self) -> bool {
        matches!(self.kind, Kind::Client)
    }

    fn is_host(&self) -> bool {
        matches!(self.kind, Kind::Host { .. })
    }

    pub(crate) fn is_software_running(&self) -> bool {
        self.handle.is_some()
    }

    pub(crate) fn now(&self) -> Instant {
        let _guard = self.tokio.enter();
        Instant::now()
    }

    // This method is called by [`Sim::run`], which iterates through all the
    // runtimes and ticks each one. The magic of this method is described in the
    // documentation for [`LocalSet::run_until`], but it may not be entirely
    // obvious how things fit together.
    //
    // A [`LocalSet`] tracks the tasks to run, which may in turn spawn more
    // tasks. `run_until` drives a top level task to completion, but not its
    // children. If you look below, you may be confused. The task we run here
    // just sleeps and has no children! However, it's the _same `LocalSet`_ that
    // is used to run software on the host.
    //
    // In this way, every time `tick` is called, the following unfolds:
    //
    // 1. Time advances on the runtime
    // 2. We schedule a new task that simply sleeps
    // 3. Other tasks on the `LocalSet` get a chance to run
    // 4. The sleep finishes
    // 5. The runtime pauses
    //
    // Returns whether the software has finished successfully or the error
    // that caused failure. Subsequent calls do not return the error as it is
    // expected to fail the simulation.
    pub(crate) fn tick(&mut self, duration: Duration) -> Result<bool> {
        let wakes = &self.wakes;
        self.tokio.block_on(async {
            let run = pin!(self.local.run_until(async {
                sleep(duration).await;
            }));
            watched(run, wakes).await
        });
        self.wakes.clear();
        self.software_finished()
    }

    /// Whether nothing is due on this host that time alone would not bring:
    /// no task woken since its last tick (by another host, or between steps)
    /// and none queued on its tokio runtime. Timers are the caller's to know.
    pub(crate) fn is_quiet(&self) -> bool {
        !self.wakes.woken() && self.tokio.metrics().global_queue_depth() == 0
    }

    /// Advances this host's clock by `duration` in one go, for a stretch the
    /// caller knows to be quiet (see [`Rt::is_quiet`]): the same as ticking it
    /// step by step through the stretch, at the cost of one tick.
    ///
    /// If any task wakes before the end (a timer the caller did not know of),
    /// the stretch stops there, before that task runs on the `LocalSet`, and
    /// the error says how far in: the run can no longer be the same as
    /// stepping, so it must fail rather than go on.
    ///
    /// `steps` is how many ticks the stretch stands for: the `LocalSet` takes
    /// its remote queue first on every 31st turn of a counter that each tick
    /// turns once, so the stretch turns it as many times (mod 31) as those
    /// ticks would have, by polling the idle set again before time moves.
    pub(crate) fn tick_quiet(&mut self, duration: Duration, steps: u64) -> Result<bool> {
        let polls_before = self.polls.load(Ordering::Relaxed);
        let wakes = &self.wakes;
        let turns = (steps.max(1) - 1) % LOCAL_SET_PHASE;
        let early = self.tokio.block_on(async {
            let start = Instant::now();
            let end = start + duration;
            let run = pin!(self.local.run_until(async {
                let mut stretch = pin!(sleep_until(end));
                poll_fn(|cx| {
                    let now = Instant::now();
                    if now < end && now > start {
                        return Poll::Ready(Some(now - start));
                    }
                    stretch.as_mut().poll(cx).map(|()| None)
                })
                .await
            }));
            let mut run = run;
            let mut turned = false;
            poll_fn(|cx| {
                let waker = wakes.wrap(cx.waker());
                let mut cx = Context::from_waker(waker);
                if !turned {
                    turned = true;
                    for _ in 0..turns {
                        if let Poll::Ready(out) = run.as_mut().poll(&mut cx) {
                            return Poll::Ready(out);
                        }
                    }
                }
                run.as_mut().poll(&mut cx)
            })
            .await
        });
        self.wakes.clear();
        let ran = self.polls.load(Ordering::Relaxed) != polls_before;
        let woke_after = match early {
            Some(after) => after,
            None if ran => duration,
            None => return self.software_finished(),
        };
        Err(format!(
            "host {} woke {woke_after:?} into a quiet stretch of {duration:?}: a timer or a \
             wake the simulation was not told of (create timers through rosey::timers)",
            self.nodename
        ))?
    }

    fn software_finished(&mut self) -> Result<bool> {
        // pull for software completion
        match &self.handle {
            Some(handle) if handle.is_finished() => {
                // Consume handle to extract task result
                if let Some(h) = self.handle.take() {
                    match self.tokio.block_on(h) {
                        // If the host was crashed the JoinError is cancelled, which
                        // needs to be handled to not fail the simulation.
                        Err(je) if je.is_cancelled() => {}
                        res => res??,
                    }
                };
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Ok(true),
        }
    }

    pub(crate) fn crash(&mut self) {
        if !self.is_host() {
            panic!("can only crash host's software");
        }

        if self.handle.take().is_some() {
            self.cancel_tasks();
        };
    }

    pub(crate) fn bounce(&mut self) {
        if !self.is_host() {
            panic!("can only bounce host's software");
        }

        self.cancel_tasks();

        if let Kind::Host { software } = &self.kind {
            let handle = with(&self.tokio, &self.local, || {
                tokio::task::spawn_local(software())
            });
            self.handle.replace(handle);
            // As at creation: the new software is due at once.
            self.wakes.forward.woken.store(true, Ordering::Relaxed);
        };
    }

    /// Cancel all tasks within the [`Rt`] by dropping the current tokio
    /// [`Runtime`].
    ///
    /// Dropping the runtime blocks the calling thread until all futures have
    /// completed, which is desired here to ensure host software completes and
    /// all resources are dropped.
    ///
    /// Both the [`Runtime`] and [`LocalSet`] are replaced with new instances.
    fn cancel_tasks(&mut self) {
        let (tokio, local) = init(&mut self.config, &self.polls);

        _ = mem::replace(&mut self.tokio, tokio);
        drop(mem::replace(&mut self.local, local));
    }
}

fn init(config: &mut Config, polls: &Arc<AtomicU64>) -> (Runtime, LocalSet) {
    let mut tokio_builder = tokio::runtime::Builder::new_current_thread();

    #[cfg(tokio_unstable)]
    tokio_builder.unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime);

    #[cfg(tokio_unstable)]
    {
        let polls = polls.clone();
        tokio_builder.on_before_task_poll(move |_| {
            polls.fetch_add(1, Ordering::Relaxed);
        });
    }
    #[cfg(not(tokio_unstable))]
    let _ = polls;

    if config.enable_io {
        tokio_builder.enable_io();
    }

    #[cfg(tokio_unstable)]
    if let Some(rng) = &mut config.rng {
        let bytes: [u8; 32] = rand::Rng::random(rng);
        let seed = tokio::runtime::RngSeed::from_bytes(&bytes);
        tokio_builder.rng_seed(seed);
    }

    // The scheduler looks at its remote queue first on every turn (tokio's
    // default: every 31st turn of a counter). Its turns include each park
    // at a timer wheel boundary, which a quiet stretch crosses differently
    // from tick by tick steps; with the counter out of play, the order tasks
    // run in does not depend on how time got to where it is (rosey patch).
    tokio_builder.global_queue_interval(1);

    let tokio = tokio_builder
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();

    tokio.block_on(async {
        // Sleep to "round" `Instant::now()` to the closest `ms`
        tokio::time::sleep(Duration::from_millis(1)).await;
    });

    (tokio, new_local())
}

/// Polls `run` with the host's forwarding waker in place of `block_on`'s.
async fn watched<F: Future>(mut run: Pin<&mut F>, wakes: &WakeWatch) -> F::Output {
    poll_fn(|cx| {
        let waker = wakes.wrap(cx.waker());
        run.as_mut().poll(&mut Context::from_waker(waker))
    })
    .await
}

fn new_local() -> LocalSet {
    #[cfg(not(tokio_unstable))]
    let local = LocalSet::new();

    #[cfg(tokio_unstable)]
    let mut local = LocalSet::new();

    #[cfg(tokio_unstable)]
    local.unhandled_panic(tokio::runtime::UnhandledPanic::ShutdownRuntime);

    local
}

fn with<R>(tokio: &Runtime, local: &LocalSet, f: impl FnOnce() -> R) -> R {
    tokio.block_on(async { local.run_until(async { f() }).await })
}
