//! `no_loss` and `counted_once` when the bot's chat is a CyTube server
//! (`chat = "cytube"`).
//!
//! The oracle stays the direct-mode replay of the fixture, compared where the
//! two worlds agree. The fake's broadcast log says what the channel said, so:
//!
//! - the fixture's chat lines (but the bot's own and `[server]` notices) are
//!   in that log, once each, unless the server was down (`chat_restart`);
//! - every line of the log is stored once, by user and text (the renderings
//!   differ: compared through [`chat_key`]), unless a bus fault's loss window
//!   holds it, or it was said while the bot was away (from a chat fault's
//!   start to the bot's next `rosey:connect`) and at least 15 lines followed
//!   it before the re-join, so the re-join's history no longer held it;
//! - every user of the reference is in `user_stats` (by name: a user seen
//!   late, at a re-join's `userlist`, gets a later `first_seen`);
//! - outbound rows are judged as in the stand-in world.
//!
//! Not compared, because the fake legitimately computes them itself: row
//! times of chat lines (its clock, the bot's receive time), `usercount` and
//! so `user_count_history` and `channel_stats`, `current_status` (rank,
//! playlist), sessions. The bot's own echoed lines are chat in this world and
//! not in direct mode; `said_once` judges them.

use std::collections::BTreeMap;

use rosey::contract::Subject;
use rosey::store::DbDump;
use rosey::trace::TraceEvent;

use super::database::{excess_rows, missing_rows};
use super::rows::{self, ChatRow, OutboundRow, UserRow};
use super::{CytubeView, Failure, Observed};
use crate::cytube::ChatLine;
use crate::fault::{Fault, FaultSpec};
use rosey::cytube::echo::comparable as chat_key;

/// Lines the history replays on a join.
const HISTORY_LINES: usize = 15;
/// How long after the bot's `rosey:connect` the server handles its join.
const JOIN_MS: i64 = 100;

type Key = (String, String);

fn is_notice(username: &str) -> bool {
    username.starts_with('[') && username.ends_with(']')
}

fn key(username: &str, msg: &str) -> Key {
    (username.to_string(), chat_key(msg))
}

/// Chat rows of a dump as keys, the bot's own left out.
fn stored(dump: &DbDump, bot: &str) -> Vec<Key> {
    rows::read::<ChatRow>(dump).iter().filter(|r| r.username != bot).map(|r| key(&r.username, &r.message)).collect()
}

/// The channel's lines as the log has them, the bot's and notices left out.
fn channel_lines<'l>(view: &CytubeView<'l>) -> impl Iterator<Item = &'l ChatLine> + 'l {
    let bot = view.bot;
    view.log.iter().filter(move |l| l.username != bot && !is_notice(&l.username))
}

fn multiset(keys: impl IntoIterator<Item = Key>) -> BTreeMap<Key, usize> {
    rows::multiset(keys)
}

pub(super) fn no_loss(o: &Observed<'_>, view: &CytubeView<'_>) -> Result<(), Failure> {
    let bus_windows: Vec<(i64, i64)> = o.bus_loss_windows();
    let in_bus_window = |t: i64| bus_windows.iter().any(|&(from, until)| from <= t + 999 && t < until);
    let away: Vec<(i64, i64)> = o.faults.iter().filter_map(Fault::chat_away).collect();
    let down: Vec<(i64, i64)> =
        o.faults.iter().filter(|f| f.what == FaultSpec::ChatRestart).map(|f| (f.from_ms, f.until_ms + 1_000)).collect();
    let connects: Vec<i64> = o
        .trace
        .iter()
        .filter(|r| matches!(&r.event, TraceEvent::Event { event, .. } if event == "rosey:connect"))
        .map(|r| r.t)
        .collect();
    let lines: Vec<&ChatLine> = channel_lines(view).collect();
    let virtual_ms = |line: &ChatLine| line.time - o.start_unix_ms;
    let mut missing = Vec::new();

    // What the fixture's users said reached the channel (the harness's own check).
    let mut said = multiset(lines.iter().map(|l| key(&l.username, &l.msg)));
    for row in rows::read::<ChatRow>(o.reference).iter().filter(|r| r.username != view.bot) {
        match said.get_mut(&key(&row.username, &row.message)) {
            Some(n) if *n > 0 => *n -= 1,
            _ if down.iter().any(|&(from, until)| {
                from <= row.timestamp * 1000 - o.start_unix_ms + 999 && row.timestamp * 1000 - o.start_unix_ms < until
            }) => {}
            _ => missing.push(format!("the channel never said {:?} of {:?}", row.message, row.username)),
        }
    }

    // Every line the channel said is stored, unless a fault excuses it.
    let mut available = multiset(stored(o.dump, view.bot));
    for (index, line) in lines.iter().enumerate() {
        let t = virtual_ms(line);
        let found = available.get_mut(&key(&line.username, &line.msg)).filter(|n| **n > 0);
        if let Some(n) = found {
            *n -= 1;
            continue;
        }
        let past_history = away.iter().any(|&(from, _)| {
            from <= t && {
                let rejoin = connects.iter().copied().find(|&c| c > t).map_or(i64::MAX, |c| c + JOIN_MS);
                let later = lines[index + 1..].iter().filter(|l| virtual_ms(l) <= rejoin).count();
                // The bot's own lines take places in the history too.
                let own =
                    view.log.iter().filter(|l| l.username == view.bot && virtual_ms(l) > t && virtual_ms(l) <= rejoin);
                later + own.count() >= HISTORY_LINES || rejoin == i64::MAX
            }
        });
        if !past_history && !in_bus_window(t) {
            missing.push(format!("recent_chat [{:?},{:?}] at {t} ms", line.username, line.msg));
        }
    }

    let names =
        |dump: &DbDump| -> Vec<String> { rows::read::<UserRow>(dump).into_iter().map(|u| u.username).collect() };
    let have = names(o.dump);
    for user in rows::read::<UserRow>(o.reference) {
        let t = user.first_seen * 1000 - o.start_unix_ms;
        let excused = in_bus_window(t) || away.iter().any(|&(from, until)| from <= t + 999 && t < until);
        if !have.contains(&user.username) && !excused {
            missing.push(format!("user_stats {:?}", user.username));
        }
    }

    let windows: Vec<(i64, i64)> =
        bus_windows.iter().map(|&(from, until)| (o.start_unix_ms + from, o.start_unix_ms + until)).collect();
    let excused = |ts_s: i64| windows.iter().any(|&(from, until)| ts_s * 1000 + 999 >= from && ts_s * 1000 < until);
    let mut evidence = Vec::new();
    missing_rows::<OutboundRow>(o, &excused, &mut missing, &mut evidence);
    if missing.is_empty() {
        return Ok(());
    }
    let detail = format!(
        "{} rows missing that no fault excuses, first: {}",
        missing.len(),
        missing[..missing.len().min(3)].join(", ")
    );
    if evidence.is_empty() {
        evidence =
            o.evidence(4, |event| matches!(event, TraceEvent::Event { event, .. } if event.starts_with("rosey:")));
    }
    Err(Failure::new(detail, evidence))
}

pub(super) fn counted_once(o: &Observed<'_>, view: &CytubeView<'_>) -> Result<(), Failure> {
    let mut excess = Vec::new();
    let said = multiset(channel_lines(view).map(|l| key(&l.username, &l.msg)));
    for (k, n) in multiset(stored(o.dump, view.bot)) {
        let allowed = said.get(&k).copied().unwrap_or(0);
        if n > allowed {
            excess.push(format!("recent_chat {k:?} x{n} (said x{allowed})"));
        }
    }
    let mut lines_by_user: BTreeMap<&str, i64> = BTreeMap::new();
    for line in view.log.iter().filter(|l| !is_notice(&l.username)) {
        *lines_by_user.entry(line.username.as_str()).or_default() += 1;
    }
    for user in rows::read::<UserRow>(o.dump) {
        let allowed = lines_by_user.get(user.username.as_str()).copied().unwrap_or(0);
        if user.total_chat_lines > allowed {
            excess.push(format!(
                "user_stats {:?} total_chat_lines {} (said {allowed})",
                user.username, user.total_chat_lines
            ));
        }
    }
    let mut first_subject = None;
    excess_rows::<OutboundRow>(o, &mut excess, &mut first_subject);
    if excess.is_empty() {
        return Ok(());
    }
    let detail = format!(
        "{} rows or counts above what the channel said, first: {}",
        excess.len(),
        excess[..excess.len().min(3)].join(", ")
    );
    let evidence =
        o.evidence(4, |event| matches!(event, TraceEvent::Apply { subject, .. } if *subject == Subject::MessageLog));
    Err(Failure::new(detail, evidence))
}
