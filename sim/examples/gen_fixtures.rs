//! Writes the recorded-chat fixtures `smoke.jsonl`, `evening.jsonl` and
//! `messy.jsonl` into the directory named by its only argument.
//!
//! ```text
//! cargo run -p rosey-sim --example gen_fixtures -- <out_dir>
//! ```
//!
//! Each file is JSON Lines (shared/reference/chat-fixtures.md): a header line,
//! then one CyTube socket event per line, `at_ms` never decreasing.
//!
//! - `smoke.jsonl`: one minute, four users and the bot, every event kind.
//! - `evening.jsonl`: a three-hour evening, 40+ users, 3,000+ chat lines.
//! - `messy.jsonl`: ~150 hostile but well-formed lines.
//!
//! The bytes are a pure function of the seeds below: ChaCha8 with fixed seeds,
//! integer arithmetic for everything random (no `ln`/`exp`, whose last bits may
//! differ between libms), no HashMap iteration, and a JSON writer of our own so
//! that serde_json's `preserve_order` feature (feature unification can switch
//! it on) cannot reorder keys. Each file is re-parsed before it is written;
//! the generator panics if a line is not JSON or `at_ms` goes backwards.
//!
//! # What the data imitates
//!
//! CyTube's own code decides the payloads: chat text is cut to 240 UTF-16
//! units, has ASCII control characters turned into spaces, is HTML-escaped
//! (`& < > " ' ( )`), has links turned into `<a href="..." target="_blank">`
//! and channel filters applied (here three emote words become `<img>` tags,
//! which is how a 240-character line grows to 1-4 KB). `/me` and greentext set
//! `meta.addClass`. Users with rank >= 2 see `[server]` notices ("X joined
//! (aliases: ...)"), moderator user metadata (`smuted`, `aliases`, `ip`) and
//! `voteskip` counts; a rank crossing 2 resends `userlist`. `usercount`
//! counts every socket, anonymous viewers included, and is throttled to one
//! per 10 s. Nothing here is taken from a real channel: names, text, IPs
//! (masked) and media ids are made up.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The bot's own name, in every header and userlist.
const BOT: &str = "Rosey";
const SEED_SMOKE: u64 = 0x5EED_0001;
const SEED_EVENING: u64 = 0x5EED_0002;
const SEED_MESSY: u64 = 0x5EED_0003;

/// CyTube's `USERCOUNT_THROTTLE`.
const USERCOUNT_THROTTLE_MS: u64 = 10_000;
/// CyTube's default `afk_timeout`: idle users are marked AFK after this.
const AFK_AFTER_MS: u64 = 600_000;
/// CyTube cuts chat input to this many UTF-16 units.
const CHAT_LIMIT: usize = 240;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(out_dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: gen_fixtures <out_dir>");
        std::process::exit(2);
    };
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("gen_fixtures: cannot create {}: {e}", out_dir.display());
        std::process::exit(1);
    }
    let fixtures = [("smoke.jsonl", smoke()), ("evening.jsonl", evening()), ("messy.jsonl", messy())];
    for (file, mut fx) in fixtures {
        let text = fx.render();
        let stats = check(file, &text);
        write_file(&out_dir.join(file), &text);
        println!("{file}: {stats}");
    }
}

fn write_file(path: &Path, text: &str) {
    if let Err(e) = std::fs::write(path, text) {
        eprintln!("gen_fixtures: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------
// JSON with a fixed key order
// ---------------------------------------------------------------------------

/// A JSON value whose objects keep the order they were built in.
#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    /// A JavaScript number: integral values print without a fraction, as
    /// `JSON.stringify` does.
    Num(f64),
    /// Pre-formatted JSON text, for numbers JavaScript would never print
    /// (`12.0`, `18446744073709551616`). Checked by [`check`].
    Raw(&'static str),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl From<&str> for J {
    fn from(v: &str) -> J {
        J::Str(v.to_string())
    }
}
impl From<String> for J {
    fn from(v: String) -> J {
        J::Str(v)
    }
}
impl From<&String> for J {
    fn from(v: &String) -> J {
        J::Str(v.clone())
    }
}
impl From<bool> for J {
    fn from(v: bool) -> J {
        J::Bool(v)
    }
}
impl From<i32> for J {
    fn from(v: i32) -> J {
        J::Int(i64::from(v))
    }
}
impl From<u32> for J {
    fn from(v: u32) -> J {
        J::Int(i64::from(v))
    }
}
impl From<i64> for J {
    fn from(v: i64) -> J {
        J::Int(v)
    }
}
impl From<u64> for J {
    fn from(v: u64) -> J {
        J::Int(i64::try_from(v).expect("fits in i64"))
    }
}
impl From<f64> for J {
    fn from(v: f64) -> J {
        J::Num(v)
    }
}
impl From<Vec<J>> for J {
    fn from(v: Vec<J>) -> J {
        J::Arr(v)
    }
}

/// `obj! { "key" => value, ... }` builds a [`J::Obj`] in the order written.
macro_rules! obj {
    ($($k:expr => $v:expr),* $(,)?) => {
        J::Obj(vec![$(($k.to_string(), J::from($v))),*])
    };
}

fn write_json(out: &mut String, v: &J) {
    match v {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Int(i) => {
            let _ = write!(out, "{i}");
        }
        J::Num(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 {
                let _ = write!(out, "{}", *f as i64);
            } else {
                out.push_str(&serde_json::to_string(f).expect("finite number"));
            }
        }
        J::Raw(r) => out.push_str(r),
        J::Str(s) => write_str(out, s),
        J::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, item);
            }
            out.push(']');
        }
        J::Obj(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, k);
                out.push_str(": ");
                write_json(out, item);
            }
            out.push('}');
        }
    }
}

/// serde_json escapes quotes, backslashes and control characters; U+2028 and
/// U+2029 are escaped too, so that no reader that treats them as line breaks
/// can split a line.
fn write_str(out: &mut String, s: &str) {
    let quoted = serde_json::to_string(s).expect("string");
    out.push_str(&quoted.replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029"));
}

// ---------------------------------------------------------------------------
// Fixture: events on a timeline, rendered in (at_ms, file order)
// ---------------------------------------------------------------------------

struct Ev {
    at: u64,
    /// Sorts after the other events of the same millisecond (usercount).
    late: bool,
    seq: usize,
    name: String,
    data: J,
}

struct Fixture {
    channel: &'static str,
    start_unix_ms: u64,
    end_ms: Option<u64>,
    evs: Vec<Ev>,
}

impl Fixture {
    fn new(channel: &'static str, start_unix_ms: u64) -> Fixture {
        Fixture { channel, start_unix_ms, end_ms: None, evs: Vec::new() }
    }

    fn push(&mut self, at: u64, name: &str, data: J) {
        let seq = self.evs.len();
        self.evs.push(Ev { at, late: false, seq, name: name.to_string(), data });
    }

    fn push_late(&mut self, at: u64, name: &str, data: J) {
        self.push(at, name, data);
        self.evs.last_mut().expect("just pushed").late = true;
    }

    /// The server's `Date.now()` at `at`.
    fn now(&self, at: u64) -> u64 {
        self.start_unix_ms + at
    }

    fn render(&mut self) -> String {
        self.evs.sort_by_key(|e| (e.at, e.late, e.seq));
        let mut header = vec![
            ("rosey_fixture".to_string(), J::Int(1)),
            ("channel".to_string(), J::from(self.channel)),
            ("bot".to_string(), J::from(BOT)),
            ("start_unix_ms".to_string(), J::from(self.start_unix_ms)),
        ];
        if let Some(end) = self.end_ms {
            header.push(("end_ms".to_string(), J::from(end)));
        }
        let mut out = String::new();
        write_json(&mut out, &J::Obj(header));
        out.push('\n');
        for e in &self.evs {
            let line = obj! { "at_ms" => e.at, "event" => e.name.as_str(), "data" => e.data.clone() };
            write_json(&mut out, &line);
            out.push('\n');
        }
        out
    }
}

/// Turns connection-count changes `(at_ms, count)` into `usercount` events as
/// CyTube's throttle sends them: at most one per 10 s, the latest value, and
/// (as the fixture brief asks) only when it differs from the last one sent.
/// `first` is the `usercount` already sent in the join sequence.
fn emit_usercounts(fx: &mut Fixture, changes: &[(u64, i64)], first: (u64, i64), end_ms: u64) {
    let mut changes = changes.to_vec();
    changes.sort_by_key(|c| c.0);
    let (mut last_at, mut last_val) = first;
    let mut cur = first.1;
    let mut pending = false;
    for &(at, val) in &changes {
        let due = last_at + USERCOUNT_THROTTLE_MS;
        if pending && due <= at {
            pending = false;
            if cur != last_val {
                fx.push_late(due, "usercount", J::from(cur));
                last_at = due;
                last_val = cur;
            }
        }
        cur = val;
        if cur == last_val {
            continue;
        }
        if at >= last_at + USERCOUNT_THROTTLE_MS {
            fx.push_late(at, "usercount", J::from(cur));
            last_at = at;
            last_val = cur;
        } else {
            pending = true;
        }
    }
    let due = last_at + USERCOUNT_THROTTLE_MS;
    if pending && cur != last_val && due <= end_ms {
        fx.push_late(due, "usercount", J::from(cur));
    }
}

/// Re-reads a rendered fixture: every line JSON, header sound, `at_ms`
/// non-decreasing. Returns a one-line summary.
fn check(file: &str, text: &str) -> String {
    let mut last = 0u64;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut chatters: BTreeSet<String> = BTreeSet::new();
    let mut users: BTreeSet<String> = BTreeSet::new();
    let mut max_line = 0usize;
    let mut lines = 0usize;
    for (i, line) in text.lines().enumerate() {
        lines += 1;
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: not JSON: {e}", i + 1));
        if i == 0 {
            assert_eq!(v["rosey_fixture"], 1, "{file}: bad header");
            assert_eq!(v["bot"], BOT, "{file}: bad header");
            assert!(v["start_unix_ms"].is_u64(), "{file}: bad header");
            continue;
        }
        max_line = max_line.max(line.len());
        let at = v["at_ms"].as_u64().unwrap_or_else(|| panic!("{file}:{}: bad at_ms", i + 1));
        assert!(at >= last, "{file}:{}: at_ms goes backwards", i + 1);
        last = at;
        let name = v["event"].as_str().expect("event name").to_string();
        let data = &v["data"];
        match name.as_str() {
            "chatMsg" => {
                if let Some(u) = data["username"].as_str() {
                    if !u.starts_with('[') {
                        chatters.insert(u.to_string());
                        users.insert(u.to_string());
                    }
                }
            }
            "addUser" => {
                if let Some(u) = data["name"].as_str() {
                    users.insert(u.to_string());
                }
            }
            "userlist" => {
                for entry in data.as_array().into_iter().flatten() {
                    if let Some(u) = entry["name"].as_str() {
                        users.insert(u.to_string());
                    }
                }
            }
            _ => {}
        }
        *kinds.entry(name).or_default() += 1;
    }
    let chat = kinds.get("chatMsg").copied().unwrap_or(0);
    format!(
        "{lines} lines, last at_ms {last}, {chat} chatMsg, {} distinct chatters, \
         {} distinct user names (bot included), longest line {max_line} bytes, {} event kinds",
        chatters.len(),
        users.len(),
        kinds.len()
    )
}

// ---------------------------------------------------------------------------
// CyTube payloads
// ---------------------------------------------------------------------------

/// CyTube's `XSS.sanitizeText`.
fn sanitize_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '(' => out.push_str("&#40;"),
            ')' => out.push_str("&#41;"),
            _ => out.push(c),
        }
    }
    out
}

/// The channel's chat filters: these words become images.
const FILTERED: &[(&str, &str)] = &[
    ("PogU", "https://i.imgur.com/Xk3pQ9v.png"),
    ("catJAM", "https://i.imgur.com/cT7jAmq.gif"),
    ("KEKW", "https://i.imgur.com/Kq2WeLw.png"),
];

/// CyTube's chat pipeline after the command handling: cut to 240 UTF-16
/// units, control characters to spaces, escape, linkify, filters.
fn cytube_text(raw: &str) -> String {
    let mut units = 0usize;
    let mut cut = String::new();
    for c in raw.chars() {
        units += c.len_utf16();
        if units > CHAT_LIMIT {
            break;
        }
        cut.push(if c.is_ascii_control() { ' ' } else { c });
    }
    let escaped = sanitize_text(&cut);
    let words: Vec<String> = escaped
        .split(' ')
        .map(|w| {
            if w.starts_with("http://") || w.starts_with("https://") {
                format!("<a href=\"{w}\" target=\"_blank\">{w}</a>")
            } else if let Some((word, src)) = FILTERED.iter().find(|(word, _)| *word == w) {
                format!("<img class=\"channel-emote\" src=\"{src}\" title=\"{word}\" />")
            } else {
                w.to_string()
            }
        })
        .collect();
    words.join(" ")
}

/// What a chat line typed as `raw` becomes on the wire: `(msg, meta)`.
/// `flair` is the moderator's rank when they send `modflair`.
fn chat_payload(raw: &str, flair: Option<f64>) -> (String, J) {
    let mut meta: Vec<(String, J)> = Vec::new();
    if let Some(rank) = flair {
        meta.push(("modflair".to_string(), J::Num(rank)));
    }
    let text = if let Some(rest) = raw.strip_prefix("/me ") {
        meta.push(("addClass".to_string(), J::from("action")));
        meta.push(("action".to_string(), J::Bool(true)));
        rest
    } else if let Some(rest) = raw.strip_prefix("/sp ") {
        meta.push(("addClass".to_string(), J::from("spoiler")));
        rest
    } else {
        if raw.starts_with('>') {
            meta.push(("addClass".to_string(), J::from("greentext")));
        }
        raw
    };
    (cytube_text(text), J::Obj(meta))
}

fn chat_msg(username: &str, msg: &str, meta: J, time: u64) -> J {
    obj! { "username" => username, "msg" => msg, "meta" => meta, "time" => time }
}

fn server_meta() -> J {
    obj! { "addClass" => "server-whisper", "addClassToNameAndTimestamp" => true }
}

/// A `[server]` notice, as `sendModMessage` sends it.
fn server_notice(fx: &mut Fixture, at: u64, user: &str, msg: &str) {
    let time = fx.now(at);
    fx.push(at, "chatMsg", chat_msg(user, msg, server_meta(), time));
}

/// CyTube's `util.formatTime`.
fn format_time(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// CyTube's default channel permissions (`chat: 0`: everyone may chat).
fn default_permissions() -> J {
    obj! {
        "seeplaylist" => -1, "playlistadd" => 1.5, "playlistnext" => 1.5,
        "playlistmove" => 1.5, "playlistdelete" => 2, "playlistjump" => 1.5,
        "playlistaddlist" => 1.5, "oplaylistadd" => -1, "oplaylistnext" => 1.5,
        "oplaylistmove" => 1.5, "oplaylistdelete" => 2, "oplaylistjump" => 1.5,
        "oplaylistaddlist" => 1.5, "playlistaddcustom" => 3, "playlistaddrawfile" => 2,
        "playlistaddlive" => 1.5, "exceedmaxlength" => 2, "addnontemp" => 2,
        "settemp" => 2, "playlistshuffle" => 2, "playlistclear" => 2, "pollctl" => 1.5,
        "pollvote" => -1, "viewhiddenpoll" => 1.5, "voteskip" => -1, "viewvoteskip" => 1.5,
        "mute" => 1.5, "kick" => 1.5, "ban" => 2, "motdedit" => 3, "filteredit" => 3,
        "filterimport" => 3, "emoteedit" => 3, "emoteimport" => 3, "playlistlock" => 2,
        "leaderctl" => 2, "drink" => 1.5, "chat" => 0, "chatclear" => 2,
        "exceedmaxitems" => 2, "deletefromchannellib" => 2, "exceedmaxdurationperuser" => 2,
    }
}

#[derive(Clone, Debug)]
struct Media {
    id: String,
    title: String,
    seconds: u64,
    kind: &'static str,
}

impl Media {
    /// `Media.pack()`.
    fn pack(&self) -> J {
        obj! {
            "id" => self.id.as_str(), "title" => self.title.as_str(), "seconds" => self.seconds,
            "duration" => format_time(self.seconds), "type" => self.kind, "meta" => J::Obj(vec![]),
        }
    }

    /// `changeMedia`: the packed media plus the play position.
    fn full_update(&self, current_time: f64) -> J {
        let J::Obj(mut fields) = self.pack() else { unreachable!() };
        fields.push(("currentTime".to_string(), J::Num(current_time)));
        fields.push(("paused".to_string(), J::Bool(false)));
        J::Obj(fields)
    }
}

#[derive(Clone, Debug)]
struct Item {
    uid: u64,
    media: Media,
    temp: bool,
    queueby: String,
}

impl Item {
    /// `PlaylistItem.pack()`.
    fn pack(&self) -> J {
        obj! { "media" => self.media.pack(), "uid" => self.uid, "temp" => self.temp, "queueby" => self.queueby.as_str() }
    }
}

fn playlist_meta(items: &[Item]) -> J {
    let raw: u64 = items.iter().map(|i| i.media.seconds).sum();
    obj! { "count" => items.len() as u64, "rawTime" => raw, "time" => format_time(raw) }
}

/// A user as `packUserData` sends it: the plain view, or the moderators' view
/// (with `smuted`, `aliases` and the masked `ip`) for a viewer of rank >= 2.
struct Who<'a> {
    name: &'a str,
    rank: f64,
    image: &'a str,
    text: &'a str,
    afk: bool,
    muted: bool,
    aliases: &'a [String],
    ip: &'a str,
}

impl Who<'_> {
    fn meta(&self, mod_view: bool) -> J {
        if mod_view {
            let aliases: Vec<J> = self.aliases.iter().map(J::from).collect();
            obj! {
                "afk" => self.afk, "muted" => self.muted, "smuted" => false,
                "aliases" => aliases, "ip" => self.ip,
            }
        } else {
            obj! { "afk" => self.afk, "muted" => self.muted }
        }
    }

    fn pack(&self, mod_view: bool) -> J {
        obj! {
            "name" => self.name, "rank" => self.rank,
            "profile" => obj! { "image" => self.image, "text" => self.text },
            "meta" => self.meta(mod_view),
        }
    }
}

fn rand_id(rng: &mut ChaCha8Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    (0..len).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect()
}

fn masked_ip(rng: &mut ChaCha8Rng) -> String {
    // Documentation ranges (RFC 5737), last octet masked.
    let net = ["192.0.2", "198.51.100", "203.0.113"][rng.random_range(0..3)];
    format!("{net}.x")
}

// ---------------------------------------------------------------------------
// smoke.jsonl
// ---------------------------------------------------------------------------

/// One minute, every event kind at least once, `mediaUpdate` the only event
/// the bot does not know. The bot has rank 2 throughout, so it gets the
/// moderators' view and `[server]` notices. No `end_ms` in the header.
fn smoke() -> Fixture {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED_SMOKE);
    let mut fx = Fixture::new("lounge", 1_731_000_000_000);
    let start = fx.start_unix_ms;

    struct U {
        name: &'static str,
        rank: f64,
        image: &'static str,
        text: &'static str,
        aliases: Vec<String>,
        ip: String,
    }
    let mut mk = |name: &'static str, rank: f64, image: &'static str, text: &'static str| U {
        name,
        rank,
        image,
        text,
        aliases: vec![name.to_string()],
        ip: masked_ip(&mut rng),
    };
    let users = [
        mk(BOT, 2.0, "", "I keep the channel's stats."),
        mk("Tamsin", 3.0, "https://i.imgur.com/T4msn0x.png", "channel admin"),
        mk("ben", 1.0, "", ""),
        mk("Kaede", 2.0, "https://i.imgur.com/kAed3Qp.jpg", "夜型人間"),
        mk("otter", 0.0, "", ""),
    ];
    let who = |u: &U, afk: bool, muted: bool| {
        Who { name: u.name, rank: u.rank, image: u.image, text: u.text, afk, muted, aliases: &u.aliases, ip: &u.ip }
            .pack(true)
    };

    let media = |id: &str, title: &str, seconds: u64| Media {
        id: id.to_string(),
        title: title.to_string(),
        seconds,
        kind: "yt",
    };
    let item = |uid: u64, m: Media, temp: bool, by: &str| Item { uid, media: m, temp, queueby: by.to_string() };
    let items = [
        item(0, media("q3Xv9LmTz0A", "Kirby dance (75 s loop)", 75), false, "Tamsin"),
        item(1, media("bR7nW2kEoYs", "How Pencils Are Made", 418), false, "Tamsin"),
        item(2, media("Zt8uP1cVq4M", "Rainy Tokyo walk 4K", 906), true, "Kaede"),
    ];
    let queued = item(3, media("Hm2sD5xJkLw", "Accordion metal cover", 309), true, "ben");

    // The join sequence, all at 0.
    fx.push(0, "rank", J::Num(2.0));
    fx.push(0, "setPermissions", default_permissions());
    for (user, raw, ago) in
        [("Tamsin", "anyone around tonight?", 900_000), ("ben", "o/", 840_000), ("Kaede", "/me waves", 300_000)]
    {
        let flair = (user == "Kaede").then_some(2.0);
        let (msg, meta) = chat_payload(raw, flair);
        fx.push(0, "chatMsg", chat_msg(user, &msg, meta, start - ago));
    }
    fx.push(0, "playlist", J::Arr(items.iter().map(Item::pack).collect()));
    fx.push(0, "setCurrent", J::from(0));
    fx.push(0, "changeMedia", items[0].media.full_update(42.5));
    fx.push(0, "userlist", J::Arr(users[..4].iter().map(|u| who(u, false, false)).collect()));
    // Four users and one anonymous viewer.
    fx.push_late(0, "usercount", J::from(5));
    let mut conn: Vec<(u64, i64)> = Vec::new();

    let say = |fx: &mut Fixture, at: u64, user: &str, raw: &str| {
        let (msg, meta) = chat_payload(raw, None);
        let time = fx.now(at);
        fx.push(at, "chatMsg", chat_msg(user, &msg, meta, time));
    };

    say(&mut fx, 1_250, "Tamsin", "evening all");
    fx.push(3_400, "addUser", who(&users[4], false, false));
    server_notice(&mut fx, 3_400, "[server]", "otter joined (aliases: otter)");
    conn.push((3_400, 6));
    say(&mut fx, 6_100, "otter", "hi! first time here 👋");
    fx.push(8_000, "rosey:say", obj! { "message" => "Welcome to the lounge, otter!" });
    say(&mut fx, 11_700, "otter", "FIRST!!!!!");
    fx.push(12_300, "queue", obj! { "item" => queued.pack(), "after" => 2 });
    fx.push(15_000, "setAFK", obj! { "name" => "ben", "afk" => true });
    say(&mut fx, 16_400, "otter", "FIRST!!!!! FIRST!!!!!");
    let pm_time = fx.now(18_200);
    let (pm_msg, pm_meta) = chat_payload("rosey, can you remind everyone about the rules later?", None);
    fx.push(
        18_200,
        "pm",
        obj! { "username" => "Kaede", "msg" => pm_msg, "meta" => pm_meta, "time" => pm_time, "to" => BOT },
    );
    fx.push(20_500, "setUserRank", obj! { "name" => "Kaede", "rank" => 3 });
    // Kaede mutes otter: sendUserMeta, then the notice.
    fx.push(
        22_000,
        "setUserMeta",
        obj! { "name" => "otter", "meta" => Who { name: "otter", rank: 0.0, image: "", text: "",
        afk: false, muted: true, aliases: &users[4].aliases, ip: &users[4].ip }.meta(true) },
    );
    server_notice(&mut fx, 22_000, "[server]", "Kaede muted otter");
    fx.push(25_000, "delete", obj! { "uid" => 1 });
    fx.push(27_000, "moveVideo", obj! { "from" => 3, "after" => 0 });
    fx.push(30_000, "mediaUpdate", obj! { "currentTime" => 72.5, "paused" => false });
    // Item 0 ends (42.5 s in at 0, 75 s long); the next one is uid 3.
    fx.push(32_500, "setCurrent", J::from(3));
    fx.push(32_500, "changeMedia", queued.media.full_update(-3.0));
    fx.push(36_000, "setAFK", obj! { "name" => "ben", "afk" => false });
    say(&mut fx, 36_000, "ben", "back, what did I miss?");
    fx.push(40_000, "userLeave", obj! { "name" => "otter" });
    conn.push((40_000, 5));
    fx.push(45_000, "rosey:say", obj! { "message" => "Reminder: be kind, and have fun 🎶" });
    fx.push(48_000, "userLeave", obj! { "name" => "ben" });
    conn.push((48_000, 4));
    fx.push(52_000, "addUser", who(&users[2], false, false));
    server_notice(&mut fx, 52_000, "[server]", "ben joined (aliases: ben)");
    conn.push((52_000, 5));
    say(&mut fx, 53_500, "ben", "sorry, browser crashed 😅");
    say(&mut fx, 57_000, "Tamsin", "night all!");
    emit_usercounts(&mut fx, &conn, (0, 5), 60_000);
    fx
}

// ---------------------------------------------------------------------------
// evening.jsonl: the cast and what they say
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Lang {
    En,
    Ja,
    Zh,
    Ko,
    Ar,
    He,
    Ru,
    Es,
    Pt,
    De,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Style {
    Plain,
    /// types everything in lower case
    Lower,
    /// SHOUTS now and then
    Caps,
    /// adds an emoji to half the lines
    Emoji,
    /// mostly one-word reactions
    Terse,
    /// full sentences
    Formal,
    /// only the scripted spam
    Spam,
}

/// Seconds; a plan end of `END` means "still there at the end".
const END: u64 = 10_800;

/// `(name, rank, lang, style, chattiness, modflair, plan)`. A plan interval
/// starting at 0 means present in the first `userlist`; two intervals a few
/// seconds apart are a reconnect (`userLeave` then `addUser`).
type Row = (&'static str, f64, Lang, Style, u32, bool, &'static [(u64, u64)]);

#[rustfmt::skip]
const CAST: &[Row] = &[
    ("Tamsin", 3.0, Lang::En, Style::Plain, 7, true, &[(0, END)]),
    ("Brennan", 2.0, Lang::En, Style::Formal, 5, false, &[(0, 6_900)]),
    ("Kaede_", 2.0, Lang::Ja, Style::Plain, 6, true, &[(0, END)]),
    ("Mika", 1.0, Lang::En, Style::Emoji, 9, false, &[(0, 4_300)]),
    ("oldmanjenkins", 1.0, Lang::En, Style::Formal, 5, false, &[(0, 3_100), (3_112, END)]),
    ("pixelpusher", 1.0, Lang::En, Style::Plain, 6, false, &[(0, END)]),
    ("Nadia", 1.0, Lang::En, Style::Plain, 7, false, &[(0, 8_200)]),
    ("Yusuf_K", 1.0, Lang::Ar, Style::Plain, 6, false, &[(0, 5_500), (7_900, END)]),
    ("quietkid", 0.0, Lang::En, Style::Terse, 1, false, &[(0, 2_000)]),
    ("velvetthunder", 1.0, Lang::En, Style::Plain, 5, false, &[(0, 9_600)]),
    ("Lotte", 1.0, Lang::De, Style::Plain, 4, false, &[(0, 1_500), (1_507, END)]),
    ("hex_0x2A", 1.0, Lang::En, Style::Lower, 5, false, &[(240, END)]),
    ("Avi-L", 1.0, Lang::He, Style::Plain, 6, false, &[(400, 7_200)]),
    ("bluefin", 0.0, Lang::En, Style::Terse, 3, false, &[(650, 2_400)]),
    ("frogposting", 1.0, Lang::En, Style::Lower, 8, false, &[(900, END)]),
    ("DJ-Noodle", 1.0, Lang::En, Style::Emoji, 6, false, &[(1_100, 6_000), (6_021, END)]),
    ("xX_Shadow_Xx", 0.0, Lang::En, Style::Caps, 5, false, &[(1_400, 5_000)]),
    ("ryo87", 1.0, Lang::Ja, Style::Lower, 5, false, &[(1_700, END)]),
    ("sunflowerseed", 1.0, Lang::En, Style::Emoji, 6, false, &[(2_000, 8_800)]),
    ("nightowl_", 1.0, Lang::En, Style::Lower, 4, false, &[(2_300, 9_900)]),
    ("Ines", 1.0, Lang::Es, Style::Plain, 5, false, &[(2_600, 6_600)]),
    ("okonomiyaki", 0.0, Lang::Ja, Style::Terse, 3, false, &[(2_900, 4_100)]),
    ("MarcusAurelius", 1.0, Lang::En, Style::Formal, 4, false, &[(3_200, END)]),
    ("Zed", 1.0, Lang::En, Style::Terse, 4, false, &[(3_500, 5_300), (5_309, 9_000)]),
    ("Mei_Lin", 1.0, Lang::Zh, Style::Plain, 5, false, &[(3_800, END)]),
    ("jiwoo", 1.0, Lang::Ko, Style::Lower, 5, false, &[(4_000, 8_500)]),
    ("Priya", 1.0, Lang::En, Style::Plain, 6, false, &[(4_500, END)]),
    ("Tomasz", 0.0, Lang::En, Style::Plain, 3, false, &[(4_800, 6_200)]),
    ("free_vbucks_now", 0.0, Lang::En, Style::Spam, 0, false, &[(5_200, 5_270)]),
    ("elle_b", 1.0, Lang::En, Style::Lower, 6, false, &[(5_400, END)]),
    ("gravy_train", 1.0, Lang::En, Style::Caps, 4, false, &[(5_700, 7_700)]),
    ("Sasha", 1.0, Lang::Ru, Style::Plain, 5, false, &[(6_000, END)]),
    ("Haruto", 0.0, Lang::Ja, Style::Terse, 2, false, &[(6_300, 7_000)]),
    ("noodle_arms", 1.0, Lang::En, Style::Plain, 4, false, &[(6_700, END)]),
    ("mika", 0.0, Lang::En, Style::Lower, 5, false, &[(7_400, END)]),
    ("Bea", 1.0, Lang::Pt, Style::Emoji, 5, false, &[(7_600, 10_300)]),
    ("Kofi", 1.0, Lang::En, Style::Plain, 4, false, &[(8_000, END)]),
    ("lemonlime", 0.0, Lang::En, Style::Emoji, 3, false, &[(8_300, 9_200)]),
    ("fenwick", 1.0, Lang::En, Style::Formal, 3, false, &[(8_700, END)]),
    ("Oona", 1.0, Lang::En, Style::Plain, 3, false, &[(9_100, END)]),
    ("ratking", 0.0, Lang::En, Style::Terse, 1, false, &[(9_500, 10_100)]),
    ("Dmitri", 1.0, Lang::Ru, Style::Terse, 3, false, &[(9_800, END)]),
    ("Leilani", 1.0, Lang::En, Style::Emoji, 4, false, &[(10_000, END)]),
    ("cass", 1.0, Lang::En, Style::Lower, 2, false, &[(300, 900), (8_100, 8_900)]),
    ("mooncake", 1.0, Lang::En, Style::Terse, 0, false, &[(1_000, 10_600)]),
];

/// The user whose `userLeave` the recording lost: gone from the server at
/// 2,000 s, absent from the second `userlist`.
const LOST_LEAVE: &str = "quietkid";
/// The user whose `addUser` the recording lost: in the channel from 2,300 s,
/// chats, first announced by the second `userlist`.
const LOST_JOIN: &str = "nightowl_";
/// Extra aliases (accounts on the same IP), shown to moderators.
const ALTS: &[(&str, &str)] =
    &[("pixelpusher", "pxp_"), ("Zed", "zedd"), ("DJ-Noodle", "noodle_dj"), ("free_vbucks_now", "vbucks_free")];
const PROFILE_TEXTS: &[&str] = &[
    "",
    "lurking since 2014",
    "playlist goblin",
    "ask me about synths",
    "she/her",
    "🌙",
    "here for the bangers",
    "do not @ me before coffee",
    "מוזיקה זה החיים",
    "音楽が好き",
];

const REACT: &[&str] = &[
    "lol",
    "lmao",
    "LMAO",
    "hahaha",
    "haha",
    "💀",
    "😂",
    "😂😂😂",
    "this slaps",
    "banger",
    "absolute banger",
    "ok this is good",
    "who queued this lol",
    "nooo",
    "W",
    "L",
    "classic",
    "mood",
    "same",
    "ikr",
    "wait what",
    "o7",
    "rip",
    "🔥",
    "🔥🔥🔥",
    "👀",
    "true",
    "real",
    "so real",
    "lol yes",
    "omg",
    "pfff",
    "KEKW",
    "PogU",
    "catJAM",
    "bruh",
    "sheesh",
    "vibes",
    "peak",
    "this part!!",
    "the bass on this 😮‍💨",
    "can't stop listening",
    "it's 2am energy",
    "yesss",
    "no way",
    "😭",
    "🙏",
    "❤️",
    "👍🏽",
    "big mood",
    "lmaooo",
    "HAHAHA",
    "ok that's funny",
    "i'm crying",
    "chef's kiss",
    "10/10",
    "🎶",
    "💯",
    "KEKW KEKW",
];
const MEDIA_TALK: &[&str] = &[
    "who added {t}? great pick",
    "{t} never gets old",
    "is this the live version?",
    "I haven't heard this in years",
    "the drop at 2:{n}0 though",
    "whoever queued this, thank you",
    "can we get something chill next",
    "this is my dad's favourite",
    "ok but the video for this is unhinged",
    "more stuff like this pls",
    "next one's mine, sorry in advance",
    "volume is really low on this one",
    "buffering for anyone else?",
    "refresh fixed it for me",
    "sync is off by like 2s for me",
    "didn't we watch this last week lol",
    "{t} 😍",
    "the comments on \"{t}\" are gold",
    "I'd never heard of this, it's great",
    "how long is this one?",
    "my speakers are not ready for this",
    "this is going in my playlist",
    "who made this?? I need more",
    "the harmonies in this 🥹",
    "{u} you'd love this one",
];
const FOOD_TALK: &[&str] = &[
    "making {f} rn",
    "anyone else eating dinner this late",
    "{u} what are you cooking",
    "I burned the {f} again",
    "ordered {f}, no regrets",
    "tea or coffee at this hour?",
    "decaf is a lie",
    "{u} save me some {f}",
    "the {f} place by me closed 😭",
    "midnight {f} hits different",
    "is {f} a sandwich? discuss",
    "{u} send the {f} recipe pls",
];
const GAME_TALK: &[&str] = &[
    "{u} did you finish {g} yet",
    "stuck on the final boss in {g}",
    "no spoilers for {g} pls",
    "patch notes for {g} dropped",
    "anyone up for {g} later?",
    "{g} is 40% off this week",
    "my {g} save got corrupted, I'm devastated",
    "{u} you still owe me a rematch",
    "speedrunners are built different",
    "{n} hours into {g} and I regret nothing",
];
const LIFE_TALK: &[&str] = &[
    "long day",
    "my cat just knocked a glass off the table",
    "it's raining here again",
    "work tomorrow 😩",
    "finally friday",
    "I should sleep but",
    "{u} how was the trip?",
    "congrats {u}!!",
    "happy birthday {u} 🎂",
    "it's snowing in {c}",
    "power just flickered",
    "neighbours are doing karaoke",
    "dog wants out, brb",
    "just got home",
    "it's {n} degrees here, send help",
    "my plants are thriving and I don't know why",
    "laundry o'clock",
    "{u} did you get the job??",
    "moving next month, packing is hell",
    "greetings from {c}",
];
const TECH_TALK: &[&str] = &[
    "firefox or chrome for this site?",
    "my wifi is held together by tape",
    "{u} did you ever fix your GPU",
    "new keyboard day",
    "mechanical keyboards are a lifestyle",
    "linux user btw",
    "my laptop fan sounds like a jet",
    "the player keeps pausing on mobile",
    "anyone else on a phone? the layout is cursed",
    "my ISP is doing \"maintenance\" again",
    "rebooting, brb",
    "if (tired) { sleep(); } else { listen(); }",
];
const BANTER: &[&str] = &[
    "{u} you're wrong and you know it",
    "{u} lol",
    "{u} exactly",
    "agreed with {u}",
    "{u} no way",
    "{u} 😂",
    "{u}: source?",
    "^ this",
    "+1",
    "seconded",
    "doesn't {u} say that every week",
    "let {u} cook",
    "{u} stop 💀",
    "{u} that's cap",
    "{u} valid",
    "{u} go to sleep",
];
const QUESTIONS: &[&str] = &[
    "what time is it for everyone?",
    "where's everyone from?",
    "who's modding tonight",
    "is there a theme tonight?",
    "what's next?",
    "did I miss anything?",
    "how do I add to the playlist?",
    "is the playlist open?",
    "anyone know what this is sampled from?",
    "what's the rule on memes in here?",
];
const GREET_SELF: &[&str] = &[
    "hi all",
    "evening",
    "hey hey",
    "o/",
    "yo",
    "hello!",
    "hi everyone 👋",
    "sup",
    "good evening friends",
    "I'm here, the party can start",
];
const GREET_OTHER: &[&str] = &["hey {u}", "o/ {u}", "{u}!!", "hi {u}", "yo {u}", "evening {u}"];
const WELCOME_BACK: &[&str] = &["wb {u}", "welcome back {u}", "{u} o/", "wb"];
const BACK_AGAIN: &[&str] = &["back", "sorry, connection died", "ok I'm back", "internet 🙄"];
const BYE: &[&str] = &[
    "night all",
    "gotta go, cya",
    "cya",
    "bedtime, night!",
    "ok I'm out, take care",
    "gn 💤",
    "later folks",
    "o7 night",
];
const GREENTEXT: &[&str] = &[
    ">tfw the playlist is all bangers",
    ">be me >forget to sleep again",
    ">implying this isn't the best song tonight",
    ">he doesn't know about the extended version",
    ">mfw the drop hits",
];
const ME: &[&str] = &[
    "/me dances",
    "/me grabs popcorn",
    "/me hides behind the couch",
    "/me vibes",
    "/me waves",
    "/me turns the volume up",
    "/me yawns",
];
const LINKS: &[&str] = &[
    "https://www.youtube.com/watch?v={y}&t={n}s",
    "look at this https://i.imgur.com/{i}.jpg",
    "https://en.wikipedia.org/wiki/Synthwave",
    "someone posted this earlier https://www.reddit.com/r/LetsTalkMusic/",
    "setlist: https://pastebin.com/{i}",
];
const SPOILERS: &[&str] = &["/sp the ending is a dream", "/sp the composer was the narrator"];
const JA: &[&str] = &[
    "こんばんは！",
    "草",
    "これ好き",
    "わかる",
    "やばい",
    "おつかれさま",
    "この曲なつかしい",
    "ｗｗｗ",
    "今日も平和だね",
    "眠い…",
    "日本から見てます",
    "音ズレしてる？",
];
const ZH: &[&str] = &["哈哈哈哈", "太好听了", "晚上好", "这首歌我超爱", "我先去吃饭", "有人在吗？", "笑死", "同意"];
const KO: &[&str] = &["ㅋㅋㅋㅋㅋ", "대박", "안녕하세요", "이 노래 좋다", "잘자요", "ㅠㅠ", "진짜?"];
const AR: &[&str] = &[
    "مساء الخير",
    "هههههه",
    "ما شاء الله",
    "الصوت مقطوع عندي",
    "أغنية رائعة",
    "تصبحون على خير",
    "يا جماعة مين شغّل هذا؟",
    "😂 والله",
    "lol هههه",
    "the chorus (الكورس) is so good",
];
const HE: &[&str] =
    &["ערב טוב", "חחחחח", "שיר מעולה", "מי שם את זה?", "לילה טוב לכולם", "אחלה ערב", "שלום everyone 👋"];
const RU: &[&str] = &["привет всем", "ахахах", "класс", "спокойной ночи", "это шедевр"];
const ES: &[&str] = &["hola a todos", "jajaja", "qué temazo", "buenas noches", "me encanta esta canción"];
const PT: &[&str] = &["boa noite galera", "kkkkkk", "que música boa", "tô de volta"];
const DE: &[&str] = &["guten Abend", "haha", "sehr gut", "gute Nacht zusammen", "Feierabend endlich"];
const EMOJI: &[&str] =
    &["😂", "🔥", "💀", "👀", "✨", "🎶", "😭", "🥲", "❤️", "🙏", "😴", "🤔", "👍", "🫠", "🏳️‍🌈", "🇯🇵", "👩‍💻"];
const FOODS: &[&str] = &[
    "ramen",
    "pasta",
    "tacos",
    "pho",
    "dumplings",
    "shakshuka",
    "pizza",
    "curry",
    "pierogi",
    "toast",
    "popcorn",
    "falafel",
    "kimchi fried rice",
    "mac & cheese",
];
const GAMES: &[&str] =
    &["Hollow Knight", "Elden Ring", "Stardew", "Tetris", "Celeste", "Balatro", "Hades", "Outer Wilds", "Factorio"];
const CITIES: &[&str] = &[
    "Osaka",
    "Leeds",
    "Haifa",
    "Amman",
    "Porto",
    "Gdańsk",
    "Montréal",
    "Seoul",
    "Lagos",
    "Auckland",
    "Chengdu",
    "Berlin",
];
const LIBRARY: &[(&str, u64)] = &[
    ("The Lanterns - Paper Moon (Live at the Roundhouse)", 287),
    ("Cat tries to catch a laser for 10 minutes", 612),
    ("How Pencils Are Made", 418),
    ("城之内ミサ - 夜の音 (live)", 324),
    ("Oud improvisation | ارتجال على العود", 455),
    ("שיר ערש - Hebrew lullaby cover", 201),
    ("'One More Time' but it's a polka", 233),
    ("Tom & Jerry-style cartoon compilation", 722),
    ("10 Minutes of Satisfying Sand Art", 600),
    ("Synthwave Sunset \"Neon Nights\" (album excerpt)", 913),
    ("Painting a quiet mountain lake, start to finish", 1562),
    ("Kirby dance but it's 2 minutes", 124),
    ("K-pop dance practice (mirrored) 안무 연습", 219),
    ("Jazz piano covers of video game music", 1344),
    ("Top 10 Speedrun Fails", 703),
    ("Honest Trailer: Every Heist Movie", 312),
    ("Desk concert: Mira & The Quiet", 1128),
    ("Whale sounds, slowed + reverb", 540),
    ("Baking bread the old way 🍞", 845),
    ("Retro game OST medley (chiptune)", 396),
    ("Short film: The Lighthouse Keeper", 478),
    ("Live from Lagos: Afrobeat jam session", 1022),
    ("Rainy Tokyo walk 4K (15 min)", 906),
    ("The History of the Keyboard in 12 Minutes", 733),
    ("Accordion metal cover - Master of Puppets", 309),
    ("Chill Arabic lofi — ليالي", 1500),
    ("Guitar loop pedal masterclass", 655),
    ("The Secret Life of Otters", 1740),
    ("Ambient space station sounds", 1200),
    ("Synth pop deep cuts vol. 3", 1450),
    ("Bossa nova for rainy evenings", 1320),
    ("Polish folk band live — Hej, sokoły", 268),
    ("Drumline battle highlights", 401),
    ("Vaporwave mall ambience", 1080),
    ("Beginner's guide to sourdough", 965),
    ("The Weird History of Emoji 😀", 688),
    ("Oldies radio 1963 (recreated broadcast)", 1795),
    ("Chiptune remix: Moonlight Sonata", 243),
    ("Ocean Waves & Thunder (10 min)", 600),
    ("Lo-fi beats — rainy window", 1860),
];
/// The operator's `rosey:say` messages, one about every 15 minutes.
const SAYS: &[&str] = &[
    "Good evening, night owls! The playlist is open — queue away 🎶",
    "Reminder: be kind, and no spoilers without /sp.",
    "Tonight's theme: songs from your hometown.",
    "If the player desyncs, a refresh usually fixes it.",
    "Halfway through the evening — thanks for hanging out!",
    "Requests are open until 23:30.",
    "Welcome to everyone who just joined 👋",
    "Tip: type /afk if you step away.",
    "Last call for requests!",
    "Mods tonight: Tamsin, Brennan, Kaede_ and pixelpusher.",
    "Shoutout to whoever queued the synthwave 🔥",
    "That's a wrap — good night, everyone! ✨",
];
const PMS: &[&str] = &[
    "hey Rosey, are you a bot?",
    "rosey what's your uptime",
    "can you add my song to the list?",
    "ty for the welcome :)",
    "is there a way to see my chat stats?",
    "ping",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Topic {
    Media,
    Food,
    Games,
    Life,
    Tech,
    Questions,
}

const TOPICS: &[(Topic, u32)] = &[
    (Topic::Media, 9),
    (Topic::Food, 3),
    (Topic::Games, 3),
    (Topic::Life, 5),
    (Topic::Tech, 2),
    (Topic::Questions, 2),
];

// ---------------------------------------------------------------------------
// evening.jsonl: the simulation
// ---------------------------------------------------------------------------

/// The evening's length; `end_ms` in the header.
const DURATION_MS: u64 = END * 1000;

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
fn evening() -> Fixture {
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

    // --- the script ---------------------------------------------------------

    fn plan(&mut self) {
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
    fn join_sequence(&mut self) {
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

    fn second(&mut self, s: u64) {
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

    fn join(&mut self, s: u64, i: usize) {
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

    fn leave(&mut self, s: u64, i: usize) {
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
    fn promote(&mut self, s: u64) {
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

    fn leader(&mut self, s: u64, on: bool) {
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

    fn voteskip(&mut self, s: u64) {
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

    fn queue(&mut self, s: u64) {
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

    fn delete(&mut self, s: u64) {
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

    fn move_video(&mut self, s: u64) {
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
    fn long_line(&mut self, s: u64, k: usize) {
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

    // --- every second ---------------------------------------------------------

    fn media_tick(&mut self, s: u64) {
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
    fn play_next(&mut self, at: u64) {
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

    fn chat_tick(&mut self, s: u64) {
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
    fn afk_tick(&mut self, s: u64) {
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
    fn anon_tick(&mut self, s: u64) {
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

    // --- what people type ------------------------------------------------------

    /// Sends `setAFK` if it changes anything, never before the user's last
    /// AFK or chat event. Returns when that user's state now holds.
    fn set_afk(&mut self, at: u64, i: usize, afk: bool) -> u64 {
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
    fn emit_chat(&mut self, at: u64, i: usize, raw: &str) {
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

    fn slots(&mut self) -> [&'static str; 3] {
        [self.pick(FOODS), self.pick(GAMES), self.pick(CITIES)]
    }

    /// A line for `i` in a conversation on `topic`, maybe answering `prev`.
    fn line(&mut self, i: usize, (topic, slots): (Topic, [&'static str; 3]), prev: Option<usize>, s: u64) -> String {
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
    fn styled(&mut self, i: usize, raw: &str) -> String {
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

// ---------------------------------------------------------------------------
// messy.jsonl
// ---------------------------------------------------------------------------

/// Hostile but well-formed: every line is JSON and `at_ms` never decreases,
/// but fields are missing, mistyped, huge, empty or strange. Normal events
/// between them keep the snapshot meaningful.
fn messy() -> Fixture {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED_MESSY);
    let mut fx = Fixture::new("sandbox", 1_731_200_000_000);
    let start = fx.start_unix_ms;
    let user = |name: J, rank: J| {
        obj! {
            "name" => name, "rank" => rank,
            "profile" => obj! { "image" => "", "text" => "" },
            "meta" => obj! { "afk" => false, "muted" => false },
        }
    };
    let ok = |name: &str, rank: i64| user(J::from(name), J::Int(rank));

    // The join sequence. The userlist mixes good entries with bad ones; the
    // bot's rank 2 and chat permission 0 stay in force throughout.
    fx.push(0, "rank", J::from(2));
    fx.push(0, "setPermissions", default_permissions());
    for (k, (name, msg)) in [
        ("alice", "history: hello from before"),
        ("Bob", "history: second line"),
        ("[server]", "alice joined (aliases: alice)"),
    ]
    .iter()
    .enumerate()
    {
        let meta = if name.starts_with('[') { server_meta() } else { J::Obj(vec![]) };
        let time = start - 60_000 + k as u64 * 1_000;
        fx.push(0, "chatMsg", chat_msg(name, msg, meta, time));
    }
    fx.push(
        0,
        "userlist",
        J::Arr(vec![
            ok(BOT, 2),
            ok("alice", 1),
            ok("Bob", 1),
            ok("bob", 0),
            obj! { "rank" => 1, "profile" => obj! { "image" => "", "text" => "" }, "meta" => obj! { "afk" => false, "muted" => false } },
            user(J::Null, J::Int(0)),
            user(J::Int(42), J::Int(0)),
            J::from("carol"),
            J::Obj(vec![]),
            J::Null,
            ok("Zoe", 1),
            ok("zoe", 0),
            ok("", 0),
            ok("Robert'); DROP TABLE user_stats;--", 0),
        ]),
    );
    fx.push_late(0, "usercount", J::from(11));

    let mut t = 0u64;
    let mut lines: Vec<(&str, J)> = Vec::new();
    let chat = |u: J, m: J| obj! { "username" => u, "msg" => m, "meta" => J::Obj(vec![]), "time" => start };
    let s = |x: &str| J::from(x);
    let big_ascii: String = "All work and no play makes Jack a dull boy. ".repeat(233).chars().take(10_240).collect();
    let big_emoji: String = "🦀".repeat(2_560);
    let hostile: Vec<(&str, J)> = vec![
        ("addUser", ok("alice", 1)),
        ("userLeave", obj! { "name" => "never_seen_42" }),
        ("chatMsg", obj! { "msg" => "who am I?", "meta" => J::Obj(vec![]), "time" => start }),
        ("chatMsg", obj! { "username" => "alice", "meta" => J::Obj(vec![]), "time" => start }),
        ("chatMsg", chat(s("alice"), J::Int(42))),
        ("chatMsg", chat(s("alice"), J::Null)),
        ("chatMsg", chat(s("alice"), obj! { "text" => "hi" })),
        ("chatMsg", chat(s("alice"), J::Arr(vec![s("a"), s("b")]))),
        ("chatMsg", chat(s("alice"), J::Bool(true))),
        ("chatMsg", chat(J::Int(7), s("my name is a number"))),
        ("chatMsg", chat(J::Null, s("my name is null"))),
        ("chatMsg", chat(J::Arr(vec![s("alice")]), s("my name is a list"))),
        ("chatMsg", chat(s(""), s("my name is empty"))),
        ("chatMsg", obj! { "username" => "Bob", "msg" => "no meta, no time: still chat" }),
        (
            "chatMsg",
            obj! { "username" => "Bob", "msg" => "time is a string", "meta" => J::Obj(vec![]), "time" => "yesterday" },
        ),
        ("chatMsg", J::from("hello")),
        ("chatMsg", J::Null),
        ("chatMsg", J::Arr(vec![s("alice"), s("hi")])),
        (
            "addUser",
            obj! { "rank" => 0, "profile" => obj! { "image" => "", "text" => "" }, "meta" => obj! { "afk" => false, "muted" => false } },
        ),
        ("addUser", user(J::Int(12_345), J::Int(0))),
        ("addUser", user(J::Null, J::Int(0))),
        ("addUser", J::from("dave")),
        ("addUser", J::Null),
        ("addUser", J::Arr(vec![])),
        ("userLeave", J::Obj(vec![])),
        ("userLeave", obj! { "name" => J::Null }),
        ("userLeave", obj! { "name" => 99 }),
        ("userLeave", J::from("alice")),
        ("usercount", J::from(-1)),
        ("usercount", J::from("12")),
        ("usercount", J::from(3.5)),
        ("usercount", J::Raw("12.0")),
        ("usercount", J::Raw("18446744073709551616")),
        ("usercount", obj! { "count" => 4 }),
        ("usercount", J::Null),
        ("usercount", J::Bool(true)),
        ("usercount", J::Arr(vec![J::from(7)])),
        ("userlist", obj! { "name" => "alice" }),
        ("userlist", J::from("alice,Bob")),
        ("chatMsg", chat(s("alice"), J::from(big_ascii))),
        ("chatMsg", chat(s("Bob"), J::from(big_emoji))),
        ("chatMsg", chat(s("alice"), s("'); DROP TABLE user_stats;--"))),
        ("chatMsg", chat(s("Bob"), s("Robert'); --"))),
        ("chatMsg", chat(s("alice"), s("\" OR \"1\"=\"1"))),
        ("addUser", ok("Robert'); --", 0)),
        ("chatMsg", chat(s("Robert'); --"), s("little bobby tables says hi"))),
        ("chatMsg", chat(s("Robert'); DROP TABLE user_stats;--"), s("SELECT * FROM user_stats;"))),
        ("chatMsg", chat(s("alice"), s("nul\u{0}byte"))),
        ("chatMsg", chat(s("alice"), s("bell\u{7}\u{7}\u{7}"))),
        ("chatMsg", chat(s("Bob"), s("\u{1b}[31mred text\u{1b}[0m"))),
        ("chatMsg", chat(s("Bob"), s("line one\nline two\r\nline three\ttabbed"))),
        ("chatMsg", chat(s("alice"), s("zero\u{200b}width\u{200c}non\u{200d}joiner\u{feff}bom"))),
        (
            "chatMsg",
            chat(s("alice"), s("Ame\u{301}lie vs Am\u{e9}lie, Z\u{335}\u{321}a\u{336}\u{322}l\u{337}g\u{338}o\u{334}")),
        ),
        ("chatMsg", chat(s("Bob"), s("\u{202e}txt.exe right-to-left override"))),
        ("chatMsg", chat(s("Bob"), s("line\u{2028}separator and\u{2029}paragraph"))),
        ("chatMsg", chat(s("alice"), s(""))),
        ("chatMsg", chat(s("alice"), s("   "))),
        ("chatMsg", chat(s("Bob"), s(" \t\n "))),
        ("chatMsg", chat(s("alice"), s("<script>alert(1)</script>"))),
        ("chatMsg", chat(s("alice"), s("{\"username\": \"admin\", \"msg\": \"nested\"}"))),
        ("chatMsg", chat(s("Bob"), s("C:\\Users\\bob\\%s%n%x ${HOME} $(rm -rf /)"))),
        ("addUser", ok("zoe\u{200b}", 0)),
        ("addUser", ok("Rene\u{301}e", 1)),
        ("addUser", ok("Ren\u{e9}e", 1)),
        ("addUser", ok("ZOE", 0)),
        ("chatMsg", chat(s("zoe\u{200b}"), s("I look like zoe"))),
        ("chatMsg", chat(s("ZOE"), s("and I am ZOE"))),
        ("chatMsg", chat(s("Rene\u{301}e"), s("decomposed"))),
        ("chatMsg", chat(s("Ren\u{e9}e"), s("precomposed"))),
        ("addUser", ok("eve\u{0}", 0)),
        ("chatMsg", chat(s("eve\u{0}"), s("NUL in my name"))),
        ("addUser", ok(&"x".repeat(300), 0)),
        ("chatMsg", chat(s(BOT), s("Hello, I am Rosey (this line came from the server)."))),
        (
            "chatMsg",
            obj! { "username" => "[server]", "msg" => "Bob muted bob", "meta" => server_meta(), "time" => start },
        ),
        (
            "chatMsg",
            obj! { "username" => "[voteskip]", "msg" => "Voteskip passed", "meta" => server_meta(), "time" => start },
        ),
        ("setMotd", J::from("<marquee>welcome</marquee>")),
        (
            "emoteList",
            J::Arr(vec![
                obj! { "name" => "Kappa", "image" => "https://i.imgur.com/kPp4c1c.png", "source" => "\\bKappa\\b" },
            ]),
        ),
        ("voteskip", obj! { "count" => 1, "need" => 3 }),
        ("mediaUpdate", obj! { "currentTime" => 12.5, "paused" => false }),
        ("channelCSSJS", obj! { "css" => "body { background: #000; }", "js" => "console.log('hi')" }),
        ("clearchat", J::Null),
        ("ChatMsg", chat(s("alice"), s("wrong case event name: not a chatMsg"))),
        ("Rosey:say", obj! { "message" => "not an operator action (capital R)" }),
        ("setAFK", obj! { "name" => "nobody_here", "afk" => true }),
        ("setAFK", obj! { "name" => "alice", "afk" => "yes" }),
        ("setAFK", J::from(5)),
        ("setUserRank", J::from("alice")),
        ("setUserMeta", obj! { "name" => "alice", "meta" => "muted" }),
        ("rank", J::from("2")),
        ("rank", J::Null),
        ("setPermissions", J::Arr(vec![])),
        ("playlist", J::from("nope")),
        ("delete", obj! { "uid" => 9_999 }),
        ("moveVideo", obj! { "from" => 9_999, "after" => "prepend" }),
        ("setCurrent", J::from(9_999)),
        ("pm", obj! { "username" => "alice", "msg" => J::Null, "to" => BOT }),
        ("rosey:say", obj! { "message" => "" }),
        ("rosey:say", obj! { "message" => "   " }),
        ("rosey:say", J::Obj(vec![])),
        ("rosey:say", obj! { "message" => 42 }),
        ("rosey:say", obj! { "message" => "Testing, testing — Rosey here ✅" }),
        ("chatMsg", chat(s("🦀crab"), s("emoji in my name"))),
        ("chatMsg", chat(s(" alice "), s("spaces around my name"))),
        ("chatMsg", chat(s("[server"), s("half a bracket: an ordinary user"))),
        ("chatMsg", chat(s("[notserver]"), s("bracketed, so not chat"))),
        ("chatMsg", chat(s(&"x".repeat(300)), s("300-character name"))),
        ("chatMsg", chat(s("alice"), s(&"0123456789".repeat(24)))),
        ("chatMsg", obj! { "username" => "alice", "msg" => "meta is null", "meta" => J::Null, "time" => start }),
        (
            "chatMsg",
            obj! { "username" => "Bob", "msg" => "extra fields", "meta" => J::Obj(vec![]), "time" => start, "extra" => obj! { "nested" => J::Arr(vec![]) } },
        ),
        ("addUser", obj! { "name" => "frank", "rank" => "1", "profile" => J::Null, "extra" => true }),
        ("chatMsg", chat(s("frank"), s("my rank is a string and I have no profile"))),
        ("userLeave", obj! { "name" => "" }),
        ("usercount", J::from(0)),
        (
            "userlist",
            J::Arr(vec![
                ok(BOT, 2),
                ok("alice", 1),
                ok("alice", 1),
                ok("Bob", 1),
                ok("bob", 0),
                ok("dave", 2),
                ok("Zoe", 1),
                ok("zoe", 0),
                ok("frank", 1),
            ]),
        ),
        ("setAFK", obj! { "name" => BOT, "afk" => true }),
        (
            "pm",
            obj! { "username" => "alice", "msg" => "psst, Rosey", "meta" => J::Obj(vec![]), "time" => start, "to" => BOT },
        ),
        ("setAFK", obj! { "name" => BOT, "afk" => false }),
        ("userLeave", obj! { "name" => "Bob" }),
        ("userLeave", obj! { "name" => "Bob" }),
        ("chatMsg", chat(s("Bob"), s("I left but I am still talking"))),
    ];
    // Normal traffic between the hostile lines.
    let normal: Vec<(&str, J)> = vec![
        ("chatMsg", chat(s("alice"), s("hi all"))),
        ("chatMsg", chat(s("Bob"), s("evening"))),
        ("addUser", ok("dave", 1)),
        ("chatMsg", chat(s("dave"), s("hey, what did I miss?"))),
        ("chatMsg", chat(s("Zoe"), s("hi from Zoe"))),
        ("chatMsg", chat(s("zoe"), s("hi from zoe (lower case)"))),
        ("setAFK", obj! { "name" => "Zoe", "afk" => true }),
        ("chatMsg", chat(s("bob"), s("I am bob, not Bob"))),
        ("usercount", J::from(12)),
        ("addUser", ok("erin", 0)),
        ("chatMsg", chat(s("erin"), s("first time here 👋"))),
        ("setUserMeta", obj! { "name" => BOT, "meta" => obj! { "afk" => false, "muted" => false } }),
        ("chatMsg", chat(s("alice"), s("ok this is getting weird"))),
        ("userLeave", obj! { "name" => "erin" }),
        ("usercount", J::from(11)),
        ("chatMsg", chat(s("dave"), s("lol"))),
        ("addUser", ok("erin", 0)),
        ("chatMsg", chat(s("erin"), s("back"))),
        ("setUserRank", obj! { "name" => "dave", "rank" => 2 }),
        ("chatMsg", chat(s("alice"), s("gg"))),
    ];
    let mut normal = normal.into_iter();
    for (name, data) in hostile {
        lines.push((name, data));
        if rng.random_bool(0.35) {
            if let Some(n) = normal.next() {
                lines.push(n);
            }
        }
    }
    lines.extend(normal);
    lines.push(("chatMsg", chat(s("alice"), s("that's all, night!"))));
    lines.push(("usercount", J::from(7)));
    for (name, mut data) in lines {
        // Same-millisecond runs now and then.
        if !rng.random_bool(0.15) {
            t += rng.random_range(200..2_400u64);
        }
        if let J::Obj(fields) = &mut data {
            for (k, v) in fields.iter_mut() {
                if k == "time" && matches!(v, J::Int(_)) {
                    *v = J::from(start + t);
                }
            }
        }
        fx.push(t, name, data);
    }
    fx
}
