//! A minimal headless-Chromium driver for integration tests.
//!
//! Some behaviour can only be checked the way a person sees it: a page has to
//! load in a real browser, run its scripts, react to a click and render. This
//! module starts Debian's `chromium` in headless mode and drives one page over
//! the Chrome DevTools Protocol (CDP), using only the websocket client the
//! project already has, so tests need no browser-automation crate and no
//! driver binary (such as chromedriver) that the closed network could not
//! fetch anyway.
//!
//! It is deliberately small: one browser, one page, and the handful of
//! commands tests need (navigate, evaluate, wait for a condition, screenshot).
//! Every wait is bounded, and every error says what to do about it.
//!
//! How it talks to Chromium: the browser is started with
//! `--remote-debugging-port=0`, prints its browser websocket address on
//! stderr, and this module opens a fresh page with `Target.createTarget`, then
//! attaches to it with `Target.attachToTarget {flatten: true}`. Page commands
//! travel over the same browser socket, tagged with the page's `sessionId`.
//! One socket and no HTTP discovery keeps the moving parts few.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_websockets::{ClientBuilder, MaybeTlsStream, Message, WebSocketStream};

/// The longest any single CDP command or page load may take before it is
/// reported as stuck: long enough for a slow CI machine, short enough that a
/// hung browser fails the test instead of the whole CI run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the browser may take to start and print its DevTools address.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);

/// How often [`Browser::wait_for`] re-evaluates its condition.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How many of Chromium's last stderr lines are kept for launch-failure errors.
const STDERR_TAIL_LINES: usize = 50;

/// How long [`Browser::close`] lets Chromium shut down by itself before it is
/// killed.
const GRACEFUL_EXIT_TIMEOUT: Duration = Duration::from_secs(5);

/// The line on stderr that carries the browser's websocket address.
const DEVTOOLS_BANNER: &str = "DevTools listening on ";

const INSTALL_HINT: &str = "install it (`apt-get install chromium`, or run the README's test command \
                            `bash .ci/run`, which does), or set CHROMIUM_BIN to its path";

type CdpSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Finds the Chromium executable, so that tests can run on any machine that
/// has one and say how to get one when it is missing.
///
/// Looks at the `CHROMIUM_BIN` environment variable first (for machines where
/// the browser lives elsewhere), then for `chromium` on `PATH`, then at
/// Debian's `/usr/bin/chromium`.
pub fn chromium_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("CHROMIUM_BIN").filter(|value| !value.is_empty()) {
        let path = PathBuf::from(path);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(format!("CHROMIUM_BIN is set to {}, which is not an executable file: fix or unset it", path.display()))
        };
    }
    find_on_path("chromium")
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")).filter(|path| is_executable(path)))
        .ok_or_else(|| format!("chromium not found: {INSTALL_HINT}"))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path_var = std::env::var_os("PATH")?;
    std::env::split_paths(&path_var).map(|dir| dir.join(name)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// A headless Chromium with one page under the test's control.
///
/// Owns the browser process and its throw-away profile directory: dropping a
/// `Browser` (even when a test panics) kills the process and removes the
/// directory, so no browser outlives its test. Call [`Browser::close`] to shut
/// it down gracefully instead.
pub struct Browser {
    // Declared before `process` so the socket closes before the kill.
    cdp: Cdp,
    process: ChromiumProcess,
}

impl Browser {
    /// Starts a headless Chromium with a fresh profile and opens a blank page,
    /// so each test gets a browser with no state left over from another.
    pub async fn launch() -> Result<Browser, String> {
        Browser::launch_binary(&chromium_binary()?).await
    }

    async fn launch_binary(binary: &Path) -> Result<Browser, String> {
        let started = ChromiumProcess::start(binary)?;
        let (mut process, browser_url) = started.wait_for_devtools_url().await?;
        let cdp = match Cdp::connect(&browser_url).await {
            Ok(cdp) => cdp,
            Err(error) => return Err(process.failure(&error).await),
        };
        let mut browser = Browser { cdp, process };
        if let Err(error) = browser.open_page().await {
            return Err(browser.process.failure(&error).await);
        }
        Ok(browser)
    }

    async fn open_page(&mut self) -> Result<(), String> {
        let target = self.cdp.browser_call("Target.createTarget", json!({ "url": "about:blank" })).await?;
        let target_id = string_field(&target, "targetId", "Target.createTarget")?;
        let attached =
            self.cdp.browser_call("Target.attachToTarget", json!({ "targetId": target_id, "flatten": true })).await?;
        self.cdp.session_id = Some(string_field(&attached, "sessionId", "Target.attachToTarget")?);
        self.cdp.page_call("Page.enable", json!({})).await?;
        self.cdp.page_call("Page.setLifecycleEventsEnabled", json!({ "enabled": true })).await?;
        Ok(())
    }

    /// Loads `url` in the page and returns once its `load` event has fired,
    /// so the test can inspect a fully loaded document.
    ///
    /// The wait is for `Page.lifecycleEvent` named `load` (what
    /// `Page.loadEventFired` reports, but tagged with the navigation's loader
    /// id), so a load event the previous page fires late cannot end it early.
    ///
    /// Fails if the address cannot be loaded (for example, nothing listens
    /// there) or the load takes longer than 30 s.
    pub async fn goto(&mut self, url: &str) -> Result<(), String> {
        let navigated = self.cdp.page_call("Page.navigate", json!({ "url": url })).await?;
        if let Some(error_text) = navigated.get("errorText").and_then(Value::as_str) {
            return Err(format!(
                "could not load {url}: {error_text}; check that the server is up and the address right"
            ));
        }
        // A same-document navigation (only the #fragment changed) has no
        // loader and fires no load event.
        match navigated.get("loaderId").and_then(Value::as_str) {
            Some(loader_id) => self.cdp.wait_for_load(loader_id, url).await,
            None => Ok(()),
        }
    }

    /// Evaluates `js` in the page and returns its value as JSON, so a test can
    /// read the page's state or act on it (fill a field, click a button).
    ///
    /// A returned promise is awaited. `undefined` becomes `null`; values JSON
    /// cannot hold (`NaN`, `Infinity`, `-0`, BigInts) come back as strings. A
    /// thrown exception (or rejected promise) becomes `Err` with its message.
    /// The evaluation, awaited promise included, may take up to 30 s.
    pub async fn eval(&mut self, js: &str) -> Result<Value, String> {
        let object = self.evaluate(js, COMMAND_TIMEOUT).await.map_err(EvalFailure::into_message)?;
        Ok(remote_object_value(&object))
    }

    /// Runs `js` and returns the result as CDP's `RemoteObject`.
    async fn evaluate(&mut self, js: &str, timeout: Duration) -> Result<Value, EvalFailure> {
        let params = json!({ "expression": js, "returnByValue": true, "awaitPromise": true });
        let reply = match self.cdp.call("Runtime.evaluate", params, true, timeout).await {
            Ok(reply) => reply,
            Err(CallFailure::Protocol(message)) => return Err(EvalFailure::Page(message)),
            Err(CallFailure::Transport(message)) => return Err(EvalFailure::Transport(message)),
        };
        if let Some(details) = reply.get("exceptionDetails") {
            return Err(EvalFailure::Page(format!("JavaScript threw: {}", exception_text(details))));
        }
        Ok(reply.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Re-evaluates `js_condition` until it yields a truthy value and returns
    /// that value, so a test can wait for the page to react (a script to run,
    /// a response to arrive) without guessing a sleep.
    ///
    /// While the condition throws (say, the element it reads is not there
    /// yet) it counts as not yet true. On timeout the error shows the last
    /// value or exception, which usually tells what the page did instead.
    pub async fn wait_for(&mut self, js_condition: &str, timeout: Duration) -> Result<Value, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let last_seen = match self.evaluate(js_condition, remaining.clamp(POLL_INTERVAL, COMMAND_TIMEOUT)).await {
                Ok(object) if is_truthy(&object) => return Ok(remote_object_value(&object)),
                Ok(object) => format!("returned {}", remote_object_value(&object)),
                Err(EvalFailure::Page(message)) => message,
                Err(EvalFailure::Transport(message)) if Instant::now() >= deadline => message,
                Err(EvalFailure::Transport(message)) => return Err(message),
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {timeout:?} waiting for `{js_condition}` to become truthy; last attempt: {last_seen}"
                ));
            }
            rosey::timers::sleep(POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
    }

    /// Renders the page at `width`×`height` CSS pixels and returns the PNG
    /// bytes, so a test (or a person reading its output) can see the page.
    pub async fn screenshot_png(&mut self, width: u32, height: u32) -> Result<Vec<u8>, String> {
        let metrics = json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false });
        self.cdp.page_call("Emulation.setDeviceMetricsOverride", metrics).await?;
        let shot = self.cdp.page_call("Page.captureScreenshot", json!({ "format": "png" })).await?;
        let encoded = string_field(&shot, "data", "Page.captureScreenshot")?;
        base64_decode(&encoded).map_err(|error| format!("Page.captureScreenshot returned bad base64: {error}"))
    }

    /// Asks Chromium to quit and waits briefly for it, killing it if it
    /// lingers; the profile directory is removed either way.
    pub async fn close(mut self) {
        let _ = self.cdp.call("Browser.close", json!({}), false, GRACEFUL_EXIT_TIMEOUT).await;
        self.process.wait_for_exit(GRACEFUL_EXIT_TIMEOUT).await;
        // Dropping `self` kills whatever is left and removes the profile.
    }
}

/// Why an evaluation failed: the page's fault (an exception, a destroyed
/// context), which [`Browser::wait_for`] retries, or the connection's, which
/// it does not.
enum EvalFailure {
    Page(String),
    Transport(String),
}

impl EvalFailure {
    fn into_message(self) -> String {
        match self {
            EvalFailure::Page(message) | EvalFailure::Transport(message) => message,
        }
    }
}

fn exception_text(details: &Value) -> String {
    let description = details.pointer("/exception/description").and_then(Value::as_str);
    let value = details.pointer("/exception/value").map(Value::to_string);
    let text = details.get("text").and_then(Value::as_str).map(str::to_owned);
    description.map(str::to_owned).or(value).or(text).unwrap_or_else(|| details.to_string())
}

fn remote_object_value(object: &Value) -> Value {
    if let Some(value) = object.get("value") {
        return value.clone();
    }
    match object.get("unserializableValue") {
        Some(Value::String(text)) => Value::String(text.clone()),
        _ => Value::Null,
    }
}

/// Whether a `RemoteObject` is truthy by JavaScript's rules.
fn is_truthy(object: &Value) -> bool {
    if let Some(Value::String(unserializable)) = object.get("unserializableValue") {
        return !matches!(unserializable.as_str(), "NaN" | "-0" | "0n");
    }
    match object.get("value") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(Value::Number(number)) => number.as_f64().is_some_and(|n| n != 0.0),
        Some(Value::String(text)) => !text.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

fn string_field(reply: &Value, field: &str, method: &str) -> Result<String, String> {
    reply
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("{method} replied without `{field}`: {reply}"))
}

/// Why a CDP call failed: Chromium answered with an error, or the socket
/// failed, closed or timed out.
enum CallFailure {
    Protocol(String),
    Transport(String),
}

impl CallFailure {
    fn into_message(self) -> String {
        match self {
            CallFailure::Protocol(message) | CallFailure::Transport(message) => message,
        }
    }
}

/// One CDP connection to the browser, plus the page session commands go to.
struct Cdp {
    socket: CdpSocket,
    next_id: u64,
    session_id: Option<String>,
    /// Loader ids whose `load` lifecycle event has been seen, so a load that
    /// completes before `Page.navigate`'s reply is not missed.
    loaded: VecDeque<String>,
}

impl Cdp {
    async fn connect(url: &str) -> Result<Cdp, String> {
        let builder =
            ClientBuilder::new().uri(url).map_err(|error| format!("bad DevTools address {url:?}: {error}"))?;
        let connecting = rosey::timers::timeout(COMMAND_TIMEOUT, builder.connect());
        let (socket, _response) = connecting
            .await
            .map_err(|_| format!("connecting to Chromium's DevTools at {url} timed out after {COMMAND_TIMEOUT:?}"))?
            .map_err(|error| format!("could not connect to Chromium's DevTools at {url}: {error}"))?;
        Ok(Cdp { socket, next_id: 0, session_id: None, loaded: VecDeque::new() })
    }

    async fn browser_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.call(method, params, false, COMMAND_TIMEOUT).await.map_err(CallFailure::into_message)
    }

    async fn page_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.call(method, params, true, COMMAND_TIMEOUT).await.map_err(CallFailure::into_message)
    }

    /// Sends one command and reads until its reply, noting the events that
    /// arrive meanwhile.
    async fn call(
        &mut self,
        method: &str,
        params: Value,
        to_page: bool,
        timeout: Duration,
    ) -> Result<Value, CallFailure> {
        self.next_id += 1;
        let id = self.next_id;
        let mut command = json!({ "id": id, "method": method, "params": params });
        if to_page {
            command["sessionId"] = json!(self.session_id);
        }
        let exchange = async {
            self.send(&command, method).await?;
            self.read_reply(id, method).await
        };
        rosey::timers::timeout(timeout, exchange).await.unwrap_or_else(|_| {
            Err(CallFailure::Transport(format!(
                "CDP {method} got no reply within {timeout:?}: Chromium is hung or overloaded"
            )))
        })
    }

    async fn send(&mut self, command: &Value, method: &str) -> Result<(), CallFailure> {
        let sent = self.socket.send(Message::text(command.to_string())).await;
        sent.map_err(|error| CallFailure::Transport(format!("CDP {method}: could not send to Chromium: {error}")))
    }

    async fn read_reply(&mut self, id: u64, method: &str) -> Result<Value, CallFailure> {
        loop {
            let message = self.next_message(method).await.map_err(CallFailure::Transport)?;
            if message.get("id").and_then(Value::as_u64) != Some(id) {
                self.note_event(&message);
                continue;
            }
            if let Some(error) = message.get("error") {
                return Err(CallFailure::Protocol(format!("CDP {method} failed: {error}")));
            }
            return Ok(message.get("result").cloned().unwrap_or(Value::Null));
        }
    }

    /// Reads until the page's `load` lifecycle event for `loader_id`.
    async fn wait_for_load(&mut self, loader_id: &str, url: &str) -> Result<(), String> {
        let waiting = async {
            while !self.loaded.iter().any(|seen| seen == loader_id) {
                let message = self.next_message("Page.navigate").await?;
                self.note_event(&message);
            }
            Ok(())
        };
        rosey::timers::timeout(COMMAND_TIMEOUT, waiting).await.unwrap_or_else(|_| {
            Err(format!(
                "CDP Page.navigate: {url} fired no load event within {COMMAND_TIMEOUT:?}: a script, image or \
                 request on the page never completes, or the server stopped answering"
            ))
        })
    }

    /// Remembers the events later commands depend on; drops the rest.
    fn note_event(&mut self, message: &Value) {
        let is_load = message.get("method").and_then(Value::as_str) == Some("Page.lifecycleEvent")
            && message.pointer("/params/name").and_then(Value::as_str) == Some("load");
        if !is_load || message.get("sessionId").and_then(Value::as_str) != self.session_id.as_deref() {
            return;
        }
        if let Some(loader_id) = message.pointer("/params/loaderId").and_then(Value::as_str) {
            if self.loaded.len() >= 16 {
                self.loaded.pop_front();
            }
            self.loaded.push_back(loader_id.to_owned());
        }
    }

    /// The next text message from Chromium, parsed; `method` names the
    /// command being waited on, for the error.
    async fn next_message(&mut self, method: &str) -> Result<Value, String> {
        loop {
            let message = match self.socket.next().await {
                Some(Ok(message)) => message,
                Some(Err(error)) => return Err(format!("CDP {method}: reading from Chromium failed: {error}")),
                None => return Err(format!("CDP {method}: Chromium closed the DevTools connection (did it crash?)")),
            };
            if let Some(text) = message.as_text() {
                return serde_json::from_str(text).map_err(|error| {
                    let start: String = text.chars().take(200).collect();
                    format!("CDP {method}: Chromium sent invalid JSON ({error}), starting: {start}")
                });
            }
            if message.is_close() {
                return Err(format!("CDP {method}: Chromium closed the DevTools connection (did it crash?)"));
            }
        }
    }
}

/// The running browser process and its profile directory.
struct ChromiumProcess {
    child: Child,
    profile_dir: PathBuf,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

/// A browser that has been started but has not yet said where DevTools is.
struct StartedChromium {
    process: ChromiumProcess,
    devtools_url: oneshot::Receiver<String>,
}

impl ChromiumProcess {
    fn start(binary: &Path) -> Result<StartedChromium, String> {
        let profile_dir = fresh_profile_dir()?;
        let spawned = Command::new(binary)
            .args(launch_flags(&profile_dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(error) => {
                remove_profile_dir(&profile_dir);
                return Err(format!("could not start {}: {error}; {INSTALL_HINT}", binary.display()));
            }
        };
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let (url_sender, devtools_url) = oneshot::channel();
        if let Some(stderr) = child.stderr.take() {
            spawn_stderr_drain(stderr, Arc::clone(&stderr_tail), url_sender);
        }
        Ok(StartedChromium { process: ChromiumProcess { child, profile_dir, stderr_tail }, devtools_url })
    }

    /// An error for a browser that failed to come up, with its exit status
    /// (if it died) and last stderr lines, which usually name the cause.
    async fn failure(&mut self, what: &str) -> String {
        // A browser that closed its stderr is exiting: let it finish, so the
        // error can show its exit status.
        self.wait_for_exit(Duration::from_secs(1)).await;
        let status = match self.child.try_wait() {
            Ok(Some(status)) => format!("chromium exited ({status})"),
            _ => "chromium is still running".to_owned(),
        };
        let tail = self.stderr_tail.lock().map(|lines| Vec::from(lines.clone()).join("\n")).unwrap_or_default();
        format!("{what}\n{status}; its last stderr lines:\n{tail}")
    }

    async fn wait_for_exit(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            rosey::timers::sleep(POLL_INTERVAL).await;
        }
    }
}

impl StartedChromium {
    async fn wait_for_devtools_url(mut self) -> Result<(ChromiumProcess, String), String> {
        match rosey::timers::timeout(LAUNCH_TIMEOUT, self.devtools_url).await {
            Ok(Ok(url)) => Ok((self.process, url)),
            Ok(Err(_)) => {
                Err(self.process.failure("chromium closed its stderr without printing a DevTools address").await)
            }
            Err(_) => {
                let what = format!(
                    "chromium printed no DevTools address within {LAUNCH_TIMEOUT:?} (is the machine overloaded?)"
                );
                Err(self.process.failure(&what).await)
            }
        }
    }
}

impl Drop for ChromiumProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        remove_profile_dir(&self.profile_dir);
    }
}

fn launch_flags(profile_dir: &Path) -> Vec<String> {
    let fixed = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // Shared memory in /tmp rather than /dev/shm, which containers often
        // cap at 64 MiB (too little for rendering). Debian's wrapper means to
        // add this flag itself when /dev/shm is small, but its check breaks
        // where /dev/shm is mounted twice, as on these machines.
        "--disable-dev-shm-usage",
        "--remote-debugging-port=0",
    ];
    let mut flags: Vec<String> = fixed.iter().map(|flag| flag.to_string()).collect();
    flags.push(format!("--user-data-dir={}", profile_dir.display()));
    flags.push("about:blank".to_owned());
    flags
}

fn fresh_profile_dir() -> Result<PathBuf, String> {
    let name = format!("chromium-profile-{}-{:016x}", std::process::id(), fastrand::u64(..));
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir(&dir)
        .map_err(|error| format!("could not create a Chromium profile directory at {}: {error}", dir.display()))?;
    Ok(dir)
}

/// Removes the profile; retries briefly, because Chromium's helper processes
/// may still be writing into it for a moment after the browser has died.
fn remove_profile_dir(dir: &Path) {
    for _ in 0..20 {
        if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads Chromium's stderr on a thread of its own, so the pipe never fills and
/// blocks the browser, and its noise stays out of the test output: keeps the
/// last lines for error messages and hands over the DevTools address.
fn spawn_stderr_drain(stderr: ChildStderr, tail: Arc<Mutex<VecDeque<String>>>, url_sender: oneshot::Sender<String>) {
    std::thread::spawn(move || {
        let mut url_sender = Some(url_sender);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(url) = line.split_once(DEVTOOLS_BANNER).map(|(_, url)| url.trim().to_owned()) {
                if let Some(sender) = url_sender.take() {
                    let _ = sender.send(url);
                }
            }
            if let Ok(mut lines) = tail.lock() {
                if lines.len() >= STDERR_TAIL_LINES {
                    lines.pop_front();
                }
                lines.push_back(line);
            }
        }
    });
}

/// Decodes standard base64 (with or without padding), as CDP sends binary
/// data such as screenshots.
fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for (position, symbol) in text.bytes().enumerate() {
        let sextet = match symbol {
            b'A'..=b'Z' => symbol - b'A',
            b'a'..=b'z' => symbol - b'a' + 26,
            b'0'..=b'9' => symbol - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return Err(format!("unexpected byte {symbol:#04x} at {position}")),
        };
        buffer = (buffer << 6) | u32::from(sextet);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const FORM_PAGE: &str = r#"<!doctype html>
<html>
<head><title>Form test</title></head>
<body style="background: #3366cc; color: white; font: 24px sans-serif">
  <h1>Hello from the test server</h1>
  <input id="name">
  <button id="greet">Greet</button>
  <div id="out"></div>
  <script>
    document.getElementById('greet').addEventListener('click', () => {
      setTimeout(() => {
        document.getElementById('out').textContent = 'Hello, ' + document.getElementById('name').value + '!';
      }, 100);
    });
  </script>
</body>
</html>"#;

    /// Serves `FORM_PAGE` at `/` (and 404 elsewhere) on a loopback port;
    /// returns the page's address.
    async fn serve_form_page() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer_one_request(stream));
            }
        });
        format!("http://{address}/")
    }

    async fn answer_one_request(mut stream: TcpStream) {
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|window| window == b"\r\n\r\n") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => request.extend_from_slice(&chunk[..read]),
            }
        }
        let is_root = request.starts_with(b"GET / ");
        let (status, body) = if is_root { ("200 OK", FORM_PAGE) } else { ("404 Not Found", "not found") };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn drives_a_form_and_takes_a_screenshot() {
        let url = serve_form_page().await;
        let started = Instant::now();
        let mut browser = Browser::launch().await.expect("launch chromium");
        browser.goto(&url).await.expect("load the form page");
        eprintln!("launch + goto took {:?}", started.elapsed());

        assert_eq!(browser.eval("document.title").await.expect("read the title"), json!("Form test"));
        browser
            .eval("document.getElementById('name').value = 'Rosey'; document.getElementById('greet').click()")
            .await
            .expect("fill the form and click");
        let greeting = browser
            .wait_for("document.getElementById('out').textContent", Duration::from_secs(10))
            .await
            .expect("the click handler writes the greeting");
        assert_eq!(greeting, json!("Hello, Rosey!"));

        let png = browser.screenshot_png(640, 480).await.expect("take a screenshot");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG signature");
        assert!(png.len() > 2000, "a PNG of a rendered page, not an empty one: {} bytes", png.len());
        if let Ok(path) = std::env::var("CDP_SCREENSHOT_TO") {
            std::fs::write(path, &png).expect("save the screenshot");
        }
        browser.close().await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_javascript_exception_is_an_error() {
        let mut browser = Browser::launch().await.expect("launch chromium");
        let error = browser.eval("throw new Error('boom')").await.expect_err("a throw is an error");
        assert!(error.contains("boom"), "the error carries the exception's message: {error}");
        let rejected = browser.eval("Promise.reject(new TypeError('async boom'))").await.expect_err("a rejection too");
        assert!(rejected.contains("async boom"), "{rejected}");
        assert_eq!(browser.eval("1 + 1").await.expect("the page still works"), json!(2));
        assert_eq!(browser.eval("undefined").await.expect("undefined is fine"), Value::Null);
        assert_eq!(browser.eval("NaN").await.expect("NaN is fine"), json!("NaN"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn wait_for_times_out_with_the_last_value() {
        let mut browser = Browser::launch().await.expect("launch chromium");
        let error = browser.wait_for("document.title", Duration::from_millis(300)).await.expect_err("never truthy");
        assert!(error.contains("returned \"\""), "the error shows the last value: {error}");
        let thrown = browser.wait_for("missing.thing", Duration::from_millis(300)).await.expect_err("always throws");
        assert!(thrown.contains("missing is not defined"), "the error shows the last exception: {thrown}");
        drop(browser); // killed without `close`: Drop must clean up
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_unreachable_address_is_a_clear_error() {
        let unused = TcpListener::bind("127.0.0.1:0").await.expect("bind").local_addr().expect("address");
        let mut browser = Browser::launch().await.expect("launch chromium");
        let error = browser.goto(&format!("http://{unused}/")).await.expect_err("nothing listens there");
        assert!(error.contains("ERR_CONNECTION_REFUSED"), "{error}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_browser_that_dies_at_start_reports_its_stderr() {
        // `sh` rejects Chromium's flags on stderr and exits, like a browser
        // that cannot start; no script file, whose exec could race a
        // parallel test's fork ("text file busy").
        let error = Browser::launch_binary(Path::new("/bin/sh")).await.err().expect("sh is no browser");
        assert!(error.contains("without printing a DevTools address"), "{error}");
        assert!(error.contains("chromium exited (exit status: 2)"), "the error shows the exit status: {error}");
        assert!(error.contains("option"), "the error shows the stderr: {error}");
    }

    #[test]
    fn base64_decodes_padded_and_unpadded_input() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("aGk+Pz8/").unwrap(), b"hi>???");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a b").is_err());
    }

    #[test]
    fn truthiness_follows_javascript() {
        let value = |value: Value| json!({ "type": "x", "value": value });
        let unserializable = |text: &str| json!({ "type": "number", "unserializableValue": text });
        let undefined = json!({ "type": "undefined" });
        let falsy = [value(json!(null)), value(json!(false)), value(json!(0)), value(json!("")), undefined];
        for object in falsy.iter().chain(&[unserializable("NaN"), unserializable("-0"), unserializable("0n")]) {
            assert!(!is_truthy(object), "{object} is falsy");
        }
        let truthy = [value(json!(true)), value(json!(1)), value(json!("NaN")), value(json!([])), value(json!({}))];
        for object in truthy.iter().chain(&[unserializable("Infinity"), unserializable("5n")]) {
            assert!(is_truthy(object), "{object} is truthy");
        }
    }
}
