//! `messy.jsonl`: hostile but well-formed lines, for the parser's sake.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cytube::{chat_msg, default_permissions, server_meta};
use crate::fixture::{Fixture, BOT};
use crate::json::{obj, J};

/// The seed of this file's ChaCha8: its bytes are a pure function of it.
const SEED_MESSY: u64 = 0x5EED_0003;

/// Hostile but well-formed: every line is JSON and `at_ms` never decreases,
/// but fields are missing, mistyped, huge, empty or strange. Normal events
/// between them keep the snapshot meaningful.
pub(crate) fn messy() -> Fixture {
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
