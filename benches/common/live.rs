//! Helpers on a live nats-server, each on its own thread and runtime and
//! stopped and joined on drop: a db-service, an echo responder, a chat flooder.

use std::future::Future;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rosey::clock::{Clock, SystemClock};
use rosey::contract::Subject;
use rosey::delivery::Delivery;
use rosey::service::{DbService, ServiceConfig, ServiceReport};
use rosey::store::Store;
use rosey::transport::{Subscription, Transport};
use tokio::sync::oneshot;

use super::setup::{flood_line, nats_connect, runtime, wal_store, ECHO_SUBJECT, T0_MS};

/// A thread running `body` on its own current-thread runtime until `stop`
/// fires; joined (and its result returned) by [`Worker::stop`] or on drop.
pub struct Worker<R> {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<R>>,
}

impl<R: Send + 'static> Worker<R> {
    /// Starts `body(stop)`; returns once `body` has called `ready`.
    pub fn start<F, Fut>(name: &str, body: F) -> Worker<R>
    where
        F: FnOnce(oneshot::Receiver<()>, std::sync::mpsc::Sender<()>) -> Fut + Send + 'static,
        Fut: Future<Output = R>,
    {
        let (stop, stop_rx) = oneshot::channel();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || runtime().block_on(body(stop_rx, ready_tx)))
            .expect("a bench thread");
        ready.recv_timeout(Duration::from_secs(20)).unwrap_or_else(|_| panic!("{name} did not become ready"));
        Worker { stop: Some(stop), thread: Some(thread) }
    }

    pub fn stop(mut self) -> R {
        self.finish().expect("stopped once")
    }

    fn finish(&mut self) -> Option<R> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread.take().map(|thread| thread.join().expect("the bench thread panicked"))
    }
}

impl<R> Drop for Worker<R> {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A db-service on the live server: WAL file at `path`, group commit
/// (`ServiceConfig::default()`), on its own thread.
pub fn live_service(url: &str, path: &Path) -> Worker<ServiceReport> {
    let path = path.to_path_buf();
    live_service_with(url, move || wal_store(&path), ServiceConfig::default())
}

/// [`live_service`] on a PostgreSQL database (`db_url`): the same service, the other backend.
pub fn live_postgres_service(url: &str, db_url: &str) -> Worker<ServiceReport> {
    let db_url = db_url.to_string();
    let open = move || {
        Store::connect(&rosey::store::DbLocation::parse(&db_url), T0_MS / 1000).expect("a bench PostgreSQL database")
    };
    live_service_with(url, open, ServiceConfig::default())
}

/// [`live_service`] with JetStream delivery: it creates the stream and
/// consumes it with the durable consumer.
pub fn live_jetstream_service(url: &str, path: &Path) -> Worker<ServiceReport> {
    let path = path.to_path_buf();
    live_service_with(
        url,
        move || wal_store(&path),
        ServiceConfig { delivery: Delivery::Jetstream, ..ServiceConfig::default() },
    )
}

fn live_service_with(
    url: &str,
    open: impl FnOnce() -> Store + Send + 'static,
    config: ServiceConfig,
) -> Worker<ServiceReport> {
    let url = url.to_string();
    Worker::start("db-service", move |stop, ready| async move {
        let transport = nats_connect(&url, "bench-db-service").await;
        let (ready_tx, ready_rx) = oneshot::channel();
        let service = DbService::new(transport, open(), SystemClock, config).with_ready(ready_tx);
        let run = service.run(async move {
            let _ = stop.await;
        });
        let announce = async move {
            if ready_rx.await.is_ok() {
                let _ = ready.send(());
            }
        };
        let (result, ()) = tokio::join!(run, announce);
        result.expect("the db-service subscribes").0
    })
}

/// Replies to every request on [`ECHO_SUBJECT`] with its payload: the floor
/// of a NATS request/reply, with no work behind it.
pub fn live_echo(url: &str) -> Worker<()> {
    let url = url.to_string();
    Worker::start("echo", move |mut stop, ready| async move {
        let transport = nats_connect(&url, "bench-echo").await;
        let mut requests = transport.subscribe(ECHO_SUBJECT, None).await.expect("subscribe");
        transport.round_trip().await.expect("round trip");
        let _ = ready.send(());
        loop {
            tokio::select! {
                _ = &mut stop => break,
                request = requests.next() => {
                    let Some(request) = request else { break };
                    if let Some(reply) = request.reply {
                        let _ = transport.publish(&reply, request.payload).await;
                    }
                }
            }
        }
    })
}

/// Publishes chat lines at `per_sec` (in 1 ms slices) until stopped; returns
/// how many it published.
pub fn live_flood(url: &str, per_sec: u64) -> Worker<u64> {
    let url = url.to_string();
    Worker::start("flood", move |mut stop, ready| async move {
        let transport = nats_connect(&url, "bench-flood").await;
        let _ = ready.send(());
        let started = Instant::now();
        let mut sent = 0_u64;
        loop {
            let due = (per_sec as f64 * started.elapsed().as_secs_f64()) as u64;
            while sent < due {
                sent += 1;
                transport.publish(Subject::MessageLog.as_str(), flood_line(sent, SystemClock.now_ms())).await.ok();
            }
            tokio::select! {
                _ = &mut stop => break,
                () = rosey::timers::sleep(Duration::from_millis(1)) => {}
            }
        }
        let _ = transport.flush().await;
        sent
    })
}
