//! `rosey loadtest`: drive a chosen event mix through the bot's bus link at a
//! chosen rate against a running db-service, and report throughput and latency
//! in plain words (for people who do not read criterion output).
//!
//! # What is measured
//!
//! - **sent**: commands published by the unchanged [`Bot`] through a hardened
//!   [`BusLink`], as the bot would publish them (a `join` is two commands:
//!   `user.joined` and `stats.high_water`).
//! - **applied**: commands the db-service is proven to have reached, by round
//!   trips. Every `outbound.get` probe is published after the commands counted
//!   before it, on the same connection; the service reads one subscription in
//!   arrival order, so its reply proves it has applied everything counted
//!   before the probe. A final probe after the last send covers the whole
//!   run. Then one `recent_chat.get` checks the tail: the last (up to 1,000)
//!   chat lines, which carry the run's id and a sequence number, must all be
//!   in the database, in order; any missing there (a slow consumer dropped
//!   them) are subtracted. With several db-services in one queue group the
//!   order proof does not hold: point loadtest at one instance.
//! - **outbound.get round trip**: every probe, timed from the request to its
//!   reply, on the publishing connection (where the bot's own poll waits).
//! - **event → applied**: for each answered probe, the age of the oldest
//!   command it proved applied (the first sent after the previous probe). It
//!   includes up to one probe interval of waiting for the probe to be sent.
//!
//! Run it against a scratch database: it writes chat lines, joins and status
//! rows like a busy channel would.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::bot::{Bot, Outbound, Protocol};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::contract::{Command, RecentChatGet, Reply, Request};
use crate::cytube::{ChatEvent, User, UserlistUpdate};
use crate::link::{BadReply, BusLink, DbLink, LinkError, Outbox};
use crate::transport::{NatsTransport, Transport};

/// Events generated between two yields (at `max`, or when behind schedule).
const CHUNK: u64 = 256;
/// The most chat lines the final `recent_chat.get` checks.
const TAIL_CHECK: u64 = 1_000;
/// How long the final probe may wait for a backlogged db-service.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Chatters joined by the opening `userlist`.
const CHATTERS: usize = 10;

/// The `rosey loadtest` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadtestArgs {
    /// Event mix as kind=weight pairs; kinds: chat, join, leave, status, high_water.
    #[arg(long, default_value = "chat=8,join=1,leave=1")]
    pub mix: Mix,
    /// Bot events per second, or `max`.
    #[arg(long, default_value = "1000")]
    pub rate: Rate,
    /// How long to send (e.g. 10s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// How often to probe with an `outbound.get` (the bot polls every 2 s).
    #[arg(long, default_value = "10ms", value_parser = parse_duration)]
    pub probe_every: Duration,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// A DB-facing bot event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    /// `chatMsg` -> `message.log`.
    Chat,
    /// `addUser` of a new user -> `user.joined` + `stats.high_water`.
    Join,
    /// `userLeave` -> `user.left`.
    Leave,
    /// The 10 s status tick -> `status.update`.
    Status,
    /// `usercount` -> `stats.high_water`.
    HighWater,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Chat => "chat",
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::Status => "status",
            EventKind::HighWater => "high_water",
        }
    }
}

/// Weighted event kinds, e.g. `chat=8,join=1,leave=1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix(Vec<(EventKind, u32)>);

impl FromStr for Mix {
    type Err = String;

    fn from_str(s: &str) -> Result<Mix, String> {
        let mut weights = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
            let kind = match name.trim() {
                "chat" => EventKind::Chat,
                "join" => EventKind::Join,
                "leave" => EventKind::Leave,
                "status" => EventKind::Status,
                "high_water" | "high-water" | "highwater" => EventKind::HighWater,
                other => return Err(format!("unknown event kind {other:?} (chat, join, leave, status, high_water)")),
            };
            let weight: u32 = weight.trim().parse().map_err(|_| format!("bad weight in {part:?}"))?;
            if weights.iter().any(|(k, _)| *k == kind) {
                return Err(format!("{} appears twice in the mix", kind.name()));
            }
            if weight > 0 {
                weights.push((kind, weight));
            }
        }
        if weights.is_empty() {
            return Err("the mix has no event with a weight above 0".into());
        }
        Ok(Mix(weights))
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(kind, w)| format!("{}={w}", kind.name())).collect();
        f.write_str(&parts.join(","))
    }
}

impl Mix {
    /// An endless, evenly interleaved sequence with the mix's proportions
    /// (smooth weighted round-robin: no randomness, so runs repeat).
    fn schedule(&self) -> impl Iterator<Item = EventKind> + '_ {
        let total: i64 = self.0.iter().map(|(_, w)| i64::from(*w)).sum();
        let mut current = vec![0_i64; self.0.len()];
        std::iter::repeat(()).map(move |()| {
            for (credit, (_, weight)) in current.iter_mut().zip(&self.0) {
                *credit += i64::from(*weight);
            }
            let best = (0..current.len()).max_by_key(|&i| (current[i], std::cmp::Reverse(i))).unwrap_or(0);
            current[best] -= total;
            self.0[best].0
        })
    }
}

/// Events per second, or as fast as the link takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    PerSecond(u64),
    Max,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        match s.trim() {
            "max" => Ok(Rate::Max),
            n => match n.replace('_', "").parse::<u64>() {
                Ok(0) | Err(_) => Err(format!("bad rate {s:?}: events per second above 0, or max")),
                Ok(n) => Ok(Rate::PerSecond(n)),
            },
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::PerSecond(n) => write!(f, "{n} events/s"),
            Rate::Max => f.write_str("max rate"),
        }
    }
}

/// Parses `250ms`, `10s`, `2m` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(secs) = s.strip_suffix('s') {
        (secs, 1.0)
    } else if let Some(mins) = s.strip_suffix('m') {
        (mins, 60.0)
    } else {
        (s, 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(value) if value > 0.0 && value.is_finite() => Ok(Duration::from_secs_f64(value * scale)),
        _ => Err(format!("bad duration {s:?} (e.g. 500ms, 10s, 2m)")),
    }
}

/// Nearest-rank percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// All zero for no samples.
    pub fn of(samples: &mut [Duration]) -> Percentiles {
        samples.sort_unstable();
        let rank = |q: f64| {
            let index = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[index]
        };
        if samples.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: samples.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            p999: rank(0.999),
            max: samples[samples.len() - 1],
        }
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} samples)",
            ms(self.p50),
            ms(self.p99),
            ms(self.p999),
            ms(self.max),
            self.count
        )
    }
}

/// What a load test did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadtestReport {
    pub mix: Mix,
    pub rate: Rate,
    /// How long events were sent.
    pub sending: Duration,
    /// From the start to the reply of the final probe.
    pub until_applied: Duration,
    /// Bot events generated, by kind.
    pub events: BTreeMap<&'static str, u64>,
    /// Commands published (the opening userlist's included).
    pub sent: u64,
    /// Commands the link refused (disconnected, payload too large).
    pub send_errors: u64,
    /// Commands held in the link's outbox (no db-service answered).
    pub held: usize,
    /// Commands proven applied (see the module docs).
    pub applied: u64,
    /// Chat lines sent, checked by the final tail check, and missing there.
    pub chat_lines: u64,
    pub tail_checked: u64,
    pub tail_missing: u64,
    /// Probes that timed out or failed.
    pub probe_failures: u64,
    /// `outbound.get` round trips during the load.
    pub get_latency: Percentiles,
    /// Age of the oldest command each probe proved applied.
    pub applied_latency: Percentiles,
}

impl LoadtestReport {
    pub fn events_total(&self) -> u64 {
        self.events.values().sum()
    }
}

fn per_sec(count: u64, over: Duration) -> f64 {
    count as f64 / over.as_secs_f64().max(1e-9)
}

impl fmt::Display for LoadtestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let events = self.events_total();
        let by_kind: Vec<String> = self.events.iter().map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(f, "loadtest: {} for {:.1} s, mix {}", self.rate, self.sending.as_secs_f64(), self.mix)?;
        writeln!(
            f,
            "sent     {events} events ({:.0}/s: {}), {} commands ({:.0}/s)",
            per_sec(events, self.sending),
            by_kind.join(", "),
            self.sent,
            per_sec(self.sent, self.sending)
        )?;
        writeln!(
            f,
            "applied  {} commands ({:.0}/s), proven by a round trip {:.1} ms after the last send",
            self.applied,
            per_sec(self.applied, self.until_applied),
            self.until_applied.saturating_sub(self.sending).as_secs_f64() * 1e3
        )?;
        if self.send_errors > 0 || self.held > 0 {
            writeln!(
                f,
                "LOST     {} commands refused by the link, {} held in its outbox",
                self.send_errors, self.held
            )?;
        }
        match self.tail_missing {
            0 => writeln!(f, "tail     the last {} chat lines are all in the database, in order", self.tail_checked)?,
            n => writeln!(f, "MISSING  {n} of the last {} chat lines are not in the database", self.tail_checked)?,
        }
        writeln!(f, "outbound.get round trip under load:  {}", self.get_latency)?;
        if self.probe_failures > 0 {
            writeln!(f, "         {} probes failed (timed out or no responders)", self.probe_failures)?;
        }
        writeln!(f, "event -> applied (oldest per probe): {}", self.applied_latency)
    }
}

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

/// Counters the sender, the prober and the ticker share (one task: `Cell`s).
#[derive(Default)]
struct Progress {
    sent: Cell<u64>,
    send_errors: Cell<u64>,
    /// When the first command after the last probe's snapshot was sent.
    oldest_unproven: Cell<Option<Instant>>,
    applied: Cell<u64>,
    done: Cell<bool>,
    stop: Cell<bool>,
    probe_failures: Cell<u64>,
    get_samples: RefCell<Vec<Duration>>,
    applied_samples: RefCell<Vec<Duration>>,
}

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

async fn send<T: Transport>(link: &BusLink<T>, progress: &Progress, command: Command) {
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
async fn probe<T: Transport>(
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
async fn check_tail<T: Transport>(
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

/// Turns event kinds into the bot's commands, keeping a small channel.
struct Source {
    bot: Bot,
    run_id: String,
    /// Users this run joined and has not yet made leave, oldest first.
    joined: VecDeque<String>,
    next_user: u64,
    chat_seq: u64,
    counts: BTreeMap<&'static str, u64>,
}

impl Source {
    fn new(run_id: &str, start_ms: i64) -> Source {
        Source {
            bot: Bot::new("loadtest", "rosey-loadtest", start_ms, Protocol::Hardened),
            run_id: run_id.to_string(),
            joined: VecDeque::new(),
            next_user: 0,
            chat_seq: 0,
            counts: BTreeMap::new(),
        }
    }

    fn user(name: String) -> User {
        User { name, rank: 0.0, afk: false, muted: false }
    }

    /// The opening `userlist` (the bot and a few chatters): chat lines count
    /// only after one.
    fn opening(&mut self, at_ms: i64) -> Vec<Command> {
        let mut users = vec![Source::user("rosey-loadtest".into())];
        users.extend((0..CHATTERS).map(|i| Source::user(format!("lt-chatter-{i}"))));
        self.bot.handle(&ChatEvent::Userlist(UserlistUpdate { users, dropped: Vec::new() }), at_ms)
    }

    fn next(&mut self, kind: EventKind, at_ms: i64) -> Vec<Command> {
        *self.counts.entry(kind.name()).or_default() += 1;
        let event = match kind {
            EventKind::Chat => {
                self.chat_seq += 1;
                let seq = self.chat_seq;
                ChatEvent::ChatMsg {
                    username: format!("lt-chatter-{}", seq % CHATTERS as u64),
                    msg: format!("loadtest {} #{seq}: the quick brown fox jumps over the lazy dog", self.run_id),
                }
            }
            EventKind::Join => {
                self.next_user += 1;
                let name = format!("lt-{}-{}", self.run_id, self.next_user);
                self.joined.push_back(name.clone());
                ChatEvent::AddUser(Source::user(name))
            }
            EventKind::Leave => {
                let name = self.joined.pop_front().unwrap_or_else(|| format!("lt-{}-gone", self.run_id));
                ChatEvent::UserLeave { name }
            }
            EventKind::HighWater => ChatEvent::Usercount(self.bot.state.users.len() as i64 + 5),
            EventKind::Status => return vec![self.bot.status(at_ms, true)],
        };
        self.bot.handle(&event, at_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_parses_and_interleaves_in_proportion() {
        let mix: Mix = "chat=8, join=1,leave=1,status=0".parse().unwrap();
        assert_eq!(mix.to_string(), "chat=8,join=1,leave=1");
        let first: Vec<EventKind> = mix.schedule().take(10).collect();
        let count = |kind| first.iter().filter(|k| **k == kind).count();
        assert_eq!((count(EventKind::Chat), count(EventKind::Join), count(EventKind::Leave)), (8, 1, 1));
        assert_ne!(first[..2], [EventKind::Join, EventKind::Leave], "spread out, not grouped");
        assert!("chat=1,chat=2".parse::<Mix>().is_err());
        assert!("chat=0".parse::<Mix>().is_err());
        assert!("typing=3".parse::<Mix>().unwrap_err().contains("typing"));
    }

    #[test]
    fn rate_and_duration_parse() {
        assert_eq!("max".parse::<Rate>(), Ok(Rate::Max));
        assert_eq!("50_000".parse::<Rate>(), Ok(Rate::PerSecond(50_000)));
        assert!("0".parse::<Rate>().is_err());
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=1000).rev().map(Duration::from_micros).collect();
        let p = Percentiles::of(&mut samples);
        assert_eq!((p.count, p.p50, p.p99, p.p999, p.max), (1000, us(500), us(990), us(999), us(1000)));
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
        let one = Percentiles::of(&mut [us(7)]);
        assert_eq!((one.p50, one.max), (us(7), us(7)));
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn join_sends_two_commands_and_leave_takes_the_oldest_joined() {
        let mut source = Source::new("r", 0);
        assert_eq!(source.opening(0).len(), CHATTERS + 2);
        assert_eq!(source.next(EventKind::Join, 1).len(), 2);
        source.next(EventKind::Join, 1);
        let left = source.next(EventKind::Leave, 2);
        assert!(matches!(&left[..], [Command::UserLeft(u)] if u.username == "lt-r-1"));
        let chat = source.next(EventKind::Chat, 3);
        assert!(matches!(&chat[..], [Command::MessageLog(m)] if m.message.starts_with("loadtest r #1:")));
        assert_eq!(source.counts.values().sum::<u64>(), 4);
    }
}
