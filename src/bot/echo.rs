//! Lines sent to a live channel whose echo has not come back yet.
//!
//! Said exactly once across reconnects: a line is marked sent only once the
//! server accepted it, which the server shows by echoing it to every socket,
//! the bot's included. Until then the line is in flight, and a poll that
//! returns it again does not say it again. The server handles a socket's lines
//! in order, so when a later line's echo arrives, an earlier one still in
//! flight was dropped (a `cooldown`): a transient failure, retried with the
//! usual backoff. A line in flight when the socket dropped is decided by the
//! re-join's history: there, it was accepted; missing from it when the new
//! `userlist` arrives, it was lost, and is retried. (The history holds 15
//! lines: a line older than that cannot be told apart, and is retried.)
//!
//! A line whose echo did not come within [`ECHO_TIMEOUT_MS`] is marked failed,
//! but the server may only be slow (seen with a CyTube paused for 15 s: it
//! echoed the line when it resumed). So the line is kept as *late*: an echo
//! that still comes before the line is said again confirms it (`mark_sent`
//! after the `mark_failed`), and the retry, which would say it a second time,
//! finds it sent. Late lines are forgotten when said again and after a
//! re-join (whose history was the last chance to see them).

use crate::cytube::echo::is_echo_of;

/// How long a line may wait for its echo on a live connection before it
/// counts as not accepted.
pub const ECHO_TIMEOUT_MS: i64 = 10_000;

/// One line in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pending {
    id: i64,
    text: String,
    sent_at_ms: i64,
}

/// What an echo settled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EchoOutcome {
    /// The message the echo confirms.
    pub confirmed: Option<i64>,
    /// Messages sent before it whose echo never came: dropped by the server.
    pub dropped: Vec<i64>,
}

/// The lines in flight, in send order.
#[derive(Debug, Clone, Default)]
pub struct AwaitingEcho {
    lines: Vec<Pending>,
    /// Lines that timed out; a late echo still confirms them.
    late: Vec<Pending>,
}

/// At most this many late lines are remembered (the oldest go first).
const MAX_LATE: usize = 64;

impl AwaitingEcho {
    pub fn contains(&self, id: i64) -> bool {
        self.lines.iter().any(|line| line.id == id)
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn push(&mut self, id: i64, text: &str, sent_at_ms: i64) {
        self.lines.push(Pending { id, text: text.to_string(), sent_at_ms });
    }

    /// The bot's own line `msg` came back from the server.
    pub fn on_echo(&mut self, msg: &str) -> EchoOutcome {
        let Some(index) = self.lines.iter().position(|line| is_echo_of(msg, &line.text)) else {
            // Lines in flight were all sent after a late one, so none was dropped.
            let Some(index) = self.late.iter().position(|line| is_echo_of(msg, &line.text)) else {
                return EchoOutcome::default();
            };
            let id = self.late.remove(index).id;
            tracing::info!(id, "a late echo confirms an outbound message marked not echoed: marked sent");
            return EchoOutcome { confirmed: Some(id), dropped: Vec::new() };
        };
        let settled: Vec<Pending> = self.lines.drain(..=index).collect();
        let (confirmed, dropped) = settled.split_last().map_or((None, Vec::new()), |(last, earlier)| {
            (Some(last.id), earlier.iter().map(|line| line.id).collect())
        });
        EchoOutcome { confirmed, dropped }
    }

    /// Lines sent before `now - ECHO_TIMEOUT_MS`: not accepted.
    pub fn expire(&mut self, now_ms: i64) -> Vec<i64> {
        let (late, waiting): (Vec<Pending>, Vec<Pending>) =
            self.lines.drain(..).partition(|line| now_ms - line.sent_at_ms >= ECHO_TIMEOUT_MS);
        self.lines = waiting;
        let ids = late.iter().map(|line| line.id).collect();
        self.late.extend(late);
        let excess = self.late.len().saturating_sub(MAX_LATE);
        self.late.drain(..excess);
        ids
    }

    /// Whether `id` timed out and may still be confirmed by a late echo.
    #[cfg(test)]
    pub fn is_late(&self, id: i64) -> bool {
        self.late.iter().any(|line| line.id == id)
    }

    /// `id` is being said again: a late echo can no longer be told from the new one's.
    pub fn forget_late(&mut self, id: i64) {
        self.late.retain(|line| line.id != id);
    }

    /// Every line still in flight (a re-join's history did not show them);
    /// late lines are forgotten too.
    pub fn take_all(&mut self) -> Vec<i64> {
        self.late.clear();
        self.lines.drain(..).map(|line| line.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_echo_confirms_its_line_and_drops_the_earlier_ones() {
        let mut waiting = AwaitingEcho::default();
        waiting.push(1, "one", 0);
        waiting.push(2, "two & more", 0);
        waiting.push(3, "three", 0);
        assert_eq!(waiting.on_echo("unrelated"), EchoOutcome::default());
        assert_eq!(waiting.on_echo("two &amp; more"), EchoOutcome { confirmed: Some(2), dropped: vec![1] });
        assert!(waiting.contains(3) && !waiting.contains(1));
        assert_eq!(waiting.expire(9_999), Vec::<i64>::new());
        assert_eq!(waiting.expire(10_000), vec![3]);
        assert_eq!(waiting.len(), 0);
    }

    #[test]
    fn a_late_echo_still_confirms_a_timed_out_line_until_it_is_said_again() {
        let mut waiting = AwaitingEcho::default();
        waiting.push(1, "slow", 0);
        assert_eq!(waiting.expire(ECHO_TIMEOUT_MS), vec![1]);
        assert!(waiting.is_late(1));
        waiting.push(2, "next", ECHO_TIMEOUT_MS);
        assert_eq!(waiting.on_echo("slow"), EchoOutcome { confirmed: Some(1), dropped: vec![] });
        assert!(!waiting.is_late(1) && waiting.contains(2), "the newer line still waits");
        assert_eq!(waiting.on_echo("slow"), EchoOutcome::default(), "confirmed once");

        waiting.push(3, "again", 0);
        waiting.expire(ECHO_TIMEOUT_MS);
        waiting.forget_late(3);
        assert_eq!(waiting.on_echo("again"), EchoOutcome::default());
        waiting.push(4, "lost", 0);
        waiting.expire(ECHO_TIMEOUT_MS);
        waiting.take_all();
        assert!(!waiting.is_late(4));
    }
}
