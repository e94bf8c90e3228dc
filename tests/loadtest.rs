//! `rosey loadtest` against a live nats-server and an in-process db-service:
//! what it reports must agree with what the service did. No timing is
//! asserted (a loaded CI machine may be slow); only counts and orderings.

mod support;

use std::time::Duration;

use rosey::app::{loadtest, LoadtestArgs, LoadtestReport, Percentiles, Rate};
use rosey::config::Settings;
use rosey::contract::Subject;
use rosey::service::{ServiceConfig, ServiceReport};
use rosey::store::Store;
use rosey_sim::nats_server::NatsServer;
use support::*;

const T0: i64 = 1_731_000_000;

fn args(mix: &str, rate: Rate, duration: Duration) -> LoadtestArgs {
    LoadtestArgs {
        mix: mix.parse().expect("a valid mix"),
        rate,
        duration,
        probe_every: Duration::from_millis(10),
        in_flight: 50_000,
        quiet: true,
    }
}

fn settings(url: &str) -> Settings {
    Settings { nats_url: Some(url.to_string()), ..Settings::default() }
}

/// Runs the loadtest against `svc`, then stops it: what the service did, its
/// store, and the report.
async fn loadtest_against(
    svc: ServiceHandle<impl std::future::Future<Output = (ServiceReport, Store)>>,
    settings: &Settings,
    args: &LoadtestArgs,
) -> (ServiceReport, Store, LoadtestReport) {
    let ServiceHandle { run, ready, stop } = svc;
    let body = async {
        ready.await.unwrap();
        let report = loadtest(settings, args, std::future::pending()).await.expect("the loadtest runs");
        stop.send(()).unwrap();
        report
    };
    let ((service_report, store), report) = tokio::join!(run, body);
    (service_report, store, report)
}

fn assert_ordered(what: &str, p: &Percentiles) {
    assert!(p.count > 0, "{what}: no samples");
    assert!(p.p50 <= p.p99 && p.p99 <= p.p999 && p.p999 <= p.max, "{what}: {p:?}");
}

/// One second of every event kind: every command the loadtest counts as sent
/// is counted as applied by the service, and its own proof agrees.
#[tokio::test]
async fn every_sent_command_is_applied_and_proven() {
    let server = NatsServer::start();
    let svc = service(&server.url(), Store::open_in_memory(T0).unwrap(), ServiceConfig::default()).await;
    let args = args("chat=6,join=1,leave=1,status=1,high_water=1", Rate::PerSecond(2_000), Duration::from_secs(1));
    let settings = settings(&server.url());
    let (service_report, store, report) = loadtest_against(svc, &settings, &args).await;

    assert_eq!(report.send_errors, 0);
    assert_eq!(report.held, 0);
    assert_eq!(report.applied, report.sent, "{report}");
    let events_applied: u64 = service_report
        .applied
        .iter()
        .filter(|(subject, _)| Subject::parse(subject).is_some_and(|s| !s.is_request()))
        .map(|(_, count)| count)
        .sum();
    assert_eq!(events_applied, report.sent, "the service counts what the loadtest sent");
    assert_eq!(service_report.malformed.len(), 0);

    for kind in ["chat", "join", "leave", "status", "high_water"] {
        assert!(report.events.get(kind).copied().unwrap_or(0) > 0, "no {kind} events: {report}");
    }
    assert!(report.sent > report.events_total(), "a join is two commands");
    assert_eq!(report.chat_lines, report.events["chat"]);
    assert_eq!((report.tail_checked, report.tail_missing), (report.chat_lines.min(1_000), 0));
    let recent = store.dump().unwrap().table("recent_chat").unwrap().rows.len() as u64;
    assert_eq!(recent, report.chat_lines);
    assert_eq!((report.dropped, report.unaccounted), (0, 0), "{report}");
    assert!(report.counters);
    assert_ordered("outbound.get during", &report.get_during);
    assert_ordered("outbound.get after", &report.get_after);
    assert!(report.get_after.count >= 50, "{report}");
    assert_eq!(report.polls_failed_during + report.polls_failed_after, 0, "{report}");
    assert_ordered("event -> applied", &report.applied_latency);
    assert!(report.until_applied >= report.sending);
    let text = report.to_string();
    assert!(text.contains("p99.9") && text.contains("applied"), "{text}");
}

/// `--rate max` still ends on time and proves everything it sent.
#[tokio::test]
async fn max_rate_proves_everything_it_sent() {
    let server = NatsServer::start();
    let svc = service(&server.url(), Store::open_in_memory(T0).unwrap(), ServiceConfig::default()).await;
    let args = args("chat=1", Rate::Max, Duration::from_millis(300));
    let settings = settings(&server.url());
    let (service_report, _, report) = loadtest_against(svc, &settings, &args).await;
    assert!(report.chat_lines > 0);
    assert_eq!(report.applied, report.sent, "{report}");
    assert_eq!(service_report.applied.get(Subject::MessageLog.as_str()).copied(), Some(report.chat_lines));
    assert!(report.backlog_peak <= report.sent);
}

/// A db-service too slow for the flood, with a small backlog: what it
/// cannot hold is dropped, and the loadtest reports exactly what the
/// service dropped, with applied + dropped = sent (nothing vanishes unseen).
#[tokio::test]
async fn an_overloaded_service_drops_visibly_and_the_loadtest_counts_it() {
    let server = NatsServer::start();
    let config = ServiceConfig { max_backlog: 200, ..ServiceConfig::default() };
    let svc = slow_service(&server.url(), Store::open_in_memory(T0).unwrap(), config, Duration::from_millis(50)).await;
    let args = args("chat=1", Rate::PerSecond(20_000), Duration::from_millis(500));
    let settings = settings(&server.url());
    let (service_report, store, report) = loadtest_against(svc, &settings, &args).await;
    assert!(report.dropped > 0, "50 ms per commit cannot keep up with 20,000/s: {report}");
    assert_eq!(report.dropped, service_report.dropped_total(), "{report}");
    assert_eq!(report.applied + report.dropped, report.sent, "{report}");
    assert_eq!(report.unaccounted, 0);
    let stored = store.dump().unwrap().table("recent_chat").unwrap().rows.len() as u64;
    assert_eq!(
        stored + service_report.dropped.get(Subject::MessageLog.as_str()).copied().unwrap_or(0),
        report.chat_lines
    );
    assert!(report.to_string().contains("DROPPED"), "{report}");
    assert!(report.service_backlog_peak <= 200, "the backlog is bounded: {report}");
    assert!(report.service_peak_memory > 0, "the service reports its peak memory: {report}");
}

/// Over JetStream: the loadtest publishes into the stream through the bot's
/// JetStream link, the service's counters account for every command, and
/// nothing is dropped (the consumer falls behind instead).
#[tokio::test]
async fn over_jetstream_every_sent_command_is_applied_and_counted() {
    use rosey::delivery::Delivery;
    let store_dir = tempfile::tempdir().unwrap();
    let server = NatsServer::start_jetstream(store_dir.path());
    let config = ServiceConfig { delivery: Delivery::Jetstream, ..ServiceConfig::default() };
    let svc = service(&server.url(), Store::open_in_memory(T0).unwrap(), config).await;
    let args = args("chat=8,join=1,leave=1", Rate::Max, Duration::from_millis(300));
    let settings = Settings { delivery: Some(Delivery::Jetstream), ..settings(&server.url()) };
    let (service_report, _, report) = loadtest_against(svc, &settings, &args).await;
    assert_eq!(report.delivery, Delivery::Jetstream);
    assert!(report.counters && report.sent > 0, "{report}");
    assert_eq!((report.applied, report.dropped, report.unaccounted), (report.sent, 0, 0), "{report}");
    assert_eq!(service_report.applied_seq, report.sent, "every command went through the stream");
    assert_eq!(report.tail_missing, 0);
    assert_ordered("outbound.get during", &report.get_during);
}

/// Nobody serves the database: a clear error instead of numbers.
#[tokio::test]
async fn no_db_service_is_an_error_that_says_what_to_start() {
    let server = NatsServer::start();
    let args = args("chat=1", Rate::PerSecond(10), Duration::from_millis(100));
    let err = loadtest(&settings(&server.url()), &args, std::future::pending()).await.unwrap_err();
    assert!(err.to_string().contains("rosey db-service"), "{err}");
}

/// The binary's subcommand parses its flags and prints the report.
#[test]
fn the_binary_prints_throughput_and_percentiles() {
    let server = NatsServer::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let svc = runtime.block_on(service(&server.url(), Store::open_in_memory(T0).unwrap(), ServiceConfig::default()));
    let url = server.url();
    let output = runtime.block_on(async {
        let ServiceHandle { run, ready, stop } = svc;
        let body = async {
            ready.await.unwrap();
            let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_rosey"))
                .args(["--nats-url", &url, "loadtest", "--mix", "chat=8,join=1,leave=1", "--rate", "500"])
                .args(["--duration", "300ms", "--quiet"])
                .output()
                .await
                .expect("the binary runs");
            stop.send(()).unwrap();
            output
        };
        let (_, output) = tokio::join!(run, body);
        output
    });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr));
    for needle in ["sent", "applied", "dropped", "backlog", "outbound.get during", "outbound.get after", "p99.9"] {
        assert!(stdout.contains(needle), "{needle} missing from:\n{stdout}");
    }
}
