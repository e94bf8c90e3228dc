//! The outbound invariants (contract section 5): every poll ends, a message
//! is said once, not never, and not retried forever.

use std::collections::BTreeMap;

use rosey::contract::DEFAULT_MAX_RETRIES;
use rosey::trace::TraceEvent;

use super::rows::OutboundRow;
use super::{Failure, Observed, SAY_BOUND_MS};
use crate::fault::{Fault, FaultSpec};

/// Attempts per message are at most 1 + the poll's `max_retries`.
const MAX_ATTEMPTS: u64 = 1 + DEFAULT_MAX_RETRIES as u64;

pub(super) fn requests_end(o: &Observed<'_>) -> Result<(), Failure> {
    let r = &o.report.outbound;
    if r.polls == r.poll_replies + r.poll_failures {
        return Ok(());
    }
    let detail =
        format!("{} polls, {} answered, {} failed: some never ended", r.polls, r.poll_replies, r.poll_failures);
    Err(Failure::new(detail, Vec::new()))
}

/// Enqueued messages by text, from the reference (what the fixture asked for).
fn enqueued_texts(o: &Observed<'_>) -> BTreeMap<String, u64> {
    let mut texts = BTreeMap::new();
    for row in OutboundRow::read_all(o.reference) {
        *texts.entry(row.message).or_default() += 1;
    }
    texts
}

/// The `say` records for `text`.
fn says_of<'t>(text: &'t str) -> impl Fn(&TraceEvent) -> bool + 't {
    move |event| matches!(event, TraceEvent::Say { text: said, .. } if said == text)
}

pub(super) fn said_once(o: &Observed<'_>) -> Result<(), Failure> {
    let allowed = enqueued_texts(o);
    let mut said: BTreeMap<&str, u64> = BTreeMap::new();
    for line in o.said {
        *said.entry(line.text.as_str()).or_default() += 1;
    }
    let twice: Vec<(&str, u64)> =
        said.into_iter().filter(|(text, n)| *n > allowed.get(*text).copied().unwrap_or(0)).collect();
    let Some((text, n)) = twice.first() else { return Ok(()) };
    let enqueued = allowed.get(*text).copied().unwrap_or(0);
    let detail = format!("{text:?} said {n} times, enqueued {enqueued} times ({} texts said too often)", twice.len());
    let evidence = o.evidence(4, |event| {
        matches!(event, TraceEvent::Say { text: said, outcome }
            if said == text && (outcome == "said" || outcome.starts_with("sent")))
    });
    Err(Failure::new(detail, evidence))
}

pub(super) fn said_eventually(o: &Observed<'_>) -> Result<(), Failure> {
    let heal = o.faults.iter().map(|f| o.start_unix_ms + f.until_ms).max().unwrap_or(0);
    let end = o.start_unix_ms + o.end_ms;
    let transient_faults = o.faults.iter().any(|f| {
        matches!(
            f.what,
            FaultSpec::ChatFail | FaultSpec::ChatDisconnect | FaultSpec::ChatRestart | FaultSpec::ChatThrottle
        )
    });
    let mut late = Vec::new();
    for row in OutboundRow::read_all(o.dump) {
        let enqueued_ms = row.timestamp * 1000;
        // A transient failure puts the message into backoff (section 3):
        // eligible again at enqueue + 2^retries minutes.
        let backoff_ms =
            if row.retry_count > 0 { 60_000_i64.saturating_mul(1 << row.retry_count.clamp(0, 20)) } else { 0 };
        let deadline = (enqueued_ms + backoff_ms).max(heal) + SAY_BOUND_MS;
        let message = &row.message;
        if !row.sent {
            let exhausted = row.retry_count >= DEFAULT_MAX_RETRIES && transient_faults;
            if !exhausted && deadline <= end {
                late.push(format!("{message:?} was never said (enqueued at {enqueued_ms})"));
            }
        } else if let Some(sent_ms) = row.sent_timestamp.map(|s| s * 1000) {
            if row.last_error.is_none() && row.retry_count == 0 && sent_ms > deadline + 999 {
                late.push(format!("{message:?} said {} ms after its deadline", sent_ms - deadline));
            }
        }
    }
    let Some(first) = late.first() else { return Ok(()) };
    let detail = format!("{first} ({} late or never)", late.len());
    Err(Failure::new(detail, o.evidence(4, |event| matches!(event, TraceEvent::PollFailed { .. }))))
}

pub(super) fn bounded_retries(o: &Observed<'_>) -> Result<(), Failure> {
    let allowed = enqueued_texts(o);
    let storm = o.attempts.iter().find(|(text, n)| **n > allowed.get(*text).copied().unwrap_or(1) * MAX_ATTEMPTS);
    let Some((text, n)) = storm else { return Ok(()) };
    let detail = format!("{text:?} was tried {n} times (at most {MAX_ATTEMPTS} allowed)");
    Err(Failure::new(detail, o.evidence(5, says_of(text))))
}

pub(super) fn polls_answered(o: &Observed<'_>) -> Result<(), Failure> {
    let excuse = if o.strict { Fault::poll_excuse_jetstream } else { Fault::poll_excuse };
    let excuses: Vec<(i64, i64)> = o.faults.iter().filter_map(excuse).collect();
    let excused = |t: i64| excuses.iter().any(|&(from, until)| from <= t && t < until);
    let failures: Vec<_> =
        o.trace.iter().filter(|r| matches!(r.event, TraceEvent::PollFailed { .. }) && !excused(r.t)).collect();
    if failures.is_empty() {
        return Ok(());
    }
    let detail = format!("{} polls failed with no network fault to excuse them", failures.len());
    Err(Failure::new(detail, failures.into_iter().take(4).cloned().collect()))
}
