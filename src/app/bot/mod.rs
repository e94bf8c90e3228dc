//! `rosey bot`: the bot against a chat source (a fixture, or a live CyTube
//! channel), in one of three modes.

mod chat_spec;
mod live;

use std::future::Future;
use std::time::Duration;

pub use chat_spec::{ChatSpec, Speed};
pub use live::bot_session_config;

use super::protocol::outbox_for;
use crate::bot::{Bot, InstantTimeline, ReplayReport, Runner, RunnerConfig, TokioTimeline};
use crate::chat::{RecordingChat, SaidLine};
use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::config::Settings;
use crate::cytube::client::SessionConfig;
use crate::delivery::Delivery;
use crate::fixture::Fixture;
use crate::link::{BusLink, DbLink, DirectLink, DualLink, Outbox};
use crate::metrics::{BotMetrics, BusMetrics};
use crate::store::Store;
use crate::trace::Trace;
use crate::transport::{NatsTransport, Transport};

/// Where the bot's database commands go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BotMode {
    /// Bus only (`[NATS]`).
    Nats,
    /// Store only, no bus (`[DB]`).
    Direct,
    /// Bus primary, store fallback when the bus is unavailable (also at
    /// start: the connection is retried in the background).
    Dual,
}

/// Runs the bot on its chat source in `mode`: a fixture replays to its end, a
/// live channel runs until `stop`; then the bot shuts down (user.left for
/// everyone listed) and the bus is drained. `stop` ends a replay early the
/// same way. A live session that fails for good (a refused login, a
/// duplicate login) also ends the run: the report's `ended_by` says why.
pub async fn run_bot(
    settings: &Settings,
    chat: &ChatSpec,
    mode: BotMode,
    stop: impl Future<Output = ()>,
) -> crate::Result<(ReplayReport, Vec<SaidLine>)> {
    let source = match chat {
        ChatSpec::Replay { fixture, speed } => {
            let loaded = Fixture::load(fixture)?;
            tracing::info!(fixture = %fixture.display(), events = loaded.events.len(), ?mode, "bot replaying");
            Source::Replay(loaded, *speed)
        }
        ChatSpec::Cytube(channel) => {
            // Checked before anything connects; the start seeds the reconnect
            // jitter (any value will do live; the simulator passes its own).
            let start = SystemClock.now_ms();
            Source::Live(live::bot_session_config(settings, channel, start as u64)?, start)
        }
    };
    let start_unix_ms = source.start_unix_ms();
    let open_store = || Store::connect(&settings.db_location(), unix_seconds(start_unix_ms));
    let (metrics, bus_metrics) = start_metrics(settings).await?;
    let nats_options = crate::transport::NatsOptions { metrics: bus_metrics, ..settings.nats_options("rosey-bot") };
    let runner_config =
        RunnerConfig { request_timeout: settings.request_timeout(), metrics, ..RunnerConfig::default() };
    let source = Opened { source, runner_config };
    match mode {
        BotMode::Direct => {
            let link = DirectLink::new(open_store()?, SystemClock);
            source.run(settings, &link, stop).await
        }
        BotMode::Nats => {
            let transport = NatsTransport::connect(&nats_options).await?;
            let link = match settings.delivery() {
                Delivery::Core => BusLink::new(transport, outbox_for(settings.protocol())),
                Delivery::Jetstream => jetstream_link(settings, transport).await?,
            };
            let (mut report, said) = source.run(settings, &link, stop).await?;
            settle(&link, settings.drain_timeout(), &mut report).await;
            Ok((report, said))
        }
        BotMode::Dual if settings.delivery() == Delivery::Jetstream => {
            Err("dual mode falls back to the store when the bus is down, which is core delivery: \
             use `--mode nats --delivery jetstream` for JetStream"
                .into())
        }
        BotMode::Dual => {
            // No server yet is no reason to stop: the store takes the commands
            // until the connection, retried in the background, comes up.
            let transport = NatsTransport::connect_in_background(&nats_options).await?;
            let link =
                DualLink::new(BusLink::new(transport, Outbox::None), DirectLink::new(open_store()?, SystemClock));
            let (mut report, said) = source.run(settings, &link, stop).await?;
            settle(link.bus(), settings.drain_timeout(), &mut report).await;
            Ok((report, said))
        }
    }
}

/// With `metrics_listen`: the bot's and its bus connection's metrics,
/// registered and served there. Without it, handles nobody reads.
async fn start_metrics(settings: &Settings) -> crate::Result<(BotMetrics, BusMetrics)> {
    let Some(listen) = &settings.metrics_listen else {
        return Ok((BotMetrics::default(), BusMetrics::default()));
    };
    let mut registry = prometheus_client::registry::Registry::default();
    let metrics = (BotMetrics::register(&mut registry), BusMetrics::register(&mut registry));
    super::start_metrics_server(listen, registry).await?;
    Ok(metrics)
}

/// The chat source with the runner settings it runs under.
struct Opened {
    source: Source,
    runner_config: RunnerConfig,
}

impl Opened {
    async fn run<L: DbLink>(
        &self,
        settings: &Settings,
        link: &L,
        stop: impl Future<Output = ()>,
    ) -> crate::Result<(ReplayReport, Vec<SaidLine>)> {
        let config = self.runner_config.clone();
        match &self.source {
            Source::Replay(fixture, speed) => Ok(replay(settings, fixture, *speed, config, link, stop).await),
            Source::Live(session, start) => live::run_live(settings, session, *start, config, link, stop).await,
        }
    }
}

/// The chat source, opened.
enum Source {
    Replay(Fixture, Speed),
    /// The bot's session with the channel, and the Unix ms the bot started at.
    Live(SessionConfig, i64),
}

impl Source {
    fn start_unix_ms(&self) -> i64 {
        match self {
            Source::Replay(fixture, _) => fixture.header.start_unix_ms,
            Source::Live(_, start) => *start,
        }
    }
}

async fn replay<L: DbLink>(
    settings: &Settings,
    fixture: &Fixture,
    speed: Speed,
    config: RunnerConfig,
    link: &L,
    stop: impl Future<Output = ()>,
) -> (ReplayReport, Vec<SaidLine>) {
    let header = &fixture.header;
    let bot = Bot::new(&header.channel, &header.bot, header.start_unix_ms, settings.protocol());
    let chat = RecordingChat::default();
    let (report, chat) = match speed {
        Speed::Max => {
            let runner = Runner::new(bot, link, chat, InstantTimeline::default(), Trace::new(false), config);
            let (report, chat, _) = runner.with_stop(stop).replay(fixture).await;
            (report, chat)
        }
        Speed::Factor(factor) => {
            let runner = Runner::new(bot, link, chat, TokioTimeline::new(factor), Trace::new(false), config);
            let (report, chat, _) = runner.with_stop(stop).replay(fixture).await;
            (report, chat)
        }
    };
    (report, chat.said)
}

/// The JetStream link: the stream is made sure of first (the bot may start
/// before any db-service), so the bot fails at once on a server without
/// JetStream. Message ids are `<instance>-<n>`, the instance a fresh nuid.
pub(crate) async fn jetstream_link(
    settings: &Settings,
    transport: NatsTransport,
) -> crate::Result<BusLink<NatsTransport>> {
    let jetstream = settings.jetstream();
    let state = transport.ensure_stream(&jetstream.stream).await?;
    let inbox = transport.client().new_inbox();
    let instance = format!("bot-{}", inbox.rsplit('.').next().unwrap_or(&inbox));
    tracing::info!(
        stream = %jetstream.stream.name,
        last_seq = state.last_seq,
        %instance,
        ack_window = jetstream.ack_window,
        "[NATS] bot publishing into the stream"
    );
    Ok(BusLink::jetstream(transport, instance, jetstream.ack_window))
}

/// Makes sure the server has every command before the bot exits, waiting
/// for it at most `drain` (it may be gone). What could not be confirmed is
/// logged and added to the report's link failures: the commands published
/// since the last answered request, and any the outbox still holds.
async fn settle<T: Transport>(link: &BusLink<T>, drain: Duration, report: &mut ReplayReport) {
    if let Some(before) = link.stream_stats() {
        if let Err(error) = link.settle(drain).await {
            tracing::warn!(%error, unacked = before.unacked, "[NATS] the server did not acknowledge everything in time");
        }
        let stats = link.stream_stats().unwrap_or(before);
        tracing::info!(
            acked = stats.acked,
            duplicates = stats.duplicates,
            republished = stats.republished,
            peak_unacked = stats.peak_unacked,
            unacked = stats.unacked,
            "[NATS] JetStream delivery"
        );
        if stats.unacked > 0 {
            let what = "published, but not acknowledged by the stream before exit";
            *report.link_failures.entry(format!("commands {what}")).or_default() += stats.unacked as u64;
        }
        report.jetstream = Some(stats);
        // Enqueues are requests, outside the stream: held while no db-service answered.
        let held = link.outbox_stats().held as u64;
        if held > 0 {
            let what = "held in the outbox (no db-service answered), never sent";
            tracing::warn!(count = held, "[NATS] commands {what}");
            *report.link_failures.entry(format!("commands {what}")).or_default() += held;
        }
        return;
    }
    if link.unconfirmed() > 0 {
        match crate::timers::timeout(drain, link.transport().round_trip()).await {
            Ok(Ok(())) => link.confirmed(),
            Ok(Err(error)) => tracing::warn!(%error, "[NATS] final round trip failed"),
            Err(_) => tracing::warn!(?drain, "[NATS] the server did not answer the final round trip in time"),
        }
    }
    let undelivered = [
        (link.unconfirmed(), "sent, but not confirmed by the server before exit"),
        (link.outbox_stats().held as u64, "held in the outbox (no db-service answered), never sent"),
    ];
    for (count, what) in undelivered.into_iter().filter(|(count, _)| *count > 0) {
        tracing::warn!(count, "[NATS] commands {what}");
        *report.link_failures.entry(format!("commands {what}")).or_default() += count;
    }
}
