//! [`CytubeSource`]: the bot's live channel, plus the fixture's operator lines.

use rosey::bot::{ChatSource, SourceItem, Timeline};
use rosey::cytube::client::Dialer;
use rosey::cytube::ChatEvent;
use rosey::fixture::{Fixture, TimedEvent};
use rosey::live::LiveChannel;

/// Channel events from the bot's CyTube session, as they arrive, merged with
/// the fixture's `rosey:say` lines at their `at_ms` (an operator's enqueues
/// do not go through the chat server). The run ends at the fixture's end.
pub struct CytubeSource<D: Dialer> {
    live: LiveChannel<D>,
    /// The fixture's operator events, in order.
    operator: Vec<TimedEvent>,
    next: usize,
    end_ms: i64,
}

impl<D: Dialer> CytubeSource<D> {
    pub fn new(live: LiveChannel<D>, fixture: &Fixture) -> CytubeSource<D> {
        let operator =
            fixture.events.iter().filter(|e| matches!(e.event, ChatEvent::Say { .. })).cloned().collect::<Vec<_>>();
        CytubeSource { live, operator, next: 0, end_ms: fixture.end_ms() }
    }

    /// Leaves the channel cleanly (after the bot's shutdown).
    pub async fn close(&mut self) {
        self.live.close().await;
    }
}

impl<D: Dialer> ChatSource for CytubeSource<D> {
    fn end_ms(&self) -> Option<i64> {
        Some(self.end_ms)
    }

    /// Cancel-safe: the live channel's `next_until` is, and an operator event
    /// is taken only once the channel had nothing before it.
    async fn next_until<T: Timeline>(&mut self, timeline: &mut T, deadline: i64) -> Option<SourceItem> {
        match self.operator.get(self.next) {
            Some(event) if event.at_ms <= deadline => {
                let at_ms = event.at_ms;
                if let Some(item) = self.live.next_until(timeline, at_ms).await {
                    return Some(item);
                }
                self.next += 1;
                Some(SourceItem::Event(self.operator[self.next - 1].clone()))
            }
            _ => self.live.next_until(timeline, deadline).await,
        }
    }
}
