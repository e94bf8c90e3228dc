//! `rosey-sim view <trace.jsonl> -o run.html` and `run --html run.html`: a
//! run as one self-contained HTML page.
//!
//! A sequence diagram: a lane per host (bot, bus, db, db2, ..., chat), time
//! running down. Every command is an arrow from where the bot sent it to
//! where a db-service applied it (or a cross where a `drop` fault ate it);
//! a poll is an arrow to its apply and one back to its reply, or a dashed
//! arrow to its timeout; fault windows are shaded across the lanes they cut;
//! lines said are marked on the bot's lane; a failing invariant's evidence
//! is highlighted and listed at the top, a click away. Quiet stretches
//! collapse into a band, and the scale zooms, so a three-hour run stays
//! usable. The page loads nothing: its data, script and style are inline,
//! and its Content-Security-Policy forbids any request.
//!
//! This module pairs the records (what the script draws is decided here,
//! where it can be tested); `view.js` only lays them out.

use std::collections::{BTreeMap, VecDeque};

use rosey::contract::Subject;
use rosey::trace::{TraceEvent, TraceRecord};
use serde::Serialize;

use crate::coverage::Effect;
use crate::fault::{Fault, FaultSpec};
use crate::invariants::Verdict;

const SCRIPT: &str = include_str!("view.js");
const STYLE: &str = include_str!("view.css");

/// One record as the page shows it.
#[derive(Debug, Clone, Serialize)]
struct Row {
    t: i64,
    host: String,
    kind: &'static str,
    /// A short label.
    label: String,
    /// The trace line itself (shown on hover, matched against evidence).
    line: String,
}

/// An arrow between two rows (indexes into `rows`), or from a row to nowhere.
#[derive(Debug, Clone, Serialize)]
struct Arrow {
    from: usize,
    to: usize,
    /// `command`, `request`, `reply`, `dropped`, `timeout`.
    kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
struct Shade {
    from_ms: i64,
    until_ms: i64,
    lanes: Vec<String>,
    label: String,
    took_effect: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
struct Failure {
    name: String,
    detail: String,
    /// Rows that are its evidence.
    rows: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
struct ViewData {
    title: String,
    lanes: Vec<String>,
    rows: Vec<Row>,
    arrows: Vec<Arrow>,
    faults: Vec<Shade>,
    failures: Vec<Failure>,
    passed: Vec<String>,
}

/// What the page shows besides the trace.
#[derive(Default)]
pub struct Context<'a> {
    pub title: String,
    pub faults: &'a [Fault],
    pub effects: &'a [Effect],
    pub verdicts: &'a [Verdict],
}

fn label(event: &TraceEvent) -> String {
    match event {
        TraceEvent::Event { event, line } => format!("{event} (line {line})"),
        TraceEvent::Skip { reason, .. } => format!("skipped: {reason}"),
        TraceEvent::Send { subject, .. } => short(subject.as_str()),
        TraceEvent::PollReply { ids } => format!("poll reply {ids:?}"),
        TraceEvent::PollFailed { error } => format!("poll failed: {error}"),
        TraceEvent::PollSkipped { reason } => format!("poll skipped: {reason}"),
        TraceEvent::Say { text, outcome } => format!("say {text:?}: {outcome}"),
        TraceEvent::Reply { id, reply } => match id {
            Some(id) => format!("enqueued #{id}"),
            None => format!("reply {}", reply.clone().unwrap_or_default()),
        },
        TraceEvent::LinkError { error } => format!("link error: {error}"),
        TraceEvent::FaultDrop { subject } => format!("DROPPED {}", short(subject.as_str())),
        TraceEvent::Apply { subject, .. } => format!("apply {}", short(subject.as_str())),
        TraceEvent::Malformed { subject, reason } => format!("malformed {subject}: {reason}"),
        TraceEvent::StoreError { subject, error } => format!("store error {}: {error}", short(subject.as_str())),
        TraceEvent::Redelivered { subject, seq } => format!("redelivered {} #{seq}", short(subject)),
        TraceEvent::Shutdown { listed } => format!("shutdown ({listed} listed)"),
        TraceEvent::Settled { services_done } => format!("settled (services done: {services_done})"),
    }
}

fn short(subject: &str) -> String {
    subject.strip_prefix("rosey.db.").unwrap_or(subject).to_string()
}

/// Pairs sends with applies (per subject, in order: the bus keeps a
/// publisher's order), drops with the send they ate, polls with their
/// replies or failures, enqueues with their replies.
fn arrows(records: &[TraceRecord]) -> Vec<Arrow> {
    let mut arrows = Vec::new();
    let mut unapplied: BTreeMap<Subject, VecDeque<usize>> = BTreeMap::new();
    // Requests applied, waiting for their reply on the bot: (subject, apply row).
    let mut awaiting_reply: BTreeMap<Subject, VecDeque<usize>> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        match &record.event {
            TraceEvent::Send { subject, .. } if record.host == "bot" => {
                unapplied.entry(*subject).or_default().push_back(index);
            }
            TraceEvent::FaultDrop { subject } => {
                if let Some(sent) = unapplied.get_mut(subject).and_then(VecDeque::pop_back) {
                    arrows.push(Arrow { from: sent, to: index, kind: "dropped" });
                }
            }
            TraceEvent::Apply { subject, .. } => {
                if let Some(sent) = unapplied.get_mut(subject).and_then(VecDeque::pop_front) {
                    let kind = if subject.is_request() { "request" } else { "command" };
                    arrows.push(Arrow { from: sent, to: index, kind });
                    if subject.is_request() {
                        awaiting_reply.entry(*subject).or_default().push_back(index);
                    }
                }
            }
            TraceEvent::PollReply { .. } => {
                if let Some(applied) = awaiting_reply.get_mut(&Subject::OutboundGet).and_then(VecDeque::pop_front) {
                    arrows.push(Arrow { from: applied, to: index, kind: "reply" });
                }
            }
            TraceEvent::Reply { .. } => {
                if let Some(applied) = awaiting_reply.get_mut(&Subject::OutboundEnqueue).and_then(VecDeque::pop_front) {
                    arrows.push(Arrow { from: applied, to: index, kind: "reply" });
                }
            }
            TraceEvent::PollFailed { .. } => {
                // The poll never applied (or its reply was lost): from its send, if unapplied.
                let sent = unapplied.get_mut(&Subject::OutboundGet).and_then(VecDeque::pop_front);
                let applied = awaiting_reply.get_mut(&Subject::OutboundGet).and_then(VecDeque::pop_front);
                if let Some(from) = sent.or(applied) {
                    arrows.push(Arrow { from, to: index, kind: "timeout" });
                }
            }
            _ => {}
        }
    }
    arrows
}

/// The lanes a fault shades.
fn fault_lanes(fault: &Fault) -> Vec<String> {
    let lanes: Vec<&str> = match &fault.what {
        FaultSpec::Partition { a, b, .. } | FaultSpec::Hold { a, b } | FaultSpec::Latency { a, b, .. } => {
            vec![a.as_str(), b.as_str()]
        }
        FaultSpec::Drop { .. } => vec!["bot", "bus"],
        FaultSpec::CrashDb { host } => vec![host.as_str()],
        FaultSpec::RestartBus => vec!["bus"],
        FaultSpec::SlowStore { .. } => vec!["db"],
        FaultSpec::ChatFail | FaultSpec::Mute | FaultSpec::Burst { .. } => vec!["bot"],
        FaultSpec::ChatDisconnect | FaultSpec::ChatRestart | FaultSpec::ChatThrottle => vec!["chat", "bot"],
    };
    lanes.into_iter().map(str::to_string).collect()
}

/// The lanes, in the order a reader expects: bot, bus, the db-services, chat, then the rest.
fn lanes(records: &[TraceRecord], faults: &[Fault]) -> Vec<String> {
    let mut hosts: Vec<String> = vec!["bot".into(), "bus".into()];
    let mut seen: Vec<String> = records.iter().map(|r| r.host.clone()).collect();
    seen.extend(faults.iter().flat_map(fault_lanes));
    seen.sort();
    seen.dedup();
    let rank = |host: &str| match host {
        "bot" => 0,
        "bus" => 1,
        h if h.starts_with("db") => 2,
        "chat" => 3,
        _ => 4,
    };
    seen.sort_by_key(|h| (rank(h), h.clone()));
    for host in seen {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    hosts
}

/// The page for `records` with what `context` adds.
pub fn render(records: &[TraceRecord], context: &Context<'_>) -> String {
    let rows: Vec<Row> = records
        .iter()
        .map(|r| Row { t: r.t, host: r.host.clone(), kind: r.event.kind(), label: label(&r.event), line: r.to_line() })
        .collect();
    let faults = context
        .faults
        .iter()
        .enumerate()
        .map(|(i, fault)| Shade {
            from_ms: fault.from_ms,
            until_ms: fault.until_ms,
            lanes: fault_lanes(fault),
            label: serde_json::to_string(fault).unwrap_or_default(),
            took_effect: context.effects.get(i).map(|e| e.took_effect),
        })
        .collect();
    let failures = context
        .verdicts
        .iter()
        .filter(|v| !v.holds)
        .map(|v| Failure {
            name: v.name.to_string(),
            detail: v.detail.clone(),
            rows: rows.iter().enumerate().filter(|(_, row)| v.evidence.contains(&row.line)).map(|(i, _)| i).collect(),
        })
        .collect();
    let passed = context.verdicts.iter().filter(|v| v.holds).map(|v| v.name.to_string()).collect();
    let data = ViewData {
        title: context.title.clone(),
        lanes: lanes(records, context.faults),
        arrows: arrows(records),
        rows,
        faults,
        failures,
        passed,
    };
    // `</` inside the JSON would end the script element early.
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".into()).replace("</", "<\\/");
    let title = rosey::markup::escape(&context.title);
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<title>{title}</title><style>{STYLE}</style></head>
<body>
<header><h1>{title}</h1>
<div id="controls"><button id="zoom-in" type="button">zoom in</button> <button id="zoom-out" type="button">zoom out</button>
<label><input id="collapse" type="checkbox" checked> collapse quiet stretches</label>
<label>go to <input id="goto" type="number" min="0" step="1" size="7"> s</label> <span id="scale"></span></div>
<div id="summary"></div></header>
<div id="diagram"></div>
<script id="data" type="application/json">{json}</script>
<script>{SCRIPT}</script>
</body></html>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(t: i64, host: &str, event: TraceEvent) -> TraceRecord {
        TraceRecord { t, host: host.into(), event }
    }

    #[test]
    fn sends_pair_with_applies_drops_and_replies() {
        let send = |subject| TraceEvent::Send { subject, payload: serde_json::Value::Null };
        let records = [
            record(0, "bot", send(Subject::MessageLog)),
            record(1, "bot", send(Subject::MessageLog)),
            record(1, "bot", TraceEvent::FaultDrop { subject: Subject::MessageLog }),
            record(2, "db", TraceEvent::Apply { subject: Subject::MessageLog, now: 0 }),
            record(3, "bot", send(Subject::OutboundGet)),
            record(4, "db", TraceEvent::Apply { subject: Subject::OutboundGet, now: 0 }),
            record(5, "bot", TraceEvent::PollReply { ids: vec![] }),
            record(6, "bot", send(Subject::OutboundGet)),
            record(9, "bot", TraceEvent::PollFailed { error: "timed out".into() }),
        ];
        let got: Vec<(usize, usize, &str)> = arrows(&records).iter().map(|a| (a.from, a.to, a.kind)).collect();
        assert_eq!(got, [(1, 2, "dropped"), (0, 3, "command"), (4, 5, "request"), (5, 6, "reply"), (7, 8, "timeout")]);
    }

    #[test]
    fn the_page_is_self_contained_and_script_safe() {
        let records = [record(0, "bot", TraceEvent::Say { text: "</script><b>x".into(), outcome: "said".into() })];
        let html = render(&records, &Context { title: "t".into(), ..Context::default() });
        assert!(!html.contains("</script><b>"), "data cannot close the script element");
        for external in [" src=", "<link", "url(http", "href=\"http", "@import"] {
            assert!(!html.contains(external), "no external assets: {external}");
        }
    }
}
