//! [`LiveChannel`]: a CyTube session as the runner's chat source.

use std::cell::RefCell;
use std::rc::Rc;

use super::sink::{LiveSink, Shared};
use crate::bot::{ChatSource, SourceItem, Timeline};
use crate::cytube::client::{Dialer, Session, SessionEvent};
use crate::cytube::ChatEvent;
use crate::fixture::{Skip, TimedEvent};

/// A live channel: events in real time until the run is stopped or the
/// session fails for good.
pub struct LiveChannel<D: Dialer> {
    session: Session<D>,
    shared: Rc<RefCell<Shared>>,
    /// Socket events received, counted: the `line` of traces and skips, as a
    /// recording of the same session would number them.
    received: usize,
}

impl<D: Dialer> LiveChannel<D> {
    /// The source and the sink of one session.
    pub fn new(session: Session<D>) -> (LiveChannel<D>, LiveSink) {
        let shared = Rc::new(RefCell::new(Shared::default()));
        let sink = LiveSink { shared: shared.clone() };
        (LiveChannel { session, shared, received: 0 }, sink)
    }

    /// Leaves the channel cleanly (after the bot's shutdown).
    pub async fn close(&mut self) {
        self.flush();
        self.session.close().await;
    }

    /// Hands the lines the sink accepted to the session, which writes them on
    /// its next poll. A line the session cannot take (the socket just closed)
    /// stays in flight and is settled by the echo rules: retried, never lost.
    fn flush(&mut self) {
        let lines: Vec<String> = self.shared.borrow_mut().outgoing.drain(..).collect();
        for line in lines {
            if let Err(error) = self.session.emit_chat(&line) {
                tracing::warn!(%error, "[CyTube] a line could not be written; it will be retried");
            }
        }
    }

    /// One session event as the runner's item; `None` for events that only log.
    fn item(&mut self, event: SessionEvent, at_ms: i64) -> Option<SourceItem> {
        let timed = |line, event| Some(SourceItem::Event(TimedEvent { line, at_ms, event }));
        match event {
            SessionEvent::Connected { attempt } => {
                tracing::info!(attempt, "[CyTube] connected; joining");
                self.shared.borrow_mut().connected = true;
                timed(self.received, ChatEvent::Connect)
            }
            SessionEvent::Event { name, data } => {
                self.received += 1;
                match ChatEvent::parse(&name, &data) {
                    Ok(event) => timed(self.received, event),
                    Err(error) => {
                        Some(SourceItem::Skip { at_ms, skip: Skip { line: self.received, reason: error.to_string() } })
                    }
                }
            }
            SessionEvent::ConnectFailed { attempt, error, retry_in } => {
                tracing::warn!(attempt, %error, retry_in_ms = retry_in.as_millis() as u64, "[CyTube] connect failed");
                None
            }
            SessionEvent::Disconnected { reason, retry_in } => {
                tracing::warn!(%reason, retry_in_ms = retry_in.as_millis() as u64, "[CyTube] disconnected; reconnecting");
                self.shared.borrow_mut().connected = false;
                timed(self.received, ChatEvent::Disconnect)
            }
            SessionEvent::Fatal(error) => {
                tracing::error!(%error, "[CyTube] giving up");
                self.shared.borrow_mut().connected = false;
                Some(SourceItem::Ended { error: Some(error.to_string()) })
            }
        }
    }
}

impl<D: Dialer> ChatSource for LiveChannel<D> {
    fn end_ms(&self) -> Option<i64> {
        None
    }

    async fn next_until<T: Timeline>(&mut self, timeline: &mut T, deadline: i64) -> Option<SourceItem> {
        self.flush();
        loop {
            let event = tokio::select! {
                biased;
                event = self.session.next() => event,
                () = timeline.sleep_until(deadline) => return None,
            };
            let Some(event) = event else { return Some(SourceItem::Ended { error: None }) };
            if let Some(item) = self.item(event, timeline.now()) {
                return Some(item);
            }
        }
    }
}
