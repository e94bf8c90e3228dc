//! A nats-server child process for tests and benches: one per test, on a free
//! port, stopped on drop.
//!
//! The binary comes from `NATS_SERVER_BIN`, else `PATH`, else
//! `/usr/sbin/nats-server`. When none exists, starting fails with a message
//! that says what to install: a live test never skips itself.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

/// What to tell someone whose machine has no nats-server.
pub const INSTALL_HINT: &str = "nats-server not found: install it (`apt-get install nats-server`, \
or run the README's test command `bash .ci/run`, which does), or set NATS_SERVER_BIN to its path";

/// A running nats-server.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    binary: PathBuf,
    /// Extra command-line arguments (auth, limits), kept for restarts.
    args: Vec<String>,
}

/// Finds the nats-server binary.
pub fn nats_server_binary() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("NATS_SERVER_BIN") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("NATS_SERVER_BIN={} is not a file; {INSTALL_HINT}", path.display()))
        };
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file());
    on_path
        .or_else(|| Some(PathBuf::from("/usr/sbin/nats-server")).filter(|p| p.is_file()))
        .ok_or_else(|| INSTALL_HINT.to_string())
}

impl NatsServer {
    /// Starts a server on a free port.
    ///
    /// # Panics
    ///
    /// When nats-server is missing (with [`INSTALL_HINT`]) or does not start.
    pub fn start() -> NatsServer {
        NatsServer::start_with(&[])
    }

    /// Starts a server on a free port with extra arguments, e.g. `["--auth", "token"]`.
    pub fn start_with(args: &[&str]) -> NatsServer {
        let binary = nats_server_binary().unwrap_or_else(|hint| panic!("{hint}"));
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (child, port) = spawn(&binary, -1, &args);
        NatsServer { child: Some(child), port, binary, args }
    }

    /// Starts a server on a port the caller chose, e.g. one a client is
    /// already trying to reach.
    pub fn start_on(port: u16, args: &[&str]) -> NatsServer {
        let binary = nats_server_binary().unwrap_or_else(|hint| panic!("{hint}"));
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (child, bound) = spawn(&binary, i32::from(port), &args);
        assert_eq!(bound, port, "nats-server started on another port");
        NatsServer { child: Some(child), port, binary, args }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL): clients see the connection drop.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let (child, port) = spawn(&self.binary, i32::from(self.port), &self.args);
        assert_eq!(port, self.port, "nats-server came back on another port");
        self.child = Some(child);
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawns nats-server on `port` (-1: any free port) and waits for the log line
/// that says where it listens.
fn spawn(binary: &PathBuf, port: i32, args: &[String]) -> (Child, u16) {
    let mut child = Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL_HINT}", binary.display()));
    let stderr = child.stderr.take().expect("stderr is piped");
    let (found, port_rx) = mpsc::channel();
    // The server logs to stderr for as long as it runs: keep draining it so
    // it never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                let port = rest.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                if let (Some(tx), Some(port)) = (found.take(), port) {
                    let _ = tx.send(port);
                }
            }
        }
    });
    match port_rx.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok(port) => (child, port),
        Err(_) => {
            let _ = child.kill();
            panic!("{} did not report a listening port within 10 s", binary.display());
        }
    }
}
