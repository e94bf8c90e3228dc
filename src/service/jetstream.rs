//! The db-service over JetStream: events and marks from a durable pull
//! consumer, applied exactly once; requests over core NATS, answered in step
//! with the stream.
//!
//! JetStream delivers at least once. What turns that into exactly once is
//! the database itself: a batch of deliveries is applied in one transaction
//! that also records the highest stream sequence applied
//! (`delivery_progress`), and the batch is acknowledged only after the commit.
//! A crash before the commit applies nothing and acks nothing (the server
//! redelivers); a crash between the commit and the acks redelivers what is
//! already applied, and a delivery at or below the recorded sequence is
//! skipped and acked.
//!
//! "At or below" is only sound if nothing is applied past a hole: a delivery
//! lost with a connection comes back after the ack wait, possibly behind
//! newer ones. So the service applies in stream order: a delivery past the
//! next expected sequence is kept (unacked) until the missing ones have been
//! redelivered and applied, then applied after them. The expected sequence
//! skips what the server no longer has (the stream's limits remove from the
//! front) and what the consumer already counts as acknowledged.
//!
//! Requests: `outbound.get` and `recent_chat.get` must see every mark and
//! chat line the server stored before them, or a redelivered mark could let
//! a line be said twice. (The bot awaits the acks of what it published
//! before it polls, so its own marks are stored before the poll arrives.)
//! A `recent_chat.get` is answered once the stream is applied up to the last
//! sequence it held when the read arrived. An `outbound.get` depends on the
//! outbound queue's marks only, which commute with everything else (see
//! [`lanes`](super::lanes)), so it does not wait for a backlog of chat: the
//! service reads the marks stored past what it applied straight from the
//! stream (MSG.GET by subject), applies them ahead, recording the highest
//! mark applied in `delivery_progress` under `<stream>:outbound` in the same
//! transaction, and answers. When the consumer later delivers such a mark,
//! it is at or below that sequence: skipped and acked, so every mark is
//! applied exactly once, by whichever path reaches it first.

use std::collections::BTreeMap;
use std::future::Future;

use bytes::Bytes;

use super::runtime::{Applied, DbService, ServiceReport};
use super::CommitMode;
use crate::clock::Clock;
use crate::contract::{Reply, Subject, SERVICE_STATS};
use crate::store::Store;
use crate::trace::TraceEvent;
use crate::transport::{
    BusMessage, StreamConsumer, StreamMessage, Subscription, Transport, TransportError, ACK_PAYLOAD,
};

/// Most deliveries kept past a hole; beyond it they wait unacked for their
/// redelivery (the consumer's `max_ack_pending` bounds them too).
const MAX_EARLY: usize = 10_000;

/// Most deliveries applied in one transaction: a batch (with its acks) runs
/// to its end before a poll is looked at, so it stays around a millisecond.
const MAX_STREAM_BATCH: usize = 256;

/// How often parked reads look at the database's applied sequence again.
const PARKED_RECHECK: std::time::Duration = std::time::Duration::from_millis(50);

/// Most reads waiting for the stream to catch up; past it a read is refused
/// (the bot retries its poll; nothing is lost).
const MAX_PARKED_READS: usize = 1_000;

/// How long a setup step that found the server unreachable waits before it tries again.
const SETUP_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs a setup step until the server answers it: a server that restarts
/// while the service starts is waited out (it is there again in seconds),
/// but an answer, such as "no JetStream", is final.
async fn until_answered<T, F: Future<Output = Result<T, TransportError>>>(
    what: &str,
    mut step: impl FnMut() -> F,
) -> Result<T, TransportError> {
    loop {
        match step().await {
            Err(error @ (TransportError::TimedOut | TransportError::Disconnected(_))) => {
                tracing::warn!(%error, "[NATS] cannot {what} yet; retrying");
                crate::timers::sleep(SETUP_RETRY).await;
            }
            other => return other,
        }
    }
}

/// Every stream subject of the outbound queue (its marks; its requests are
/// not in the stream).
const OUTBOUND_FILTER: &str = "rosey.db.messages.outbound.>";

/// Most marks one poll applies ahead; past it the poll waits for the stream
/// as a `recent_chat.get` does (a flood of marks is no chat backlog).
const MAX_READ_AHEAD: usize = 1_000;

/// The `delivery_progress` key of the marks applied ahead of the stream.
fn outbound_key(stream: &str) -> String {
    format!("{stream}:outbound")
}

/// Where the service stands in the stream.
#[derive(Debug, Clone, Copy)]
struct Progress {
    /// The highest sequence whose effects are committed.
    applied: u64,
    /// The highest outbound mark committed, possibly applied ahead of `applied`.
    outbound: u64,
    /// The lowest sequence that can still be delivered: the stream's first
    /// message, or past the consumer's ack floor.
    floor: u64,
}

impl Progress {
    fn expected(&self) -> u64 {
        (self.applied + 1).max(self.floor)
    }

    /// Whether the mark at `seq` is already applied (ahead, or in order).
    fn mark_applied(&self, seq: u64) -> bool {
        seq <= self.applied.max(self.outbound)
    }
}

/// A read request waiting until the stream is applied up to `target`.
struct ParkedRead {
    target: u64,
    request: BusMessage,
}

impl<T: Transport, C: Clock> DbService<T, C> {
    /// Serves over JetStream until `shutdown` resolves.
    pub(super) async fn run_jetstream(
        mut self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(ServiceReport, Store), TransportError> {
        let settings = self.config.jetstream.clone();
        let stream = settings.stream.name.clone();
        let state = until_answered("create the stream", || self.transport.ensure_stream(&settings.stream)).await?;
        let mut consumer =
            until_answered("bind the consumer", || self.transport.durable_consumer(&stream, &settings.consumer))
                .await?;
        let applied =
            self.store.prepare_delivery().and_then(|()| self.store.applied_stream_seq(&stream)).map_err(|error| {
                TransportError::Other(format!("cannot read the applied stream sequence from the database: {error}"))
            })?;
        let ack_floor = until_answered("read the consumer", || consumer.ack_floor()).await?;
        if ack_floor > applied {
            tracing::warn!(
                applied,
                ack_floor,
                "[NATS] the consumer has acknowledged more than this database applied: \
                 those commands went to another database file; continuing after them"
            );
        }
        let outbound = self.store.applied_stream_seq(&outbound_key(&stream)).unwrap_or(0);
        let mut progress = Progress { applied, outbound, floor: state.first_seq.max(ack_floor + 1) };
        self.report.applied_seq = applied;
        let group = self.config.queue_group.clone();
        let mut gets = self.transport.subscribe(Subject::OutboundGet.as_str(), group.as_deref()).await?;
        let mut enqueues = self.transport.subscribe(Subject::OutboundEnqueue.as_str(), group.as_deref()).await?;
        let mut recents = self.transport.subscribe(Subject::RecentChatGet.as_str(), group.as_deref()).await?;
        let mut stats = self.transport.subscribe(SERVICE_STATS, group.as_deref()).await?;
        if let Err(error) = self.transport.round_trip().await {
            tracing::warn!(%error, "[NATS] subscriptions not confirmed yet; serving anyway");
        }
        tracing::info!(
            %stream,
            consumer = %settings.consumer.durable_name,
            applied,
            last_seq = state.last_seq,
            "[NATS] db-service consuming the stream"
        );
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(());
        }
        let mut parked: Vec<ParkedRead> = Vec::new();
        // Deliveries past a hole, kept until the hole is redelivered.
        let mut early: BTreeMap<u64, StreamMessage> = BTreeMap::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                // Another instance sharing the database may apply what a
                // parked read waits for: look again now and then.
                () = crate::timers::sleep(PARKED_RECHECK), if !parked.is_empty() => {
                    self.catch_up_with_database(&stream, &mut progress);
                    self.answer_parked(progress, &mut parked).await;
                }
                Some(request) = gets.next() => self.read_request(request, &stream, &mut progress, &mut parked).await,
                Some(request) = recents.next() => self.read_request(request, &stream, &mut progress, &mut parked).await,
                Some(request) = enqueues.next() => self.write_request(request).await,
                Some(request) = stats.next() => {
                    let backlog = match self.transport.stream_state(&stream).await {
                        Ok(state) => state.last_seq.saturating_sub(progress.applied),
                        Err(_) => 0,
                    };
                    self.answer_stats(&request, backlog).await;
                }
                delivery = consumer.next() => match delivery {
                    Ok(first) => {
                        self.stream_batch(first, &mut consumer, &stream, &mut progress, &mut early).await;
                        if self.store.is_lost() {
                            // Unacked, its deliveries go to the instance that takes over.
                            tracing::error!("the database connection is lost: this instance stops applying");
                            break;
                        }
                        self.answer_parked(progress, &mut parked).await;
                    }
                    Err(error) => {
                        tracing::error!(%error, "[NATS] the stream consumer stopped");
                        break;
                    }
                },
            }
        }
        let drain = self.config.drain_timeout;
        match crate::timers::timeout(drain, self.transport.flush()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "[NATS] flush of the last acks failed; they will be redelivered"),
            Err(_) => tracing::warn!(?drain, "[NATS] the last acks could not be flushed in time"),
        }
        tracing::info!(
            applied = self.report.applied_total(),
            applied_seq = progress.applied,
            redelivered = self.report.redelivered,
            "db-service stopped"
        );
        Ok((self.report, self.store))
    }

    /// Applies `first` and whatever else has arrived in one transaction with
    /// the new applied sequence, then acks them.
    async fn stream_batch(
        &mut self,
        first: StreamMessage,
        consumer: &mut T::Consumer,
        stream: &str,
        progress: &mut Progress,
        early: &mut BTreeMap<u64, StreamMessage>,
    ) {
        let max_batch = match self.config.commit {
            CommitMode::Group { max_batch } => max_batch.clamp(1, MAX_STREAM_BATCH),
            CommitMode::PerCommand => 1,
        };
        let mut deliveries = vec![first];
        while deliveries.len() < max_batch {
            let Some(next) = consumer.try_next() else { break };
            deliveries.push(next);
        }
        if let Err(error) = self.store.begin_batch() {
            tracing::error!(%error, "cannot open a transaction; nothing applied, the server will redeliver");
            return;
        }
        // Under the write lock: what every instance sharing this file applied.
        self.catch_up_with_database(stream, progress);
        let before = *progress;
        let mut acks = Vec::with_capacity(deliveries.len());
        for message in deliveries {
            if message.stream_seq < progress.expected() {
                self.count_redelivered();
                self.record(TraceEvent::Redelivered { subject: message.subject.clone(), seq: message.stream_seq });
                acks.push(message.ack_subject);
            } else if early.len() < MAX_EARLY || early.contains_key(&message.stream_seq) {
                // Kept (unacked) until the sequences before it are applied;
                // a later delivery of it replaces this one.
                early.insert(message.stream_seq, message);
            }
        }
        // Apply the run that starts at the expected sequence. The server is
        // asked about a hole once per batch: what is past it now is past it
        // for the rest of the batch too.
        let mut hole_checked = false;
        while self.store.in_batch() {
            let expected = progress.expected();
            // Kept deliveries the floor has since passed: already settled.
            while let Some(entry) = early.first_entry().filter(|entry| *entry.key() < expected) {
                let message = entry.remove();
                self.count_redelivered();
                acks.push(message.ack_subject);
            }
            let Some(message) = early.remove(&expected) else {
                let Some(&first) = early.keys().next() else { break };
                if hole_checked || !self.hole_is_gone(first, consumer, stream, progress).await {
                    self.report.gaps += 1;
                    tracing::debug!(seq = first, expected, "[NATS] deliveries past a gap wait for it");
                    break;
                }
                hole_checked = true;
                continue;
            };
            let is_mark = Subject::parse(&message.subject).is_some_and(Subject::is_outbound);
            if !(is_mark && progress.mark_applied(message.stream_seq)) {
                // Malformed payloads and store rejections count as applied:
                // they would fail the same way every time. A mark applied
                // ahead for a poll is only acked.
                let _ = self.apply_payload(&message.subject, &message.payload);
            }
            progress.applied = message.stream_seq;
            acks.push(message.ack_subject);
        }
        if !self.store.in_batch() {
            // SQLite gave the transaction up (disk full, I/O error): none of
            // it is committed, so none of it is acked; the server redelivers.
            tracing::error!("the batch's transaction was lost; it will be redelivered");
            *progress = before;
            return;
        }
        if progress.applied > before.applied {
            if let Err(error) = self.store.record_applied_seq(stream, progress.applied) {
                tracing::error!(%error, "cannot record the applied sequence; rolling the batch back");
                self.store.abort_batch();
                *progress = before;
                return;
            }
        }
        if let Err(error) = self.store.commit_batch() {
            tracing::error!(%error, "commit failed: the batch is rolled back and will be redelivered");
            *progress = before;
            return;
        }
        self.report.applied_seq = progress.applied;
        self.committed().await;
        if let Some(metrics) = &self.metrics {
            metrics.jetstream_acks.inc_by(acks.len() as u64);
        }
        for ack in acks {
            if let Err(error) = self.transport.publish(&ack, Bytes::from_static(ACK_PAYLOAD)).await {
                tracing::warn!(%error, "[NATS] ack not sent; the message will be redelivered and skipped");
            }
        }
    }

    fn count_redelivered(&mut self) {
        self.report.redelivered += 1;
        if let Some(metrics) = &self.metrics {
            metrics.jetstream_redelivered.inc();
        }
    }

    /// Takes in what other instances sharing the database have applied: the
    /// durable consumer hands each delivery to one of them, so the applied
    /// sequence is the database's, not this process's.
    fn catch_up_with_database(&mut self, stream: &str, progress: &mut Progress) {
        match self.store.applied_stream_seq(stream) {
            Ok(applied) => progress.applied = progress.applied.max(applied),
            Err(error) => tracing::warn!(%error, "cannot read the applied stream sequence"),
        }
        match self.store.applied_stream_seq(&outbound_key(stream)) {
            Ok(outbound) => progress.outbound = progress.outbound.max(outbound),
            Err(error) => tracing::warn!(%error, "cannot read the applied outbound sequence"),
        }
    }

    /// Applies the outbound marks stored past what is applied, read straight
    /// from the stream, in one transaction with their progress. `Ok(true)`
    /// when every mark stored now is applied, so an `outbound.get` can be
    /// answered; `Ok(false)` past [`MAX_READ_AHEAD`].
    async fn apply_outbound_ahead(&mut self, stream: &str, progress: &mut Progress) -> Result<bool, TransportError> {
        let mut marks = Vec::new();
        let mut from = progress.applied.max(progress.outbound) + 1;
        while let Some(mark) = self.transport.stream_next_message(stream, from, OUTBOUND_FILTER).await? {
            from = mark.seq + 1;
            marks.push(mark);
            if marks.len() >= MAX_READ_AHEAD {
                return Ok(false);
            }
        }
        if marks.is_empty() {
            return Ok(true);
        }
        if let Err(error) = self.store.begin_batch() {
            return Err(TransportError::Other(format!("cannot open a transaction: {error}")));
        }
        self.catch_up_with_database(stream, progress);
        let before = *progress;
        for mark in marks {
            if !progress.mark_applied(mark.seq) {
                let _ = self.apply_payload(&mark.subject, &mark.payload);
                self.report.read_ahead += 1;
                progress.outbound = mark.seq;
            }
        }
        if !self.store.in_batch() {
            // SQLite gave the transaction up: nothing of it is committed.
            *progress = before;
            return Err(TransportError::Other("the transaction of the marks read ahead was lost".into()));
        }
        let recorded = if progress.outbound > before.outbound {
            self.store.record_applied_seq(&outbound_key(stream), progress.outbound)
        } else {
            Ok(())
        };
        if let Err(error) = recorded.and_then(|()| self.store.commit_batch()) {
            self.store.abort_batch();
            *progress = before;
            return Err(TransportError::Other(format!("the marks read ahead could not be committed: {error}")));
        }
        self.committed().await;
        Ok(true)
    }

    /// Whether the sequences between the expected one and `seq` can no
    /// longer arrive (removed by the stream's limits, or acknowledged before
    /// this database): then `progress.floor` moves up to `seq`.
    async fn hole_is_gone(&mut self, seq: u64, consumer: &T::Consumer, stream: &str, progress: &mut Progress) -> bool {
        let first_seq = match self.transport.stream_state(stream).await {
            Ok(state) => state.first_seq,
            Err(error) => {
                tracing::warn!(%error, "[NATS] stream state unavailable; waiting for the redelivery");
                return false;
            }
        };
        let ack_floor = consumer.ack_floor().await.unwrap_or(0);
        let floor = first_seq.max(ack_floor + 1);
        if floor > progress.floor {
            if floor > progress.applied + 1 {
                tracing::warn!(
                    from = progress.applied + 1,
                    to = floor - 1,
                    "[NATS] commands the stream no longer holds were never applied (its limits removed them)"
                );
            }
            progress.floor = floor;
        }
        seq <= progress.expected()
    }

    /// A read: answered now if the stream is applied up to its last
    /// sequence, otherwise parked until it is.
    async fn read_request(
        &mut self,
        request: BusMessage,
        stream: &str,
        progress: &mut Progress,
        parked: &mut Vec<ParkedRead>,
    ) {
        if request.reply.is_none() {
            return;
        }
        if request.subject == Subject::OutboundGet.as_str() {
            match self.apply_outbound_ahead(stream, progress).await {
                Ok(true) => return self.answer(request).await,
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "[NATS] marks not read ahead; the poll waits for the stream"),
            }
        }
        let target = match self.transport.stream_state(stream).await {
            Ok(state) => state.last_seq,
            Err(error) => {
                self.refuse(&request, &format!("the stream cannot be read right now: {error}")).await;
                return;
            }
        };
        if target > progress.applied {
            self.catch_up_with_database(stream, progress);
        }
        if target <= progress.applied {
            self.answer(request).await;
        } else if parked.len() >= MAX_PARKED_READS {
            self.refuse(&request, "the db-service is catching up with the stream; try again").await;
        } else {
            parked.push(ParkedRead { target, request });
        }
    }

    /// Answers the parked reads the stream has caught up with, in arrival order.
    async fn answer_parked(&mut self, progress: Progress, parked: &mut Vec<ParkedRead>) {
        if parked.is_empty() {
            return;
        }
        let (ready, waiting): (Vec<ParkedRead>, Vec<ParkedRead>) =
            parked.drain(..).partition(|read| read.target <= progress.applied);
        *parked = waiting;
        for read in ready {
            self.answer(read.request).await;
        }
    }

    /// Applies a request outside any batch and replies.
    async fn answer(&mut self, request: BusMessage) {
        let taken_at = tokio::time::Instant::now();
        let reply = match self.apply_payload(&request.subject, &request.payload) {
            Applied::Malformed(reply) => Some(reply),
            Applied::Done { reply } => reply,
        };
        if let (Some(reply_to), Some(reply)) = (&request.reply, reply) {
            self.reply(reply_to, reply).await;
            self.observe_request(&request.subject, taken_at);
        }
    }

    async fn refuse(&mut self, request: &BusMessage, why: &str) {
        if let Some(metrics) = &self.metrics {
            metrics.request_errors.inc();
        }
        if let Some(reply_to) = &request.reply {
            self.reply(reply_to, Bytes::from(Reply::Error(why.to_string()).encode())).await;
        }
    }

    /// An enqueue: applied and committed on its own, then answered. It
    /// depends on nothing in the stream.
    async fn write_request(&mut self, request: BusMessage) {
        self.answer(request).await;
        self.committed().await;
    }
}
