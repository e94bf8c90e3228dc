//! Configuration: a TOML file, then `ROSEY_*` environment variables, then
//! flags; each later source overrides the earlier ones.
//!
//! # Format
//!
//! ```toml
//! nats_url = "nats://127.0.0.1:4222"
//! nats_user = "rosey"            # with nats_password
//! nats_password = "secret"
//! nats_token = "t0ken"           # or a token
//! nats_creds = "/etc/rosey/rosey.creds"   # or a creds file
//! nats_tls = true                # require TLS
//! nats_tls_ca = "/etc/rosey/ca.pem"
//! request_timeout_ms = 2000
//! drain_timeout_ms = 5000       # how long a shutdown waits for the server
//! max_backlog = 100000          # core: events the db-service holds before it drops (counted)
//! metrics_listen = "127.0.0.1:9464"   # serve Prometheus metrics at /metrics (off by default)
//! db = "bot_data.db"             # or "sqlite:PATH", or "postgres://user:pass@host/db"
//! queue_group = "rosey-db"
//! standby_retry_ms = 500         # a standby db-service tries the writer's lease this often
//! step_down_after_ms = 5000      # the applying db-service gives it up after this long without the bus
//! protocol = "hardened"          # or "v0.5"
//! delivery = "core"              # or "jetstream" (bot and db-service alike)
//! stream = "ROSEY_DB"            # JetStream: the stream's name
//! stream_storage = "file"        # or "memory"
//! stream_max_age_s = 604800      # oldest message kept (0: forever)
//! stream_max_bytes = 1073741824  # most bytes kept, oldest dropped first
//! stream_max_msgs = 0            # most messages kept (0: unlimited)
//! stream_replicas = 1            # copies across a nats-server cluster (3 survives a node loss)
//! duplicate_window_s = 300       # how long the server drops a republished id
//! ack_window = 1024              # the bot's unacknowledged publishes at most
//! ack_wait_ms = 5000             # the db-service's redelivery wait
//! cytube_user = "Rosey"          # the bot's CyTube account (guest without a password)
//! cytube_password = "secret"
//! cytube_channel_password = "letmein"   # for a channel with a password
//! ```
//!
//! Every key has the environment variable `ROSEY_<KEY>` (upper case) and the
//! flag `--<key>` with dashes (`--nats-url`, `--request-timeout-ms`, ...).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::bot::Protocol;
use crate::delivery::{Delivery, JetStreamSettings};
use crate::service::DEFAULT_DRAIN_TIMEOUT;
use crate::store::DbLocation;
use crate::transport::{redact_url, NatsOptions, StreamStorage};

/// The keys, all optional, as read from one source.
///
/// `Debug` shows secrets (the URL's password, `nats_password`, `nats_token`)
/// as `***`; `--help` never shows the values of their variables.
#[derive(Clone, Default, PartialEq, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// NATS server URL(s), comma-separated; user:password@ or token@ allowed.
    #[arg(long, env = "ROSEY_NATS_URL", global = true, hide_env_values = true)]
    pub nats_url: Option<String>,
    /// NATS user (with --nats-password).
    #[arg(long, env = "ROSEY_NATS_USER", global = true)]
    pub nats_user: Option<String>,
    /// NATS password.
    #[arg(long, env = "ROSEY_NATS_PASSWORD", global = true, hide_env_values = true, allow_hyphen_values = true)]
    pub nats_password: Option<String>,
    /// NATS auth token.
    #[arg(long, env = "ROSEY_NATS_TOKEN", global = true, hide_env_values = true, allow_hyphen_values = true)]
    pub nats_token: Option<String>,
    /// NATS credentials (.creds) file.
    #[arg(long, env = "ROSEY_NATS_CREDS", global = true)]
    pub nats_creds: Option<PathBuf>,
    /// Require TLS to the NATS server.
    #[arg(long, env = "ROSEY_NATS_TLS", global = true)]
    pub nats_tls: Option<bool>,
    /// CA certificate to trust for the NATS server's TLS.
    #[arg(long, env = "ROSEY_NATS_TLS_CA", global = true)]
    pub nats_tls_ca: Option<PathBuf>,
    /// How long a request waits for its reply, ms (default 2000).
    #[arg(long, env = "ROSEY_REQUEST_TIMEOUT_MS", global = true)]
    pub request_timeout_ms: Option<u64>,
    /// How long a shutdown waits for the NATS server, ms, before it commits
    /// or reports what it has and exits (default 5000).
    #[arg(long, env = "ROSEY_DRAIN_TIMEOUT_MS", global = true)]
    pub drain_timeout_ms: Option<u64>,
    /// Core delivery: the most events the db-service holds waiting to be applied;
    /// past it an arriving event is dropped, counted and logged (default 100000).
    #[arg(long, env = "ROSEY_MAX_BACKLOG", global = true)]
    pub max_backlog: Option<usize>,
    /// Serve Prometheus metrics at http://<addr>/metrics (db-service; off by default).
    #[arg(long, env = "ROSEY_METRICS_LISTEN", global = true)]
    pub metrics_listen: Option<String>,
    /// The database: an SQLite file (default bot_data.db; also `sqlite:PATH`) or a
    /// PostgreSQL server (`postgres://user:pass@host:port/db`; the password is never shown).
    #[arg(long, env = "ROSEY_DB", global = true, hide_env_values = true)]
    pub db: Option<String>,
    /// A standby db-service tries the writer's lease this often, ms (default 500).
    #[arg(long, env = "ROSEY_STANDBY_RETRY_MS", global = true)]
    pub standby_retry_ms: Option<u64>,
    /// The applying db-service gives the writer's lease up after this long without the bus, ms (default 5000).
    #[arg(long, env = "ROSEY_STEP_DOWN_AFTER_MS", global = true)]
    pub step_down_after_ms: Option<u64>,
    /// The db-service's queue group (default rosey-db).
    #[arg(long, env = "ROSEY_QUEUE_GROUP", global = true)]
    pub queue_group: Option<String>,
    /// Outbound protocol: hardened (default) or v0.5.
    #[arg(long, env = "ROSEY_PROTOCOL", global = true)]
    pub protocol: Option<Protocol>,
    /// Delivery: core (default, v0.5.0's at-most-once) or jetstream (stored, exactly once).
    #[arg(long, env = "ROSEY_DELIVERY", global = true)]
    pub delivery: Option<Delivery>,
    /// JetStream: the stream's name (default ROSEY_DB).
    #[arg(long, env = "ROSEY_STREAM", global = true)]
    pub stream: Option<String>,
    /// JetStream: file (default) or memory storage.
    #[arg(long, env = "ROSEY_STREAM_STORAGE", global = true, value_parser = parse_storage)]
    #[serde(default, deserialize_with = "storage_from_toml")]
    pub stream_storage: Option<StreamStorage>,
    /// JetStream: the oldest message kept, seconds (default a week; 0 keeps all).
    #[arg(long, env = "ROSEY_STREAM_MAX_AGE_S", global = true)]
    pub stream_max_age_s: Option<u64>,
    /// JetStream: most bytes kept, oldest dropped first (default 1 GiB; 0 unlimited).
    #[arg(long, env = "ROSEY_STREAM_MAX_BYTES", global = true)]
    pub stream_max_bytes: Option<u64>,
    /// JetStream: most messages kept (default 0, unlimited).
    #[arg(long, env = "ROSEY_STREAM_MAX_MSGS", global = true)]
    pub stream_max_msgs: Option<u64>,
    /// JetStream: the stream's copies across a nats-server cluster (default 1; 3 survives a node loss).
    #[arg(long, env = "ROSEY_STREAM_REPLICAS", global = true)]
    pub stream_replicas: Option<usize>,
    /// JetStream: how long the server drops a republished message id, seconds (default 300).
    #[arg(long, env = "ROSEY_DUPLICATE_WINDOW_S", global = true)]
    pub duplicate_window_s: Option<u64>,
    /// JetStream: the bot's most unacknowledged publishes (default 1024).
    #[arg(long, env = "ROSEY_ACK_WINDOW", global = true)]
    pub ack_window: Option<usize>,
    /// JetStream: how long the db-service's deliveries wait for an ack before redelivery, ms (default 5000).
    #[arg(long, env = "ROSEY_ACK_WAIT_MS", global = true)]
    pub ack_wait_ms: Option<u64>,
    /// The bot's CyTube account (with --cytube-password); without it the bot joins as a guest.
    #[arg(long, env = "ROSEY_CYTUBE_USER", global = true)]
    pub cytube_user: Option<String>,
    /// The CyTube account's password.
    #[arg(long, env = "ROSEY_CYTUBE_PASSWORD", global = true, hide_env_values = true, allow_hyphen_values = true)]
    pub cytube_password: Option<String>,
    /// The CyTube channel's password, when it has one.
    #[arg(
        long,
        env = "ROSEY_CYTUBE_CHANNEL_PASSWORD",
        global = true,
        hide_env_values = true,
        allow_hyphen_values = true
    )]
    pub cytube_channel_password: Option<String>,
}

/// The defaults every unset key falls back to.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
pub const DEFAULT_DB: &str = "bot_data.db";
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = crate::contract::DEFAULT_REQUEST_TIMEOUT.as_millis() as u64;

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = crate::transport::hidden_secret;
        f.debug_struct("Settings")
            .field("nats_url", &self.nats_url.as_deref().map(redact_url))
            .field("nats_user", &self.nats_user)
            .field("nats_password", &hidden(&self.nats_password))
            .field("nats_token", &hidden(&self.nats_token))
            .field("nats_creds", &self.nats_creds)
            .field("nats_tls", &self.nats_tls)
            .field("nats_tls_ca", &self.nats_tls_ca)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("drain_timeout_ms", &self.drain_timeout_ms)
            .field("max_backlog", &self.max_backlog)
            .field("metrics_listen", &self.metrics_listen)
            .field("db", &self.db.as_deref().map(DbLocation::parse))
            .field("queue_group", &self.queue_group)
            .field("protocol", &self.protocol)
            .field("delivery", &self.delivery)
            .field("stream", &self.stream)
            .field("stream_storage", &self.stream_storage)
            .field("stream_replicas", &self.stream_replicas)
            .field("stream_max_age_s", &self.stream_max_age_s)
            .field("stream_max_bytes", &self.stream_max_bytes)
            .field("stream_max_msgs", &self.stream_max_msgs)
            .field("duplicate_window_s", &self.duplicate_window_s)
            .field("ack_window", &self.ack_window)
            .field("ack_wait_ms", &self.ack_wait_ms)
            .field("standby_retry_ms", &self.standby_retry_ms)
            .field("step_down_after_ms", &self.step_down_after_ms)
            .field("cytube_user", &self.cytube_user)
            .field("cytube_password", &hidden(&self.cytube_password))
            .field("cytube_channel_password", &hidden(&self.cytube_channel_password))
            .finish()
    }
}

fn parse_storage(s: &str) -> Result<StreamStorage, String> {
    match s {
        "file" => Ok(StreamStorage::File),
        "memory" => Ok(StreamStorage::Memory),
        other => Err(format!("unknown stream storage {other:?} (expected \"file\" or \"memory\")")),
    }
}

fn storage_from_toml<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<StreamStorage>, D::Error> {
    let text = String::deserialize(d)?;
    parse_storage(&text).map(Some).map_err(serde::de::Error::custom)
}

/// A configuration problem, naming the file and what to fix.
#[derive(Debug)]
pub struct ConfigError(String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Settings {
    /// Reads a TOML file of settings.
    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read the config file {}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| {
            let message = e.message().to_string();
            ConfigError(format!("config file {}: {message}", path.display()))
        })
    }

    /// `self` with every unset key taken from `lower`.
    pub fn over(self, lower: Settings) -> Settings {
        Settings {
            nats_url: self.nats_url.or(lower.nats_url),
            nats_user: self.nats_user.or(lower.nats_user),
            nats_password: self.nats_password.or(lower.nats_password),
            nats_token: self.nats_token.or(lower.nats_token),
            nats_creds: self.nats_creds.or(lower.nats_creds),
            nats_tls: self.nats_tls.or(lower.nats_tls),
            nats_tls_ca: self.nats_tls_ca.or(lower.nats_tls_ca),
            request_timeout_ms: self.request_timeout_ms.or(lower.request_timeout_ms),
            drain_timeout_ms: self.drain_timeout_ms.or(lower.drain_timeout_ms),
            max_backlog: self.max_backlog.or(lower.max_backlog),
            metrics_listen: self.metrics_listen.or(lower.metrics_listen),
            db: self.db.or(lower.db),
            queue_group: self.queue_group.or(lower.queue_group),
            protocol: self.protocol.or(lower.protocol),
            delivery: self.delivery.or(lower.delivery),
            stream: self.stream.or(lower.stream),
            stream_storage: self.stream_storage.or(lower.stream_storage),
            stream_replicas: self.stream_replicas.or(lower.stream_replicas),
            stream_max_age_s: self.stream_max_age_s.or(lower.stream_max_age_s),
            stream_max_bytes: self.stream_max_bytes.or(lower.stream_max_bytes),
            stream_max_msgs: self.stream_max_msgs.or(lower.stream_max_msgs),
            duplicate_window_s: self.duplicate_window_s.or(lower.duplicate_window_s),
            ack_window: self.ack_window.or(lower.ack_window),
            ack_wait_ms: self.ack_wait_ms.or(lower.ack_wait_ms),
            standby_retry_ms: self.standby_retry_ms.or(lower.standby_retry_ms),
            step_down_after_ms: self.step_down_after_ms.or(lower.step_down_after_ms),
            cytube_user: self.cytube_user.or(lower.cytube_user),
            cytube_password: self.cytube_password.or(lower.cytube_password),
            cytube_channel_password: self.cytube_channel_password.or(lower.cytube_channel_password),
        }
    }

    pub fn nats_options(&self, name: &str) -> NatsOptions {
        NatsOptions {
            url: self.nats_url.clone().unwrap_or_else(|| DEFAULT_NATS_URL.to_string()),
            name: name.to_string(),
            user: self.nats_user.clone(),
            password: self.nats_password.clone(),
            token: self.nats_token.clone(),
            creds_file: self.nats_creds.clone(),
            tls: self.nats_tls.unwrap_or(false),
            tls_ca: self.nats_tls_ca.clone(),
            metrics: crate::metrics::BusMetrics::default(),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.unwrap_or(DEFAULT_REQUEST_TIMEOUT_MS))
    }

    /// How standby db-services wait and when the applying one gives up.
    pub fn leadership(&self) -> crate::service::Leadership {
        let default = crate::service::Leadership::default();
        crate::service::Leadership {
            retry_every: self.standby_retry_ms.map_or(default.retry_every, |ms| Duration::from_millis(ms.max(1))),
            step_down_after: self
                .step_down_after_ms
                .map_or(default.step_down_after, |ms| Duration::from_millis(ms.max(1))),
        }
    }

    /// How long a shutdown waits for the server (the db-service's drain, the
    /// bot's last round trip).
    pub fn drain_timeout(&self) -> Duration {
        self.drain_timeout_ms.map_or(DEFAULT_DRAIN_TIMEOUT, Duration::from_millis)
    }

    pub fn max_backlog(&self) -> usize {
        self.max_backlog.unwrap_or(crate::service::DEFAULT_MAX_BACKLOG).max(1)
    }

    /// The database the `db` setting names (default: the SQLite file bot_data.db).
    pub fn db_location(&self) -> DbLocation {
        DbLocation::parse(self.db.as_deref().unwrap_or(DEFAULT_DB))
    }

    /// The SQLite file, for the commands that read one directly (`web`, `token`).
    ///
    /// # Errors
    /// When `db` names a PostgreSQL server, saying which command cannot use it.
    pub fn sqlite_db_path(&self, command: &str) -> crate::Result<PathBuf> {
        match self.db_location() {
            DbLocation::Sqlite(path) => Ok(path),
            DbLocation::Postgres(url) => Err(format!(
                "`rosey {command}` reads an SQLite file, but db names the PostgreSQL database {url}: \
                 run it with --db pointing at an SQLite file (`rosey migrate` copies one from PostgreSQL)"
            )
            .into()),
        }
    }

    pub fn protocol(&self) -> Protocol {
        self.protocol.unwrap_or_default()
    }

    pub fn delivery(&self) -> Delivery {
        self.delivery.unwrap_or_default()
    }

    /// The stream, consumer and ack window, from the defaults and what is set.
    pub fn jetstream(&self) -> JetStreamSettings {
        let mut settings = JetStreamSettings::default();
        let limit = |n: u64| (n > 0).then_some(n);
        if let Some(name) = &self.stream {
            settings.stream.name = name.clone();
        }
        if let Some(storage) = self.stream_storage {
            settings.stream.storage = storage;
        }
        if let Some(age) = self.stream_max_age_s {
            settings.stream.max_age = Duration::from_secs(age);
        }
        if let Some(bytes) = self.stream_max_bytes {
            settings.stream.max_bytes = limit(bytes);
        }
        if let Some(msgs) = self.stream_max_msgs {
            settings.stream.max_messages = limit(msgs);
        }
        if let Some(replicas) = self.stream_replicas {
            settings.stream.replicas = replicas.max(1);
        }
        if let Some(window) = self.duplicate_window_s {
            settings.stream.duplicate_window = Duration::from_secs(window);
        }
        if let Some(window) = self.ack_window {
            settings.ack_window = window.max(1);
        }
        if let Some(wait) = self.ack_wait_ms {
            settings.consumer.ack_wait = Duration::from_millis(wait.max(1));
        }
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_sources_override_earlier_ones() {
        let file = Settings { nats_url: Some("nats://file".into()), db: Some("file.db".into()), ..Settings::default() };
        let flags = Settings { nats_url: Some("nats://flag".into()), ..Settings::default() };
        let merged = flags.over(file);
        assert_eq!(merged.nats_options("t").url, "nats://flag");
        assert_eq!(merged.db_location(), DbLocation::Sqlite(PathBuf::from("file.db")));
        assert_eq!(merged.request_timeout(), Duration::from_secs(2));
        assert_eq!(merged.drain_timeout(), Duration::from_secs(5));
    }

    #[test]
    fn file_reads_keys_and_rejects_unknown_ones() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.toml");
        std::fs::write(
            &good,
            "nats_url = \"nats://x:1\"\nprotocol = \"v0.5\"\nrequest_timeout_ms = 500\ndrain_timeout_ms = 250\nmax_backlog = 7\n",
        )
        .unwrap();
        let settings = Settings::from_file(&good).unwrap();
        assert_eq!(settings.protocol(), Protocol::V05);
        assert_eq!(settings.request_timeout(), Duration::from_millis(500));
        assert_eq!(settings.drain_timeout(), Duration::from_millis(250));
        assert_eq!(settings.max_backlog(), 7);
        assert_eq!(Settings::default().max_backlog(), crate::service::DEFAULT_MAX_BACKLOG);
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "nats_ulr = \"typo\"\n").unwrap();
        let err = Settings::from_file(&bad).unwrap_err().to_string();
        assert!(err.contains("bad.toml") && err.contains("nats_ulr"), "{err}");
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let settings = Settings {
            nats_url: Some("nats://bob:urlsecret@host:4222".into()),
            nats_password: Some("pwsecret".into()),
            nats_token: Some("toksecret".into()),
            cytube_password: Some("cysecret".into()),
            cytube_channel_password: Some("chansecret".into()),
            ..Settings::default()
        };
        for shown in [format!("{settings:?}"), format!("{:?}", settings.nats_options("t"))] {
            assert!(!shown.contains("secret"), "{shown}");
            assert!(shown.contains("nats://bob:***@host:4222"), "{shown}");
        }
    }
}
