//! Every timer rosey sets: tokio's `sleep`, `sleep_until`, `timeout` and
//! `interval`, which a simulator can see ahead.
//!
//! The simulator steps turmoil a millisecond at a time, and most of an
//! evening of chat is milliseconds in which nothing is due. It skips such a
//! stretch in one go only when it knows that no host's software wakes inside
//! it: the network tells it when the next message lands, and these timers tell
//! it when the next deadline falls. While a [`Watch`] is installed on the
//! thread, each timer made here registers its deadline, in simulated time, from
//! its creation until it completes or is dropped; without one (production,
//! live tests) the timers are tokio's, at the cost of one thread-local read.
//!
//! A timer made straight from `tokio::time` would be invisible to the
//! simulator, so clippy refuses those functions outside this module
//! (`clippy.toml`); turmoil's quiet step also fails a run in which a host
//! wakes unannounced, rather than let it differ from stepping tick by tick.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

thread_local! {
    static WATCHED: RefCell<Option<Rc<Deadlines>>> = const { RefCell::new(None) };
}

/// Tells watches apart, so a timer dropped after its watch leaves the next
/// one alone.
static NEXT_WATCH: AtomicU64 = AtomicU64::new(1);

/// The deadlines of the live timers on this thread, in simulated time.
struct Deadlines {
    id: u64,
    /// Simulated time now, from inside a host; `None` outside one.
    now: Box<dyn Fn() -> Option<Duration>>,
    /// Deadline -> how many live timers have it.
    due: RefCell<BTreeMap<Duration, usize>>,
    /// Timers made where simulated time could not be read: while any is
    /// live, everything counts as due now.
    unplaced: Cell<usize>,
}

/// Registers this thread's timers while it lives: the simulator's view of
/// what its hosts' software will wake for.
pub struct Watch {
    deadlines: Rc<Deadlines>,
}

impl Watch {
    /// Starts watching the timers made on this thread; `now` reads simulated
    /// time inside a host (turmoil's `sim_elapsed`). Replaces any watch
    /// already installed, which then sees no new timers.
    pub fn install(now: impl Fn() -> Option<Duration> + 'static) -> Watch {
        let deadlines = Rc::new(Deadlines {
            id: NEXT_WATCH.fetch_add(1, Ordering::Relaxed),
            now: Box::new(now),
            due: RefCell::new(BTreeMap::new()),
            unplaced: Cell::new(0),
        });
        WATCHED.with(|watched| *watched.borrow_mut() = Some(deadlines.clone()));
        Watch { deadlines }
    }

    /// The earliest deadline at or after `from` among the live timers.
    ///
    /// Deadlines before `from` are left out: such a timer has fired, and the
    /// step that fired it ran its task (or will, if it fired exactly at a
    /// step's end, which is why `from` itself counts).
    pub fn next_due(&self, from: Duration) -> Option<Duration> {
        if self.deadlines.unplaced.get() > 0 {
            return Some(from);
        }
        self.deadlines.due.borrow().range(from..).next().map(|(at, _)| *at)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        WATCHED.with(|watched| {
            let mut watched = watched.borrow_mut();
            if watched.as_ref().is_some_and(|current| Rc::ptr_eq(current, &self.deadlines)) {
                *watched = None;
            }
        });
    }
}

/// One live timer's entry in the watched deadlines.
///
/// It names its watch by id rather than holding it, so timers stay `Send`
/// (a watch only exists in a simulation, where everything runs on one
/// thread; a timer dropped on another thread finds no watch of its id there).
struct Registered {
    watch: u64,
    /// `None`: made outside a host.
    at: Option<Duration>,
}

impl Registered {
    /// Registers `deadline` if this thread is watched.
    fn new(deadline: Instant) -> Option<Registered> {
        WATCHED.with(|watched| {
            let watched = watched.borrow();
            let deadlines = watched.as_ref()?;
            let at = (deadlines.now)().map(|now| now + fires_after(deadline.saturating_duration_since(Instant::now())));
            match at {
                Some(at) => *deadlines.due.borrow_mut().entry(at).or_insert(0) += 1,
                None => deadlines.unplaced.set(deadlines.unplaced.get() + 1),
            }
            Some(Registered { watch: deadlines.id, at })
        })
    }
}

/// When a timer `wait` from now fires: tokio's timer wheel counts whole
/// milliseconds and rounds a deadline up to the next one (and a host's clock
/// only ever stands on that grid). Registering the instant it fires, not the
/// one asked for, keeps "a deadline before now has fired" true.
fn fires_after(wait: Duration) -> Duration {
    let ms = wait.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

impl Drop for Registered {
    fn drop(&mut self) {
        // `try_with`: a timer dropped while the thread winds down finds nothing.
        let _ = WATCHED.try_with(|watched| {
            let watched = watched.borrow();
            let Some(deadlines) = watched.as_ref().filter(|d| d.id == self.watch) else { return };
            match self.at {
                Some(at) => {
                    let mut due = deadlines.due.borrow_mut();
                    if let Some(count) = due.get_mut(&at) {
                        *count -= 1;
                        if *count == 0 {
                            due.remove(&at);
                        }
                    }
                }
                None => deadlines.unplaced.set(deadlines.unplaced.get() - 1),
            }
        });
    }
}

pin_project_lite::pin_project! {
    /// A tokio timer future with its deadline registered while it is live.
    #[must_use = "a timer does nothing unless awaited"]
    pub struct Timer<F> {
        #[pin]
        inner: F,
        registered: Option<Registered>,
    }
}

impl<F> Timer<F> {
    fn new(deadline: Instant, inner: F) -> Self {
        Timer { inner, registered: Registered::new(deadline) }
    }
}

impl<F: Future> Future for Timer<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let polled = this.inner.poll(cx);
        if polled.is_ready() {
            *this.registered = None;
        }
        polled
    }
}

/// Waits until `duration` has elapsed: `tokio::time::sleep`, registered.
#[allow(clippy::disallowed_methods)]
pub fn sleep(duration: Duration) -> Timer<tokio::time::Sleep> {
    let deadline = Instant::now() + duration;
    Timer::new(deadline, tokio::time::sleep_until(deadline))
}

/// Waits until `deadline`: `tokio::time::sleep_until`, registered.
#[allow(clippy::disallowed_methods)]
pub fn sleep_until(deadline: Instant) -> Timer<tokio::time::Sleep> {
    Timer::new(deadline, tokio::time::sleep_until(deadline))
}

/// `future`, or `Elapsed` after `duration`: `tokio::time::timeout`, registered.
#[allow(clippy::disallowed_methods)]
pub fn timeout<F: Future>(duration: Duration, future: F) -> Timer<tokio::time::Timeout<F>> {
    let deadline = Instant::now() + duration;
    Timer::new(deadline, tokio::time::timeout_at(deadline, future))
}

/// Ticks every `period`, the first at once: `tokio::time::interval`, registered.
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks at `start` and every `period` after: `tokio::time::interval_at`, registered.
#[allow(clippy::disallowed_methods)]
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    Interval { inner: tokio::time::interval_at(start, period), registered: Registered::new(start) }
}

/// tokio's `Interval`, with its next tick registered for its whole life.
///
/// The registered deadline is the one tokio sets after each tick (its
/// `poll_tick`: one period on, unless the tick came more than 5 ms late,
/// then as the missed-tick behaviour says). Between `tick` calls tokio does
/// not arm the timer, so the entry may wait for a wake that never comes: that
/// only keeps the simulator from skipping ahead until it passes.
pub struct Interval {
    inner: tokio::time::Interval,
    registered: Option<Registered>,
}

impl Interval {
    /// Completes at the next tick and returns its scheduled instant.
    pub async fn tick(&mut self) -> Instant {
        let at = self.inner.tick().await;
        self.registered = None;
        self.registered = Registered::new(self.next_after(at, Instant::now()));
        at
    }

    /// tokio's next deadline after a tick scheduled `at` completed at `now`.
    fn next_after(&self, at: Instant, now: Instant) -> Instant {
        let period = self.inner.period();
        if now <= at + Duration::from_millis(5) {
            return at + period;
        }
        match self.inner.missed_tick_behavior() {
            MissedTickBehavior::Burst => at + period,
            MissedTickBehavior::Delay => now + period,
            MissedTickBehavior::Skip => {
                let behind = (now - at).as_nanos() % period.as_nanos();
                now + (period - Duration::from_nanos(u64::try_from(behind).unwrap_or(0)))
            }
        }
    }

    /// What to do when ticks are missed (see tokio's `MissedTickBehavior`).
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.inner.set_missed_tick_behavior(behavior);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Whether the test stands outside any host (no simulated time).
        static OUTSIDE: Cell<bool> = const { Cell::new(false) };
    }

    /// A watch whose simulated time is tokio's (paused) time since now.
    fn watch() -> Watch {
        let start = Instant::now();
        Watch::install(move || (!OUTSIDE.with(Cell::get)).then(|| start.elapsed()))
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_is_due_from_its_creation_until_it_completes() {
        let watch = watch();
        assert_eq!(watch.next_due(Duration::ZERO), None);
        let sleep = sleep(Duration::from_millis(40));
        let later = sleep_until(Instant::now() + Duration::from_millis(90));
        assert_eq!(watch.next_due(Duration::ZERO), Some(Duration::from_millis(40)));
        sleep.await;
        assert_eq!(watch.next_due(Duration::ZERO), Some(Duration::from_millis(90)));
        drop(later);
        assert_eq!(watch.next_due(Duration::ZERO), None);
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_before_the_asked_instant_are_left_out_and_duplicates_counted() {
        let watch = watch();
        let a = sleep(Duration::from_millis(5));
        let b = sleep(Duration::from_millis(5));
        let c = timeout(Duration::from_millis(30), std::future::pending::<()>());
        assert_eq!(watch.next_due(Duration::from_millis(5)), Some(Duration::from_millis(5)));
        assert_eq!(watch.next_due(Duration::from_millis(6)), Some(Duration::from_millis(30)));
        drop(a);
        assert_eq!(watch.next_due(Duration::ZERO), Some(Duration::from_millis(5)));
        drop(b);
        assert!(c.await.is_err());
        assert_eq!(watch.next_due(Duration::ZERO), None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_interval_registers_its_next_tick() {
        let watch = watch();
        let mut ticks = interval_at(Instant::now() + Duration::from_millis(10), Duration::from_millis(25));
        assert_eq!(watch.next_due(Duration::ZERO), Some(Duration::from_millis(10)));
        ticks.tick().await;
        assert_eq!(watch.next_due(Duration::ZERO), Some(Duration::from_millis(35)));
        drop(ticks);
        assert_eq!(watch.next_due(Duration::ZERO), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_interval_tick_registers_the_deadline_tokio_sets() {
        let watch = watch();
        let mut ticks = interval_at(Instant::now() + Duration::from_millis(10), Duration::from_millis(25));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Not polled until 40 ms: the tick due at 10 ms comes 30 ms late.
        tokio::time::advance(Duration::from_millis(40)).await;
        let at = ticks.tick().await;
        assert_eq!(at.elapsed(), Duration::from_millis(30));
        assert_eq!(watch.next_due(Duration::ZERO), Some(Duration::from_millis(65)), "40 ms + 25 ms, as now");
        let next = ticks.tick().await;
        assert_eq!(next.elapsed(), Duration::ZERO, "tokio ticked where the entry said");
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_between_milliseconds_is_registered_where_it_fires() {
        let watch = watch();
        let sleep = sleep(Duration::from_micros(2_300));
        assert_eq!(watch.next_due(Duration::ZERO), Some(Duration::from_millis(3)));
        let started = Instant::now();
        sleep.await;
        assert_eq!(started.elapsed(), Duration::from_millis(3), "tokio fires on the millisecond after");
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_made_outside_a_host_makes_everything_due() {
        let watch = watch();
        OUTSIDE.with(|outside| outside.set(true));
        let stray = sleep(Duration::from_secs(60));
        OUTSIDE.with(|outside| outside.set(false));
        assert_eq!(watch.next_due(Duration::from_millis(7)), Some(Duration::from_millis(7)));
        drop(stray);
        assert_eq!(watch.next_due(Duration::from_millis(7)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_watch_timers_are_plain_tokio_timers() {
        let started = Instant::now();
        sleep(Duration::from_millis(3)).await;
        assert_eq!(started.elapsed(), Duration::from_millis(3));
    }
}
