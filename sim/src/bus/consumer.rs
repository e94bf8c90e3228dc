//! [`SimConsumer`]: a durable pull consumer over the simulated bus, the
//! stand-in for async-nats' `consumer.messages()`.
//!
//! A background task keeps one pull request outstanding on the consumer's
//! inbox (a batch of [`PULL_BATCH`] expiring after [`PULL_EXPIRES`]) and
//! makes a new one when the batch is used up, when it expires (the server's
//! 408, or a local deadline if that status was lost), and after every
//! reconnect (the server dropped the old request with the old connection).
//! Messages it receives wait in a channel for [`StreamConsumer::next`].

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use rosey::transport::{ack_subject_info, StreamConsumer, StreamMessage, TransportError};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client::SimTransport;
use super::frame::Frame;
use super::jetstream::api::{nanos, ConsumerInfoJson, PullRequestJson};
use super::js_client::api_request;
use super::state::Delivery;

/// Messages asked for per pull request.
pub const PULL_BATCH: u64 = 200;
/// How long one pull request waits at the server for messages.
pub const PULL_EXPIRES: Duration = Duration::from_secs(30);
/// How long to wait before pulling again when nobody answers pulls (the
/// consumer or JetStream is gone, e.g. a memory stream after a restart).
const RETRY_DELAY: Duration = Duration::from_secs(1);

/// A durable pull consumer; dropping it stops its pulls.
pub struct SimConsumer {
    transport: SimTransport,
    stream: String,
    name: String,
    messages: mpsc::UnboundedReceiver<StreamMessage>,
    task: tokio::task::AbortHandle,
}

impl fmt::Debug for SimConsumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConsumer").field("stream", &self.stream).field("name", &self.name).finish()
    }
}

impl SimConsumer {
    /// Starts pulling from `stream`'s durable `name` in the background.
    pub(crate) fn start(transport: SimTransport, stream: &str, name: &str) -> SimConsumer {
        let (sender, messages) = mpsc::unbounded_channel();
        let puller = Puller {
            transport: transport.clone(),
            subject: format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}"),
            out: sender,
        };
        let task = tokio::spawn(puller.run()).abort_handle();
        SimConsumer { transport, stream: stream.to_string(), name: name.to_string(), messages, task }
    }
}

impl Drop for SimConsumer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StreamConsumer for SimConsumer {
    async fn next(&mut self) -> Result<StreamMessage, TransportError> {
        self.messages.recv().await.ok_or_else(|| TransportError::Disconnected("the consumer's pull task ended".into()))
    }

    /// A channel `try_recv`: no waiting and no cooperative budget involved.
    fn try_next(&mut self) -> Option<StreamMessage> {
        self.messages.try_recv().ok()
    }

    async fn ack_floor(&self) -> Result<u64, TransportError> {
        let subject = format!("$JS.API.CONSUMER.INFO.{}.{}", self.stream, self.name);
        let info: ConsumerInfoJson = api_request(&self.transport, &subject, Vec::new()).await?;
        Ok(info.ack_floor.stream_seq)
    }
}

/// The background task's state.
struct Puller {
    transport: SimTransport,
    subject: String,
    out: mpsc::UnboundedSender<StreamMessage>,
}

/// The pull request in flight.
struct Outstanding {
    /// Messages it may still bring.
    remaining: u64,
    /// The connection it went out on.
    generation: u64,
    /// When to give up on it if the server's 408 never comes.
    deadline: Instant,
}

impl Puller {
    async fn run(self) {
        let inbox = self.transport.new_inbox();
        let Ok(mut sub) = self.transport.subscribe_now(&inbox, None) else {
            tracing::warn!(inbox, "[NATS] consumer inbox refused");
            return;
        };
        let mut outstanding: Option<Outstanding> = None;
        loop {
            let shared = self.transport.shared.clone();
            let changed = shared.room.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (connected, generation) = {
                let state = shared.lock();
                (state.connected, state.generation)
            };
            if outstanding.as_ref().is_some_and(|o| o.generation != generation && connected) {
                outstanding = None;
            }
            if connected && outstanding.is_none() {
                outstanding = self.pull(&inbox, generation).await;
            }
            let deadline = outstanding.as_ref().map(|o| o.deadline);
            tokio::select! {
                delivery = sub.next_delivery() => match delivery {
                    None => return,
                    Some(delivery) => {
                        if !self.take(delivery, &mut outstanding).await {
                            return;
                        }
                    }
                },
                () = rosey::timers::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    outstanding = None;
                }
                // A (re)connect or a dequeue: look at the generation again.
                () = changed => {}
            }
        }
    }

    /// Sends one pull request; `None` when it could not even be queued.
    async fn pull(&self, inbox: &str, generation: u64) -> Option<Outstanding> {
        let request = PullRequestJson { batch: PULL_BATCH, expires: nanos(PULL_EXPIRES), no_wait: false };
        let payload = Bytes::from(serde_json::to_vec(&request).ok()?);
        let frame = Frame::Pub {
            subject: self.subject.clone(),
            reply: Some(inbox.to_string()),
            msg_id: None,
            expected_last_msg_id: None,
            payload,
        };
        if let Err(error) = self.transport.enqueue_publish(frame.to_bytes()).await {
            tracing::debug!(%error, "[NATS] pull request not queued");
            return None;
        }
        let deadline = Instant::now() + PULL_EXPIRES + Duration::from_secs(1);
        Some(Outstanding { remaining: PULL_BATCH, generation, deadline })
    }

    /// Handles one delivery on the inbox; false once the consumer is dropped.
    async fn take(&self, delivery: Delivery, outstanding: &mut Option<Outstanding>) -> bool {
        if delivery.no_responders {
            tracing::warn!(subject = %self.subject, "[NATS] no consumer answers pulls; retrying");
            rosey::timers::sleep(RETRY_DELAY).await;
            *outstanding = None;
            return true;
        }
        if let Some(status) = delivery.status {
            // 408: the request expired; 404/409: refused. Either way it is over.
            tracing::trace!(status, "[NATS] pull request ended");
            *outstanding = None;
            return true;
        }
        let message = delivery.message;
        let Some(ack_subject) = message.reply else {
            tracing::warn!("[NATS] a consumer delivery without a $JS.ACK reply subject skipped");
            return true;
        };
        let Some(info) = ack_subject_info(&ack_subject) else {
            tracing::warn!(%ack_subject, "[NATS] a consumer delivery with an unreadable ack subject skipped");
            return true;
        };
        if let Some(o) = outstanding {
            o.remaining = o.remaining.saturating_sub(1);
            if o.remaining == 0 {
                *outstanding = None;
            }
        }
        let message = StreamMessage {
            subject: message.subject,
            payload: message.payload,
            stream_seq: info.stream_seq,
            delivered: info.delivered,
            ack_subject,
        };
        self.out.send(message).is_ok()
    }
}
