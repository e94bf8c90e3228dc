//! What people type: lines picked for a topic and a speaker, their typing
//! habits, and the chat message (and AFK change) that reaches the channel.

use rand::seq::IndexedRandom;
use rand::Rng;

use super::cast::{Lang, Style};
use super::props::{CITIES, FOODS, GAMES};
use super::talk::{
    Topic, AR, BANTER, DE, EMOJI, ES, FOOD_TALK, GAME_TALK, GREENTEXT, HE, JA, KO, LIFE_TALK, LINKS, ME, MEDIA_TALK,
    PT, QUESTIONS, REACT, RU, SPOILERS, TECH_TALK, ZH,
};
use super::Evening;
use crate::cytube::{chat_msg, chat_payload};
use crate::json::obj;
use crate::rng::rand_id;

impl Evening {
    /// Sends `setAFK` if it changes anything, never before the user's last
    /// AFK or chat event. Returns when that user's state now holds.
    pub(super) fn set_afk(&mut self, at: u64, i: usize, afk: bool) -> u64 {
        let at = at.max(self.users[i].busy_until);
        if self.users[i].afk != afk {
            self.users[i].afk = afk;
            self.users[i].busy_until = at;
            let name = self.users[i].name;
            self.fx.push(at, "setAFK", obj! { "name" => name, "afk" => afk });
        }
        at
    }

    /// A chat line; one that comes back from AFK clears it first, as CyTube
    /// does. Events of one user keep the order they were made in.
    pub(super) fn emit_chat(&mut self, at: u64, i: usize, raw: &str) {
        let at = self.set_afk(at, i, false);
        self.users[i].busy_until = at;
        let name = self.users[i].name;
        let u = &self.users[i];
        let flair = (u.flair && u.rank >= 2.0).then_some(u.rank);
        let (msg, meta) = chat_payload(raw, flair);
        let time = self.fx.now(at);
        self.fx.push(at, "chatMsg", chat_msg(name, &msg, meta, time));
        self.users[i].last_active = at as i64;
    }

    pub(super) fn slots(&mut self) -> [&'static str; 3] {
        [self.pick(FOODS), self.pick(GAMES), self.pick(CITIES)]
    }

    /// A line for `i` in a conversation on `topic`, maybe answering `prev`.
    pub(super) fn line(
        &mut self,
        i: usize,
        (topic, slots): (Topic, [&'static str; 3]),
        prev: Option<usize>,
        s: u64,
    ) -> String {
        let (lang, style) = (self.users[i].lang, self.users[i].style);
        if lang != Lang::En && self.roll(4_000) {
            let pool = match lang {
                Lang::Ja => JA,
                Lang::Zh => ZH,
                Lang::Ko => KO,
                Lang::Ar => AR,
                Lang::He => HE,
                Lang::Ru => RU,
                Lang::Es => ES,
                Lang::Pt => PT,
                Lang::De | Lang::En => DE,
            };
            let raw = self.pick(pool).to_string();
            return self.decorate(i, raw);
        }
        let r = self.rng.random_range(0..100u32);
        let tpl = if r < 3 {
            self.pick(GREENTEXT)
        } else if r < 6 {
            self.pick(ME)
        } else if r < 8 {
            self.pick(LINKS)
        } else if r < 9 && self.rng.random_bool(0.3) {
            self.pick(SPOILERS)
        } else if prev.is_some() && r < 24 {
            self.pick(BANTER)
        } else if style == Style::Terse && r < 85 || r < 42 {
            self.pick(REACT)
        } else {
            self.pick(match topic {
                Topic::Media => MEDIA_TALK,
                Topic::Food => FOOD_TALK,
                Topic::Games => GAME_TALK,
                Topic::Life => LIFE_TALK,
                Topic::Tech => TECH_TALK,
                Topic::Questions => QUESTIONS,
            })
        };
        let mention = match prev {
            Some(p) if p != i => Some(p),
            _ => {
                let pool = self.talkers(s);
                let others: Vec<usize> = pool.into_iter().filter(|&p| p != i).collect();
                others.choose(&mut self.rng).copied()
            }
        };
        let mention = mention.map_or("everyone", |p| self.users[p].name);
        let mut raw = tpl.to_string();
        if raw.contains("{u}") {
            raw = raw.replace("{u}", mention);
        }
        if raw.contains("{t}") {
            raw = raw.replace("{t}", &self.playlist[self.cur].media.title);
        }
        for (slot, v) in ["{f}", "{g}", "{c}"].into_iter().zip(slots) {
            raw = raw.replace(slot, v);
        }
        if raw.contains("{n}") {
            let n = self.rng.random_range(2..40u32).to_string();
            raw = raw.replace("{n}", &n);
        }
        if raw.contains("{y}") {
            let id = rand_id(&mut self.rng, 11);
            raw = raw.replace("{y}", &id);
        }
        if raw.contains("{i}") {
            let id = rand_id(&mut self.rng, 7);
            raw = raw.replace("{i}", &id);
        }
        if raw.starts_with('/') || raw.starts_with('>') || raw.contains("://") {
            return raw;
        }
        let raw = self.styled(i, &raw);
        self.decorate(i, raw)
    }

    /// The user's typing habits.
    pub(super) fn styled(&mut self, i: usize, raw: &str) -> String {
        let style = self.users[i].style;
        match style {
            Style::Lower => raw.to_lowercase(),
            Style::Caps if self.roll(3_000) => raw.to_uppercase(),
            Style::Formal => {
                let mut out: String = raw.to_string();
                if let Some(c) = out.chars().next() {
                    if c.is_ascii_lowercase() {
                        out.replace_range(..1, &c.to_ascii_uppercase().to_string());
                    }
                }
                if out.ends_with(|c: char| c.is_ascii_alphanumeric()) {
                    out.push('.');
                }
                out
            }
            _ => raw.to_string(),
        }
    }

    fn decorate(&mut self, i: usize, raw: String) -> String {
        if self.users[i].style == Style::Emoji && self.roll(5_000) {
            let e = self.pick(EMOJI);
            format!("{raw} {e}")
        } else {
            raw
        }
    }
}
