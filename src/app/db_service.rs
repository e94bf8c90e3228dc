//! `rosey db-service`.

use std::future::Future;

use crate::bot::Protocol;
use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::config::Settings;
use crate::service::{CommitMode, DbService, ServiceConfig, ServiceReport, DEFAULT_QUEUE_GROUP};
use crate::store::Store;
use crate::transport::NatsTransport;

/// Serves the database over NATS until `shutdown`, then drains, commits the
/// last batch and returns what it did.
///
/// Under `protocol = v0.5` it behaves like v0.5.0's service: no queue group
/// and one commit per command.
pub async fn run_db_service(settings: &Settings, shutdown: impl Future<Output = ()>) -> crate::Result<ServiceReport> {
    let path = settings.db_path();
    let store = Store::open(&path, unix_seconds(SystemClock.now_ms()))?;
    let transport = NatsTransport::connect(&settings.nats_options("rosey-db-service")).await?;
    let config = match settings.protocol() {
        Protocol::Hardened => ServiceConfig {
            queue_group: Some(settings.queue_group.clone().unwrap_or_else(|| DEFAULT_QUEUE_GROUP.to_string())),
            ..ServiceConfig::default()
        },
        Protocol::V05 => {
            ServiceConfig { queue_group: None, commit: CommitMode::PerCommand, ..ServiceConfig::default() }
        }
    };
    tracing::info!(db = %path.display(), "db-service starting");
    let (report, _store) = DbService::new(transport, store, SystemClock, config).run(shutdown).await?;
    Ok(report)
}
