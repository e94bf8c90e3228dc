//! Where a channel lives: `http(s)://host[:port]/<path>/<channel>`, and the socket servers
//! its socket config names.
//!
//! Parsed by hand (no `url` crate): a CyTube address is a scheme, an authority and a path,
//! and the only questions asked of it are where to dial, whether to speak TLS, and which
//! channel to join.

use std::fmt;

use super::error::CytubeError;

/// What a valid channel spec looks like, for error messages.
const CHANNEL_SPEC: &str = "expected http://host[:port]/r/<channel> or https://host[:port]/<channel> \
                            (the channel is the last path segment)";

/// A host to dial and whether to speak TLS on it: the part of a URL a [`super::Dialer`]
/// needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https`/`wss`: wrap the dialed stream in TLS.
    pub secure: bool,
    /// Host name or address as written (IPv6 without its brackets).
    pub host: String,
    /// The explicit port, or 443/80 by scheme.
    pub port: u16,
}

impl Endpoint {
    /// Parses `scheme://host[:port]` followed by an optional path, returning the endpoint
    /// and the path (`/` when absent). Accepts http/https and ws/wss.
    fn parse(spec: &str) -> Result<(Endpoint, String), String> {
        let (secure, rest) = if let Some(rest) = strip_scheme(spec, "https").or_else(|| strip_scheme(spec, "wss")) {
            (true, rest)
        } else if let Some(rest) = strip_scheme(spec, "http").or_else(|| strip_scheme(spec, "ws")) {
            (false, rest)
        } else {
            return Err("the scheme must be http:// or https://".into());
        };
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("the URL must not carry credentials (user:password@); \
                        give the login and the channel password in the settings"
                .into());
        }
        let (host, port) = split_port(authority)?;
        if host.is_empty() {
            return Err("the host is missing".into());
        }
        let port = port.unwrap_or(if secure { 443 } else { 80 });
        Ok((Endpoint { secure, host: host.to_string(), port }, path.to_string()))
    }

    /// `host[:port]` for a Host header or a URL: the port only when it is not the scheme's
    /// default (some virtual hosts do not match `Host: name:443`); IPv6 in brackets.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// `spec` without a case-insensitive `scheme://` prefix, when it has one.
fn strip_scheme<'a>(spec: &'a str, scheme: &str) -> Option<&'a str> {
    let head = spec.get(..scheme.len() + 3)?;
    let expected = format!("{scheme}://");
    head.eq_ignore_ascii_case(&expected).then(|| &spec[scheme.len() + 3..])
}

/// Splits `host[:port]` or `[v6][:port]`.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let end = rest.find(']').ok_or("an IPv6 host needs its closing `]`")?;
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(port) => (&rest[..end], Some(port)),
            None if after.is_empty() => (&rest[..end], None),
            None => return Err(format!("unexpected `{after}` after the IPv6 host")),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => Some(port.parse::<u16>().map_err(|_| format!("`{port}` is not a port number (1-65535)"))?),
        None => None,
    };
    if port == Some(0) {
        return Err("port 0 cannot be dialed".into());
    }
    Ok((host, port))
}

/// A CyTube channel address, e.g. `https://cytu.be/r/lounge` or `http://127.0.0.1:8080/testchan`.
///
/// The channel is the last non-empty path segment; everything before it is ignored
/// except the scheme and authority, which locate `/socketconfig/<channel>.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelUrl {
    /// Where the web server (and its socketconfig route) is.
    pub endpoint: Endpoint,
    /// The channel name, as CyTube spells it.
    pub channel: String,
}

impl ChannelUrl {
    /// Parses a channel spec.
    ///
    /// # Errors
    ///
    /// [`CytubeError::InvalidUrl`] saying what a valid spec looks like: a scheme other
    /// than http/https, no channel segment, credentials in the URL, a bad port, or a
    /// channel name CyTube would refuse (`^[\w-]{1,30}$`).
    pub fn parse(spec: &str) -> Result<ChannelUrl, CytubeError> {
        let invalid = |reason: String| CytubeError::InvalidUrl { spec: redact(spec), reason };
        let (endpoint, path) = Endpoint::parse(spec.trim()).map_err(|r| invalid(format!("{r}; {CHANNEL_SPEC}")))?;
        let path = path.split(['?', '#']).next().unwrap_or("");
        let channel = path.rsplit('/').find(|segment| !segment.is_empty()).unwrap_or("");
        if channel.is_empty() {
            return Err(invalid(format!("no channel in the path; {CHANNEL_SPEC}")));
        }
        if !is_valid_channel_name(channel) {
            return Err(invalid(format!(
                "`{channel}` is not a CyTube channel name (1-30 letters, digits, `_` or `-`); {CHANNEL_SPEC}"
            )));
        }
        Ok(ChannelUrl { endpoint, channel: channel.to_string() })
    }

    /// The path of this channel's socket config: `/socketconfig/<channel>.json`.
    pub fn socketconfig_path(&self) -> String {
        format!("/socketconfig/{}.json", self.channel)
    }
}

impl fmt::Display for ChannelUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.endpoint.secure { "https" } else { "http" };
        write!(f, "{scheme}://{}/r/{}", self.endpoint.authority(), self.channel)
    }
}

/// CyTube's rule for channel names (`isValidChannelName`: `^[\w-]{1,30}$`).
fn is_valid_channel_name(name: &str) -> bool {
    (1..=30).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The spec for an error message, with any `user:password@` cut out.
fn redact(spec: &str) -> String {
    let Some(scheme_end) = spec.find("://") else { return spec.to_string() };
    let rest = &spec[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}://<credentials removed>@{}", &spec[..scheme_end], &rest[at + 1..]),
        None => spec.to_string(),
    }
}

/// A socket server from the socket config: where the socket.io endpoint is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketServer {
    /// The server's URL as the socket config gives it, e.g. `https://cytu.be:10443`.
    pub url: String,
    /// The config's `secure` flag: TLS (`wss`).
    pub secure: bool,
}

impl SocketServer {
    /// Where to dial: the URL's host and port, TLS when the URL is https or the server is
    /// marked `secure`.
    pub fn endpoint(&self) -> Result<Endpoint, CytubeError> {
        let (mut endpoint, _) = Endpoint::parse(&self.url).map_err(|reason| CytubeError::BadSocketConfig {
            url: self.url.clone(),
            reason: format!("server url `{}`: {reason}", self.url),
        })?;
        endpoint.secure |= self.secure;
        Ok(endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_is_the_last_path_segment() {
        let url = ChannelUrl::parse("http://127.0.0.1:8080/r/testchan").unwrap();
        assert_eq!(url.endpoint, Endpoint { secure: false, host: "127.0.0.1".into(), port: 8080 });
        assert_eq!(url.channel, "testchan");
        assert_eq!(url.socketconfig_path(), "/socketconfig/testchan.json");
        let url = ChannelUrl::parse("https://cytu.be/r/lounge/").unwrap();
        assert_eq!(url.endpoint, Endpoint { secure: true, host: "cytu.be".into(), port: 443 });
        assert_eq!(url.channel, "lounge");
        assert_eq!(ChannelUrl::parse("HTTP://host/chan?x=1").unwrap().channel, "chan");
        assert_eq!(ChannelUrl::parse("http://[::1]:99/c").unwrap().endpoint.authority(), "[::1]:99");
        assert_eq!(ChannelUrl::parse("https://cytu.be:443/r/c").unwrap().endpoint.authority(), "cytu.be");
        assert_eq!(ChannelUrl::parse("http://cytu.be:8080/r/c").unwrap().to_string(), "http://cytu.be:8080/r/c");
    }

    #[test]
    fn bad_specs_say_what_a_valid_one_looks_like() {
        for spec in ["cytu.be/r/lounge", "ftp://host/c", "http://host", "http://host/", "http://:80/c", "http://h:x/c"]
        {
            let err = ChannelUrl::parse(spec).unwrap_err().to_string();
            assert!(err.contains("expected http://host[:port]/r/<channel>"), "{spec}: {err}");
        }
        let err = ChannelUrl::parse("http://host/bad.name").unwrap_err().to_string();
        assert!(err.contains("not a CyTube channel name"), "{err}");
    }

    #[test]
    fn credentials_in_the_url_are_refused_and_never_echoed() {
        let err = ChannelUrl::parse("https://rosey:hunter2@cytu.be/r/lounge").unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(text.contains("must not carry credentials"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn socket_server_endpoint_follows_scheme_and_secure_flag() {
        let server = SocketServer { url: "https://cytu.be:10443".into(), secure: true };
        assert_eq!(server.endpoint().unwrap(), Endpoint { secure: true, host: "cytu.be".into(), port: 10443 });
        let server = SocketServer { url: "http://127.0.0.1:1337".into(), secure: false };
        assert_eq!(server.endpoint().unwrap().port, 1337);
    }
}
