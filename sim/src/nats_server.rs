//! A nats-server child process for tests and benches: one per test, on a free
//! port, stopped on drop.
//!
//! [`NatsServer::start_jetstream`] enables JetStream with file storage in a
//! directory the caller owns (a `tempfile` dir), so that a test can kill the
//! server (`kill`, SIGKILL: nothing flushed on the way out) or stop it
//! (`stop`, SIGTERM: a clean shutdown) and [`restart`](NatsServer::restart)
//! it on the same port over the same store, as an operator's restart would.
//!
//! The binary comes from `NATS_SERVER_BIN`, else `PATH`, else
//! `/usr/sbin/nats-server`. When none exists, starting fails with a message
//! that says what to install: a live test never skips itself.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What to tell someone whose machine has no nats-server.
pub const INSTALL_HINT: &str = "nats-server not found: install it (`apt-get install nats-server`, \
or run the README's test command `bash .ci/run`, which does), or set NATS_SERVER_BIN to its path";

/// A running nats-server.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    binary: PathBuf,
    /// Extra command-line arguments (auth, limits, JetStream's store), kept
    /// for restarts.
    args: Vec<String>,
    /// JetStream's store directory, when enabled.
    store_dir: Option<PathBuf>,
    /// Environment variables for the server process (a config file's `$NAME`s).
    env: Vec<(String, String)>,
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
        let (child, port) = spawn(&binary, -1, &args, &[]);
        NatsServer { child: Some(child), port, binary, args, store_dir: None, env: Vec::new() }
    }

    /// Starts a server on a free port from a configuration file (`-c`), with JetStream in
    /// `store_dir` and `env` set for the process: a config's `$NAME` reads the
    /// environment, which is how a sample config keeps its passwords out of the file.
    pub fn start_configured(config: &Path, store_dir: &Path, env: &[(&str, &str)]) -> NatsServer {
        let binary = nats_server_binary().unwrap_or_else(|hint| panic!("{hint}"));
        let utf8 = |path: &Path| path.to_str().expect("a UTF-8 path").to_string();
        let args = vec!["-c".to_string(), utf8(config), "-js".to_string(), "-sd".to_string(), utf8(store_dir)];
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let (child, port) = spawn(&binary, -1, &args, &env);
        NatsServer { child: Some(child), port, binary, args, store_dir: Some(store_dir.to_path_buf()), env }
    }

    /// Starts a server on a free port with JetStream on, its file storage in
    /// `store_dir` (`-js -sd <store_dir>`; the server makes `jetstream/` in it).
    /// Restarts keep the port and the directory, so streams and consumers
    /// survive them as they would in production.
    ///
    /// # Panics
    ///
    /// As [`NatsServer::start`]; also when `store_dir` is not valid UTF-8.
    pub fn start_jetstream(store_dir: &Path) -> NatsServer {
        let dir = store_dir.to_str().expect("the store directory is a UTF-8 path");
        let mut server = NatsServer::start_with(&["-js", "-sd", dir]);
        server.store_dir = Some(store_dir.to_path_buf());
        server
    }

    /// Starts a server on a port the caller chose, e.g. one a client is
    /// already trying to reach.
    pub fn start_on(port: u16, args: &[&str]) -> NatsServer {
        let binary = nats_server_binary().unwrap_or_else(|hint| panic!("{hint}"));
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (child, bound) = spawn(&binary, i32::from(port), &args, &[]);
        assert_eq!(bound, port, "nats-server started on another port");
        NatsServer { child: Some(child), port, binary, args, store_dir: None, env: Vec::new() }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// JetStream's store directory, for a server from [`NatsServer::start_jetstream`].
    pub fn store_dir(&self) -> Option<&Path> {
        self.store_dir.as_deref()
    }

    /// Whether the server process is running (not killed or stopped).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server at once (SIGKILL, `kill -9`): clients see the
    /// connection drop, and JetStream gets no chance to flush its store: what
    /// survives is what it had written when the signal landed.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server gracefully (SIGTERM): it closes its clients and
    /// flushes JetStream's store before it exits. Falls back to SIGKILL when
    /// it has not exited within 10 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let signalled =
            Command::new("kill").args(["-TERM", &child.id().to_string()]).status().is_ok_and(|status| status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        while signalled && Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the server again on the same port, with the same arguments and
    /// the same store directory; kills it first (SIGKILL) if it still runs.
    /// Call [`NatsServer::stop`] first for a graceful restart.
    pub fn restart(&mut self) {
        self.kill();
        let (child, port) = spawn(&self.binary, i32::from(self.port), &self.args, &self.env);
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
fn spawn(binary: &PathBuf, port: i32, args: &[String], env: &[(String, String)]) -> (Child, u16) {
    let mut child = Command::new(binary)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
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
    match port_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(port) => (child, port),
        Err(_) => {
            let _ = child.kill();
            panic!("{} did not report a listening port within 10 s", binary.display());
        }
    }
}

/// A nats-server cluster on loopback: `size` nodes named `n1`, `n2`, ..., each with its
/// own client port, cluster port and JetStream store under a directory the caller owns,
/// routed to every other node, so JetStream can keep a stream replicated on all of them.
pub struct NatsCluster {
    nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts the nodes (each waits until it listens; the cluster elects its JetStream
    /// leader afterwards, so a first stream request may have to be retried).
    ///
    /// # Panics
    /// As [`NatsServer::start`].
    pub fn start(size: usize, store_root: &Path) -> NatsCluster {
        let client_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let cluster_ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let routes: Vec<String> = cluster_ports.iter().map(|port| format!("nats://127.0.0.1:{port}")).collect();
        let nodes = (0..size)
            .map(|i| {
                let store = store_root.join(format!("n{}", i + 1));
                std::fs::create_dir_all(&store).expect("a node's store directory");
                let args = [
                    "-js".to_string(),
                    "-sd".to_string(),
                    store.to_str().expect("a UTF-8 path").to_string(),
                    "--server_name".to_string(),
                    format!("n{}", i + 1),
                    "--cluster_name".to_string(),
                    "rosey".to_string(),
                    "--cluster".to_string(),
                    format!("nats://127.0.0.1:{}", cluster_ports[i]),
                    "--routes".to_string(),
                    routes.join(","),
                ];
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let mut node = NatsServer::start_on(client_ports[i], &args);
                node.store_dir = Some(store);
                node
            })
            .collect();
        NatsCluster { nodes }
    }

    /// Every node's client URL, comma-separated: what a client given the whole cluster uses.
    pub fn urls(&self) -> String {
        self.nodes.iter().map(NatsServer::url).collect::<Vec<_>>().join(",")
    }

    /// Node `name` (`n1`, ...).
    ///
    /// # Panics
    /// For a name the cluster does not have.
    pub fn node(&mut self, name: &str) -> &mut NatsServer {
        let index =
            name.strip_prefix('n').and_then(|n| n.parse::<usize>().ok()).filter(|n| (1..=self.nodes.len()).contains(n));
        let index = index.unwrap_or_else(|| panic!("the cluster has no node {name}"));
        &mut self.nodes[index - 1]
    }
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}
