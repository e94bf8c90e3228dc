//! `smoke.jsonl`: one short minute that touches every event kind.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::cytube::{chat_msg, chat_payload, default_permissions, emit_usercounts, server_notice};
use crate::fixture::{Fixture, BOT};
use crate::json::{obj, J};
use crate::pack::{Item, Media, Who};
use crate::rng::masked_ip;

/// The seed of this file's ChaCha8: its bytes are a pure function of it.
const SEED_SMOKE: u64 = 0x5EED_0001;

/// One minute, every event kind at least once, `mediaUpdate` the only event
/// the bot does not know. The bot has rank 2 throughout, so it gets the
/// moderators' view and `[server]` notices. No `end_ms` in the header.
pub(crate) fn smoke() -> Fixture {
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
