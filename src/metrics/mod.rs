//! Prometheus metrics, one registry per instance.
//!
//! No process-global registry: every db-service and every bot (and, in the
//! simulator, every host) owns its [`Registry`] and its metric handles, so two
//! instances in one process, or the hosts of one simulation, are read apart.
//! The handles are cheap clones of shared atomics: the instance records into
//! them, the `/metrics` endpoint (`app::metrics_server`) encodes the registry.
//! A handle made with `Default` and never registered records into nothing
//! anyone reads, which is what code that runs without `--metrics-listen` gets.
//!
//! Names follow Prometheus conventions: the `rosey_` prefix, counters end in
//! `_total`, durations are in seconds; commands are labelled by their NATS
//! subject.

mod bot;
mod bus;
mod service;

pub use bot::{BotMetrics, FailureKind};
pub use bus::BusMetrics;
pub use service::ServiceMetrics;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// A command's subject, as a label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct SubjectLabel {
    pub subject: String,
}

impl SubjectLabel {
    pub fn new(subject: &str) -> SubjectLabel {
        SubjectLabel { subject: subject.to_string() }
    }
}

/// Counters by subject.
pub type BySubject = Family<SubjectLabel, Counter>;

/// Request latencies by subject.
pub type LatencyBySubject = Family<SubjectLabel, Histogram, fn() -> Histogram>;

/// Request latency buckets: 50 µs to about 3.3 s, by fours (a poll answered
/// from the outbound lane is well under a millisecond; the bot's timeout is 2 s).
fn request_latency() -> LatencyBySubject {
    Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_05, 4.0, 9)))
}

/// The registry in Prometheus' text format.
pub fn encode_text(registry: &Registry) -> String {
    let mut text = String::new();
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut text, registry);
    text
}
