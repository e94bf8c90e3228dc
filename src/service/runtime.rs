//! The db-service loop: subscribe, apply in arrival order, commit in groups,
//! answer requests.
//!
//! v0.5.0 committed (and fsync'd) once per event, so under a chat burst an
//! `outbound.get` waited behind thousands of commits and the bot's 2 s request
//! timed out (defect 4). Here one subscription to `rosey.db.>` keeps arrival
//! order across all subjects; whatever has already arrived is applied inside
//! one transaction (one savepoint per command, so a failing command is rolled
//! back alone) and committed once. Reads are answered the moment they are
//! reached, from the open transaction, which already holds every effect
//! received before them; write requests (enqueue) are answered after the
//! commit that makes them durable.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::{apply_command, command_now};
use crate::clock::Clock;
use crate::contract::{Command, Reply, Request, WILDCARD};
use crate::delivery::{Delivery, JetStreamSettings};
use crate::store::Store;
use crate::trace::{Trace, TraceEvent};
use crate::transport::{BusMessage, Subscription, Transport, TransportError};

/// The default queue group: instances in it share the load, each message goes to one.
pub const DEFAULT_QUEUE_GROUP: &str = "rosey-db";

/// How long a stopping service waits for the server by default: long enough
/// for a healthy server to answer, short enough that `systemctl stop` does
/// not hang when the server is gone.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How the service commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitMode {
    /// One transaction over whatever has arrived, up to `max_batch` commands.
    Group { max_batch: usize },
    /// One commit per command, as v0.5.0.
    PerCommand,
}

/// Settings of a db-service.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Queue group; `None` subscribes plainly (v0.5.0: every instance sees every event).
    pub queue_group: Option<String>,
    pub commit: CommitMode,
    /// The host name in trace lines.
    pub host: String,
    /// How long the shutdown drain waits for the server before it commits
    /// what has arrived and returns.
    pub drain_timeout: Duration,
    /// Core subscription or JetStream consumer.
    pub delivery: Delivery,
    /// The stream and consumer, with `Delivery::Jetstream`.
    pub jetstream: JetStreamSettings,
}

impl Default for ServiceConfig {
    fn default() -> ServiceConfig {
        ServiceConfig {
            queue_group: Some(DEFAULT_QUEUE_GROUP.to_string()),
            commit: CommitMode::Group { max_batch: 1024 },
            host: "db".into(),
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            delivery: Delivery::Core,
            jetstream: JetStreamSettings::default(),
        }
    }
}

impl ServiceConfig {
    /// v0.5.0's service: no queue group (every instance sees, and applies,
    /// every event) and one commit per command. Kept so the simulator can
    /// show what those choices cost.
    pub fn v0_5() -> ServiceConfig {
        ServiceConfig { queue_group: None, commit: CommitMode::PerCommand, ..ServiceConfig::default() }
    }
}

/// What a db-service did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServiceReport {
    /// Commands applied, by subject.
    pub applied: BTreeMap<String, u64>,
    /// Payloads skipped as malformed, by subject.
    pub malformed: BTreeMap<String, u64>,
    /// Commands the store rejected (rolled back alone).
    pub store_errors: u64,
    /// Commits.
    pub commits: u64,
    /// Replies sent.
    pub replies: u64,
    /// JetStream redeliveries of already applied messages, skipped (and acked).
    pub redelivered: u64,
    /// Times a delivery arrived past a gap and waited for the gap's redelivery.
    pub gaps: u64,
    /// The highest stream sequence applied, with JetStream.
    pub applied_seq: u64,
}

impl ServiceReport {
    pub fn applied_total(&self) -> u64 {
        self.applied.values().sum()
    }
}

/// A pause after each commit: how the simulator models a slow disk.
pub type CommitDelay = Box<dyn Fn() -> Duration>;

/// One db-service instance.
pub struct DbService<T: Transport, C: Clock> {
    pub(super) transport: T,
    pub(super) store: Store,
    pub(super) clock: C,
    pub(super) config: ServiceConfig,
    pub(super) report: ServiceReport,
    /// The trace and the Unix ms its virtual time 0 stands for.
    trace: Option<(Trace, i64)>,
    commit_delay: Option<CommitDelay>,
    pub(super) ready: Option<tokio::sync::oneshot::Sender<()>>,
}

/// What applying one payload did.
pub(super) enum Applied {
    /// Not a valid command: skipped, counted, logged; the reply says why.
    Malformed(Bytes),
    /// Applied (or rejected by the store and rolled back alone); `reply` for requests.
    Done { command: Command, reply: Option<Bytes> },
}

impl<T: Transport, C: Clock> DbService<T, C> {
    pub fn new(transport: T, store: Store, clock: C, config: ServiceConfig) -> Self {
        DbService {
            transport,
            store,
            clock,
            config,
            report: ServiceReport::default(),
            trace: None,
            commit_delay: None,
            ready: None,
        }
    }

    /// Records every applied command into `trace`, at the service clock's
    /// time minus `origin_unix_ms` (the run's virtual 0).
    pub fn with_trace(mut self, trace: Trace, origin_unix_ms: i64) -> Self {
        self.trace = Some((trace, origin_unix_ms));
        self
    }

    /// Pauses after every commit for what `delay` says (simulated slow disk).
    pub fn with_commit_delay(mut self, delay: CommitDelay) -> Self {
        self.commit_delay = Some(delay);
        self
    }

    /// Signals `ready` once the subscription is confirmed by the server, so a
    /// caller can start sending without racing the subscription.
    pub fn with_ready(mut self, ready: tokio::sync::oneshot::Sender<()>) -> Self {
        self.ready = Some(ready);
        self
    }

    pub fn report(&self) -> &ServiceReport {
        &self.report
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` resolves or the subscription closes, then
    /// applies what has already arrived, commits and flushes. Never closes
    /// sessions: that is the bot's job when it shuts down (contract section 5).
    ///
    /// # Errors
    ///
    /// Only when the subscription cannot be made (an invalid subject or queue
    /// group); an unreachable bus is logged and waited out.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(ServiceReport, Store), TransportError> {
        match self.config.delivery {
            Delivery::Core => self.run_core(shutdown).await,
            Delivery::Jetstream => self.run_jetstream(shutdown).await,
        }
    }

    async fn run_core(mut self, shutdown: impl Future<Output = ()>) -> Result<(ServiceReport, Store), TransportError> {
        let mut subscription = self.transport.subscribe(WILDCARD, self.config.queue_group.as_deref()).await?;
        // The round trip confirms the subscription; if the bus is unreachable
        // right now that is logged, not fatal: the transport resubscribes on reconnect.
        if let Err(error) = self.transport.round_trip().await {
            tracing::warn!(%error, "[NATS] subscription not confirmed yet; serving anyway");
        }
        tracing::info!(queue_group = ?self.config.queue_group, "[NATS] db-service subscribed to {WILDCARD}");
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(());
        }
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            let first = tokio::select! {
                biased;
                () = &mut shutdown => break,
                message = subscription.next() => match message {
                    Some(message) => message,
                    None => break,
                },
            };
            self.batch(first, &mut subscription).await;
        }
        // Drain. After a round trip every message the server already routed
        // to us is in our buffer; all of it is applied and committed before we
        // go. With the server gone the round trip never ends, so it gets the
        // drain timeout; what has arrived is committed either way.
        let drain = self.config.drain_timeout;
        match tokio::time::timeout(drain, self.transport.round_trip()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "[NATS] round trip at shutdown failed; draining what arrived"),
            Err(_) => {
                tracing::warn!(?drain, "[NATS] the server did not answer the drain in time; committing what arrived")
            }
        }
        while let Some(message) = subscription.try_next() {
            self.batch(message, &mut subscription).await;
        }
        match tokio::time::timeout(drain, self.transport.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "[NATS] flush of the last replies failed"),
            Err(_) => tracing::warn!(?drain, "[NATS] the last replies could not be flushed in time"),
        }
        tracing::info!(applied = self.report.applied_total(), commits = self.report.commits, "db-service stopped");
        Ok((self.report, self.store))
    }

    /// Applies `first` and, in group mode, whatever else has already arrived,
    /// then commits and sends the replies that wait for the commit.
    async fn batch(&mut self, first: BusMessage, subscription: &mut T::Subscription) {
        let mut after_commit = Vec::new();
        match self.config.commit {
            CommitMode::PerCommand => self.handle(first, &mut after_commit).await,
            CommitMode::Group { max_batch } => {
                if let Err(error) = self.store.begin_batch() {
                    tracing::error!(%error, "cannot open a transaction; applying this command alone");
                }
                self.handle(first, &mut after_commit).await;
                for _ in 1..max_batch {
                    let Some(message) = subscription.try_next() else { break };
                    self.handle(message, &mut after_commit).await;
                }
                if let Err(error) = self.store.commit_batch() {
                    tracing::error!(%error, "commit failed: this batch is lost");
                    let reply = Reply::Error(format!("commit failed: {error}")).encode();
                    for (_, payload) in after_commit.iter_mut() {
                        *payload = Bytes::from(reply.clone());
                    }
                }
            }
        }
        self.committed().await;
        for (reply_to, payload) in after_commit {
            self.reply(&reply_to, payload).await;
        }
    }

    /// Counts a commit and pauses as the simulated disk says.
    pub(super) async fn committed(&mut self) {
        self.report.commits += 1;
        if let Some(delay) = &self.commit_delay {
            let pause = delay();
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
        }
    }

    /// Decodes and applies one message. Read replies go out at once; write
    /// replies are pushed to `after_commit`.
    async fn handle(&mut self, message: BusMessage, after_commit: &mut Vec<(String, Bytes)>) {
        let (command, payload) = match self.apply_payload(&message.subject, &message.payload) {
            Applied::Malformed(reply) => {
                if let Some(reply_to) = &message.reply {
                    self.reply(reply_to, reply).await;
                }
                return;
            }
            Applied::Done { command, reply } => (command, reply),
        };
        let (Some(reply_to), Some(payload)) = (message.reply, payload) else { return };
        let is_write = matches!(command, Command::Request(Request::Enqueue(_)));
        if is_write && self.store.in_batch() {
            after_commit.push((reply_to, payload));
        } else {
            self.reply(&reply_to, payload).await;
        }
    }

    /// Decodes `payload` as a command on `subject` and applies it: the one
    /// step both deliveries share, so they count, log and trace alike.
    pub(super) fn apply_payload(&mut self, subject: &str, payload: &[u8]) -> Applied {
        let command = match Command::decode(subject, payload) {
            Ok(command) => command,
            Err(error) => {
                *self.report.malformed.entry(subject.to_string()).or_default() += 1;
                tracing::warn!(%subject, reason = %error.reason, "malformed payload skipped");
                self.record(TraceEvent::Malformed { subject: subject.to_string(), reason: error.reason.clone() });
                return Applied::Malformed(Bytes::from(Reply::Error(error.to_string()).encode()));
            }
        };
        let now = command_now(&command, &self.clock);
        let subject = command.subject();
        let reply = match apply_command(&mut self.store, &command, now) {
            Ok(reply) => {
                *self.report.applied.entry(subject.as_str().to_string()).or_default() += 1;
                self.record(TraceEvent::Apply { subject, now });
                reply.map(|r| Bytes::from(r.encode()))
            }
            Err(error) => {
                self.report.store_errors += 1;
                tracing::warn!(%subject, %error, "store rejected the command; rolled back");
                self.record(TraceEvent::StoreError { subject, error: error.to_string() });
                Some(Bytes::from(Reply::Error(error.to_string()).encode()))
            }
        };
        Applied::Done { command, reply }
    }

    pub(super) async fn reply(&mut self, reply_to: &str, payload: Bytes) {
        self.report.replies += 1;
        if let Err(error) = self.transport.publish(reply_to, payload).await {
            tracing::warn!(%error, "[NATS] reply could not be sent");
        }
    }

    pub(super) fn record(&self, event: TraceEvent) {
        if let Some((trace, origin)) = &self.trace {
            trace.record(self.clock.now_ms() - origin, &self.config.host, event);
        }
    }
}
