//! The `drop` fault: the bot's commands lost on purpose.
//!
//! With core delivery a [`DbLink`] wrapper does it: a dropped event or mark
//! is simply never sent (core NATS is at-most-once); a dropped request is
//! sent, but its reply is lost, and the caller times out as it would on the
//! wire. With JetStream delivery events and marks are dropped one layer
//! lower, by [`FaultyTransport`]: the publish never reaches the bus, so its
//! ack never comes, and the bot's publisher has to notice and republish, as
//! it would after a message lost on a real network.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rosey::contract::{Command, Reply, Subject};
use rosey::link::{DbLink, LinkError};
use rosey::trace::{Trace, TraceEvent};
use rosey::transport::{BusMessage, ConsumerConfig, PendingAck, StreamConfig, StreamState, Transport, TransportError};

use crate::fault::{pattern_covers, Fault, FaultSpec};

/// How long a lost publish's ack is waited for: the sim bus client's ack
/// timeout, as async-nats' default.
const LOST_ACK_TIMEOUT: Duration = Duration::from_millis(crate::fault::LOST_ACK_MS as u64);

/// Which subjects a drop schedule acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropScope {
    /// Every subject (core delivery: the link drops everything).
    All,
    /// Requests only (JetStream: the link drops requests' replies).
    Requests,
    /// Events and marks only (JetStream: the transport drops publishes).
    Stream,
}

/// The `drop` faults of a schedule and the seeded draws that apply them.
///
/// Each fault draws from a stream of its own, seeded by the run's seed and
/// the fault's subject (and its rank among faults on that subject), never
/// by its place in the schedule: removing one fault does not change which
/// messages another drops (what the shrinker relies on). Every active fault
/// that covers a message draws for it, so a stream advances only with the
/// messages its own fault sees.
pub struct Drops {
    /// The `drop` faults: window, subject pattern, probability, its stream.
    drops: Vec<(Fault, Option<String>, f64, RefCell<ChaCha8Rng>)>,
    scope: DropScope,
    /// Virtual ms now (the simulation's clock).
    now: fn() -> i64,
    trace: Trace,
    dropped: Cell<u64>,
}

impl Drops {
    pub fn new(faults: &[Fault], scope: DropScope, seed: u64, now: fn() -> i64, trace: Trace) -> Drops {
        let salt = match scope {
            DropScope::All | DropScope::Requests => 0xd0_d0,
            DropScope::Stream => 0x5d_d0,
        };
        let mut seen: Vec<Option<String>> = Vec::new();
        let drops = faults
            .iter()
            .filter_map(|f| match &f.what {
                FaultSpec::Drop { subject, probability } => {
                    let rank = seen.iter().filter(|s| *s == subject).count() as u64;
                    seen.push(subject.clone());
                    let stream = stream_id(subject.as_deref().unwrap_or(">"), rank);
                    let rng = RefCell::new(ChaCha8Rng::seed_from_u64(seed ^ salt ^ stream));
                    Some((f.clone(), subject.clone(), *probability, rng))
                }
                _ => None,
            })
            .collect();
        Drops { drops, scope, now, trace, dropped: Cell::new(0) }
    }

    /// Commands dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.get()
    }

    /// Whether to drop a command on `subject` now. The RNG is drawn only
    /// when a fault is active and matches, so a schedule without drops draws nothing.
    fn drop_now(&self, subject: Subject) -> bool {
        let in_scope = match self.scope {
            DropScope::All => true,
            DropScope::Requests => subject.is_request(),
            DropScope::Stream => !subject.is_request(),
        };
        if !in_scope {
            return false;
        }
        let t = (self.now)();
        let mut dropped = false;
        for (fault, pattern, probability, rng) in &self.drops {
            if fault.is_active(t) && pattern_covers(pattern.as_deref(), subject) && *probability > 0.0 {
                dropped |= rng.borrow_mut().random_bool(probability.min(1.0));
            }
        }
        if dropped {
            self.dropped.set(self.dropped.get() + 1);
            self.trace.record(t, "bot", TraceEvent::FaultDrop { subject });
        }
        dropped
    }
}

/// Drops commands matching an active `drop` fault, with its probability.
pub struct FaultyLink<L: DbLink> {
    inner: L,
    drops: Drops,
}

impl<L: DbLink> FaultyLink<L> {
    pub fn new(inner: L, drops: Drops) -> FaultyLink<L> {
        FaultyLink { inner, drops }
    }

    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// Commands dropped so far.
    pub fn dropped(&self) -> u64 {
        self.drops.dropped()
    }
}

impl<L: DbLink> DbLink for FaultyLink<L> {
    fn vitals(&self) -> rosey::link::LinkVitals {
        self.inner.vitals()
    }

    async fn send(&self, command: Command) -> Result<(), LinkError> {
        if self.drops.drop_now(command.subject()) {
            return Ok(());
        }
        self.inner.send(command).await
    }

    async fn request(&self, command: Command, timeout: Duration) -> Result<Reply, LinkError> {
        if !self.drops.drop_now(command.subject()) {
            return self.inner.request(command, timeout).await;
        }
        let sent_at = tokio::time::Instant::now();
        let _lost = self.inner.request(command, timeout).await;
        rosey::timers::sleep_until(sent_at + timeout).await;
        Err(TransportError::TimedOut.into())
    }

    async fn before_read(&self, timeout: Duration) -> Result<(), LinkError> {
        self.inner.before_read(timeout).await
    }
}

/// A [`Transport`] that loses acknowledged publishes matching an active
/// `drop` fault: they never reach the bus and their ack times out.
#[derive(Clone)]
pub struct FaultyTransport<T: Transport> {
    inner: T,
    drops: Rc<Drops>,
}

impl<T: Transport> FaultyTransport<T> {
    pub fn new(inner: T, drops: Drops) -> FaultyTransport<T> {
        FaultyTransport { inner, drops: Rc::new(drops) }
    }

    /// Publishes dropped so far.
    pub fn dropped(&self) -> u64 {
        self.drops.dropped()
    }
}

impl<T: Transport> Transport for FaultyTransport<T> {
    type Subscription = T::Subscription;
    type Consumer = T::Consumer;

    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), TransportError> {
        self.inner.publish(subject, payload).await
    }

    async fn request(&self, subject: &str, payload: Bytes, timeout: Duration) -> Result<BusMessage, TransportError> {
        self.inner.request(subject, payload, timeout).await
    }

    async fn subscribe(&self, subject: &str, queue_group: Option<&str>) -> Result<T::Subscription, TransportError> {
        self.inner.subscribe(subject, queue_group).await
    }

    async fn flush(&self) -> Result<(), TransportError> {
        self.inner.flush().await
    }

    async fn round_trip(&self) -> Result<(), TransportError> {
        self.inner.round_trip().await
    }

    fn is_connected(&self) -> bool {
        self.inner.is_connected()
    }

    fn connection_epoch(&self) -> u64 {
        self.inner.connection_epoch()
    }

    async fn ensure_stream(&self, config: &StreamConfig) -> Result<StreamState, TransportError> {
        self.inner.ensure_stream(config).await
    }

    async fn stream_state(&self, stream: &str) -> Result<StreamState, TransportError> {
        self.inner.stream_state(stream).await
    }

    async fn publish_with_ack(
        &self,
        subject: &str,
        payload: Bytes,
        msg_id: &str,
        expected_last_msg_id: Option<&str>,
    ) -> Result<PendingAck, TransportError> {
        if Subject::parse(subject).is_some_and(|subject| self.drops.drop_now(subject)) {
            return Ok(Box::pin(async {
                rosey::timers::sleep(LOST_ACK_TIMEOUT).await;
                Err(TransportError::TimedOut)
            }));
        }
        self.inner.publish_with_ack(subject, payload, msg_id, expected_last_msg_id).await
    }

    async fn durable_consumer(&self, stream: &str, config: &ConsumerConfig) -> Result<T::Consumer, TransportError> {
        self.inner.durable_consumer(stream, config).await
    }
}

/// A fault's random stream: FNV-1a of its subject pattern and rank.
fn stream_id(subject: &str, rank: u64) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in subject.bytes().chain(rank.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}
