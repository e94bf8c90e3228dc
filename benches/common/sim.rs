//! Benches under turmoil: a LAN-latency builder, a rig that keeps one
//! simulation alive across criterion's calls, and the db-service and
//! flooder hosts.

use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use rosey::bot::Protocol;
use rosey::clock::FixedClock;
use rosey::contract::Subject;
use rosey::link::{BusLink, DbLink};
use rosey::service::{DbService, ServiceConfig};
use rosey::transport::Transport;
use rosey_sim::bus::{SimTransport, BUS_ADDR};
use tokio::sync::mpsc;

use super::setup::{flood_line, sim_options, wal_store, T0_MS};

/// What a simulated host returns (turmoil's `Result`; turmoil itself is
/// only a dependency of `rosey-sim`, so benches build sims without naming its types).
pub type HostResult = Result<(), Box<dyn std::error::Error>>;

/// A turmoil builder for the benches: [`bus::sim_builder`] with link latency
/// 0-1 ms (a LAN; turmoil's default is 0-100 ms) and its 1 ms tick.
#[macro_export]
macro_rules! lan_sim {
    () => {{
        let mut builder = rosey_sim::bus::sim_builder(1, $crate::common::T0_MS);
        builder.min_message_latency(std::time::Duration::ZERO).max_message_latency(std::time::Duration::from_millis(1));
        builder.build()
    }};
}

/// A turmoil simulation kept alive across criterion's calls: the client host
/// waits for jobs, and [`SimRig::run`] steps the simulation until the job's
/// result is in. Nothing is stepped between jobs.
pub struct SimRig<'a, J> {
    step: Box<dyn FnMut() -> Result<bool, String> + 'a>,
    jobs: mpsc::UnboundedSender<J>,
    done: Rc<Cell<Option<Duration>>>,
}

/// What a rig's client gets: its jobs, and where to put each job's time.
pub type Jobs<J> = (mpsc::UnboundedReceiver<J>, Rc<Cell<Option<Duration>>>);

impl<'a, J: 'static> SimRig<'a, J> {
    /// `build` makes the sim (hosts, and a client that serves the jobs it is
    /// given) and returns its step function.
    pub fn new(build: impl FnOnce(Jobs<J>) -> Box<dyn FnMut() -> Result<bool, String> + 'a>) -> Self {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let done = Rc::new(Cell::new(None));
        let step = build((receiver, done.clone()));
        SimRig { step, jobs, done }
    }

    /// Runs one job to its end.
    pub fn run(&mut self, job: J) -> Duration {
        self.jobs.send(job).unwrap_or_else(|_| panic!("the sim client has ended"));
        loop {
            if let Some(took) = self.done.take() {
                return took;
            }
            match (self.step)() {
                Ok(false) => {}
                Ok(true) => panic!("the sim client ended before its job was done"),
                Err(error) => panic!("the simulation failed: {error}"),
            }
        }
    }
}

/// Waits until a db-service answers on the simulated bus.
pub async fn sim_wait_for_service(link: &BusLink<SimTransport>) {
    loop {
        let poll = rosey::bot::Outbound::new(Protocol::Hardened).request(T0_MS);
        if link.request(poll, Duration::from_secs(1)).await.is_ok() {
            return;
        }
        rosey::timers::sleep(Duration::from_millis(10)).await;
    }
}

/// A db-service host for a sim, over the WAL file at `path`, group commit:
/// `sim.host("db", move || sim_db_host(path.clone()))`.
pub async fn sim_db_host(path: PathBuf) -> HostResult {
    let transport = SimTransport::connect(BUS_ADDR, sim_options("db"));
    let service = DbService::new(transport, wal_store(&path), FixedClock(T0_MS), ServiceConfig::default());
    service.run(std::future::pending()).await?;
    Ok(())
}

/// A host publishing `per_ms` chat lines every virtual millisecond.
pub async fn sim_flood_host(per_ms: u64) -> HostResult {
    let transport = SimTransport::connect(BUS_ADDR, sim_options("flood"));
    transport.round_trip().await?;
    let mut seq = 0_u64;
    loop {
        for _ in 0..per_ms {
            seq += 1;
            transport.publish(Subject::MessageLog.as_str(), flood_line(seq, T0_MS)).await?;
        }
        rosey::timers::sleep(Duration::from_millis(1)).await;
    }
}
