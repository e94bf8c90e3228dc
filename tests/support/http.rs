//! HTTP for the live tests: one request over a fresh connection, a
//! Prometheus sample read from `/metrics` text, and the address a binary
//! logs it serves at.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::process::within;

/// One HTTP/1.1 request to `base` (`http://host:port` or `host:port`);
/// returns the status and the body.
pub async fn http(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("the port accepts");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    within("the HTTP answer", stream.read_to_end(&mut response)).await.unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// The value of the sample whose series (name and labels) is exactly `series`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// The `http://host:port` a log line names after `marker`.
pub fn listen_address(log: &str, marker: &str) -> String {
    let line = log.lines().find(|line| line.contains(marker)).unwrap_or_else(|| panic!("no {marker:?} in\n{log}"));
    let url = line.split(marker).nth(1).and_then(|rest| rest.split_whitespace().next()).unwrap();
    let authority = url.trim_start_matches("http://").split('/').next().unwrap();
    format!("http://{authority}")
}
