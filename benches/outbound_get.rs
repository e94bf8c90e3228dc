//! Request/reply latency of `rosey.db.messages.outbound.get` (the bot's 2 s
//! poll): simulated bus vs live NATS, idle and during a chat burst, with a raw
//! NATS request/reply against an echo responder alongside as the floor. One
//! criterion group.
//!
//! One iteration is one request, sent after the previous reply arrived.
//!
//! - `raw_nats`: `NatsTransport::request` to a responder (its own thread) that
//!   publishes the payload straight back: no decoding, no database.
//! - `live`: `BusLink<NatsTransport>::request` with the bot's poll, answered
//!   by a `DbService` (its own thread, WAL file, group commit) from its open
//!   transaction; the bot decodes the reply.
//! - `sim`: the same inside turmoil: the wall time of simulating one request
//!   (every host's work and turmoil's stepping), not a network latency.
//! - `live_postgres`: `live` with the db-service on a local PostgreSQL.
//! - `burst`: meanwhile a publisher floods `message.log` with 50,000 chat
//!   lines/s (live: its own thread and connection, in 1 ms slices; sim: a
//!   host publishing 50 per virtual ms), which the db-service applies.
//!
//! Criterion gives the typical latency; after each of its measurements the
//! bench times a further fixed number of requests (5,000 live, 2,000 sim)
//! one by one and writes their nearest-rank p50/p99/p99.9/max to
//! `<criterion home>/rosey-percentiles/outbound_get_<id>.json` (only under
//! `cargo bench`), which `benches/report.sh` reads.
//!
//! `cargo bench --bench outbound_get`

#[macro_use]
mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rosey::bot::{Outbound, Protocol};
use rosey::link::{BusLink, DbLink, Outbox};
use rosey::transport::{NatsTransport, Transport};
use rosey_sim::bus::{self, SimTransport, BUS_ADDR};
use rosey_sim::nats_server::NatsServer;
use rosey_sim::postgres_server::PostgresServer;

/// Chat lines per second during a burst.
const BURST_PER_SEC: u64 = 50_000;
const TIMEOUT: Duration = Duration::from_secs(10);

/// `iters` polls one after the other; each latency goes to `record` if given.
async fn polls<L: DbLink>(link: &L, iters: u64, record: Option<&RefCell<Vec<Duration>>>) -> Duration {
    let mut outbound = Outbound::new(Protocol::Hardened);
    let started = Instant::now();
    for _ in 0..iters {
        let asked = Instant::now();
        let poll = outbound.request(T0_MS);
        link.request(poll, TIMEOUT).await.expect("outbound.get answered");
        if let Some(samples) = record {
            samples.borrow_mut().push(asked.elapsed());
        }
    }
    started.elapsed()
}

/// `iters` echo requests one after the other, with the poll's payload.
async fn echoes(transport: &NatsTransport, iters: u64, record: Option<&RefCell<Vec<Duration>>>) -> Duration {
    let payload = Bytes::from(Outbound::new(Protocol::Hardened).request(T0_MS).encode());
    let started = Instant::now();
    for _ in 0..iters {
        let asked = Instant::now();
        transport.request(ECHO_SUBJECT, payload.clone(), TIMEOUT).await.expect("echoed");
        if let Some(samples) = record {
            samples.borrow_mut().push(asked.elapsed());
        }
    }
    started.elapsed()
}

/// Times `count` more requests with `run` and writes their percentiles, when
/// criterion measured that benchmark (`ran`: not filtered out, not a test run).
fn percentiles(ran: &Cell<bool>, name: &str, count: u64, run: impl FnOnce(u64, &RefCell<Vec<Duration>>)) {
    if !bench_mode() || !ran.replace(false) {
        return;
    }
    let samples = RefCell::new(Vec::with_capacity(count as usize));
    run(count, &samples);
    write_percentiles(&format!("outbound_get_{name}"), &mut samples.borrow_mut());
}

fn outbound_get(c: &mut Criterion) {
    let mut group = c.benchmark_group("outbound_get");
    group.sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("a temp folder");

    let server = NatsServer::start();
    let service = live_service(&server.url(), &dir.path().join("live.db"));
    let echo = live_echo(&server.url());
    let (link, raw) = runtime.block_on(async {
        (
            BusLink::new(nats_connect(&server.url(), "bench-bot").await, Outbox::Hold),
            nats_connect(&server.url(), "bench-raw").await,
        )
    });
    let ran = Cell::new(false);
    // The raw echo is the floor once per load; the service runs on each backend in turn.
    let live_pair = |group: &mut criterion::BenchmarkGroup<'_, _>, live: &str, load: &str| {
        if live == "live" {
            group.bench_function(BenchmarkId::new("raw_nats", load), |b| {
                ran.set(true);
                b.iter_custom(|iters| runtime.block_on(echoes(&raw, iters, None)))
            });
            percentiles(&ran, &format!("raw_nats_{load}"), 5_000, |n, samples| {
                runtime.block_on(echoes(&raw, n, Some(samples)));
            });
        }
        group.bench_function(BenchmarkId::new(live, load), |b| {
            ran.set(true);
            b.iter_custom(|iters| runtime.block_on(polls(&link, iters, None)))
        });
        percentiles(&ran, &format!("{live}_{load}"), 5_000, |n, samples| {
            runtime.block_on(polls(&link, n, Some(samples)));
        });
    };

    live_pair(&mut group, "live", "idle");
    let flood = live_flood(&server.url(), BURST_PER_SEC);
    live_pair(&mut group, "live", "burst");
    let flooded = flood.stop();
    let report = service.stop();
    eprintln!(
        "outbound_get/live/burst: {flooded} chat lines published; the db-service applied {} commands in {} commits",
        report.applied_total(),
        report.commits
    );

    // The same db-service on PostgreSQL (fsync on, synchronous_commit off: WAL/NORMAL's durability).
    let postgres = PostgresServer::start_with(&["fsync=on", "synchronous_commit=off"]);
    let service = live_postgres_service(&server.url(), &postgres.url());
    live_pair(&mut group, "live_postgres", "idle");
    let flood = live_flood(&server.url(), BURST_PER_SEC);
    live_pair(&mut group, "live_postgres", "burst");
    let flooded = flood.stop();
    drop(echo);
    let report = service.stop();
    eprintln!(
        "outbound_get/live_postgres/burst: {flooded} chat lines published; the db-service applied {} commands in {} commits",
        report.applied_total(),
        report.commits
    );

    for (load, flood_per_ms) in [("idle", 0), ("burst", BURST_PER_SEC / 1000)] {
        let samples: Samples = Rc::new(RefCell::new(Vec::new()));
        let db = dir.path().join(format!("sim-{load}.db"));
        let record = samples.clone();
        let mut rig = SimRig::new(|jobs| {
            let mut sim = lan_sim!();
            sim.host("bus", || bus::serve(4222));
            sim.host("db", move || sim_db_host(db.clone()));
            if flood_per_ms > 0 {
                sim.host("flood", move || sim_flood_host(flood_per_ms));
            }
            sim.client("bot", sim_bot(jobs, record));
            Box::new(move || sim.step().map_err(|e| e.to_string()))
        });
        group.bench_function(BenchmarkId::new("sim", load), |b| {
            ran.set(true);
            b.iter_custom(|iters| rig.run((iters, false)))
        });
        percentiles(&ran, &format!("sim_{load}"), 2_000, |n, into| {
            rig.run((n, true));
            into.borrow_mut().append(&mut samples.borrow_mut());
        });
    }
    group.finish();
}

/// The bot host: jobs of (requests, whether to record each latency).
async fn sim_bot((mut jobs, done): Jobs<(u64, bool)>, samples: Samples) -> HostResult {
    let transport = SimTransport::connect(BUS_ADDR, sim_options("bot"));
    transport.round_trip().await?;
    let link = BusLink::new(transport, Outbox::Hold);
    sim_wait_for_service(&link).await;
    while let Some((iters, record)) = jobs.recv().await {
        done.set(Some(polls(&link, iters, record.then_some(&*samples)).await));
    }
    Ok(())
}

criterion_group!(benches, outbound_get);
criterion_main!(benches);
