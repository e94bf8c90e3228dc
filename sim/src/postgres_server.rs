//! A throw-away PostgreSQL server for tests and benches: one cluster per test, made with
//! `initdb` in a temporary directory (about half a second), started as a child process on
//! a free loopback port, killed and deleted on drop. Tests run it with `fsync=off`: a
//! test's database never has to survive a power cut.
//!
//! The binaries come from `PG_BIN_DIR`, else the newest `/usr/lib/postgresql/*/bin`
//! (Debian's `postgresql` package), else `PATH`. `initdb` and `postgres` refuse to run as
//! root, so as root the server runs as the `postgres` user the package creates. When none
//! of this exists, starting fails with a message that says what to install: a live test
//! never skips itself.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// What to tell someone whose machine has no PostgreSQL.
pub const INSTALL_HINT: &str = "PostgreSQL not found: install it (`apt-get install postgresql`, \
or run the README's test command `bash .ci/run`, which does), or set PG_BIN_DIR to the directory \
holding initdb and postgres";

/// The database every server starts with, owned by [`USER`].
pub const DATABASE: &str = "rosey";
/// The superuser `initdb` creates (trust authentication on loopback: any password works).
pub const USER: &str = "rosey";

/// A running PostgreSQL server.
pub struct PostgresServer {
    child: Option<Child>,
    port: u16,
    bin: PathBuf,
    data: PathBuf,
    run_as: Option<(u32, u32)>,
    /// `-c name=value` settings the server runs with.
    settings: Vec<String>,
    /// The cluster's directory (data and socket); removed on drop.
    _dir: tempfile::TempDir,
}

/// The directory holding `initdb` and `postgres`.
pub fn postgres_bin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("PG_BIN_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(format!("PG_BIN_DIR={} has no initdb; {INSTALL_HINT}", dir.display()))
        };
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").is_file() && dir.join("postgres").is_file())
        .ok_or_else(|| INSTALL_HINT.to_string())
}

impl PostgresServer {
    /// Makes a cluster and starts it on a free port.
    ///
    /// # Panics
    /// When PostgreSQL is missing (with [`INSTALL_HINT`]) or does not start.
    pub fn start() -> PostgresServer {
        PostgresServer::start_with(&["fsync=off"])
    }

    /// [`PostgresServer::start`] with the server settings given (`name=value`, as `-c`
    /// takes them): benches run with `fsync=on` and `synchronous_commit=off`, which is
    /// the durability of SQLite's WAL with `synchronous=NORMAL` they are compared with
    /// (a power cut may lose the last commits, never corrupt the database).
    pub fn start_with(settings: &[&str]) -> PostgresServer {
        let bin = postgres_bin_dir().unwrap_or_else(|hint| panic!("{hint}"));
        let run_as = postgres_user_when_root();
        let dir = tempfile::Builder::new().prefix("rosey-pg-").tempdir().expect("a temporary directory");
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the cluster directory");
        }
        let data = dir.path().join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", USER, "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_user(&mut initdb, run_as);
        let made = initdb.output().unwrap_or_else(|e| panic!("cannot run initdb: {e}; {INSTALL_HINT}"));
        assert!(made.status.success(), "initdb failed: {}", String::from_utf8_lossy(&made.stderr));
        let settings = settings.iter().map(|s| s.to_string()).collect();
        let mut server = PostgresServer { child: None, port: 0, bin, data, run_as, settings, _dir: dir };
        server.spawn();
        server.create_database(DATABASE);
        server
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for database `name` (no password: the cluster trusts loopback).
    pub fn url_for(&self, name: &str) -> String {
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The URL of [`DATABASE`].
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// Creates an empty database `name` (for a test that needs several) and returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.execute("postgres", &format!("CREATE DATABASE \"{name}\""));
        self.url_for(name)
    }

    /// Runs `sql` on database `database` as the superuser, off any tokio runtime thread
    /// (the blocking client panics on one).
    ///
    /// # Panics
    /// When the statement fails.
    pub fn execute(&self, database: &str, sql: &str) {
        let (url, sql) = (self.url_for(database), sql.to_owned());
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)
                .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
            client.batch_execute(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        })
        .join()
        .expect("the statement ran");
    }

    /// Kills the server with SIGKILL: no shutdown checkpoint, as a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn spawn(&mut self) {
        let port = if self.port == 0 { free_port() } else { self.port };
        let socket_dir = self.data.parent().unwrap_or(Path::new("/tmp")).to_path_buf();
        let mut command = Command::new(self.bin.join("postgres"));
        command
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .args(self.settings.iter().flat_map(|setting| ["-c", setting.as_str()]))
            .arg("-k")
            .arg(&socket_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_user(&mut command, self.run_as);
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot start postgres: {e}; {INSTALL_HINT}"));
        let stderr = child.stderr.take().expect("stderr is piped");
        let (ready, is_ready) = mpsc::channel();
        // The server logs to stderr for as long as it runs: keep draining it.
        std::thread::spawn(move || {
            let mut ready = Some(ready);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("database system is ready to accept connections") {
                    if let Some(tx) = ready.take() {
                        let _ = tx.send(());
                    }
                }
            }
        });
        if is_ready.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            panic!("postgres did not become ready within 30 s on port {port}");
        }
        self.child = Some(child);
        self.port = port;
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// As root, the uid and gid of the `postgres` user (the server refuses to run as root).
fn postgres_user_when_root() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self").ok().map(|meta| std::os::unix::fs::MetadataExt::uid(&meta));
    if me != Some(0) {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let ids = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&"postgres") && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    });
    Some(ids.unwrap_or_else(|| {
        panic!("running as root, but there is no postgres user to run the server as; {INSTALL_HINT}")
    }))
}

fn as_user(command: &mut Command, run_as: Option<(u32, u32)>) {
    if let Some((uid, gid)) = run_as {
        command.uid(uid).gid(gid).env("HOME", "/tmp");
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}
