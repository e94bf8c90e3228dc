//! A [`DbLink`] wrapper that loses the bot's commands on purpose: the `drop`
//! fault. A dropped event or mark is simply never sent (core NATS is
//! at-most-once); a dropped request is sent, but its reply is lost, and the
//! caller times out as it would on the wire.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rosey::contract::{Command, Reply};
use rosey::link::{DbLink, LinkError};
use rosey::trace::{Trace, TraceEvent};
use rosey::transport::TransportError;

use crate::fault::{pattern_covers, Fault, FaultSpec};

/// Drops commands matching an active `drop` fault, with its probability.
pub struct FaultyLink<L: DbLink> {
    inner: L,
    /// The `drop` faults: window, subject pattern, probability.
    drops: Vec<(Fault, Option<String>, f64)>,
    rng: RefCell<ChaCha8Rng>,
    /// Virtual ms now (the simulation's clock).
    now: fn() -> i64,
    trace: Trace,
    dropped: Cell<u64>,
}

impl<L: DbLink> FaultyLink<L> {
    pub fn new(inner: L, faults: &[Fault], seed: u64, now: fn() -> i64, trace: Trace) -> FaultyLink<L> {
        let drops = faults
            .iter()
            .filter_map(|f| match &f.what {
                FaultSpec::Drop { subject, probability } => Some((f.clone(), subject.clone(), *probability)),
                _ => None,
            })
            .collect();
        let rng = RefCell::new(ChaCha8Rng::seed_from_u64(seed ^ 0xd0_d0));
        FaultyLink { inner, drops, rng, now, trace, dropped: Cell::new(0) }
    }

    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// Commands dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Whether to drop `command` now. The RNG is drawn only when a fault is
    /// active and matches, so a schedule without drops draws nothing.
    fn drop_now(&self, command: &Command) -> bool {
        let t = (self.now)();
        let subject = command.subject();
        let probability = self
            .drops
            .iter()
            .filter(|(fault, pattern, _)| fault.is_active(t) && pattern_covers(pattern.as_deref(), subject))
            .map(|(_, _, probability)| *probability)
            .fold(0.0_f64, f64::max);
        let dropped = probability > 0.0 && self.rng.borrow_mut().random_bool(probability.min(1.0));
        if dropped {
            self.dropped.set(self.dropped.get() + 1);
            self.trace.record(t, "bot", TraceEvent::FaultDrop { subject });
        }
        dropped
    }
}

impl<L: DbLink> DbLink for FaultyLink<L> {
    async fn send(&self, command: Command) -> Result<(), LinkError> {
        if self.drop_now(&command) {
            return Ok(());
        }
        self.inner.send(command).await
    }

    async fn request(&self, command: Command, timeout: Duration) -> Result<Reply, LinkError> {
        if !self.drop_now(&command) {
            return self.inner.request(command, timeout).await;
        }
        let sent_at = tokio::time::Instant::now();
        let _lost = self.inner.request(command, timeout).await;
        tokio::time::sleep_until(sent_at + timeout).await;
        Err(TransportError::TimedOut.into())
    }
}
