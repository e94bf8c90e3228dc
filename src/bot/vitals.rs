//! Mirrors what the bot counts into its [`BotMetrics`] as the counts change.
//!
//! The bot's report, its channel state and its link stay the owners of these
//! facts; the mirror remembers what it last published and adds the
//! difference, so a counter in `/metrics` always equals the report's.

use super::{Bot, OutboundReport};
use crate::cytube::ChatEvent;
use crate::link::{LinkVitals, StreamStats};
use crate::metrics::{BotMetrics, FailureKind};

/// What was last published.
#[derive(Debug, Default)]
pub(super) struct MetricsMirror {
    outbound: OutboundReport,
    stream: StreamStats,
    chat_connections: u64,
}

impl MetricsMirror {
    /// Counts a chat connection; every one after the first is a reconnect.
    pub(super) fn on_event(&mut self, metrics: &BotMetrics, event: &ChatEvent) {
        if matches!(event, ChatEvent::Connect) {
            if self.chat_connections > 0 {
                metrics.chat_reconnects.inc();
            }
            self.chat_connections += 1;
        }
    }

    /// Publishes the bot's state and the link's counts now.
    pub(super) fn publish(&mut self, metrics: &BotMetrics, bot: &Bot, link: &LinkVitals) {
        let state = &bot.state;
        metrics.chat_connected.set(i64::from(state.chat_connected));
        metrics.channel_users.set(state.users.len() as i64);
        metrics.channel_usercount.set(state.usercount.unwrap_or(0));
        metrics.outbox_depth.set(link.outbox_held as i64);

        let now = &bot.outbound.report;
        let before = &self.outbound;
        metrics.lines_said.inc_by(now.said.saturating_sub(before.said));
        metrics.marks_resent.inc_by(now.acks_resent.saturating_sub(before.acks_resent));
        metrics.lines_throttled.inc_by(now.held.saturating_sub(before.held));
        for (kind, now, before) in [
            (FailureKind::Permanent, now.failed_permanent, before.failed_permanent),
            (FailureKind::Transient, now.failed_transient, before.failed_transient),
        ] {
            if now > before {
                metrics.failed(kind, now - before);
            }
        }
        self.outbound = now.clone();

        if let Some(stream) = &link.stream {
            metrics.jetstream_acks.inc_by(stream.acked.saturating_sub(self.stream.acked));
            metrics.jetstream_duplicates.inc_by(stream.duplicates.saturating_sub(self.stream.duplicates));
            metrics.jetstream_republished.inc_by(stream.republished.saturating_sub(self.stream.republished));
            self.stream = *stream;
        }
    }
}
