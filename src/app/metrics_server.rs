//! `--metrics-listen <addr>`: the instance's registry as Prometheus text at
//! `GET /metrics`; any other path is 404, any other method 405 (axum).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use prometheus_client::registry::Registry;

use crate::metrics::encode_text;

/// What Prometheus asks for and prometheus-client writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds `listen` and serves `registry` there on a task of its own; returns
/// the bound address (port 0 picks a free one).
///
/// # Errors
///
/// When the address cannot be bound (in use, not ours, not an address).
pub async fn start_metrics_server(listen: &str, registry: Registry) -> crate::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        format!("cannot serve metrics on {listen}: {e} (is another process using it? pick another --metrics-listen)")
    })?;
    let bound = listener.local_addr()?;
    let registry = Arc::new(registry);
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let registry = registry.clone();
            async move { ([(CONTENT_TYPE, OPENMETRICS)], encode_text(&registry)) }
        }),
    );
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "[metrics] the /metrics server stopped");
        }
    });
    tracing::info!("[metrics] serving Prometheus metrics at http://{bound}/metrics");
    Ok(bound)
}
