//! The db-service loop: subscribe, apply in arrival order per lane, commit in
//! groups, answer requests.
//!
//! v0.5.0 committed (and fsync'd) once per event, so under a chat burst an
//! `outbound.get` waited behind thousands of commits and the bot's 2 s request
//! timed out (defect 4). Here one subscription to `rosey.db.>` keeps arrival
//! order across all subjects; what has arrived is sorted into two lanes (see
//! [`lanes`](super::lanes): the outbound queue's commands, and the rest), the
//! outbound lane is served first, and events are applied in chunks of 64
//! between looks at the subscription, so a poll waits for one chunk of chat,
//! never for the backlog. (Where the connection's reader shares the applying
//! thread, as in the simulator, it runs between batches: the loop yields after
//! every commit, never inside a batch, which holds the file's write lock.)
//! Everything served between two commits shares one transaction, and a
//! failing command is rolled back alone (the store's savepoints). A request's reply
//! waits for the commit of its batch, and a request ends its batch early, so a
//! reply never shows an effect that a failed commit lost and never waits for
//! more than the chunk it arrived in.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;

use super::lanes::{Lanes, DEFAULT_MAX_BACKLOG};
use super::{apply_command, command_now};
use crate::clock::Clock;
use crate::contract::{Command, Reply, Subject, SERVICE_STATS, WILDCARD};
use crate::delivery::{Delivery, JetStreamSettings};
use crate::metrics::{ServiceMetrics, SubjectLabel};
use crate::store::Store;
use crate::trace::{Trace, TraceEvent};
use crate::transport::{BusMessage, Subscription, Transport, TransportError};

/// The default queue group: instances in it share the load, each message goes to one.
pub const DEFAULT_QUEUE_GROUP: &str = "rosey-db";

/// How long a stopping service waits for the server by default: long enough
/// for a healthy server to answer, short enough that `systemctl stop` does
/// not hang when the server is gone.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Events applied between two looks at the subscription for outbound
/// commands: a poll behind a flood waits for one chunk (tens of microseconds).
const EVENT_CHUNK: usize = 64;

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
    /// Core delivery: the most events waiting to be applied; past it an
    /// arriving event is dropped, counted and logged (a slow consumer).
    pub max_backlog: usize,
    /// Serve the outbound queue's commands ahead of a backlog of events
    /// ([`lanes`](super::lanes)); `false` serves one queue, as v0.5.0.
    pub outbound_lane: bool,
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
            max_backlog: DEFAULT_MAX_BACKLOG,
            outbound_lane: true,
        }
    }
}

impl ServiceConfig {
    /// v0.5.0's service: no queue group (every instance sees, and applies,
    /// every event), one commit per command, and polls served in arrival
    /// order behind every event. Kept so the simulator can show what those
    /// choices cost.
    pub fn v0_5() -> ServiceConfig {
        ServiceConfig {
            queue_group: None,
            commit: CommitMode::PerCommand,
            outbound_lane: false,
            ..ServiceConfig::default()
        }
    }
}

/// What a db-service did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
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
    /// JetStream: outbound marks a poll applied ahead of a backlog in the stream.
    pub read_ahead: u64,
    /// The highest stream sequence applied, with JetStream.
    pub applied_seq: u64,
    /// Core delivery: commands dropped because the backlog was full, by subject.
    pub dropped: BTreeMap<String, u64>,
    /// Core delivery: the most events that waited to be applied at once.
    pub backlog_peak: u64,
}

impl ServiceReport {
    pub fn applied_total(&self) -> u64 {
        self.applied.values().sum()
    }

    pub fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }

    /// Adds what a later term of the same instance did (see `service::leadership`).
    pub fn absorb(&mut self, later: ServiceReport) {
        let add = |into: &mut BTreeMap<String, u64>, from: BTreeMap<String, u64>| {
            for (subject, count) in from {
                *into.entry(subject).or_default() += count;
            }
        };
        add(&mut self.applied, later.applied);
        add(&mut self.malformed, later.malformed);
        add(&mut self.dropped, later.dropped);
        self.store_errors += later.store_errors;
        self.commits += later.commits;
        self.replies += later.replies;
        self.redelivered += later.redelivered;
        self.gaps += later.gaps;
        self.read_ahead += later.read_ahead;
        self.applied_seq = self.applied_seq.max(later.applied_seq);
        self.backlog_peak = self.backlog_peak.max(later.backlog_peak);
    }
}

/// The service's counters, as the [`SERVICE_STATS`] reply carries them: how
/// `rosey loadtest` learns what was applied and dropped, and how far behind
/// the service is.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ServiceStats {
    /// `core` or `jetstream`.
    pub delivery: String,
    /// What the service has done so far (its fields at the top level of the JSON).
    #[serde(flatten)]
    pub report: ServiceReport,
    /// Commands received (core) or stored in the stream (JetStream) and not applied yet.
    pub backlog: u64,
    /// The process's peak resident memory (Linux `VmHWM`), when the system says.
    #[serde(default)]
    pub peak_memory_bytes: Option<u64>,
}

/// The process's peak resident set (`VmHWM` in `/proc/self/status`); `None`
/// where there is no such file. Read only when the counters are asked for,
/// which nothing in the simulator does (it is not deterministic).
fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
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
    /// Core delivery's two queues.
    lanes: Lanes,
    /// What `/metrics` shows, when asked for.
    pub(super) metrics: Option<ServiceMetrics>,
}

/// What applying one payload did.
pub(super) enum Applied {
    /// Not a valid command: skipped, counted, logged; the reply says why.
    Malformed(Bytes),
    /// Applied (or rejected by the store and rolled back alone); `reply` for requests.
    Done { reply: Option<Bytes> },
}

impl<T: Transport, C: Clock> DbService<T, C> {
    pub fn new(transport: T, store: Store, clock: C, config: ServiceConfig) -> Self {
        DbService {
            transport,
            store,
            clock,
            report: ServiceReport::default(),
            trace: None,
            commit_delay: None,
            ready: None,
            lanes: Lanes::new(config.max_backlog, config.outbound_lane),
            config,
            metrics: None,
        }
    }

    /// Records every applied command into `trace`, at the service clock's
    /// time minus `origin_unix_ms` (the run's virtual 0).
    pub fn with_trace(mut self, trace: Trace, origin_unix_ms: i64) -> Self {
        self.trace = Some((trace, origin_unix_ms));
        self
    }

    /// Records into `metrics` (the instance's own registry) as it works.
    pub fn with_metrics(mut self, metrics: ServiceMetrics) -> Self {
        self.lanes.count_drops_into(metrics.dropped.clone());
        self.metrics = Some(metrics);
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
        let metrics = self.metrics.clone();
        if let Some(metrics) = &metrics {
            metrics.applying.set(1);
            metrics.terms.inc();
        }
        let served = match self.config.delivery {
            Delivery::Core => self.run_core(shutdown).await,
            Delivery::Jetstream => self.run_jetstream(shutdown).await,
        };
        if let Some(metrics) = &metrics {
            metrics.applying.set(0);
        }
        served
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
            if self.lanes.is_empty() {
                let first = tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    message = subscription.next() => match message {
                        Some(message) => message,
                        None => break,
                    },
                };
                self.lanes.push(first);
            }
            self.batch(&mut subscription).await;
            if self.store.is_lost() {
                tracing::error!("the database connection is lost: this instance stops applying");
                return Ok((self.report, self.store));
            }
            // Let the connection's reader run: on one thread it moves what
            // the socket holds into the subscription only while this loop
            // waits, and a poll still in the socket is behind the whole
            // backlog there (in the server's buffer, where no lane helps).
            // Between batches, not inside one: a batch holds the file's write
            // lock, and another instance on this thread would block on it.
            tokio::task::yield_now().await;
        }
        // Drain. After a round trip every message the server already routed
        // to us is in our buffer; all of it is applied and committed before we
        // go. With the server gone the round trip never ends, so it gets the
        // drain timeout; what has arrived is committed either way.
        let drain = self.config.drain_timeout;
        match crate::timers::timeout(drain, self.transport.round_trip()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "[NATS] round trip at shutdown failed; draining what arrived"),
            Err(_) => {
                tracing::warn!(?drain, "[NATS] the server did not answer the drain in time; committing what arrived")
            }
        }
        self.lanes.take_waiting(&mut subscription);
        while !self.lanes.is_empty() {
            self.batch(&mut subscription).await;
        }
        self.report.dropped = std::mem::take(&mut self.lanes.dropped);
        self.report.backlog_peak = self.lanes.backlog_peak as u64;
        match crate::timers::timeout(drain, self.transport.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "[NATS] flush of the last replies failed"),
            Err(_) => tracing::warn!(?drain, "[NATS] the last replies could not be flushed in time"),
        }
        tracing::info!(applied = self.report.applied_total(), commits = self.report.commits, "db-service stopped");
        Ok((self.report, self.store))
    }

    /// Serves the lanes until they are empty or the batch is full, outbound
    /// lane first, in one transaction (group mode) or one command (v0.5.0's
    /// per-command mode); then commits and sends the replies that wait for
    /// the commit. A request ends the batch early: its reply waits for it.
    async fn batch(&mut self, subscription: &mut T::Subscription) {
        let (group, max_batch) = match self.config.commit {
            CommitMode::Group { max_batch } => (true, max_batch.max(1)),
            CommitMode::PerCommand => (false, 1),
        };
        if group {
            if let Err(error) = self.store.begin_batch() {
                tracing::error!(%error, "cannot open a transaction; applying commands alone");
            }
        }
        let mut after_commit = Vec::new();
        let mut served = 0;
        loop {
            self.lanes.take_waiting(subscription);
            if served >= max_batch || self.lanes.is_empty() {
                break;
            }
            while served < max_batch {
                let Some(message) = self.lanes.next_outbound() else { break };
                self.handle(message, &mut after_commit).await;
                served += 1;
            }
            if !after_commit.is_empty() {
                break;
            }
            let chunk_end = (served + EVENT_CHUNK).min(max_batch);
            while served < chunk_end && after_commit.is_empty() {
                let Some(message) = self.lanes.next_event() else { break };
                self.handle(message, &mut after_commit).await;
                served += 1;
            }
            if !after_commit.is_empty() {
                break;
            }
        }
        let commit_started = tokio::time::Instant::now();
        let commit = self.store.commit_batch();
        if let Some(metrics) = &self.metrics {
            metrics.batch_size.observe(served as f64);
            metrics.commit_seconds.observe(commit_started.elapsed().as_secs_f64());
            metrics.backlog.set(self.lanes.backlog() as i64);
        }
        if let Err(error) = commit {
            tracing::error!(%error, "commit failed: this batch is lost");
            let reply = Reply::Error(format!("commit failed: {error}")).encode();
            for waiting in after_commit.iter_mut() {
                waiting.payload = Bytes::from(reply.clone());
            }
        }
        self.committed().await;
        for waiting in after_commit {
            self.reply(&waiting.reply_to, waiting.payload).await;
            self.observe_request(&waiting.subject, waiting.taken_at);
        }
    }

    /// The counters now, for a [`SERVICE_STATS`] request.
    /// The lanes own the drops and the backlog peak while the service runs
    /// (the report takes them when it stops).
    fn stats(&self, backlog: u64) -> ServiceStats {
        let mut report = self.report.clone();
        report.dropped = self.lanes.dropped.clone();
        report.backlog_peak = self.lanes.backlog_peak as u64;
        ServiceStats {
            delivery: self.config.delivery.to_string(),
            report,
            backlog,
            peak_memory_bytes: peak_memory_bytes(),
        }
    }

    /// Answers a [`SERVICE_STATS`] request (`backlog` as the delivery counts it).
    pub(super) async fn answer_stats(&mut self, request: &BusMessage, backlog: u64) {
        let Some(reply_to) = &request.reply else { return };
        let payload = serde_json::to_vec(&self.stats(backlog)).expect("counters always serialize");
        self.reply(reply_to, Bytes::from(payload)).await;
    }

    /// Counts a commit and pauses as the simulated disk says.
    ///
    /// Also reports the chat lines the store held back and then rejected
    /// when it wrote them (it writes a batch's lines together, so their
    /// errors come after their `Ok`): counted and traced as any rejection.
    pub(super) async fn committed(&mut self) {
        self.report.commits += 1;
        for failed in self.store.take_deferred_errors() {
            self.report.store_errors += 1;
            if let Some(metrics) = &self.metrics {
                metrics.store_errors.inc();
            }
            let subject = crate::contract::Subject::MessageLog;
            tracing::warn!(%subject, error = %failed.error, "store rejected the command; rolled back");
            self.record(TraceEvent::StoreError { subject, error: failed.error.to_string() });
        }
        if let Some(delay) = &self.commit_delay {
            let pause = delay();
            if !pause.is_zero() {
                crate::timers::sleep(pause).await;
            }
        }
    }

    /// Decodes and applies one message. Inside a batch the reply waits in
    /// `after_commit`, so no reply ever shows an effect a failed commit lost
    /// (the batch ends as soon as a reply waits).
    async fn handle(&mut self, message: BusMessage, after_commit: &mut Vec<WaitingReply>) {
        let taken_at = tokio::time::Instant::now();
        if message.subject == SERVICE_STATS {
            let backlog = self.lanes.backlog() as u64;
            self.answer_stats(&message, backlog).await;
            return;
        }
        let payload = match self.apply_payload(&message.subject, &message.payload) {
            Applied::Malformed(reply) => {
                if let Some(reply_to) = &message.reply {
                    self.reply(reply_to, reply).await;
                    self.observe_request(&message.subject, taken_at);
                }
                return;
            }
            Applied::Done { reply } => reply,
        };
        let (Some(reply_to), Some(payload)) = (message.reply, payload) else { return };
        if self.store.in_batch() {
            after_commit.push(WaitingReply { reply_to, payload, subject: message.subject, taken_at });
        } else {
            self.reply(&reply_to, payload).await;
            self.observe_request(&message.subject, taken_at);
        }
    }

    /// Decodes `payload` as a command on `subject` and applies it: the one
    /// step both deliveries share, so they count, log and trace alike.
    pub(super) fn apply_payload(&mut self, subject: &str, payload: &[u8]) -> Applied {
        let command = match Command::decode(subject, payload) {
            Ok(command) => command,
            Err(error) => {
                *self.report.malformed.entry(subject.to_string()).or_default() += 1;
                if let Some(metrics) = &self.metrics {
                    metrics.malformed.get_or_create(&SubjectLabel::new(subject)).inc();
                    if Subject::parse(subject).is_some_and(Subject::is_request) {
                        metrics.request_errors.inc();
                    }
                }
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
                if let Some(metrics) = &self.metrics {
                    metrics.applied.get_or_create(&SubjectLabel::new(subject.as_str())).inc();
                }
                self.record(TraceEvent::Apply { subject, now });
                reply.map(|r| Bytes::from(r.encode()))
            }
            Err(error) => {
                self.report.store_errors += 1;
                if let Some(metrics) = &self.metrics {
                    metrics.store_errors.inc();
                    if subject.is_request() {
                        metrics.request_errors.inc();
                    }
                }
                tracing::warn!(%subject, %error, "store rejected the command; rolled back");
                self.record(TraceEvent::StoreError { subject, error: error.to_string() });
                Some(Bytes::from(Reply::Error(error.to_string()).encode()))
            }
        };
        Applied::Done { reply }
    }

    pub(super) async fn reply(&mut self, reply_to: &str, payload: Bytes) {
        self.report.replies += 1;
        if let Some(metrics) = &self.metrics {
            metrics.replies.inc();
        }
        if let Err(error) = self.transport.publish(reply_to, payload).await {
            tracing::warn!(%error, "[NATS] reply could not be sent");
        }
    }

    /// Records a request's time in the service, from `taken_at` to its reply.
    pub(super) fn observe_request(&self, subject: &str, taken_at: tokio::time::Instant) {
        if let Some(metrics) = &self.metrics {
            let latency = metrics.request_seconds.get_or_create(&SubjectLabel::new(subject));
            latency.observe(taken_at.elapsed().as_secs_f64());
        }
    }

    pub(super) fn record(&self, event: TraceEvent) {
        if let Some((trace, origin)) = &self.trace {
            trace.record(self.clock.now_ms() - origin, &self.config.host, event);
        }
    }
}

/// A reply that waits for its batch's commit.
struct WaitingReply {
    reply_to: String,
    payload: Bytes,
    /// The request's subject and when the service took it up, for its latency.
    subject: String,
    taken_at: tokio::time::Instant,
}
