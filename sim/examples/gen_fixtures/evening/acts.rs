//! What each scripted act does: joins and leaves, the bot's promotion, the
//! leader handover, voteskips, playlist changes and the long lines.

use rand::seq::IndexedRandom;
use rand::Rng;

use super::cast::{LOST_JOIN, LOST_LEAVE};
use super::{Act, Evening};
use crate::cytube::server_notice;
use crate::fixture::BOT;
use crate::json::{obj, J};
use crate::pack::playlist_meta;

impl Evening {
    pub(super) fn join(&mut self, s: u64, i: usize) {
        let at = self.ms(s);
        let u = &mut self.users[i];
        u.present = true;
        u.joined_s = s;
        u.afk = false;
        u.muted = false;
        u.last_active = at as i64;
        let name = u.name;
        // The recording lost this addUser: the bot first hears of the user
        // from the second userlist.
        if name != LOST_JOIN {
            let data = self.users[i].who().pack(self.mod_view());
            self.fx.push(at, "addUser", data);
            if self.mod_view() {
                let aliases = self.users[i].aliases.join(",");
                let notice = format!("{name} joined (aliases: {aliases})");
                server_notice(&mut self.fx, at, "[server]", &notice);
            }
        }
        self.conn_changed(at);
    }

    pub(super) fn leave(&mut self, s: u64, i: usize) {
        let at = self.ms(s);
        self.users[i].present = false;
        self.users[i].returning = true;
        // The recording lost this userLeave.
        if self.users[i].name != LOST_LEAVE {
            self.fx.push(at, "userLeave", obj! { "name" => self.users[i].name });
        }
        for b in &mut self.bursts {
            b.people.retain(|&p| p != i);
        }
        self.conn_changed(at);
    }

    /// Tamsin makes the bot a moderator: `setUserRank`, `rank`, and the
    /// userlist CyTube resends when a rank crosses 2, now in the moderators'
    /// view. It differs from the bot's list: `LOST_JOIN` is in it,
    /// `LOST_LEAVE` is not.
    pub(super) fn promote(&mut self, s: u64) {
        let tamsin = self.idx("Tamsin");
        let at = self.ms(s);
        self.emit_chat(at, tamsin, "giving Rosey mod so it can see the mod log");
        let at = at + 1_400;
        self.bot_rank = 2.0;
        let bot = self.bot;
        self.users[bot].rank = 2.0;
        self.fx.push(at, "setUserRank", obj! { "name" => BOT, "rank" => 2 });
        self.fx.push(at, "rank", J::Num(2.0));
        let list: Vec<J> = self.users.iter().filter(|u| u.present).map(|u| u.who().pack(true)).collect();
        self.fx.push(at, "userlist", J::Arr(list));
    }

    pub(super) fn leader(&mut self, s: u64, on: bool) {
        let i = self.idx("velvetthunder");
        let at = self.ms(s);
        if on {
            let tamsin = self.idx("Tamsin");
            self.emit_chat(at, tamsin, "velvetthunder has the remote for a bit");
            self.users[i].rank = 1.5;
            self.leader = Some(i);
            self.fx.push(at + 700, "setLeader", J::from("velvetthunder"));
            self.fx.push(at + 700, "setUserRank", obj! { "name" => "velvetthunder", "rank" => 1.5 });
        } else {
            self.users[i].rank = 1.0;
            self.leader = None;
            self.fx.push(at, "setUserRank", obj! { "name" => "velvetthunder", "rank" => 1 });
            self.fx.push(at, "setLeader", J::from(""));
        }
    }

    pub(super) fn voteskip(&mut self, s: u64) {
        let at = self.ms(s);
        let Some((votes, need, mut voters)) = self.skip.take() else {
            // A new vote: half of the users who are not AFK must agree.
            let voters: Vec<usize> = self.talkers(s).into_iter().filter(|&i| !self.users[i].afk).collect();
            if voters.len() < 2 {
                return;
            }
            let need = (voters.len() as u32).div_ceil(2);
            let first = voters[self.rng.random_range(0..voters.len())];
            let line = self.styled(first, "voteskip? this one drags");
            self.emit_chat(at, first, &line);
            self.skip = Some((0, need, voters));
            self.at(s + 2, Act::Voteskip);
            return;
        };
        voters.retain(|&i| self.users[i].present);
        if voters.is_empty() {
            return;
        }
        let v = voters.swap_remove(self.rng.random_range(0..voters.len()));
        let at = self.set_afk(at, v, false);
        self.users[v].last_active = at as i64;
        let votes = votes + 1;
        if self.mod_view() {
            self.fx.push(at, "voteskip", obj! { "count" => votes, "need" => need });
        }
        if votes >= need {
            let title = self.playlist[self.cur].media.title.clone();
            let notice = format!("Voteskip passed ({votes}/{need}): skipping {title}");
            server_notice(&mut self.fx, at + 50, "[voteskip]", &notice);
            self.play_next(at + 100);
        } else {
            self.skip = Some((votes, need, voters));
            let d = self.rng.random_range(1..7u64);
            self.at(s + d, Act::Voteskip);
        }
    }

    pub(super) fn queue(&mut self, s: u64) {
        let pool = self.talkers(s);
        let Some(i) = self.weighted(&pool, &[]) else {
            return;
        };
        let mut media = None;
        for _ in 0..self.library.len() {
            let m = self.library[self.next_lib % self.library.len()].clone();
            self.next_lib += 1;
            if !self.playlist.iter().any(|it| it.media.id == m.id) {
                media = Some(m);
                break;
            }
        }
        let Some(media) = media else {
            return;
        };
        let at = self.ms(s);
        let (rank, name) = (self.users[i].rank, self.users[i].name);
        if self.rng.random_bool(0.35) {
            let raw = format!("queued {} 🎶", media.title);
            let line = self.styled(i, &raw);
            self.emit_chat(at, i, &line);
        }
        // Moderators sometimes queue next; everyone else at the end.
        let next = rank >= 2.0 && self.rng.random_bool(0.4);
        let item = self.add_item(media, rank < 2.0, name);
        let pos = if next { self.cur + 1 } else { self.playlist.len() };
        let after = if pos == 0 { J::from("prepend") } else { J::from(self.playlist[pos - 1].uid) };
        let packet = obj! { "item" => item.pack(), "after" => after };
        self.playlist.insert(pos, item);
        self.fx.push(at + 400, "queue", packet);
        let meta = playlist_meta(&self.playlist);
        self.fx.push(at + 400, "setPlaylistMeta", meta);
    }

    pub(super) fn delete(&mut self, s: u64) {
        let mods: Vec<usize> = self.talkers(s).into_iter().filter(|&i| self.users[i].rank >= 2.0).collect();
        let Some(&m) = mods.choose(&mut self.rng) else {
            return;
        };
        let Some(pos) = (0..self.playlist.len()).rev().find(|&p| p != self.cur && self.playlist[p].temp) else {
            return;
        };
        let at = self.ms(s);
        let item = self.playlist.remove(pos);
        if pos < self.cur {
            self.cur -= 1;
        }
        let line = format!("removed {}, sorry {} — already played tonight", item.media.title, item.queueby);
        self.emit_chat(at, m, &line);
        self.fx.push(at + 600, "delete", obj! { "uid" => item.uid });
        let meta = playlist_meta(&self.playlist);
        self.fx.push(at + 600, "setPlaylistMeta", meta);
    }

    pub(super) fn move_video(&mut self, s: u64) {
        let has_mod = self.talkers(s).iter().any(|&i| self.users[i].rank >= 2.0);
        let last = self.playlist.len() - 1;
        if !has_mod || last <= self.cur + 1 {
            return;
        }
        let at = self.ms(s);
        let item = self.playlist.remove(last);
        let from = item.uid;
        let after = self.playlist[self.cur].uid;
        self.playlist.insert(self.cur + 1, item);
        self.fx.push(at, "moveVideo", obj! { "from" => from, "after" => after });
    }

    /// The lines that grow past 1 KB: emote spam through the channel's
    /// filters, and an escape-heavy ASCII-art line.
    pub(super) fn long_line(&mut self, s: u64, k: usize) {
        let (who, raw) = match k {
            0 => ("xX_Shadow_Xx", vec!["PogU"; 40].join(" ")),
            1 => ("frogposting", vec!["catJAM"; 30].join(" ")),
            2 => ("DJ-Noodle", vec!["KEKW"; 20].join(" ")),
            _ => ("elle_b", vec!["(\"_\")"; 40].join(" ")),
        };
        let mut i = self.idx(who);
        let pool = self.talkers(s);
        if !pool.contains(&i) {
            match self.weighted(&pool, &[]) {
                Some(j) => i = j,
                None => return,
            }
        }
        let at = self.ms(s);
        self.emit_chat(at, i, &raw);
    }
}
