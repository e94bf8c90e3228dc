//! `evening.jsonl`: three hours of a channel evening, simulated second by
//! second (see [`evening`]).
//!
//! # Layout
//!
//! - here: the [`Evening`] state, its users, and the small helpers every part uses.
//! - `cast`, `talk`, `props`: the data (who, what they say, what they talk about).
//! - `script`: the plan made up front, the join sequence, and each second's run.
//! - `acts`: what each scripted act does to the channel.
//! - `ticks`: what happens every second (media, conversations, AFK, viewers).
//! - `typing`: what people type and how it reaches the chat.

mod acts;
mod cast;
mod props;
mod script;
mod talk;
mod ticks;
mod typing;

use std::collections::BTreeMap;

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use self::cast::{Lang, Row, Style, ALTS, CAST, END, LOST_JOIN, LOST_LEAVE, PROFILE_TEXTS};
use self::props::LIBRARY;
use self::talk::Topic;
use crate::cytube::emit_usercounts;
use crate::fixture::{Fixture, BOT};
use crate::pack::{Item, Media, Who};
use crate::rng::{masked_ip, rand_id};

/// The seed of this file's ChaCha8: its bytes are a pure function of it.
const SEED_EVENING: u64 = 0x5EED_0002;

/// CyTube's default `afk_timeout`: idle users are marked AFK after this.
const AFK_AFTER_MS: u64 = 600_000;

/// The evening's length; `end_ms` in the header.
const DURATION_MS: u64 = END * 1000;

/// One of the cast, and what the server knows of them right now.
struct User {
    name: &'static str,
    rank: f64,
    lang: Lang,
    style: Style,
    weight: u32,
    flair: bool,
    image: String,
    text: String,
    aliases: Vec<String>,
    ip: String,
    /// `(join_s, leave_s)`, shifted by up to two minutes.
    plan: Vec<(u64, u64)>,
    /// In the channel, as the server sees it.
    present: bool,
    /// Second of the current join: a joiner speaks from the next second on.
    joined_s: u64,
    afk: bool,
    muted: bool,
    /// Last chat or join (ms, negative before the recording), for CyTube's
    /// auto-AFK timer.
    last_active: i64,
    /// Was here earlier tonight: greets with "back" rather than "hi".
    returning: bool,
    /// Time of this user's latest AFK or chat event: later ones never sort
    /// before it.
    busy_until: u64,
}

impl User {
    fn who(&self) -> Who<'_> {
        Who {
            name: self.name,
            rank: self.rank,
            image: &self.image,
            text: &self.text,
            afk: self.afk,
            muted: self.muted,
            aliases: &self.aliases,
            ip: &self.ip,
        }
    }
}

/// A conversation: a few people trading lines on one topic.
struct Burst {
    people: Vec<usize>,
    left: u32,
    next_at: u64,
    topic: Topic,
    /// What this conversation is about: `[food, game, city]`.
    slots: [&'static str; 3],
    last_speaker: Option<usize>,
}

/// Scripted things that happen at a given second.
#[derive(Clone, Debug)]
enum Act {
    Join(usize),
    Leave(usize),
    Greet(usize),
    Bye(usize),
    /// A line typed by a user, if they are still here.
    Line(usize, String),
    Say(usize),
    /// The bot's outbound message reached the chat (ms): CyTube clears its AFK.
    BotSpoke(u64),
    Pm(usize),
    Promote,
    Leader(bool),
    RankUp(&'static str, f64),
    Spam(usize),
    Mute,
    Voteskip,
    Queue,
    Delete,
    Move,
    LongLine(usize),
    Truncated,
}

/// The whole simulation: the channel as the server sees it, the fixture
/// being written, and what is scheduled.
struct Evening {
    rng: ChaCha8Rng,
    fx: Fixture,
    users: Vec<User>,
    bot: usize,
    bot_rank: f64,
    /// Anonymous viewers: counted by `usercount`, absent from the userlist.
    anon: i64,
    conn: Vec<(u64, i64)>,
    playlist: Vec<Item>,
    cur: usize,
    /// When the current item's `currentTime` is 0 (ms, may be negative).
    media_zero: i64,
    /// When the current item's `changeMedia` went out (ms, may be negative).
    media_changed: i64,
    next_uid: u64,
    library: Vec<Media>,
    next_lib: usize,
    bursts: Vec<Burst>,
    sched: BTreeMap<u64, Vec<Act>>,
    /// A media change makes people talk for a minute.
    hot_until: u64,
    /// How talkative the room is, in percent; redrawn every five minutes.
    mood: u32,
    /// Voteskip in progress: `(votes, needed, voters left)`.
    skip: Option<(u32, u32, Vec<usize>)>,
    leader: Option<usize>,
}

/// Three hours of a channel evening, simulated second by second: the cast's
/// planned joins, leaves and reconnects, conversations in bursts (more after a
/// media change, fewer or more as the room's mood changes), auto-AFK after ten
/// idle minutes, the playlist playing through, anonymous viewers coming and
/// going. Scripted: 12 `rosey:say`, 6 PMs to the bot, the bot's promotion to
/// rank 2 at ~45 min with a second `userlist` that differs from the bot's
/// list (`LOST_JOIN`, `LOST_LEAVE`), a spammer muted by a moderator, a leader
/// handover, two voteskips, four 1-4 KB lines and one cut at 240 characters.
/// "Mika" (registered) leaves at ~72 min; "mika" (a guest) joins at ~2 h.
pub(crate) fn evening() -> Fixture {
    let mut ev = Evening::new();
    ev.plan();
    ev.join_sequence();
    for s in 1..END {
        ev.second(s);
    }
    let first = ev.conn[0];
    emit_usercounts(&mut ev.fx, &ev.conn, first, DURATION_MS - 1);
    ev.fx
}

impl Evening {
    fn new() -> Evening {
        let mut rng = ChaCha8Rng::seed_from_u64(SEED_EVENING);
        let mut fx = Fixture::new("nightowls", 1_731_096_000_000);
        fx.end_ms = Some(DURATION_MS);
        let bot_row: Row = (BOT, 1.0, Lang::En, Style::Plain, 0, false, &[(0, END)]);
        let mut users = Vec::new();
        for row in std::iter::once(&bot_row).chain(CAST.iter()) {
            let (name, rank, lang, style, weight, flair, plan) = *row;
            let registered = rank >= 1.0;
            let image = if registered && rng.random_bool(0.6) {
                format!("https://i.imgur.com/{}.png", rand_id(&mut rng, 7))
            } else {
                String::new()
            };
            let text = if name == BOT {
                "I keep the channel's stats.".to_string()
            } else if registered {
                PROFILE_TEXTS[rng.random_range(0..PROFILE_TEXTS.len())].to_string()
            } else {
                String::new()
            };
            let mut aliases = vec![name.to_string()];
            if let Some((_, alt)) = ALTS.iter().find(|(n, _)| *n == name) {
                aliases.push((*alt).to_string());
            }
            // Shift a user's whole plan by up to two minutes, keeping its gaps.
            let fixed = name == "free_vbucks_now" || name == LOST_JOIN || name == LOST_LEAVE;
            let shift = if fixed { 0 } else { rng.random_range(0..120u64) };
            let plan = plan
                .iter()
                .map(|&(a, b)| {
                    let a = if a == 0 { a } else { a + shift };
                    let b = if b == END { b } else { b + shift };
                    (a, b)
                })
                .collect();
            users.push(User {
                name,
                rank,
                lang,
                style,
                weight,
                flair,
                image,
                text,
                aliases,
                ip: masked_ip(&mut rng),
                plan,
                present: false,
                joined_s: 0,
                afk: false,
                muted: false,
                last_active: 0,
                returning: false,
                busy_until: 0,
            });
        }
        let library = LIBRARY
            .iter()
            .enumerate()
            .map(|(k, &(title, seconds))| {
                let (id, kind) = if k == 13 {
                    (rng.random_range(100_000_000..999_999_999u64).to_string(), "vi")
                } else {
                    (rand_id(&mut rng, 11), "yt")
                };
                Media { id, title: title.to_string(), seconds, kind }
            })
            .collect();
        Evening {
            rng,
            fx,
            users,
            bot: 0,
            bot_rank: 1.0,
            anon: 6,
            conn: Vec::new(),
            playlist: Vec::new(),
            cur: 0,
            media_zero: 0,
            media_changed: 0,
            next_uid: 0,
            library,
            next_lib: 0,
            bursts: Vec::new(),
            sched: BTreeMap::new(),
            hot_until: 0,
            mood: 100,
            skip: None,
            leader: None,
        }
    }

    fn idx(&self, name: &str) -> usize {
        self.users.iter().position(|u| u.name == name).unwrap_or_else(|| panic!("no user {name}"))
    }

    fn at(&mut self, s: u64, act: Act) {
        self.sched.entry(s).or_default().push(act);
    }

    /// A random millisecond within second `s`.
    fn ms(&mut self, s: u64) -> u64 {
        s * 1000 + self.rng.random_range(0..1000u64)
    }

    fn roll(&mut self, per_10k: u32) -> bool {
        self.rng.random_range(0..10_000u32) < per_10k
    }

    fn mod_view(&self) -> bool {
        self.bot_rank >= 2.0
    }

    fn connected(&self) -> i64 {
        self.users.iter().filter(|u| u.present).count() as i64 + self.anon
    }

    fn conn_changed(&mut self, at: u64) {
        let c = self.connected();
        self.conn.push((at, c));
    }

    fn pick(&mut self, pool: &[&'static str]) -> &'static str {
        pool.choose(&mut self.rng).expect("non-empty pool")
    }

    /// Present users who may chat at second `s` (not the bot, not muted, not
    /// the spammer, not someone who joined this very second).
    fn talkers(&self, s: u64) -> Vec<usize> {
        (0..self.users.len())
            .filter(|&i| {
                let u = &self.users[i];
                // The user whose addUser was lost only says the scripted lines
                // until the second userlist.
                let lurking = u.name == LOST_JOIN && self.bot_rank < 2.0;
                u.present && i != self.bot && u.weight > 0 && !u.muted && u.joined_s < s && !lurking
            })
            .collect()
    }

    /// A talker, weighted by chattiness; AFK users rarely speak up.
    fn weighted(&mut self, pool: &[usize], exclude: &[usize]) -> Option<usize> {
        let cands: Vec<(usize, u32)> = pool
            .iter()
            .filter(|i| !exclude.contains(i))
            .map(|&i| {
                let u = &self.users[i];
                (i, if u.afk { u.weight.div_ceil(3) } else { u.weight * 3 })
            })
            .collect();
        cands.choose_weighted(&mut self.rng, |c| c.1).ok().map(|c| c.0)
    }

    fn add_item(&mut self, media: Media, temp: bool, queueby: &str) -> Item {
        let item = Item { uid: self.next_uid, media, temp, queueby: queueby.to_string() };
        self.next_uid += 1;
        item
    }
}
