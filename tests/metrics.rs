//! `rosey db-service --metrics-listen`: Prometheus text at `/metrics` from a
//! running binary against a live nats-server, counting exactly what the
//! service did (subject by subject; a `[server]` line the store turns into
//! nothing still counts as applied).

mod support;

use std::process::Command;
use std::time::Duration;

use bytes::Bytes;
use rosey::contract::Subject;
use rosey::transport::Transport;
use rosey_sim::nats_server::NatsServer;
use serde_json::json;
use support::http::{http, listen_address, sample};
use support::*;

const STEP: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_db_service_counts_what_it_applied_at_metrics() {
    let server = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let mut service = Logged::spawn(
        Command::new(env!("CARGO_BIN_EXE_rosey"))
            .env_remove("ROSEY_CONFIG")
            .env("ROSEY_LOG", "info")
            .args(["--nats-url", &server.url()])
            .arg("--db")
            .arg(dir.path().join("metrics.db"))
            .args(["--metrics-listen", "127.0.0.1:0", "db-service"]),
    );
    let marker = "serving Prometheus metrics at ";
    let addr = listen_address(&service.wait_for(marker, STEP), marker);
    service.wait_for("db-service subscribed", STEP);

    let client = connect(&server.url(), "client").await;
    let publish = |subject: Subject, payload: String| {
        let client = &client;
        async move { client.publish(subject.as_str(), Bytes::from(payload)).await.unwrap() }
    };
    for n in 0..5 {
        publish(Subject::UserJoined, json!({"username": format!("user{n}")}).to_string()).await;
    }
    for n in 0..19 {
        publish(Subject::MessageLog, json!({"username": "user1", "message": format!("line {n}")}).to_string()).await;
    }
    publish(Subject::MessageLog, json!({"username": "[server]", "message": "not chat"}).to_string()).await;
    publish(Subject::MessageLog, "not json".into()).await;
    publish(Subject::MessageLog, json!(["an", "array"]).to_string()).await;
    // Served on the event lane after everything above, replied after its commit.
    let barrier = json!({"limit": 1}).to_string();
    client.request(Subject::RecentChatGet.as_str(), Bytes::from(barrier), STEP).await.expect("the barrier");

    let (status, text) = http(&addr, "GET", "/metrics", &[], "").await;
    assert_eq!(status, 200, "{text}");
    let applied =
        |subject: Subject| sample(&text, &format!("rosey_db_commands_applied_total{{subject=\"{subject}\"}}"));
    assert_eq!(applied(Subject::UserJoined), Some(5.0), "{text}");
    assert_eq!(applied(Subject::MessageLog), Some(20.0), "the [server] line counts as applied: {text}");
    assert_eq!(applied(Subject::RecentChatGet), Some(1.0), "{text}");
    let malformed = format!("rosey_db_commands_malformed_total{{subject=\"{}\"}}", Subject::MessageLog);
    assert_eq!(sample(&text, &malformed), Some(2.0), "{text}");
    assert_eq!(sample(&text, "rosey_db_replies_total"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "rosey_db_store_errors_total"), Some(0.0), "{text}");
    assert!(sample(&text, "rosey_db_commit_duration_seconds_count").is_some_and(|n| n >= 1.0), "{text}");
    assert!(text.contains("# TYPE rosey_db_batch_commands histogram"), "{text}");

    let (status, _) = http(&addr, "GET", "/nope", &[], "").await;
    assert_eq!(status, 404);
    service.kill();
}

/// A port that is taken is a clear error at start, not a silent service without metrics.
#[test]
fn a_taken_metrics_port_is_a_clear_error() {
    let server = NatsServer::start();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (status, output) = run_within(
        Command::new(env!("CARGO_BIN_EXE_rosey"))
            .env_remove("ROSEY_CONFIG")
            .args(["--nats-url", &server.url()])
            .arg("--db")
            .arg(dir.path().join("m.db"))
            .args(["--metrics-listen", &addr, "db-service"]),
        STEP,
        "a db-service whose metrics port is taken",
    );
    assert!(!status.success(), "{output}");
    assert!(output.contains("cannot serve metrics on") && output.contains(&addr), "{output}");
}
