//! The `users` host: the fixture's channel replayed as simulated users of the
//! fake, at the fixture's times, and the chat faults applied to the fake.
//!
//! | fixture event | the fake |
//! |---|---|
//! | `userlist` | `user_join` for each listed user not in yet, `user_leave` for those no longer listed |
//! | `addUser` | `user_join` (a user already in: nothing) |
//! | `userLeave` | `user_leave` |
//! | `chatMsg` | `user_chat` with the text as typed (the fixture's escaping undone); a chatter not in joins first as a guest |
//! | `setAFK` | `user_afk` |
//! | chat lines before the first `userlist` | the channel's saved history |
//!
//! The bot's own entries and lines, `[server]` notices (the fake makes its
//! own), `usercount` (the fake counts), PMs, permissions, mutes, ranks and the
//! playlist are not replayed. While the server is down (`chat_restart`) the
//! users can say nothing; they come back when it is up again.

use std::time::Duration;

use rosey::cytube::echo::typed_text;
use rosey::cytube::ChatEvent;
use rosey::fixture::Fixture;

use crate::clock::sim_now_ms;
use crate::cytube::{ChatLine, ChatMeta, FakeCytube};
use crate::fault::{Fault, FaultSpec};

/// After a restart's `until_ms`, when the channel's users are back.
pub const USERS_BACK_MS: i64 = 500;

/// One step of the feeder's schedule.
enum Step<'f> {
    Event(&'f ChatEvent),
    /// A chat fault starts (`true`) or ends.
    Fault(&'f Fault, bool),
}

/// The fixture's chat lines before its first `userlist`: the channel's history.
pub fn history_of(fixture: &Fixture) -> Vec<ChatLine> {
    let start = fixture.header.start_unix_ms;
    fixture
        .events
        .iter()
        .take_while(|e| !matches!(e.event, ChatEvent::Userlist(_)))
        .filter_map(|e| match &e.event {
            ChatEvent::ChatMsg { username, msg, time } => Some(ChatLine {
                username: username.clone(),
                msg: msg.clone(),
                meta: ChatMeta::default(),
                time: time.unwrap_or(start + e.at_ms),
            }),
            _ => None,
        })
        .collect()
}

/// Whether a chat line's sender is the server (a bracketed name).
fn is_notice(username: &str) -> bool {
    username.starts_with('[') && username.ends_with(']')
}

/// Replays `fixture` into `fake` and applies the chat faults; ends after the last step.
pub async fn feed(fixture: Fixture, fake: FakeCytube, faults: Vec<Fault>) -> turmoil::Result {
    feed_with(fixture, fake, faults, sim_now_ms).await
}

/// [`feed`] on any clock of virtual ms (`rosey-sim live`: real time since the run's start).
pub async fn feed_with(fixture: Fixture, fake: FakeCytube, faults: Vec<Fault>, now: fn() -> i64) -> turmoil::Result {
    let bot = fixture.header.bot.clone();
    let first_userlist = fixture.events.iter().position(|e| matches!(e.event, ChatEvent::Userlist(_)));
    let mut schedule: Vec<(i64, usize, Step<'_>)> = Vec::new();
    for (index, event) in fixture.events.iter().enumerate().skip(first_userlist.unwrap_or(0)) {
        schedule.push((event.at_ms, index, Step::Event(&event.event)));
    }
    let base = fixture.events.len();
    for (index, fault) in faults.iter().enumerate().filter(|(_, f)| f.needs_cytube()) {
        let back = if fault.what == FaultSpec::ChatRestart { USERS_BACK_MS } else { 0 };
        schedule.push((fault.from_ms, base + 2 * index, Step::Fault(fault, true)));
        schedule.push((fault.until_ms + back, base + 2 * index + 1, Step::Fault(fault, false)));
    }
    schedule.sort_by_key(|(at, order, _)| (*at, *order));

    let mut users = Users { fake: &fake, bot: &bot, present: Vec::new(), down: 0 };
    for (at_ms, _, step) in schedule {
        let wait = at_ms - now();
        if wait > 0 {
            rosey::timers::sleep(Duration::from_millis(wait as u64)).await;
        }
        match step {
            Step::Event(event) => users.apply(event),
            Step::Fault(fault, starts) => users.fault(&fault.what, starts),
        }
    }
    Ok(())
}

/// The simulated users as the feeder knows them (the server forgets them on a restart).
struct Users<'a> {
    fake: &'a FakeCytube,
    bot: &'a str,
    /// Who is in the channel, with their rank, in join order.
    present: Vec<(String, i64)>,
    /// Restarts in progress: the server is down.
    down: usize,
}

impl Users<'_> {
    fn join(&mut self, name: &str, rank: i64) {
        if name == self.bot || self.present.iter().any(|(n, _)| n == name) {
            return;
        }
        self.present.push((name.to_string(), rank));
        if self.down == 0 {
            self.fake.user_join(name, rank);
        }
    }

    fn leave(&mut self, name: &str) {
        let Some(index) = self.present.iter().position(|(n, _)| n == name) else { return };
        self.present.remove(index);
        if self.down == 0 {
            self.fake.user_leave(name);
        }
    }

    fn apply(&mut self, event: &ChatEvent) {
        match event {
            ChatEvent::Userlist(update) => {
                let listed: Vec<&str> = update.users.iter().map(|u| u.name.as_str()).collect();
                let gone: Vec<String> =
                    self.present.iter().map(|(n, _)| n.clone()).filter(|n| !listed.contains(&n.as_str())).collect();
                for name in gone {
                    self.leave(&name);
                }
                for user in &update.users {
                    self.join(&user.name, user.rank as i64);
                }
            }
            ChatEvent::AddUser(user) => self.join(&user.name, user.rank as i64),
            ChatEvent::UserLeave { name } => self.leave(name),
            ChatEvent::ChatMsg { username, msg, .. } if username != self.bot && !is_notice(username) => {
                self.join(username, 0);
                if self.down == 0 {
                    self.fake.user_chat(username, &typed_text(msg));
                }
            }
            ChatEvent::SetAfk { name, afk } if self.down == 0 && name != self.bot => {
                self.fake.user_afk(name, *afk);
            }
            _ => {}
        }
    }

    fn fault(&mut self, what: &FaultSpec, starts: bool) {
        match (what, starts) {
            (FaultSpec::ChatDisconnect, true) => {
                self.fake.refuse_connects(true);
                self.fake.drop_connections();
            }
            (FaultSpec::ChatDisconnect, false) => self.fake.refuse_connects(false),
            (FaultSpec::ChatThrottle, on) => self.fake.throttle_user(self.bot, on),
            // The world crashes and bounces the host; the users wait for it.
            (FaultSpec::ChatRestart, true) => self.down += 1,
            (FaultSpec::ChatRestart, false) => {
                self.down = self.down.saturating_sub(1);
                if self.down == 0 {
                    for (name, rank) in self.present.clone() {
                        self.fake.user_join(&name, rank);
                    }
                }
            }
            _ => {}
        }
    }
}
