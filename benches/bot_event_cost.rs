//! What one DB-facing event costs the bot: `Bot::handle` (or `Bot::status`)
//! plus `link.send` of its commands, in direct mode, on the simulated bus and
//! on live NATS, in one criterion group so the ratios come from one run.
//!
//! One iteration is one bot event. Events are timed in chunks of 256, each
//! ended by a flush, so the time includes writing them to the socket (both
//! bus clients write from a background task on the bot's own thread):
//!
//! - `direct`: `DirectLink` over a WAL file in a temp folder; every command is
//!   applied and committed before `send` returns (what direct mode does).
//! - `sim`: `BusLink<SimTransport>` in a turmoil client host. Only the bot
//!   host's own work is timed: a chunk runs inside one simulation step (the
//!   bench checks the tokio clock did not move, and says so if it did), so
//!   neither the bus host nor turmoil's stepping is billed to the bot.
//! - `live`: `BusLink<NatsTransport>` against a nats-server of its own;
//!   `publish` returns when queued, the flush when written. Nobody subscribes
//!   (the server drops the events): the bot's cost does not depend on it.
//!
//! `join` is `addUser` of a new user (two commands: `user.joined` and
//! `stats.high_water`); `leave` is `userLeave`; `high_water` is `usercount`;
//! `status` is the 10 s status tick. Unmeasured joins and leaves around each
//! chunk keep the channel at about 20 users.
//!
//! `cargo bench --bench bot_event_cost`

#[macro_use]
mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rosey::delivery::{JetStreamSettings, DEFAULT_ACK_WINDOW};
use rosey::link::{BusLink, Outbox};
use rosey::transport::Transport;
use rosey_sim::bus::{self, SimTransport, BUS_ADDR};
use rosey_sim::nats_server::NatsServer;

fn bot_event_cost(c: &mut Criterion) {
    let mut group = c.benchmark_group("bot_event_cost");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    let runtime = runtime();

    let dir = tempfile::tempdir().expect("a temp folder");
    let direct = direct_link(&dir.path().join("direct.db"));
    let (mut feed, opening) = Feed::new();
    runtime.block_on(send_all(&direct, opening));
    for kind in KINDS {
        group.bench_function(BenchmarkId::new("direct", kind.name()), |b| {
            b.iter_custom(|iters| runtime.block_on(bot_cost(&mut feed, &direct, kind, iters)).0)
        });
    }

    let spanned = Rc::new(Cell::new(0_u64));
    let counted = spanned.clone();
    let mut rig = SimRig::new(|jobs| {
        let mut sim = lan_sim!();
        sim.host("bus", || bus::serve(4222));
        sim.client("bot", sim_bot(jobs, counted));
        Box::new(move || sim.step().map_err(|e| e.to_string()))
    });
    for kind in KINDS {
        group.bench_function(BenchmarkId::new("sim", kind.name()), |b| b.iter_custom(|iters| rig.run((kind, iters))));
    }
    if spanned.get() > 0 {
        eprintln!("bot_event_cost/sim: {} chunks waited for another host: their times include it", spanned.get());
    }

    let server = NatsServer::start();
    let live = runtime.block_on(async {
        let link = BusLink::new(nats_connect(&server.url(), "bench-bot").await, Outbox::Hold);
        let (feed, opening) = Feed::new();
        send_all(&link, opening).await;
        (link, feed)
    });
    let (link, mut feed) = live;
    for kind in KINDS {
        group.bench_function(BenchmarkId::new("live", kind.name()), |b| {
            b.iter_custom(|iters| runtime.block_on(bot_cost(&mut feed, &link, kind, iters)).0)
        });
    }

    // JetStream: every publish carries an id and waits for its ack in the
    // window; the stream stores what nobody consumes.
    let store = tempfile::tempdir().expect("a temp folder for the JetStream store");
    let js_server = NatsServer::start_jetstream(store.path());
    let (js_link, mut js_feed) = runtime.block_on(async {
        let transport = nats_connect(&js_server.url(), "bench-bot").await;
        transport.ensure_stream(&JetStreamSettings::default().stream).await.expect("the stream");
        let link = BusLink::jetstream(transport, "bench".into(), DEFAULT_ACK_WINDOW);
        let (feed, opening) = Feed::new();
        send_all(&link, opening).await;
        (link, feed)
    });
    for kind in KINDS {
        group.bench_function(BenchmarkId::new("live-jetstream", kind.name()), |b| {
            b.iter_custom(|iters| runtime.block_on(bot_cost(&mut js_feed, &js_link, kind, iters)).0)
        });
    }
    group.finish();
}

/// The bot host: a bus link, the feed, and jobs of (kind, events).
async fn sim_bot((mut jobs, done): Jobs<(Kind, u64)>, spanned: Rc<Cell<u64>>) -> HostResult {
    let transport = SimTransport::connect(BUS_ADDR, sim_options("bot"));
    transport.round_trip().await?;
    let link = BusLink::new(transport, Outbox::Hold);
    let (mut feed, opening) = Feed::new();
    send_all(&link, opening).await;
    while let Some((kind, iters)) = jobs.recv().await {
        let (took, chunks) = bot_cost(&mut feed, &link, kind, iters).await;
        spanned.set(spanned.get() + chunks);
        done.set(Some(took));
    }
    Ok(())
}

criterion_group!(benches, bot_event_cost);
criterion_main!(benches);
