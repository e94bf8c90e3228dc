//! Helpers shared by the live tests: a db-service on a live server, the
//! committed fixtures, the direct-mode reference run.

#![allow(dead_code)]

pub mod http;
pub mod process;

use std::future::Future;
use std::path::{Path, PathBuf};

use rosey::bot::Protocol;
use rosey::clock::FixedClock;
use rosey::fixture::Fixture;
use rosey::service::{DbService, ServiceConfig, ServiceReport};
use rosey::store::{DbDump, Store};
use rosey::trace::Trace;
use rosey::transport::{NatsOptions, NatsTransport};
use tokio::sync::oneshot;

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/chat").join(name)
}

pub fn load_fixture(name: &str) -> Fixture {
    Fixture::load(&fixture_path(name)).expect("committed fixtures are sound")
}

pub fn options(url: &str, name: &str) -> NatsOptions {
    NatsOptions { url: url.to_string(), name: name.to_string(), ..NatsOptions::default() }
}

pub async fn connect(url: &str, name: &str) -> NatsTransport {
    NatsTransport::connect(&options(url, name)).await.expect("the test's nats-server accepts connections")
}

/// The `rosey` binary for a blocking live test (with [`Logged`] or [`run_within`]): no
/// config file from the environment, plain `info` logs, on `nats_url` with `delivery`.
pub fn rosey_on(nats_url: &str, delivery: &str) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rosey"));
    command.env_remove("ROSEY_CONFIG").env("ROSEY_LOG", "info,async_nats=warn").env("NO_COLOR", "1").args([
        "--nats-url",
        nats_url,
        "--delivery",
        delivery,
    ]);
    command
}

/// The direct-mode reference: the fixture replayed with no bus.
pub fn direct_dump(fixture: &Fixture) -> DbDump {
    let store = Store::open_in_memory(fixture.header.start_unix_ms / 1000).unwrap();
    let (_, store) = rosey_sim::direct::run_direct(fixture, store, Protocol::Hardened, Trace::new(false));
    store.dump().unwrap()
}

/// A db-service on `url`, ready to be driven: await `ready` before sending,
/// send on `stop` to make it drain, commit and return.
pub struct ServiceHandle<F> {
    pub run: F,
    pub ready: oneshot::Receiver<()>,
    pub stop: oneshot::Sender<()>,
}

pub async fn service(
    url: &str,
    store: Store,
    config: ServiceConfig,
) -> ServiceHandle<impl Future<Output = (ServiceReport, Store)>> {
    slow_service(url, store, config, std::time::Duration::ZERO).await
}

/// [`service`] with a pause of `per_commit` after every commit: a slow disk.
pub async fn slow_service(
    url: &str,
    store: Store,
    config: ServiceConfig,
    per_commit: std::time::Duration,
) -> ServiceHandle<impl Future<Output = (ServiceReport, Store)>> {
    let transport = connect(url, "test-db-service").await;
    let (ready_tx, ready) = oneshot::channel();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let clock = FixedClock(1_731_000_000_000);
    let service = DbService::new(transport, store, clock, config)
        .with_ready(ready_tx)
        .with_commit_delay(Box::new(move || per_commit));
    let run = async move {
        service
            .run(async move {
                let _ = stop_rx.await;
            })
            .await
            .expect("the db-service subscribes")
    };
    ServiceHandle { run, ready, stop }
}

/// Runs `command` (stdout and stderr piped) and waits for it to exit, at most
/// `limit`: past that it is killed and the test fails saying `what` hung.
/// Returns the exit status and stdout + stderr together.
pub fn run_within(
    command: &mut std::process::Command,
    limit: std::time::Duration,
    what: &str,
) -> (std::process::ExitStatus, String) {
    use std::process::Stdio;
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the binary runs");
    finish_within(child, limit, what)
}

/// Waits for a spawned `child` (stdout and stderr piped) to exit, at most
/// `limit`, draining both pipes meanwhile; kills it and fails past that.
pub fn finish_within(
    mut child: std::process::Child,
    limit: std::time::Duration,
    what: &str,
) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let status = wait_within(&mut child, limit).unwrap_or_else(|| panic!("{what} did not exit within {limit:?}"));
    let text = format!("{}{}", out.join().unwrap_or_default(), err.join().unwrap_or_default());
    (status, text)
}

/// Waits for `child` to exit, polling until `limit`; kills it and returns
/// `None` when it is still running then.
pub fn wait_within(child: &mut std::process::Child, limit: std::time::Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return Some(status);
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A local port nothing listens on (bound, then released).
pub fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free local port");
    listener.local_addr().expect("a bound port").port()
}

/// A spawned binary whose stderr (its log) is read line by line on a thread,
/// so a test can wait for a log line instead of sleeping.
pub struct Logged {
    pub child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    stdout: Option<std::thread::JoinHandle<String>>,
    /// Every log line read so far.
    pub log: Vec<String>,
}

impl Logged {
    pub fn spawn(command: &mut std::process::Command) -> Logged {
        use std::io::{BufRead, Read};
        use std::process::Stdio;
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("the binary runs");
        let (tx, lines) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = child.stdout.take().expect("stdout is piped");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        Logged { child, lines, stdout: Some(stdout), log: Vec::new() }
    }

    /// Waits until a log line contains `text`, at most `limit`; fails with
    /// the log so far past that, or when the process ends first.
    pub fn wait_for(&mut self, text: &str, limit: std::time::Duration) -> String {
        self.wait_since(0, text, limit)
    }

    /// A mark in the log: what [`Logged::wait_since`] looks after. Take it
    /// before what should cause the line.
    pub fn mark(&mut self) -> usize {
        self.log.extend(self.lines.try_iter());
        self.log.len()
    }

    /// Waits until a line after `mark` contains `text`, at most `limit`;
    /// fails with the log since the mark past that.
    pub fn wait_since(&mut self, mark: usize, text: &str, limit: std::time::Duration) -> String {
        if let Some(line) = self.log[mark.min(self.log.len())..].iter().find(|line| line.contains(text)) {
            return line.clone();
        }
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no log line with {text:?} within {limit:?}; the log since the mark:\n{}",
                    self.log[mark.min(self.log.len())..].join("\n")
                ),
            }
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("the child can be waited for").is_none()
    }

    /// Kills the process at once (SIGKILL, `kill -9`) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends `signal` (e.g. "TERM") to the process.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the exit, at most `limit` (killed and failing past that);
    /// returns the status, stdout and the whole log.
    pub fn finish_within(
        mut self,
        limit: std::time::Duration,
        what: &str,
    ) -> (std::process::ExitStatus, String, String) {
        let status = wait_within(&mut self.child, limit);
        self.log.extend(self.lines.try_iter());
        let log = self.log.join("\n");
        let status = status.unwrap_or_else(|| panic!("{what} did not exit within {limit:?}; the log:\n{log}"));
        // The pipe closes at exit; its reader thread ends with it.
        let stdout = self.stdout.take().map(|t| t.join().unwrap_or_default()).unwrap_or_default();
        self.log.extend(self.lines.iter());
        (status, stdout, self.log.join("\n"))
    }
}

/// A process still running when its test ends (fails, or forgets it) is killed.
impl Drop for Logged {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill();
        }
    }
}

/// Polls `condition` until it holds, at most `limit`; fails saying `what` past that.
pub fn wait_until(what: &str, limit: std::time::Duration, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "timed out after {limit:?} waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Every table equal, row by row, time columns aside; and of the time
/// columns only `outbound_messages.sent_timestamp` may differ: a line is
/// marked sent when the bot's poll reply comes, which in a real-time replay
/// (and more so around a fault) lands a virtual second or more later than
/// in the instant direct replay. Every other time is a command's `at_ms`.
pub fn assert_same_as_direct(got: &DbDump, expected: &DbDump) {
    let (got_plain, expected_plain) = (got.without_time_columns(), expected.without_time_columns());
    for (got_table, expected_table) in got_plain.tables.iter().zip(&expected_plain.tables) {
        assert_eq!(got_table.columns, expected_table.columns);
        assert_eq!(
            got_table.rows.len(),
            expected_table.rows.len(),
            "{}: {} rows, direct mode has {}",
            got_table.name,
            got_table.rows.len(),
            expected_table.rows.len()
        );
        for (n, (got_row, expected_row)) in got_table.rows.iter().zip(&expected_table.rows).enumerate() {
            assert_eq!(got_row, expected_row, "{} row {n} differs from direct mode", got_table.name);
        }
    }
    assert_eq!(got_plain, expected_plain);
    let mut differing = Vec::new();
    for (got_table, expected_table) in got.tables.iter().zip(&expected.tables) {
        for (c, column) in got_table.columns.iter().enumerate() {
            let rows = got_table.rows.iter().zip(&expected_table.rows).filter(|(g, e)| g[c] != e[c]).count();
            if rows > 0 {
                differing.push(format!("{}.{column} ({rows} rows)", got_table.name));
            }
        }
    }
    println!("time columns that differ from direct mode: {differing:?}");
    // Every command carries its at_ms: the only time the live run decides is
    // when a poll's reply came, which stamps the sent mark.
    let only_sent = differing.iter().all(|column| column.starts_with("outbound_messages.sent_timestamp "));
    assert!(only_sent, "time columns other than the sent marks' differ from direct mode: {differing:?}");
}
