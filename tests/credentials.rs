//! Credentials are never printed: not in an error, not in a log line at any
//! level (async-nats's own trace lines included), not in `--help`. Each secret
//! is given one way (in the URL, `--nats-password`, `--nats-token`,
//! `ROSEY_NATS_PASSWORD`) and the binary runs at `--log trace` against a dead
//! port and against a live server that refuses it.

mod support;

use std::process::Command;
use std::time::Duration;

use rosey_sim::nats_server::NatsServer;
use support::{dead_port, run_within};

/// How long a refused or failed connection may take to become an exit.
const EXIT_WITHIN: Duration = Duration::from_secs(20);

/// One way to hand rosey a secret.
struct Secret {
    how: &'static str,
    secret: &'static str,
    apply: fn(&mut Command, port: u16),
}

fn secrets() -> [Secret; 4] {
    [
        Secret {
            how: "a password in the URL",
            secret: "urlPW-7f3a",
            apply: |c, port| {
                c.args(["--nats-url", &format!("nats://alice:urlPW-7f3a@127.0.0.1:{port}")]);
            },
        },
        Secret {
            how: "--nats-password",
            secret: "flagPW-91c2",
            apply: |c, port| {
                c.args(["--nats-url", &format!("nats://127.0.0.1:{port}")]);
                c.args(["--nats-user", "alice", "--nats-password", "flagPW-91c2"]);
            },
        },
        Secret {
            how: "--nats-token",
            secret: "tokTK-55e1",
            apply: |c, port| {
                c.args(["--nats-url", &format!("nats://127.0.0.1:{port}"), "--nats-token", "tokTK-55e1"]);
            },
        },
        Secret {
            how: "ROSEY_NATS_PASSWORD",
            secret: "envPW-0b7d",
            apply: |c, port| {
                c.args(["--nats-url", &format!("nats://127.0.0.1:{port}"), "--nats-user", "alice"]);
                c.env("ROSEY_NATS_PASSWORD", "envPW-0b7d");
            },
        },
    ]
}

fn rosey(secret: &Secret, port: u16, db: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rosey"));
    for var in ["ROSEY_CONFIG", "ROSEY_NATS_URL", "ROSEY_NATS_USER", "ROSEY_NATS_PASSWORD", "ROSEY_NATS_TOKEN"] {
        command.env_remove(var);
    }
    command.args(["--log", "trace", "--db"]).arg(db);
    (secret.apply)(&mut command, port);
    command
}

/// Runs `say`, `db-service` and a `bot` with `secret` against `port`: each
/// must fail with a connection error that names the (redacted) URL, and no
/// output may contain the secret.
fn assert_refused_without_printing(secret: &Secret, port: u16, why: &str) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let fixture = support::fixture_path("smoke.jsonl");
    let commands: [&[&str]; 3] = [
        &["say", "hi"],
        &["db-service"],
        &["bot", "--mode", "nats", "--chat", &format!("replay:{},speed=max", fixture.display())],
    ];
    for args in commands {
        let what = format!("rosey {} with {} against {why}", args[0], secret.how);
        let (status, output) = run_within(rosey(secret, port, &db).args(args), EXIT_WITHIN, &what);
        assert!(!status.success(), "{what} succeeded:\n{output}");
        assert!(!output.contains(secret.secret), "{what} printed the secret:\n{output}");
        let error = output.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("{what}:\n{output}"));
        assert!(error.contains("cannot connect to NATS at nats://"), "{what}: {error}");
        assert!(
            error.contains(&format!("127.0.0.1:{port}")) && error.contains("check the URL and credentials"),
            "{error}"
        );
        if secret.how.contains("URL") {
            assert!(error.contains(&format!("nats://alice:***@127.0.0.1:{port}")), "{what}: {error}");
        }
    }
}

#[test]
fn no_secret_is_printed_when_the_port_is_dead() {
    let port = dead_port();
    for secret in secrets() {
        assert_refused_without_printing(&secret, port, "a dead port");
    }
}

#[test]
fn no_secret_is_printed_when_the_server_refuses_it() {
    let server = NatsServer::start_with(&["--user", "alice", "--pass", "the-right-one"]);
    for secret in secrets() {
        assert_refused_without_printing(&secret, server.port(), "a server that refuses it");
    }
}

/// The URL's credentials are used (async-nats alone ignores them): the right
/// password in the URL gets through to the server, which then has no db-service.
#[test]
fn credentials_in_the_url_are_used() {
    let server = NatsServer::start_with(&["--user", "alice", "--pass", "urlPW-right"]);
    let url = format!("nats://alice:urlPW-right@127.0.0.1:{}", server.port());
    let mut say = Command::new(env!("CARGO_BIN_EXE_rosey"));
    say.env_remove("ROSEY_CONFIG").args(["--log", "trace", "--nats-url", &url, "say", "hi"]);
    let (status, output) = run_within(&mut say, EXIT_WITHIN, "rosey say");
    assert!(!status.success());
    assert!(output.contains("no db-service is listening"), "connected, then found no service:\n{output}");
    assert!(!output.contains("urlPW-right"), "{output}");
}

#[test]
fn help_never_shows_a_secret_from_the_environment() {
    let mut help = Command::new(env!("CARGO_BIN_EXE_rosey"));
    help.env("ROSEY_NATS_URL", "nats://alice:urlPW-7f3a@127.0.0.1:4222")
        .env("ROSEY_NATS_PASSWORD", "envPW-0b7d")
        .env("ROSEY_NATS_TOKEN", "tokTK-55e1")
        .arg("--help");
    let (status, output) = run_within(&mut help, EXIT_WITHIN, "rosey --help");
    assert!(status.success(), "{output}");
    assert!(output.contains("--nats-url") && output.contains("ROSEY_NATS_PASSWORD"), "{output}");
    for secret in ["urlPW-7f3a", "envPW-0b7d", "tokTK-55e1"] {
        assert!(!output.contains(secret), "--help printed {secret}:\n{output}");
    }
}
