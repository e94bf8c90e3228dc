//! What "correct" means, checked after every run and over every seed.
//!
//! The oracle for the database is the direct-mode replay of the same fixture:
//! no bus, no faults. A bus run may lose only what a declared fault could lose
//! (each fault says which span of time that is), must never count anything
//! more often than the reference, and without an event-losing fault must write
//! the same rows. The outbound invariants follow contract section 5: a message
//! is said once, not never, and not retried forever.

use std::collections::BTreeMap;

use rosey::store::{DbDump, TableDump};
use serde::Serialize;
use serde_json::Value;

use crate::fault::Fault;

/// Every invariant, by name.
pub const NAMES: [&str; 8] = [
    "no_host_error",
    "requests_end",
    "no_loss",
    "counted_once",
    "said_once",
    "said_eventually",
    "bounded_retries",
    "polls_answered",
];

/// How long after it was enqueued (or after the last fault healed) a message
/// must have been said.
pub const SAY_BOUND_MS: i64 = 15_000;
/// v0.5.0's `max_retries`: attempts per message are at most 1 + this.
const MAX_RETRIES: u64 = 3;

/// One invariant's result, with the evidence when it fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub name: &'static str,
    pub holds: bool,
    pub detail: String,
    /// Trace lines that show why (at most a few).
    pub evidence: Vec<String>,
}

/// Everything the invariants look at.
pub struct Observed<'a> {
    pub dump: &'a DbDump,
    pub reference: &'a DbDump,
    pub faults: &'a [Fault],
    pub said: &'a [rosey::chat::SaidLine],
    pub attempts: &'a BTreeMap<String, u64>,
    pub report: &'a rosey::bot::ReplayReport,
    pub host_error: Option<&'a str>,
    pub trace_lines: &'a [String],
    pub start_unix_ms: i64,
    pub end_ms: i64,
}

/// Checks every invariant.
pub fn check(o: &Observed<'_>) -> Vec<Verdict> {
    vec![
        verdict("no_host_error", o.host_error.map(str::to_string), Vec::new()),
        requests_end(o),
        no_loss(o),
        counted_once(o),
        said_once(o),
        said_eventually(o),
        bounded_retries(o),
        polls_answered(o),
    ]
}

fn verdict(name: &'static str, problem: Option<String>, evidence: Vec<String>) -> Verdict {
    match problem {
        None => Verdict { name, holds: true, detail: "holds".into(), evidence: Vec::new() },
        Some(detail) => Verdict { name, holds: false, detail, evidence },
    }
}

/// Trace lines containing every needle, at most `limit`.
fn evidence(o: &Observed<'_>, needles: &[&str], limit: usize) -> Vec<String> {
    o.trace_lines.iter().filter(|line| needles.iter().all(|n| line.contains(n))).take(limit).cloned().collect()
}

fn requests_end(o: &Observed<'_>) -> Verdict {
    let r = &o.report.outbound;
    let problem = (r.polls != r.poll_replies + r.poll_failures).then(|| {
        format!("{} polls, {} answered, {} failed: some never ended", r.polls, r.poll_replies, r.poll_failures)
    });
    verdict("requests_end", problem, Vec::new())
}

/// The rows of `table` projected on `columns`, as JSON texts (comparable, sortable).
fn rows(dump: &DbDump, table: &str, columns: &[&str]) -> Vec<(i64, String)> {
    let Some(t) = dump.table(table) else { return Vec::new() };
    let index: Vec<usize> = columns.iter().filter_map(|c| t.columns.iter().position(|name| name == c)).collect();
    let ts = t.columns.iter().position(|name| name == "timestamp" || name == "first_seen");
    t.rows
        .iter()
        .map(|row| {
            let key = Value::Array(index.iter().map(|&i| row[i].clone()).collect()).to_string();
            (ts.and_then(|i| row[i].as_i64()).unwrap_or(0), key)
        })
        .collect()
}

fn multiset(rows: &[(i64, String)]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for (_, key) in rows {
        *counts.entry(key.as_str()).or_default() += 1;
    }
    counts
}

/// The tables and columns events write: what "lost" and "counted twice" are judged on.
const EVENT_TABLES: [(&str, &[&str]); 4] = [
    ("recent_chat", &["timestamp", "username", "message"]),
    ("user_count_history", &["timestamp", "chat_users", "connected_users"]),
    ("outbound_messages", &["timestamp", "message"]),
    ("user_stats", &["username", "first_seen"]),
];

fn no_loss(o: &Observed<'_>) -> Verdict {
    let windows: Vec<(i64, i64)> = o
        .faults
        .iter()
        .filter_map(Fault::loss_window)
        .map(|(from, until)| (o.start_unix_ms + from, o.start_unix_ms + until))
        .collect();
    if windows.is_empty() {
        // No fault could lose anything: the same rows as direct mode.
        let mut differences = Vec::new();
        for name in ["user_stats", "channel_stats", "user_count_history", "recent_chat", "current_status"] {
            if o.dump.table(name) != o.reference.table(name) {
                differences.push(describe_difference(name, o.dump.table(name), o.reference.table(name)));
            }
        }
        if rows(o.dump, "outbound_messages", &["id", "timestamp", "message"])
            != rows(o.reference, "outbound_messages", &["id", "timestamp", "message"])
        {
            differences.push("outbound_messages: the enqueued messages differ".into());
        }
        let problem = (!differences.is_empty()).then(|| {
            format!("with no event-losing fault the database differs from direct mode: {}", differences.join("; "))
        });
        return verdict("no_loss", problem, Vec::new());
    }
    let excused = |ts_s: i64| windows.iter().any(|&(from, until)| ts_s * 1000 + 999 >= from && ts_s * 1000 < until);
    let mut missing = Vec::new();
    for (table, columns) in EVENT_TABLES {
        let got = rows(o.dump, table, columns);
        let mut available = multiset(&got);
        for (ts, key) in rows(o.reference, table, columns) {
            match available.get_mut(key.as_str()) {
                Some(n) if *n > 0 => *n -= 1,
                _ if excused(ts) => {}
                _ => missing.push(format!("{table} {key}")),
            }
        }
    }
    let problem = (!missing.is_empty()).then(|| {
        format!(
            "{} rows missing outside every fault's loss window, first: {}",
            missing.len(),
            missing[..missing.len().min(3)].join(", ")
        )
    });
    let evidence = missing
        .first()
        .map(|first| {
            let text = first.split('"').nth(3).unwrap_or_default().to_string();
            evidence(o, &[&text], 4)
        })
        .unwrap_or_default();
    verdict("no_loss", problem, evidence)
}

fn describe_difference(name: &str, got: Option<&TableDump>, want: Option<&TableDump>) -> String {
    let (got, want) = (got.map_or(0, |t| t.rows.len()), want.map_or(0, |t| t.rows.len()));
    format!("{name} ({got} rows, direct mode {want})")
}

fn counted_once(o: &Observed<'_>) -> Verdict {
    let mut excess = Vec::new();
    // A user's row is judged by name: a lost first event legitimately moves first_seen.
    let tables =
        EVENT_TABLES.map(|(table, columns)| (table, if table == "user_stats" { &["username"][..] } else { columns }));
    for (table, columns) in tables {
        let reference_rows = rows(o.reference, table, columns);
        let reference = multiset(&reference_rows);
        let got_rows = rows(o.dump, table, columns);
        for (key, count) in multiset(&got_rows) {
            let allowed = reference.get(key).copied().unwrap_or(0);
            if count > allowed {
                excess.push(format!("{table} {key} x{count} (direct mode x{allowed})"));
            }
        }
    }
    let lines = |dump: &DbDump| -> BTreeMap<String, i64> {
        dump.table("user_stats")
            .map(|t| t.rows.iter().map(|r| (r[0].to_string(), r[3].as_i64().unwrap_or(0))).collect())
            .unwrap_or_default()
    };
    let reference_lines = lines(o.reference);
    for (user, count) in lines(o.dump) {
        let allowed = reference_lines.get(&user).copied().unwrap_or(0);
        if count > allowed {
            excess.push(format!("user_stats {user} total_chat_lines {count} (direct mode {allowed})"));
        }
    }
    let problem = (!excess.is_empty()).then(|| {
        format!(
            "{} rows or counts above direct mode, first: {}",
            excess.len(),
            excess[..excess.len().min(3)].join(", ")
        )
    });
    let evidence = if excess.is_empty() { Vec::new() } else { evidence(o, &["\"kind\":\"apply\"", "message.log"], 4) };
    verdict("counted_once", problem, evidence)
}

/// Enqueued messages by text, from the reference (what the fixture asked for).
fn enqueued_texts(o: &Observed<'_>) -> BTreeMap<String, u64> {
    let mut texts = BTreeMap::new();
    if let Some(table) = o.reference.table("outbound_messages") {
        for row in &table.rows {
            *texts.entry(row[2].as_str().unwrap_or_default().to_string()).or_default() += 1;
        }
    }
    texts
}

fn said_once(o: &Observed<'_>) -> Verdict {
    let allowed = enqueued_texts(o);
    let mut said: BTreeMap<&str, u64> = BTreeMap::new();
    for line in o.said {
        *said.entry(line.text.as_str()).or_default() += 1;
    }
    let twice: Vec<(&str, u64)> =
        said.into_iter().filter(|(text, n)| *n > allowed.get(*text).copied().unwrap_or(0)).collect();
    let problem = twice.first().map(|(text, n)| {
        let allowed = allowed.get(*text).copied().unwrap_or(0);
        format!("{text:?} said {n} times, enqueued {allowed} times ({} texts said too often)", twice.len())
    });
    let evidence = twice.first().map(|(text, _)| evidence(o, &["\"kind\":\"say\"", text], 4)).unwrap_or_default();
    verdict("said_once", problem, evidence)
}

fn said_eventually(o: &Observed<'_>) -> Verdict {
    let Some(table) = o.dump.table("outbound_messages") else {
        return verdict("said_eventually", None, Vec::new());
    };
    let heal = o.faults.iter().map(|f| o.start_unix_ms + f.window().1).max().unwrap_or(0);
    let end = o.start_unix_ms + o.end_ms;
    let transient_faults = o.faults.iter().any(|f| matches!(f, Fault::ChatFail { .. }));
    let column = |row: &[Value], name: &str| table.columns.iter().position(|c| c == name).map(|i| row[i].clone());
    let mut late = Vec::new();
    for row in &table.rows {
        let (enqueued_ms, sent, sent_at, retries, error) = (
            column(row, "timestamp").and_then(|v| v.as_i64()).unwrap_or(0) * 1000,
            column(row, "sent").and_then(|v| v.as_i64()).unwrap_or(0),
            column(row, "sent_timestamp").and_then(|v| v.as_i64()).map(|s| s * 1000),
            column(row, "retry_count").and_then(|v| v.as_i64()).unwrap_or(0),
            column(row, "last_error").filter(|v| !v.is_null()),
        );
        let message = column(row, "message").and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        // A transient failure puts the message into backoff (section 3):
        // eligible again at enqueue + 2^retries minutes.
        let backoff_ms = if retries > 0 { 60_000_i64.saturating_mul(1 << retries.clamp(0, 20)) } else { 0 };
        let deadline = (enqueued_ms + backoff_ms).max(heal) + SAY_BOUND_MS;
        if sent == 0 {
            let exhausted = retries >= MAX_RETRIES as i64 && transient_faults;
            if !exhausted && deadline <= end {
                late.push(format!("{message:?} was never said (enqueued at {enqueued_ms})"));
            }
        } else if error.is_none() && retries == 0 && sent_at.is_some_and(|at| at > deadline + 999) {
            late.push(format!("{message:?} said {} ms after its deadline", sent_at.unwrap_or(0) - deadline));
        }
    }
    let problem = late.first().map(|first| format!("{first} ({} late or never)", late.len()));
    let evidence = if late.is_empty() { Vec::new() } else { evidence(o, &["poll_failed"], 4) };
    verdict("said_eventually", problem, evidence)
}

fn bounded_retries(o: &Observed<'_>) -> Verdict {
    let allowed = enqueued_texts(o);
    let storm: Vec<(&String, &u64)> = o
        .attempts
        .iter()
        .filter(|(text, n)| **n > allowed.get(*text).copied().unwrap_or(1) * (1 + MAX_RETRIES))
        .collect();
    let problem =
        storm.first().map(|(text, n)| format!("{text:?} was tried {n} times (at most {} allowed)", 1 + MAX_RETRIES));
    let evidence =
        storm.first().map(|(text, _)| evidence(o, &["\"kind\":\"say\"", text.as_str()], 5)).unwrap_or_default();
    verdict("bounded_retries", problem, evidence)
}

fn polls_answered(o: &Observed<'_>) -> Verdict {
    let excuses: Vec<(i64, i64)> = o.faults.iter().filter_map(Fault::poll_excuse).collect();
    let failures: Vec<&String> = o
        .trace_lines
        .iter()
        .filter(|line| line.contains("\"kind\":\"poll_failed\""))
        .filter(|line| {
            let t = serde_json::from_str::<Value>(line).ok().and_then(|v| v["t"].as_i64()).unwrap_or(0);
            !excuses.iter().any(|&(from, until)| from <= t && t < until)
        })
        .collect();
    let problem =
        failures.first().map(|_| format!("{} polls failed with no network fault to excuse them", failures.len()));
    verdict("polls_answered", problem, failures.into_iter().take(4).cloned().collect())
}
