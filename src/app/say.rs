//! `rosey say`: enqueue one outbound message over the bus.

use std::time::Duration;

use bytes::Bytes;

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::contract::{Command, EnqueueRequest, Reply, Request, Subject};
use crate::transport::{NatsTransport, Transport, TransportError};

/// Enqueues `text`; returns the new message's id.
pub async fn say(settings: &Settings, text: &str) -> crate::Result<i64> {
    let transport = NatsTransport::connect(&settings.nats_options("rosey-say")).await?;
    Ok(enqueue(&transport, text, settings.request_timeout()).await?)
}

/// Asks a db-service over `transport` to queue `text`; returns the row's id.
/// Shared by `rosey say` and the status page's `POST /api/say`.
///
/// # Errors
/// No db-service listening, a timeout, or the service's refusal, each as a
/// sentence that says what to do.
pub(crate) async fn enqueue(transport: &NatsTransport, text: &str, timeout: Duration) -> Result<i64, String> {
    let command = Command::Request(Request::Enqueue(EnqueueRequest {
        message: text.to_string(),
        at_ms: Some(SystemClock.now_ms()),
        request_id: None,
    }));
    let reply = transport
        .request(Subject::OutboundEnqueue.as_str(), Bytes::from(command.encode()), timeout)
        .await
        .map_err(|e| match e {
            TransportError::NoResponders => "no db-service is listening: start one with `rosey db-service`".to_string(),
            other => format!("enqueue failed: {other}"),
        })?;
    match Reply::decode(Subject::OutboundEnqueue, &reply.payload).map_err(|e| e.to_string())? {
        Reply::Enqueued(reply) => match (reply.id, reply.error) {
            (Some(id), _) => Ok(id),
            (None, Some(error)) => Err(format!("the db-service refused the message: {error}")),
            (None, None) => Err("the db-service replied with neither an id nor an error".into()),
        },
        other => Err(format!("unexpected reply: {other:?}")),
    }
}
