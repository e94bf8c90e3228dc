//! Spawned `rosey` processes for the async live tests: stderr (the log)
//! collected as it arrives, waits bounded by [`PATIENCE`] instead of sleeps.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
pub use tokio::process::Command;

/// `rosey --nats-url <url>`, its output piped, killed if the test drops it.
pub fn rosey(nats_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rosey"));
    command
        .args(["--nats-url", nats_url])
        .env_remove("ROSEY_CONFIG")
        .env("ROSEY_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    command
}

/// How long any one condition may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A child process whose stderr is collected as it arrives.
pub struct Process {
    pub child: Child,
    log: Arc<Mutex<Vec<String>>>,
    reader: tokio::task::JoinHandle<()>,
}

impl Process {
    pub fn spawn(mut command: Command) -> Process {
        let mut child = command.spawn().expect("the rosey binary runs");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr is piped");
        let sink = log.clone();
        let reader = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Process { child, log, reader }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub async fn wait_for_log(&self, needle: &str) {
        let log = self.log.clone();
        eventually(&format!("a log line containing {needle:?}"), || {
            let found = log.lock().unwrap().iter().any(|line| line.contains(needle));
            async move { found }
        })
        .await;
    }

    /// SIGTERM, then the exit status and stdout (bounded by [`PATIENCE`]).
    pub async fn stop(self) -> (std::process::ExitStatus, String, String) {
        let pid = self.child.id().expect("still running").to_string();
        let killed = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        self.finish().await
    }

    pub async fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let mut stdout = self.child.stdout.take().expect("stdout is piped");
        let status = rosey::timers::timeout(PATIENCE, self.child.wait()).await.expect("exits in time").unwrap();
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut out).await.unwrap();
        within("the log to be read to its end", &mut self.reader).await.unwrap();
        (status, out, self.log())
    }
}

/// Polls `condition` until it holds, failing the test after [`PATIENCE`].
pub async fn eventually<F: Future<Output = bool>>(what: &str, mut condition: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        rosey::timers::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    rosey::timers::timeout(PATIENCE, future).await.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}
