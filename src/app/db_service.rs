//! `rosey db-service`.

use std::future::Future;

use super::protocol::service_config;
use crate::bot::Protocol;
use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::config::Settings;
use crate::metrics::{BusMetrics, ServiceMetrics};
use crate::service::{serve_elected, DbService, ServiceConfig, ServiceReport};
use crate::store::{Checkpointer, Store};
use crate::transport::NatsTransport;
use prometheus_client::registry::Registry;

/// Serves the database over NATS until `shutdown`, then drains, commits the
/// last batch and returns what it did. Several instances sharing one database
/// elect one to apply at a time; the others stand by (`service::leadership`);
/// under `--protocol v0.5` every instance applies, as v0.5.0's did.
pub async fn run_db_service(settings: &Settings, shutdown: impl Future<Output = ()>) -> crate::Result<ServiceReport> {
    let location = settings.db_location();
    let store = Store::connect(&location, unix_seconds(SystemClock.now_ms()))?;
    // Checkpoints (and their fsyncs) off the applying thread: see `store::checkpoint`.
    let _checkpointer = match (&store, location.sqlite_path()) {
        (Store::Sqlite(sqlite), Some(path)) => {
            sqlite.disable_autocheckpoint()?;
            Some(Checkpointer::start(path)?)
        }
        _ => None,
    };
    let mut registry = Registry::default();
    let metrics = ServiceMetrics::register(&mut registry);
    let mut options = settings.nats_options("rosey-db-service");
    options.metrics = BusMetrics::register(&mut registry);
    let transport = NatsTransport::connect(&options).await?;
    let config = ServiceConfig {
        drain_timeout: settings.drain_timeout(),
        max_backlog: settings.max_backlog(),
        delivery: settings.delivery(),
        jetstream: settings.jetstream(),
        ..service_config(settings.protocol(), settings.queue_group.clone())
    };
    tracing::info!(db = %location, backend = store.backend(), delivery = %config.delivery, "db-service starting");
    let with_metrics = settings.metrics_listen.is_some();
    if let Some(listen) = &settings.metrics_listen {
        super::start_metrics_server(listen, registry).await?;
    }
    let start_term = |transport, store| {
        let service = DbService::new(transport, store, SystemClock, config.clone());
        if with_metrics {
            service.with_metrics(metrics.clone())
        } else {
            service
        }
    };
    let reopen = || match Store::connect(&location, unix_seconds(SystemClock.now_ms())) {
        Ok(store) => Some(store),
        Err(error) => {
            tracing::warn!(%error, "[db] the database is still unreachable; trying again");
            None
        }
    };
    let (report, _store) = match settings.protocol() {
        // v0.5.0 had no election: every instance applies what reaches it.
        Protocol::V05 => start_term(transport, store).run(shutdown).await?,
        Protocol::Hardened => {
            serve_elected(transport, store, settings.leadership(), start_term, reopen, None, shutdown).await?
        }
    };
    Ok(report)
}
