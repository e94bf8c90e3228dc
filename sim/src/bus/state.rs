//! What the [`SimTransport`](super::SimTransport) handles and the client's
//! connection task share: the options, the counters, the outgoing queue and
//! the live subscriptions.
//!
//! A leaf module on purpose: the handle (`client`) and the task
//! (`connection`) both build on it, and neither needs the other's internals,
//! so the two never import each other.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use indexmap::IndexMap;
use rosey::transport::BusMessage;
use tokio::sync::{mpsc, oneshot, Notify};

/// Client settings. Defaults suit the sim; each field names async-nats' default.
#[derive(Debug, Clone)]
pub struct SimBusOptions {
    /// The connection's name, also the request inbox prefix
    /// (`_INBOX.<name>.<n>`): unlike async-nats' random inbox prefix it must
    /// be unique among the sim's clients, the price of determinism.
    pub name: String,
    /// How often to PING the bus (async-nats: 60 s).
    pub ping_interval: Duration,
    /// How long a PING may go unanswered before the connection is declared
    /// dead (async-nats: more than 2 pings pending). A partitioned turmoil
    /// stream stalls forever without an error, so this is the only way out.
    pub ping_timeout: Duration,
    /// How long one connect attempt may hang, e.g. under `turmoil::hold` (async-nats: 5 s).
    pub connect_timeout: Duration,
    /// Publishes waiting for the socket, buffered across a disconnect
    /// (async-nats `client_capacity`: 2048). Full and disconnected:
    /// `publish` fails with `Disconnected`; full and connected: it waits.
    pub buffer_capacity: usize,
    /// Messages a subscription holds before the newest are dropped and
    /// counted as a slow consumer (async-nats: 65,536).
    pub subscription_capacity: usize,
    /// Largest payload (nats-server's `max_payload`: 1 MiB); keep it at or
    /// below the bus's, which closes the connection on a larger one.
    pub max_payload: usize,
}

impl Default for SimBusOptions {
    fn default() -> SimBusOptions {
        SimBusOptions {
            name: "sim".into(),
            ping_interval: Duration::from_secs(1),
            ping_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            buffer_capacity: 2048,
            subscription_capacity: 65_536,
            max_payload: 1024 * 1024,
        }
    }
}

/// Counters for tests and invariants; see [`SimTransport::stats`](super::SimTransport::stats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Connections established, the first included.
    pub connects: u64,
    /// Connections established after the first.
    pub reconnects: u64,
    /// Connections lost (closed by the bus, failed, or declared dead).
    pub disconnects: u64,
    /// Of those, declared dead because a PING went unanswered.
    pub ping_timeouts: u64,
    /// Publishes accepted (sent or buffered); requests included.
    pub published: u64,
    /// Publishes refused because the buffer was full while disconnected.
    pub dropped_while_disconnected: u64,
    /// Publishes waiting for a socket right now.
    pub buffered: usize,
    /// Messages handed to subscriptions.
    pub delivered: u64,
    /// Messages dropped because a subscription's buffer was full.
    pub dropped_slow_consumer: u64,
}

/// One item of the outgoing queue.
pub(crate) enum Outgoing {
    /// An encoded PUB: kept across a reconnect until written.
    Publish(Bytes),
    /// An encoded SUB, UNSUB, PING or PONG of the current connection.
    Control(Bytes),
    /// Answered once everything queued before it has been written.
    Flush(oneshot::Sender<()>),
    /// Becomes a PING when written; answered by its PONG.
    RoundTrip(oneshot::Sender<()>),
}

/// A live subscription as the connection sees it.
pub(crate) struct SubEntry {
    pub(crate) subject: String,
    pub(crate) queue: Option<String>,
    pub(crate) sender: mpsc::Sender<Delivery>,
    /// Inside a run of dropped messages: warn once per run, not per message.
    pub(crate) slow: bool,
}

/// A message for a subscription, and whether it is the bus's no-responders
/// answer or carries another status (408: a JetStream pull request expired).
pub(crate) struct Delivery {
    pub(crate) message: BusMessage,
    pub(crate) no_responders: bool,
    pub(crate) status: Option<u16>,
}

/// What the handles and the connection task share.
pub(crate) struct ClientShared {
    pub(crate) addr: String,
    /// The name made safe for inbox subjects.
    pub(crate) inbox_prefix: String,
    pub(crate) options: SimBusOptions,
    pub(crate) state: Mutex<ClientState>,
    /// Wakes the writer when something is queued.
    pub(crate) output: Arc<Notify>,
    /// Wakes publishers waiting for buffer room, on every dequeue and state change.
    pub(crate) room: Notify,
    /// The connection task, aborted when the last handle goes.
    pub(crate) task: Mutex<Option<tokio::task::AbortHandle>>,
}

/// Mutable client state, behind [`ClientShared::state`].
#[derive(Default)]
pub(crate) struct ClientState {
    pub(crate) connected: bool,
    /// Bumped per connection, so tasks of an older one stand down.
    pub(crate) generation: u64,
    pub(crate) queue: VecDeque<Outgoing>,
    /// How many `Publish` items `queue` holds.
    pub(crate) queued_publishes: usize,
    /// Live subscriptions by sid, in subscription order (the re-subscribe order).
    pub(crate) subs: IndexMap<u64, SubEntry>,
    pub(crate) next_sid: u64,
    pub(crate) next_inbox: u64,
    pub(crate) next_token: u64,
    /// Round trips whose PING went out on the current connection, by token.
    pub(crate) round_trips: BTreeMap<u64, oneshot::Sender<()>>,
    pub(crate) stats: ClientStats,
}

impl ClientShared {
    /// Fresh state for a client of `addr`: disconnected, nothing queued, no task yet.
    pub(crate) fn new(addr: &str, options: SimBusOptions) -> ClientShared {
        ClientShared {
            addr: addr.to_string(),
            inbox_prefix: inbox_prefix(&options.name),
            options,
            state: Mutex::new(ClientState::default()),
            output: Arc::new(Notify::new()),
            room: Notify::new(),
            task: Mutex::new(None),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().expect("sim bus client lock")
    }

    /// Queues an item and wakes the writer.
    pub(crate) fn push(&self, state: &mut ClientState, item: Outgoing) {
        if matches!(item, Outgoing::Publish(_)) {
            state.queued_publishes += 1;
        }
        state.queue.push_back(item);
        // notify_waiters, not notify_one: a writer of a dead connection may
        // still be registered until its abort lands, and must not take the
        // wake-up meant for the new one. The writer registers before it
        // looks at the queue, so no push is missed.
        self.output.notify_waiters();
    }
}

impl Drop for ClientShared {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut task| task.take()) {
            task.abort();
        }
    }
}

/// The name's first 64 chars, anything but `[A-Za-z0-9-]` replaced by `_`,
/// so that request inboxes are always valid subjects.
fn inbox_prefix(name: &str) -> String {
    let safe = |c: char| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' };
    let prefix: String = name.chars().take(64).map(safe).collect();
    if prefix.is_empty() {
        "sim".into()
    } else {
        prefix
    }
}
