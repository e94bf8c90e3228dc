//! The outbound loop's decisions: say each fetched message once, record the
//! outcome.
//!
//! v0.5.0 published `mark_sent` fire-and-forget and had no `mark_failed`, so a
//! lost acknowledgement made it say a message again on the next poll (defect 2)
//! and a failing message was retried every 2 s forever (defect 5). The hardened
//! protocol keeps the same wire messages but remembers which ids it said: when
//! a poll returns an id it already said, the acknowledgement was lost, so it
//! sends `mark_sent` again (with the original time) instead of saying the line
//! twice. Failures are recorded with `mark_failed`, permanent or transient, so
//! the database's backoff and `max_retries` apply.

use std::collections::BTreeMap;

use super::echo::AwaitingEcho;
use crate::channel::ChannelState;
use crate::chat::{ChatSink, SayError, SayOutcome};
use crate::contract::{
    Command, MarkFailed, MarkSent, OutboundGet, OutboundRow, Request, BOT_OUTBOUND_LIMIT, DEFAULT_MAX_RETRIES,
};

/// Which outbound protocol the bot speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Said-once bookkeeping and `mark_failed` (this project).
    #[default]
    Hardened,
    /// Exactly v0.5.0: fire-and-forget `mark_sent`, failures only logged.
    #[serde(rename = "v0.5")]
    V05,
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Protocol, String> {
        match s {
            "hardened" => Ok(Protocol::Hardened),
            "v0.5" | "v05" => Ok(Protocol::V05),
            other => Err(format!("unknown protocol {other:?} (expected \"hardened\" or \"v0.5\")")),
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Hardened => "hardened",
            Protocol::V05 => "v0.5",
        })
    }
}

/// Counters of the outbound loop, for summaries and invariants.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OutboundReport {
    pub polls: u64,
    /// Polls answered with rows (possibly none).
    pub poll_replies: u64,
    pub poll_failures: u64,
    pub said: u64,
    pub acks_resent: u64,
    pub failed_permanent: u64,
    pub failed_transient: u64,
    /// Lines not sent because the server would have throttled them.
    pub held: u64,
    /// Lines the server did not echo (dropped, or lost with the connection).
    pub not_echoed: u64,
}

/// Outbound bookkeeping.
#[derive(Debug, Clone)]
pub struct Outbound {
    pub protocol: Protocol,
    /// Ids said but not yet known to be marked, with when they were said.
    said: BTreeMap<i64, i64>,
    /// Lines written to a live channel, waiting for the server's echo.
    awaiting: AwaitingEcho,
    pub report: OutboundReport,
}

impl Outbound {
    pub fn new(protocol: Protocol) -> Outbound {
        Outbound {
            protocol,
            said: BTreeMap::new(),
            awaiting: AwaitingEcho::default(),
            report: OutboundReport::default(),
        }
    }

    /// The poll: `outbound.get` with v0.5.0's bot parameters.
    pub fn request(&mut self, at_ms: i64) -> Command {
        self.report.polls += 1;
        Command::Request(Request::OutboundGet(OutboundGet {
            limit: BOT_OUTBOUND_LIMIT,
            max_retries: DEFAULT_MAX_RETRIES,
            at_ms: Some(at_ms),
        }))
    }

    /// The poll failed (timeout, no responders, bad reply): nothing to do but
    /// count it; the messages stay unsent in the database for the next poll.
    pub fn on_poll_failed(&mut self) {
        self.report.poll_failures += 1;
    }

    /// Says each fetched message (permission and mute checked first) and
    /// returns the marks to send.
    pub fn on_rows(
        &mut self,
        rows: &[OutboundRow],
        state: &ChannelState,
        chat: &mut impl ChatSink,
        at_ms: i64,
    ) -> Vec<Command> {
        self.report.poll_replies += 1;
        let hardened = self.protocol == Protocol::Hardened;
        let mut marks = Vec::new();
        for row in rows {
            if hardened {
                if let Some(&said_at) = self.said.get(&row.id) {
                    self.report.acks_resent += 1;
                    marks.push(mark_sent(row.id, said_at));
                    continue;
                }
                if self.awaiting.contains(row.id) {
                    continue;
                }
                self.awaiting.forget_late(row.id);
            }
            let outcome = state
                .may_chat()
                .map_err(|block| SayError::permanent(block.to_string()))
                .and_then(|()| chat.say(at_ms, &row.message));
            match outcome {
                Ok(SayOutcome::Sent) if hardened => {
                    self.report.said += 1;
                    self.awaiting.push(row.id, &row.message, at_ms);
                }
                Ok(SayOutcome::Said | SayOutcome::Sent) => {
                    self.report.said += 1;
                    if hardened {
                        self.said.insert(row.id, at_ms);
                    }
                    marks.push(mark_sent(row.id, at_ms));
                }
                Ok(SayOutcome::Held) => self.report.held += 1,
                Err(error) => {
                    if error.permanent {
                        self.report.failed_permanent += 1;
                    } else {
                        self.report.failed_transient += 1;
                    }
                    tracing::warn!(id = row.id, %error, "outbound message not said");
                    if hardened {
                        marks.push(Command::MarkFailed(MarkFailed {
                            message_id: row.id,
                            error: error.reason,
                            permanent: error.permanent,
                            at_ms: Some(at_ms),
                        }));
                    }
                }
            }
        }
        // A short page holds every unsent row: a said id missing from it was marked.
        if hardened && (rows.len() as i64) < BOT_OUTBOUND_LIMIT {
            self.said.retain(|id, _| rows.iter().any(|row| row.id == *id));
        }
        marks
    }

    /// Ids said whose `mark_sent` is not yet confirmed.
    pub fn unconfirmed(&self) -> usize {
        self.said.len()
    }

    /// Lines written to the channel whose echo has not come back.
    pub fn awaiting_echo(&self) -> usize {
        self.awaiting.len()
    }

    /// The bot's own line came back from the server (live or in a re-join's
    /// history): the marks it settles.
    pub fn on_own_line(&mut self, msg: &str, at_ms: i64) -> Vec<Command> {
        let outcome = self.awaiting.on_echo(msg);
        let mut marks = self.not_echoed(outcome.dropped, "dropped by the server (cooldown)", at_ms);
        if let Some(id) = outcome.confirmed {
            self.said.insert(id, at_ms);
            marks.push(mark_sent(id, at_ms));
        }
        marks
    }

    /// The outbound tick: lines waiting longer than
    /// [`ECHO_TIMEOUT_MS`](super::ECHO_TIMEOUT_MS) for their echo failed.
    pub fn expire_echoes(&mut self, at_ms: i64) -> Vec<Command> {
        let late = self.awaiting.expire(at_ms);
        self.not_echoed(late, "not echoed by the server", at_ms)
    }

    /// A re-join's history is complete (its `userlist` arrived): lines still in
    /// flight were lost with the old connection.
    pub fn on_rejoined(&mut self, at_ms: i64) -> Vec<Command> {
        let lost = self.awaiting.take_all();
        self.not_echoed(lost, "not echoed before the connection dropped", at_ms)
    }

    fn not_echoed(&mut self, ids: Vec<i64>, reason: &str, at_ms: i64) -> Vec<Command> {
        ids.into_iter()
            .map(|id| {
                self.report.not_echoed += 1;
                self.report.failed_transient += 1;
                tracing::warn!(id, reason, "outbound message not accepted by the server; it will be retried");
                Command::MarkFailed(MarkFailed {
                    message_id: id,
                    error: reason.to_string(),
                    permanent: false,
                    at_ms: Some(at_ms),
                })
            })
            .collect()
    }
}

fn mark_sent(id: i64, at_ms: i64) -> Command {
    Command::MarkSent(MarkSent { message_id: id, at_ms: Some(at_ms) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::RecordingChat;

    fn row(id: i64, message: &str) -> OutboundRow {
        OutboundRow { id, timestamp: 0, message: message.into(), retry_count: 0, last_error: None }
    }

    struct Failing(SayError);
    impl ChatSink for Failing {
        fn say(&mut self, _: i64, _: &str) -> Result<SayOutcome, SayError> {
            Err(self.0.clone())
        }
    }

    #[test]
    fn hardened_does_not_say_twice_after_a_lost_ack() {
        let state = ChannelState::new("c", "Rosey");
        let mut chat = RecordingChat::default();
        let mut outbound = Outbound::new(Protocol::Hardened);
        let first = outbound.on_rows(&[row(1, "hi")], &state, &mut chat, 2_000);
        // The mark was lost: the next poll returns the same row.
        let second = outbound.on_rows(&[row(1, "hi")], &state, &mut chat, 4_000);
        assert_eq!(chat.said.len(), 1);
        assert_eq!(first, second, "the resent ack carries the original time");
        outbound.on_rows(&[], &state, &mut chat, 6_000);
        assert_eq!(outbound.unconfirmed(), 0);
    }

    #[test]
    fn v05_says_again_after_a_lost_ack() {
        let state = ChannelState::new("c", "Rosey");
        let mut chat = RecordingChat::default();
        let mut outbound = Outbound::new(Protocol::V05);
        outbound.on_rows(&[row(1, "hi")], &state, &mut chat, 2_000);
        outbound.on_rows(&[row(1, "hi")], &state, &mut chat, 4_000);
        assert_eq!(chat.said.len(), 2);
    }

    #[test]
    fn muted_bot_marks_permanent_failure_without_saying() {
        let mut state = ChannelState::new("c", "Rosey");
        state.set_user_meta("Rosey", None, Some(true));
        let mut chat = RecordingChat::default();
        let marks = Outbound::new(Protocol::Hardened).on_rows(&[row(3, "x")], &state, &mut chat, 0);
        assert!(chat.said.is_empty());
        assert_eq!(
            marks,
            [Command::MarkFailed(MarkFailed { message_id: 3, error: "muted".into(), permanent: true, at_ms: Some(0) })]
        );
    }

    #[test]
    fn transient_failure_is_recorded_under_hardened_and_only_logged_under_v05() {
        let state = ChannelState::new("c", "Rosey");
        let mut chat = Failing(SayError::transient("not connected"));
        let marks = Outbound::new(Protocol::Hardened).on_rows(&[row(4, "x")], &state, &mut chat, 0);
        assert!(matches!(&marks[..], [Command::MarkFailed(MarkFailed { permanent: false, .. })]));
        let marks = Outbound::new(Protocol::V05).on_rows(&[row(4, "x")], &state, &mut chat, 0);
        assert!(marks.is_empty());
    }
}
