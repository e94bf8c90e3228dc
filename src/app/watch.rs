//! `rosey watch`: a live, decoded view of the bus (the seed's "event observability").

use std::future::Future;
use std::io::Write;

use crate::config::Settings;
use crate::contract::Command;
use crate::transport::{NatsTransport, Subscription, Transport};

/// Prints every message on `subject` (default `rosey.>`) to `out`, one line
/// each: subject, then the payload, or why it does not decode. Stops after
/// `count` messages or when `shutdown` resolves.
pub async fn watch(
    settings: &Settings,
    subject: &str,
    count: Option<u64>,
    out: &mut impl Write,
    shutdown: impl Future<Output = ()>,
) -> crate::Result<u64> {
    let transport = NatsTransport::connect(&settings.nats_options("rosey-watch")).await?;
    let mut subscription = transport.subscribe(subject, None).await?;
    transport.round_trip().await?;
    writeln!(out, "watching {subject} (Ctrl-C to stop)")?;
    out.flush()?;
    let mut seen = 0;
    let mut shutdown = std::pin::pin!(shutdown);
    while count.is_none_or(|limit| seen < limit) {
        let message = tokio::select! {
            () = &mut shutdown => break,
            message = subscription.next() => match message { Some(m) => m, None => break },
        };
        seen += 1;
        let text = String::from_utf8_lossy(&message.payload);
        let verdict = if message.subject.starts_with(crate::contract::SUBJECT_PREFIX) {
            match Command::decode(&message.subject, &message.payload) {
                Ok(command) if command.subject().is_request() => "request".to_string(),
                Ok(_) => "event".to_string(),
                Err(error) => format!("MALFORMED ({})", error.reason),
            }
        } else {
            "other".to_string()
        };
        writeln!(out, "{:<40} {verdict:<8} {text}", message.subject)?;
        out.flush()?;
    }
    Ok(seen)
}
