//! [`LiveSink`]: the outbound loop's lines, into a live channel.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::chat::{ChatSink, SaidLine, SayError, SayOutcome};
use crate::cytube::echo::{server_len, MAX_CHAT_UNITS};

/// CyTube's chat throttle: a burst of 20 lines, then 10 per second.
pub const THROTTLE_BURST: f64 = 20.0;
pub const THROTTLE_PER_SECOND: f64 = 10.0;

/// The server's token bucket, mirrored: a line it would throttle is held
/// rather than sent into a `cooldown`.
#[derive(Debug, Clone)]
pub struct Throttle {
    tokens: f64,
    /// When `tokens` was last brought up to date (Unix ms).
    at_ms: Option<i64>,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle { tokens: THROTTLE_BURST, at_ms: None }
    }
}

impl Throttle {
    /// Takes one line's token at `at_ms`, if there is one.
    pub fn take(&mut self, at_ms: i64) -> bool {
        let elapsed_ms = self.at_ms.map_or(0, |last| (at_ms - last).max(0));
        self.tokens = (self.tokens + elapsed_ms as f64 * THROTTLE_PER_SECOND / 1000.0).min(THROTTLE_BURST);
        self.at_ms = Some(at_ms);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What the sink and the source share.
#[derive(Debug, Default)]
pub(super) struct Shared {
    /// Whether a connection is up (set by the source).
    pub connected: bool,
    /// Lines accepted for sending, written by the source on its next poll.
    pub outgoing: VecDeque<String>,
    pub throttle: Throttle,
    /// Every line handed to the server, in order.
    pub sent: Vec<SaidLine>,
}

/// The chat sink of a live channel.
#[derive(Debug, Clone)]
pub struct LiveSink {
    pub(super) shared: Rc<RefCell<Shared>>,
}

impl LiveSink {
    /// Every line handed to the server so far, in order.
    pub fn sent(&self) -> Vec<SaidLine> {
        self.shared.borrow().sent.clone()
    }
}

impl ChatSink for LiveSink {
    /// A line longer than the server keeps is refused for good rather than
    /// cut (or split into parts a reader would have to reassemble): the
    /// operator shortens it. A line the server would throttle waits for a
    /// later poll; anything else is queued and awaits its echo.
    fn say(&mut self, at_ms: i64, text: &str) -> Result<SayOutcome, SayError> {
        let length = server_len(text);
        if length > MAX_CHAT_UNITS {
            return Err(SayError::permanent(format!(
                "{length} characters; CyTube keeps at most {MAX_CHAT_UNITS}: shorten the message"
            )));
        }
        let mut shared = self.shared.borrow_mut();
        if !shared.connected {
            return Err(SayError::transient("not connected"));
        }
        if !shared.throttle.take(at_ms) {
            return Ok(SayOutcome::Held);
        }
        shared.outgoing.push_back(text.to_string());
        shared.sent.push(SaidLine { at_ms, text: text.to_string() });
        Ok(SayOutcome::Sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink(connected: bool) -> LiveSink {
        LiveSink { shared: Rc::new(RefCell::new(Shared { connected, ..Shared::default() })) }
    }

    #[test]
    fn the_throttle_allows_a_burst_of_20_then_10_per_second() {
        let mut throttle = Throttle::default();
        assert_eq!((0..24).filter(|_| throttle.take(1_000)).count(), 20);
        assert!(!throttle.take(1_050));
        assert!(throttle.take(1_100), "one token back after 100 ms");
        assert_eq!((0..30).filter(|_| throttle.take(4_000)).count(), 20, "refilled to the burst, no more");
    }

    #[test]
    fn long_lines_are_refused_for_good_and_a_dead_socket_is_transient() {
        let mut live = sink(true);
        let error = live.say(0, &"x".repeat(321)).unwrap_err();
        assert!(error.permanent && error.reason.contains("321 characters"), "{error}");
        assert_eq!(live.say(0, &"x".repeat(320)), Ok(SayOutcome::Sent));
        assert_eq!(live.shared.borrow().outgoing.len(), 1);
        assert_eq!(sink(false).say(0, "hi"), Err(SayError::transient("not connected")));
    }
}
