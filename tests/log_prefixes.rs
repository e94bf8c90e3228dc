//! The seed's `[NATS]` / `[DB]` log prefixes tell an operator which path ran.
//! In its own test binary because tracing-test installs a global subscriber.

use std::time::Duration;

use rosey::bot::{Outbound, Protocol};
use rosey::clock::FixedClock;
use rosey::contract::{Command, UserEvent};
use rosey::link::{BusLink, DbLink, DirectLink, DualLink, LinkError, Outbox};
use rosey::store::Store;
use rosey::transport::{NatsOptions, NatsTransport};
use rosey_sim::nats_server::NatsServer;
use tracing_test::traced_test;

fn joined(name: &str) -> Command {
    Command::UserJoined(UserEvent { username: name.into(), at_ms: Some(1_731_000_000_000) })
}

fn direct() -> DirectLink<FixedClock> {
    DirectLink::new(Store::open_in_memory(1_731_000_000).unwrap(), FixedClock(1_731_000_000_000))
}

async fn connect(server: &NatsServer) -> NatsTransport {
    let options = NatsOptions { url: server.url(), name: "log-test".into(), ..NatsOptions::default() };
    NatsTransport::connect(&options).await.unwrap()
}

#[tokio::test]
#[traced_test]
async fn direct_mode_logs_db() {
    direct().send(joined("amy")).await.unwrap();
    assert!(logs_contain("[DB] apply"));
    assert!(!logs_contain("[NATS]"));
}

#[tokio::test]
#[traced_test]
async fn bus_mode_logs_nats() {
    let server = NatsServer::start();
    let link = BusLink::new(connect(&server).await, Outbox::Hold);
    link.send(joined("amy")).await.unwrap();
    assert!(logs_contain("[NATS] publish"));
    assert!(!logs_contain("[DB]"));
}

/// Dual mode with no db-service: the poll finds no responders and is answered
/// by the store itself, and the log says so.
#[tokio::test]
#[traced_test]
async fn dual_mode_falls_back_to_the_store_and_says_so() {
    let server = NatsServer::start();
    let link = DualLink::new(BusLink::new(connect(&server).await, Outbox::None), direct());
    let reply =
        link.request(Outbound::new(Protocol::Hardened).request(1_731_000_002_000), Duration::from_secs(2)).await;
    assert!(matches!(reply, Ok(rosey::contract::Reply::Outbound(_))), "{reply:?}");
    assert!(logs_contain("[NATS] request failed"));
    assert!(logs_contain("[DB] asking the store directly"));
    // The bus answers no-responders; the bus link alone reports it.
    let bus_only = BusLink::new(connect(&server).await, Outbox::Hold);
    let err = bus_only.request(Outbound::new(Protocol::Hardened).request(0), Duration::from_secs(2)).await;
    assert!(err.as_ref().is_err_and(LinkError::is_no_responders), "{err:?}");
}
