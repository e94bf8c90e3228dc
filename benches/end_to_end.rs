//! Event in to row committed, per event: direct mode, the simulated bus and
//! live NATS, in one criterion group.
//!
//! One iteration is a batch of chat lines (5,000; 500 under `cargo test
//! --benches`), each through `Bot::handle` and `link.send`; criterion's
//! throughput is that batch, so its time per element is the cost per event.
//!
//! - `direct`: `DirectLink` over a WAL file: each line is applied and
//!   committed (its own transaction) before `send` returns.
//! - `live`: the bot publishes the batch through `BusLink<NatsTransport>`,
//!   then sends a `recent_chat.get` request. A `DbService` (its own thread,
//!   WAL file, group commit as shipped: `ServiceConfig::default()`) serves
//!   chat and `recent_chat.get` on one lane in arrival order and replies
//!   after the commit that holds everything before the request, so the reply
//!   proves every line of the batch is committed. (An enqueue would not: the
//!   outbound queue's commands are served ahead of a backlog of chat.) The
//!   time runs from the first `handle` to that reply.
//! - `sim`: the same over the simulated bus inside turmoil (bus, db-service
//!   and bot hosts): the wall time of simulating it, every host's work and
//!   turmoil's stepping included, all on this one thread.
//!
//! `cargo bench --bench end_to_end`

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rosey::contract::{Command, RecentChatGet, Reply, Request};
use rosey::delivery::DEFAULT_ACK_WINDOW;
use rosey::link::{BusLink, DbLink, Outbox};
use rosey::transport::Transport;
use rosey_sim::bus::{self, SimTransport, BUS_ADDR};
use rosey_sim::nats_server::NatsServer;

/// How long the proof of a batch may take.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

/// How a batch is proved committed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Confirm {
    /// Direct mode: `send` returns after the commit.
    None,
    /// A `recent_chat.get`. Core: answered after the commit that holds
    /// every chat line before it on its lane. JetStream: answered once the
    /// stream is applied up to the last sequence it held when the read arrived.
    Read,
}

/// One batch: `lines` chat lines through the bot, then (for a bus link) the
/// request whose reply proves them committed.
async fn batch<L: DbLink>(feed: &mut Feed, link: &L, lines: u64, confirm: Confirm) {
    let at_ms = feed.tick();
    for _ in 0..lines {
        for command in feed.chat(at_ms) {
            link.send(command).await.expect("send");
        }
    }
    match confirm {
        Confirm::None => {}
        Confirm::Read => {
            link.before_read(CONFIRM_TIMEOUT).await.expect("the stream acknowledges the batch");
            let read = Command::Request(Request::RecentChat(RecentChatGet { limit: 1, at_ms: None }));
            match link.request(read, CONFIRM_TIMEOUT).await {
                Ok(Reply::RecentChat(_)) => {}
                other => panic!("the batch was not confirmed: {other:?}"),
            }
        }
    }
}

async fn batches<L: DbLink>(feed: &mut Feed, link: &L, iters: u64, lines: u64, confirm: Confirm) -> Duration {
    let started = Instant::now();
    for _ in 0..iters {
        batch(feed, link, lines, confirm).await;
    }
    started.elapsed()
}

fn end_to_end(c: &mut Criterion) {
    let lines = batch_size();
    let mut group = batch_group(c, "end_to_end", lines);
    let runtime = runtime();
    let dir = tempfile::tempdir().expect("a temp folder");

    let direct = direct_link(&dir.path().join("direct.db"));
    let (mut feed, opening) = Feed::new();
    runtime.block_on(send_all(&direct, opening));
    group.bench_function(BenchmarkId::new("direct", "chat"), |b| {
        b.iter_custom(|iters| runtime.block_on(batches(&mut feed, &direct, iters, lines, Confirm::None)))
    });

    let sim_db = dir.path().join("sim.db");
    let mut rig = SimRig::new(|jobs| {
        let mut sim = lan_sim!();
        sim.host("bus", || bus::serve(4222));
        sim.host("db", move || sim_db_host(sim_db.clone()));
        sim.client("bot", sim_bot(jobs, lines));
        Box::new(move || sim.step().map_err(|e| e.to_string()))
    });
    group.bench_function(BenchmarkId::new("sim", "chat"), |b| b.iter_custom(|iters| rig.run(iters)));

    let server = NatsServer::start();
    let service = live_service(&server.url(), &dir.path().join("live.db"));
    let (link, mut feed) = runtime.block_on(async {
        let link = BusLink::new(nats_connect(&server.url(), "bench-bot").await, Outbox::Hold);
        let (feed, opening) = Feed::new();
        send_all(&link, opening).await;
        (link, feed)
    });
    group.bench_function(BenchmarkId::new("live", "chat"), |b| {
        b.iter_custom(|iters| runtime.block_on(batches(&mut feed, &link, iters, lines, Confirm::Read)))
    });
    let report = service.stop();

    let store = tempfile::tempdir().expect("a temp folder for the JetStream store");
    let js_server = NatsServer::start_jetstream(store.path());
    let js_service = live_jetstream_service(&js_server.url(), &dir.path().join("live-js.db"));
    let (js_link, mut js_feed) = runtime.block_on(async {
        let link =
            BusLink::jetstream(nats_connect(&js_server.url(), "bench-bot").await, "bench".into(), DEFAULT_ACK_WINDOW);
        let (feed, opening) = Feed::new();
        send_all(&link, opening).await;
        (link, feed)
    });
    group.bench_function(BenchmarkId::new("live-jetstream", "chat"), |b| {
        b.iter_custom(|iters| runtime.block_on(batches(&mut js_feed, &js_link, iters, lines, Confirm::Read)))
    });
    group.finish();
    let js_report = js_service.stop();
    for (name, report) in [("live", report), ("live-jetstream", js_report)] {
        eprintln!(
            "end_to_end/{name}: the db-service applied {} commands in {} commits ({:.0} per commit)",
            report.applied_total(),
            report.commits,
            report.applied_total() as f64 / report.commits.max(1) as f64
        );
    }
}

/// The bot host: waits for the db-service, then runs jobs of `iters` batches.
async fn sim_bot((mut jobs, done): Jobs<u64>, lines: u64) -> HostResult {
    let transport = SimTransport::connect(BUS_ADDR, sim_options("bot"));
    transport.round_trip().await?;
    let link = BusLink::new(transport, Outbox::Hold);
    sim_wait_for_service(&link).await;
    let (mut feed, opening) = Feed::new();
    send_all(&link, opening).await;
    while let Some(iters) = jobs.recv().await {
        done.set(Some(batches(&mut feed, &link, iters, lines, Confirm::Read).await));
    }
    Ok(())
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
