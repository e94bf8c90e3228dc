//! The JetStream half of [`SimTransport`]: the trait's stream, acked-publish
//! and consumer calls as core requests to `$JS.API.>`, the way async-nats
//! makes them, so a server without JetStream answers them the same way a
//! real one does (no responders: [`TransportError::JetStreamUnavailable`]).

use std::time::Duration;

use bytes::Bytes;
use rosey::transport::{ConsumerConfig, PendingAck, PubAck, StreamConfig, StreamState, Transport, TransportError};
use serde::de::DeserializeOwned;

use super::client::SimTransport;
use super::consumer::SimConsumer;
use super::frame::Frame;
use super::jetstream::api::{
    ApiErrorJson, ConsumerConfigJson, ConsumerInfoJson, CreateConsumerJson, PubAckJson, StreamConfigJson,
    StreamInfoJson,
};
use super::state::Delivery;
use super::subject::validate_publish;

/// How long an API request or a publish ack may take (async-nats' default).
pub(crate) const JETSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

/// One API request: JSON in, JSON out, errors as [`TransportError`].
pub(crate) async fn api_request<R: DeserializeOwned>(
    transport: &SimTransport,
    subject: &str,
    body: Vec<u8>,
) -> Result<R, TransportError> {
    let reply = match transport.request(subject, Bytes::from(body), JETSTREAM_TIMEOUT).await {
        Ok(reply) => reply,
        Err(TransportError::NoResponders) => return Err(TransportError::JetStreamUnavailable),
        Err(error) => return Err(error),
    };
    parse_response(&reply.payload)
}

/// An API answer: its `error` as [`TransportError::JetStream`], or the body.
fn parse_response<R: DeserializeOwned>(payload: &[u8]) -> Result<R, TransportError> {
    let value: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|error| TransportError::Other(format!("JetStream sent invalid JSON: {error}")))?;
    if let Some(error) = value.get("error") {
        let error: ApiErrorJson = serde_json::from_value(error.clone())
            .map_err(|e| TransportError::Other(format!("JetStream sent an unreadable error: {e}")))?;
        return Err(TransportError::JetStream { code: error.code, description: error.description });
    }
    serde_json::from_value(value)
        .map_err(|error| TransportError::Other(format!("unexpected JetStream answer: {error}")))
}

/// Update, then create when the update finds no stream: async-nats'
/// `create_or_update_stream`.
pub(crate) async fn ensure_stream(
    transport: &SimTransport,
    config: &StreamConfig,
) -> Result<StreamState, TransportError> {
    let body = serde_json::to_vec(&StreamConfigJson::from(config)).map_err(|e| TransportError::Other(e.to_string()))?;
    let update = format!("$JS.API.STREAM.UPDATE.{}", config.name);
    let info: StreamInfoJson = match api_request(transport, &update, body.clone()).await {
        Err(TransportError::JetStream { code: 404, .. }) => {
            api_request(transport, &format!("$JS.API.STREAM.CREATE.{}", config.name), body).await?
        }
        other => other?,
    };
    Ok(info.state.into())
}

pub(crate) async fn stream_state(transport: &SimTransport, stream: &str) -> Result<StreamState, TransportError> {
    let info: StreamInfoJson = api_request(transport, &format!("$JS.API.STREAM.INFO.{stream}"), Vec::new()).await?;
    Ok(info.state.into())
}

/// A PUB with the msg id and a fresh inbox for the server's ack; the ack's
/// 5 s start when the returned future is first polled, as in async-nats.
pub(crate) async fn publish_with_ack(
    transport: &SimTransport,
    subject: &str,
    payload: Bytes,
    msg_id: &str,
    expected_last_msg_id: Option<&str>,
) -> Result<PendingAck, TransportError> {
    validate_publish(subject)?;
    transport.check_payload(&payload)?;
    let inbox = transport.new_inbox();
    let mut ack_sub = transport.subscribe_now(&inbox, None)?;
    let msg_id = (!msg_id.is_empty()).then(|| msg_id.to_string());
    let expected_last_msg_id = expected_last_msg_id.map(str::to_string);
    let frame = Frame::Pub { subject: subject.to_string(), reply: Some(inbox), msg_id, expected_last_msg_id, payload };
    transport.enqueue_publish(frame.to_bytes()).await?;
    Ok(Box::pin(async move {
        match rosey::timers::timeout(JETSTREAM_TIMEOUT, ack_sub.next_delivery()).await {
            Err(_) => Err(TransportError::TimedOut),
            Ok(None) => Err(TransportError::Disconnected("the client was closed".into())),
            Ok(Some(Delivery { no_responders: true, .. })) => Err(TransportError::NoResponders),
            Ok(Some(Delivery { message, .. })) => {
                let ack: PubAckJson = parse_response(&message.payload)?;
                Ok(PubAck { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate })
            }
        }
    }))
}

/// Binds to the durable when it exists, else creates it (async-nats'
/// `get_or_create_consumer`), then starts pulling.
pub(crate) async fn durable_consumer(
    transport: &SimTransport,
    stream: &str,
    config: &ConsumerConfig,
) -> Result<SimConsumer, TransportError> {
    let name = &config.durable_name;
    let info = format!("$JS.API.CONSUMER.INFO.{stream}.{name}");
    match api_request::<ConsumerInfoJson>(transport, &info, Vec::new()).await {
        Ok(_) => {}
        Err(TransportError::JetStream { code: 404, description }) if description.contains("consumer") => {
            let request =
                CreateConsumerJson { stream_name: stream.to_string(), config: ConsumerConfigJson::from(config) };
            let body = serde_json::to_vec(&request).map_err(|e| TransportError::Other(e.to_string()))?;
            let create = format!("$JS.API.CONSUMER.CREATE.{stream}.{name}");
            api_request::<ConsumerInfoJson>(transport, &create, body).await?;
        }
        Err(error) => return Err(error),
    }
    Ok(SimConsumer::start(transport.clone(), stream, name))
}
