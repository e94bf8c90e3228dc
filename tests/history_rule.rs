//! The history rule across a re-join (issue 9's pinned decisions): the first
//! connection's history is skipped; a re-join's history stores only the lines
//! said while the bot was away, once each, at their CyTube time; users who
//! left meanwhile get their `user.left` from the new userlist; `bot_connected`
//! reads 0 while the connection is down.

use rosey::bot::Protocol;
use rosey::fixture::Fixture;
use rosey::store::Store;
use rosey::trace::Trace;

const START: i64 = 1_731_000_000_000;

fn chat(at_ms: i64, user: &str, msg: &str, time: i64) -> String {
    format!(
        r#"{{"at_ms": {at_ms}, "event": "chatMsg", "data": {{"username": "{user}", "msg": "{msg}", "meta": {{}}, "time": {time}}}}}"#
    )
}

fn userlist(at_ms: i64, names: &[&str]) -> String {
    let users: Vec<String> =
        names.iter().map(|n| format!(r#"{{"name": "{n}", "rank": 1, "meta": {{"afk": false}}}}"#)).collect();
    format!(r#"{{"at_ms": {at_ms}, "event": "userlist", "data": [{}]}}"#, users.join(", "))
}

fn fixture() -> Fixture {
    let t = |s: i64| START + s * 1000;
    let lines = [
        format!(
            r#"{{"rosey_fixture": 1, "channel": "lounge", "bot": "Rosey", "start_unix_ms": {START}, "end_ms": 60000}}"#
        ),
        r#"{"at_ms": 0, "event": "rosey:connect", "data": {}}"#.to_string(),
        chat(0, "old", "before the bot", START - 50_000),
        userlist(1, &["alice", "bob"]),
        chat(5_000, "alice", "hi", t(5)),
        chat(6_000, "bob", "same ms a", t(6)),
        chat(6_000, "alice", "same ms b", t(6)),
        r#"{"at_ms": 10000, "event": "rosey:disconnect", "data": {}}"#.to_string(),
        r#"{"at_ms": 20000, "event": "rosey:connect", "data": {}}"#.to_string(),
        // The re-join's history: old lines, then what was said while away.
        chat(20_000, "old", "before the bot", START - 50_000),
        chat(20_000, "alice", "hi", t(5)),
        chat(20_000, "bob", "same ms a", t(6)),
        chat(20_000, "alice", "same ms b", t(6)),
        chat(20_000, "alice", "also at six, missed", t(6)),
        chat(20_000, "alice", "while away", t(12)),
        userlist(20_001, &["alice"]),
        chat(25_000, "alice", "back live", t(25)),
        // A second re-join recovers nothing twice.
        r#"{"at_ms": 30000, "event": "rosey:connect", "data": {}}"#.to_string(),
        chat(30_000, "alice", "while away", t(12)),
        chat(30_000, "alice", "back live", t(25)),
        userlist(30_001, &["alice"]),
    ];
    Fixture::parse(&lines.join("\n"), "history.jsonl").expect("the inline fixture parses")
}

#[test]
fn a_rejoin_stores_only_what_was_said_while_away_once() {
    let fixture = fixture();
    let store = Store::open_in_memory(START / 1000).unwrap();
    let (output, store) = rosey_sim::direct::run_direct(&fixture, store, Protocol::Hardened, Trace::new(false));
    assert!(output.report.skipped.is_empty(), "{:?}", output.report.skipped);
    // Recovered: "also at six, missed" and "while away"; not stored: the first join's
    // line, the re-join's four already seen, the second re-join's two.
    assert_eq!((output.report.recovered_lines, output.report.history_lines), (2, 7));
    let rows: Vec<(i64, String, String)> =
        store.recent_chat(50).unwrap().into_iter().map(|r| (r.timestamp, r.username, r.message)).collect();
    let s = |secs: i64| START / 1000 + secs;
    assert_eq!(
        rows,
        [
            (s(5), "alice".into(), "hi".into()),
            (s(6), "bob".into(), "same ms a".into()),
            (s(6), "alice".into(), "same ms b".into()),
            (s(6), "alice".into(), "also at six, missed".into()),
            (s(12), "alice".into(), "while away".into()),
            (s(25), "alice".into(), "back live".into()),
        ]
    );
    // bob left while the bot was away: the re-join's userlist closed his session.
    let dump = store.dump().unwrap();
    let users = dump.table("user_stats").unwrap();
    let (name, session) = (
        users.columns.iter().position(|c| c == "username").unwrap(),
        users.columns.iter().position(|c| c == "current_session_start").unwrap(),
    );
    let bob = users.rows.iter().find(|r| r[name] == "bob").expect("bob has a row");
    assert!(bob[session].is_null(), "bob's session is still open: {bob:?}");
}

#[test]
fn bot_connected_is_zero_while_the_chat_connection_is_down() {
    let text = [
        format!(
            r#"{{"rosey_fixture": 1, "channel": "lounge", "bot": "Rosey", "start_unix_ms": {START}, "end_ms": 40000}}"#
        ),
        userlist(0, &["alice"]),
        r#"{"at_ms": 15000, "event": "rosey:disconnect", "data": {}}"#.to_string(),
    ]
    .join("\n");
    let fixture = Fixture::parse(&text, "down.jsonl").unwrap();
    let trace = Trace::new(true);
    let store = Store::open_in_memory(START / 1000).unwrap();
    let _ = rosey_sim::direct::run_direct(&fixture, store, Protocol::Hardened, trace.clone());
    let statuses: Vec<(i64, serde_json::Value)> = trace
        .records()
        .into_iter()
        .filter_map(|r| match r.event {
            rosey::trace::TraceEvent::Send { subject: rosey::contract::Subject::StatusUpdate, payload } => {
                Some((r.t, payload["status_data"]["bot_connected"].clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [(10_000, 1.into()), (20_000, 0.into()), (30_000, 0.into()), (40_000, 0.into())]);
}
