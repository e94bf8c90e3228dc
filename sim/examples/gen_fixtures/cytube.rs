//! What CyTube's own code does to what users type and to the user count,
//! so that the payloads look like a real server's.

use crate::fixture::Fixture;
use crate::json::{obj, J};

/// CyTube's `USERCOUNT_THROTTLE`.
const USERCOUNT_THROTTLE_MS: u64 = 10_000;

/// CyTube cuts chat input to this many UTF-16 units.
const CHAT_LIMIT: usize = 240;

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
pub(crate) fn chat_payload(raw: &str, flair: Option<f64>) -> (String, J) {
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

pub(crate) fn chat_msg(username: &str, msg: &str, meta: J, time: u64) -> J {
    obj! { "username" => username, "msg" => msg, "meta" => meta, "time" => time }
}

pub(crate) fn server_meta() -> J {
    obj! { "addClass" => "server-whisper", "addClassToNameAndTimestamp" => true }
}

/// A `[server]` notice, as `sendModMessage` sends it.
pub(crate) fn server_notice(fx: &mut Fixture, at: u64, user: &str, msg: &str) {
    let time = fx.now(at);
    fx.push(at, "chatMsg", chat_msg(user, msg, server_meta(), time));
}

/// CyTube's default channel permissions (`chat: 0`: everyone may chat).
pub(crate) fn default_permissions() -> J {
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

/// Turns connection-count changes `(at_ms, count)` into `usercount` events as
/// CyTube's throttle sends them: at most one per 10 s, the latest value, and
/// (as the fixture brief asks) only when it differs from the last one sent.
/// `first` is the `usercount` already sent in the join sequence.
pub(crate) fn emit_usercounts(fx: &mut Fixture, changes: &[(u64, i64)], first: (u64, i64), end_ms: u64) {
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
