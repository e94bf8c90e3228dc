//! `rosey bot --chat cytube:...`: the bot in a live channel, in real time.

use std::future::Future;

use crate::bot::{Bot, ReplayReport, Runner, RunnerConfig, TokioTimeline};
use crate::chat::SaidLine;
use crate::config::Settings;
use crate::cytube::client::{ChannelUrl, Login, Secret, Session, SessionConfig, TcpDialer};
use crate::link::DbLink;
use crate::live::LiveChannel;
use crate::trace::Trace;

/// The session settings for the bot's own connection: joined, then logged in
/// as `cytube_user` (a registered account with `cytube_password`, else a guest).
///
/// # Errors
///
/// Without `cytube_user`: a bot must log in to chat.
pub fn bot_session_config(settings: &Settings, channel: &ChannelUrl, seed: u64) -> crate::Result<SessionConfig> {
    let name = settings.cytube_user.clone().ok_or(
        "the bot needs a CyTube name to log in with: set cytube_user (with cytube_password for a registered \
         account, or alone to join as a guest)",
    )?;
    let login = Login { name, password: settings.cytube_password.clone().map(Secret::new) };
    let mut config = SessionConfig::new(channel.clone(), Some(login));
    config.channel_password = settings.cytube_channel_password.clone().map(Secret::new);
    config.seed = seed;
    Ok(config)
}

/// Runs the bot in the channel `config` names until `stop` (or a fatal
/// session error), then its usual shutdown, then leaves the channel.
pub(super) async fn run_live<L: DbLink>(
    settings: &Settings,
    config: &SessionConfig,
    start_unix_ms: i64,
    runner_config: RunnerConfig,
    link: &L,
    stop: impl Future<Output = ()>,
) -> crate::Result<(ReplayReport, Vec<SaidLine>)> {
    let config = config.clone();
    let channel = config.channel.clone();
    let bot_name = config.login.as_ref().map(|login| login.name.clone()).unwrap_or_default();
    tracing::info!(%channel, bot = %bot_name, "bot joining the channel");
    let (mut source, sink) = LiveChannel::new(Session::new(TcpDialer, config));
    let bot = Bot::new(&channel.channel, &bot_name, start_unix_ms, settings.protocol());
    let runner = Runner::new(bot, link, sink, TokioTimeline::new(1.0), Trace::new(false), runner_config);
    let (report, sink, _bot) = runner.with_stop(stop).run(&mut source).await;
    source.close().await;
    Ok((report, sink.sent()))
}
