//! `rosey db-service`.

use std::future::Future;

use crate::bot::Protocol;
use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::config::Settings;
use crate::service::{DbService, ServiceConfig, ServiceReport};
use crate::store::Store;
use crate::transport::NatsTransport;

/// Serves the database over NATS until `shutdown`, then drains, commits the
/// last batch and returns what it did.
pub async fn run_db_service(settings: &Settings, shutdown: impl Future<Output = ()>) -> crate::Result<ServiceReport> {
    let path = settings.db_path();
    let store = Store::open(&path, unix_seconds(SystemClock.now_ms()))?;
    let transport = NatsTransport::connect(&settings.nats_options("rosey-db-service")).await?;
    let config = ServiceConfig {
        drain_timeout: settings.drain_timeout(),
        ..service_config(settings.protocol(), settings.queue_group.clone())
    };
    tracing::info!(db = %path.display(), "db-service starting");
    let (report, _store) = DbService::new(transport, store, SystemClock, config).run(shutdown).await?;
    Ok(report)
}

/// The db-service's settings under the configured `protocol`: v0.5 behaves as
/// v0.5.0's service did ([`ServiceConfig::v0_5`]: no queue group, one commit
/// per command); the hardened default groups commits in `queue_group` (or
/// the default group).
pub fn service_config(protocol: Protocol, queue_group: Option<String>) -> ServiceConfig {
    match protocol {
        Protocol::Hardened => match queue_group {
            Some(group) => ServiceConfig { queue_group: Some(group), ..ServiceConfig::default() },
            None => ServiceConfig::default(),
        },
        Protocol::V05 => ServiceConfig::v0_5(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{CommitMode, DEFAULT_QUEUE_GROUP};

    #[test]
    fn the_protocol_picks_the_services_v05_settings_or_the_grouped_default() {
        let v05 = service_config(Protocol::V05, Some("ignored".into()));
        assert_eq!((v05.queue_group, v05.commit), (None, CommitMode::PerCommand));
        let hardened = service_config(Protocol::Hardened, None);
        assert_eq!(hardened.queue_group.as_deref(), Some(DEFAULT_QUEUE_GROUP));
        assert!(matches!(hardened.commit, CommitMode::Group { .. }));
        assert_eq!(service_config(Protocol::Hardened, Some("g".into())).queue_group.as_deref(), Some("g"));
    }
}
