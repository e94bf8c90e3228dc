//! Finding the socket: `GET <base>/socketconfig/<channel>.json`.
//!
//! CyTube answers any valid channel name (registered or not) with `{"servers": [{"url",
//! "secure"}, ...]}`, and an invalid one with 404 `{"error": "Channel \"x\" does not
//! exist."}` (`src/web/routes/socketconfig.js`). The client picks a `secure` server when the
//! base is https, else the first non-secure one, else whatever is listed first.

use serde::Deserialize;

use super::dial::Dialer;
use super::error::CytubeError;
use super::http::{self, Response};
use super::tls::Tls;
use super::url::{ChannelUrl, SocketServer};

/// Resolves the socket server for `channel` over a stream from `dialer` (TLS when the
/// channel URL is https).
///
/// # Errors
///
/// [`CytubeError::NoSuchChannel`] quoting the server on 404; [`CytubeError::Dial`],
/// [`CytubeError::Tls`], [`CytubeError::Http`] for the transport;
/// [`CytubeError::Redirected`], [`CytubeError::HttpStatus`],
/// [`CytubeError::BadSocketConfig`] for answers that are not a socket config.
pub async fn resolve_socket<D: Dialer>(dialer: &D, channel: &ChannelUrl) -> Result<SocketServer, CytubeError> {
    resolve_with(dialer, channel, &Tls::default()).await
}

/// [`resolve_socket`] with the session's TLS configuration.
pub(crate) async fn resolve_with<D: Dialer>(
    dialer: &D,
    channel: &ChannelUrl,
    tls: &Tls,
) -> Result<SocketServer, CytubeError> {
    let endpoint = &channel.endpoint;
    let scheme = if endpoint.secure { "https" } else { "http" };
    let url = format!("{scheme}://{}{}", endpoint.authority(), channel.socketconfig_path());
    let stream = dialer.dial(&endpoint.host, endpoint.port).await.map_err(|source| CytubeError::Dial {
        host: endpoint.host.clone(),
        port: endpoint.port,
        source,
    })?;
    let mut stream = tls.wrap(stream, endpoint).await?;
    let response = http::get(&mut stream, &endpoint.authority(), &channel.socketconfig_path())
        .await
        .map_err(|source| CytubeError::Http { url: url.clone(), source })?;
    interpret(&response, channel, &url)
}

/// The socket config's shape; unknown fields are ignored.
#[derive(Deserialize)]
struct Config {
    servers: Vec<ServerEntry>,
}

#[derive(Deserialize)]
struct ServerEntry {
    url: String,
    #[serde(default)]
    secure: bool,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

/// Turns a socketconfig response into the server to dial.
pub(crate) fn interpret(response: &Response, channel: &ChannelUrl, url: &str) -> Result<SocketServer, CytubeError> {
    let bad = |reason: String| CytubeError::BadSocketConfig { url: url.to_string(), reason };
    match response.status {
        200 => {}
        404 => {
            let message = serde_json::from_slice::<ErrorBody>(&response.body)
                .map(|body| body.error)
                .unwrap_or_else(|_| format!("HTTP 404 for {url}"));
            return Err(CytubeError::NoSuchChannel { channel: channel.channel.clone(), message });
        }
        300..=399 => {
            return Err(CytubeError::Redirected {
                url: url.to_string(),
                location: response.location.clone().unwrap_or_else(|| "an unnamed location".into()),
            })
        }
        status => {
            let body = String::from_utf8_lossy(&response.body);
            let body: String = body.chars().take(200).collect();
            return Err(CytubeError::HttpStatus { url: url.to_string(), status, body });
        }
    }
    let config: Config =
        serde_json::from_slice(&response.body).map_err(|err| bad(format!("not the expected JSON: {err}")))?;
    let secure = channel.endpoint.secure;
    let pick = config
        .servers
        .iter()
        .find(|server| server.secure == secure)
        .or_else(|| config.servers.first())
        .ok_or_else(|| bad("the server list is empty".into()))?;
    let server = SocketServer { url: pick.url.clone(), secure: pick.secure };
    server.endpoint()?;
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> Response {
        Response { status: 200, location: None, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn picks_secure_for_https_and_plain_for_http() {
        let body = r#"{"servers":[{"url":"https://cytu.be:10443","secure":true},{"url":"http://cytu.be:1337","secure":false}]}"#;
        let https = ChannelUrl::parse("https://cytu.be/r/lounge").unwrap();
        let http = ChannelUrl::parse("http://cytu.be/r/lounge").unwrap();
        assert_eq!(interpret(&ok(body), &https, "u").unwrap().url, "https://cytu.be:10443");
        assert_eq!(interpret(&ok(body), &http, "u").unwrap().url, "http://cytu.be:1337");
        let only_plain = r#"{"servers":[{"url":"http://127.0.0.1:1337","secure":false}]}"#;
        assert_eq!(interpret(&ok(only_plain), &https, "u").unwrap().url, "http://127.0.0.1:1337");
    }

    #[test]
    fn not_found_quotes_the_server() {
        let channel = ChannelUrl::parse("http://127.0.0.1:8080/r/x").unwrap();
        let response =
            Response { status: 404, location: None, body: br#"{"error":"Channel \"x\" does not exist."}"#.to_vec() };
        let err = interpret(&response, &channel, "u").unwrap_err();
        assert!(matches!(err, CytubeError::NoSuchChannel { .. }));
        assert!(err.is_fatal());
        assert!(err.to_string().contains(r#"the server says "Channel "x" does not exist.""#), "{err}");
    }

    #[test]
    fn other_answers_are_clear_errors() {
        let channel = ChannelUrl::parse("http://127.0.0.1:8080/r/x").unwrap();
        let empty = interpret(&ok(r#"{"servers":[]}"#), &channel, "u").unwrap_err();
        assert!(empty.to_string().contains("the server list is empty"), "{empty}");
        let html = interpret(&ok("<html>"), &channel, "u").unwrap_err();
        assert!(html.to_string().contains("is this a CyTube server?"), "{html}");
        let gone = Response { status: 502, location: None, body: b"Bad Gateway".to_vec() };
        assert!(matches!(interpret(&gone, &channel, "u"), Err(CytubeError::HttpStatus { status: 502, .. })));
    }
}
