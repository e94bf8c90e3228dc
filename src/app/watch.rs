//! `rosey watch`: a live, decoded view of the bus (the seed's "event observability").
//!
//! # Format
//!
//! One line per message, the subject padded to 40 columns, then the verdict
//! padded to 8 (`event`, `request`, `MALFORMED (why)`, `other` off the
//! `rosey.db.` subjects), then the payload:
//!
//! ```text
//! rosey.db.messages.outbound.get          request  {"limit":20}
//! ```
//!
//! With `delivery = "jetstream"` it also shows the stream's view, and a
//! message on a subject the stream captures is shown once, from the stream
//! (its core copy skipped), with its stream sequence and `Nats-Msg-Id`
//! (`-` when it has none: a v0.5.0 bot's core publish):
//!
//! ```text
//! rosey.db.user.joined                     event    seq=12 id=bot-x7Qm-40 {"username":"amy"}
//! $JS.ACK.ROSEY_DB.rosey-db                ack      seq=12 delivered=1 +ACK
//! ```
//!
//! The second kind of line is a consumer's acknowledgement as it crosses the
//! bus (the db-service's, after each commit): the sequence it acknowledges and
//! the delivery it answers, so a redelivery shows as `delivered=2` or more.
//! The stream's messages come from an ordered consumer that starts at the
//! newest message: watching replays nothing and acknowledges nothing, so
//! the db-service's consumer is untouched.

use std::future::Future;
use std::io::Write;

use async_nats::jetstream::consumer::{pull, DeliverPolicy};
use futures::StreamExt;

use crate::config::Settings;
use crate::contract::Command;
use crate::delivery::Delivery;
use crate::transport::{
    ack_subject_info, NatsTransport, Subscription, Transport, TransportError, ACK_PAYLOAD, MSG_ID_HEADER,
};

/// Prints every message on `subject` (default `rosey.>`) to `out`, one line
/// each (see the module's format), and with JetStream delivery the stream's
/// messages and acknowledgements too. Stops after `count` lines or when
/// `shutdown` resolves.
///
/// # Errors
///
/// When the server cannot be reached; with JetStream delivery also when it
/// has no JetStream or the stream does not exist yet (the message says what
/// to start).
pub async fn watch(
    settings: &Settings,
    subject: &str,
    count: Option<u64>,
    out: &mut impl Write,
    shutdown: impl Future<Output = ()>,
) -> crate::Result<u64> {
    let transport = NatsTransport::connect(&settings.nats_options("rosey-watch")).await?;
    let mut subscription = transport.subscribe(subject, None).await?;
    let mut stream = match settings.delivery() {
        Delivery::Core => None,
        Delivery::Jetstream => Some(StreamView::open(&transport, &settings.jetstream().stream.name, subject).await?),
    };
    transport.round_trip().await?;
    match &stream {
        Some(view) => writeln!(out, "watching {subject} and the stream {} (Ctrl-C to stop)", view.name)?,
        None => writeln!(out, "watching {subject} (Ctrl-C to stop)")?,
    }
    out.flush()?;
    let mut seen = 0;
    let mut shutdown = std::pin::pin!(shutdown);
    while count.is_none_or(|limit| seen < limit) {
        let line = tokio::select! {
            () = &mut shutdown => break,
            message = subscription.next() => match message {
                // Shown from the stream, with its sequence.
                Some(m) if stream.as_ref().is_some_and(|view| view.captures(&m.subject)) => continue,
                Some(m) => format!("{:<40} {:<8} {}", m.subject, verdict(&m.subject, &m.payload), text(&m.payload)),
                None => break,
            },
            line = next_stream_line(&mut stream) => match line? {
                Some(line) => line,
                None => continue,
            },
        };
        seen += 1;
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(seen)
}

/// What a message on `subject` is to the db-service.
fn verdict(subject: &str, payload: &[u8]) -> String {
    if !subject.starts_with(crate::contract::SUBJECT_PREFIX) {
        return "other".to_string();
    }
    match Command::decode(subject, payload) {
        Ok(command) if command.subject().is_request() => "request".to_string(),
        Ok(_) => "event".to_string(),
        Err(error) => format!("MALFORMED ({})", error.reason),
    }
}

fn text(payload: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(payload)
}

/// The next line of the stream's view; never resolves without JetStream.
async fn next_stream_line(stream: &mut Option<StreamView>) -> Result<Option<String>, TransportError> {
    match stream {
        Some(view) => view.next_line().await,
        None => std::future::pending().await,
    }
}

/// The stream's side of the bus: what it stores, and the acks its consumers send.
struct StreamView {
    name: String,
    /// The stream's subjects, as the server has them: what it captures.
    captured: Vec<String>,
    /// The watched subject: stored messages outside it are not shown.
    watched: String,
    stored: pull::Ordered,
    acks: async_nats::Subscriber,
}

impl StreamView {
    async fn open(transport: &NatsTransport, name: &str, watched: &str) -> Result<StreamView, TransportError> {
        // Through the seam first: it turns "no JetStream" into the one-line error.
        transport.stream_state(name).await.map_err(|error| match error {
            TransportError::JetStream { code: 404, .. } => TransportError::Other(format!(
                "the stream {name} does not exist yet: start `rosey db-service --delivery jetstream` \
                 (or a bot with it), which creates it, then watch again"
            )),
            other => other,
        })?;
        let jetstream = async_nats::jetstream::new(transport.client().clone());
        let stream = jetstream
            .get_stream(name)
            .await
            .map_err(|e| TransportError::Other(format!("cannot read the stream {name}: {e}")))?;
        let captured = stream.cached_info().config.subjects.clone();
        let config = pull::OrderedConfig { deliver_policy: DeliverPolicy::New, ..Default::default() };
        let stored = stream
            .create_consumer(config)
            .await
            .map_err(|e| TransportError::Other(format!("cannot follow the stream {name}: {e}")))?
            .messages()
            .await
            .map_err(|e| TransportError::Other(format!("cannot follow the stream {name}: {e}")))?;
        let acks = transport
            .client()
            .subscribe(format!("$JS.ACK.{name}.>"))
            .await
            .map_err(|e| TransportError::Other(format!("cannot subscribe to the stream's acks: {e}")))?;
        Ok(StreamView { name: name.to_string(), captured, watched: watched.to_string(), stored, acks })
    }

    fn captures(&self, subject: &str) -> bool {
        self.captured.iter().any(|pattern| subject_matches(pattern, subject))
    }

    /// The next stored message or ack as a line; `None` for a stored message
    /// outside the watched subject.
    async fn next_line(&mut self) -> Result<Option<String>, TransportError> {
        tokio::select! {
            stored = self.stored.next() => match stored {
                Some(Ok(message)) => Ok(self.stored_line(&message)),
                // The ordered consumer recreates itself after a gap or a
                // reconnect; what it reports meanwhile is not fatal.
                Some(Err(error)) => {
                    tracing::warn!(%error, "[NATS] following the stream");
                    Ok(None)
                }
                None => Err(TransportError::Disconnected(format!("the stream {} is no longer followed", self.name))),
            },
            ack = self.acks.next() => match ack {
                Some(ack) => Ok(Some(ack_line(&ack.subject, &ack.payload))),
                None => Err(TransportError::Disconnected("the acks' subscription ended".into())),
            },
        }
    }

    fn stored_line(&self, message: &async_nats::jetstream::Message) -> Option<String> {
        if !subject_matches(&self.watched, &message.subject) {
            return None;
        }
        let seq = message.info().map_or_else(|_| "?".to_string(), |info| info.stream_sequence.to_string());
        let id = message.headers.as_ref().and_then(|headers| headers.get(MSG_ID_HEADER)).map_or("-", |id| id.as_str());
        Some(format!(
            "{:<40} {:<8} seq={seq} id={id} {}",
            message.subject.as_str(),
            verdict(&message.subject, &message.payload),
            text(&message.payload)
        ))
    }
}

/// `$JS.ACK.<stream>.<consumer> ack seq=<n> delivered=<d> <payload>`, from
/// the ack's subject (read by [`ack_subject_info`]) and payload.
fn ack_line(subject: &str, payload: &[u8]) -> String {
    let Some(info) = ack_subject_info(subject) else {
        return format!("{subject:<40} {:<8} {}", "other", text(payload));
    };
    // The stream and consumer are the two tokens before the numbers: tokens
    // 2 and 3 in 2.9's 9-token form, 4 and 5 in the domain form.
    let tokens: Vec<&str> = subject.split('.').collect();
    let named = if tokens.len() == 9 { &tokens[..4] } else { &tokens[..6.min(tokens.len())] };
    let kind = if payload == ACK_PAYLOAD { "ack" } else { "ack?" };
    format!("{:<40} {kind:<8} seq={} delivered={} {}", named.join("."), info.stream_seq, info.delivered, text(payload))
}

/// NATS subject matching: `*` stands for one token, a final `>` for one or more.
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for token in pattern.split('.') {
        match (token, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (literal, Some(actual)) if literal == actual => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_match_like_nats() {
        assert!(subject_matches("rosey.>", "rosey.db.user.joined"));
        assert!(subject_matches("rosey.db.*.joined", "rosey.db.user.joined"));
        assert!(subject_matches("rosey.db.user.joined", "rosey.db.user.joined"));
        assert!(!subject_matches("rosey.>", "rosey"));
        assert!(!subject_matches("rosey.db.*", "rosey.db.user.joined"));
        assert!(!subject_matches("rosey.db.user.joined", "rosey.db.user.left"));
        assert!(!subject_matches("rosey.db.user", "rosey.db.user.joined"));
    }

    #[test]
    fn an_ack_line_names_the_consumer_sequence_and_delivery() {
        let line = ack_line("$JS.ACK.ROSEY_DB.rosey-db.2.17.40.1733050000000000000.5", b"+ACK");
        assert_eq!(line, format!("{:<40} {:<8} seq=17 delivered=2 +ACK", "$JS.ACK.ROSEY_DB.rosey-db", "ack"));
        assert!(ack_line("$JS.ACK.S.C.1.2.3.4.5", b"-NAK").contains("ack?     seq=2 delivered=1 -NAK"));
        assert!(ack_line("$JS.ACK.nonsense", b"+ACK").contains("other"));
    }
}
