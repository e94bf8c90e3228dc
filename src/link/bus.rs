//! Bus mode: commands travel as NATS messages to the db-service.
//!
//! Core NATS drops a publish nobody subscribes to, so v0.5.0 lost every event
//! sent while its db-service was down (defect 3). With [`Outbox::Hold`] (what
//! the hardened protocol uses) the link notices when nobody listens: a request answered "no responders"
//! proves no db-service is subscribed, so from then on commands are held, in
//! order, in an outbox instead of being published into the void. The next
//! request that gets a reply proves a service is back: the outbox is released,
//! in order, before anything newer. Nothing held was ever published, so
//! releasing it neither duplicates nor reorders. (Commands published between
//! the service's crash and the first "no responders" are still lost: that gap
//! is at most one outbound poll, 2 s.)

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use super::stream::{StreamOutbox, StreamStats};
use super::{DbLink, LinkError};
use crate::contract::{Command, EnqueueReply, Reply, Request};
use crate::transport::Transport;

/// How long a held enqueue waits for its reply when released.
const RELEASE_REQUEST_TIMEOUT: Duration = crate::contract::DEFAULT_REQUEST_TIMEOUT;

/// How many commands the outbox holds before it drops the oldest (and counts them).
pub const OUTBOX_CAPACITY: usize = 100_000;

/// The bot's link over any [`Transport`].
pub struct BusLink<T: Transport> {
    transport: T,
    policy: Outbox,
    outbox: RefCell<HeldCommands>,
    /// Commands published since the last answered request: an answer proves
    /// the service read everything sent before it on this connection, so
    /// these are the ones whose delivery nothing has confirmed yet.
    unconfirmed: Cell<u64>,
    /// With JetStream delivery: events and marks go into the stream, with ids and acks.
    stream: Option<StreamOutbox>,
    /// With JetStream delivery: enqueues whose reply did not come, retried
    /// (with their request ids, so at most once) before the next read.
    retried_enqueues: RefCell<VecDeque<Command>>,
}

/// What a [`BusLink`] does with commands while no db-service listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbox {
    /// Hold them, in order, and release them once a request is answered again.
    Hold,
    /// Publish them whatever happens: v0.5.0's behaviour, and dual mode's,
    /// whose fallback when nobody listens is the store itself.
    None,
}

/// Commands held while no db-service listens.
#[derive(Debug, Default)]
struct HeldCommands {
    holding: bool,
    /// A release is draining the outbox right now.
    releasing: bool,
    held: VecDeque<Command>,
    /// Held commands dropped because the outbox was full.
    overflowed: u64,
}

/// What the outbox did, for reports and invariants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboxStats {
    pub holding: bool,
    pub held: usize,
    pub overflowed: u64,
}

impl<T: Transport> BusLink<T> {
    /// A link over `transport` that treats unheard commands as `policy` says.
    pub fn new(transport: T, policy: Outbox) -> BusLink<T> {
        BusLink {
            transport,
            policy,
            outbox: RefCell::new(HeldCommands::default()),
            unconfirmed: Cell::new(0),
            stream: None,
            retried_enqueues: RefCell::new(VecDeque::new()),
        }
    }

    /// A link that publishes events and marks into the JetStream stream,
    /// with ids `<instance>-<n>`, at most `ack_window` unacknowledged. The
    /// stream keeps them while no db-service runs, so nothing is held here.
    pub fn jetstream(transport: T, instance: String, ack_window: usize) -> BusLink<T> {
        BusLink { stream: Some(StreamOutbox::new(instance, ack_window)), ..BusLink::new(transport, Outbox::None) }
    }

    /// The JetStream publisher's counters; `None` with core delivery.
    pub fn stream_stats(&self) -> Option<StreamStats> {
        self.stream.as_ref().map(StreamOutbox::stats)
    }

    /// With JetStream: waits up to `timeout` until every command sent so far
    /// is acknowledged (the bot's shutdown). Core delivery: nothing to wait for.
    ///
    /// # Errors
    ///
    /// When some are still unacknowledged after `timeout`.
    pub async fn settle(&self, timeout: Duration) -> Result<(), LinkError> {
        match &self.stream {
            Some(stream) => {
                self.retry_enqueues(timeout).await;
                stream.settle_all(&self.transport, timeout).await
            }
            None => Ok(()),
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// What is held: the core outbox's commands, and with JetStream the
    /// enqueues waiting for their retry.
    pub fn outbox_stats(&self) -> OutboxStats {
        let outbox = self.outbox.borrow();
        let retried = self.retried_enqueues.borrow().len();
        OutboxStats {
            holding: outbox.holding || retried > 0,
            held: outbox.held.len() + retried,
            overflowed: outbox.overflowed,
        }
    }

    /// Commands published since the last answered request (see [`BusLink::confirmed`]).
    pub fn unconfirmed(&self) -> u64 {
        self.unconfirmed.get()
    }

    /// Marks everything published so far as delivered: a round trip through
    /// the server just proved it has them.
    pub fn confirmed(&self) {
        self.unconfirmed.set(0);
    }

    fn hold(&self, command: Command) {
        let mut outbox = self.outbox.borrow_mut();
        if !outbox.holding {
            tracing::warn!("[NATS] no db-service is listening; holding commands until one answers");
        }
        outbox.holding = true;
        if outbox.held.len() >= OUTBOX_CAPACITY {
            outbox.held.pop_front();
            outbox.overflowed += 1;
        }
        outbox.held.push_back(command);
    }

    /// Publishes the held commands in order until the outbox is empty; stops
    /// (still holding) at the first one that finds nobody listening.
    ///
    /// The link keeps holding until the outbox is empty: a release can be
    /// suspended between two publishes (it runs inside the bot's in-flight
    /// poll), and a command sent meanwhile must queue behind the older held
    /// ones, not overtake them. Only one release drains at a time.
    async fn release(&self) {
        {
            let mut outbox = self.outbox.borrow_mut();
            if outbox.releasing || !outbox.holding {
                return;
            }
            outbox.releasing = true;
            tracing::info!(count = outbox.held.len(), "[NATS] a db-service answers again; releasing held commands");
        }
        loop {
            let next = {
                let mut outbox = self.outbox.borrow_mut();
                match outbox.held.pop_front() {
                    Some(command) => command,
                    None => {
                        outbox.holding = false;
                        outbox.releasing = false;
                        return;
                    }
                }
            };
            let result = match &next {
                Command::Request(_) => self.request_now(&next, RELEASE_REQUEST_TIMEOUT).await.map(drop),
                _ => self.publish_now(&next).await,
            };
            if result.as_ref().is_err_and(LinkError::is_no_responders) {
                let mut outbox = self.outbox.borrow_mut();
                outbox.held.push_front(next);
                outbox.releasing = false;
                return;
            }
        }
    }

    async fn publish_now(&self, command: &Command) -> Result<(), LinkError> {
        let subject = command.subject();
        tracing::debug!(%subject, "[NATS] publish");
        self.transport.publish(subject.as_str(), Bytes::from(command.encode())).await?;
        self.unconfirmed.set(self.unconfirmed.get() + 1);
        Ok(())
    }

    async fn request_now(&self, command: &Command, timeout: Duration) -> Result<Reply, LinkError> {
        let subject = command.subject();
        tracing::debug!(%subject, "[NATS] request");
        let reply = self
            .transport
            .request(subject.as_str(), Bytes::from(command.encode()), timeout)
            .await
            .inspect_err(|error| tracing::warn!(%subject, %error, "[NATS] request failed"))?;
        self.confirmed();
        Ok(Reply::decode(subject, &reply.payload)?)
    }

    /// JetStream: an enqueue whose reply does not come is kept and retried
    /// with the same request id, so it is neither lost nor added twice;
    /// later enqueues queue behind it to keep their order.
    async fn enqueue_at_most_once(&self, command: Command, timeout: Duration) -> Result<Reply, LinkError> {
        if !self.retried_enqueues.borrow().is_empty() {
            self.retried_enqueues.borrow_mut().push_back(command);
            return Ok(deferred());
        }
        match self.request_now(&command, timeout).await {
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, "[NATS] enqueue unanswered; retrying it before the next poll");
                self.retried_enqueues.borrow_mut().push_back(command);
                Ok(deferred())
            }
            other => other,
        }
    }

    /// Retries the kept enqueues in order; stops at the first that fails again.
    async fn retry_enqueues(&self, timeout: Duration) {
        loop {
            let Some(next) = self.retried_enqueues.borrow_mut().pop_front() else { return };
            if let Err(error) = self.request_now(&next, timeout).await {
                if error.is_transient() {
                    self.retried_enqueues.borrow_mut().push_front(next);
                    return;
                }
                tracing::warn!(%error, "[NATS] a retried enqueue was refused");
            }
        }
    }

    fn holds(&self) -> bool {
        self.policy == Outbox::Hold
    }
}

impl<T: Transport> DbLink for BusLink<T> {
    fn vitals(&self) -> super::LinkVitals {
        super::LinkVitals { outbox_held: self.outbox_stats().held, stream: self.stream_stats() }
    }

    async fn send(&self, command: Command) -> Result<(), LinkError> {
        if let Some(stream) = &self.stream {
            return stream.send(&self.transport, &command).await;
        }
        if self.holds() && self.outbox.borrow().holding {
            self.hold(command);
            return Ok(());
        }
        self.publish_now(&command).await
    }

    async fn request(&self, command: Command, timeout: Duration) -> Result<Reply, LinkError> {
        if let Some(stream) = &self.stream {
            return match command {
                Command::Request(Request::Enqueue(mut enqueue)) => {
                    enqueue.request_id.get_or_insert_with(|| stream.next_request_id());
                    self.enqueue_at_most_once(Command::Request(Request::Enqueue(enqueue)), timeout).await
                }
                read => {
                    // Callers have waited in `before_read` for the acks of
                    // what precedes the read; the service answers it once it
                    // has applied them.
                    self.retry_enqueues(timeout).await;
                    self.request_now(&read, timeout).await
                }
            };
        }
        let is_enqueue = matches!(command, Command::Request(Request::Enqueue(_)));
        if self.holds() && is_enqueue && self.outbox.borrow().holding {
            self.hold(command);
            return Ok(deferred());
        }
        let result = self.request_now(&command, timeout).await;
        if !self.holds() {
            return result;
        }
        match result {
            Err(error) if error.is_no_responders() && is_enqueue => {
                self.hold(command);
                Ok(deferred())
            }
            Err(error) if error.is_no_responders() => {
                if !self.outbox.borrow().holding {
                    self.outbox.borrow_mut().holding = true;
                    tracing::warn!("[NATS] no db-service is listening; holding commands until one answers");
                }
                Err(error)
            }
            Ok(reply) => {
                self.release().await;
                Ok(reply)
            }
            other => other,
        }
    }

    /// JetStream: a read must not overtake the marks and chat sent before
    /// it, so they are acknowledged (in the stream) before it leaves.
    async fn before_read(&self, timeout: Duration) -> Result<(), LinkError> {
        match &self.stream {
            Some(stream) => stream.settle_all(&self.transport, timeout).await,
            None => Ok(()),
        }
    }
}

/// The reply to an enqueue held in the outbox: no id yet.
fn deferred() -> Reply {
    Reply::Enqueued(EnqueueReply { id: None, error: Some("held until a db-service answers".into()) })
}
