//! What happens every second: the media clock, conversations starting and
//! going on, CyTube's auto-AFK, anonymous viewers coming and going.

use rand::seq::IndexedRandom;
use rand::Rng;

use super::talk::TOPICS;
use super::{Act, Burst, Evening, AFK_AFTER_MS};
use crate::json::{obj, J};
use crate::pack::playlist_meta;

impl Evening {
    pub(super) fn media_tick(&mut self, s: u64) {
        let (lo, hi) = ((s * 1000) as i64, (s * 1000 + 1000) as i64);
        let end = self.media_zero + self.playlist[self.cur].media.seconds as i64 * 1000;
        if (lo..hi).contains(&end) {
            self.play_next(end as u64);
            return;
        }
        // CyTube's lead loop sends the position every 5 s.
        let since = lo - self.media_changed;
        let k = since.div_euclid(5_000) + 1;
        let t = self.media_changed + k * 5_000;
        if (lo..hi).contains(&t) && t < end {
            let jitter = self.rng.random_range(0..25i64);
            let at = t + jitter;
            let current = (at - self.media_zero) as f64 / 1000.0;
            self.fx.push(at as u64, "mediaUpdate", obj! { "currentTime" => current, "paused" => false });
        }
    }

    /// `_playNext`: a temporary item is deleted first (and its deletion starts
    /// the next one), a permanent one stays in the list.
    pub(super) fn play_next(&mut self, at: u64) {
        self.skip = None;
        let old = self.cur;
        if self.playlist[old].temp {
            let item = self.playlist.remove(old);
            self.fx.push(at, "delete", obj! { "uid" => item.uid });
            let meta = playlist_meta(&self.playlist);
            self.fx.push(at, "setPlaylistMeta", meta);
            self.cur = if old < self.playlist.len() { old } else { 0 };
        } else {
            self.cur = (old + 1) % self.playlist.len();
        }
        let item = &self.playlist[self.cur];
        self.fx.push(at, "setCurrent", J::from(item.uid));
        self.fx.push(at, "changeMedia", item.media.full_update(-3.0));
        if self.mod_view() {
            self.fx.push(at, "voteskip", obj! { "count" => 0, "need" => 0 });
        }
        self.media_changed = at as i64;
        self.media_zero = at as i64 + 3_000;
        self.hot_until = at + 60_000;
        let s = at / 1000;
        let pool = self.talkers(s);
        if self.rng.random_bool(0.6) {
            if let Some(i) = self.weighted(&pool, &[]) {
                let title = self.playlist[self.cur].media.title.clone();
                let tpl = self.pick(&["{t} 😍", "ooh {t}", "yes!! {t}", "who queued {t} lol", "{t} let's go"]);
                let line = self.styled(i, &tpl.replace("{t}", &title));
                let d = self.rng.random_range(3..25u64);
                self.at(s + d, Act::Line(i, line));
            }
        }
    }

    pub(super) fn chat_tick(&mut self, s: u64) {
        let now = s * 1000;
        let pool = self.talkers(s);
        if s.is_multiple_of(300) {
            const MOODS: &[(u32, u32)] = &[(10, 1), (25, 1), (50, 2), (80, 3), (100, 3), (130, 2), (170, 2), (220, 1)];
            self.mood = MOODS.choose_weighted(&mut self.rng, |m| m.1).expect("moods").0;
        }
        // How likely a new conversation starts this second, per 10,000.
        let mut rate = 200 * self.mood / 100;
        if now < self.hot_until {
            rate = rate * 5 / 2;
        }
        if (5_400..7_800).contains(&s) {
            rate = rate * 3 / 2;
        }
        if s > 9_800 {
            rate = rate * 3 / 5;
        }
        if s < 600 {
            rate = rate * 7 / 10;
        }
        if self.bursts.len() < 3 && pool.len() >= 2 && self.roll(rate) {
            let n = self.rng.random_range(2..=5usize).min(pool.len());
            let mut people = Vec::new();
            while people.len() < n {
                match self.weighted(&pool, &people) {
                    Some(p) => people.push(p),
                    None => break,
                }
            }
            let left = match self.rng.random_range(0..10u32) {
                0..=5 => self.rng.random_range(3..12u32),
                6..=8 => self.rng.random_range(12..25u32),
                _ => self.rng.random_range(25..45u32),
            };
            let topic = TOPICS.choose_weighted(&mut self.rng, |t| t.1).expect("topics").0;
            let next_at = now + self.rng.random_range(0..3_000u64);
            let slots = self.slots();
            self.bursts.push(Burst { people, left, next_at, topic, slots, last_speaker: None });
        }
        let mut k = 0;
        while k < self.bursts.len() {
            while self.bursts[k].next_at < now + 1000 && self.bursts[k].left > 0 {
                let people: Vec<usize> = self.bursts[k].people.iter().copied().filter(|p| pool.contains(p)).collect();
                if people.is_empty() {
                    self.bursts[k].left = 0;
                    break;
                }
                let last = self.bursts[k].last_speaker;
                let others: Vec<usize> = people.iter().copied().filter(|&p| Some(p) != last).collect();
                let speaker = *others.choose(&mut self.rng).unwrap_or(&people[0]);
                let (topic, slots) = (self.bursts[k].topic, self.bursts[k].slots);
                let line = self.line(speaker, (topic, slots), last, s);
                let at = self.bursts[k].next_at;
                self.emit_chat(at, speaker, &line);
                let gap = match self.rng.random_range(0..20u32) {
                    0..=13 => self.rng.random_range(700..4_000u64),
                    14..=18 => self.rng.random_range(4_000..12_000u64),
                    _ => self.rng.random_range(12_000..40_000u64),
                };
                let b = &mut self.bursts[k];
                b.last_speaker = Some(speaker);
                b.left -= 1;
                b.next_at = at + gap;
                if self.rng.random_bool(0.08) {
                    let current = self.bursts[k].people.clone();
                    if let Some(p) = self.weighted(&pool, &current) {
                        self.bursts[k].people.push(p);
                    }
                }
            }
            if self.bursts[k].left == 0 {
                self.bursts.remove(k);
            } else {
                k += 1;
            }
        }
        // Stray lines outside any conversation.
        if self.roll(6 * self.mood) {
            if let Some(i) = self.weighted(&pool, &[]) {
                let topic = TOPICS.choose_weighted(&mut self.rng, |t| t.1).expect("topics").0;
                let slots = self.slots();
                let line = self.line(i, (topic, slots), None, s);
                let at = self.ms(s);
                self.emit_chat(at, i, &line);
            }
        }
        // Someone types /afk.
        if self.roll(12) {
            let awake: Vec<usize> = pool.iter().copied().filter(|&i| !self.users[i].afk).collect();
            if let Some(&i) = awake.choose(&mut self.rng) {
                let at = self.ms(s);
                self.set_afk(at, i, true);
            }
        }
    }

    /// CyTube's auto-AFK: ten minutes without chatting.
    pub(super) fn afk_tick(&mut self, s: u64) {
        let (lo, hi) = ((s * 1000) as i64, (s * 1000 + 1000) as i64);
        for i in 0..self.users.len() {
            let u = &self.users[i];
            if !u.present || u.afk {
                continue;
            }
            let due = u.last_active + AFK_AFTER_MS as i64;
            if due < hi {
                self.set_afk(due.max(lo) as u64, i, true);
            }
        }
    }

    /// Anonymous viewers come and go, more of them in the middle of the evening.
    pub(super) fn anon_tick(&mut self, s: u64) {
        if !self.roll(110) {
            return;
        }
        let target = match s {
            0..3_000 => 6,
            3_000..5_000 => 9,
            5_000..8_000 => 13,
            _ => 5,
        };
        let step = if self.roll(2_000) { 2 } else { 1 };
        let toward = if self.anon < target { step } else { -step };
        let delta = if self.roll(7_000) { toward } else { -toward };
        let anon = (self.anon + delta).clamp(1, 16);
        if anon != self.anon {
            self.anon = anon;
            let at = self.ms(s);
            self.conn_changed(at);
        }
    }
}
