//! The evening's script: the plan made before the first second (joins,
//! leaves, greetings, the scripted acts), the join sequence at 0, and the run
//! of one second.

use rand::Rng;

use super::cast::{Style, END, LOST_JOIN};
use super::props::{PMS, SAYS};
use super::talk::{BACK_AGAIN, BYE, GREET_OTHER, GREET_SELF, WELCOME_BACK};
use super::{Act, Evening};
use crate::cytube::{chat_msg, chat_payload, default_permissions, server_notice};
use crate::fixture::BOT;
use crate::json::{obj, J};
use crate::pack::{playlist_meta, Item};

impl Evening {
    /// Schedules what is known up front: each user's joins and leaves (with
    /// greetings and goodbyes), the operator's says, the PMs, the scripted acts.
    pub(super) fn plan(&mut self) {
        for i in 0..self.users.len() {
            let plan = self.users[i].plan.clone();
            let talks = self.users[i].weight > 0 && self.users[i].style != Style::Spam;
            for (k, &(a, b)) in plan.iter().enumerate() {
                if a > 0 {
                    self.at(a, Act::Join(i));
                    if talks && self.rng.random_bool(0.75) {
                        let d = self.rng.random_range(4..70u64);
                        self.at(a + d, Act::Greet(i));
                    }
                }
                if b < END {
                    self.at(b, Act::Leave(i));
                    let reconnect = plan.get(k + 1).is_some_and(|n| n.0 - b < 60);
                    if talks && !reconnect && self.rng.random_bool(0.6) {
                        let d = self.rng.random_range(15..90u64);
                        self.at(b - d, Act::Bye(i));
                    }
                }
            }
        }
        for k in 0..SAYS.len() {
            let s = 290 + k as u64 * 880 + self.rng.random_range(0..200u64);
            self.at(s, Act::Say(k));
        }
        for k in 0..PMS.len() {
            let s = 700 + k as u64 * 1_650 + self.rng.random_range(0..600u64);
            self.at(s, Act::Pm(k));
        }
        let owl = self.idx(LOST_JOIN);
        self.at(2_404, Act::Line(owl, "hi all, lurking tonight".to_string()));
        self.at(2_611, Act::Line(owl, "is the player stuck for anyone else?".to_string()));
        self.at(2_712, Act::Promote);
        for (k, s) in [1_851, 4_473, 6_488, 8_911].into_iter().enumerate() {
            self.at(s, Act::LongLine(k));
        }
        self.at(7_777, Act::Truncated);
        for k in 0..3 {
            self.at(5_208 + k as u64 * 7, Act::Spam(k));
        }
        self.at(5_231, Act::Mute);
        self.at(5_930, Act::Leader(true));
        self.at(6_152, Act::RankUp("pixelpusher", 2.0));
        self.at(6_840, Act::Leader(false));
        self.at(3_960, Act::Voteskip);
        self.at(8_420, Act::Voteskip);
        let mut s = 420;
        while s < END - 600 {
            self.at(s, Act::Queue);
            s += self.rng.random_range(240..560u64);
        }
        for s in [2_250, 5_610, 9_340] {
            self.at(s, Act::Delete);
        }
        for s in [3_333, 7_050, 10_020] {
            self.at(s, Act::Move);
        }
    }

    /// Everything CyTube sends on join, at 0: rank, module state, the last 15
    /// chat lines, the playlist, then `userlist` and `usercount`.
    pub(super) fn join_sequence(&mut self) {
        let start = self.fx.start_unix_ms;
        let queuers = ["Tamsin", "Brennan", "Kaede_", "Tamsin", "Mika", "Nadia"];
        for k in 0..18 {
            let media = self.library[k].clone();
            let item = self.add_item(media, k % 5 == 3, queuers[k % queuers.len()]);
            self.playlist.push(item);
        }
        self.next_lib = 18;
        for i in 0..self.users.len() {
            if self.users[i].plan[0].0 == 0 {
                let idle_ms = self.rng.random_range(0..500_000i64);
                let u = &mut self.users[i];
                u.present = true;
                u.last_active = -idle_ms;
            }
        }
        for name in ["quietkid", "velvetthunder", "Lotte"] {
            let i = self.idx(name);
            self.users[i].afk = true;
        }

        let fx = &mut self.fx;
        fx.push(0, "rank", J::Num(self.bot_rank));
        fx.push(0, "setPermissions", default_permissions());
        fx.push(0, "setPlaylistLocked", J::Bool(false));
        let emotes = [
            ("FeelsGoodMan", "https://i.imgur.com/fGm4n2a.png"),
            ("monkaS", "https://i.imgur.com/mNk4S0b.png"),
            ("Kappa", "https://i.imgur.com/kPp4c1c.png"),
            ("peepoHappy", "https://i.imgur.com/pP0hPy2.gif"),
        ];
        let emotes: Vec<J> = emotes
            .iter()
            .map(|(n, img)| obj! { "name" => *n, "image" => *img, "source" => format!("\\b{n}\\b") })
            .collect();
        fx.push(0, "emoteList", J::Arr(emotes));
        // The last 15 lines, some from people who have gone.
        let history: [(&str, &str); 15] = [
            ("Tamsin", "ok playlist is loaded for tonight"),
            ("cass", "ooh what's the theme"),
            ("Tamsin", "no theme, just vibes"),
            ("Brennan", "I've added a few longer ones at the end."),
            ("greta_v", "night everyone, have fun"),
            ("Mika", "greta noooo stay"),
            ("Nadia", "lol"),
            ("Kaede_", "こんばんは"),
            ("pixelpusher", "/me settles in with tea"),
            ("Yusuf_K", "مساء الخير everyone"),
            ("Mika", "hi Yusuf!!"),
            ("oldmanjenkins", "Good evening. Is the stream up yet?"),
            ("Tamsin", "@oldmanjenkins starting in a sec"),
            ("velvetthunder", "brb getting snacks (the good ones)"),
            ("Mika", "PogU it's starting"),
        ];
        let mut t = start - 31 * 60_000;
        for (user, raw) in history {
            t += self.rng.random_range(20_000..120_000u64);
            let flair = match user {
                "Tamsin" => Some(3.0),
                "Kaede_" => Some(2.0),
                _ => None,
            };
            let (msg, meta) = chat_payload(raw, flair);
            fx.push(0, "chatMsg", chat_msg(user, &msg, meta, t));
        }
        assert!(t < start, "history is in the past");
        fx.push(0, "setMotd", J::from("<h3>Welcome to nightowls 🌙</h3><p>Be kind. The playlist is open.</p>"));
        fx.push(
            0,
            "channelCSSJS",
            obj! { "css" => "#chatwrap { font-size: 13px; }\n.channel-emote { max-height: 40px; }", "js" => "" },
        );
        fx.push(0, "setPlaylistMeta", playlist_meta(&self.playlist));
        let pl = J::Arr(self.playlist.iter().map(Item::pack).collect());
        fx.push(0, "playlist", pl);
        fx.push(0, "setCurrent", J::from(self.playlist[0].uid));
        // The first item has been playing for 95.2 s.
        fx.push(0, "changeMedia", self.playlist[0].media.full_update(95.2));
        self.media_zero = -95_200;
        self.media_changed = -98_200;
        let list: Vec<J> = self.users.iter().filter(|u| u.present).map(|u| u.who().pack(false)).collect();
        fx.push(0, "userlist", J::Arr(list));
        let c = self.connected();
        self.fx.push_late(0, "usercount", J::from(c));
        self.conn.push((0, c));
    }

    /// Runs second `s`: its scheduled acts, then the every-second ticks.
    pub(super) fn second(&mut self, s: u64) {
        if let Some(acts) = self.sched.remove(&s) {
            for act in acts {
                self.act(s, act);
            }
        }
        self.media_tick(s);
        self.chat_tick(s);
        self.afk_tick(s);
        self.anon_tick(s);
    }

    /// Does one scheduled act.
    fn act(&mut self, s: u64, act: Act) {
        match act {
            Act::Join(i) => self.join(s, i),
            Act::Leave(i) => self.leave(s, i),
            Act::Greet(i) => {
                if !self.talkers(s).contains(&i) {
                    return;
                }
                let returning = self.users[i].returning;
                let raw = self.pick(if returning { BACK_AGAIN } else { GREET_SELF }).to_string();
                let line = self.styled(i, &raw);
                let at = self.ms(s);
                self.emit_chat(at, i, &line);
                // Someone answers.
                let pool = self.talkers(s);
                if self.rng.random_bool(0.6) {
                    if let Some(j) = self.weighted(&pool, &[i]) {
                        let tpl = self.pick(if returning { WELCOME_BACK } else { GREET_OTHER });
                        let raw = tpl.replace("{u}", self.users[i].name);
                        let line = self.styled(j, &raw);
                        let d = self.rng.random_range(2..15u64);
                        self.at(s + d, Act::Line(j, line));
                    }
                }
            }
            Act::Bye(i) => {
                if self.talkers(s).contains(&i) {
                    let raw = self.pick(BYE);
                    let line = self.styled(i, raw);
                    let at = self.ms(s);
                    self.emit_chat(at, i, &line);
                }
            }
            Act::Line(i, line) => {
                let u = &self.users[i];
                if u.present && !u.muted && u.joined_s < s {
                    let at = self.ms(s);
                    self.emit_chat(at, i, &line);
                }
            }
            Act::Say(k) => {
                let at = self.ms(s);
                self.fx.push(at, "rosey:say", obj! { "message" => SAYS[k] });
                // The bot says it on its next outbound poll (every 2 s).
                let spoke = at + self.rng.random_range(300..2_300u64);
                self.at(spoke / 1000, Act::BotSpoke(spoke));
            }
            Act::BotSpoke(at) => {
                let at = self.set_afk(at, self.bot, false);
                self.users[self.bot].last_active = at as i64;
            }
            Act::Pm(k) => {
                let pool = self.talkers(s);
                if let Some(i) = self.weighted(&pool, &[]) {
                    let at = self.ms(s);
                    let (msg, meta) = chat_payload(PMS[k], None);
                    let time = self.fx.now(at);
                    let from = self.users[i].name;
                    self.fx.push(
                        at,
                        "pm",
                        obj! { "username" => from, "msg" => msg, "meta" => meta, "time" => time, "to" => BOT },
                    );
                }
            }
            Act::Promote => self.promote(s),
            Act::Leader(on) => self.leader(s, on),
            Act::RankUp(name, rank) => {
                let i = self.idx(name);
                let tamsin = self.idx("Tamsin");
                let at = self.ms(s);
                let line = format!("congrats {name}, you're a mod now 🎉");
                self.emit_chat(at, tamsin, &line);
                self.users[i].rank = rank;
                self.fx.push(at + 900, "setUserRank", obj! { "name" => name, "rank" => rank });
                let reply = self.styled(i, "oh wow, thank you!!");
                self.at(s + 6, Act::Line(i, reply));
            }
            Act::Spam(k) => {
                let i = self.idx("free_vbucks_now");
                let lines = [
                    "FREE V-BUCKS!!! claim now https://free-vbucks.example/claim?ref=cytube&id=4471",
                    "100% LEGIT no survey >>> https://free-vbucks.example/claim?ref=cytube&id=4471 <<<",
                    "only 50 codes left!!! https://free-vbucks.example/claim?ref=cytube&id=4471",
                ];
                if self.users[i].present && !self.users[i].muted {
                    let at = self.ms(s);
                    self.emit_chat(at, i, lines[k]);
                }
                if k == 1 {
                    let pool = self.talkers(s);
                    if let Some(j) = self.weighted(&pool, &[i]) {
                        let line = self.styled(j, "mods pls 🙄");
                        self.at(s + 3, Act::Line(j, line));
                    }
                }
            }
            Act::Mute => {
                let i = self.idx("free_vbucks_now");
                let kaede = self.idx("Kaede_");
                let at = self.ms(s);
                self.users[i].muted = true;
                let meta = self.users[i].who().meta(self.mod_view());
                self.fx.push(at, "setUserMeta", obj! { "name" => self.users[i].name, "meta" => meta });
                if self.mod_view() {
                    server_notice(&mut self.fx, at, "[server]", "Kaede_ muted free_vbucks_now");
                }
                self.at(s + 4, Act::Line(kaede, "bye 👋 reported".to_string()));
            }
            Act::Voteskip => self.voteskip(s),
            Act::Queue => self.queue(s),
            Act::Delete => self.delete(s),
            Act::Move => self.move_video(s),
            Act::LongLine(k) => self.long_line(s, k),
            Act::Truncated => {
                let i = self.idx("MarcusAurelius");
                if self.talkers(s).contains(&i) {
                    let rant = "I maintain that the extended version of this piece is superior in every \
                        respect: the pacing breathes, the bridge is allowed to resolve properly, and the \
                        final chorus lands with the weight the composer clearly intended, whereas the radio \
                        edit cuts exactly the part that makes it worth hearing at all. Discuss.";
                    let at = self.ms(s);
                    self.emit_chat(at, i, rant);
                }
            }
        }
    }
}
