//! The history rule: which chat lines of a (re)join's history replay are new.
//!
//! CyTube replays the channel's last 15 lines on every join, before the
//! `userlist`. On the first connection of a run the whole history is skipped
//! (contract section 5: it happened before the bot was there). After a
//! re-join the history holds lines the bot already stored, which must not be
//! stored again, and possibly lines said while the bot was away, which it has
//! not: those are recovered, once each, in order, at their CyTube `time`.
//!
//! A history line is new when its `time` is later than the newest line the
//! bot saw before it lost the connection, or at that same millisecond but not
//! one of the lines seen then. Every line the bot sees, history or live,
//! moves that mark, so a second re-join does not recover a line twice.

/// The newest CyTube `time` seen, and the lines (user, text) seen at that ms.
type Newest = Option<(i64, Vec<(String, String)>)>;

/// What the bot has seen of the channel's chat, by CyTube `time`.
#[derive(Debug, Clone, Default)]
pub struct ChatHistory {
    newest: Newest,
    /// The mark as it stood when the connection was lost: what a re-join's
    /// history is compared with. `None` on the first connection.
    rejoin_mark: Option<Newest>,
}

impl ChatHistory {
    /// A new connection: after a first one, its history is judged against what
    /// was seen until now.
    pub fn connected(&mut self, rejoin: bool) {
        self.rejoin_mark = rejoin.then(|| self.newest.clone());
    }

    /// Whether history lines are being judged against an earlier connection.
    pub fn is_rejoin(&self) -> bool {
        self.rejoin_mark.is_some()
    }

    /// Whether a history line replayed on a re-join was said while the bot was
    /// away. Lines without a `time` cannot be placed and are never recovered.
    pub fn is_new(&self, time: Option<i64>, username: &str, msg: &str) -> bool {
        let (Some(time), Some(mark)) = (time, &self.rejoin_mark) else { return false };
        match mark {
            None => true,
            Some((newest, lines)) => {
                time > *newest || (time == *newest && !lines.iter().any(|(u, m)| u == username && m == msg))
            }
        }
    }

    /// Records a line the bot saw (stored or skipped).
    pub fn saw(&mut self, time: Option<i64>, username: &str, msg: &str) {
        let Some(time) = time else { return };
        match &mut self.newest {
            Some((newest, lines)) if time == *newest => lines.push((username.to_string(), msg.to_string())),
            Some((newest, _)) if time < *newest => {}
            _ => self.newest = Some((time, vec![(username.to_string(), msg.to_string())])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_connection_recovers_nothing_and_a_rejoin_only_what_is_new() {
        let mut history = ChatHistory::default();
        history.connected(false);
        assert!(!history.is_new(Some(5), "a", "old"));
        history.saw(Some(5), "a", "old");
        history.saw(Some(9), "b", "x");
        history.saw(Some(9), "c", "y");
        history.connected(true);
        assert!(!history.is_new(Some(5), "a", "old"), "already seen");
        assert!(!history.is_new(Some(9), "b", "x"), "seen at the newest ms");
        assert!(history.is_new(Some(9), "d", "z"), "another line at the newest ms");
        assert!(history.is_new(Some(10), "b", "x"), "later");
        assert!(!history.is_new(None, "b", "later"), "no time: cannot be placed");
    }

    #[test]
    fn a_rejoin_before_any_line_recovers_every_timed_line() {
        let mut history = ChatHistory::default();
        history.connected(true);
        assert!(history.is_new(Some(1), "a", "hi"));
    }
}
