//! [`loadtest`]: the opening probe, then the sender, the prober and the
//! progress ticker on one task until the time is up, then the proof that
//! everything arrived.

use std::future::Future;
use std::time::{Duration, Instant};

use super::args::{EventKind, LoadtestArgs, Rate};
use super::percentiles::Percentiles;
use super::probe::{check_tail, probe, send, Progress};
use super::report::{per_sec, LoadtestReport};
use super::source::Source;
use crate::bot::{Outbound, Protocol};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::link::{BusLink, DbLink, LinkError, Outbox};
use crate::transport::{NatsTransport, Transport};

/// Events generated between two yields (at `max`, or when behind schedule).
const CHUNK: u64 = 256;
/// The most chat lines the final `recent_chat.get` checks.
const TAIL_CHECK: u64 = 1_000;
/// How long the final probe may wait for a backlogged db-service.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

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
    let report = run(BusLink::new(transport, Outbox::Hold), args, settings.request_timeout(), &bar, shutdown).await;
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
    args: &LoadtestArgs,
    timeout: Duration,
    bar: &indicatif::ProgressBar,
    shutdown: impl Future<Output = ()>,
) -> Result<LoadtestReport, LinkError> {
    let mut outbound = Outbound::new(Protocol::Hardened);
    link.request(outbound.request(SystemClock.now_ms()), timeout).await?;

    let start_ms = SystemClock.now_ms();
    let run_id = format!("{start_ms:x}");
    let mut source = Source::new(&run_id, start_ms);
    let progress = Progress::default();
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
                let _ = probe(&link, &mut outbound, &progress, timeout, true).await;
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

    bar.set_message("waiting for the db-service to apply the rest");
    probe(&link, &mut outbound, &progress, DRAIN_TIMEOUT, false).await?;
    let until_applied = started.elapsed();
    let chat_lines = source.chat_seq;
    let tail_checked = chat_lines.min(TAIL_CHECK);
    let tail_missing = check_tail(&link, &run_id, chat_lines, tail_checked, timeout).await?;

    let get_latency = Percentiles::of(&mut progress.get_samples.borrow_mut());
    let applied_latency = Percentiles::of(&mut progress.applied_samples.borrow_mut());
    Ok(LoadtestReport {
        mix: args.mix.clone(),
        rate: args.rate,
        sending,
        until_applied,
        events: source.counts,
        sent: progress.sent.get(),
        send_errors: progress.send_errors.get(),
        held: link.outbox_stats().held,
        applied: progress.applied.get().saturating_sub(tail_missing),
        chat_lines,
        tail_checked,
        tail_missing,
        probe_failures: progress.probe_failures.get(),
        get_latency,
        applied_latency,
    })
}
