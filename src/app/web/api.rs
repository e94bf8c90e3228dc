//! The JSON API: v0.5.0's endpoints (`/api/stats`, `/api/current`,
//! `/api/history/{hours}`, `/api/say`) and this project's (`/api/recent_chat`,
//! `/api/outbound`, `/api/events`). Every error is JSON `{"error": ...}`
//! with a status that says whose fault it was.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde::Serialize;
use serde_json::{json, Value};

use super::snapshot::{ChatLineView, Snapshot, PAGE_ROWS};
use super::{page, WebState, UPDATE_EVERY};
use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::store::{check_token, StoreError, TokenCheck};
use crate::transport::Transport;

/// The most rows a `?limit=` may ask for.
const MAX_LIMIT: i64 = 1000;
/// The longest history a request may ask for: a year.
const MAX_HOURS: i64 = 24 * 366;

type Shared = State<Arc<WebState>>;

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot encode the answer: {error}")),
    }
}

fn error_response(status: StatusCode, message: &str) -> Response {
    json_response(status, &json!({ "error": message }))
}

pub(super) fn store_failed(error: &StoreError) -> Response {
    tracing::warn!(%error, "[web] database read failed");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, &format!("cannot read the database: {error}"))
}

fn answer<T: Serialize>(read: Result<T, StoreError>) -> Response {
    match read {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => store_failed(&error),
    }
}

/// `?limit=N` (1 to 1000; the page's 50 when absent), or why not.
fn limit(query: Option<&str>) -> Result<i64, String> {
    let Some(value) = query.into_iter().flat_map(|q| q.split('&')).find_map(|pair| pair.strip_prefix("limit=")) else {
        return Ok(PAGE_ROWS);
    };
    match value.parse::<i64>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!("limit must be a whole number from 1 to {MAX_LIMIT}, not {value:?}")),
    }
}

pub(super) async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "no such page: see / for the status page and /api/stats for the API")
}

/// Channel records, totals and the top chatters.
pub(super) async fn stats(State(state): Shared) -> Response {
    let reader = state.reader();
    answer((|| {
        Ok(json!({
            "totals": reader.totals()?,
            "top_chatters": reader.top_chatters(10)?,
        }))
    })())
}

/// `current_status`, every column by name (v0.5.0's shape).
pub(super) async fn current(State(state): Shared) -> Response {
    answer(state.reader().current_status())
}

/// User-count samples of the last `hours` hours (by the wall clock, as v0.5.0).
pub(super) async fn history(State(state): Shared, Path(hours): Path<String>) -> Response {
    let hours = match hours.parse::<i64>() {
        Ok(h) if (1..=MAX_HOURS).contains(&h) => h,
        _ => {
            let why = format!("hours must be a whole number from 1 to {MAX_HOURS}, not {hours:?}");
            return error_response(StatusCode::BAD_REQUEST, &why);
        }
    };
    let since = unix_seconds(SystemClock.now_ms()) - hours * 3600;
    answer(state.reader().history_since(since))
}

/// The newest chat lines, newest first, each as stored and decoded.
pub(super) async fn recent_chat(State(state): Shared, RawQuery(query): RawQuery) -> Response {
    let limit = match limit(query.as_deref()) {
        Ok(limit) => limit,
        Err(why) => return error_response(StatusCode::BAD_REQUEST, &why),
    };
    let lines = state.reader().recent_chat(limit);
    answer(lines.map(|lines| lines.into_iter().map(ChatLineView::of).collect::<Vec<_>>()))
}

/// The newest outbound messages, newest first, with their state.
pub(super) async fn outbound(State(state): Shared, RawQuery(query): RawQuery) -> Response {
    match limit(query.as_deref()) {
        Ok(limit) => answer(state.reader().outbound(limit)),
        Err(why) => error_response(StatusCode::BAD_REQUEST, &why),
    }
}

/// A snapshot and the chart drawn from it: what a server-sent update carries.
#[derive(Serialize)]
struct Update<'a> {
    #[serde(flatten)]
    snapshot: &'a Snapshot,
    chart: String,
}

/// Server-sent events: a `snapshot` event at once, then one whenever what
/// the page shows changed (looked at every second).
pub(super) async fn events(State(state): Shared) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let ticks = crate::timers::interval(UPDATE_EVERY);
    let stream = futures::stream::unfold((state, ticks, None::<Snapshot>), |(state, mut ticks, mut last)| async move {
        loop {
            ticks.tick().await;
            let snapshot = match state.snapshot() {
                Ok(snapshot) => snapshot,
                Err(error) => {
                    tracing::warn!(%error, "[web] database read failed; the next update tries again");
                    continue;
                }
            };
            if last.as_ref() == Some(&snapshot) {
                continue;
            }
            let update = Update { chart: page::chart_svg(&snapshot.history), snapshot: &snapshot };
            let event = serde_json::to_string(&update).map(|data| Event::default().event("snapshot").data(data));
            last = Some(snapshot);
            match event {
                Ok(event) => return Some((Ok(event), (state, ticks, last))),
                Err(error) => tracing::warn!(%error, "[web] cannot encode an update"),
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// The token a request presents: `Authorization: Bearer <token>`, or
/// v0.5.0's `X-API-Token: <token>`.
fn presented_token(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, token) = v.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
    });
    let legacy = || headers.get("x-api-token").and_then(|v| v.to_str().ok()).map(str::trim);
    bearer.or_else(legacy).filter(|token| !token.is_empty())
}

/// The message of a say request's body, `{"message": "..."}`.
fn say_message(body: &[u8]) -> Result<String, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body must be JSON {{\"message\": ...}}: {e}"))?;
    match value.get("message") {
        Some(Value::String(message)) if !message.trim().is_empty() => Ok(message.clone()),
        Some(Value::String(_)) => Err("message is empty".into()),
        Some(_) => Err("message must be a string".into()),
        None => Err("missing message: send {\"message\": \"...\"}".into()),
    }
}

/// `POST /api/say`: with a valid token, enqueues the message over the bus
/// (like `rosey say`) and answers `{"queued": true, "id": N}`. The token is
/// checked before anything else is looked at; a refused request writes nothing.
pub(super) async fn say(State(state): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = presented_token(&headers) else {
        let why = "missing API token: send Authorization: Bearer <token> (create one with `rosey token create`)";
        return error_response(StatusCode::UNAUTHORIZED, why);
    };
    let check = check_token(state.reader().connection(), token);
    let key = match check {
        Ok(TokenCheck::Valid { key }) => key,
        Ok(TokenCheck::Refused) => {
            tracing::warn!("[web] say refused: unknown or revoked API token");
            return error_response(StatusCode::UNAUTHORIZED, "unknown or revoked API token");
        }
        Err(error) => return store_failed(&StoreError::from(error)),
    };
    let message = match say_message(&body) {
        Ok(message) => message,
        Err(why) => return error_response(StatusCode::BAD_REQUEST, &why),
    };
    if !state.bus.is_connected() {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "the bus is down: is nats-server running?");
    }
    match crate::app::say::enqueue(&state.bus, &message, state.request_timeout).await {
        Ok(id) => {
            tracing::info!(id, "[web] message queued through the say API");
            state.stamp_token_use(&key);
            json_response(StatusCode::OK, &json!({ "queued": true, "id": id }))
        }
        Err(why) => error_response(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}

impl WebState {
    /// Sets the token's `last_used`, as v0.5.0 did, through a connection
    /// opened for this one statement (the page's own connection is read-only).
    /// A failure is logged and costs the caller nothing: the message is queued.
    fn stamp_token_use(&self, key: &str) {
        let now = unix_seconds(SystemClock.now_ms());
        let stamped = rusqlite::Connection::open_with_flags(&self.db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .and_then(|conn| {
                conn.busy_timeout(std::time::Duration::from_secs(2))?;
                conn.execute("UPDATE api_tokens SET last_used = ?2 WHERE token = ?1", (key, now))
            });
        if let Err(error) = stamped {
            tracing::warn!(%error, "[web] cannot record the token's last use");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_bearer_or_the_v05_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_token(&headers), None);
        headers.insert("x-api-token", "legacy".parse().unwrap());
        assert_eq!(presented_token(&headers), Some("legacy"));
        headers.insert(header::AUTHORIZATION, "Bearer rosey_abc".parse().unwrap());
        assert_eq!(presented_token(&headers), Some("rosey_abc"));
        headers.insert(header::AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(presented_token(&headers), Some("legacy"));
    }

    #[test]
    fn a_say_body_needs_a_message() {
        assert_eq!(say_message(br#"{"message":"hi"}"#), Ok("hi".to_string()));
        assert!(say_message(br#"{"message":"  "}"#).unwrap_err().contains("empty"));
        assert!(say_message(br#"{}"#).unwrap_err().contains("missing message"));
        assert!(say_message(br#"{"message":3}"#).unwrap_err().contains("string"));
        assert!(say_message(b"not json").unwrap_err().contains("JSON"));
    }
}
