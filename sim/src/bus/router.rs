//! The bus's routing state: who is connected, who subscribes to what, and
//! which queue-group member gets the next message.
//!
//! Only ordered collections are iterated (IndexMap in insertion order,
//! BTreeMap), so one sequence of frames always routes the same way.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use indexmap::IndexMap;
use tokio::sync::{mpsc, Notify};

use super::frame::Frame;
use super::jetstream::{JetStream, Outbound};
use super::subject::{matches, validate_publish, validate_queue, validate_subscribe};

/// Where the router queues frames for one connection, and how it stops one.
pub(crate) struct ConnectionOutput {
    frames: mpsc::UnboundedSender<Bytes>,
    /// Bytes queued but not yet written, for the slow-consumer limit; the
    /// connection's writer subtracts what it writes.
    pub(crate) pending: Arc<AtomicUsize>,
    /// Ends the connection's reader; the reason is left in `closing`.
    pub(crate) stop: Arc<Notify>,
    /// Set once the connection is being dropped: nothing more is queued.
    closing: Option<String>,
    max_pending: usize,
}

impl ConnectionOutput {
    /// The router's end for one connection, and the queue its writer drains.
    pub(crate) fn new(max_pending: usize) -> (ConnectionOutput, mpsc::UnboundedReceiver<Bytes>) {
        let (frames, queue) = mpsc::unbounded_channel();
        let output = ConnectionOutput {
            frames,
            pending: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(Notify::new()),
            closing: None,
            max_pending,
        };
        (output, queue)
    }

    /// Queues one frame, or closes the connection as a slow consumer when
    /// its backlog would pass `max_pending` (nats-server does the same).
    fn send(&mut self, frame: &Frame) {
        if self.closing.is_some() {
            return;
        }
        let bytes = frame.to_bytes();
        let pending = self.pending.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len();
        if pending > self.max_pending {
            self.closing = Some(format!("slow consumer: {pending} bytes waiting for the socket"));
            self.stop.notify_one();
            return;
        }
        // Fails only once the writer has ended with the connection, when the
        // frame has nowhere to go anyway.
        let _ = self.frames.send(bytes);
    }
}

/// One subscription, keyed by (connection, sid) in [`Router`].
struct Sub {
    subject: String,
    queue: Option<String>,
}

/// All routing state of one bus incarnation.
#[derive(Default)]
pub(crate) struct Router {
    next_id: u64,
    connections: IndexMap<u64, ConnectionOutput>,
    /// In subscription order, which fixes delivery order and queue-group
    /// member order.
    subscriptions: IndexMap<(u64, u64), Sub>,
    /// Per queue-group name, how many messages the group has been given:
    /// the next goes to member `cursor % members`. nats-server picks a
    /// member at random instead; round-robin keeps runs reproducible and
    /// spreads load evenly, which random choice only does on average.
    cursors: BTreeMap<String, usize>,
    /// Present when the bus runs with JetStream (`nats-server -js`).
    jetstream: Option<JetStream>,
    /// Wakes the JetStream timer task after anything that may move its next deadline.
    pub(crate) jetstream_wake: Arc<Notify>,
}

impl Router {
    /// A router, with JetStream when `jetstream` is given.
    pub(crate) fn new(jetstream: Option<JetStream>) -> Router {
        Router { jetstream, ..Router::default() }
    }

    /// Registers a connection and returns its id.
    pub(crate) fn add_connection(&mut self, output: ConnectionOutput) -> u64 {
        self.next_id += 1;
        self.connections.insert(self.next_id, output);
        self.next_id
    }

    /// Forgets a connection and its subscriptions; returns why the router
    /// closed it, if it did.
    pub(crate) fn remove_connection(&mut self, id: u64) -> Option<String> {
        self.subscriptions.retain(|&(conn, _), _| conn != id);
        if let Some(jetstream) = &mut self.jetstream {
            jetstream.drop_connection(id);
        }
        self.connections.shift_remove(&id).and_then(|output| output.closing)
    }

    /// Queues a frame for one connection.
    pub(crate) fn send_to(&mut self, id: u64, frame: &Frame) {
        if let Some(output) = self.connections.get_mut(&id) {
            output.send(frame);
        }
    }

    /// Adds (or replaces) subscription `sid` of connection `id`. An invalid
    /// subject is logged and ignored: nats-server answers `-ERR` and keeps
    /// the connection, and the sim client never sends one.
    pub(crate) fn subscribe(&mut self, id: u64, sid: u64, subject: String, queue: Option<String>) {
        let valid = validate_subscribe(&subject).and_then(|()| queue.as_deref().map_or(Ok(()), validate_queue));
        if let Err(error) = valid {
            tracing::warn!(id, sid, %error, "[BUS] subscription refused");
            return;
        }
        self.subscriptions.insert((id, sid), Sub { subject, queue });
    }

    pub(crate) fn unsubscribe(&mut self, id: u64, sid: u64) {
        self.subscriptions.shift_remove(&(id, sid));
        if let Some(jetstream) = &mut self.jetstream {
            let subscriptions = &self.subscriptions;
            jetstream
                .drop_pulls_without_interest(|inbox| subscriptions.values().any(|sub| matches(&sub.subject, inbox)));
        }
    }

    /// Routes one message from connection `from`: a copy to every plain
    /// subscription that matches, one to a single member of each matching
    /// queue group; or, when nothing matches and there is a reply subject,
    /// a no-responders answer to the publisher's own subscription on it
    /// (what nats-server >= 2.2 does for clients that ask, as async-nats does).
    ///
    /// With JetStream, the publish is first offered to it (API request, ack,
    /// or capture by a stream); whatever JetStream answers is routed too,
    /// and a publish it took gets no no-responders answer.
    pub(crate) fn publish(
        &mut self,
        from: u64,
        subject: &str,
        reply: Option<&str>,
        headers: super::jetstream::PubHeaders<'_>,
        payload: Bytes,
    ) {
        let msg_id = headers.msg_id;
        if let Err(error) = validate_publish(subject).and_then(|()| reply.map_or(Ok(()), validate_publish)) {
            tracing::warn!(id = from, %error, "[BUS] publish refused");
            return;
        }
        let answers = match &mut self.jetstream {
            Some(jetstream) => {
                jetstream.on_publish(from, subject, reply, headers, &payload, super::jetstream::sim_now())
            }
            None => None,
        };
        let message = Outbound {
            to: subject.to_string(),
            subject: subject.to_string(),
            reply: reply.map(str::to_string),
            msg_id: msg_id.map(str::to_string),
            status: None,
            payload,
        };
        let delivered = self.route(message);
        match answers {
            Some(answers) => {
                self.route_all(answers);
                self.jetstream_wake.notify_one();
            }
            None if !delivered => {
                if let Some(reply) = reply {
                    self.no_responders(from, reply);
                }
            }
            None => {}
        }
    }

    /// Runs JetStream's timers (see [`JetStream::tick`]); returns when to
    /// run them next, or `None` without JetStream.
    pub(crate) fn jetstream_tick(&mut self) -> Option<Option<std::time::Duration>> {
        let (answers, next) = self.jetstream.as_mut()?.tick(super::jetstream::sim_now());
        self.route_all(answers);
        Some(next)
    }

    fn route_all(&mut self, messages: Vec<Outbound>) {
        for message in messages {
            self.route(message);
        }
    }

    /// Queues `message` for every subscription of `message.to` (one member
    /// per queue group); false when nobody subscribes.
    fn route(&mut self, message: Outbound) -> bool {
        let mut targets = Vec::new();
        let mut groups: IndexMap<&str, Vec<(u64, u64)>> = IndexMap::new();
        for (&key, sub) in &self.subscriptions {
            if matches(&sub.subject, &message.to) {
                match &sub.queue {
                    None => targets.push(key),
                    Some(queue) => groups.entry(queue.as_str()).or_default().push(key),
                }
            }
        }
        for (queue, members) in groups {
            let cursor = self.cursors.entry(queue.to_string()).or_default();
            targets.push(members[*cursor % members.len()]);
            *cursor = cursor.wrapping_add(1);
        }
        for &(conn, sid) in &targets {
            let frame = Frame::Msg {
                sid,
                subject: message.subject.clone(),
                reply: message.reply.clone(),
                msg_id: message.msg_id.clone(),
                status: message.status,
                payload: message.payload.clone(),
                no_responders: false,
            };
            self.send_to(conn, &frame);
        }
        !targets.is_empty()
    }

    fn no_responders(&mut self, from: u64, reply: &str) {
        let inbox = self.subscriptions.iter().find(|(&(conn, _), sub)| conn == from && matches(&sub.subject, reply));
        if let Some((&(_, sid), _)) = inbox {
            let frame = Frame::Msg {
                sid,
                subject: reply.to_string(),
                reply: None,
                msg_id: None,
                status: None,
                payload: Bytes::new(),
                no_responders: true,
            };
            self.send_to(from, &frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::jetstream::PubHeaders;

    fn connect(router: &mut Router) -> (u64, mpsc::UnboundedReceiver<Bytes>) {
        let (output, queue) = ConnectionOutput::new(usize::MAX);
        (router.add_connection(output), queue)
    }

    /// The (sid, payload, no_responders) of every MSG queued so far.
    fn drain(queue: &mut mpsc::UnboundedReceiver<Bytes>) -> Vec<(u64, Bytes, bool)> {
        let mut out = Vec::new();
        while let Ok(bytes) = queue.try_recv() {
            match Frame::decode(&mut bytes.as_ref().into()).unwrap().unwrap() {
                Frame::Msg { sid, payload, no_responders, .. } => out.push((sid, payload, no_responders)),
                other => panic!("unexpected {other:?}"),
            }
        }
        out
    }

    #[test]
    fn queue_group_members_take_turns_and_plain_subscribers_get_every_copy() {
        let mut router = Router::default();
        let (a, mut qa) = connect(&mut router);
        let (b, mut qb) = connect(&mut router);
        router.subscribe(a, 1, "job.*".into(), Some("workers".into()));
        router.subscribe(b, 1, "job.>".into(), Some("workers".into()));
        router.subscribe(b, 2, "job.run".into(), None);
        for n in 0..4u8 {
            router.publish(a, "job.run", None, PubHeaders::default(), Bytes::from(vec![n]));
        }
        assert_eq!(drain(&mut qa).iter().map(|m| m.1[0]).collect::<Vec<_>>(), [0, 2]);
        let at_b = drain(&mut qb);
        assert_eq!(at_b.iter().filter(|m| m.0 == 1).map(|m| m.1[0]).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(at_b.iter().filter(|m| m.0 == 2).count(), 4);
    }

    #[test]
    fn no_responders_goes_only_to_the_publishers_inbox() {
        let mut router = Router::default();
        let (a, mut qa) = connect(&mut router);
        let (b, mut qb) = connect(&mut router);
        router.subscribe(a, 9, "_INBOX.a.*".into(), None);
        router.subscribe(b, 9, "_INBOX.>".into(), None);
        router.publish(a, "nobody.here", Some("_INBOX.a.1"), PubHeaders::default(), Bytes::from_static(b"q"));
        assert_eq!(drain(&mut qa), [(9, Bytes::new(), true)]);
        assert!(drain(&mut qb).is_empty());
    }

    #[test]
    fn a_closed_connection_takes_its_subscriptions_along() {
        let mut router = Router::default();
        let (a, _qa) = connect(&mut router);
        let (b, mut qb) = connect(&mut router);
        router.subscribe(a, 1, "x".into(), Some("g".into()));
        router.subscribe(b, 1, "x".into(), Some("g".into()));
        assert_eq!(router.remove_connection(a), None);
        router.publish(b, "x", None, PubHeaders::default(), Bytes::from_static(b"1"));
        router.publish(b, "x", None, PubHeaders::default(), Bytes::from_static(b"2"));
        assert_eq!(drain(&mut qb).len(), 2);
    }
}
