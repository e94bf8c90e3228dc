//! Time inside the simulation: turmoil's virtual clock, for every host.

use rosey::clock::Clock;

/// Virtual ms since the simulation started, from inside a host.
pub fn sim_now_ms() -> i64 {
    turmoil::sim_elapsed().map_or(0, |elapsed| elapsed.as_millis() as i64)
}

/// A service's clock under simulation: the run's start plus virtual time.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    pub start_unix_ms: i64,
}

impl Clock for SimClock {
    fn now_ms(&self) -> i64 {
        self.start_unix_ms + sim_now_ms()
    }
}
