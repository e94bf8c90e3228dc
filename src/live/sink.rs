//! [`LiveSink`]: the outbound loop's lines, into a live channel.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use crate::chat::{ChatSink, SaidLine, SayError, SayOutcome};
use crate::cytube::echo::{server_len, silent_reason, throttle_passes, MAX_CHAT_UNITS};

/// CyTube's chat throttle (`utilities.js` `newRateLimiter` with `chat.js`
/// `MIN_ANTIFLOOD`): a burst of 20 lines; past it one line per 100 ms; a
/// sender idle for more than 2 s starts a fresh burst. It is not a token
/// bucket: every accepted line restarts the idle clock.
pub const THROTTLE_BURST: u32 = 20;
/// The gap between lines past the burst, ms.
pub const THROTTLE_GAP_MS: i64 = 100;
/// The idle time after which a burst starts afresh, ms.
pub const THROTTLE_COOL_MS: i64 = 2_000;
/// Added to both times above: the server measures them when the lines
/// arrive, which the network can bring closer together than they were sent.
const THROTTLE_MARGIN_MS: i64 = 250;

/// The server's chat throttle, mirrored with a margin: a line it would drop
/// (answering `cooldown`) is held for a later poll instead of being sent.
#[derive(Debug, Clone, Default)]
pub struct Throttle {
    /// Lines in the current burst.
    count: u32,
    /// When the last line was let through (Unix ms).
    last_ms: Option<i64>,
}

impl Throttle {
    /// Whether a line may be sent at `at_ms`; counts it when so.
    pub fn take(&mut self, at_ms: i64) -> bool {
        let cooled = self.last_ms.is_none_or(|last| last + THROTTLE_COOL_MS + THROTTLE_MARGIN_MS < at_ms);
        if cooled {
            self.count = 1;
        } else if self.count < THROTTLE_BURST {
            self.count += 1;
        } else if at_ms - self.last_ms.unwrap_or(at_ms) < THROTTLE_GAP_MS + THROTTLE_MARGIN_MS {
            return false;
        }
        self.last_ms = Some(at_ms);
        true
    }

    /// Whether a line the server counts `passes` times (see
    /// [`throttle_passes`]) may be sent at `at_ms`; counts it only when so.
    /// The passes come at once, so past the burst a line of two never fits:
    /// it waits for a fresh burst, as the server would drop it.
    pub fn take_passes(&mut self, at_ms: i64, passes: u32) -> bool {
        let mut probe = self.clone();
        if (0..passes).all(|_| probe.take(at_ms)) {
            *self = probe;
            return true;
        }
        false
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
    /// operator shortens it. So is a line the server answers with no chat
    /// line (a blank one, or a command such as `/afk` or `/clear`): no echo
    /// could confirm it, and every retry would run the command again. A line
    /// the server would throttle waits for a later poll; anything else is
    /// queued and awaits its echo.
    fn say(&mut self, at_ms: i64, text: &str) -> Result<SayOutcome, SayError> {
        let length = server_len(text);
        if length > MAX_CHAT_UNITS {
            return Err(SayError::permanent(format!(
                "{length} characters; CyTube keeps at most {MAX_CHAT_UNITS}: shorten the message"
            )));
        }
        if let Some(reason) = silent_reason(text) {
            let what = if reason == "blank" {
                "a blank line (once control characters are spaces); CyTube drops it".to_string()
            } else {
                format!("CyTube runs {reason} as a command and echoes no chat line, so the bot could not confirm it")
            };
            return Err(SayError::permanent(format!("{what}: not sent")));
        }
        let mut shared = self.shared.borrow_mut();
        if !shared.connected {
            return Err(SayError::transient("not connected"));
        }
        if !shared.throttle.take_passes(at_ms, throttle_passes(text)) {
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
    fn the_throttle_allows_a_burst_then_spaced_lines_and_a_new_burst_after_idling() {
        let mut throttle = Throttle::default();
        assert_eq!((0..24).filter(|_| throttle.take(1_000)).count(), 20);
        assert!(!throttle.take(1_300), "past the burst, lines need a gap (with margin)");
        assert!(throttle.take(1_350));
        assert!(!throttle.take(1_400));
        // Each line let through restarts the idle clock: 2 s after it is not yet cool.
        assert_eq!((0..5).filter(|_| throttle.take(3_350)).count(), 1);
        assert_eq!((0..30).filter(|_| throttle.take(5_700)).count(), 20, "idle long enough: a fresh burst");
    }

    #[test]
    fn a_me_line_counts_twice_and_never_fits_past_the_burst() {
        let mut throttle = Throttle::default();
        assert_eq!((0..15).filter(|_| throttle.take_passes(1_000, 2)).count(), 10);
        assert!(!throttle.take_passes(1_400, 2), "past the burst the second pass comes too soon");
        assert!(throttle.take_passes(1_400, 1), "a refused line counted nothing");
        assert!(throttle.take_passes(4_000, 2), "cooled down: a fresh burst");
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

    #[test]
    fn lines_the_server_never_echoes_are_refused_for_good() {
        let mut live = sink(true);
        for text in ["/afk", "/clear", "/mute bob", " \n\t "] {
            let error = live.say(0, text).unwrap_err();
            assert!(error.permanent && error.reason.ends_with("not sent"), "{text:?}: {error}");
        }
        assert!(live.say(0, "/afk").unwrap_err().reason.contains("/afk"));
        assert_eq!(live.say(0, "/me waves"), Ok(SayOutcome::Sent));
        assert_eq!(live.say(0, "tab\there"), Ok(SayOutcome::Sent));
        assert_eq!(live.shared.borrow().outgoing.len(), 2);
    }
}
