//! Sending, and watching the db-service: the counters the sender, the prober
//! and the ticker share; the two probes (an `outbound.get`, timed as the
//! bot's poll, and the service's counters, which say what it has applied);
//! and the final tail check.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::bot::Outbound;
use crate::clock::{Clock, SystemClock};
use crate::contract::{Command, RecentChatGet, Reply, Request, Subject, SERVICE_STATS};
use crate::link::{BadReply, BusLink, DbLink, LinkError};
use crate::service::ServiceStats;
use crate::transport::{Transport, TransportError};

/// A send-time mark every this many commands: the clock of "event -> applied".
const MARK_EVERY: u64 = 256;

/// A count by subject, without the requests: the loadtest counts only the
/// commands it publishes.
fn without_requests(counts: &std::collections::BTreeMap<String, u64>) -> u64 {
    let not_a_request = |subject: &String| Subject::parse(subject).is_none_or(|s| !s.is_request());
    counts.iter().filter(|(subject, _)| not_a_request(subject)).map(|(_, n)| n).sum()
}

/// `(applied, dropped, processed)` of the published commands: processed is
/// every command that went through the db-service, applied, dropped or malformed.
fn through(stats: &ServiceStats) -> (u64, u64, u64) {
    let applied = without_requests(&stats.report.applied);
    let dropped = without_requests(&stats.report.dropped);
    (applied, dropped, applied + dropped + without_requests(&stats.report.malformed))
}

/// `outbound.get` round trips and failures, during the flood and after it.
#[derive(Default)]
pub(super) struct Polls {
    pub(super) during: Vec<Duration>,
    pub(super) after: Vec<Duration>,
    pub(super) failed_during: u64,
    pub(super) failed_after: u64,
}

/// What the sender, the prober (its own thread) and the ticker share.
#[derive(Default)]
pub(super) struct Progress {
    pub(super) sent: AtomicU64,
    pub(super) send_errors: AtomicU64,
    /// The flood is over: polls from now on count as "after".
    pub(super) done: AtomicBool,
    /// Ctrl-C: stop sending.
    pub(super) stop: AtomicBool,
    /// `(commands sent, when)`, every [`MARK_EVERY`] commands, until applied.
    sent_marks: Mutex<VecDeque<(u64, Instant)>>,
    /// The service's counters at the start, subtracted from every later reading.
    pub(super) baseline: Mutex<Option<ServiceStats>>,
    /// The latest reading, minus the baseline: applied, dropped, processed.
    pub(super) applied: AtomicU64,
    pub(super) dropped: AtomicU64,
    pub(super) processed: AtomicU64,
    /// The most commands sent and not yet through the service, at any reading.
    pub(super) backlog_peak: AtomicU64,
    /// The service's own peak: events waiting in its queue (core) or its
    /// stream lag (JetStream).
    pub(super) service_backlog_peak: AtomicU64,
    /// The service's peak resident memory, at the latest reading.
    pub(super) service_peak_memory: AtomicU64,
    /// When a reading first showed everything sent processed, after the flood.
    pub(super) drained_at: Mutex<Option<Instant>>,
    pub(super) polls: Mutex<Polls>,
    pub(super) applied_samples: Mutex<Vec<Duration>>,
    /// Woken at every reading of the counters (the closed loop waits on it).
    pub(super) read: tokio::sync::Notify,
}

/// A lock that a panicked holder cannot poison for the report.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Progress {
    pub(super) fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    pub(super) fn processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }

    pub(super) fn is_done(&self) -> bool {
        self.done.load(Ordering::Relaxed)
    }

    pub(super) fn drained(&self) -> bool {
        lock(&self.drained_at).is_some()
    }
}

/// Sends one command and counts it, sent or refused.
pub(super) async fn send<T: Transport>(link: &BusLink<T>, progress: &Progress, command: Command) {
    match link.send(command).await {
        Ok(()) => {
            let sent = progress.sent.fetch_add(1, Ordering::Relaxed) + 1;
            if sent % MARK_EVERY == 1 {
                lock(&progress.sent_marks).push_back((sent, Instant::now()));
            }
        }
        Err(error) => {
            progress.send_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%error, "loadtest: send failed");
        }
    }
}

/// One `outbound.get`, timed from the request to its reply (the bot's poll).
pub(super) async fn poll<T: Transport>(
    link: &BusLink<T>,
    outbound: &mut Outbound,
    progress: &Progress,
    timeout: Duration,
) -> Result<(), LinkError> {
    let during = !progress.is_done();
    let asked = Instant::now();
    let result = link.request(outbound.request(SystemClock.now_ms()), timeout).await;
    let took = asked.elapsed();
    let mut polls = lock(&progress.polls);
    match (&result, during) {
        (Ok(_), true) => polls.during.push(took),
        (Ok(_), false) => polls.after.push(took),
        (Err(_), true) => polls.failed_during += 1,
        (Err(_), false) => polls.failed_after += 1,
    }
    result.map(|_| ())
}

/// The db-service's counters.
///
/// # Errors
///
/// No responder (a v0.5.0 service has none), a timeout, or a reply that is
/// not the counters.
pub(super) async fn service_stats<T: Transport>(
    transport: &T,
    timeout: Duration,
) -> Result<ServiceStats, TransportError> {
    let reply = transport.request(SERVICE_STATS, Bytes::from_static(b"{}"), timeout).await?;
    serde_json::from_slice(&reply.payload)
        .map_err(|e| TransportError::Other(format!("the db-service's counters are not readable: {e}")))
}

/// Reads the service's counters once and updates `progress`: what it has
/// processed, the backlog, and the "event -> applied" samples of the marks
/// it has now passed.
pub(super) async fn watch<T: Transport>(transport: &T, progress: &Progress, timeout: Duration) {
    let sent = progress.sent();
    let stats = service_stats(transport, timeout).await;
    let answered = Instant::now();
    if let Ok(stats) = stats {
        record(&stats, sent, answered, progress);
    }
    // Woken either way: a waiting sender looks at the time, too.
    progress.read.notify_waiters();
}

fn record(stats: &ServiceStats, sent: u64, answered: Instant, progress: &Progress) {
    let (applied, dropped, processed) = through(stats);
    let (applied_before, dropped_before, processed_before) =
        lock(&progress.baseline).as_ref().map(through).unwrap_or_default();
    let processed = processed.saturating_sub(processed_before);
    progress.processed.store(processed, Ordering::Relaxed);
    progress.applied.store(applied.saturating_sub(applied_before), Ordering::Relaxed);
    progress.dropped.store(dropped.saturating_sub(dropped_before), Ordering::Relaxed);
    progress.backlog_peak.fetch_max(sent.saturating_sub(processed), Ordering::Relaxed);
    progress.service_backlog_peak.fetch_max(stats.report.backlog_peak.max(stats.backlog), Ordering::Relaxed);
    progress.service_peak_memory.fetch_max(stats.peak_memory_bytes.unwrap_or(0), Ordering::Relaxed);
    let mut marks = lock(&progress.sent_marks);
    let mut samples = lock(&progress.applied_samples);
    while let Some(&(_, at)) = marks.front().filter(|(count, _)| *count <= processed) {
        samples.push(answered - at);
        marks.pop_front();
    }
    if progress.is_done() && processed >= progress.sent() {
        lock(&progress.drained_at).get_or_insert(answered);
    }
}

/// How many of the last `count` chat lines of this run are not in the
/// database. The `recent_chat.get` it sends is served after every chat line
/// before it, so it is also the run's closing barrier.
pub(super) async fn check_tail<T: Transport>(
    link: &BusLink<T>,
    run_id: &str,
    chat_lines: u64,
    count: u64,
    timeout: Duration,
) -> Result<u64, LinkError> {
    let ask = Command::Request(Request::RecentChat(RecentChatGet { limit: count as i64, at_ms: None }));
    let rows = match link.request(ask, timeout).await? {
        Reply::RecentChat(rows) => rows,
        other => return Err(BadReply::Unexpected(other).into()),
    };
    if count == 0 {
        return Ok(0);
    }
    let prefix = format!("loadtest {run_id} #");
    let found: Vec<u64> = rows
        .iter()
        .filter_map(|row| row.message.strip_prefix(&prefix))
        .filter_map(|rest| rest.split(':').next()?.parse().ok())
        .collect();
    let expected = (chat_lines - count + 1)..=chat_lines;
    let in_order = found.windows(2).all(|pair| pair[0] < pair[1]);
    let present = found.iter().filter(|seq| expected.contains(seq)).count() as u64;
    if !in_order {
        tracing::warn!("loadtest: recent_chat lines are out of order");
    }
    Ok(count - present)
}
