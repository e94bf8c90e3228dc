//! Event kinds in, the unchanged bot's commands out.

use std::collections::{BTreeMap, VecDeque};

use super::args::EventKind;
use crate::bot::{Bot, Protocol};
use crate::contract::Command;
use crate::cytube::{ChatEvent, User, UserlistUpdate};

/// Chatters joined by the opening `userlist`.
const CHATTERS: usize = 10;

/// Turns event kinds into the bot's commands, keeping a small channel.
pub(super) struct Source {
    bot: Bot,
    run_id: String,
    /// Users this run joined and has not yet made leave, oldest first.
    joined: VecDeque<String>,
    next_user: u64,
    /// Chat lines generated so far (each carries its number).
    pub(super) chat_seq: u64,
    /// Events generated so far, by kind.
    pub(super) counts: BTreeMap<&'static str, u64>,
}

impl Source {
    pub(super) fn new(run_id: &str, start_ms: i64) -> Source {
        Source {
            bot: Bot::new("loadtest", "rosey-loadtest", start_ms, Protocol::Hardened),
            run_id: run_id.to_string(),
            joined: VecDeque::new(),
            next_user: 0,
            chat_seq: 0,
            counts: BTreeMap::new(),
        }
    }

    fn user(name: String) -> User {
        User { name, rank: 0.0, afk: false, muted: false }
    }

    /// The opening `userlist` (the bot and a few chatters): chat lines count
    /// only after one.
    pub(super) fn opening(&mut self, at_ms: i64) -> Vec<Command> {
        let mut users = vec![Source::user("rosey-loadtest".into())];
        users.extend((0..CHATTERS).map(|i| Source::user(format!("lt-chatter-{i}"))));
        self.bot.handle(&ChatEvent::Userlist(UserlistUpdate { users, dropped: Vec::new() }), at_ms)
    }

    pub(super) fn next(&mut self, kind: EventKind, at_ms: i64) -> Vec<Command> {
        *self.counts.entry(kind.name()).or_default() += 1;
        let event = match kind {
            EventKind::Chat => {
                self.chat_seq += 1;
                let seq = self.chat_seq;
                ChatEvent::ChatMsg {
                    username: format!("lt-chatter-{}", seq % CHATTERS as u64),
                    msg: format!("loadtest {} #{seq}: the quick brown fox jumps over the lazy dog", self.run_id),
                    time: Some(at_ms),
                }
            }
            EventKind::Join => {
                self.next_user += 1;
                let name = format!("lt-{}-{}", self.run_id, self.next_user);
                self.joined.push_back(name.clone());
                ChatEvent::AddUser(Source::user(name))
            }
            EventKind::Leave => {
                let name = self.joined.pop_front().unwrap_or_else(|| format!("lt-{}-gone", self.run_id));
                ChatEvent::UserLeave { name }
            }
            EventKind::HighWater => ChatEvent::Usercount(self.bot.state.users.len() as i64 + 5),
            EventKind::Status => return vec![self.bot.status(at_ms, true)],
        };
        self.bot.handle(&event, at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_sends_two_commands_and_leave_takes_the_oldest_joined() {
        let mut source = Source::new("r", 0);
        assert_eq!(source.opening(0).len(), CHATTERS + 2);
        assert_eq!(source.next(EventKind::Join, 1).len(), 2);
        source.next(EventKind::Join, 1);
        let left = source.next(EventKind::Leave, 2);
        assert!(matches!(&left[..], [Command::UserLeft(u)] if u.username == "lt-r-1"));
        let chat = source.next(EventKind::Chat, 3);
        assert!(matches!(&chat[..], [Command::MessageLog(m)] if m.message.starts_with("loadtest r #1:")));
        assert_eq!(source.counts.values().sum::<u64>(), 4);
    }
}
