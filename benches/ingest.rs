//! db-service ingest on a file database, store side only (no bus): chat line
//! payloads decoded (`Command::decode`) and applied (`service::apply_command`), with
//!
//! - `group_commit_wal`: batches of 1,024 in one transaction, one savepoint
//!   per command (`begin_batch`/`commit_batch`), as `DbService` does under
//!   load (`CommitMode::Group { max_batch: 1024 }`);
//! - `per_event_wal`: one commit per event, WAL + `synchronous=NORMAL` (the
//!   v0.5.0 way of committing, on our journal settings);
//! - `per_event_v05_journal`: one commit per event with SQLite's defaults as
//!   v0.5.0 ran (`Journal::V05Default`: rollback journal, `synchronous=FULL`,
//!   an fsync per commit);
//! - `group_commit_postgres`, `per_event_postgres`: the same two ways on a local
//!   PostgreSQL (a throw-away cluster, `fsync=on`, `synchronous_commit=off`: the
//!   durability of WAL with `synchronous=NORMAL`).
//!
//! One iteration is a batch of events (10,000 / 1,000 / 50, a tenth of that
//! under `cargo test --benches`); criterion's throughput is events per second.
//! The database lives in a temp folder on the machine's disk.
//!
//! `cargo bench --bench ingest`

mod common;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use rosey::clock::FixedClock;
use rosey::contract::{Command, Subject};
use rosey::service::{apply_command, command_now};
use rosey::store::{DbLocation, Journal, Store};
use rosey_sim::postgres_server::PostgresServer;

/// `DbService`'s default `max_batch`.
const MAX_BATCH: usize = 1024;

/// Decodes and applies `payloads`, in batches of `batch` (0: one commit each).
fn ingest(store: &mut Store, payloads: &[Bytes], batch: usize) {
    let clock = FixedClock(T0_MS);
    let subject = Subject::MessageLog.as_str();
    let one = |store: &mut Store, payload: &Bytes| {
        let command = Command::decode(subject, payload).expect("a well-formed payload");
        apply_command(store, &command, command_now(&command, &clock)).expect("applied");
    };
    if batch == 0 {
        payloads.iter().for_each(|payload| one(store, payload));
        return;
    }
    for chunk in payloads.chunks(batch) {
        store.begin_batch().expect("begin");
        chunk.iter().for_each(|payload| one(store, payload));
        store.commit_batch().expect("commit");
    }
}

fn open(path: &Path, journal: Journal) -> Store {
    Store::open_with(path, journal, T0_MS / 1000).expect("a bench database")
}

fn ingest_group(c: &mut Criterion) {
    let scale = if bench_mode() { 1 } else { 10 };
    let mut group = c.benchmark_group("ingest");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let dir = tempfile::tempdir().expect("a temp folder");
    let payloads: Vec<Bytes> = (0..10_000).map(|seq| flood_line(seq, T0_MS + seq as i64)).collect();

    let cases = [
        ("group_commit_wal", Journal::Wal, MAX_BATCH, 10_000),
        ("per_event_wal", Journal::Wal, 0, 1_000),
        ("per_event_v05_journal", Journal::V05Default, 0, 50),
    ];
    for (name, journal, batch, events) in cases {
        let events = events / scale;
        let mut store = open(&dir.path().join(format!("{name}.db")), journal);
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(name, |b| b.iter(|| ingest(&mut store, &payloads[..events], batch)));
    }
    // The same on a local PostgreSQL, durable as SQLite's WAL/NORMAL above.
    let postgres = PostgresServer::start_with(&["fsync=on", "synchronous_commit=off"]);
    for (name, batch, events) in [("group_commit_postgres", MAX_BATCH, 10_000), ("per_event_postgres", 0, 1_000)] {
        let events = events / scale;
        let mut store = Store::connect(&DbLocation::parse(&postgres.create_database(name)), T0_MS / 1000)
            .expect("the bench PostgreSQL accepts the store");
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(name, |b| b.iter(|| ingest(&mut store, &payloads[..events], batch)));
    }
    group.finish();
}

criterion_group!(benches, ingest_group);
criterion_main!(benches);
