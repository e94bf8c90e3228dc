//! The chat server stand-in: records what the bot says, and fails sends while
//! a `chat_fail` (transient) or `mute` (permanent) fault is active.
//!
//! It lives in the bot's process rather than on a host of its own: the bot's
//! chat send is a synchronous socket write, so the only behaviour worth
//! simulating is whether it succeeds, and that depends on time alone.

use std::collections::BTreeMap;

use rosey::chat::{ChatSink, SaidLine, SayError, SayOutcome};

use crate::fault::{Fault, FaultSpec};

/// Records every attempt and every line said.
#[derive(Debug, Clone, Default)]
pub struct ChatStandIn {
    /// Only the `chat_fail` and `mute` faults.
    faults: Vec<Fault>,
    /// The run's virtual 0, Unix ms.
    origin_unix_ms: i64,
    /// Lines said, in order.
    pub said: Vec<SaidLine>,
    /// Attempts per text, failed ones included.
    pub attempts: BTreeMap<String, u64>,
}

impl ChatStandIn {
    pub fn new(faults: &[Fault], origin_unix_ms: i64) -> ChatStandIn {
        let faults =
            faults.iter().filter(|f| matches!(f.what, FaultSpec::ChatFail | FaultSpec::Mute)).cloned().collect();
        ChatStandIn { faults, origin_unix_ms, said: Vec::new(), attempts: BTreeMap::new() }
    }
}

impl ChatStandIn {
    /// What a real chat server showed: the lines it broadcast from the bot and the
    /// bot's attempts (`chat = "cytube"`, where the stand-in is not used).
    pub fn recorded(said: Vec<SaidLine>, attempts: BTreeMap<String, u64>) -> ChatStandIn {
        ChatStandIn { faults: Vec::new(), origin_unix_ms: 0, said, attempts }
    }
}

impl ChatSink for ChatStandIn {
    fn say(&mut self, at_ms: i64, text: &str) -> Result<SayOutcome, SayError> {
        *self.attempts.entry(text.to_string()).or_default() += 1;
        let t = at_ms - self.origin_unix_ms;
        let active = |wanted: FaultSpec| self.faults.iter().any(|f| f.what == wanted && f.is_active(t));
        if active(FaultSpec::Mute) {
            return Err(SayError::permanent("muted"));
        }
        if active(FaultSpec::ChatFail) {
            return Err(SayError::transient("not connected"));
        }
        self.said.push(SaidLine { at_ms, text: text.to_string() });
        Ok(SayOutcome::Said)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_only_inside_the_windows() {
        let faults = [Fault::new(10, 20, FaultSpec::Mute), Fault::new(30, 40, FaultSpec::ChatFail)];
        let mut chat = ChatStandIn::new(&faults, 1_000);
        assert!(chat.say(1_005, "a").is_ok());
        assert_eq!(chat.say(1_015, "b"), Err(SayError::permanent("muted")));
        assert_eq!(chat.say(1_035, "b"), Err(SayError::transient("not connected")));
        assert!(chat.say(1_040, "b").is_ok());
        assert_eq!(chat.said.len(), 2);
        assert_eq!(chat.attempts["b"], 3);
    }
}
