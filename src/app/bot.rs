//! `rosey bot`: the bot against a chat source, in one of three modes.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use crate::bot::{Bot, InstantTimeline, Protocol, ReplayReport, Runner, RunnerConfig, TokioTimeline};
use crate::chat::{RecordingChat, SaidLine};
use crate::clock::{unix_seconds, SystemClock};
use crate::config::Settings;
use crate::fixture::Fixture;
use crate::link::{BusLink, DbLink, DirectLink, DualLink, Outbox};
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

/// How fast a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Virtual time moves only when the bot is idle: as fast as possible.
    Max,
    /// A multiple of real time (1.0 = as recorded).
    Factor(f64),
}

/// A chat source: `replay:<fixture>[,speed=<x>|max]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatSpec {
    pub fixture: PathBuf,
    pub speed: Speed,
}

impl std::str::FromStr for ChatSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<ChatSpec, String> {
        let rest = spec
            .strip_prefix("replay:")
            .ok_or_else(|| format!("unknown chat source {spec:?}: expected replay:<fixture.jsonl>[,speed=<x>|max]"))?;
        let mut parts = rest.split(',');
        let fixture = PathBuf::from(parts.next().unwrap_or_default());
        if fixture.as_os_str().is_empty() {
            return Err("replay: needs a fixture path".into());
        }
        let mut speed = Speed::Factor(1.0);
        for option in parts {
            speed = match option.strip_prefix("speed=") {
                Some("max") => Speed::Max,
                Some(x) => match x.parse::<f64>() {
                    Ok(factor) if factor > 0.0 && factor.is_finite() => Speed::Factor(factor),
                    _ => return Err(format!("speed must be a positive number or max, got {x:?}")),
                },
                None => return Err(format!("unknown replay option {option:?} (known: speed=<x>|max)")),
            };
        }
        Ok(ChatSpec { fixture, speed })
    }
}

/// Replays the chat source through the bot in `mode`, then shuts the bot down
/// (user.left for everyone listed) and flushes the bus. `stop` ends it early
/// the same way.
pub async fn run_bot(
    settings: &Settings,
    chat: &ChatSpec,
    mode: BotMode,
    stop: impl Future<Output = ()>,
) -> crate::Result<(ReplayReport, Vec<SaidLine>)> {
    let fixture = Fixture::load(&chat.fixture)?;
    tracing::info!(fixture = %chat.fixture.display(), events = fixture.events.len(), ?mode, "bot replaying");
    let open_store = || Store::open(&settings.db_path(), unix_seconds(fixture.header.start_unix_ms));
    match mode {
        BotMode::Direct => {
            let link = DirectLink::new(open_store()?, SystemClock);
            Ok(replay(settings, &fixture, chat.speed, &link, stop).await)
        }
        BotMode::Nats => {
            let transport = NatsTransport::connect(&settings.nats_options("rosey-bot")).await?;
            let link = BusLink::new(transport, outbox_for(settings.protocol()));
            let (mut report, said) = replay(settings, &fixture, chat.speed, &link, stop).await;
            settle(&link, settings.drain_timeout(), &mut report).await;
            Ok((report, said))
        }
        BotMode::Dual => {
            // No server yet is no reason to stop: the store takes the commands
            // until the connection, retried in the background, comes up.
            let transport = NatsTransport::connect_in_background(&settings.nats_options("rosey-bot")).await?;
            let link =
                DualLink::new(BusLink::new(transport, Outbox::None), DirectLink::new(open_store()?, SystemClock));
            let (mut report, said) = replay(settings, &fixture, chat.speed, &link, stop).await;
            settle(link.bus(), settings.drain_timeout(), &mut report).await;
            Ok((report, said))
        }
    }
}

/// The bus link's outbox under `protocol`: the hardened protocol holds
/// commands while no db-service listens; v0.5.0 published them into the void.
pub fn outbox_for(protocol: Protocol) -> Outbox {
    match protocol {
        Protocol::Hardened => Outbox::Hold,
        Protocol::V05 => Outbox::None,
    }
}

async fn replay<L: DbLink>(
    settings: &Settings,
    fixture: &Fixture,
    speed: Speed,
    link: &L,
    stop: impl Future<Output = ()>,
) -> (ReplayReport, Vec<SaidLine>) {
    let header = &fixture.header;
    let bot = Bot::new(&header.channel, &header.bot, header.start_unix_ms, settings.protocol());
    let config = RunnerConfig { request_timeout: settings.request_timeout(), ..RunnerConfig::default() };
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

/// Makes sure the server has every command before the bot exits, waiting
/// for it at most `drain` (it may be gone). What could not be confirmed is
/// logged and added to the report's link failures: the commands published
/// since the last answered request, and any the outbox still holds.
async fn settle<T: Transport>(link: &BusLink<T>, drain: Duration, report: &mut ReplayReport) {
    if link.unconfirmed() > 0 {
        match tokio::time::timeout(drain, link.transport().round_trip()).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_spec_parses_replay_and_speed() {
        assert_eq!(
            "replay:f.jsonl".parse::<ChatSpec>(),
            Ok(ChatSpec { fixture: "f.jsonl".into(), speed: Speed::Factor(1.0) })
        );
        assert_eq!("replay:f.jsonl,speed=max".parse::<ChatSpec>().unwrap().speed, Speed::Max);
        assert_eq!("replay:f.jsonl,speed=4".parse::<ChatSpec>().unwrap().speed, Speed::Factor(4.0));
        for bad in ["f.jsonl", "replay:", "replay:f,speed=0", "replay:f,speed=fast", "replay:f,loop"] {
            assert!(bad.parse::<ChatSpec>().is_err(), "{bad} should not parse");
        }
    }
}
