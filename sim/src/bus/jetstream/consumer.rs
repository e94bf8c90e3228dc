//! One durable pull consumer's position in its stream: what was delivered,
//! what waits for an ack and until when, and where the ack floor is.
//!
//! This is the part of a consumer that nats-server persists with a file
//! stream (so it survives a restart); the pull requests waiting for
//! messages belong to connections and live in [`super::JetStream`].

use std::collections::BTreeMap;
use std::time::Duration;

use super::api::{ConsumerConfigJson, ConsumerInfoJson, SequencePairJson, CONSUMER_INFO_RESPONSE};
use super::stream::{Log, Stored};

/// A delivered message that waits for its ack.
#[derive(Debug, Clone, Copy)]
struct Pending {
    consumer_seq: u64,
    delivered: u64,
    /// When it is delivered again if not acked.
    deadline: Duration,
}

/// One delivery the consumer decided to make.
#[derive(Debug, Clone)]
pub(crate) struct Delivery {
    pub(crate) message: Stored,
    pub(crate) consumer_seq: u64,
    pub(crate) delivered: u64,
    /// Messages left to deliver for the first time after this one.
    pub(crate) pending: u64,
}

/// What an ack payload asks for (nats-server's ack kinds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckKind {
    /// `+ACK` or empty: done.
    Ack,
    /// `-NAK`: deliver again now.
    Nak,
    /// `+WPI`: still working, restart the ack timer.
    Progress,
    /// `+TERM`: never deliver again (counted as acked here).
    Term,
}

impl AckKind {
    /// The kind an ack payload names; `None` for anything else (`+NXT`,
    /// `-NAK {"delay":..}` bodies are read as their plain kind).
    pub(crate) fn parse(payload: &[u8]) -> Option<AckKind> {
        match payload {
            b"" | b"+ACK" => Some(AckKind::Ack),
            _ if payload.starts_with(b"-NAK") => Some(AckKind::Nak),
            b"+WPI" => Some(AckKind::Progress),
            _ if payload.starts_with(b"+TERM") => Some(AckKind::Term),
            _ => None,
        }
    }
}

/// A durable consumer's state.
#[derive(Debug, Clone)]
pub(crate) struct Consumer {
    pub(crate) name: String,
    pub(crate) config: ConsumerConfigJson,
    /// Highest stream sequence delivered for the first time.
    delivered_stream: u64,
    /// Consumer sequence of the latest delivery (redeliveries count too).
    delivered_consumer: u64,
    /// By stream sequence: in stream order, so redelivery goes oldest first.
    pending: BTreeMap<u64, Pending>,
}

impl Consumer {
    pub(crate) fn new(name: String, config: ConsumerConfigJson) -> Consumer {
        Consumer { name, config, delivered_stream: 0, delivered_consumer: 0, pending: BTreeMap::new() }
    }

    fn ack_wait(&self) -> Duration {
        Duration::from_nanos(self.config.ack_wait)
    }

    /// Forgets pending messages the stream no longer has (limits dropped them).
    fn forget_missing(&mut self, log: &Log) {
        self.pending.retain(|&seq, _| seq >= log.first_seq);
    }

    /// The next message to send to a waiting pull: the oldest whose ack
    /// timer ran out, else the next new one while fewer than
    /// `max_ack_pending` wait for acks, else none.
    pub(crate) fn next_delivery(&mut self, log: &Log, now: Duration) -> Option<Delivery> {
        self.forget_missing(log);
        let ack_wait = self.ack_wait();
        let expired = self.pending.iter().find(|(_, p)| p.deadline <= now).map(|(&seq, _)| seq);
        let (seq, delivered) = match expired {
            Some(seq) => {
                self.delivered_consumer += 1;
                let entry = self.pending.get_mut(&seq)?;
                entry.delivered += 1;
                entry.consumer_seq = self.delivered_consumer;
                entry.deadline = now + ack_wait;
                (seq, entry.delivered)
            }
            None => {
                let limit = self.config.max_ack_pending;
                if limit > 0 && self.pending.len() as u64 >= limit.unsigned_abs() {
                    return None;
                }
                let seq = (self.delivered_stream + 1).max(log.first_seq);
                log.get(seq)?;
                self.delivered_stream = seq;
                self.delivered_consumer += 1;
                let pending = Pending { consumer_seq: self.delivered_consumer, delivered: 1, deadline: now + ack_wait };
                self.pending.insert(seq, pending);
                (seq, 1)
            }
        };
        let message = log.get(seq)?.clone();
        let pending = self.num_pending(log);
        Some(Delivery { message, consumer_seq: self.delivered_consumer, delivered, pending })
    }

    /// Applies an ack of stream sequence `seq`; false when it was not pending.
    pub(crate) fn ack(&mut self, seq: u64, kind: AckKind, now: Duration) -> bool {
        let ack_wait = self.ack_wait();
        match (kind, self.pending.get_mut(&seq)) {
            (_, None) => false,
            (AckKind::Ack | AckKind::Term, Some(_)) => self.pending.remove(&seq).is_some(),
            (AckKind::Nak, Some(entry)) => {
                entry.deadline = now;
                true
            }
            (AckKind::Progress, Some(entry)) => {
                entry.deadline = now + ack_wait;
                true
            }
        }
    }

    /// The earliest ack timer still running after `now`.
    pub(crate) fn next_deadline(&self, now: Duration) -> Option<Duration> {
        self.pending.values().map(|p| p.deadline).filter(|&d| d > now).min()
    }

    /// Messages not yet delivered once.
    fn num_pending(&self, log: &Log) -> u64 {
        log.count_above(self.delivered_stream)
    }

    /// The stream and consumer sequence below which everything is acked.
    fn ack_floor(&self) -> SequencePairJson {
        match self.pending.first_key_value() {
            None => SequencePairJson { consumer_seq: self.delivered_consumer, stream_seq: self.delivered_stream },
            Some((&seq, _)) => {
                let oldest = self.pending.values().map(|p| p.consumer_seq).min().unwrap_or(1);
                SequencePairJson { consumer_seq: oldest.saturating_sub(1), stream_seq: seq - 1 }
            }
        }
    }

    /// The CONSUMER.INFO answer.
    pub(crate) fn info(&self, stream: &str, log: &Log, num_waiting: u64, kind: &str) -> ConsumerInfoJson {
        ConsumerInfoJson {
            kind: if kind.is_empty() { CONSUMER_INFO_RESPONSE.into() } else { kind.into() },
            stream_name: stream.to_string(),
            name: self.name.clone(),
            config: self.config.clone(),
            delivered: SequencePairJson { consumer_seq: self.delivered_consumer, stream_seq: self.delivered_stream },
            ack_floor: self.ack_floor(),
            num_ack_pending: self.pending.len() as u64,
            num_redelivered: self.pending.values().filter(|p| p.delivered > 1).count() as u64,
            num_waiting,
            num_pending: self.num_pending(log),
        }
    }
}
