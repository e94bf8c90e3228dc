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
}

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
            return EchoOutcome::default();
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
        late.into_iter().map(|line| line.id).collect()
    }

    /// Every line still in flight (a re-join's history did not show them).
    pub fn take_all(&mut self) -> Vec<i64> {
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
}
