//! What nats-server's JetStream itself sustains on this machine, with no
//! rosey in the way: the ceiling the `end_to_end` and `loadtest` JetStream
//! figures are measured against.
//!
//! One iteration is a batch of chat-sized messages (5,000; 500 under `cargo
//! test --benches`) published by a raw async-nats client with at most 1,024
//! acknowledgements outstanding (rosey's `ack_window`), each waited for:
//!
//! - `publish`: plain publishes into a file-storage stream, nobody consuming;
//! - `publish-with-ids`: each with a `Nats-Msg-Id` (the server checks its
//!   duplicate window) and `Nats-Expected-Last-Msg-Id` (the server checks the
//!   order), as rosey's bot publishes;
//! - `publish-and-consume`: the ids as rosey's, and a durable pull consumer
//!   on another connection fetching and acknowledging every message
//!   (explicit acks, one per message, as rosey's db-service), timed until
//!   the last is consumed;
//! - `publish-and-consume-ack-all`: the same with `AckPolicy::All`, one ack
//!   per 200 messages (each acknowledges everything before it).
//!
//! `cargo bench --bench jetstream_ceiling`

#[macro_use]
mod common;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, context::PublishAckFuture, stream};
use common::*;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use futures::StreamExt;
use rosey_sim::nats_server::NatsServer;

/// rosey's default `ack_window`.
const WINDOW: usize = rosey::delivery::DEFAULT_ACK_WINDOW;

/// With `AckPolicy::All`, one ack per this many messages (about a
/// db-service commit's worth).
const ACK_ALL_EVERY: u64 = 200;

/// A chat line's payload, the size rosey's `rosey.db.message.log` carries.
const PAYLOAD: &[u8] =
    br#"{"at_ms":1731096106066,"message":"that drum fill at the end, every time","username":"Kaede_"}"#;

/// How each message is published.
#[derive(Clone, Copy)]
enum Ids {
    None,
    /// `Nats-Msg-Id` and `Nats-Expected-Last-Msg-Id`, as rosey's bot sends them.
    Rosey,
}

/// A raw publisher: its JetStream context and the next message's number.
struct Publisher {
    js: jetstream::Context,
    subject: String,
    next: u64,
}

impl Publisher {
    /// Publishes `n` messages with at most [`WINDOW`] acks outstanding, and waits for every ack.
    async fn publish(&mut self, n: u64, ids: Ids) {
        let mut pending: VecDeque<PublishAckFuture> = VecDeque::with_capacity(WINDOW);
        for _ in 0..n {
            if pending.len() == WINDOW {
                pending.pop_front().expect("a pending ack").await.expect("the stream stores it");
            }
            let mut message = jetstream::message::PublishMessage::build().payload(PAYLOAD.into());
            if let Ids::Rosey = ids {
                message = message.message_id(format!("bench-{}", self.next));
                if self.next > 0 {
                    message = message.expected_last_message_id(format!("bench-{}", self.next - 1));
                }
            }
            self.next += 1;
            let ack = self.js.send_publish(self.subject.clone(), message).await.expect("the publish goes out");
            pending.push_back(ack);
        }
        for ack in pending {
            ack.await.expect("the stream stores it");
        }
    }
}

async fn publisher(url: &str, stream_name: &str, subject: &str) -> Publisher {
    let client = async_nats::connect(url).await.expect("the bench's nats-server accepts connections");
    let js = jetstream::new(client);
    js.create_stream(stream::Config {
        name: stream_name.into(),
        subjects: vec![subject.into()],
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(300),
        ..Default::default()
    })
    .await
    .expect("the stream is created");
    Publisher { js, subject: subject.into(), next: 0 }
}

fn jetstream_ceiling(c: &mut Criterion) {
    let lines = batch_size();
    let mut group = batch_group(c, "jetstream_ceiling", lines);
    let runtime = runtime();
    let store = tempfile::tempdir().expect("a temp folder for the JetStream store");
    let server = NatsServer::start_jetstream(store.path());

    for (name, ids) in [("publish", Ids::None), ("publish-with-ids", Ids::Rosey)] {
        let mut publisher = runtime.block_on(publisher(&server.url(), name, &format!("ceiling.{name}")));
        group.bench_function(BenchmarkId::new(name, "chat"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        publisher.publish(lines, ids).await;
                    }
                    started.elapsed()
                })
            })
        });
    }

    for (name, policy) in [
        ("publish-and-consume", jetstream::consumer::AckPolicy::Explicit),
        ("publish-and-consume-ack-all", jetstream::consumer::AckPolicy::All),
    ] {
        let mut publisher = runtime.block_on(publisher(&server.url(), name, &format!("ceiling.{name}")));
        let mut messages = runtime.block_on(async {
            let client = async_nats::connect(&server.url()).await.expect("a consumer connection");
            let stream = jetstream::new(client).get_stream(name).await.expect("the stream");
            let consumer = stream
                .create_consumer(pull::Config {
                    durable_name: Some("ceiling".into()),
                    ack_policy: policy,
                    max_ack_pending: 10_000,
                    ..Default::default()
                })
                .await
                .expect("the consumer");
            consumer.messages().await.expect("the consumer's message stream")
        });
        group.bench_function(BenchmarkId::new(name, "chat"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let started = Instant::now();
                    for _ in 0..iters {
                        let consumed = async {
                            for n in 1..=lines {
                                let message = messages.next().await.expect("a message").expect("delivered");
                                // Explicit: every message; all: the last of every
                                // ACK_ALL_EVERY (each acknowledges those before it).
                                let ack = matches!(policy, jetstream::consumer::AckPolicy::Explicit)
                                    || n % ACK_ALL_EVERY == 0
                                    || n == lines;
                                if ack {
                                    message.ack().await.expect("acknowledged");
                                }
                            }
                        };
                        tokio::join!(publisher.publish(lines, Ids::Rosey), consumed);
                    }
                    started.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, jetstream_ceiling);
criterion_main!(benches);
