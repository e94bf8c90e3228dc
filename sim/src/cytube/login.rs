//! Logging in (`user.js` `handleLogin`, `login`, `guestLogin`), the
//! channel-rank lookup that follows a registered login (`channel.js`
//! `joinUser`), and simulated users, who join already logged in.
//!
//! The real server looks the channel rank up in its database after the
//! `login` answer and the `addUser` broadcast; the fake does the same steps
//! in the same order, at once.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::{json, Value};

use super::state::{Fake, JoinState, User};

/// `isValidUserName`: `^[\w-]{1,20}$`.
pub(crate) fn valid_user_name(name: &str) -> bool {
    (1..=20).contains(&name.chars().count()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Where simulated users "connect" from: their IP only shows, cloaked, to moderators.
const SIMULATED_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

impl Fake {
    /// `login {name, pw}`: a password login, or a guest one without `pw`.
    pub(crate) fn login(&mut self, uid: u64, data: &Value) {
        if !data.is_object() {
            self.emit(uid, "errorMsg", &json!({ "msg": "Invalid login frame" }));
            return;
        }
        let Some(name) = data.get("name").and_then(Value::as_str).map(str::to_string) else { return };
        let pw = data.get("pw").and_then(Value::as_str).unwrap_or("").to_string();
        if self.users.get(&uid).is_none_or(|user| user.logged_in) {
            return;
        }
        if pw.is_empty() {
            self.guest_login(uid, &name);
        } else {
            self.password_login(uid, &name, &pw);
        }
    }

    fn login_failed(&self, uid: u64, error: &str) {
        self.emit(uid, "login", &json!({ "success": false, "error": error }));
    }

    fn password_login(&mut self, uid: u64, name: &str, pw: &str) {
        let account = self.config.accounts.get(&name.to_lowercase()).filter(|account| account.password == pw).cloned();
        let Some(account) = account else {
            self.login_failed(uid, "Invalid username/password combination");
            return;
        };
        let user = self.users.get_mut(&uid).expect("the caller checked");
        let old_rank = user.rank();
        user.name = account.name.clone();
        user.global_rank = account.global_rank;
        user.registered = true;
        let rank = user.rank();
        self.emit(uid, "rank", &rank);
        self.rank_changed(uid, rank, old_rank);
        self.emit(uid, "login", &json!({ "success": true, "name": account.name }));
        self.logged_in(uid);
    }

    fn guest_login(&mut self, uid: u64, name: &str) {
        let (ip, now) = (self.users[&uid].ip, self.now());
        let delay = self.config.guest_login_delay;
        if !delay.is_zero() && self.last_guest_login.get(&ip).is_some_and(|&last| now.saturating_sub(last) < delay) {
            let error = format!("Guest logins are restricted to one per IP address per {} seconds.", delay.as_secs());
            self.login_failed(uid, &error);
            return;
        }
        if !valid_user_name(name) {
            self.login_failed(
                uid,
                "Invalid username.  Usernames must be 1-20 characters long and consist only of characters a-z, A-Z, 0-9, -, or _.",
            );
            return;
        }
        if self.config.accounts.contains_key(&name.to_lowercase()) {
            self.login_failed(uid, "That username is registered.");
            return;
        }
        let in_channel = self.users[&uid].join != JoinState::Outside;
        if in_channel && self.member_named(name).is_some() {
            self.login_failed(uid, "That name is already in use on this channel.");
            return;
        }
        self.last_guest_login.insert(ip, now);
        let user = self.users.get_mut(&uid).expect("the caller checked");
        let old_rank = user.rank();
        user.name = name.to_string();
        user.global_rank = 0;
        let rank = user.rank();
        self.emit(uid, "rank", &rank);
        self.rank_changed(uid, rank, old_rank);
        self.emit(uid, "login", &json!({ "success": true, "name": name, "guest": true }));
        self.logged_in(uid);
    }

    /// `setFlag(U_LOGGED_IN)` and its waiters, in the order they were registered.
    fn logged_in(&mut self, uid: u64) {
        let user = self.users.get_mut(&uid).expect("the caller checked");
        user.logged_in = true;
        let (join, registered) = (user.join, user.registered);
        if join == JoinState::Member {
            self.announce_login(uid);
        }
        if registered && join != JoinState::Outside {
            self.apply_channel_rank(uid);
        }
    }

    /// The channel-rank lookup's callback: `rank`, maybe a fresh `userlist`,
    /// the playlist again, then `setUserRank` to the channel.
    pub(crate) fn apply_channel_rank(&mut self, uid: u64) {
        let Some(user) = self.users.get(&uid) else { return };
        let channel_rank =
            self.config.accounts.get(&user.name.to_lowercase()).map_or(0, |account| account.channel_rank);
        let user = self.users.get_mut(&uid).expect("checked");
        let old_rank = user.rank();
        user.channel_rank = channel_rank;
        user.has_channel_rank = true;
        let (rank, join, name) = (user.rank(), user.join, user.name.clone());
        self.emit(uid, "rank", &rank);
        if rank != old_rank {
            self.rank_changed(uid, rank, old_rank);
        }
        match join {
            JoinState::Member => self.send_playlist(uid),
            JoinState::NeedPassword if rank >= 2 => {
                self.emit(uid, "cancelNeedPassword", &Value::Null);
                self.accept_user(uid);
            }
            _ => {}
        }
        self.broadcast("setUserRank", &json!({ "name": name, "rank": rank }));
    }

    /// `maybeResendUserlist`: a member whose rank crossed 2 or 255 gets the
    /// user list again, in its new view.
    fn rank_changed(&mut self, uid: u64, new: i64, old: i64) {
        let crossed = |line: i64| (new >= line) != (old >= line);
        if self.users[&uid].join == JoinState::Member && (crossed(2) || crossed(255)) {
            self.send_userlist(uid);
        }
    }

    /// A simulated user joins logged in, as a browser with a session
    /// cookie does: `setUserRank` (registered only, before the join, as the
    /// rank lookup wins the race), then the older socket under the name is
    /// kicked, `addUser` and the moderators' notice, then `usercount`.
    pub(crate) fn simulated_join(&mut self, name: &str, rank: i64) {
        let uid = self.next_id();
        let mut user = User::anonymous(None, SIMULATED_IP);
        user.name = name.to_string();
        user.logged_in = true;
        user.registered = rank >= 1;
        user.global_rank = if rank >= 1 { 1 } else { 0 };
        user.channel_rank = rank;
        user.has_channel_rank = true;
        self.users.insert(uid, user);
        if rank >= 1 {
            self.broadcast("setUserRank", &json!({ "name": name, "rank": self.users[&uid].rank() }));
        }
        self.users.get_mut(&uid).expect("inserted").join = JoinState::Member;
        self.announce_login(uid);
        self.members.push(uid);
        self.usercount_changed();
    }

    /// The simulated user (one without a socket) in the channel under `name`.
    pub(crate) fn simulated_named(&self, name: &str) -> Option<u64> {
        self.member_named(name).filter(|uid| self.users[uid].conn.is_none())
    }
}
