//! The CyTube client's one error type.
//!
//! A hand-written enum (no thiserror), like [`crate::store::StoreError`]: callers match on
//! the variant or ask [`CytubeError::is_fatal`]; users read the `Display` text, which names
//! the cause and says what to do next (and, for the session's outcomes, whether the bot
//! retries). The I/O or websocket error underneath is the [`std::error::Error::source`].
//! No variant holds a password, so no error can print one.

use std::error::Error;
use std::fmt;
use std::io;
use std::time::Duration;

/// An error from resolving, connecting to or talking with a CyTube server.
#[derive(Debug)]
#[non_exhaustive]
pub enum CytubeError {
    /// The channel spec is not a usable URL; `reason` says what a valid one looks like.
    InvalidUrl {
        /// The spec as given, with any credentials cut out.
        spec: String,
        reason: String,
    },
    /// The TCP connection could not be made.
    Dial { host: String, port: u16, source: io::Error },
    /// The TLS handshake (or loading the system's root certificates) failed.
    Tls { host: String, source: io::Error },
    /// Reading or writing the socket config request failed.
    Http { url: String, source: io::Error },
    /// The web server answered something that is not the HTTP or JSON expected.
    BadSocketConfig { url: String, reason: String },
    /// The socket config request got a status other than 200 or 404.
    HttpStatus { url: String, status: u16, body: String },
    /// The web server redirected the socket config request.
    Redirected { url: String, location: String },
    /// 404 from the socket config: the server says the channel does not exist.
    NoSuchChannel { channel: String, message: String },
    /// The websocket upgrade, or a websocket read or write, failed.
    WebSocket { url: String, source: tokio_websockets::Error },
    /// The server sent something that is not Engine.IO 4 / socket.io 5.
    Protocol { reason: String },
    /// The server refused the namespace connect: `44{"message": ...}`. "Rate limit
    /// exceeded" is CyTube's connect bucket (5 per IP, one more per 10 s).
    ConnectRefused { message: String },
    /// A handshake step (resolve, dial, upgrade, open packet, namespace connect) did not
    /// finish in time.
    HandshakeTimeout { stage: &'static str, after: Duration },
    /// No ping from the server for pingInterval + pingTimeout: the connection is dead.
    PingTimeout { after: Duration },
    /// The socket ended: an engine close, a namespace disconnect, a websocket close or EOF.
    Closed { reason: String },
    /// `kick {reason}` for any reason but a duplicate login.
    Kicked { reason: String },
    /// `kick {reason: "Duplicate login"}`: another login under the bot's name took its place.
    DuplicateLogin { name: String },
    /// `login {success: false, error}`. `retry` is set only for CyTube's guest throttle
    /// (one guest login per IP per 60 s), which passes by itself.
    LoginFailed { name: String, message: String, retry: bool },
    /// `needPassword`: the channel has a password and none, or a wrong one, was given (and
    /// the bot's login did not carry rank 2, which passes the gate).
    ChannelPassword { channel: String, wrong: bool },
    /// `emit` while no connection is up.
    NotConnected,
}

impl CytubeError {
    /// Whether a reconnect cannot help: the session gives up instead of retrying.
    ///
    /// Fatal: a bad URL, a channel that does not exist, a failed login (but the guest
    /// throttle), a channel password missing or wrong, a duplicate-login kick. Everything
    /// else (network, timeouts, refused connects, other kicks, closes) is retried with
    /// backoff.
    pub fn is_fatal(&self) -> bool {
        match self {
            CytubeError::InvalidUrl { .. }
            | CytubeError::NoSuchChannel { .. }
            | CytubeError::ChannelPassword { .. }
            | CytubeError::DuplicateLogin { .. } => true,
            CytubeError::LoginFailed { retry, .. } => !retry,
            _ => false,
        }
    }

    /// The shortest wait before a retry can succeed, beyond the usual backoff: the guest
    /// throttle's 60 s.
    pub(crate) fn min_retry_delay(&self) -> Duration {
        match self {
            CytubeError::LoginFailed { retry: true, .. } => Duration::from_secs(60),
            _ => Duration::ZERO,
        }
    }
}

/// The closing words of a session outcome: whether the bot tries again.
fn retry_note(err: &CytubeError) -> &'static str {
    if err.is_fatal() {
        "the bot will not retry"
    } else {
        "the bot reconnects with backoff"
    }
}

impl fmt::Display for CytubeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CytubeError::InvalidUrl { spec, reason } => write!(f, "invalid channel URL `{spec}`: {reason}"),
            CytubeError::Dial { host, port, .. } => {
                write!(f, "cannot connect to {host}:{port}: check the host, the port and the network")
            }
            CytubeError::Tls { host, .. } => write!(
                f,
                "TLS with {host} failed: check that the server's certificate is valid for that name \
                 and that the system's root certificates are installed"
            ),
            CytubeError::Http { url, .. } => write!(f, "fetching {url} failed while reading or writing"),
            CytubeError::BadSocketConfig { url, reason } => {
                write!(f, "{url} did not answer with a CyTube socket config ({reason}): is this a CyTube server?")
            }
            CytubeError::HttpStatus { url, status, body } => {
                write!(f, "{url} answered HTTP {status}: {body}")
            }
            CytubeError::Redirected { url, location } => {
                write!(f, "{url} redirects to {location}: use the channel URL on that server (http vs https?)")
            }
            CytubeError::NoSuchChannel { channel, message } => write!(
                f,
                "channel `{channel}` not found: the server says \"{message}\"; check the channel name \
                 ({})",
                retry_note(self)
            ),
            CytubeError::WebSocket { url, .. } => write!(f, "websocket {url} failed"),
            CytubeError::Protocol { reason } => {
                write!(f, "the server does not speak Engine.IO 4 / socket.io 5 as expected: {reason}")
            }
            CytubeError::ConnectRefused { message } if message == "Rate limit exceeded" => write!(
                f,
                "the server refused the connection: \"Rate limit exceeded\" (CyTube allows 5 connects \
                 per IP, then one per 10 s; another client on this IP may be connecting too; {})",
                retry_note(self)
            ),
            CytubeError::ConnectRefused { message } => {
                write!(f, "the server refused the connection: \"{message}\" ({})", retry_note(self))
            }
            CytubeError::HandshakeTimeout { stage, after } => {
                write!(f, "no answer during {stage} within {} s ({})", after.as_secs_f64(), retry_note(self))
            }
            CytubeError::PingTimeout { after } => write!(
                f,
                "no ping from the server for {} s: the connection is dead ({})",
                after.as_secs_f64(),
                retry_note(self)
            ),
            CytubeError::Closed { reason } => write!(f, "the connection closed: {reason} ({})", retry_note(self)),
            CytubeError::Kicked { reason } => {
                write!(f, "kicked from the channel: \"{reason}\" ({})", retry_note(self))
            }
            CytubeError::DuplicateLogin { name } => write!(
                f,
                "kicked for a duplicate login: another login as `{name}` took this connection's place; \
                 stop the other bot or client using that account ({})",
                retry_note(self)
            ),
            CytubeError::LoginFailed { name, message, retry: true } => {
                write!(f, "login as guest `{name}` failed: \"{message}\" (the bot retries in a minute)")
            }
            CytubeError::LoginFailed { name, message, .. } => write!(
                f,
                "login as `{name}` failed: \"{message}\"; check the bot's name and password ({})",
                retry_note(self)
            ),
            CytubeError::ChannelPassword { channel, wrong: true } => {
                write!(f, "channel `{channel}` refused the channel password: set the right one ({})", retry_note(self))
            }
            CytubeError::ChannelPassword { channel, wrong: false } => write!(
                f,
                "channel `{channel}` needs a channel password: set one, or give the bot moderator \
                 rank there ({})",
                retry_note(self)
            ),
            CytubeError::NotConnected => {
                f.write_str("not connected to CyTube: the message was not sent (retry after the reconnect)")
            }
        }
    }
}

impl Error for CytubeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CytubeError::Dial { source, .. } | CytubeError::Tls { source, .. } | CytubeError::Http { source, .. } => {
                Some(source)
            }
            CytubeError::WebSocket { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatal_outcomes_say_the_bot_will_not_retry() {
        let fatal = [
            CytubeError::DuplicateLogin { name: "rosey".into() },
            CytubeError::LoginFailed {
                name: "rosey".into(),
                message: "Invalid username/password combination".into(),
                retry: false,
            },
            CytubeError::ChannelPassword { channel: "c".into(), wrong: true },
            CytubeError::NoSuchChannel { channel: "x".into(), message: "Channel \"x\" does not exist.".into() },
        ];
        for err in fatal {
            assert!(err.is_fatal(), "{err}");
            assert!(err.to_string().contains("will not retry"), "{err}");
        }
        let transient = [
            CytubeError::ConnectRefused { message: "Rate limit exceeded".into() },
            CytubeError::PingTimeout { after: Duration::from_secs(145) },
            CytubeError::Kicked { reason: "Too many connections from your IP address".into() },
        ];
        for err in transient {
            assert!(!err.is_fatal(), "{err}");
            assert!(err.to_string().contains("reconnects with backoff"), "{err}");
        }
        let guest = CytubeError::LoginFailed { name: "g".into(), message: "Guest logins ...".into(), retry: true };
        assert!(!guest.is_fatal());
        assert_eq!(guest.min_retry_delay(), Duration::from_secs(60));
    }

    #[test]
    fn duplicate_login_says_another_login_took_its_place() {
        let text = CytubeError::DuplicateLogin { name: "rosey".into() }.to_string();
        assert!(text.contains("another login as `rosey` took this connection's place"), "{text}");
    }
}
