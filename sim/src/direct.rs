//! Direct mode: the bot applies its commands to the store in-process, and
//! virtual time jumps from one due item to the next.

use rosey::bot::{Bot, InstantTimeline, Protocol, ReplayReport, Runner, RunnerConfig};
use rosey::chat::{ChatSink, RecordingChat, SaidLine};
use rosey::clock::FixedClock;
use rosey::fixture::Fixture;
use rosey::link::DirectLink;
use rosey::store::Store;
use rosey::trace::Trace;

/// What a run produced, besides the database.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub report: ReplayReport,
    /// Every line the bot said, in order.
    pub said: Vec<SaidLine>,
}

/// Replays `fixture` against `store` with no bus. Returns the store so the
/// caller can dump it.
pub fn run_direct(fixture: &Fixture, store: Store, protocol: Protocol, trace: Trace) -> (RunOutput, Store) {
    let (report, chat, store) = run_direct_with(fixture, store, protocol, trace, RecordingChat::default());
    (RunOutput { report, said: chat.said }, store)
}

/// [`run_direct`] with any chat sink (the simulator's stand-in with its faults).
pub fn run_direct_with<C: ChatSink>(
    fixture: &Fixture,
    store: Store,
    protocol: Protocol,
    trace: Trace,
    chat: C,
) -> (ReplayReport, C, Store) {
    let start = fixture.header.start_unix_ms;
    let bot = Bot::new(&fixture.header.channel, &fixture.header.bot, start, protocol);
    // Every command carries at_ms, so this clock is never read; it is here
    // because a link needs one for v0.5.0 senders without at_ms.
    let link = DirectLink::new(store, FixedClock(start));
    let runner = Runner::new(bot, &link, chat, InstantTimeline::default(), trace, RunnerConfig::default());
    // Nothing in direct mode waits on a timer or a socket: every future is
    // ready when polled, so a plain executor drives it.
    let (report, chat, _bot) = futures::executor::block_on(runner.replay(fixture));
    (report, chat, link.into_store())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"{"rosey_fixture": 1, "channel": "lounge", "bot": "Rosey", "start_unix_ms": 1731000000000}
{"at_ms": 0, "event": "chatMsg", "data": {"username": "alice", "msg": "(history)", "meta": {}, "time": 1}}
{"at_ms": 0, "event": "userlist", "data": [{"name": "alice", "rank": 1, "meta": {"afk": false}}]}
{"at_ms": 0, "event": "usercount", "data": 7}
{"at_ms": 1500, "event": "addUser", "data": {"name": "bob", "rank": 0}}
{"at_ms": 2100, "event": "chatMsg", "data": {"username": "bob", "msg": "hi all", "meta": {}, "time": 2}}
{"at_ms": 12000, "event": "userLeave", "data": {"name": "bob"}}
{"at_ms": 15000, "event": "rosey:say", "data": {"message": "  Welcome!  "}}"#;

    fn run() -> (RunOutput, Store, Trace) {
        let fixture = Fixture::parse(FIXTURE, "inline").unwrap();
        let store = Store::open_in_memory(1_731_000_000).unwrap();
        let trace = Trace::new(true);
        let (out, store) = run_direct(&fixture, store, Protocol::Hardened, trace.clone());
        (out, store, trace)
    }

    #[test]
    fn replay_says_the_enqueued_line_once_at_the_next_poll() {
        let (out, store, _) = run();
        assert_eq!(out.said, [SaidLine { at_ms: 1_731_000_016_000, text: "Welcome!".into() }]);
        assert!(store.get_unsent_outbound_messages(50, 3, 1_731_000_100).unwrap().is_empty());
        assert_eq!(out.report.history_lines, 1);
    }

    #[test]
    fn same_fixture_same_trace_and_database() {
        let (_, first_store, first) = run();
        let (_, second_store, second) = run();
        assert_eq!(first.hash_hex(), second.hash_hex());
        assert_eq!(first_store.dump().unwrap(), second_store.dump().unwrap());
    }
}
