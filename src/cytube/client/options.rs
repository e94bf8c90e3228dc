//! What a [`super::Session`] is told: the channel, who to log in as, the channel password,
//! the backoff and its seed.

use std::fmt;

use super::backoff::BackoffConfig;
use super::connection::ConnectOptions;
use super::url::ChannelUrl;

/// A password: never shown by `Debug` or `Display`, and never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, for the one frame that carries it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Secret {
        Secret(secret)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Who the bot logs in as after joining.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The account or guest name.
    pub name: String,
    /// A registered account's password; `None` logs in as a guest with `name`.
    pub password: Option<Secret>,
}

/// Everything a session needs.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The channel to join.
    pub channel: ChannelUrl,
    /// `None` stays anonymous (join only: can watch, cannot chat); `rosey record` may do this.
    pub login: Option<Login>,
    /// Sent as `joinChannel {pw}` when set.
    pub channel_password: Option<Secret>,
    /// The reconnect delays.
    pub backoff: BackoffConfig,
    /// Per-connection settings (handshake timeout, liveness override).
    pub connect: ConnectOptions,
    /// Seeds the backoff's jitter, so a run replays exactly.
    pub seed: u64,
}

impl SessionConfig {
    /// A config with the default backoff and connection settings.
    pub fn new(channel: ChannelUrl, login: Option<Login>) -> SessionConfig {
        SessionConfig {
            channel,
            login,
            channel_password: None,
            backoff: BackoffConfig::default(),
            connect: ConnectOptions::default(),
            seed: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let mut config = SessionConfig::new(
            ChannelUrl::parse("http://127.0.0.1:8080/r/testchan").unwrap(),
            Some(Login { name: "rosey".into(), password: Some(Secret::new("hunter2")) }),
        );
        config.channel_password = Some("swordfish".to_string().into());
        let shown = format!("{config:?} {}", config.channel_password.as_ref().unwrap());
        assert!(!shown.contains("hunter2") && !shown.contains("swordfish"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
