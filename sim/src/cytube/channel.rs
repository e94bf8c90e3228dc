//! The channel: joining (`user.js` `handleJoinChannel`, `channel.js`
//! `joinUser`/`acceptUser`, the modules' `onUserPostJoin` in module order),
//! the password gate (`accesscontrol.js`), leaving (`partUser`), user
//! lists, `usercount` and AFK.

use serde_json::{json, Value};

use super::payload::{self, Profile, UserData, UserMeta};
use super::state::{Fake, JoinState};

/// `isValidChannelName`: `^[\w-]{1,30}$`.
pub(crate) fn valid_channel_name(name: &str) -> bool {
    (1..=30).contains(&name.chars().count()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl Fake {
    /// `joinChannel {name, pw?}`.
    pub(crate) fn join_channel(&mut self, uid: u64, data: &Value) {
        let Some(name) = data.get("name").and_then(Value::as_str) else { return };
        let Some(user) = self.users.get_mut(&uid) else { return };
        if user.join_asked {
            return;
        }
        user.join_asked = true;
        if !valid_channel_name(name) {
            let msg = "Invalid channel name.  Channel names may consist of 1-30 characters in the set a-z, A-Z, 0-9, -, and _";
            self.emit(uid, "errorMsg", &json!({ "msg": msg }));
            self.kick(uid, "Invalid channel name");
            return;
        }
        let name = name.to_lowercase();
        if name != self.config.channel {
            // One channel per fake: any other is "elsewhere".
            let msg = format!(
                "Channel '{name}' is hosted on another server.  Try refreshing the page to update the connection URL."
            );
            self.emit(uid, "errorMsg", &json!({ "msg": msg }));
            return;
        }
        if self.users[&uid].logged_in && self.users[&uid].registered {
            self.apply_channel_rank(uid);
        }
        let pw = data.get("pw");
        match self.config.channel_password.clone() {
            Some(password) if pw.and_then(Value::as_str) != Some(password.as_str()) => {
                if self.users[&uid].logged_in && self.users[&uid].rank() >= 2 {
                    self.emit(uid, "cancelNeedPassword", &Value::Null);
                    self.accept_user(uid);
                } else {
                    self.users.get_mut(&uid).expect("checked").join = JoinState::NeedPassword;
                    self.emit(uid, "needPassword", &pw.is_some());
                }
            }
            _ => self.accept_user(uid),
        }
    }

    /// `channelPassword <pw>` while waiting at the password gate.
    pub(crate) fn channel_password(&mut self, uid: u64, data: &Value) {
        if self.users.get(&uid).map(|user| user.join) != Some(JoinState::NeedPassword) {
            return;
        }
        if data.as_str() == self.config.channel_password.as_deref() {
            self.emit(uid, "cancelNeedPassword", &Value::Null);
            self.accept_user(uid);
        } else {
            self.emit(uid, "needPassword", &true);
        }
    }

    /// `acceptUser`: the user becomes a member and gets the join sequence.
    pub(crate) fn accept_user(&mut self, uid: u64) {
        let Some(user) = self.users.get_mut(&uid) else { return };
        user.join = JoinState::Member;
        let logged_in = user.logged_in;
        self.auto_afk(uid);
        if logged_in {
            self.announce_login(uid);
        }
        self.members.push(uid);
        self.send_join_sequence(uid);
        self.send_userlist(uid);
        self.usercount_changed();
        if !self.config.registered_channel {
            self.emit(uid, "channelNotRegistered", &Value::Null);
        }
    }

    /// The modules' `onUserPostJoin`, in `initModules` order.
    fn send_join_sequence(&self, uid: u64) {
        self.emit_json(uid, "setPermissions", &payload::permissions(self.config.chat_permission));
        self.emit(uid, "setPlaylistLocked", &true);
        self.emit(uid, "emoteList", &json!([]));
        for line in &self.history {
            self.emit(uid, "chatMsg", line);
        }
        self.emit(uid, "drinkCount", &0);
        self.emit_json(uid, "channelCSSJS", payload::channel_css_js());
        self.emit(uid, "setMotd", &self.config.motd);
        let opts = payload::channel_opts(&self.config.channel, self.config.channel_password.as_deref());
        self.emit_json(uid, "channelOpts", &opts);
        self.send_playlist(uid);
        if self.users[&uid].has_channel_rank {
            // The playlist's wait for U_HAS_CHANNEL_RANK, already met.
            self.send_playlist(uid);
        }
    }

    /// `sendPlaylist`: the meta and the (always empty) playlist.
    pub(crate) fn send_playlist(&self, uid: u64) {
        self.emit_json(uid, "setPlaylistMeta", payload::playlist_meta());
        self.emit(uid, "playlist", &json!([]));
    }

    /// The user just logged in while a member, or joined logged in
    /// (`acceptUser`'s wait for U_LOGGED_IN): older sockets under the name
    /// are kicked, then everyone hears `addUser` and moderators a notice.
    pub(crate) fn announce_login(&mut self, uid: u64) {
        let lower = self.users[&uid].name.to_lowercase();
        let older: Vec<u64> = self
            .members
            .iter()
            .copied()
            .filter(|&other| other != uid && self.users[&other].name.to_lowercase() == lower && !lower.is_empty())
            .collect();
        for other in older {
            self.kick(other, "Duplicate login");
        }
        for &member in &self.members {
            self.emit(member, "addUser", &self.user_data(uid, self.users[&member].rank()));
        }
        let name = self.users[&uid].name.clone();
        self.mod_message(&format!("{name} joined (aliases: {name})"), 2);
    }

    /// `packUserData` in the view of a recipient of rank `viewer_rank`.
    pub(crate) fn user_data(&self, uid: u64, viewer_rank: i64) -> UserData {
        let user = &self.users[&uid];
        let moderator = viewer_rank >= 2;
        let meta = UserMeta {
            afk: user.afk,
            muted: user.muted,
            smuted: moderator.then_some(false),
            aliases: moderator.then(|| vec![user.name.clone()]),
            ip: moderator.then(|| cloak(user.ip)),
        };
        UserData { name: user.name.clone(), rank: user.rank(), profile: Profile::default(), meta }
    }

    /// `sendUserlist([user])`: the logged-in members, in the user's view.
    pub(crate) fn send_userlist(&self, uid: u64) {
        let rank = self.users[&uid].rank();
        let list: Vec<UserData> = self
            .members
            .iter()
            .filter(|member| !self.users[member].name.is_empty())
            .map(|&member| self.user_data(member, rank))
            .collect();
        self.emit(uid, "userlist", &list);
    }

    /// `broadcastUsercount` through its debounce.
    pub(crate) fn usercount_changed(&mut self) {
        let now = self.now();
        if self.usercount.call(now) {
            self.broadcast("usercount", &self.members.len());
        }
    }

    /// `partUser`: the socket went (or was kicked); simulated users leave this way too.
    pub(crate) fn part_user(&mut self, uid: u64) {
        let Some(user) = self.users.remove(&uid) else { return };
        if user.join != JoinState::Member {
            return;
        }
        self.members.retain(|&member| member != uid);
        if user.logged_in {
            self.broadcast("userLeave", &json!({ "name": user.name }));
        }
        self.usercount_changed();
    }

    /// `User.setAFK`; `afk` events become `setUserMeta` and `setAFK` broadcasts.
    pub(crate) fn set_afk(&mut self, uid: u64, afk: bool) {
        let Some(user) = self.users.get_mut(&uid) else { return };
        if user.join != JoinState::Member {
            return;
        }
        if user.afk == afk {
            self.auto_afk(uid);
            return;
        }
        user.afk = afk;
        if !afk {
            self.auto_afk(uid);
        }
        self.send_user_meta(uid, i64::MIN);
        let name = self.users[&uid].name.clone();
        self.broadcast("setAFK", &json!({ "name": name, "afk": afk }));
    }

    /// `sendUserMeta(channel.users, user, min_rank)`.
    pub(crate) fn send_user_meta(&self, uid: u64, min_rank: i64) {
        for &member in self.members.iter().filter(|member| self.users[member].rank() >= min_rank) {
            let data = self.user_data(uid, self.users[&member].rank());
            self.emit(member, "setUserMeta", &json!({ "name": data.name, "meta": data.meta }));
        }
    }

    /// `User.autoAFK`: (re)arms the idle timer of a socket's user. Simulated
    /// users are left alone: whoever drives them says when they go AFK.
    pub(crate) fn auto_afk(&mut self, uid: u64) {
        let due = self.config.afk_timeout.map(|timeout| self.now() + timeout);
        if let Some(user) = self.users.get_mut(&uid) {
            user.afk_due = if user.conn.is_some() && user.join == JoinState::Member { due } else { None };
        }
    }

    /// `sendModMessage`: a `[server]` notice to members of at least `min_rank`; not history.
    pub(crate) fn mod_message(&self, msg: &str, min_rank: i64) {
        let line = super::payload::ChatLine {
            username: "[server]".into(),
            msg: msg.into(),
            meta: super::payload::ChatMeta {
                add_class: Some("server-whisper".into()),
                add_class_to_name_and_timestamp: Some(true),
                ..Default::default()
            },
            time: self.clock.unix_ms(),
        };
        for &member in &self.members {
            if self.users[&member].rank() >= min_rank {
                self.emit(member, "chatMsg", &line);
            }
        }
    }
}

/// `util.cloakIP`'s shape (`xxx.xxx.xxx.xxx`, each part hashed with the
/// parts before it), from FNV-1a instead of MD5: stable, not the same text.
pub(crate) fn cloak(ip: std::net::IpAddr) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let text = ip.to_string();
    let (mut accumulator, mut parts) = (String::new(), Vec::new());
    for (index, segment) in text.split(['.', ':']).take(4).enumerate() {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in format!("{accumulator}{segment}{index}").bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        accumulator.push_str(segment);
        parts.push((0..3).map(|i| ALPHABET[((hash >> (i * 6)) & 63) as usize] as char).collect::<String>());
    }
    parts.join(".")
}
