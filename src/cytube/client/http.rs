//! A minimal HTTP/1.1 GET over any byte stream, for the one request the client makes: the
//! channel's socket config.
//!
//! Written by hand (httparse for the head) rather than pulling an HTTP client: one GET with
//! `Connection: close`, a body sized by `Content-Length`, chunked, or read to EOF, at most
//! [`MAX_RESPONSE`] bytes. No redirects, keep-alive, compression or proxies.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest response accepted (a socket config is a few hundred bytes).
pub(crate) const MAX_RESPONSE: usize = 1 << 20;

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    pub status: u16,
    /// `Location`, when present (redirects are reported, not followed).
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// Sends `GET path` with `Host: host` and reads the whole response.
pub(crate) async fn get<S>(stream: &mut S, host: &str, path: &str) -> io::Result<Response>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: rosey/{}\r\nAccept: application/json\r\n\
         Connection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes()).await?;
    stream.flush().await?;
    let mut raw = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return parse(&raw, true).map(|r| r.expect("at EOF a response is complete or an error")).map_err(invalid);
        }
        raw.extend_from_slice(&chunk[..n]);
        if raw.len() > MAX_RESPONSE {
            return Err(invalid(format!("response larger than {MAX_RESPONSE} bytes")));
        }
        if let Some(response) = parse(&raw, false).map_err(invalid)? {
            return Ok(response);
        }
    }
}

fn invalid(reason: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, reason)
}

/// Parses `raw`: `Ok(None)` when more bytes are needed; at `eof` a body without a length
/// ends there, and anything incomplete is an error.
pub(crate) fn parse(raw: &[u8], eof: bool) -> Result<Option<Response>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut head = httparse::Response::new(&mut headers);
    let body_at = match head.parse(raw).map_err(|err| format!("malformed HTTP response: {err}"))? {
        httparse::Status::Complete(at) => at,
        httparse::Status::Partial if eof => return Err("the connection closed inside the HTTP head".into()),
        httparse::Status::Partial => return Ok(None),
    };
    let status = head.code.ok_or("no status code")?;
    let header = |name: &str| {
        head.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let location = header("location");
    let chunked = header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let length = header("content-length")
        .map(|len| len.parse::<usize>().map_err(|_| format!("bad Content-Length `{len}`")))
        .transpose()?;
    let rest = &raw[body_at..];
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None if eof => return Err("the connection closed inside a chunked body".into()),
            None => return Ok(None),
        }
    } else if let Some(length) = length {
        if rest.len() < length {
            if eof {
                return Err(format!("the body ended after {} of {length} bytes", rest.len()));
            }
            return Ok(None);
        }
        rest[..length].to_vec()
    } else if eof || status == 204 || status == 304 {
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response { status, location, body }))
}

/// Decodes a chunked body: `Ok(None)` until the last (zero) chunk has arrived.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|w| w == b"\r\n") else { return Ok(None) };
        let line = std::str::from_utf8(&rest[..line_end]).map_err(|_| "a chunk size is not text")?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size `{size}`"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailers, if any, end with an empty line; a body is complete without them.
            return Ok(Some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        if &rest[size..size + 2] != b"\r\n" {
            return Err("a chunk does not end with CRLF".into());
        }
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What CyTube's Express app answers for a valid channel (captured shape).
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nX-Powered-By: Express\r\nContent-Type: application/json; charset=utf-8\r\n\
Content-Length: 60\r\nConnection: close\r\n\r\n{\"servers\":[{\"url\":\"http://127.0.0.1:1337\",\"secure\":false}]}";

    #[test]
    fn content_length_body_is_complete_only_when_all_there() {
        let response = parse(OK, false).unwrap().unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, &OK[OK.len() - 60..]);
        assert_eq!(parse(&OK[..OK.len() - 1], false), Ok(None));
        assert!(parse(&OK[..OK.len() - 1], true).unwrap_err().contains("ended after 59 of 60"));
        assert_eq!(parse(&OK[..20], false), Ok(None));
    }

    #[test]
    fn chunked_body_is_decoded() {
        let raw = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n\
a\r\n{\"error\": \r\n20;ext=1\r\n\"Channel \\\"x\\\" does not exist.\"}\r\n0\r\n\r\n";
        let response = parse(raw, false).unwrap().unwrap();
        assert_eq!(response.status, 404);
        assert_eq!(String::from_utf8(response.body).unwrap(), r#"{"error": "Channel \"x\" does not exist."}"#);
        assert_eq!(parse(&raw[..raw.len() - 6], false), Ok(None));
    }

    #[test]
    fn body_without_length_runs_to_eof_and_redirects_keep_location() {
        let raw = b"HTTP/1.0 200 OK\r\n\r\n{\"servers\":[]}";
        assert_eq!(parse(raw, false), Ok(None));
        assert_eq!(parse(raw, true).unwrap().unwrap().body, b"{\"servers\":[]}");
        let raw = b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://cytu.be/socketconfig/x.json\r\nContent-Length: 0\r\n\r\n";
        let response = parse(raw, false).unwrap().unwrap();
        assert_eq!(response.location.as_deref(), Some("https://cytu.be/socketconfig/x.json"));
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"SSH-2.0-OpenSSH_9.2\r\n\r\n", true).unwrap_err().contains("malformed HTTP"));
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n";
        assert!(parse(raw, true).unwrap_err().contains("bad Content-Length"));
    }

    #[tokio::test]
    async fn get_writes_host_and_connection_close() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        let serve = async {
            let mut request = vec![0u8; 1024];
            let n = server.read(&mut request).await.unwrap();
            server.write_all(OK).await.unwrap();
            drop(server);
            String::from_utf8(request[..n].to_vec()).unwrap()
        };
        let (request, response) = tokio::join!(serve, get(&mut client, "127.0.0.1:8080", "/socketconfig/c.json"));
        assert!(request.starts_with("GET /socketconfig/c.json HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"), "{request}");
        assert!(request.contains("Connection: close\r\n"), "{request}");
        assert_eq!(response.unwrap().status, 200);
    }
}
