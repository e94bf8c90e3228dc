//! Sending, and proving what the db-service applied: the counters the
//! sender, the prober and the ticker share, the `outbound.get` probe whose
//! reply proves everything sent before it applied, and the final tail check.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use crate::bot::Outbound;
use crate::clock::{Clock, SystemClock};
use crate::contract::{Command, RecentChatGet, Reply, Request};
use crate::link::{BadReply, BusLink, DbLink, LinkError};
use crate::transport::Transport;

/// Counters the sender, the prober and the ticker share (one task: `Cell`s).
#[derive(Default)]
pub(super) struct Progress {
    pub(super) sent: Cell<u64>,
    pub(super) send_errors: Cell<u64>,
    /// When the first command after the last probe's snapshot was sent.
    oldest_unproven: Cell<Option<Instant>>,
    pub(super) applied: Cell<u64>,
    pub(super) done: Cell<bool>,
    pub(super) stop: Cell<bool>,
    pub(super) probe_failures: Cell<u64>,
    pub(super) get_samples: RefCell<Vec<Duration>>,
    pub(super) applied_samples: RefCell<Vec<Duration>>,
}

/// Sends one command and counts it, sent or refused; the first since the
/// last probe starts the clock of the "event -> applied" latency.
pub(super) async fn send<T: Transport>(link: &BusLink<T>, progress: &Progress, command: Command) {
    if progress.oldest_unproven.get().is_none() {
        progress.oldest_unproven.set(Some(Instant::now()));
    }
    match link.send(command).await {
        Ok(()) => progress.sent.set(progress.sent.get() + 1),
        Err(error) => {
            progress.send_errors.set(progress.send_errors.get() + 1);
            tracing::warn!(%error, "loadtest: send failed");
        }
    }
}

/// One `outbound.get`: on a reply, everything counted before it is applied.
///
/// The request is polled `unconstrained` so tokio's cooperative budget cannot
/// delay it behind publishes issued after the snapshot: the publish channel
/// is FIFO, so the request lands exactly after what was counted.
pub(super) async fn probe<T: Transport>(
    link: &BusLink<T>,
    outbound: &mut Outbound,
    progress: &Progress,
    timeout: Duration,
    record: bool,
) -> Result<(), LinkError> {
    let sent = progress.sent.get();
    let oldest = progress.oldest_unproven.take();
    let asked = Instant::now();
    let result = tokio::task::unconstrained(link.request(outbound.request(SystemClock.now_ms()), timeout)).await;
    let answered = Instant::now();
    match result {
        Ok(_) => {
            progress.applied.set(progress.applied.get().max(sent));
            if record {
                progress.get_samples.borrow_mut().push(answered - asked);
                if let Some(oldest) = oldest {
                    progress.applied_samples.borrow_mut().push(answered - oldest);
                }
            }
            Ok(())
        }
        Err(error) => {
            progress.probe_failures.set(progress.probe_failures.get() + 1);
            // Those commands are not proven yet: the next probe must cover them.
            if let Some(oldest) = oldest {
                let newer = progress.oldest_unproven.get().unwrap_or(oldest);
                progress.oldest_unproven.set(Some(oldest.min(newer)));
            }
            Err(error)
        }
    }
}

/// How many of the last `count` chat lines of this run are not in the database.
pub(super) async fn check_tail<T: Transport>(
    link: &BusLink<T>,
    run_id: &str,
    chat_lines: u64,
    count: u64,
    timeout: Duration,
) -> Result<u64, LinkError> {
    if count == 0 {
        return Ok(0);
    }
    let ask = Command::Request(Request::RecentChat(RecentChatGet { limit: count as i64, at_ms: None }));
    let rows = match link.request(ask, timeout).await? {
        Reply::RecentChat(rows) => rows,
        other => return Err(BadReply::Unexpected(other).into()),
    };
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
