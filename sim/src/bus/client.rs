//! [`SimTransport`]: the project's [`Transport`] over the simulated bus, the
//! stand-in for async-nats inside turmoil.
//!
//! The handle is a queue in front of a background connection (see
//! [`super::connection`]); the state the two share lives in [`super::state`]. Every operation appends to one outgoing queue,
//! which the current connection's writer drains in order, so SUB, PUB and
//! PING leave in call order, as they do through async-nats' command channel.
//! What the queue holds when a connection dies is what async-nats would
//! still hold in its channel: publishes, flushes and round trips survive to
//! the next connection; SUB/UNSUB/PING/PONG frames belong to the dead one
//! and are dropped (every live subscription is re-sent on reconnect).

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use rosey::transport::{
    BusMessage, ConsumerConfig, PendingAck, StreamConfig, StreamState, Subscription, Transport, TransportError,
    ROUND_TRIP_TIMEOUT,
};
use tokio::sync::{mpsc, oneshot};

use super::connection::maintain;
use super::consumer::SimConsumer;
use super::frame::Frame;
use super::js_client;
use super::state::{ClientShared, ClientStats, Delivery, Outgoing, SimBusOptions, SubEntry};
use super::subject::{validate_publish, validate_queue, validate_subscribe};

/// A connection to the simulated bus. Clones share the connection.
#[derive(Clone)]
pub struct SimTransport {
    pub(super) shared: Arc<ClientShared>,
}

impl SimTransport {
    /// Starts connecting to `addr` (e.g. [`super::BUS_ADDR`]) in the
    /// background and returns at once, like async-nats with
    /// `retry_on_initial_connect`: publishes buffer until the first
    /// connection is up, and a lost connection is re-made forever.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (call it inside a turmoil host or client).
    pub fn connect(addr: &str, options: SimBusOptions) -> SimTransport {
        let shared = Arc::new(ClientShared::new(addr, options));
        let task = tokio::spawn(maintain(Arc::downgrade(&shared)));
        *shared.task.lock().expect("sim bus task lock") = Some(task.abort_handle());
        SimTransport { shared }
    }

    /// The connection name from the options.
    pub fn name(&self) -> &str {
        &self.shared.options.name
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ClientStats {
        let state = self.shared.lock();
        ClientStats { buffered: state.queued_publishes, ..state.stats.clone() }
    }

    /// A fresh inbox subject, `_INBOX.<name>.<n>`.
    pub(super) fn new_inbox(&self) -> String {
        let mut state = self.shared.lock();
        state.next_inbox += 1;
        format!("_INBOX.{}.{}", self.shared.inbox_prefix, state.next_inbox)
    }

    /// Queues an encoded PUB, waiting for room while connected.
    pub(super) async fn enqueue_publish(&self, frame: Bytes) -> Result<(), TransportError> {
        let capacity = self.shared.options.buffer_capacity;
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if state.queued_publishes < capacity {
                    state.stats.published += 1;
                    self.shared.push(&mut state, Outgoing::Publish(frame));
                    return Ok(());
                }
                if !state.connected {
                    state.stats.dropped_while_disconnected += 1;
                    return Err(TransportError::Disconnected(format!(
                        "not connected to the bus and {capacity} publishes are already buffered"
                    )));
                }
            }
            room.await;
        }
    }

    pub(super) fn subscribe_now(&self, subject: &str, queue: Option<&str>) -> Result<SimSubscription, TransportError> {
        validate_subscribe(subject)?;
        if let Some(queue) = queue {
            validate_queue(queue)?;
        }
        let (sender, messages) = mpsc::channel(self.shared.options.subscription_capacity.max(1));
        let mut state = self.shared.lock();
        state.next_sid += 1;
        let sid = state.next_sid;
        let entry = SubEntry { subject: subject.to_string(), queue: queue.map(str::to_string), sender, slow: false };
        if state.connected {
            let frame = Frame::Sub { sid, subject: entry.subject.clone(), queue: entry.queue.clone() };
            self.shared.push(&mut state, Outgoing::Control(frame.to_bytes()));
        }
        state.subs.insert(sid, entry);
        Ok(SimSubscription { sid, messages, shared: Arc::downgrade(&self.shared) })
    }

    pub(super) fn check_payload(&self, payload: &Bytes) -> Result<(), TransportError> {
        if payload.len() > self.shared.options.max_payload {
            return Err(TransportError::PayloadTooLarge(payload.len()));
        }
        Ok(())
    }
}

impl fmt::Debug for SimTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTransport").field("name", &self.name()).field("addr", &self.shared.addr).finish()
    }
}

impl Transport for SimTransport {
    type Subscription = SimSubscription;
    type Consumer = SimConsumer;

    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), TransportError> {
        validate_publish(subject)?;
        self.check_payload(&payload)?;
        self.enqueue_publish(
            Frame::Pub { subject: subject.to_string(), reply: None, msg_id: None, expected_last_msg_id: None, payload }
                .to_bytes(),
        )
        .await
    }

    /// Subscribes to a fresh inbox, then publishes with it as the reply
    /// subject: the SUB is queued first, so the bus has it before the
    /// request can be answered.
    async fn request(&self, subject: &str, payload: Bytes, timeout: Duration) -> Result<BusMessage, TransportError> {
        validate_publish(subject)?;
        self.check_payload(&payload)?;
        let inbox = self.new_inbox();
        let mut inbox_sub = self.subscribe_now(&inbox, None)?;
        let exchange = async {
            let frame = Frame::Pub {
                subject: subject.to_string(),
                reply: Some(inbox.clone()),
                msg_id: None,
                expected_last_msg_id: None,
                payload,
            };
            self.enqueue_publish(frame.to_bytes()).await?;
            match inbox_sub.messages.recv().await {
                Some(Delivery { no_responders: true, .. }) => Err(TransportError::NoResponders),
                Some(Delivery { message, .. }) => Ok(message),
                None => Err(TransportError::Disconnected("the client was closed".into())),
            }
        };
        rosey::timers::timeout(timeout, exchange).await.unwrap_or(Err(TransportError::TimedOut))
    }

    async fn subscribe(&self, subject: &str, queue_group: Option<&str>) -> Result<SimSubscription, TransportError> {
        self.subscribe_now(subject, queue_group)
    }

    /// Waits until everything queued before it has been written to a
    /// socket; while disconnected that means after the next reconnect, as
    /// with async-nats.
    async fn flush(&self) -> Result<(), TransportError> {
        let (done, written) = oneshot::channel();
        self.shared.push(&mut self.shared.lock(), Outgoing::Flush(done));
        written.await.map_err(|_| TransportError::Disconnected("connection lost while flushing".into()))
    }

    /// A PING through the bus, queued behind everything sent before. While
    /// disconnected it goes out after the reconnect (after the re-subscribes
    /// and the buffered publishes), within 10 s.
    async fn round_trip(&self) -> Result<(), TransportError> {
        let (done, pong) = oneshot::channel();
        self.shared.push(&mut self.shared.lock(), Outgoing::RoundTrip(done));
        match rosey::timers::timeout(ROUND_TRIP_TIMEOUT, pong).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(TransportError::Disconnected("connection lost before the PONG".into())),
            Err(_) => Err(TransportError::TimedOut),
        }
    }

    fn is_connected(&self) -> bool {
        self.shared.lock().connected
    }

    fn connection_epoch(&self) -> u64 {
        self.shared.lock().generation
    }

    async fn ensure_stream(&self, config: &StreamConfig) -> Result<StreamState, TransportError> {
        js_client::ensure_stream(self, config).await
    }

    async fn stream_state(&self, stream: &str) -> Result<StreamState, TransportError> {
        js_client::stream_state(self, stream).await
    }

    async fn publish_with_ack(
        &self,
        subject: &str,
        payload: Bytes,
        msg_id: &str,
        expected_last_msg_id: Option<&str>,
    ) -> Result<PendingAck, TransportError> {
        js_client::publish_with_ack(self, subject, payload, msg_id, expected_last_msg_id).await
    }

    async fn durable_consumer(&self, stream: &str, config: &ConsumerConfig) -> Result<SimConsumer, TransportError> {
        js_client::durable_consumer(self, stream, config).await
    }
}

/// A subscription's message stream. It ends (`next` gives `None`) once every
/// handle of its [`SimTransport`] is dropped; dropping it unsubscribes.
pub struct SimSubscription {
    sid: u64,
    messages: mpsc::Receiver<Delivery>,
    shared: Weak<ClientShared>,
}

impl fmt::Debug for SimSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimSubscription").field("sid", &self.sid).finish()
    }
}

impl SimSubscription {
    /// The next delivery with its status, for the JetStream client.
    pub(super) async fn next_delivery(&mut self) -> Option<Delivery> {
        self.messages.recv().await
    }
}

impl Subscription for SimSubscription {
    async fn next(&mut self) -> Option<BusMessage> {
        self.messages.recv().await.map(|delivery| delivery.message)
    }

    fn try_next(&mut self) -> Option<BusMessage> {
        self.messages.try_recv().ok().map(|delivery| delivery.message)
    }
}

impl Drop for SimSubscription {
    fn drop(&mut self) {
        let Some(shared) = self.shared.upgrade() else { return };
        let mut state = shared.lock();
        if state.subs.shift_remove(&self.sid).is_some() && state.connected {
            shared.push(&mut state, Outgoing::Control(Frame::Unsub { sid: self.sid }.to_bytes()));
        }
    }
}
