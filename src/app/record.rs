//! `rosey record`: a live channel, written down as a fixture.
//!
//! The recorder joins anonymously (an anonymous socket receives the same
//! channel events) unless it is given an account of its own; it never logs in
//! as the bot, which would kick a running bot. Each line is written and
//! flushed as it arrives, so a killed recorder leaves a valid fixture up to
//! its last whole line. Each new connection is a `rosey:connect` line and each
//! lost one a `rosey:disconnect`, so a replay applies the live bot's history
//! rule. On a clean stop the header's `end_ms` is filled in, so the replay
//! shuts the bot down when the recording stopped.

use std::fs::File;
use std::future::Future;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::cytube::client::{ChannelUrl, Login, Secret, Session, SessionConfig, SessionEvent, TcpDialer};
use crate::fixture::TAIL_MS;

/// The `rosey record` flags.
#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    /// The channel: cytube:<http(s)://host[:port]>/<channel>.
    #[arg(long, value_parser = parse_channel)]
    pub chat: ChannelUrl,
    /// The fixture to write (must not exist yet).
    #[arg(long)]
    pub out: PathBuf,
    /// Stop after this long (30s, 10m, 1h); default: until SIGINT/SIGTERM.
    #[arg(long, value_parser = crate::app::parse_duration)]
    pub duration: Option<Duration>,
    /// Log in with an account of the recorder's own (never the bot's: that would kick it).
    #[arg(long)]
    pub login: Option<String>,
    /// That account's password.
    #[arg(long, env = "ROSEY_RECORD_PASSWORD", hide_env_values = true, allow_hyphen_values = true)]
    pub password: Option<String>,
    /// The header's `bot`: the user a replay treats as the bot (default: cytube_user).
    #[arg(long)]
    pub bot: Option<String>,
}

fn parse_channel(spec: &str) -> Result<ChannelUrl, String> {
    let url = spec.strip_prefix("cytube:").ok_or_else(|| {
        format!("expected cytube:<http(s)://host[:port]>/<channel>, got {:?}", crate::transport::redact_url(spec))
    })?;
    ChannelUrl::parse(url).map_err(|e| e.to_string())
}

/// What a recording wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecordReport {
    /// Event lines written (connect and disconnect lines included).
    pub lines: u64,
    pub connections: u64,
    /// The recording's length, ms.
    pub duration_ms: i64,
}

/// Where `end_ms`'s digits go in the header, padded with spaces so the
/// final value can be written over them in place.
const END_MS_WIDTH: usize = 15;

/// Records `args.chat` into `args.out` until the duration passes or `stop`.
///
/// # Errors
///
/// When the file exists or cannot be written, or the session fails for good
/// (the lines written so far stay a valid fixture).
pub async fn record(
    settings: &Settings,
    args: &RecordArgs,
    stop: impl Future<Output = ()>,
) -> crate::Result<RecordReport> {
    if settings.cytube_user.is_some() && args.login == settings.cytube_user {
        return Err("rosey record must not log in as the bot's cytube_user (the server would kick the bot): \
                    record anonymously or with an account of its own"
            .into());
    }
    let bot = args.bot.clone().or_else(|| settings.cytube_user.clone()).unwrap_or_default();
    let login = args.login.clone().map(|name| Login { name, password: args.password.clone().map(Secret::new) });
    let mut config = SessionConfig::new(args.chat.clone(), login);
    config.channel_password = settings.cytube_channel_password.clone().map(Secret::new);
    let start_unix_ms = SystemClock.now_ms();
    config.seed = start_unix_ms as u64;
    let mut out = Recording::create(&args.out, &args.chat.channel, &bot, start_unix_ms)?;
    tracing::info!(channel = %args.chat, out = %args.out.display(), "recording");

    let mut session = Session::new(TcpDialer, config);
    let started = tokio::time::Instant::now();
    let deadline = args.duration.map(|d| started + d);
    let mut stop = std::pin::pin!(stop);
    let mut report = RecordReport::default();
    let outcome = loop {
        let event = tokio::select! {
            biased;
            () = &mut stop => break Ok(()),
            () = sleep_until(deadline) => break Ok(()),
            event = session.next() => event,
        };
        let at_ms = started.elapsed().as_millis() as i64;
        let line = match event {
            None => break Ok(()),
            Some(SessionEvent::Connected { .. }) => {
                report.connections += 1;
                ("rosey:connect".to_string(), json!({}))
            }
            Some(SessionEvent::Event { name, data }) => (name, data),
            Some(SessionEvent::Disconnected { reason, .. }) => {
                tracing::warn!(%reason, "[CyTube] disconnected; reconnecting");
                ("rosey:disconnect".to_string(), json!({}))
            }
            Some(SessionEvent::ConnectFailed { error, .. }) => {
                tracing::warn!(%error, "[CyTube] connect failed");
                continue;
            }
            Some(SessionEvent::Fatal(error)) => break Err(error.to_string()),
        };
        out.write_event(at_ms, &line.0, &line.1)?;
        report.lines += 1;
    };
    session.close().await;
    report.duration_ms = started.elapsed().as_millis() as i64;
    out.finish(report.duration_ms)?;
    outcome.map(|()| report).map_err(Into::into)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => crate::timers::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The fixture file being written.
struct Recording {
    file: File,
    path: PathBuf,
    /// Where `end_ms`'s padded digits start.
    end_ms_at: u64,
}

impl Recording {
    fn create(path: &Path, channel: &str, bot: &str, start_unix_ms: i64) -> crate::Result<Recording> {
        let file = File::options().write(true).create_new(true).open(path).map_err(|e| {
            format!("cannot create {}: {e} (a recording never overwrites a file: choose a new path)", path.display())
        })?;
        let mut recording = Recording { file, path: path.to_path_buf(), end_ms_at: 0 };
        let head = format!(
            "{{\"rosey_fixture\": 1, \"channel\": {}, \"bot\": {}, \"start_unix_ms\": {start_unix_ms}, \"end_ms\": ",
            Value::from(channel),
            Value::from(bot)
        );
        recording.end_ms_at = head.len() as u64;
        recording.write_line(&format!("{head}{:<END_MS_WIDTH$}}}", 0))?;
        Ok(recording)
    }

    fn write_event(&mut self, at_ms: i64, event: &str, data: &Value) -> crate::Result<()> {
        self.write_line(&format!("{{\"at_ms\": {at_ms}, \"event\": {}, \"data\": {data}}}", Value::from(event)))
    }

    /// One whole line per write, flushed at once.
    fn write_line(&mut self, line: &str) -> crate::Result<()> {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.flush())
            .map_err(|e| format!("cannot write to {}: {e}", self.path.display()).into())
    }

    /// Fills in `end_ms`: the replay's end (its last event plus the tail)
    /// then falls where the recording stopped.
    fn finish(&mut self, duration_ms: i64) -> crate::Result<()> {
        let end_ms = (duration_ms - TAIL_MS).max(0);
        let result = self
            .file
            .seek(SeekFrom::Start(self.end_ms_at))
            .and_then(|_| self.file.write_all(format!("{end_ms:<END_MS_WIDTH$}").as_bytes()))
            .and_then(|()| self.file.flush());
        result.map_err(|e| format!("cannot finish {}: {e}", self.path.display()).into())
    }
}
