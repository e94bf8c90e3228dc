//! Where a run's virtual time comes from.
//!
//! An instant timeline jumps from due item to due item (direct replays,
//! `speed=max`: requests resolve at the instant they are made); a tokio
//! timeline follows tokio's clock, scaled, for live runs and for turmoil,
//! whose hosts run tokio on simulated time.

use std::future::Future;
use std::time::Duration;

/// A source of virtual time (milliseconds since the replay's start).
pub trait Timeline {
    /// Virtual ms now.
    fn now(&self) -> i64;
    /// Waits until virtual ms `t` (returns at once when `t` has passed).
    fn sleep_until(&mut self, t: i64) -> impl Future<Output = ()>;
    /// Whether requests take no virtual time: they are awaited before time
    /// moves on (direct mode, `speed=max`).
    fn is_instant(&self) -> bool;
}

/// Virtual time that jumps to whatever is due next: no waiting at all.
#[derive(Debug, Default)]
pub struct InstantTimeline {
    now: i64,
}

impl Timeline for InstantTimeline {
    fn now(&self) -> i64 {
        self.now
    }

    async fn sleep_until(&mut self, t: i64) {
        self.now = self.now.max(t);
    }

    fn is_instant(&self) -> bool {
        true
    }
}

/// Virtual time on tokio's clock, scaled by `speed` (2.0 = twice real time).
/// Under turmoil, tokio's clock is the simulation's.
#[derive(Debug)]
pub struct TokioTimeline {
    origin: tokio::time::Instant,
    speed: f64,
}

impl TokioTimeline {
    pub fn new(speed: f64) -> TokioTimeline {
        TokioTimeline { origin: tokio::time::Instant::now(), speed }
    }
}

impl Timeline for TokioTimeline {
    fn now(&self) -> i64 {
        (self.origin.elapsed().as_secs_f64() * 1000.0 * self.speed) as i64
    }

    async fn sleep_until(&mut self, t: i64) {
        let real_ms = (t.max(0) as f64 / self.speed) as u64;
        crate::timers::sleep_until(self.origin + Duration::from_millis(real_ms)).await;
    }

    fn is_instant(&self) -> bool {
        false
    }
}
