//! One stream: its messages in sequence order, the limits that drop from the
//! front, and the duplicate window that drops a republished `Nats-Msg-Id`.
//!
//! Times are simulated time since the start of the run (continuous across
//! restarts of the bus host), so a file stream's window and ages keep
//! running while the bus is down, as a real server's wall clock would.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use super::api::{StreamConfigJson, StreamStateJson, DEFAULT_DUPLICATE_WINDOW};
use super::consumer::Consumer;
use super::PubHeaders;

/// One stored message.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) seq: u64,
    pub(crate) subject: String,
    pub(crate) msg_id: Option<String>,
    pub(crate) payload: Bytes,
    pub(crate) at: Duration,
}

impl Stored {
    /// What the message counts against `max_bytes`: subject, id and payload
    /// (nats-server adds a per-message overhead; the bus does not).
    fn size(&self) -> u64 {
        let id = self.msg_id.as_ref().map_or(0, String::len);
        (self.subject.len() + id + self.payload.len()) as u64
    }
}

/// The messages, with contiguous sequences from `first_seq` (the bus never
/// deletes from the middle).
#[derive(Debug, Default)]
pub(crate) struct Log {
    messages: VecDeque<Stored>,
    /// 0 while nothing was ever stored; `last_seq + 1` once all were dropped.
    pub(crate) first_seq: u64,
    pub(crate) last_seq: u64,
    bytes: u64,
}

impl Log {
    pub(crate) fn get(&self, seq: u64) -> Option<&Stored> {
        let index = seq.checked_sub(self.first_seq)?;
        self.messages.get(usize::try_from(index).ok()?)
    }

    /// The first message at or after `seq` whose subject matches `filter`.
    pub(crate) fn first_matching(&self, seq: u64, filter: &str) -> Option<&Stored> {
        let skip = usize::try_from(seq.saturating_sub(self.first_seq)).unwrap_or(usize::MAX);
        self.messages.iter().skip(skip).find(|stored| crate::bus::subject::matches(filter, &stored.subject))
    }

    /// Messages stored above `seq`.
    pub(crate) fn count_above(&self, seq: u64) -> u64 {
        if self.messages.is_empty() {
            return 0;
        }
        self.last_seq - seq.max(self.first_seq - 1).min(self.last_seq)
    }

    fn push(&mut self, subject: String, msg_id: Option<String>, payload: Bytes, at: Duration) -> u64 {
        self.last_seq += 1;
        let stored = Stored { seq: self.last_seq, subject, msg_id, payload, at };
        if self.messages.is_empty() {
            self.first_seq = stored.seq;
        }
        self.bytes += stored.size();
        self.messages.push_back(stored);
        self.last_seq
    }

    fn pop_front(&mut self) {
        if let Some(gone) = self.messages.pop_front() {
            self.bytes -= gone.size();
            self.first_seq = gone.seq + 1;
        }
    }
}

/// Which ids the stream has seen inside its duplicate window, oldest first.
#[derive(Debug, Default)]
struct Dedup {
    seqs: BTreeMap<String, u64>,
    order: VecDeque<(Duration, String)>,
}

impl Dedup {
    fn forget_before(&mut self, cutoff: Duration) {
        while self.order.front().is_some_and(|(at, _)| *at < cutoff) {
            if let Some((_, id)) = self.order.pop_front() {
                self.seqs.remove(&id);
            }
        }
    }
}

/// The result of storing one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Captured {
    pub(crate) seq: u64,
    pub(crate) duplicate: bool,
}

/// A stream and its consumers.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) config: StreamConfigJson,
    pub(crate) log: Log,
    dedup: Dedup,
    pub(crate) consumers: BTreeMap<String, Consumer>,
    /// The id of the last message stored (`None` for one without an id).
    last_msg_id: Option<String>,
}

impl Stream {
    pub(crate) fn new(config: StreamConfigJson) -> Stream {
        Stream { config, log: Log::default(), dedup: Dedup::default(), consumers: BTreeMap::new(), last_msg_id: None }
    }

    /// Fills in nats-server's defaults: the duplicate window (2 min, or
    /// max_age when that is shorter) and -1 for "no limit".
    pub(crate) fn normalize(mut config: StreamConfigJson) -> StreamConfigJson {
        if config.duplicate_window == 0 {
            let default = super::api::nanos(DEFAULT_DUPLICATE_WINDOW);
            config.duplicate_window = if config.max_age > 0 { default.min(config.max_age) } else { default };
        }
        for limit in [&mut config.max_msgs, &mut config.max_bytes] {
            if *limit <= 0 {
                *limit = -1;
            }
        }
        config
    }

    pub(crate) fn state(&self) -> StreamStateJson {
        StreamStateJson {
            messages: self.log.messages.len() as u64,
            bytes: self.log.bytes,
            first_seq: self.log.first_seq,
            last_seq: self.log.last_seq,
            consumer_count: self.consumers.len() as u64,
        }
    }

    /// Stores a publish unless its id was seen inside the window (checked
    /// first, as nats-server does) or it expects another last message id
    /// than the stream's (`Err` with the stream's last id; nothing stored).
    pub(crate) fn capture(
        &mut self,
        subject: &str,
        headers: PubHeaders<'_>,
        payload: Bytes,
        now: Duration,
    ) -> Result<Captured, Option<String>> {
        let msg_id = headers.msg_id;
        let window = Duration::from_nanos(self.config.duplicate_window);
        self.dedup.forget_before(now.saturating_sub(window));
        if let Some(&seq) = msg_id.and_then(|id| self.dedup.seqs.get(id)) {
            return Ok(Captured { seq, duplicate: true });
        }
        if let Some(expected) = headers.expected_last_msg_id {
            if self.last_msg_id.as_deref() != Some(expected) {
                return Err(self.last_msg_id.clone());
            }
        }
        self.last_msg_id = msg_id.map(str::to_string);
        let seq = self.log.push(subject.to_string(), msg_id.map(str::to_string), payload, now);
        if let Some(id) = msg_id {
            self.dedup.seqs.insert(id.to_string(), seq);
            self.dedup.order.push_back((now, id.to_string()));
        }
        self.enforce_limits(now);
        Ok(Captured { seq, duplicate: false })
    }

    /// Drops from the front until every limit holds (discard policy "old").
    pub(crate) fn enforce_limits(&mut self, now: Duration) {
        let over = |limit: i64, value: u64| limit > 0 && value > limit.unsigned_abs();
        while over(self.config.max_msgs, self.log.messages.len() as u64) || over(self.config.max_bytes, self.log.bytes)
        {
            self.log.pop_front();
        }
        if self.config.max_age > 0 {
            let max_age = Duration::from_nanos(self.config.max_age);
            while self.log.messages.front().is_some_and(|oldest| oldest.at + max_age <= now) {
                self.log.pop_front();
            }
        }
    }

    /// When the oldest message ages out, if `max_age` is set.
    pub(crate) fn next_expiry(&self) -> Option<Duration> {
        let oldest = self.log.messages.front()?;
        (self.config.max_age > 0).then(|| oldest.at + Duration::from_nanos(self.config.max_age))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rosey::transport::StreamStorage;

    fn stream(max_msgs: i64, window_s: u64) -> Stream {
        Stream::new(Stream::normalize(StreamConfigJson {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            storage: StreamStorage::Memory,
            duplicate_window: window_s * 1_000_000_000,
            max_age: 0,
            max_bytes: -1,
            max_msgs,
        }))
    }

    const T0: Duration = Duration::from_secs(1);

    fn id(msg_id: &str) -> PubHeaders<'_> {
        PubHeaders { msg_id: Some(msg_id), expected_last_msg_id: None }
    }

    #[test]
    fn an_expected_last_id_other_than_the_streams_is_refused_and_not_stored() {
        let mut s = stream(-1, 10);
        let after = |msg_id, last| PubHeaders { msg_id: Some(msg_id), expected_last_msg_id: Some(last) };
        assert!(s.capture("s.a", id("a"), Bytes::new(), T0).is_ok());
        assert_eq!(s.capture("s.a", after("c", "b"), Bytes::new(), T0), Err(Some("a".into())));
        assert_eq!(s.capture("s.a", after("b", "a"), Bytes::new(), T0), Ok(Captured { seq: 2, duplicate: false }));
        // A duplicate is acked as one whatever it expects (checked first, as nats-server does).
        assert_eq!(s.capture("s.a", after("a", "zzz"), Bytes::new(), T0), Ok(Captured { seq: 1, duplicate: true }));
        assert_eq!(s.capture("s.a", after("c", "b"), Bytes::new(), T0), Ok(Captured { seq: 3, duplicate: false }));
        assert_eq!(s.state().messages, 3);
    }

    #[test]
    fn an_id_inside_the_window_is_a_duplicate_and_after_it_is_new() {
        let mut s = stream(-1, 10);
        assert_eq!(s.capture("s.a", id("x"), Bytes::new(), T0), Ok(Captured { seq: 1, duplicate: false }));
        assert_eq!(
            s.capture("s.a", id("x"), Bytes::new(), T0 + Duration::from_secs(9)),
            Ok(Captured { seq: 1, duplicate: true })
        );
        assert_eq!(
            s.capture("s.a", PubHeaders::default(), Bytes::new(), T0),
            Ok(Captured { seq: 2, duplicate: false })
        );
        assert_eq!(
            s.capture("s.a", id("x"), Bytes::new(), T0 + Duration::from_secs(11)),
            Ok(Captured { seq: 3, duplicate: false })
        );
        assert_eq!(s.state().messages, 3);
    }

    #[test]
    fn max_msgs_drops_from_the_front() {
        let mut s = stream(2, 10);
        for _ in 0..5 {
            s.capture("s.a", PubHeaders::default(), Bytes::from_static(b"p"), T0).expect("stored");
        }
        let state = s.state();
        assert_eq!((state.messages, state.first_seq, state.last_seq), (2, 4, 5));
        assert!(s.log.get(3).is_none());
        assert_eq!(s.log.get(4).map(|m| m.seq), Some(4));
        assert_eq!(s.log.count_above(0), 2);
        assert_eq!(s.log.count_above(4), 1);
    }

    #[test]
    fn max_age_ages_messages_out() {
        let mut s = stream(-1, 1);
        s.config.max_age = 5_000_000_000;
        s.capture("s.a", PubHeaders::default(), Bytes::new(), T0).expect("stored");
        s.capture("s.a", PubHeaders::default(), Bytes::new(), T0 + Duration::from_secs(3)).expect("stored");
        s.enforce_limits(T0 + Duration::from_secs(6));
        let state = s.state();
        assert_eq!((state.messages, state.first_seq), (1, 2));
        assert_eq!(s.next_expiry(), Some(T0 + Duration::from_secs(8)));
    }
}
