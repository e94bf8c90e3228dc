//! The probes on their own thread and connection: a poll and a reading of
//! the db-service's counters every `--probe-every`, during the flood and
//! after it until the service has worked off its backlog.
//!
//! Their own thread because the sender keeps its thread busy: on one thread
//! a poll's reply waited for the sender's next yield, and the loadtest
//! measured itself (p99 11 ms at 50,000 events/s, against 1.9 ms from a
//! separate process). Their own connection because the bot's poll does not
//! wait behind a load generator's send queue of thousands of publishes.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::probe::{lock, poll, service_stats, watch, Progress};
use crate::bot::{Outbound, Protocol};
use crate::clock::{Clock, SystemClock};
use crate::link::{BusLink, DbLink, LinkError, Outbox};
use crate::transport::{NatsOptions, NatsTransport};

/// How long the drain may take before the report is made anyway.
pub(super) const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);

/// Polls timed after the flood, at least (the drain's, then quiet ones).
const AFTER_POLLS: usize = 50;

/// The running prober.
pub(super) struct Prober {
    finished: oneshot::Receiver<()>,
    thread: JoinHandle<()>,
    /// Whether the db-service reports its counters (a v0.5.0 service does not).
    pub(super) counters: bool,
}

impl Prober {
    /// Starts the prober's thread; returns once it has proved a db-service
    /// answers and read its counters' starting values into `progress`.
    ///
    /// # Errors
    ///
    /// When it cannot connect, or no db-service answers the opening poll.
    pub(super) async fn start(
        options: NatsOptions,
        every: Duration,
        timeout: Duration,
        progress: Arc<Progress>,
    ) -> Result<Prober, LinkError> {
        let (opened_tx, opened) = oneshot::channel::<Result<bool, LinkError>>();
        let (finished_tx, finished) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("loadtest-prober".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        let why = format!("cannot start the prober's runtime: {error}");
                        let _ = opened_tx.send(Err(LinkError::Transport(crate::transport::TransportError::Other(why))));
                        return;
                    }
                };
                runtime.block_on(probe_until_drained(options, every, timeout, progress, opened_tx));
                let _ = finished_tx.send(());
            })
            .map_err(|e| LinkError::Transport(crate::transport::TransportError::Other(e.to_string())))?;
        let counters = opened.await.unwrap_or_else(|_| {
            Err(LinkError::Transport(crate::transport::TransportError::Other("the prober stopped".into())))
        })?;
        Ok(Prober { finished, thread, counters })
    }

    /// Waits until the prober has seen the drain through.
    pub(super) async fn finish(self) {
        let _ = self.finished.await;
        let _ = self.thread.join();
    }
}

async fn probe_until_drained(
    options: NatsOptions,
    every: Duration,
    timeout: Duration,
    progress: Arc<Progress>,
    opened: oneshot::Sender<Result<bool, LinkError>>,
) {
    let transport = match NatsTransport::connect(&options).await {
        Ok(transport) => transport,
        Err(error) => {
            let _ = opened.send(Err(LinkError::Transport(error)));
            return;
        }
    };
    let link = BusLink::new(transport, Outbox::Hold);
    let mut outbound = Outbound::new(Protocol::Hardened);
    if let Err(error) = link.request(outbound.request(SystemClock.now_ms()), timeout).await {
        let _ = opened.send(Err(error));
        return;
    }
    let counters = match service_stats(link.transport(), timeout).await {
        Ok(stats) => {
            *lock(&progress.baseline) = Some(stats);
            true
        }
        Err(error) => {
            tracing::warn!(
                %error,
                "loadtest: the db-service does not report its counters (v0.5.0?); \
                 applied is proven by the final tail check only"
            );
            false
        }
    };
    let _ = opened.send(Ok(counters));
    let mut next = Instant::now() + every;
    let mut flood_over: Option<Instant> = None;
    loop {
        crate::timers::sleep_until(next.into()).await;
        next += every;
        if progress.is_done() {
            let since = *flood_over.get_or_insert_with(Instant::now);
            let drained = !counters || progress.drained();
            let enough = lock(&progress.polls).after.len() >= AFTER_POLLS;
            if drained && enough || since.elapsed() > DRAIN_TIMEOUT {
                break;
            }
        }
        let _ = poll(&link, &mut outbound, &progress, timeout).await;
        if counters {
            watch(link.transport(), &progress, timeout).await;
        } else {
            progress.read.notify_waiters();
        }
    }
}
