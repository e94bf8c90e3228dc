//! The report printed after a run.

use std::fmt::Write;

use super::ReplayReport;
use crate::chat::SaidLine;

/// Formats a run's summary: events by kind, skipped lines, lines said,
/// durations, trace hash.
pub fn render(report: &ReplayReport, said: &[SaidLine], wall: std::time::Duration, trace_hash: &str) -> String {
    let mut out = String::new();
    let total: u64 = report.events_by_kind.values().sum();
    let _ = writeln!(out, "events handled: {total}");
    for (kind, count) in &report.events_by_kind {
        let _ = writeln!(out, "  {kind:<16} {count}");
    }
    let _ = writeln!(out, "history lines (before the first userlist): {}", report.history_lines);
    if report.recovered_lines > 0 {
        let _ = writeln!(out, "history lines recovered after a re-join: {}", report.recovered_lines);
    }
    let _ = writeln!(out, "skipped: {}", report.skipped.len());
    for skip in &report.skipped {
        let _ = writeln!(out, "  line {}: {}", skip.line, skip.reason);
    }
    let _ = writeln!(out, "commands sent to the database side: {}", report.commands_sent);
    if !report.link_failures.is_empty() {
        let _ = writeln!(out, "link failures:");
        for (reason, count) in &report.link_failures {
            let _ = writeln!(out, "  {count} x {reason}");
        }
    }
    if let Some(js) = &report.jetstream {
        let _ = writeln!(
            out,
            "jetstream: {} acked ({} as duplicates), {} republished, {} unacknowledged at most, {} at exit",
            js.acked, js.duplicates, js.republished, js.peak_unacked, js.unacked
        );
    }
    let o = &report.outbound;
    let _ = writeln!(
        out,
        "outbound: {} polls ({} failed), {} said, {} acks resent, {} failed permanently, {} failed transiently",
        o.polls, o.poll_failures, o.said, o.acks_resent, o.failed_permanent, o.failed_transient
    );
    let _ = writeln!(out, "lines said: {}", said.len());
    for line in said {
        let _ = writeln!(out, "  [{}] {}", line.at_ms, truncate(&line.text, 100));
    }
    let virtual_s = report.virtual_ms as f64 / 1000.0;
    let wall_s = wall.as_secs_f64();
    let _ = writeln!(out, "virtual duration: {virtual_s:.3} s");
    let _ = writeln!(out, "wall time: {wall_s:.3} s ({:.0}x real time)", virtual_s / wall_s.max(1e-9));
    let _ = writeln!(out, "trace hash: {trace_hash}");
    out
}

fn truncate(text: &str, max_chars: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max_chars).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}
