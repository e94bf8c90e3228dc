//! `rosey web --listen <addr>`: the status page, its JSON API and the say API.
//!
//! Reads go through one read-only connection kept for the server's life
//! ([`StoreReader`]): the page never writes, migrates, checkpoints or closes
//! anything the db-service holds (v0.5.0's page closed the database after
//! every request and cut the bot's session each time, defect 9). The one
//! write it causes is `POST /api/say`'s, and that goes over the bus to the
//! db-service like `rosey say`, which keeps one writer; the token's
//! `last_used` is stamped through a short-lived connection of its own.

mod api;
mod page;
mod snapshot;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{Html, IntoResponse};
use axum::routing::{get, post};
use axum::Router;

pub use snapshot::Snapshot;

use crate::config::Settings;
use crate::store::StoreReader;
use crate::transport::NatsTransport;

/// How often the server-sent events look for a change to send.
const UPDATE_EVERY: Duration = Duration::from_secs(1);

/// What every handler shares.
struct WebState {
    reader: Mutex<StoreReader>,
    db_path: PathBuf,
    /// For `POST /api/say`; connected in the background, so the page works
    /// while nats-server is down (and say answers 503 then).
    bus: NatsTransport,
    request_timeout: Duration,
}

/// Serves the page at `listen` until `shutdown`.
///
/// # Errors
/// When the database cannot be opened, the address cannot be bound, or the
/// NATS URL is unusable.
pub async fn run_web(settings: &Settings, listen: &str, shutdown: impl Future<Output = ()>) -> crate::Result<()> {
    let db_path = settings.sqlite_db_path("web")?;
    let reader = StoreReader::open(&db_path).map_err(|e| {
        format!("{e} (the page reads the db-service's database: start `rosey db-service` once, or pass --db)")
    })?;
    let bus = NatsTransport::connect_in_background(&settings.nats_options("rosey-web")).await?;
    let state =
        Arc::new(WebState { reader: Mutex::new(reader), db_path, bus, request_timeout: settings.request_timeout() });
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        format!("cannot serve the status page on {listen}: {e} (is another process using it? pick another --listen)")
    })?;
    let bound: SocketAddr = listener.local_addr()?;
    tracing::info!(db = %state.db_path.display(), "[web] serving the status page at http://{bound}/");
    // Open event streams never end by themselves, so a graceful drain would
    // wait forever: stopping drops the connections (the page reconnects).
    let server = std::future::IntoFuture::into_future(axum::serve(listener, router(state)));
    tokio::select! {
        served = server => served?,
        () = shutdown => {}
    }
    tracing::info!("[web] stopped");
    Ok(())
}

fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(|| asset("text/javascript; charset=utf-8", page::SCRIPT)))
        .route("/app.css", get(|| asset("text/css; charset=utf-8", page::STYLE)))
        .route("/api/stats", get(api::stats))
        .route("/api/current", get(api::current))
        .route("/api/history/{hours}", get(api::history))
        .route("/api/recent_chat", get(api::recent_chat))
        .route("/api/outbound", get(api::outbound))
        .route("/api/events", get(api::events))
        .route("/api/say", post(api::say))
        .fallback(api::not_found)
        .with_state(state)
}

async fn index(axum::extract::State(state): axum::extract::State<Arc<WebState>>) -> axum::response::Response {
    match state.snapshot() {
        Ok(snapshot) => {
            let headers = [(CONTENT_SECURITY_POLICY, page::CONTENT_SECURITY_POLICY), (CACHE_CONTROL, "no-store")];
            (headers, Html(page::render(&snapshot))).into_response()
        }
        Err(error) => api::store_failed(&error).into_response(),
    }
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")], body)
}

impl WebState {
    fn snapshot(&self) -> Result<Snapshot, crate::store::StoreError> {
        Snapshot::read(&self.reader())
    }

    /// The reader; a handler that panicked while holding it left nothing
    /// half-done (it only reads), so a poisoned lock is taken as it is.
    fn reader(&self) -> std::sync::MutexGuard<'_, StoreReader> {
        self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
