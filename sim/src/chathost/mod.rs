//! `chat = "cytube"`: the chat connection as a host of the turmoil world.
//!
//! The `chat` host runs the fake CyTube server ([`crate::cytube`]) on turmoil
//! TCP; the `users` host replays the fixture's channel as simulated users
//! ([`feeder`]); the bot's real client ([`rosey::cytube::client::Session`])
//! dials it through [`TurmoilDialer`], and [`CytubeSource`] hands the
//! session's events (plus the fixture's operator lines, `rosey:say`) to the
//! unchanged runner. So the chat faults act on real sockets: the server cuts
//! the bot (`chat_disconnect`), restarts (`chat_restart`) or drops its lines
//! (`chat_throttle`), and the bot's reconnects, re-joins, history rule and
//! echo-confirmed said-once are what is tested.
//!
//! # What the bot sees, against the fixture
//!
//! The fake computes what a real server would: its own `usercount`
//! (simulated users plus the bot, debounced 10 s), the bot's rank from its
//! account (moderator), `[server]` join notices, HTML escaping and links, and
//! the echo of the bot's own lines, which the bot stores as chat. Playlist
//! events, permissions and mutes of the fixture are not replayed (the fake
//! has no playlist; a muted simulated user's lines would not be broadcast).
//! The invariants compare what is comparable (see the invariants' `chat` module).

mod dialer;
pub mod feeder;
mod source;

pub use dialer::TurmoilDialer;
pub use source::CytubeSource;

use rosey::chat::SaidLine;
use rosey::cytube::echo::is_echo_of;
use rosey::cytube::ChatEvent;
use rosey::fixture::Fixture;

use crate::cytube::{ChatLine, FakeConfig, FakeCytube};

/// The chat host's name in the turmoil world.
pub const CHAT_HOST: &str = "chat";
/// The fake's web port (socketconfig) and socket.io port.
pub const WEB_PORT: u16 = 8080;
pub const IO_PORT: u16 = 1337;
/// The bot's password on the fake (an account the fake registers, rank 2).
pub const BOT_PASSWORD: &str = "sim-password";
/// The bot's channel rank: a moderator may always chat.
pub const BOT_RANK: i64 = 2;

/// Where the bot's chat goes in a bus run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ChatMode {
    /// The in-process stand-in records what the bot says; events come from the fixture.
    #[default]
    Standin,
    /// A fake CyTube server on its own host, the bot's real client, simulated users.
    Cytube,
}

/// The fake for a fixture: its channel, the bot's account, the host's name in socketconfig.
pub fn fake_for(fixture: &Fixture) -> FakeCytube {
    let header = &fixture.header;
    let config = FakeConfig { channel: header.channel.clone(), public_host: CHAT_HOST.into(), ..FakeConfig::default() }
        .with_account(&header.bot, BOT_PASSWORD, BOT_RANK);
    let fake = FakeCytube::for_turmoil(config);
    fake.seed_history(feeder::history_of(fixture));
    fake
}

/// The texts the fixture enqueues (`rosey:say`, trimmed as the service trims them).
pub fn enqueued_texts(fixture: &Fixture) -> Vec<String> {
    fixture
        .events
        .iter()
        .filter_map(|e| match &e.event {
            ChatEvent::Say { message } => Some(message.trim().to_string()),
            _ => None,
        })
        .collect()
}

/// What the server broadcast from the bot, as the lines the bot was asked to
/// say: each echo matched back to the enqueued text it is (the server escapes
/// and links what it broadcasts). Times are the server's.
pub fn said_by_bot(log: &[ChatLine], bot: &str, enqueued: &[String]) -> Vec<SaidLine> {
    log.iter()
        .filter(|line| line.username == bot)
        .map(|line| {
            let text = enqueued.iter().find(|text| is_echo_of(&line.msg, text)).cloned().unwrap_or(line.msg.clone());
            SaidLine { at_ms: line.time, text }
        })
        .collect()
}
