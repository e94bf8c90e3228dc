//! Chat (`chat.js`): who may chat, the throttle, the commands a bot may
//! meet, the broadcast with the sender's echo, the history, and PMs.
//!
//! Commands: `/me`, `/sp`, `/say` (`/shout`, `/rcv`; rank >= 1.5), `/afk`
//! and `/clear` (rank >= 2) act as on the real server; `/a`, `/mute`,
//! `/smute`, `/unmute` and `/unsmute` are swallowed without effect (the
//! real ones need ranks and a target; muting is the control handle's job);
//! any other `/word` is ordinary chat.

use serde_json::{json, Value};

use rosey::cytube::echo::{collapse_controls, server_cut};

use super::format;
use super::limiter::CHAT_COOLDOWN_MS;
use super::payload::{ChatLine, ChatMeta, CHATCLEAR_RANK};
use super::state::{Fake, HISTORY_LINES};

impl Fake {
    /// `chatMsg {msg, meta}` from a user (`handleChatMsg`).
    pub(crate) fn chat_msg(&mut self, uid: u64, data: &Value) {
        let Some(msg) = data.get("msg").and_then(Value::as_str) else { return };
        let Some(user) = self.users.get(&uid) else { return };
        if (user.rank() as f64) < self.config.chat_permission || !user.logged_in {
            // Anonymous sockets (rank -1) fail the permission; both drop silently.
            return;
        }
        let msg = collapse_controls(server_cut(msg));
        if format::is_blank(&msg) {
            return;
        }
        let mut meta = ChatMeta::default();
        let flair = data.get("meta").and_then(|meta| meta.get("modflair")).and_then(Value::as_i64);
        if user.rank() >= 2 && flair == Some(user.rank()) {
            meta.modflair = flair;
        }
        self.process_chat(uid, &msg, meta);
    }

    /// `processChatMsg`: AFK, the throttle, greentext, commands, mute, broadcast.
    fn process_chat(&mut self, uid: u64, msg: &str, mut meta: ChatMeta) {
        if !msg.contains("/afk") {
            self.set_afk(uid, false);
        }
        let now = self.now();
        let Some(user) = self.users.get_mut(&uid) else { return };
        let (name, rank, muted) = (user.name.clone(), user.rank(), user.muted);
        let forced = self.throttled.contains(&name.to_lowercase());
        if forced || user.limiter.throttle(now) {
            *self.cooldowns.entry(name).or_default() += 1;
            self.emit(uid, "cooldown", &CHAT_COOLDOWN_MS);
            return;
        }
        let time = self.clock.unix_ms();
        if msg.starts_with('>') {
            meta.add_class = Some("greentext".into());
        }
        if let Some(command) = msg.strip_prefix('/') {
            let command = command.split(' ').next().unwrap_or("");
            let args = msg.split(' ').skip(1).collect::<Vec<_>>().join(" ");
            match command {
                "me" => {
                    meta.add_class = Some("action".into());
                    meta.action = Some(true);
                    return self.process_chat(uid, &args, meta);
                }
                "sp" => {
                    meta.add_class = Some("spoiler".into());
                    return self.process_chat(uid, &args, meta);
                }
                "say" | "shout" | "rcv" => {
                    if rank >= 2 {
                        meta.add_class = Some("shout".into());
                        meta.add_class_to_name_and_timestamp = Some(true);
                        meta.force_show_name = Some(true);
                        self.process_chat(uid, &args, meta);
                    }
                    return;
                }
                "afk" => {
                    let afk = self.users[&uid].afk;
                    return self.set_afk(uid, !afk);
                }
                "clear" => return self.clear_chat(uid, rank, &name),
                "a" | "mute" | "smute" | "unmute" | "unsmute" => return,
                _ => {}
            }
        }
        if muted {
            self.emit(uid, "noflood", &json!({ "action": "chat", "msg": "You have been muted on this channel." }));
            return;
        }
        self.send_message(ChatLine { username: name, msg: format::format_chat(msg), meta, time });
    }

    /// `/clear`: the history goes, everyone hears `clearchat` and a notice.
    fn clear_chat(&mut self, _uid: u64, rank: i64, name: &str) {
        if rank < CHATCLEAR_RANK {
            return;
        }
        self.history.clear();
        self.broadcast("clearchat", &json!({ "clearedBy": name }));
        self.mod_message(&format!("{name} cleared chat."), -1);
    }

    /// `sendMessage`: to every member, the sender included; into the history.
    pub(crate) fn send_message(&mut self, line: ChatLine) {
        self.broadcast("chatMsg", &line);
        self.history.push_back(line.clone());
        while self.history.len() > HISTORY_LINES {
            self.history.pop_front();
        }
        self.log.push(line);
    }

    /// `pm {to, msg, meta}` (`handlePm`): to both sides, never into the history.
    pub(crate) fn pm(&mut self, uid: u64, data: &Value) {
        let (Some(to), Some(msg)) = (data.get("to").and_then(Value::as_str), data.get("msg").and_then(Value::as_str))
        else {
            return;
        };
        let Some(user) = self.users.get(&uid) else { return };
        if !user.logged_in {
            self.emit(uid, "errorMsg", &json!({ "msg": "You must be signed in to send PMs" }));
            return;
        }
        let to = to.to_lowercase();
        if to == user.name.to_lowercase() {
            self.emit(uid, "errorMsg", &json!({ "msg": "You can't PM yourself!" }));
            return;
        }
        if !super::login::valid_user_name(&to) {
            self.emit(uid, "errorMsg", &json!({ "msg": format!("PM failed: {to} isn't a valid username.") }));
            return;
        }
        let now = self.now();
        let user = self.users.get_mut(&uid).expect("checked");
        if user.limiter.throttle(now) {
            let name = user.name.clone();
            *self.cooldowns.entry(name).or_default() += 1;
            self.emit(uid, "cooldown", &CHAT_COOLDOWN_MS);
            return;
        }
        let name = user.name.clone();
        let Some(target) = self.member_named(&to) else {
            self.emit(uid, "errorMsg", &json!({ "msg": format!("PM failed: {to} isn't connected to this channel.") }));
            return;
        };
        let msg = server_cut(msg);
        let mut meta = ChatMeta::default();
        if msg.starts_with('>') {
            meta.add_class = Some("greentext".into());
        }
        let line = ChatLine { username: name, msg: format::format_chat(msg), meta, time: self.clock.unix_ms() };
        let to_name = self.users[&target].name.clone();
        let pm = Pm { line: &line, to: &to_name };
        self.emit(target, "pm", &pm);
        self.emit(uid, "pm", &pm);
    }
}

/// A `pm` payload: the chat line's fields, then `to`.
#[derive(serde::Serialize)]
struct Pm<'a> {
    #[serde(flatten)]
    line: &'a ChatLine,
    to: &'a str,
}
