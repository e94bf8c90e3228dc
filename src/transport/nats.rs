//! [`Transport`] over async-nats against a live nats-server.

use std::time::Duration;

use async_nats::client::{PublishErrorKind, RequestErrorKind};
use bytes::Bytes;
use futures::StreamExt;

use super::jetstream::{
    ack_subject_info, ConsumerConfig, PendingAck, PubAck, StreamConfig, StreamConsumer, StreamMessage, StreamState,
    StreamStorage,
};
use super::options::NatsOptions;
use super::url::{self, ServerList, UrlAuth};
use super::{BusMessage, Subscription, Transport, TransportError};

use super::ROUND_TRIP_TIMEOUT;

/// How long a publish may wait for room in async-nats's send buffer. While
/// the connection is down that buffer fills and a publish would wait for the
/// reconnect forever (and the bot with it, deaf to SIGTERM); past this it
/// fails as "disconnected" instead. A live connection empties it in microseconds.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(2);

/// A live NATS connection.
#[derive(Clone, Debug)]
pub struct NatsTransport {
    client: async_nats::Client,
    jetstream: jetstream::Context,
}

use async_nats::jetstream;

/// How long a JetStream API request or a publish ack may take (async-nats' default).
const JETSTREAM_TIMEOUT: Duration = Duration::from_secs(5);

impl NatsTransport {
    /// Connects, logging every later disconnect and reconnect (never fatal:
    /// async-nats reconnects by itself and resubscribes).
    ///
    /// # Errors
    ///
    /// When the first connection fails: the message names the URL and what to check.
    pub async fn connect(options: &NatsOptions) -> Result<NatsTransport, TransportError> {
        let (connect, servers) = connect_options(options).await?;
        // async-nats logs server addresses whole at debug level: it only ever
        // sees them without userinfo.
        let client = connect.connect(servers.as_slice()).await.map_err(|e| cannot_connect(options, &e))?;
        Ok(NatsTransport::over(client))
    }

    /// Returns at once and connects in the background, retrying until the
    /// server is there (dual mode: an unreachable server at start is the same
    /// as a connection lost later). Until then [`Transport::is_connected`] is
    /// false, and whatever is sent waits in async-nats's buffer: callers that
    /// must not buffer check `is_connected` first.
    ///
    /// # Errors
    ///
    /// Only what no retry can fix: an unparsable URL, an unreadable creds file.
    pub async fn connect_in_background(options: &NatsOptions) -> Result<NatsTransport, TransportError> {
        let (connect, servers) = connect_options(options).await?;
        let client = connect
            .retry_on_initial_connect()
            .connect(servers.as_slice())
            .await
            .map_err(|e| cannot_connect(options, &e))?;
        Ok(NatsTransport::over(client))
    }

    fn over(client: async_nats::Client) -> NatsTransport {
        // Backpressure off: the bot bounds its own ack window, far below
        // async-nats' 5,000 permits, and a full window must fail loudly, not wait.
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(JETSTREAM_TIMEOUT)
            .backpressure_on_inflight(false)
            .build(client.clone());
        NatsTransport { client, jetstream }
    }

    /// The underlying client, for tools that need more than the trait.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

/// async-nats's options for `options`, and the servers without their userinfo.
async fn connect_options(options: &NatsOptions) -> Result<(async_nats::ConnectOptions, Vec<String>), TransportError> {
    let metrics = options.metrics.clone();
    let connected_before = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut connect = async_nats::ConnectOptions::new().name(&options.name).event_callback(move |event| {
        let (metrics, connected_before) = (metrics.clone(), connected_before.clone());
        async move {
            match event {
                async_nats::Event::Connected => {
                    let first = !connected_before.swap(true, std::sync::atomic::Ordering::Relaxed);
                    metrics.on_connected(first);
                    tracing::info!("[NATS] connected");
                }
                async_nats::Event::Disconnected => {
                    metrics.on_disconnected();
                    tracing::warn!("[NATS] disconnected; reconnecting");
                }
                async_nats::Event::ServerError(async_nats::ServerError::Other(message))
                    if message.to_ascii_lowercase().contains("permissions violation") =>
                {
                    metrics.on_refused();
                    tracing::error!(
                        "[NATS] the server refused this client: {message}: nothing was sent there; grant the \
                         permission to this user in the server's authorization config, or run this command \
                         as a user that has it"
                    );
                }
                other => tracing::warn!("[NATS] {other}"),
            }
        }
    });
    if let (Some(user), Some(password)) = (&options.user, &options.password) {
        connect = connect.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &options.token {
        connect = connect.token(token.clone());
    }
    // Credentials in the URL are the fallback: the explicit settings win.
    let servers = ServerList::parse(&options.url);
    let explicit = (options.user.is_some() && options.password.is_some()) || options.token.is_some();
    match servers.auth {
        Some(UrlAuth::UserPassword { user, password }) if !explicit => {
            connect = connect.user_and_password(user, password);
        }
        Some(UrlAuth::Token(token)) if !explicit => connect = connect.token(token),
        _ => {}
    }
    if let Some(path) = &options.creds_file {
        connect = connect
            .credentials_file(path)
            .await
            .map_err(|e| TransportError::Other(format!("cannot read the NATS creds file {}: {e}", path.display())))?;
    }
    if options.tls {
        connect = connect.require_tls(true);
    }
    if let Some(ca) = &options.tls_ca {
        connect = connect.add_root_certificates(ca.clone());
    }
    Ok((connect, servers.servers))
}

fn cannot_connect(options: &NatsOptions, error: &async_nats::ConnectError) -> TransportError {
    TransportError::Disconnected(format!(
        "cannot connect to NATS at {}: {error} (is nats-server running there? check the URL and credentials)",
        url::redact(&options.url)
    ))
}

impl Transport for NatsTransport {
    type Subscription = NatsSubscription;
    type Consumer = NatsConsumer;

    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), TransportError> {
        let size = payload.len();
        // Polled once first: on the hot path the buffer has room, and no timer is armed.
        let mut publish = std::pin::pin!(self.client.publish(subject.to_string(), payload));
        let published = match futures::poll!(publish.as_mut()) {
            std::task::Poll::Ready(published) => published,
            std::task::Poll::Pending => crate::timers::timeout(QUEUE_TIMEOUT, publish).await.map_err(|_| {
                TransportError::Disconnected("the connection is down and its send buffer is full".into())
            })?,
        };
        published.map_err(|e| match e.kind() {
            PublishErrorKind::MaxPayloadExceeded => TransportError::PayloadTooLarge(size),
            PublishErrorKind::InvalidSubject => TransportError::InvalidSubject(subject.to_string()),
            PublishErrorKind::Send => TransportError::Disconnected(e.to_string()),
        })
    }

    async fn request(&self, subject: &str, payload: Bytes, timeout: Duration) -> Result<BusMessage, TransportError> {
        let size = payload.len();
        let request = async_nats::Request::new().payload(payload).timeout(Some(timeout));
        match self.client.send_request(subject.to_string(), request).await {
            Ok(message) => Ok(BusMessage {
                subject: message.subject.to_string(),
                reply: message.reply.map(|r| r.to_string()),
                payload: message.payload,
            }),
            Err(e) => Err(match e.kind() {
                RequestErrorKind::TimedOut => TransportError::TimedOut,
                RequestErrorKind::NoResponders => TransportError::NoResponders,
                RequestErrorKind::MaxPayloadExceeded => TransportError::PayloadTooLarge(size),
                RequestErrorKind::InvalidSubject => TransportError::InvalidSubject(subject.to_string()),
                _ => TransportError::Other(e.to_string()),
            }),
        }
    }

    async fn subscribe(&self, subject: &str, queue_group: Option<&str>) -> Result<NatsSubscription, TransportError> {
        let result = match queue_group {
            Some(group) => self.client.queue_subscribe(subject.to_string(), group.to_string()).await,
            None => self.client.subscribe(subject.to_string()).await,
        };
        result
            .map(|inner| NatsSubscription { inner })
            .map_err(|e| TransportError::Other(format!("cannot subscribe to {subject}: {e}")))
    }

    async fn flush(&self) -> Result<(), TransportError> {
        self.client.flush().await.map_err(|e| TransportError::Disconnected(e.to_string()))
    }

    async fn round_trip(&self) -> Result<(), TransportError> {
        // Every step waits for the connection (a flush while it is down waits
        // for the reconnect), so the timeout covers them all.
        let echo = async {
            let inbox = self.client.new_inbox();
            let mut echo = self.subscribe(&inbox, None).await?;
            self.publish(&inbox, Bytes::new()).await?;
            self.flush().await?;
            match echo.next().await {
                Some(_) => Ok(()),
                None => Err(TransportError::Disconnected("round trip subscription closed".into())),
            }
        };
        crate::timers::timeout(ROUND_TRIP_TIMEOUT, echo).await.unwrap_or(Err(TransportError::TimedOut))
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    fn connection_epoch(&self) -> u64 {
        // Counted by the connection handler before it writes anything on a
        // new connection.
        self.client.statistics().connects.load(std::sync::atomic::Ordering::Acquire)
    }

    async fn ensure_stream(&self, config: &StreamConfig) -> Result<StreamState, TransportError> {
        let info = self.jetstream.create_or_update_stream(stream_config(config)).await.map_err(|e| match e.kind() {
            jetstream::context::CreateStreamErrorKind::JetStreamUnavailable => TransportError::JetStreamUnavailable,
            // JetStream on, but not for this account: as unavailable as no JetStream at all.
            jetstream::context::CreateStreamErrorKind::JetStream(api) if api.code() == 503 => {
                TransportError::JetStreamUnavailable
            }
            jetstream::context::CreateStreamErrorKind::JetStream(api) => {
                TransportError::JetStream { code: api.code() as u16, description: api.to_string() }
            }
            jetstream::context::CreateStreamErrorKind::TimedOut => TransportError::TimedOut,
            _ => TransportError::Other(format!("cannot create the stream {}: {e}", config.name)),
        })?;
        Ok(state_of(&info.state))
    }

    async fn stream_state(&self, stream: &str) -> Result<StreamState, TransportError> {
        let stream = self.jetstream.get_stream(stream).await.map_err(stream_error)?;
        Ok(state_of(&stream.cached_info().state))
    }

    async fn publish_with_ack(
        &self,
        subject: &str,
        payload: Bytes,
        msg_id: &str,
        expected_last_msg_id: Option<&str>,
    ) -> Result<PendingAck, TransportError> {
        let size = payload.len();
        let mut publish = jetstream::message::PublishMessage::build().payload(payload).message_id(msg_id);
        if let Some(expected) = expected_last_msg_id {
            publish = publish.expected_last_message_id(expected);
        }
        let pending =
            self.jetstream.send_publish(subject.to_string(), publish).await.map_err(|e| publish_error(&e, size))?;
        Ok(Box::pin(async move {
            let ack = pending.await.map_err(|e| publish_error(&e, size))?;
            Ok(PubAck { stream: ack.stream, seq: ack.sequence, duplicate: ack.duplicate })
        }))
    }

    async fn durable_consumer(&self, stream: &str, config: &ConsumerConfig) -> Result<NatsConsumer, TransportError> {
        let stream = self.jetstream.get_stream_no_info(stream).await.map_err(stream_error)?;
        let pull = jetstream::consumer::pull::Config {
            durable_name: Some(config.durable_name.clone()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_wait: config.ack_wait,
            max_ack_pending: config.max_ack_pending,
            max_deliver: -1,
            ..Default::default()
        };
        let consumer = stream
            .get_or_create_consumer(&config.durable_name, pull)
            .await
            .map_err(|e| consumer_error(&e, &config.durable_name))?;
        let messages = consumer
            .messages()
            .await
            .map_err(|e| TransportError::Other(format!("cannot pull from {}: {e}", config.durable_name)))?;
        Ok(NatsConsumer { consumer, messages })
    }
}

fn stream_config(config: &StreamConfig) -> jetstream::stream::Config {
    let to_limit = |limit: Option<u64>| limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    jetstream::stream::Config {
        name: config.name.clone(),
        subjects: config.subjects.clone(),
        storage: match config.storage {
            StreamStorage::File => jetstream::stream::StorageType::File,
            StreamStorage::Memory => jetstream::stream::StorageType::Memory,
        },
        duplicate_window: config.duplicate_window,
        max_age: config.max_age,
        max_bytes: to_limit(config.max_bytes),
        max_messages: to_limit(config.max_messages),
        num_replicas: config.replicas.max(1),
        ..Default::default()
    }
}

fn state_of(state: &jetstream::stream::State) -> StreamState {
    StreamState { first_seq: state.first_sequence, last_seq: state.last_sequence, messages: state.messages }
}

fn stream_error(error: jetstream::context::GetStreamError) -> TransportError {
    use jetstream::context::GetStreamErrorKind;
    match error.kind() {
        GetStreamErrorKind::JetStream(api) if api.code() == 503 => TransportError::JetStreamUnavailable,
        GetStreamErrorKind::JetStream(api) => {
            TransportError::JetStream { code: api.code() as u16, description: api.to_string() }
        }
        // Nobody answers the API (a server without JetStream): async-nats
        // says so only in the source's kind; its text does not say "no responders".
        GetStreamErrorKind::Request if no_responders(&error) => TransportError::JetStreamUnavailable,
        _ => TransportError::Other(format!("cannot find the stream: {error}")),
    }
}

fn no_responders(error: &(dyn std::error::Error + 'static)) -> bool {
    std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<jetstream::context::RequestError>())
        .is_some_and(|source| source.kind() == jetstream::context::RequestErrorKind::NoResponders)
}

/// A consumer request nobody answered means the server has no JetStream
/// (async-nats reports it as a request error whose source says "no responders").
fn consumer_error(error: &jetstream::stream::ConsumerError, durable: &str) -> TransportError {
    use jetstream::stream::ConsumerErrorKind;
    let no_responders = std::error::Error::source(error)
        .and_then(|source| source.downcast_ref::<jetstream::context::RequestError>())
        .is_some_and(|request| request.kind() == jetstream::context::RequestErrorKind::NoResponders);
    match error.kind() {
        ConsumerErrorKind::Request if no_responders => TransportError::JetStreamUnavailable,
        ConsumerErrorKind::TimedOut => TransportError::TimedOut,
        ConsumerErrorKind::JetStream(api) => {
            TransportError::JetStream { code: api.code() as u16, description: api.to_string() }
        }
        _ => TransportError::Other(format!("cannot create the consumer {durable}: {error}")),
    }
}

fn publish_error(error: &jetstream::context::PublishError, size: usize) -> TransportError {
    use jetstream::context::PublishErrorKind;
    match error.kind() {
        PublishErrorKind::TimedOut => TransportError::TimedOut,
        PublishErrorKind::StreamNotFound => TransportError::NoResponders,
        PublishErrorKind::MaxPayloadExceeded => TransportError::PayloadTooLarge(size),
        PublishErrorKind::BrokenPipe => TransportError::Disconnected(error.to_string()),
        _ => TransportError::Other(format!("acked publish failed: {error}")),
    }
}

/// A durable pull consumer over async-nats: its `messages()` stream pulls in
/// batches, re-pulls after a reconnect and watches the server's heartbeats.
pub struct NatsConsumer {
    consumer: jetstream::consumer::Consumer<jetstream::consumer::pull::Config>,
    messages: jetstream::consumer::pull::Stream,
}

impl std::fmt::Debug for NatsConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsConsumer").finish_non_exhaustive()
    }
}

fn stream_message(message: jetstream::Message) -> Option<StreamMessage> {
    let message = message.message;
    let ack_subject = message.reply?.to_string();
    let info = ack_subject_info(&ack_subject)?;
    Some(StreamMessage {
        subject: message.subject.to_string(),
        payload: message.payload,
        stream_seq: info.stream_seq,
        delivered: info.delivered,
        ack_subject,
    })
}

impl StreamConsumer for NatsConsumer {
    async fn next(&mut self) -> Result<StreamMessage, TransportError> {
        loop {
            match self.messages.next().await {
                Some(Ok(message)) => match stream_message(message) {
                    Some(message) => return Ok(message),
                    None => tracing::warn!("[NATS] a consumer delivery without a $JS.ACK reply subject skipped"),
                },
                // Missed heartbeats and pull errors are reported and retried by async-nats.
                Some(Err(error)) => tracing::warn!(%error, "[NATS] pull consumer"),
                None => return Err(TransportError::Disconnected("the consumer's message stream ended".into())),
            }
        }
    }

    fn try_next(&mut self) -> Option<StreamMessage> {
        loop {
            let next = futures::FutureExt::now_or_never(tokio::task::unconstrained(self.messages.next()))??;
            if let Ok(message) = next {
                if let Some(message) = stream_message(message) {
                    return Some(message);
                }
            }
        }
    }

    async fn ack_floor(&self) -> Result<u64, TransportError> {
        let info =
            self.consumer.get_info().await.map_err(|e| TransportError::Other(format!("consumer info failed: {e}")))?;
        Ok(info.ack_floor.stream_sequence)
    }
}

/// An async-nats subscriber.
#[derive(Debug)]
pub struct NatsSubscription {
    inner: async_nats::Subscriber,
}

fn convert(message: async_nats::Message) -> BusMessage {
    BusMessage {
        subject: message.subject.to_string(),
        reply: message.reply.map(|r| r.to_string()),
        payload: message.payload,
    }
}

impl Subscription for NatsSubscription {
    async fn next(&mut self) -> Option<BusMessage> {
        self.inner.next().await.map(convert)
    }

    fn try_next(&mut self) -> Option<BusMessage> {
        // Unconstrained: tokio's cooperative budget would otherwise report an
        // empty queue after ~128 polls in one task turn, and a drain would stop
        // with messages still waiting.
        futures::FutureExt::now_or_never(tokio::task::unconstrained(self.inner.next())).flatten().map(convert)
    }
}
