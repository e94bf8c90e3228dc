//! The bot's side of JetStream delivery: every event and mark published with
//! a `Nats-Msg-Id`, kept until the server acknowledges it, and published
//! again (same id, in order) when its ack does not come.
//!
//! The window of unacknowledged commands is bounded: when it is full, the
//! bot waits for the oldest ack before it sends anything newer. That window
//! is all a bot crash can lose; everything acknowledged is in the stream.
//!
//! Order is kept by republishing only from the front: when an ack fails,
//! every command from it on is published again, in order, and the server's
//! duplicate window drops the copies of those it already stored. While a
//! command waits to be republished, newer ones queue behind it unpublished
//! (a newer publish landing first would reorder the stream).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use super::LinkError;
use crate::contract::Command;
use crate::transport::{PendingAck, Transport, TransportError};

/// How long a bot with a full window waits before it tries the server again.
const RETRY_PAUSE: Duration = Duration::from_millis(250);

/// What the bot's stream publisher did, for logs and reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StreamStats {
    /// Commands published and not yet acknowledged, now.
    pub unacked: usize,
    /// The most that were ever unacknowledged at once.
    pub peak_unacked: usize,
    /// Acknowledged by the server.
    pub acked: u64,
    /// Acknowledged as duplicates: a republished copy the server already had.
    pub duplicates: u64,
    /// Commands published again after a missing ack.
    pub republished: u64,
    /// Acks that failed (timed out, or the server refused).
    pub ack_failures: u64,
}

/// One command between its first publish and its ack.
struct Unacked {
    /// The sequence in this instance's ids.
    seq: u64,
    id: String,
    subject: &'static str,
    payload: Bytes,
    /// `None` while it waits to be (re)published.
    ack: Option<PendingAck>,
}

/// Publishes into the stream and tracks the unacknowledged window.
pub(super) struct StreamOutbox {
    /// Unique per bot process: with the sequence it makes every id unique.
    instance: String,
    capacity: usize,
    next_seq: Cell<u64>,
    window: RefCell<VecDeque<Unacked>>,
    stats: Cell<StreamStats>,
}

/// How far [`StreamOutbox::settle`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// Until there is room for one more command.
    Room,
    /// Until every command up to this sequence is acknowledged (those sent
    /// later may still be in flight: a read waits only for what precedes it).
    Through(u64),
}

impl StreamOutbox {
    pub(super) fn new(instance: String, capacity: usize) -> StreamOutbox {
        StreamOutbox {
            instance,
            capacity: capacity.max(1),
            next_seq: Cell::new(0),
            window: RefCell::new(VecDeque::new()),
            stats: Cell::new(StreamStats::default()),
        }
    }

    /// A fresh id for a request that must be applied at most once.
    pub(super) fn next_request_id(&self) -> String {
        let seq = self.next_seq.get() + 1;
        self.next_seq.set(seq);
        format!("{}-{seq}", self.instance)
    }

    pub(super) fn stats(&self) -> StreamStats {
        StreamStats { unacked: self.window.borrow().len(), ..self.stats.get() }
    }

    fn update(&self, change: impl FnOnce(&mut StreamStats)) {
        let mut stats = self.stats.get();
        change(&mut stats);
        self.stats.set(stats);
    }

    /// Publishes `command` (or queues it behind a pending republish), after
    /// waiting for room in the window.
    pub(super) async fn send<T: Transport>(&self, transport: &T, command: &Command) -> Result<(), LinkError> {
        while self.window.borrow().len() >= self.capacity {
            if let Err(error) = self.settle(transport, Until::Room).await {
                // The window is full and the server unreachable: the bot
                // waits here (what it would lose otherwise is the newest command).
                tracing::debug!(%error, "[NATS] ack window full; waiting for the server");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
        }
        let seq = self.next_seq.get() + 1;
        self.next_seq.set(seq);
        let mut entry = Unacked {
            seq,
            id: format!("{}-{seq}", self.instance),
            subject: command.subject().as_str(),
            payload: Bytes::from(command.encode()),
            ack: None,
        };
        let blocked = self.window.borrow().iter().any(|e| e.ack.is_none()) || !transport.is_connected();
        if !blocked {
            match transport.publish_with_ack(entry.subject, entry.payload.clone(), &entry.id).await {
                Ok(ack) => entry.ack = Some(ack),
                Err(error) => {
                    tracing::warn!(%error, id = %entry.id, "[NATS] publish failed; it is kept for a republish")
                }
            }
        }
        let mut window = self.window.borrow_mut();
        window.push_back(entry);
        let unacked = window.len();
        drop(window);
        self.update(|stats| stats.peak_unacked = stats.peak_unacked.max(unacked));
        Ok(())
    }

    /// Waits until every command sent so far is acknowledged, republishing
    /// what needs it; gives up after `timeout` (the rest stays in the window).
    pub(super) async fn settle_all<T: Transport>(&self, transport: &T, timeout: Duration) -> Result<(), LinkError> {
        let through = Until::Through(self.next_seq.get());
        match tokio::time::timeout(timeout, self.settle(transport, through)).await {
            Ok(result) => result,
            Err(_) => Err(LinkError::Transport(TransportError::TimedOut)),
        }
    }

    /// Awaits acks from the front and republishes what needs it until
    /// `until` holds. One caller at a time: the bot's runner, from its sends
    /// and before a poll. A second settler awaiting a future the first one
    /// holds would wait on whoever polls the first, and the runner's
    /// in-flight poll is polled by the very loop that would be waiting.
    /// Cancelled (a timeout), it leaves the ack it held to a republish.
    async fn settle<T: Transport>(&self, transport: &T, until: Until) -> Result<(), LinkError> {
        while !self.done(until) {
            let front = self.window.borrow_mut().front_mut().and_then(|entry| entry.ack.take());
            match front {
                Some(ack) => self.on_ack(ack.await),
                None => self.republish(transport).await?,
            }
        }
        Ok(())
    }

    fn done(&self, until: Until) -> bool {
        let window = self.window.borrow();
        match until {
            Until::Room => window.len() < self.capacity,
            Until::Through(seq) => window.front().is_none_or(|front| front.seq > seq),
        }
    }

    /// Takes the front command's ack: acknowledged, it leaves the window;
    /// failed, it and everything after it wait for a republish.
    fn on_ack(&self, ack: Result<crate::transport::PubAck, TransportError>) {
        let mut window = self.window.borrow_mut();
        match ack {
            Ok(ack) => {
                window.pop_front();
                self.update(|stats| {
                    stats.acked += 1;
                    stats.duplicates += u64::from(ack.duplicate);
                });
            }
            Err(error) => {
                let id = window.front().map(|e| e.id.clone()).unwrap_or_default();
                tracing::warn!(%error, %id, unacked = window.len(), "[NATS] no ack; publishing the unacknowledged commands again");
                for entry in window.iter_mut() {
                    entry.ack = None;
                }
                self.update(|stats| stats.ack_failures += 1);
            }
        }
    }

    /// Publishes again, in order, every command waiting for it. Stops at the
    /// first publish that fails (the connection is down): they stay queued.
    async fn republish<T: Transport>(&self, transport: &T) -> Result<(), LinkError> {
        let len = self.window.borrow().len();
        let mut count = 0u64;
        for index in 0..len {
            let waiting = {
                let window = self.window.borrow();
                window.get(index).filter(|e| e.ack.is_none()).map(|e| (e.subject, e.payload.clone(), e.id.clone()))
            };
            let Some((subject, payload, id)) = waiting else { continue };
            let ack = transport.publish_with_ack(subject, payload, &id).await.inspect_err(|error| {
                tracing::warn!(%error, %id, "[NATS] republish failed; retrying on the next settle");
            })?;
            if let Some(entry) = self.window.borrow_mut().get_mut(index) {
                entry.ack = Some(ack);
            }
            count += 1;
        }
        if count > 0 {
            tracing::info!(count, "[NATS] republished unacknowledged commands");
            self.update(|stats| stats.republished += count);
        }
        Ok(())
    }
}
