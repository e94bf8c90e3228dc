//! [`loadtest`]: the opening probes, then the sender, the prober and the
//! progress ticker on one task until the time is up, then the drain watched
//! to its end and the proof that everything arrived.

use std::future::Future;
use std::time::{Duration, Instant};

use super::args::{EventKind, LoadtestArgs, Rate};
use super::percentiles::Percentiles;
use super::probe::{check_tail, poll, send, service_stats, watch, Progress};
use super::report::{per_sec, LoadtestReport};
use super::source::Source;
use crate::bot::{Outbound, Protocol};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::delivery::Delivery;
use crate::link::{BusLink, DbLink, LinkError, Outbox};
use crate::transport::{NatsTransport, Transport};

/// Events generated between two yields (at `max`, or when behind schedule).
const CHUNK: u64 = 256;
/// The most chat lines the final `recent_chat.get` checks.
const TAIL_CHECK: u64 = 1_000;
/// How long the drain may take before the report is made anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);
/// Polls timed after the flood, at least (the drain's, then quiet ones).
const AFTER_POLLS: usize = 50;

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
    let report = run(link, delivery, args, settings.request_timeout(), &bar, shutdown).await;
    bar.finish_and_clear();
    report.map_err(|e| match e {
        e if e.is_no_responders() => {
            let url = crate::transport::redact_url(&options.url);
            format!("no db-service is listening at {url}: start one with `rosey db-service`").into()
        }
        other => format!("loadtest: {other}").into(),
    })
}

/// The load test over `link`, on any transport; [`loadtest`] connects it and
/// words the errors.
async fn run<T: Transport>(
    link: BusLink<T>,
    delivery: Delivery,
    args: &LoadtestArgs,
    timeout: Duration,
    bar: &indicatif::ProgressBar,
    shutdown: impl Future<Output = ()>,
) -> Result<LoadtestReport, LinkError> {
    let mut outbound = Outbound::new(Protocol::Hardened);
    link.request(outbound.request(SystemClock.now_ms()), timeout).await?;
    let progress = Progress::default();
    let counters = match service_stats(link.transport(), timeout).await {
        Ok(stats) => {
            progress.baseline.replace(Some(stats));
            true
        }
        Err(error) => {
            tracing::warn!(%error, "loadtest: the db-service does not report its counters (v0.5.0?); \
                 applied is proven by the final tail check only");
            false
        }
    };

    let start_ms = SystemClock.now_ms();
    let run_id = format!("{start_ms:x}");
    let mut source = Source::new(&run_id, start_ms);
    for command in source.opening(start_ms) {
        send(&link, &progress, command).await;
    }

    let started = Instant::now();
    let sender = async {
        let mut kinds = args.mix.schedule();
        let mut generated = 0_u64;
        loop {
            let elapsed = started.elapsed();
            if elapsed >= args.duration || progress.stop.get() {
                break;
            }
            let due = match args.rate {
                Rate::Max => generated + CHUNK,
                Rate::PerSecond(rate) => (rate as f64 * elapsed.as_secs_f64()) as u64,
            };
            if due <= generated {
                let Rate::PerSecond(rate) = args.rate else { unreachable!("max is always due") };
                let next = started + Duration::from_secs_f64((generated + 1) as f64 / rate as f64);
                tokio::time::sleep_until(next.into()).await;
                continue;
            }
            let until = due.min(generated + CHUNK);
            while generated < until {
                let kind = kinds.next().unwrap_or(EventKind::Chat);
                for command in source.next(kind, SystemClock.now_ms()) {
                    send(&link, &progress, command).await;
                }
                generated += 1;
            }
            // Let the probes and the progress bar in, even when behind schedule.
            tokio::task::yield_now().await;
        }
        progress.done.set(true);
        started.elapsed()
    };
    let prober = async {
        let mut next = Instant::now() + args.probe_every;
        while !progress.done.get() {
            tokio::time::sleep_until(next.into()).await;
            next += args.probe_every;
            if !progress.done.get() {
                let _ = poll(&link, &mut outbound, &progress, timeout).await;
                if counters {
                    watch(link.transport(), &progress, timeout).await;
                }
            }
        }
        outbound
    };
    let ticker = async {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut interrupted = false;
        while !progress.done.get() {
            if interrupted {
                tokio::time::sleep(Duration::from_millis(100)).await;
            } else {
                tokio::select! {
                    () = &mut shutdown => { interrupted = true; progress.stop.set(true) }
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
            let elapsed = started.elapsed();
            bar.set_position(elapsed.as_millis() as u64);
            bar.set_message(format!(
                "{:.0} commands/s sent, {} applied",
                per_sec(progress.sent.get(), elapsed),
                progress.applied.get()
            ));
        }
    };
    let (sending, mut outbound, ()) = tokio::join!(sender, prober, ticker);

    // After the flood: polls go on, timed apart, while the service works off
    // its backlog, and a little after.
    bar.set_message("waiting for the db-service to apply the rest");
    link.settle(DRAIN_TIMEOUT).await?;
    let drain_started = Instant::now();
    let mut next = Instant::now();
    loop {
        let drained = !counters || progress.drained_at.get().is_some();
        if drained && progress.polls.borrow().after.len() >= AFTER_POLLS || drain_started.elapsed() > DRAIN_TIMEOUT {
            break;
        }
        tokio::time::sleep_until(next.into()).await;
        next += args.probe_every;
        let _ = poll(&link, &mut outbound, &progress, timeout).await;
        if counters {
            watch(link.transport(), &progress, timeout).await;
        }
    }
    let chat_lines = source.chat_seq;
    let tail_checked = chat_lines.min(TAIL_CHECK);
    let tail_missing = check_tail(&link, &run_id, chat_lines, tail_checked, DRAIN_TIMEOUT).await?;
    let until_applied = progress.drained_at.get().unwrap_or_else(Instant::now) - started;

    let mut polls = progress.polls.take();
    let applied_latency = Percentiles::of(&mut progress.applied_samples.take());
    let applied = if counters { progress.applied.get() } else { progress.sent.get().saturating_sub(tail_missing) };
    Ok(LoadtestReport {
        mix: args.mix.clone(),
        rate: args.rate,
        delivery,
        sending,
        until_applied,
        events: source.counts,
        sent: progress.sent.get(),
        send_errors: progress.send_errors.get(),
        held: link.outbox_stats().held,
        counters,
        applied,
        dropped: progress.dropped.get(),
        unaccounted: if counters { progress.sent.get().saturating_sub(progress.processed.get()) } else { 0 },
        backlog_peak: progress.backlog_peak.get(),
        service_backlog_peak: progress.service_backlog_peak.get(),
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
