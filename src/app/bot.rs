//! `rosey bot`: the bot against a chat source, in one of three modes.

use std::future::Future;
use std::path::PathBuf;

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
    /// Bus primary, store fallback when the bus is unavailable.
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
            let result = replay(settings, &fixture, chat.speed, &link, stop).await;
            flush(link.transport()).await;
            Ok(result)
        }
        BotMode::Dual => {
            let transport = NatsTransport::connect(&settings.nats_options("rosey-bot")).await?;
            let link =
                DualLink::new(BusLink::new(transport, Outbox::None), DirectLink::new(open_store()?, SystemClock));
            let result = replay(settings, &fixture, chat.speed, &link, stop).await;
            flush(link.bus().transport()).await;
            Ok(result)
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

/// Makes sure the server has every command before the bot exits.
async fn flush(transport: &impl Transport) {
    if let Err(error) = transport.round_trip().await {
        tracing::warn!(%error, "[NATS] final round trip failed: the last events may be lost");
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
