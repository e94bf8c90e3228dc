//! Two lanes between the bus and the store, so a poll never waits behind chat.
//!
//! An `outbound.get` reads the outbound queue and nothing else: its answer
//! depends on the enqueues and marks (sent, failed) received before it and
//! on the time the request itself carries. Chat, joins, counts and status
//! write other tables and never read `outbound_messages`, so every one of
//! them commutes with every outbound command. The core service therefore
//! moves whatever has arrived into two queues, the **outbound lane** (every
//! `rosey.db.messages.outbound.*` subject, and the service's own counters
//! request) and the **event lane** (everything else, `recent_chat.get`
//! included: it reads chat), and always serves the outbound lane first. Each
//! lane keeps its arrival order, and arrival order within a lane is the only
//! order that can change a result (contract section 5).
//!
//! Under a flood the event lane is the backlog. It is bounded: past
//! `max_backlog` an arriving event is dropped, counted by subject and logged
//! (once when dropping starts, once with the total when it stops), which is
//! what core NATS itself does to a slow consumer, only visibly. The outbound
//! lane has its own bound, so a flood of events can never push out a poll.

use std::collections::{BTreeMap, VecDeque};

use crate::contract::{OUTBOUND_PREFIX, SERVICE_STATS};
use crate::metrics::{BySubject, SubjectLabel};
use crate::transport::{BusMessage, Subscription};

/// The default bound of the event lane: about 30 MB of chat at most, a few
/// tenths of a second of a flood at full speed.
pub const DEFAULT_MAX_BACKLOG: usize = 100_000;

/// The bound of the outbound lane: far beyond what any number of bots polls.
const MAX_OUTBOUND: usize = 10_000;

/// The most messages one [`Lanes::take_waiting`] moves: keeps a drain under
/// a full-speed inflow from running on without serving anything.
const MAX_TAKE: usize = 65_536;

/// Which lane a subject is served on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    Outbound,
    Events,
}

impl Lane {
    pub(super) fn of(subject: &str) -> Lane {
        if subject.starts_with(OUTBOUND_PREFIX) || subject == SERVICE_STATS {
            Lane::Outbound
        } else {
            Lane::Events
        }
    }
}

/// The two queues, their bounds and what they dropped.
#[derive(Debug)]
pub(super) struct Lanes {
    /// `false`: one queue in arrival order for everything, as v0.5.0 served.
    split: bool,
    outbound: VecDeque<BusMessage>,
    events: VecDeque<BusMessage>,
    max_backlog: usize,
    /// Messages dropped because their lane was full, by subject.
    pub(super) dropped: BTreeMap<String, u64>,
    /// The most events that waited at once.
    pub(super) backlog_peak: usize,
    /// Drops since the lane last had room: logged when it has room again.
    dropping: u64,
    /// Where drops are counted for `/metrics`, too.
    drop_counter: Option<BySubject>,
}

impl Lanes {
    /// Two lanes when `split`, otherwise one (everything on the event lane).
    pub(super) fn new(max_backlog: usize, split: bool) -> Lanes {
        Lanes {
            split,
            outbound: VecDeque::new(),
            events: VecDeque::new(),
            max_backlog: max_backlog.max(1),
            dropped: BTreeMap::new(),
            backlog_peak: 0,
            dropping: 0,
            drop_counter: None,
        }
    }

    /// Counts every drop in `counter` as well.
    pub(super) fn count_drops_into(&mut self, counter: BySubject) {
        self.drop_counter = Some(counter);
    }

    /// Queues `message` on its lane, or drops it (counted, logged) when that lane is full.
    pub(super) fn push(&mut self, message: BusMessage) {
        let lane = if self.split { Lane::of(&message.subject) } else { Lane::Events };
        let (queue, bound) = match lane {
            Lane::Outbound => (&mut self.outbound, MAX_OUTBOUND),
            Lane::Events => (&mut self.events, self.max_backlog),
        };
        if queue.len() >= bound {
            if self.dropping == 0 {
                tracing::warn!(
                    bound,
                    "[NATS] slow consumer: {bound} commands wait to be applied; \
                     dropping what arrives until the backlog drains (counted by subject)"
                );
            }
            self.dropping += 1;
            if let Some(counter) = &self.drop_counter {
                counter.get_or_create(&SubjectLabel::new(&message.subject)).inc();
            }
            *self.dropped.entry(message.subject).or_default() += 1;
            return;
        }
        queue.push_back(message);
        self.backlog_peak = self.backlog_peak.max(self.events.len());
    }

    /// Moves what has already arrived on `subscription` into the lanes, so an
    /// outbound command behind a backlog of events is seen now.
    pub(super) fn take_waiting(&mut self, subscription: &mut impl Subscription) {
        for _ in 0..MAX_TAKE {
            let Some(message) = subscription.try_next() else { break };
            self.push(message);
        }
    }

    /// The next outbound command; the outbound lane always goes first.
    pub(super) fn next_outbound(&mut self) -> Option<BusMessage> {
        self.outbound.pop_front()
    }

    /// The next event, in arrival order.
    pub(super) fn next_event(&mut self) -> Option<BusMessage> {
        let message = self.events.pop_front();
        if self.dropping > 0 && self.events.len() < self.max_backlog {
            tracing::warn!(
                dropped = self.dropping,
                total = self.dropped_total(),
                "[NATS] the backlog has room again; commands dropped while it was full are lost"
            );
            self.dropping = 0;
        }
        message
    }

    pub(super) fn is_empty(&self) -> bool {
        self.outbound.is_empty() && self.events.is_empty()
    }

    /// Events waiting now.
    pub(super) fn backlog(&self) -> usize {
        self.events.len()
    }

    pub(super) fn dropped_total(&self) -> u64 {
        self.dropped.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Subject;

    fn message(subject: &str) -> BusMessage {
        BusMessage { subject: subject.into(), reply: None, payload: bytes::Bytes::new() }
    }

    #[test]
    fn outbound_commands_and_the_counters_take_the_outbound_lane() {
        for subject in Subject::ALL {
            let want = if subject.is_outbound() { Lane::Outbound } else { Lane::Events };
            assert_eq!(Lane::of(subject.as_str()), want, "{subject}");
        }
        assert_eq!(Lane::of(SERVICE_STATS), Lane::Outbound);
        assert_eq!(Lane::of("rosey.db.stats.recent_chat.get"), Lane::Events, "reads chat");
        assert_eq!(Lane::of("rosey.db.nonsense"), Lane::Events);
    }

    #[test]
    fn each_lane_keeps_arrival_order_and_outbound_goes_first() {
        let mut lanes = Lanes::new(10, true);
        for subject in [
            Subject::MessageLog,
            Subject::OutboundMarkSent,
            Subject::UserLeft,
            Subject::OutboundGet,
            Subject::RecentChatGet,
        ] {
            lanes.push(message(subject.as_str()));
        }
        let outbound: Vec<String> = std::iter::from_fn(|| lanes.next_outbound()).map(|m| m.subject).collect();
        let events: Vec<String> = std::iter::from_fn(|| lanes.next_event()).map(|m| m.subject).collect();
        assert_eq!(outbound, [Subject::OutboundMarkSent.as_str(), Subject::OutboundGet.as_str()]);
        assert_eq!(events, [Subject::MessageLog.as_str(), Subject::UserLeft.as_str(), Subject::RecentChatGet.as_str()]);
        assert!(lanes.is_empty());
    }

    #[test]
    fn unsplit_lanes_serve_everything_in_arrival_order_as_v05() {
        let mut lanes = Lanes::new(10, false);
        lanes.push(message(Subject::MessageLog.as_str()));
        lanes.push(message(Subject::OutboundGet.as_str()));
        assert!(lanes.next_outbound().is_none());
        let events: Vec<String> = std::iter::from_fn(|| lanes.next_event()).map(|m| m.subject).collect();
        assert_eq!(events, [Subject::MessageLog.as_str(), Subject::OutboundGet.as_str()]);
    }

    #[test]
    fn a_full_event_lane_drops_and_counts_but_still_takes_polls() {
        let mut lanes = Lanes::new(2, true);
        for _ in 0..5 {
            lanes.push(message(Subject::MessageLog.as_str()));
        }
        lanes.push(message(Subject::OutboundGet.as_str()));
        assert_eq!(lanes.backlog(), 2);
        assert_eq!(lanes.backlog_peak, 2);
        assert_eq!(lanes.dropped.get(Subject::MessageLog.as_str()), Some(&3));
        assert_eq!(lanes.dropped_total(), 3);
        assert!(lanes.next_outbound().is_some(), "the poll was not pushed out");
        assert!(lanes.next_event().is_some());
        assert_eq!(lanes.dropping, 0, "room again: the episode is logged and closed");
        lanes.push(message(Subject::UserJoined.as_str()));
        assert_eq!(lanes.dropped_total(), 3, "nothing more dropped once there is room");
    }
}
