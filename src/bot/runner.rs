//! Drives a [`Bot`] from a fixture and its timers, in virtual time.
//!
//! One loop owns the schedule, so order never depends on task scheduling:
//! fixture events at a millisecond come before timer ticks at that
//! millisecond, ticks at one instant run outbound, status, then user counts,
//! and the outbound poll is the only thing allowed to be in flight while time
//! moves on (as v0.5.0's separate outbound task was). Where virtual time comes
//! from is a [`Timeline`](super::Timeline).

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::periodic::{OUTBOUND_PERIOD_MS, STATUS_PERIOD_MS, USER_COUNT_PERIOD_MS};
use super::source::{ChatSource, FixtureSource, SourceItem};
use super::timeline::Timeline;
use super::vitals::MetricsMirror;
use super::{Bot, OutboundReport};
use crate::chat::{ChatSink, SayError, SayOutcome};
use crate::contract::{Command, Reply, DEFAULT_REQUEST_TIMEOUT};
use crate::fixture::{Fixture, Skip, TimedEvent};
use crate::link::{BadReply, DbLink, LinkError};
use crate::metrics::{BotMetrics, SubjectLabel};
use crate::trace::{Trace, TraceEvent};

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// How long a request waits for its reply (v0.5.0: 2 s).
    pub request_timeout: Duration,
    /// The host name written in trace lines.
    pub host: String,
    /// Where the bot's counts are mirrored for `/metrics` (records into
    /// nothing unless registered).
    pub metrics: BotMetrics,
}

impl Default for RunnerConfig {
    fn default() -> RunnerConfig {
        RunnerConfig { request_timeout: DEFAULT_REQUEST_TIMEOUT, host: "bot".into(), metrics: BotMetrics::default() }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReplayReport {
    /// Handled events by CyTube event name.
    pub events_by_kind: BTreeMap<String, u64>,
    /// Skipped lines and userlist entries.
    pub skipped: Vec<Skip>,
    /// Chat lines of CyTube's history replays that were not stored (seen before,
    /// or on the first connection).
    pub history_lines: u64,
    /// History lines a re-join stored: said while the bot was away.
    pub recovered_lines: u64,
    /// Commands sent to the database side.
    pub commands_sent: u64,
    /// Commands sent, by subject (compare with the service's applied counts
    /// to see what a fault lost).
    pub sent_by_subject: BTreeMap<String, u64>,
    /// Sends and requests that failed, by reason.
    pub link_failures: BTreeMap<String, u64>,
    /// `rosey:say` enqueues that got an id.
    pub enqueued: u64,
    pub outbound: OutboundReport,
    /// Virtual duration of the replay, ms.
    pub virtual_ms: i64,
    /// Why a live source ended the run early (a refused login, a duplicate
    /// login's kick): the run is an error.
    pub ended_by: Option<String>,
    /// With JetStream delivery: acks, duplicates, republishes and the
    /// unacknowledged window (what a crash would have lost).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jetstream: Option<crate::link::StreamStats>,
}

type InFlight<'l> = Pin<Box<dyn Future<Output = Result<Reply, LinkError>> + 'l>>;

/// The poll in flight, and when it was sent (for its latency histogram).
struct Poll<'l> {
    reply: InFlight<'l>,
    sent_at: tokio::time::Instant,
}

/// Runs one bot over one chat source.
pub struct Runner<'l, L: DbLink, C: ChatSink, T: Timeline> {
    pub bot: Bot,
    link: &'l L,
    chat: C,
    timeline: T,
    trace: Trace,
    config: RunnerConfig,
    report: ReplayReport,
    /// Resolves when the bot must stop early (SIGINT/SIGTERM in production).
    stop: Stop<'l>,
    mirror: MetricsMirror,
}

impl<'l, L: DbLink, C: ChatSink, T: Timeline> Runner<'l, L, C, T> {
    pub fn new(bot: Bot, link: &'l L, chat: C, timeline: T, trace: Trace, config: RunnerConfig) -> Self {
        Runner {
            bot,
            link,
            chat,
            timeline,
            trace,
            config,
            report: ReplayReport::default(),
            stop: Stop::default(),
            mirror: MetricsMirror::default(),
        }
    }

    /// Stops the replay early, with the usual shutdown, when `stop` resolves.
    pub fn with_stop(mut self, stop: impl Future<Output = ()> + 'l) -> Self {
        self.stop = Stop { signal: Some(Box::pin(stop)), fired: false };
        self
    }

    /// Replays `fixture` to its end, then shuts the bot down (`user.left` for
    /// everyone listed). Returns the report and the chat sink.
    pub async fn replay(self, fixture: &Fixture) -> (ReplayReport, C, Bot) {
        self.run(&mut FixtureSource::new(fixture)).await
    }

    /// Runs the bot on `source` until it ends (or the stop signal fires),
    /// then shuts it down (`user.left` for everyone listed). Returns the
    /// report, the chat sink and the bot.
    pub async fn run(mut self, source: &mut impl ChatSource) -> (ReplayReport, C, Bot) {
        for (at_ms, skip) in source.upfront_skips() {
            self.skipped(at_ms, skip);
        }
        let mut end = source.end_ms().unwrap_or(i64::MAX);
        let mut next_outbound = OUTBOUND_PERIOD_MS;
        let mut next_status = STATUS_PERIOD_MS;
        let mut next_count = USER_COUNT_PERIOD_MS;
        let link = self.link;
        let mut in_flight: Option<Poll<'l>> = None;

        loop {
            self.publish_metrics();
            if self.stop.fired_now() {
                end = self.timeline.now().min(end);
                break;
            }
            let tick = next_outbound.min(next_status).min(next_count);
            let deadline = tick.min(end);

            // Take the next event due by the deadline, unless the poll in
            // flight answers or the stop signal fires first.
            let wake = match in_flight.as_mut() {
                Some(poll) if self.timeline.is_instant() => Wake::Reply((&mut poll.reply).await),
                Some(poll) => tokio::select! {
                    biased;
                    reply = &mut poll.reply => Wake::Reply(reply),
                    () = self.stop.wait() => Wake::Stopped,
                    item = source.next_until(&mut self.timeline, deadline) => Wake::Source(item),
                },
                None => tokio::select! {
                    biased;
                    () = self.stop.wait() => Wake::Stopped,
                    item = source.next_until(&mut self.timeline, deadline) => Wake::Source(item),
                },
            };
            match wake {
                // The loop's first check ends the run.
                Wake::Stopped => continue,
                Wake::Reply(reply) => {
                    if let Some(poll) = in_flight.take() {
                        self.observe_poll(poll.sent_at);
                    }
                    self.on_poll_reply(reply).await;
                    continue;
                }
                Wake::Source(Some(SourceItem::Event(event))) => {
                    let at_ms = self.absolute(event.at_ms);
                    self.on_event(&event, at_ms).await;
                    continue;
                }
                Wake::Source(Some(SourceItem::Skip { at_ms, skip })) => {
                    self.skipped(at_ms, skip);
                    continue;
                }
                Wake::Source(Some(SourceItem::Ended { error })) => {
                    self.report.ended_by = error;
                    end = self.timeline.now().min(end);
                    break;
                }
                Wake::Source(None) if tick > end => break,
                Wake::Source(None) => {}
            }

            let at_ms = self.absolute(tick);
            if tick == next_outbound {
                next_outbound += OUTBOUND_PERIOD_MS;
                if in_flight.is_some() {
                    let reason = "previous poll in flight".to_string();
                    self.trace(tick, TraceEvent::PollSkipped { reason });
                } else {
                    for mark in self.bot.outbound.expire_echoes(at_ms) {
                        self.send(tick, mark).await;
                    }
                    let request = self.bot.outbound.request(at_ms);
                    self.trace_command(tick, &request);
                    match link.before_read(self.config.request_timeout).await {
                        Ok(()) => {
                            let reply = Box::pin(link.request(request, self.config.request_timeout));
                            in_flight = Some(Poll { reply, sent_at: tokio::time::Instant::now() });
                        }
                        Err(error) => {
                            let now = self.timeline.now();
                            self.poll_failed(now, &error);
                        }
                    }
                }
            } else if tick == next_status {
                next_status += STATUS_PERIOD_MS;
                let status = self.bot.status(at_ms, self.bot.state.chat_connected);
                self.send(tick, status).await;
            } else {
                next_count += USER_COUNT_PERIOD_MS;
                if let Some(count) = self.bot.user_count(at_ms) {
                    self.send(tick, count).await;
                }
            }
        }

        // Every request ends: let the last poll answer or time out.
        if let Some(poll) = in_flight.take() {
            let reply = poll.reply.await;
            self.observe_poll(poll.sent_at);
            self.on_poll_reply(reply).await;
        }
        let end_at = self.absolute(end);
        self.trace(end, TraceEvent::Shutdown { listed: self.bot.state.users.len() });
        for command in self.bot.shutdown(end_at) {
            self.send(end, command).await;
        }
        self.report.virtual_ms = end;
        self.report.history_lines = self.bot.history_lines;
        self.report.recovered_lines = self.bot.recovered_lines;
        self.report.outbound = self.bot.outbound.report.clone();
        self.publish_metrics();
        (self.report, self.chat, self.bot)
    }

    fn skipped(&mut self, at_ms: i64, skip: Skip) {
        tracing::warn!(line = skip.line, reason = %skip.reason, "chat event skipped");
        self.trace(at_ms, TraceEvent::Skip { line: skip.line, reason: skip.reason.clone() });
        self.report.skipped.push(skip);
    }

    fn absolute(&self, virtual_ms: i64) -> i64 {
        self.bot.start_unix_ms + virtual_ms
    }

    async fn on_event(&mut self, event: &TimedEvent, at_ms: i64) {
        *self.report.events_by_kind.entry(event.event.kind().to_string()).or_default() += 1;
        self.mirror.on_event(&self.config.metrics, &event.event);
        self.trace(event.at_ms, TraceEvent::Event { line: event.line, event: event.event.kind().to_string() });
        if let crate::cytube::ChatEvent::Userlist(update) = &event.event {
            tracing::info!(users = update.users.len(), virtual_ms = event.at_ms, "userlist received");
        }
        for command in self.bot.handle(&event.event, at_ms) {
            self.send(event.at_ms, command).await;
        }
    }

    /// Sends one command: events and marks fire-and-forget, requests (enqueue)
    /// awaited for their reply.
    async fn send(&mut self, t: i64, command: Command) {
        self.trace_command(t, &command);
        self.report.commands_sent += 1;
        let subject = command.subject();
        *self.report.sent_by_subject.entry(subject.as_str().to_string()).or_default() += 1;
        self.config.metrics.commands_sent.get_or_create(&SubjectLabel::new(subject.as_str())).inc();
        if matches!(command, Command::Request(_)) {
            let sent_at = tokio::time::Instant::now();
            let result = self.link.request(command, self.config.request_timeout).await;
            let latency = &self.config.metrics.request_seconds;
            latency.get_or_create(&SubjectLabel::new(subject.as_str())).observe(sent_at.elapsed().as_secs_f64());
            match result {
                Ok(Reply::Enqueued(reply)) if reply.id.is_some() => {
                    self.report.enqueued += 1;
                    self.trace(t, TraceEvent::Reply { id: reply.id, reply: None });
                }
                Ok(reply) => {
                    let reply = Some(String::from_utf8_lossy(&reply.encode()).into_owned());
                    self.trace(t, TraceEvent::Reply { id: None, reply });
                }
                Err(error) => self.link_failed(t, &error),
            }
        } else if let Err(error) = self.link.send(command).await {
            self.link_failed(t, &error);
        }
    }

    async fn on_poll_reply(&mut self, reply: Result<Reply, LinkError>) {
        let now = self.timeline.now();
        let at_ms = self.absolute(now);
        match reply {
            Ok(Reply::Outbound(rows)) => {
                self.trace(now, TraceEvent::PollReply { ids: rows.iter().map(|r| r.id).collect() });
                let retried = rows.iter().filter(|row| row.retry_count > 0).count();
                self.config.metrics.lines_retried.inc_by(retried as u64);
                let mut chat =
                    TracedChat { inner: &mut self.chat, trace: &self.trace, host: &self.config.host, t: now };
                let marks = self.bot.outbound.on_rows(&rows, &self.bot.state, &mut chat, at_ms);
                for mark in marks {
                    self.send(now, mark).await;
                }
            }
            Ok(other) => {
                self.poll_failed(now, &LinkError::BadReply(BadReply::Unexpected(other)));
            }
            Err(error) => self.poll_failed(now, &error),
        }
    }

    fn poll_failed(&mut self, t: i64, error: &LinkError) {
        self.bot.outbound.on_poll_failed();
        self.config.metrics.polls_failed.inc();
        self.config.metrics.link_failures.inc();
        tracing::warn!(%error, "outbound poll failed");
        *self.report.link_failures.entry(error.to_string()).or_default() += 1;
        self.trace(t, TraceEvent::PollFailed { error: error.to_string() });
    }

    fn link_failed(&mut self, t: i64, error: &LinkError) {
        tracing::warn!(%error, "database link failed");
        self.config.metrics.link_failures.inc();
        *self.report.link_failures.entry(error.to_string()).or_default() += 1;
        self.trace(t, TraceEvent::LinkError { error: error.to_string() });
    }

    fn observe_poll(&self, sent_at: tokio::time::Instant) {
        let subject = crate::contract::Subject::OutboundGet.as_str();
        let latency = self.config.metrics.request_seconds.get_or_create(&SubjectLabel::new(subject));
        latency.observe(sent_at.elapsed().as_secs_f64());
    }

    fn publish_metrics(&mut self) {
        self.mirror.publish(&self.config.metrics, &self.bot, &self.link.vitals());
    }

    fn trace_command(&self, t: i64, command: &Command) {
        let payload = serde_json::from_slice(&command.encode()).unwrap_or_default();
        self.trace(t, TraceEvent::Send { subject: command.subject(), payload });
    }

    fn trace(&self, t: i64, event: TraceEvent) {
        self.trace.record(t, &self.config.host, event);
    }
}

/// Why the loop woke up.
enum Wake {
    Reply(Result<Reply, LinkError>),
    Stopped,
    Source(Option<SourceItem>),
}

/// The early-stop signal: the one place that knows whether it fired.
#[derive(Default)]
struct Stop<'l> {
    /// `None` when there is none, or once it fired (a finished future is never polled again).
    signal: Option<Pin<Box<dyn Future<Output = ()> + 'l>>>,
    fired: bool,
}

impl Stop<'_> {
    /// Whether the signal has fired, polling it once without waiting.
    fn fired_now(&mut self) -> bool {
        if let Some(signal) = self.signal.as_mut() {
            if futures::FutureExt::now_or_never(signal).is_some() {
                self.fire();
            }
        }
        self.fired
    }

    /// Resolves when the signal fires; never when there is none or it already fired.
    async fn wait(&mut self) {
        match self.signal.as_mut() {
            Some(signal) => {
                signal.await;
                self.fire();
            }
            None => std::future::pending().await,
        }
    }

    fn fire(&mut self) {
        self.signal = None;
        self.fired = true;
        tracing::info!("stop requested: shutting the bot down");
    }
}

/// Records every line said into the trace.
struct TracedChat<'a, C: ChatSink> {
    inner: &'a mut C,
    trace: &'a Trace,
    host: &'a str,
    t: i64,
}

impl<C: ChatSink> ChatSink for TracedChat<'_, C> {
    fn say(&mut self, at_ms: i64, text: &str) -> Result<SayOutcome, SayError> {
        let result = self.inner.say(at_ms, text);
        let outcome = match &result {
            Ok(SayOutcome::Said) => "said".to_string(),
            Ok(SayOutcome::Sent) => "sent, awaiting the echo".to_string(),
            Ok(SayOutcome::Held) => "held: the server would throttle it".to_string(),
            Err(error) => error.to_string(),
        };
        self.trace.record(self.t, self.host, TraceEvent::Say { text: text.to_string(), outcome });
        result
    }
}
