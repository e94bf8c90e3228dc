//! [`Transport`] over async-nats against a live nats-server.

use std::time::Duration;

use async_nats::client::{PublishErrorKind, RequestErrorKind};
use bytes::Bytes;
use futures::StreamExt;

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
}

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
        Ok(NatsTransport { client })
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
        Ok(NatsTransport { client })
    }

    /// The underlying client, for tools that need more than the trait.
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }
}

/// async-nats's options for `options`, and the servers without their userinfo.
async fn connect_options(options: &NatsOptions) -> Result<(async_nats::ConnectOptions, Vec<String>), TransportError> {
    let mut connect = async_nats::ConnectOptions::new().name(&options.name).event_callback(|event| async move {
        match event {
            async_nats::Event::Connected => tracing::info!("[NATS] connected"),
            async_nats::Event::Disconnected => tracing::warn!("[NATS] disconnected; reconnecting"),
            other => tracing::warn!("[NATS] {other}"),
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

    async fn publish(&self, subject: &str, payload: Bytes) -> Result<(), TransportError> {
        let size = payload.len();
        // Polled once first: on the hot path the buffer has room, and no timer is armed.
        let mut publish = std::pin::pin!(self.client.publish(subject.to_string(), payload));
        let published = match futures::poll!(publish.as_mut()) {
            std::task::Poll::Ready(published) => published,
            std::task::Poll::Pending => tokio::time::timeout(QUEUE_TIMEOUT, publish).await.map_err(|_| {
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
        tokio::time::timeout(ROUND_TRIP_TIMEOUT, echo).await.unwrap_or(Err(TransportError::TimedOut))
    }

    fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
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
