//! Helpers shared by the live tests: a db-service on a live server, the
//! committed fixtures, the direct-mode reference run.

#![allow(dead_code)]

use std::future::Future;
use std::path::{Path, PathBuf};

use rosey::bot::Protocol;
use rosey::clock::FixedClock;
use rosey::fixture::Fixture;
use rosey::service::{DbService, ServiceConfig, ServiceReport};
use rosey::store::{DbDump, Store};
use rosey::trace::Trace;
use rosey::transport::{NatsOptions, NatsTransport};
use tokio::sync::oneshot;

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/chat").join(name)
}

pub fn load_fixture(name: &str) -> Fixture {
    Fixture::load(&fixture_path(name)).expect("committed fixtures are sound")
}

pub fn options(url: &str, name: &str) -> NatsOptions {
    NatsOptions { url: url.to_string(), name: name.to_string(), ..NatsOptions::default() }
}

pub async fn connect(url: &str, name: &str) -> NatsTransport {
    NatsTransport::connect(&options(url, name)).await.expect("the test's nats-server accepts connections")
}

/// The direct-mode reference: the fixture replayed with no bus.
pub fn direct_dump(fixture: &Fixture) -> DbDump {
    let store = Store::open_in_memory(fixture.header.start_unix_ms / 1000).unwrap();
    let (_, store) = rosey_sim::direct::run_direct(fixture, store, Protocol::Hardened, Trace::new(false));
    store.dump().unwrap()
}

/// A db-service on `url`, ready to be driven: await `ready` before sending,
/// send on `stop` to make it drain, commit and return.
pub struct ServiceHandle<F> {
    pub run: F,
    pub ready: oneshot::Receiver<()>,
    pub stop: oneshot::Sender<()>,
}

pub async fn service(
    url: &str,
    store: Store,
    config: ServiceConfig,
) -> ServiceHandle<impl Future<Output = (ServiceReport, Store)>> {
    let transport = connect(url, "test-db-service").await;
    let (ready_tx, ready) = oneshot::channel();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let clock = FixedClock(1_731_000_000_000);
    let service = DbService::new(transport, store, clock, config).with_ready(ready_tx);
    let run = async move {
        service
            .run(async move {
                let _ = stop_rx.await;
            })
            .await
            .expect("the db-service subscribes")
    };
    ServiceHandle { run, ready, stop }
}
