//! The benches' fixed start time and sizes, and the runtimes, databases and
//! connections every bench sets up the same way.

use std::path::Path;

use bytes::Bytes;
use rosey::clock::FixedClock;
use rosey::contract::{Command, MessageLog};
use rosey::link::DirectLink;
use rosey::store::{Journal, Store};
use rosey::transport::{NatsOptions, NatsTransport};
use rosey_sim::bus::SimBusOptions;

/// The benches' virtual start (Unix ms); every command carries an `at_ms` near it.
pub const T0_MS: i64 = 1_731_000_000_000;
/// Events per measured chunk in `bot_event_cost` (a flush ends each chunk).
pub const CHUNK: u64 = 256;
/// Users in the channel before the measurements start.
pub const CHANNEL_USERS: usize = 20;
/// The subject of the raw request/reply floor.
pub const ECHO_SUBJECT: &str = "bench.echo";

/// Whether criterion measures (`cargo bench`) rather than smoke-tests each
/// bench once (`cargo test --benches`); expensive extras run only then.
pub fn bench_mode() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

/// Chat lines per measured batch: 5,000 under `cargo bench`, 500 as a smoke test.
pub fn batch_size() -> u64 {
    if bench_mode() {
        5_000
    } else {
        500
    }
}

/// A group whose iteration is a batch of `lines` events (its throughput):
/// flat sampling, 10 samples, 1 s warm-up, 4 s measured.
pub fn batch_group<'a>(
    c: &'a mut criterion::Criterion,
    name: &str,
    lines: u64,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .sampling_mode(criterion::SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(4))
        .throughput(criterion::Throughput::Elements(lines));
    group
}

/// One current-thread runtime, as the `rosey` binary runs.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// A file database in WAL mode (the db-service's default) at `path`.
pub fn wal_store(path: &Path) -> Store {
    Store::open_with(path, Journal::Wal, T0_MS / 1000).expect("a bench database")
}

pub fn direct_link(path: &Path) -> DirectLink<FixedClock> {
    DirectLink::new(wal_store(path), FixedClock(T0_MS))
}

pub fn nats_options(url: &str, name: &str) -> NatsOptions {
    NatsOptions { url: url.to_string(), name: name.to_string(), ..NatsOptions::default() }
}

pub async fn nats_connect(url: &str, name: &str) -> NatsTransport {
    NatsTransport::connect(&nats_options(url, name)).await.expect("the bench's nats-server accepts connections")
}

pub fn sim_options(name: &str) -> SimBusOptions {
    SimBusOptions { name: name.into(), ..SimBusOptions::default() }
}

/// A chat line as the bot would publish it.
pub fn flood_line(seq: u64, at_ms: i64) -> Bytes {
    let line = Command::MessageLog(MessageLog {
        username: format!("flooder{}", seq % 50),
        message: format!("flood line {seq}: the quick brown fox jumps over the lazy dog"),
        at_ms: Some(at_ms),
    });
    Bytes::from(line.encode())
}
