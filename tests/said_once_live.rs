//! Said exactly once on a live channel (issue 9): a line is marked sent only
//! when the server's echo arrives; a poll that returns it meanwhile does not
//! say it again; an earlier line whose echo is skipped was dropped by the
//! server; a line in flight when the socket dropped is decided by the
//! re-join's history; a line that timed out is still confirmed by a late
//! echo, and its retry does not say it again.

use rosey::bot::{Bot, Protocol, ECHO_TIMEOUT_MS};
use rosey::chat::{ChatSink, SayError, SayOutcome};
use rosey::contract::{Command, MarkFailed, MarkSent, OutboundRow};
use rosey::cytube::{ChatEvent, User, UserlistUpdate};

/// A live channel's sink: every line is written and awaits its echo.
#[derive(Default)]
struct LiveSink {
    written: Vec<String>,
}

impl ChatSink for LiveSink {
    fn say(&mut self, _at_ms: i64, text: &str) -> Result<SayOutcome, SayError> {
        self.written.push(text.to_string());
        Ok(SayOutcome::Sent)
    }
}

fn row(id: i64, message: &str) -> OutboundRow {
    OutboundRow { id, timestamp: 0, message: message.into(), retry_count: 0, last_error: None }
}

fn echo(msg: &str, time: i64) -> ChatEvent {
    ChatEvent::ChatMsg { username: "Rosey".into(), msg: msg.into(), time: Some(time) }
}

fn marks(commands: Vec<Command>) -> Vec<Command> {
    commands.into_iter().filter(|c| matches!(c, Command::MarkSent(_) | Command::MarkFailed(_))).collect()
}

fn joined_bot() -> Bot {
    let mut bot = Bot::new("lounge", "Rosey", 0, Protocol::Hardened);
    let users = vec![User { name: "Rosey".into(), rank: 2.0, afk: false, muted: false }];
    bot.handle(&ChatEvent::Userlist(UserlistUpdate { users, dropped: Vec::new() }), 0);
    bot
}

#[test]
fn marked_sent_on_the_echo_and_never_said_twice_meanwhile() {
    let mut bot = joined_bot();
    let mut sink = LiveSink::default();
    let state = bot.state.clone();
    assert!(bot.outbound.on_rows(&[row(1, "a <b> & https://x.test")], &state, &mut sink, 2_000).is_empty());
    // The next poll returns the row again: in flight, not said again.
    assert!(bot.outbound.on_rows(&[row(1, "a <b> & https://x.test")], &state, &mut sink, 4_000).is_empty());
    assert_eq!(sink.written.len(), 1);
    let echoed =
        r#"a &lt;b&gt; &amp; <a href="https://x.test" target="_blank" rel="noopener noreferrer">https://x.test</a>"#;
    let out = marks(bot.handle(&echo(echoed, 4_500), 4_500));
    assert_eq!(out, [Command::MarkSent(MarkSent { message_id: 1, at_ms: Some(4_500) })]);
    // The echo is chat like every other line.
    assert!(bot.handle(&echo("again", 5_000), 5_000).iter().any(|c| matches!(c, Command::MessageLog(_))));
}

#[test]
fn a_skipped_echo_was_dropped_and_a_missing_one_expires() {
    let mut bot = joined_bot();
    let mut sink = LiveSink::default();
    let state = bot.state.clone();
    bot.outbound.on_rows(&[row(1, "one"), row(2, "two"), row(3, "three")], &state, &mut sink, 2_000);
    let out = marks(bot.handle(&echo("two", 2_100), 2_100));
    assert!(
        matches!(
            &out[..],
            [
                Command::MarkFailed(MarkFailed { message_id: 1, permanent: false, .. }),
                Command::MarkSent(MarkSent { message_id: 2, .. }),
            ]
        ),
        "{out:?}"
    );
    let late = bot.outbound.expire_echoes(2_000 + ECHO_TIMEOUT_MS);
    assert!(matches!(&late[..], [Command::MarkFailed(MarkFailed { message_id: 3, permanent: false, .. })]), "{late:?}");
}

/// Seen against the real CyTube paused for 15 s: it echoed the line when it
/// resumed, after the bot had marked it not echoed.
#[test]
fn a_late_echo_confirms_a_timed_out_line_and_its_retry_is_not_said() {
    let mut bot = joined_bot();
    let mut sink = LiveSink::default();
    let state = bot.state.clone();
    bot.outbound.on_rows(&[row(1, "into a frozen server")], &state, &mut sink, 2_000);
    let timed_out = bot.outbound.expire_echoes(2_000 + ECHO_TIMEOUT_MS);
    assert!(matches!(&timed_out[..], [Command::MarkFailed(MarkFailed { message_id: 1, permanent: false, .. })]));
    let at = 2_000 + ECHO_TIMEOUT_MS + 3_000;
    let out = marks(bot.handle(&echo("into a frozen server", at), at));
    assert_eq!(out, [Command::MarkSent(MarkSent { message_id: 1, at_ms: Some(at) })]);
    // A poll that still returns it (the mark not applied yet) resends the mark, not the line.
    let again = bot.outbound.on_rows(&[row(1, "into a frozen server")], &state, &mut sink, at + 2_000);
    assert_eq!(again, [Command::MarkSent(MarkSent { message_id: 1, at_ms: Some(at) })]);
    assert_eq!(sink.written.len(), 1);
}

#[test]
fn a_retried_line_is_no_longer_confirmed_by_its_first_sending() {
    let mut bot = joined_bot();
    let mut sink = LiveSink::default();
    let state = bot.state.clone();
    bot.outbound.on_rows(&[row(1, "twice")], &state, &mut sink, 0);
    bot.outbound.expire_echoes(ECHO_TIMEOUT_MS);
    // The retry says it again: from now on only the new sending is awaited.
    bot.outbound.on_rows(&[row(1, "twice")], &state, &mut sink, 120_000);
    assert_eq!(sink.written.len(), 2);
    assert_eq!(bot.outbound.awaiting_echo(), 1);
    let out = marks(bot.handle(&echo("twice", 120_100), 120_100));
    assert_eq!(out, [Command::MarkSent(MarkSent { message_id: 1, at_ms: Some(120_100) })]);
}

#[test]
fn a_line_in_flight_at_a_disconnect_is_decided_by_the_rejoin_history() {
    let mut bot = joined_bot();
    let mut sink = LiveSink::default();
    let state = bot.state.clone();
    bot.outbound.on_rows(&[row(1, "made it"), row(2, "lost")], &state, &mut sink, 2_000);
    bot.handle(&ChatEvent::Disconnect, 2_050);
    bot.handle(&ChatEvent::Connect, 3_000);
    // The history shows the first line: the server had accepted it.
    let from_history = marks(bot.handle(&echo("made it", 2_010), 3_001));
    assert_eq!(from_history, [Command::MarkSent(MarkSent { message_id: 1, at_ms: Some(3_001) })]);
    let users = vec![User { name: "Rosey".into(), rank: 2.0, afk: false, muted: false }];
    let after = marks(bot.handle(&ChatEvent::Userlist(UserlistUpdate { users, dropped: Vec::new() }), 3_002));
    assert!(
        matches!(&after[..], [Command::MarkFailed(MarkFailed { message_id: 2, permanent: false, .. })]),
        "{after:?}"
    );
    assert_eq!(bot.outbound.awaiting_echo(), 0);
}
