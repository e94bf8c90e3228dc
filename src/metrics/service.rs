//! What a db-service records.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use super::{request_latency, BySubject, LatencyBySubject};

/// What a db-service records.
#[derive(Clone, Debug)]
pub struct ServiceMetrics {
    /// `rosey_db_commands_applied_total{subject}`: applied, a well-formed
    /// command the store turns into nothing (a `[server]` line) included.
    pub applied: BySubject,
    /// `rosey_db_commands_malformed_total{subject}`: skipped as malformed.
    pub malformed: BySubject,
    /// `rosey_db_commands_dropped_total{subject}`: dropped because the backlog was full.
    pub dropped: BySubject,
    /// `rosey_db_store_errors_total`: commands the store rejected (rolled back alone).
    pub store_errors: Counter,
    /// `rosey_db_replies_total`: replies sent.
    pub replies: Counter,
    /// `rosey_db_request_errors_total`: requests answered with `{"error"}`.
    pub request_errors: Counter,
    /// `rosey_db_batch_commands`: commands per commit.
    pub batch_size: Histogram,
    /// `rosey_db_commit_duration_seconds`: how long a commit took.
    pub commit_seconds: Histogram,
    /// `rosey_db_backlog_commands`: events waiting to be applied (core).
    pub backlog: Gauge,
    /// `rosey_db_jetstream_acks_total`: deliveries acknowledged.
    pub jetstream_acks: Counter,
    /// `rosey_db_jetstream_redelivered_total`: redeliveries of applied messages, skipped.
    pub jetstream_redelivered: Counter,
    /// `rosey_db_applying`: 1 while this instance applies (holds the writer's lease), 0
    /// while it stands by.
    pub applying: Gauge,
    /// `rosey_db_terms_total`: how often this instance started applying (a takeover
    /// counts one on the instance that took over).
    pub terms: Counter,
    /// `rosey_db_request_duration_seconds{subject}`: from taking a request up
    /// to sending its reply (its commit included). The bot's histogram of the
    /// same name adds the bus and the wait in the queue.
    pub request_seconds: LatencyBySubject,
}

impl ServiceMetrics {
    /// Creates the db-service's metrics in `registry`.
    pub fn register(registry: &mut Registry) -> ServiceMetrics {
        let metrics = ServiceMetrics {
            applied: BySubject::default(),
            malformed: BySubject::default(),
            dropped: BySubject::default(),
            store_errors: Counter::default(),
            replies: Counter::default(),
            request_errors: Counter::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 4.0, 7)),
            commit_seconds: Histogram::new(exponential_buckets(0.000_05, 4.0, 9)),
            backlog: Gauge::default(),
            jetstream_acks: Counter::default(),
            jetstream_redelivered: Counter::default(),
            applying: Gauge::default(),
            terms: Counter::default(),
            request_seconds: request_latency(),
        };
        let db = registry.sub_registry_with_prefix("rosey_db");
        db.register("commands_applied", "Commands applied, by subject", metrics.applied.clone());
        db.register("commands_malformed", "Payloads skipped as malformed, by subject", metrics.malformed.clone());
        db.register(
            "commands_dropped",
            "Commands dropped because the backlog was full (core delivery), by subject",
            metrics.dropped.clone(),
        );
        db.register("store_errors", "Commands the store rejected and rolled back", metrics.store_errors.clone());
        db.register("replies", "Replies sent", metrics.replies.clone());
        db.register("request_errors", "Requests answered with an error", metrics.request_errors.clone());
        db.register("batch_commands", "Commands per commit", metrics.batch_size.clone());
        db.register_with_unit(
            "commit_duration",
            "How long a commit took",
            Unit::Seconds,
            metrics.commit_seconds.clone(),
        );
        db.register("backlog_commands", "Events waiting to be applied (core delivery)", metrics.backlog.clone());
        db.register(
            "applying",
            "1 while this instance applies (holds the writer's lease), 0 while it stands by",
            metrics.applying.clone(),
        );
        db.register("terms", "How often this instance started applying", metrics.terms.clone());
        db.register("jetstream_acks", "JetStream deliveries acknowledged", metrics.jetstream_acks.clone());
        db.register(
            "jetstream_redelivered",
            "JetStream redeliveries of already applied messages, skipped",
            metrics.jetstream_redelivered.clone(),
        );
        db.register_with_unit(
            "request_duration",
            "From taking a request up to its reply, by subject",
            Unit::Seconds,
            metrics.request_seconds.clone(),
        );
        metrics
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{encode_text, SubjectLabel};

    #[test]
    fn names_follow_prometheus_conventions() {
        let mut registry = Registry::default();
        let metrics = ServiceMetrics::register(&mut registry);
        metrics.applied.get_or_create(&SubjectLabel::new("rosey.db.message.log")).inc_by(3);
        metrics.commit_seconds.observe(0.001);
        let text = encode_text(&registry);
        assert!(text.contains("rosey_db_commands_applied_total{subject=\"rosey.db.message.log\"} 3"), "{text}");
        assert!(text.contains("# TYPE rosey_db_commit_duration_seconds histogram"), "{text}");
        assert!(text.contains("rosey_db_replies_total 0"), "{text}");
        assert!(text.contains("rosey_db_backlog_commands 0"), "{text}");
    }
}
