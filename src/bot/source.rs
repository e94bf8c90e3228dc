//! Where the runner's chat events come from: a fixture in virtual time, or a
//! live connection in real time.
//!
//! Both sources feed the same loop, so every handler, timer and the outbound
//! poll behave the same in a replay and in a channel. A source is asked for
//! the next event due at or before a virtual instant (the next timer tick);
//! when nothing is due by then it returns `None` and the tick runs. Its
//! `next_until` must be cancel-safe: the runner drops it when an outbound
//! poll answers first, and asks again.

use std::future::Future;

use super::timeline::Timeline;
use crate::fixture::{Fixture, Skip, TimedEvent};

/// What a source produced.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceItem {
    /// An event, at its virtual ms.
    Event(TimedEvent),
    /// A malformed event, skipped and counted, at its virtual ms.
    Skip { at_ms: i64, skip: Skip },
    /// The source is over (a live connection failed for good): the bot shuts
    /// down. `error` says why, for the exit code.
    Ended { error: Option<String> },
}

/// A chat source for the [`Runner`](super::Runner).
pub trait ChatSource {
    /// Bad lines known before the run starts, with the virtual ms they are
    /// placed at (a fixture's skips, in file order).
    fn upfront_skips(&mut self) -> Vec<(i64, Skip)> {
        Vec::new()
    }

    /// Where the run ends, in virtual ms; `None` runs until stopped.
    fn end_ms(&self) -> Option<i64>;

    /// The next item due at or before virtual ms `deadline`, waiting on
    /// `timeline` for it; `None` once `deadline` is reached with nothing due.
    fn next_until<T: Timeline>(&mut self, timeline: &mut T, deadline: i64) -> impl Future<Output = Option<SourceItem>>;
}

/// A fixture's events in virtual time.
#[derive(Debug)]
pub struct FixtureSource<'f> {
    fixture: &'f Fixture,
    next: usize,
}

impl<'f> FixtureSource<'f> {
    pub fn new(fixture: &'f Fixture) -> FixtureSource<'f> {
        FixtureSource { fixture, next: 0 }
    }
}

impl ChatSource for FixtureSource<'_> {
    fn upfront_skips(&mut self) -> Vec<(i64, Skip)> {
        // A skipped line's place in time is the at_ms of the last handled event
        // before it. Skips are in file order, so one cursor serves them all.
        let events = &self.fixture.events;
        let (mut cursor, mut skip_at) = (0, 0);
        let mut placed = Vec::with_capacity(self.fixture.skipped.len());
        for skip in &self.fixture.skipped {
            while let Some(event) = events.get(cursor).filter(|e| e.line < skip.line) {
                skip_at = event.at_ms;
                cursor += 1;
            }
            placed.push((skip_at, skip.clone()));
        }
        placed
    }

    fn end_ms(&self) -> Option<i64> {
        Some(self.fixture.end_ms())
    }

    async fn next_until<T: Timeline>(&mut self, timeline: &mut T, deadline: i64) -> Option<SourceItem> {
        match self.fixture.events.get(self.next) {
            Some(event) if event.at_ms <= deadline => {
                timeline.sleep_until(event.at_ms).await;
                // Taken only once the wait is over: dropping the future before
                // that leaves the event for the next call.
                self.next += 1;
                Some(SourceItem::Event(event.clone()))
            }
            _ => {
                timeline.sleep_until(deadline).await;
                None
            }
        }
    }
}
