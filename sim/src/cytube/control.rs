//! [`FakeCytube`], the handle tests and the simulator hold: accounts and
//! settings, simulated users, faults, and what happened, with waits that
//! return as soon as a condition holds (no sleeps).

use std::sync::Arc;

use serde_json::json;

use super::config::{Account, FakeClock, FakeConfig};
use super::payload::ChatLine;
use super::state::{Fake, FakeStats, Shared};

/// A fake CyTube server: cheap to clone, every clone the same server.
#[derive(Clone)]
pub struct FakeCytube {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for FakeCytube {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeCytube").field("stats", &self.stats()).finish()
    }
}

impl FakeCytube {
    /// A server that is not listening yet; see [`serve`](FakeCytube::serve).
    pub fn new(config: FakeConfig, clock: Arc<dyn FakeClock>) -> FakeCytube {
        FakeCytube { shared: Shared::new(Fake::new(config, clock)) }
    }

    /// Registers (or replaces) an account with global rank 1.
    pub fn register(&self, name: &str, password: &str, channel_rank: i64) {
        let account = Account { name: name.into(), password: password.into(), global_rank: 1, channel_rank };
        self.shared.with(|fake| fake.config.accounts.insert(name.to_lowercase(), account));
    }

    /// Sets or clears the channel password; it applies to later joins.
    pub fn set_channel_password(&self, password: Option<&str>) {
        self.shared.with(|fake| fake.config.channel_password = password.map(str::to_string));
    }

    /// A simulated user (no socket) joins, logged in with `rank` (0 guest,
    /// 1 registered, 2 moderator, ...). A member under the same name is
    /// kicked for a duplicate login, as a second browser would do.
    pub fn user_join(&self, name: &str, rank: i64) {
        self.shared.with(|fake| fake.simulated_join(name, rank));
    }

    /// A simulated user says `msg`, through the same checks, throttle and
    /// formatting as a socket's line. False when no such simulated user is in.
    pub fn user_chat(&self, name: &str, msg: &str) -> bool {
        self.shared.with(|fake| {
            let uid = fake.simulated_named(name);
            uid.inspect(|&uid| fake.chat_msg(uid, &json!({ "msg": msg }))).is_some()
        })
    }

    /// A simulated user goes AFK or comes back (`setUserMeta`, `setAFK`).
    pub fn user_afk(&self, name: &str, afk: bool) -> bool {
        self.shared.with(|fake| fake.simulated_named(name).inspect(|&uid| fake.set_afk(uid, afk)).is_some())
    }

    /// A simulated user leaves (`userLeave`, `usercount`).
    pub fn user_leave(&self, name: &str) -> bool {
        self.shared.with(|fake| fake.simulated_named(name).inspect(|&uid| fake.part_user(uid)).is_some())
    }

    /// Mutes a member (socket or simulated): its chat gets `noflood`
    /// instead of a broadcast. Moderators hear the new `setUserMeta`.
    pub fn set_muted(&self, name: &str, muted: bool) -> bool {
        self.shared.with(|fake| {
            let uid = fake.member_named(name);
            if let Some(user) = uid.and_then(|uid| fake.users.get_mut(&uid)) {
                user.muted = muted;
            }
            uid.inspect(|&uid| fake.send_user_meta(uid, 2)).is_some()
        })
    }

    /// The `msg` of every line broadcast from `name`, in order (its echo).
    pub fn said(&self, name: &str) -> Vec<String> {
        said(&self.shared.lock(), name)
    }

    /// Every chat line broadcast so far, `/clear` and restarts notwithstanding.
    pub fn chat_log(&self) -> Vec<ChatLine> {
        self.shared.lock().log.clone()
    }

    /// The history a joiner is sent now (at most 15 lines).
    pub fn history(&self) -> Vec<ChatLine> {
        self.shared.lock().history.iter().cloned().collect()
    }

    /// `cooldown` events sent to users named `name`.
    pub fn cooldowns(&self, name: &str) -> u64 {
        self.shared.lock().cooldowns.get(name).copied().unwrap_or(0)
    }

    /// The logged-in members' names, in join order.
    pub fn users(&self) -> Vec<String> {
        let fake = self.shared.lock();
        fake.members.iter().map(|uid| &fake.users[uid]).filter(|u| u.logged_in).map(|u| u.name.clone()).collect()
    }

    /// Counters and gauges.
    pub fn stats(&self) -> FakeStats {
        self.shared.lock().stats()
    }

    /// Drops every connection without a close frame, as a network cut the
    /// server noticed: members part (`userLeave` to whoever is left).
    pub fn drop_connections(&self) {
        self.shared.with(Fake::drop_connections);
    }

    /// While on, every namespace connect is answered
    /// `44{"message":"Rate limit exceeded"}`, as an empty connect bucket does.
    pub fn refuse_connects(&self, refuse: bool) {
        self.shared.with(|fake| fake.refuse = refuse);
    }

    /// While on, every line from users named `name` (any case) is throttled:
    /// dropped, and the sender told `cooldown`, as a stricter limit would.
    pub fn throttle_user(&self, name: &str, on: bool) {
        self.shared.with(|fake| {
            if on {
                fake.throttled.insert(name.to_lowercase());
            } else {
                fake.throttled.remove(&name.to_lowercase());
            }
        });
    }

    /// Puts `lines` into the chat history, as a channel's saved last lines
    /// (the oldest first; only the last 15 are kept). Not in [`chat_log`](FakeCytube::chat_log).
    pub fn seed_history(&self, lines: impl IntoIterator<Item = ChatLine>) {
        self.shared.with(|fake| {
            for line in lines {
                fake.history.push_back(line);
                while fake.history.len() > super::state::HISTORY_LINES {
                    fake.history.pop_front();
                }
            }
        });
    }

    /// Turns the real per-IP connect bucket (5, one more per 10 s) on or off.
    pub fn set_connect_bucket(&self, enforce: bool) {
        self.shared.with(|fake| fake.config.connect_bucket = enforce);
    }

    /// A server restart: every connection cut, every user gone, limiters
    /// reset; accounts, settings and the chat history stay.
    pub fn restart(&self) {
        self.shared.with(Fake::restart);
    }

    /// Waits until `name` has said at least `n` lines; returns them all.
    pub async fn wait_for_said(&self, name: &str, n: usize) -> Vec<String> {
        self.wait_until(|fake| Some(said(fake, name)).filter(|lines| lines.len() >= n)).await
    }

    /// Waits until a logged-in member is named `name` (any case).
    pub async fn wait_for_user(&self, name: &str) {
        self.wait_until(|fake| fake.member_named(name).map(|_| ())).await;
    }

    /// Waits until `condition` holds of the stats; returns them.
    pub async fn wait_for_stats(&self, condition: impl Fn(&FakeStats) -> bool) -> FakeStats {
        self.wait_until(|fake| Some(fake.stats()).filter(|stats| condition(stats))).await
    }

    /// Waits until `probe` returns something, re-checking after every change.
    async fn wait_until<R>(&self, probe: impl Fn(&Fake) -> Option<R>) -> R {
        let mut changes = self.shared.changed.subscribe();
        loop {
            if let Some(found) = probe(&self.shared.lock()) {
                return found;
            }
            if changes.changed().await.is_err() {
                unreachable!("the handle holds the sender");
            }
        }
    }
}

fn said(fake: &Fake, name: &str) -> Vec<String> {
    fake.log.iter().filter(|line| line.username == name).map(|line| line.msg.clone()).collect()
}
