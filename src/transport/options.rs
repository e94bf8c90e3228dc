//! [`NatsOptions`]: how to reach nats-server, as the settings resolve it.
//! Plain data, so configuration builds without the async-nats client.

use std::fmt;
use std::path::PathBuf;

use super::url;

/// How to reach and authenticate to nats-server.
///
/// `Debug` shows every secret (a password in `url`, `password`, `token`) as `***`.
#[derive(Clone, Default)]
pub struct NatsOptions {
    /// `nats://host:port` (several comma-separated URLs allowed; a
    /// `user:password@` or `token@` in them is used, and never shown).
    pub url: String,
    /// The connection name shown by the server's monitoring.
    pub name: String,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
    /// A `.creds` file (JWT + nkey seed).
    pub creds_file: Option<PathBuf>,
    /// Require TLS.
    pub tls: bool,
    /// A CA certificate to trust, for a server with a private CA.
    pub tls_ca: Option<PathBuf>,
    /// Where the connection's state and reconnects are counted.
    pub metrics: crate::metrics::BusMetrics,
}

impl fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = url::hidden;
        f.debug_struct("NatsOptions")
            .field("url", &url::redact(&self.url))
            .field("name", &self.name)
            .field("user", &self.user)
            .field("password", &hidden(&self.password))
            .field("token", &hidden(&self.token))
            .field("creds_file", &self.creds_file)
            .field("tls", &self.tls)
            .field("tls_ca", &self.tls_ca)
            .finish()
    }
}
