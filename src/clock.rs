//! Where "now" comes from.
//!
//! Logic never reads the wall clock itself: production passes [`SystemClock`],
//! replays and simulations pass a virtual clock, so one seed replays one run.

/// Unix milliseconds, as a source.
pub trait Clock {
    fn now_ms(&self) -> i64;
}

/// The wall clock: production only.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        since_epoch.as_millis() as i64
    }
}

/// A clock that stands still: for tests and fixed-time tools.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

/// floor(ms / 1000), also for times before 1970.
pub fn unix_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000)
}
