//! [`loadtest`]: the prober started on its own thread, then the sender and
//! the progress ticker on this task until the time is up, then the drain
//! watched to its end and the proof that everything arrived.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::args::{EventKind, LoadtestArgs, Rate};
use super::percentiles::Percentiles;
use super::probe::{check_tail, lock, send, Progress};
use super::prober::{Prober, DRAIN_TIMEOUT};
use super::report::{per_sec, LoadtestReport};
use super::source::Source;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::delivery::Delivery;
use crate::link::{BusLink, LinkError, Outbox};
use crate::transport::{NatsTransport, Transport};

/// Events generated between two yields (at `max`, or when behind schedule).
const CHUNK: u64 = 256;
/// The most chat lines the final `recent_chat.get` checks.
const TAIL_CHECK: u64 = 1_000;

/// Runs a load test against the db-service on the bus `settings` name.
///
/// # Errors
///
/// When the bus is unreachable or no db-service answers the opening probe.
pub async fn loadtest(
    settings: &Settings,
    args: &LoadtestArgs,
    shutdown: impl Future<Output = ()>,
) -> crate::Result<LoadtestReport> {
    let options = settings.nats_options("rosey-loadtest");
    let transport = NatsTransport::connect(&options).await?;
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(args.duration.as_millis() as u64);
        let style = indicatif::ProgressStyle::with_template("{bar:40} {elapsed}/{duration} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    };
    let delivery = settings.delivery();
    let link = match delivery {
        Delivery::Core => BusLink::new(transport, Outbox::Hold),
        Delivery::Jetstream => crate::app::bot::jetstream_link(settings, transport).await?,
    };
    let progress = Arc::new(Progress::default());
    let timeout = settings.request_timeout();
    let probe_options = settings.nats_options("rosey-loadtest-probe");
    let report = match Prober::start(probe_options, args.probe_every, timeout, progress.clone()).await {
        Ok(prober) => run(link, prober, &progress, delivery, args, &bar, shutdown).await,
        Err(error) => Err(error),
    };
    bar.finish_and_clear();
    report.map_err(|e| match e {
        e if e.is_no_responders() => {
            let url = crate::transport::redact_url(&options.url);
            format!("no db-service is listening at {url}: start one with `rosey db-service`").into()
        }
        other => format!("loadtest: {other}").into(),
    })
}

/// The load test over `link`, with the prober already running.
async fn run<T: Transport>(
    link: BusLink<T>,
    prober: Prober,
    progress: &Progress,
    delivery: Delivery,
    args: &LoadtestArgs,
    bar: &indicatif::ProgressBar,
    shutdown: impl Future<Output = ()>,
) -> Result<LoadtestReport, LinkError> {
    let counters = prober.counters;
    let start_ms = SystemClock.now_ms();
    let run_id = format!("{start_ms:x}");
    let mut source = Source::new(&run_id, start_ms);
    for command in source.opening(start_ms) {
        send(&link, progress, command).await;
    }

    let started = Instant::now();
    let stopped = || progress.stop.load(Ordering::Relaxed);
    let sender = async {
        let mut kinds = args.mix.schedule();
        let mut generated = 0_u64;
        loop {
            let elapsed = started.elapsed();
            if elapsed >= args.duration || stopped() {
                break;
            }
            if args.rate == Rate::Max && counters {
                // Closed loop: wait for the service while the window is full
                // (re-checking the time now and then, should readings stop).
                while progress.sent().saturating_sub(progress.processed()) >= args.in_flight
                    && !stopped()
                    && started.elapsed() < args.duration
                {
                    let _ = crate::timers::timeout(args.probe_every * 10, progress.read.notified()).await;
                }
            }
            let due = match args.rate {
                Rate::Max => generated + CHUNK,
                Rate::PerSecond(rate) => (rate as f64 * elapsed.as_secs_f64()) as u64,
            };
            if due <= generated {
                let Rate::PerSecond(rate) = args.rate else { unreachable!("max is always due") };
                let next = started + Duration::from_secs_f64((generated + 1) as f64 / rate as f64);
                crate::timers::sleep_until(next.into()).await;
                continue;
            }
            let until = due.min(generated + CHUNK);
            while generated < until {
                let kind = kinds.next().unwrap_or(EventKind::Chat);
                for command in source.next(kind, SystemClock.now_ms()) {
                    send(&link, progress, command).await;
                }
                generated += 1;
            }
            // Let the connection and the progress bar in, even when behind schedule.
            tokio::task::yield_now().await;
        }
        progress.done.store(true, Ordering::Relaxed);
        started.elapsed()
    };
    let ticker = async {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut interrupted = false;
        while !progress.is_done() {
            if interrupted {
                crate::timers::sleep(Duration::from_millis(100)).await;
            } else {
                tokio::select! {
                    () = &mut shutdown => { interrupted = true; progress.stop.store(true, Ordering::Relaxed) }
                    () = crate::timers::sleep(Duration::from_millis(100)) => {}
                }
            }
            let elapsed = started.elapsed();
            bar.set_position(elapsed.as_millis() as u64);
            bar.set_message(format!(
                "{:.0} commands/s sent, {} applied",
                per_sec(progress.sent(), elapsed),
                progress.applied.load(Ordering::Relaxed)
            ));
        }
    };
    let (sending, ()) = tokio::join!(sender, ticker);

    bar.set_message("waiting for the db-service to apply the rest");
    link.settle(DRAIN_TIMEOUT).await?;
    prober.finish().await;
    let chat_lines = source.chat_seq;
    let tail_checked = chat_lines.min(TAIL_CHECK);
    let tail_missing = check_tail(&link, &run_id, chat_lines, tail_checked, DRAIN_TIMEOUT).await?;
    let until_applied = lock(&progress.drained_at).unwrap_or_else(Instant::now) - started;

    let sent = progress.sent();
    let mut polls = std::mem::take(&mut *lock(&progress.polls));
    let applied_latency = Percentiles::of(&mut lock(&progress.applied_samples));
    let applied = if counters { progress.applied.load(Ordering::Relaxed) } else { sent.saturating_sub(tail_missing) };
    Ok(LoadtestReport {
        mix: args.mix.clone(),
        rate: args.rate,
        delivery,
        sending,
        until_applied,
        events: source.counts,
        sent,
        send_errors: progress.send_errors.load(Ordering::Relaxed),
        held: link.outbox_stats().held,
        counters,
        applied,
        dropped: progress.dropped.load(Ordering::Relaxed),
        unaccounted: if counters { sent.saturating_sub(progress.processed()) } else { 0 },
        backlog_peak: progress.backlog_peak.load(Ordering::Relaxed),
        service_backlog_peak: progress.service_backlog_peak.load(Ordering::Relaxed),
        service_peak_memory: progress.service_peak_memory.load(Ordering::Relaxed),
        chat_lines,
        tail_checked,
        tail_missing,
        polls_failed_during: polls.failed_during,
        polls_failed_after: polls.failed_after,
        get_during: Percentiles::of(&mut polls.during),
        get_after: Percentiles::of(&mut polls.after),
        applied_latency,
    })
}
