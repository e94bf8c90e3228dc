//! What a bot records.
//!
//! The bot's own report ([`crate::bot::ReplayReport`]) stays the owner of its
//! counts; the runner mirrors them here as they change, so `/metrics` shows a
//! running bot what the report shows a finished one.

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::{request_latency, BySubject, LatencyBySubject};

/// How a line failed: the database retries transient failures (with
/// backoff, up to `max_retries`), never permanent ones.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelValue)]
pub enum FailureKind {
    Permanent,
    Transient,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct FailureLabel {
    pub kind: FailureKind,
}

/// The bot's metrics.
#[derive(Clone, Debug)]
pub struct BotMetrics {
    /// `rosey_bot_commands_sent_total{subject}`: commands sent to the database side.
    pub commands_sent: BySubject,
    /// `rosey_bot_link_failures_total`: sends and requests that failed.
    pub link_failures: Counter,
    /// `rosey_bot_request_duration_seconds{subject}`: a request's round trip.
    pub request_seconds: LatencyBySubject,
    /// `rosey_bot_polls_failed_total`: `outbound.get` polls that failed.
    pub polls_failed: Counter,
    /// `rosey_bot_outbox_commands`: commands held while no db-service answers.
    pub outbox_depth: Gauge,
    /// `rosey_bot_lines_said_total`: outbound lines said in the channel.
    pub lines_said: Counter,
    /// `rosey_bot_lines_failed_total{kind}`: outbound lines that could not be said.
    pub lines_failed: Family<FailureLabel, Counter>,
    /// `rosey_bot_lines_retried_total`: lines fetched again after a transient failure.
    pub lines_retried: Counter,
    /// `rosey_bot_marks_resent_total`: `mark_sent` sent again for a line already said.
    pub marks_resent: Counter,
    /// `rosey_bot_lines_throttled_total`: lines held back because CyTube would throttle them.
    pub lines_throttled: Counter,
    /// `rosey_bot_chat_connected`: 1 while the chat connection is up.
    pub chat_connected: Gauge,
    /// `rosey_bot_chat_reconnects_total`: chat connections after the first.
    pub chat_reconnects: Counter,
    /// `rosey_bot_channel_users`: users in the bot's userlist.
    pub channel_users: Gauge,
    /// `rosey_bot_channel_usercount`: CyTube's last `usercount` (anonymous viewers included).
    pub channel_usercount: Gauge,
    /// `rosey_bot_jetstream_acks_total`: publishes the stream acknowledged.
    pub jetstream_acks: Counter,
    /// `rosey_bot_jetstream_duplicates_total`: acks that said the stream already had the message.
    pub jetstream_duplicates: Counter,
    /// `rosey_bot_jetstream_republished_total`: publishes repeated after a missing ack.
    pub jetstream_republished: Counter,
}

impl Default for BotMetrics {
    fn default() -> BotMetrics {
        BotMetrics {
            commands_sent: BySubject::default(),
            link_failures: Counter::default(),
            request_seconds: request_latency(),
            polls_failed: Counter::default(),
            outbox_depth: Gauge::default(),
            lines_said: Counter::default(),
            lines_failed: Family::default(),
            lines_retried: Counter::default(),
            marks_resent: Counter::default(),
            lines_throttled: Counter::default(),
            chat_connected: Gauge::default(),
            chat_reconnects: Counter::default(),
            channel_users: Gauge::default(),
            channel_usercount: Gauge::default(),
            jetstream_acks: Counter::default(),
            jetstream_duplicates: Counter::default(),
            jetstream_republished: Counter::default(),
        }
    }
}

impl BotMetrics {
    /// Creates the bot's metrics in `registry`.
    pub fn register(registry: &mut Registry) -> BotMetrics {
        let m = BotMetrics::default();
        let bot = registry.sub_registry_with_prefix("rosey_bot");
        bot.register("commands_sent", "Commands sent to the database side, by subject", m.commands_sent.clone());
        bot.register("link_failures", "Sends and requests to the database side that failed", m.link_failures.clone());
        bot.register_with_unit(
            "request_duration",
            "A request's round trip to the database side, by subject",
            Unit::Seconds,
            m.request_seconds.clone(),
        );
        bot.register("polls_failed", "outbound.get polls that failed", m.polls_failed.clone());
        bot.register("outbox_commands", "Commands held while no db-service answers", m.outbox_depth.clone());
        bot.register("lines_said", "Outbound lines said in the channel", m.lines_said.clone());
        bot.register("lines_failed", "Outbound lines that could not be said, by kind", m.lines_failed.clone());
        bot.register(
            "lines_retried",
            "Outbound lines fetched again after a transient failure",
            m.lines_retried.clone(),
        );
        bot.register("marks_resent", "mark_sent sent again for a line already said", m.marks_resent.clone());
        bot.register(
            "lines_throttled",
            "Lines held back because CyTube would throttle them",
            m.lines_throttled.clone(),
        );
        bot.register("chat_connected", "1 while the chat connection is up", m.chat_connected.clone());
        bot.register("chat_reconnects", "Chat connections after the first", m.chat_reconnects.clone());
        bot.register("channel_users", "Users in the bot's userlist", m.channel_users.clone());
        bot.register("channel_usercount", "CyTube's last usercount", m.channel_usercount.clone());
        bot.register("jetstream_acks", "Publishes the stream acknowledged", m.jetstream_acks.clone());
        bot.register(
            "jetstream_duplicates",
            "Acks that said the stream already had the message",
            m.jetstream_duplicates.clone(),
        );
        bot.register(
            "jetstream_republished",
            "Publishes repeated after a missing ack",
            m.jetstream_republished.clone(),
        );
        m
    }

    /// `count` lines failed as `kind`.
    pub fn failed(&self, kind: FailureKind, count: u64) {
        self.lines_failed.get_or_create(&FailureLabel { kind }).inc_by(count);
    }
}
