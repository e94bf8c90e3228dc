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
//! (a newer publish landing first would reorder the stream). And every
//! command but the front is published with `Nats-Expected-Last-Msg-Id` =
//! its predecessor's id, so the server itself refuses to store it ahead of a
//! predecessor that was lost: a publish still queued in the client when its
//! connection died goes out on the next one, ahead of the republish of those
//! the dead connection took, and is refused instead of reordering the
//! stream. (Another publisher's message in between makes the server refuse
//! one of ours too; it is republished as the front, which carries no
//! expectation, so that costs a round, never progress.)

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::task::Poll;
use std::time::Duration;

use super::LinkError;
use crate::contract::Command;
use crate::transport::{PendingAck, PubAck, Transport, TransportError};
use bytes::Bytes;

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
    /// Commands published again after a missing ack (the first publish of
    /// a command that had to wait behind them is not counted).
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
    /// Published at least once (a command sent while the connection was
    /// down, or behind a pending republish, has not been).
    published: bool,
    /// The connection its last publish went out on.
    epoch: u64,
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

/// What a settle does next.
enum Step {
    Done,
    /// The front's ack came (or failed).
    Ack(Result<PubAck, TransportError>),
    /// The front waits to be published again.
    Republish,
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
                crate::timers::sleep(RETRY_PAUSE).await;
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
            published: false,
            epoch: transport.connection_epoch(),
        };
        let blocked =
            !transport.is_connected() || self.window.borrow().iter().any(|e| e.ack.is_none() || e.epoch < entry.epoch);
        if !blocked {
            let after = self.window.borrow().back().map(|e| e.id.clone());
            match transport.publish_with_ack(entry.subject, entry.payload.clone(), &entry.id, after.as_deref()).await {
                Ok(ack) => (entry.ack, entry.published) = (Some(ack), true),
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
        match crate::timers::timeout(timeout, self.settle(transport, through)).await {
            Ok(result) => result,
            Err(_) => Err(LinkError::Transport(TransportError::TimedOut)),
        }
    }

    /// Drives the window until `until` holds. Any caller may drive it, and
    /// none holds anything across an await: the bot's in-flight poll settles
    /// and can be left suspended mid-settle while the replay sends (the
    /// runner polls it only between events), so a send that needs room must
    /// be able to take the acks in itself rather than wait for that poll;
    /// and the poll, resumed, must see what was taken meanwhile.
    async fn settle<T: Transport>(&self, transport: &T, until: Until) -> Result<(), LinkError> {
        loop {
            match self.next_step(until).await {
                Step::Done => return Ok(()),
                Step::Ack(ack) => self.on_ack(ack),
                Step::Republish => self.republish(transport).await?,
            }
        }
    }

    /// Awaits the front command's ack where it lies in the window (the
    /// window is borrowed only while the ack is polled), until `until` holds.
    /// Whoever sees the ack resolve takes it.
    ///
    /// Every settler runs in the bot's one task (the link is `!Sync`), so
    /// whichever of them polled last, the task is woken when the ack comes.
    async fn next_step(&self, until: Until) -> Step {
        std::future::poll_fn(|cx| {
            if self.done(until) {
                return Poll::Ready(Step::Done);
            }
            let mut window = self.window.borrow_mut();
            let Some(front) = window.front_mut() else { return Poll::Ready(Step::Done) };
            let Some(ack) = front.ack.as_mut() else { return Poll::Ready(Step::Republish) };
            let result = std::task::ready!(ack.as_mut().poll(cx));
            // Resolved: never polled again.
            front.ack = None;
            Poll::Ready(Step::Ack(result))
        })
        .await
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
    fn on_ack(&self, ack: Result<PubAck, TransportError>) {
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

    /// Publishes again, in order, every command waiting for it (those sent
    /// meanwhile too): always the first one waiting, so a republish that
    /// was suspended and resumes after a newer reset starts from the front
    /// again. Stops at the first publish that fails (the connection is
    /// down): they stay queued; and before a command whose predecessors
    /// still await acks from an older connection (those may be lost: it
    /// would be stored ahead of them), until those acks resolve.
    async fn republish<T: Transport>(&self, transport: &T) -> Result<(), LinkError> {
        let (mut count, mut again) = (0u64, 0u64);
        let result = loop {
            let epoch = transport.connection_epoch();
            let waiting = {
                let window = self.window.borrow();
                let first = window.iter().position(|e| e.ack.is_none());
                first.filter(|&at| window.iter().take(at).all(|e| e.epoch >= epoch)).and_then(|at| {
                    // The front goes out on its own (everything before it is
                    // stored); any later one only right after its predecessor.
                    let after = at.checked_sub(1).and_then(|before| window.get(before)).map(|e| e.id.clone());
                    window.get(at).map(|e| (e.seq, e.subject, e.payload.clone(), e.id.clone(), e.published, after))
                })
            };
            let Some((seq, subject, payload, id, published, after)) = waiting else { break Ok(()) };
            let ack = match transport.publish_with_ack(subject, payload, &id, after.as_deref()).await {
                Ok(ack) => ack,
                Err(error) => {
                    tracing::warn!(%error, %id, "[NATS] republish failed; retrying on the next settle");
                    break Err(error.into());
                }
            };
            if let Some(entry) = self.window.borrow_mut().iter_mut().find(|e| e.seq == seq) {
                (entry.ack, entry.published, entry.epoch) = (Some(ack), true, epoch);
            }
            count += 1;
            again += u64::from(published);
        };
        if count > 0 {
            tracing::info!(count, again, "[NATS] republished unacknowledged commands");
            self.update(|stats| stats.republished += again);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::pin::pin;
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::sync::oneshot;

    use super::*;
    use crate::contract::UserEvent;
    use crate::transport::{
        BusMessage, ConsumerConfig, StreamConfig, StreamConsumer, StreamMessage, StreamState, Subscription,
    };

    /// Publishes nothing anywhere: it records each acked publish and hands
    /// its ack to the test, which resolves it when it chooses.
    #[derive(Default)]
    struct Acks {
        published: RefCell<Vec<String>>,
        pending: RefCell<Vec<oneshot::Sender<Result<PubAck, TransportError>>>>,
        /// Bumped by a test to play a reconnect.
        epoch: std::cell::Cell<u64>,
    }

    impl Acks {
        fn ack_next(&self) {
            let sender = self.pending.borrow_mut().remove(0);
            let seq = self.published.borrow().len() as u64;
            let _ = sender.send(Ok(PubAck { stream: "S".into(), seq, duplicate: false }));
        }
    }

    struct Never;

    impl Subscription for Never {
        async fn next(&mut self) -> Option<BusMessage> {
            None
        }
        fn try_next(&mut self) -> Option<BusMessage> {
            None
        }
    }

    impl StreamConsumer for Never {
        async fn next(&mut self) -> Result<StreamMessage, TransportError> {
            Err(TransportError::Other("no consumer here".into()))
        }
        fn try_next(&mut self) -> Option<StreamMessage> {
            None
        }
        async fn ack_floor(&self) -> Result<u64, TransportError> {
            Ok(0)
        }
    }

    impl Transport for Acks {
        type Subscription = Never;
        type Consumer = Never;

        async fn publish(&self, _: &str, _: Bytes) -> Result<(), TransportError> {
            Ok(())
        }
        async fn request(&self, _: &str, _: Bytes, _: Duration) -> Result<BusMessage, TransportError> {
            Err(TransportError::NoResponders)
        }
        async fn subscribe(&self, _: &str, _: Option<&str>) -> Result<Never, TransportError> {
            Ok(Never)
        }
        async fn flush(&self) -> Result<(), TransportError> {
            Ok(())
        }
        async fn round_trip(&self) -> Result<(), TransportError> {
            Ok(())
        }
        fn is_connected(&self) -> bool {
            true
        }
        fn connection_epoch(&self) -> u64 {
            self.epoch.get()
        }
        async fn ensure_stream(&self, _: &StreamConfig) -> Result<StreamState, TransportError> {
            Ok(StreamState::default())
        }
        async fn stream_state(&self, _: &str) -> Result<StreamState, TransportError> {
            Ok(StreamState::default())
        }
        async fn publish_with_ack(
            &self,
            _: &str,
            _: Bytes,
            msg_id: &str,
            _: Option<&str>,
        ) -> Result<PendingAck, TransportError> {
            let (sender, receiver) = oneshot::channel();
            self.published.borrow_mut().push(msg_id.to_string());
            self.pending.borrow_mut().push(sender);
            Ok(Box::pin(async move { receiver.await.unwrap_or(Err(TransportError::TimedOut)) }))
        }
        async fn durable_consumer(&self, _: &str, _: &ConsumerConfig) -> Result<Never, TransportError> {
            Ok(Never)
        }
    }

    fn joined(name: &str) -> Command {
        Command::UserJoined(UserEvent { username: name.to_string(), at_ms: None })
    }

    /// What the runner does: its in-flight poll settles the window (a read
    /// waits for the acks before it), is polled until it waits for an ack,
    /// and is then left suspended while the replay goes on sending. Before,
    /// the poll held the window's settling flag (and the front's ack) while
    /// suspended, so a send that needed room waited for it forever: the bot
    /// hung after a server restart filled its window, deaf to SIGTERM.
    #[tokio::test]
    async fn a_send_needing_room_takes_the_ack_a_suspended_poll_was_waiting_for() {
        let transport = Acks::default();
        let outbox = StreamOutbox::new("bot-t".into(), 1);
        outbox.send(&transport, &joined("amy")).await.unwrap();
        let mut poll = pin!(outbox.settle_all(&transport, Duration::from_secs(60)));
        assert!(futures::poll!(poll.as_mut()).is_pending(), "the poll waits for the first ack");

        transport.ack_next();
        let bob = joined("bob");
        let send = crate::timers::timeout(Duration::from_secs(5), outbox.send(&transport, &bob));
        send.await.expect("the send found room without the suspended poll").unwrap();
        assert_eq!(*transport.published.borrow(), ["bot-t-1", "bot-t-2"]);
        assert_eq!(outbox.stats().acked, 1);

        // The poll, resumed, finds what it waited for acknowledged.
        assert!(matches!(futures::poll!(poll.as_mut()), Poll::Ready(Ok(()))));
    }

    /// A command sent while a settle waits for an older ack is published at
    /// once: an ack being awaited is not a command waiting for a republish.
    /// Before, it was queued unpublished until the next settle and counted
    /// as republished, though it had never been published at all.
    #[tokio::test]
    async fn a_send_while_an_ack_is_awaited_is_published_at_once() {
        let transport = Acks::default();
        let outbox = StreamOutbox::new("bot-t".into(), 8);
        outbox.send(&transport, &joined("amy")).await.unwrap();
        let mut poll = pin!(outbox.settle_all(&transport, Duration::from_secs(60)));
        assert!(futures::poll!(poll.as_mut()).is_pending());
        outbox.send(&transport, &joined("bob")).await.unwrap();
        assert_eq!(*transport.published.borrow(), ["bot-t-1", "bot-t-2"], "bob waited for a republish");
        transport.ack_next();
        assert!(futures::poll!(poll.as_mut()).is_ready());
        transport.ack_next();
        outbox.settle_all(&transport, Duration::from_secs(5)).await.unwrap();
        assert_eq!((outbox.stats().acked, outbox.stats().republished), (2, 0));
    }

    /// A failed ack republishes the front and everything after it, in order,
    /// with the same ids.
    #[tokio::test]
    async fn a_failed_ack_republishes_in_order_with_the_same_ids() {
        let transport = Acks::default();
        let outbox = StreamOutbox::new("bot-t".into(), 8);
        for name in ["amy", "bob", "cat"] {
            outbox.send(&transport, &joined(name)).await.unwrap();
        }
        let first = transport.pending.borrow_mut().remove(0);
        let _ = first.send(Err(TransportError::TimedOut));
        let mut settle = pin!(outbox.settle_all(&transport, Duration::from_secs(60)));
        assert!(futures::poll!(settle.as_mut()).is_pending());
        assert_eq!(transport.published.borrow()[3..], ["bot-t-1", "bot-t-2", "bot-t-3"]);
        // The first publishes' acks were dropped with the republish.
        transport.pending.borrow_mut().drain(..2);
        for _ in 0..3 {
            transport.ack_next();
        }
        assert!(matches!(futures::poll!(settle.as_mut()), Poll::Ready(Ok(()))));
        let stats = outbox.stats();
        assert_eq!((stats.acked, stats.republished, stats.ack_failures, stats.unacked), (3, 3, 1, 0));
    }

    /// A reconnect between two sends: the first command's publish went out
    /// on the old connection and may be lost with it, so the second is not
    /// published on the new one (it would be stored first) until the
    /// first's ack resolves; when that fails, both go out again, in order.
    /// Before, the second went out at once: a kill -9 of nats-server
    /// reordered recent_chat rows.
    #[tokio::test]
    async fn after_a_reconnect_nothing_overtakes_a_command_from_the_old_connection() {
        let transport = Acks::default();
        let outbox = StreamOutbox::new("bot-t".into(), 8);
        outbox.send(&transport, &joined("amy")).await.unwrap();
        transport.epoch.set(1);
        outbox.send(&transport, &joined("bob")).await.unwrap();
        assert_eq!(*transport.published.borrow(), ["bot-t-1"], "bob went out ahead of amy's ack");

        let lost = transport.pending.borrow_mut().remove(0);
        let _ = lost.send(Err(TransportError::TimedOut));
        let mut settle = pin!(outbox.settle_all(&transport, Duration::from_secs(60)));
        assert!(futures::poll!(settle.as_mut()).is_pending());
        assert_eq!(*transport.published.borrow(), ["bot-t-1", "bot-t-1", "bot-t-2"]);
        transport.ack_next();
        transport.ack_next();
        assert!(matches!(futures::poll!(settle.as_mut()), Poll::Ready(Ok(()))));
        assert_eq!((outbox.stats().acked, outbox.stats().republished), (2, 1));
    }
}
