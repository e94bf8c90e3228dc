//! Quiet stepping changes nothing but the wall time: a run that passes quiet
//! stretches in one step (the default) writes the same trace, byte for byte,
//! and the same database as one that steps turmoil every tick. And the
//! patched turmoil refuses to pass a stretch it cannot see through: a host
//! woken by another host is not quiet, and a timer nobody registered fails
//! the run instead of being skipped over.

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use rosey::bot::Protocol;
use rosey::delivery::Delivery;
use rosey_sim::run::{Overrides, Prepared, RunResult};
use rosey_sim::scenario::Mode;

fn run(scenario: &str, overrides: Overrides) -> RunResult {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios").join(scenario);
    Prepared::load(&path, Mode::Bus).unwrap().run(overrides).unwrap()
}

/// Each kind of host and fault the scenarios use: the CyTube host and its
/// chat faults, crashes and bus restarts, JetStream with several
/// db-services, and v0.5.0's retries, plus swarm seeds that draw their own.
#[test]
fn skipping_quiet_stretches_gives_the_run_stepping_every_tick_gives() {
    let cases: [(&str, Overrides); 8] = [
        ("chat-smoke.toml", Overrides::default()),
        ("zoo-db-down.toml", Overrides::default()),
        ("zoo-lost-mark-sent.toml", Overrides { protocol: Some(Protocol::V05), ..Overrides::default() }),
        ("zoo-reconnect-said-twice.toml", Overrides { protocol: Some(Protocol::V05), ..Overrides::default() }),
        ("jetstream-full-window.toml", Overrides::default()),
        ("failover-jetstream.toml", Overrides::default()),
        ("swarm.toml", Overrides { seed: Some(11), ..Overrides::default() }),
        ("swarm.toml", Overrides { seed: Some(12), delivery: Some(Delivery::Jetstream), ..Overrides::default() }),
    ];
    for (scenario, overrides) in cases {
        let skipping = run(scenario, overrides);
        let stepping = run(scenario, Overrides { every_tick: true, ..overrides });
        let what = format!("{scenario} seed {}", skipping.seed);
        assert_eq!(skipping.trace_hash, stepping.trace_hash, "{what}: the traces differ");
        assert_eq!(skipping.trace.lines(), stepping.trace.lines(), "{what}: the traces differ");
        assert_eq!(skipping.dump, stepping.dump, "{what}: the databases differ");
        assert_eq!(skipping.passed, stepping.passed, "{what}: the verdicts differ");
        assert!(!skipping.trace.lines().is_empty(), "{what}: nothing ran");
    }
}

fn quiet_sim(seed: u64) -> turmoil::Sim<'static> {
    let mut builder = rosey_sim::bus::sim_builder(seed, 0);
    builder.tick_duration(Duration::from_millis(10));
    builder.build()
}

/// Runs a waiter host and a client that wakes it through a `Notify` after
/// 100 ms; returns whether the waiter ticked before the client in the step the
/// client notified it (then the wake came from outside the waiter's tick).
fn wake_across_hosts(seed: u64) -> bool {
    let mut sim = quiet_sim(seed);
    let notify = Rc::new(tokio::sync::Notify::new());
    let (woken, notified) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)));
    let (waiter, seen) = (notify.clone(), woken.clone());
    sim.host("waiter", move || {
        let (waiter, seen) = (waiter.clone(), seen.clone());
        async move {
            waiter.notified().await;
            seen.set(true);
            std::future::pending::<()>().await;
            Ok(())
        }
    });
    let (waker, told) = (notify.clone(), notified.clone());
    sim.client("waker", async move {
        rosey::timers::sleep(Duration::from_millis(100)).await;
        waker.notify_one();
        told.set(true);
        std::future::pending::<()>().await;
        Ok(())
    });
    let timers = rosey::timers::Watch::install(turmoil::sim_elapsed);
    // Both start woken (their software is new); after one step both are idle
    // until the client's timer, which bounds the stretch a driver may take.
    assert_eq!(sim.quiet_steps(1_000), 0, "new software is due at once");
    sim.step().unwrap();
    assert_eq!(sim.quiet_steps(1_000), 1_000, "nothing is due on either host");
    let due = timers.next_due(sim.elapsed()).expect("the client's timer is registered");
    sim.step_quiet((due - sim.elapsed()).as_millis() as u64 / 10).unwrap();
    assert_eq!(timers.next_due(sim.elapsed()), Some(due), "the timer fired at the stretch's end, its task not yet run");
    while !notified.get() {
        sim.step().unwrap();
    }
    let waiter_ran_first = !woken.get();
    if waiter_ran_first {
        assert_eq!(sim.quiet_steps(1_000), 0, "seed {seed}: the waiter was woken from outside its tick");
        sim.step().unwrap();
    }
    assert!(woken.get(), "seed {seed}: the waiter ran");
    waiter_ran_first
}

#[test]
fn a_host_woken_by_another_is_not_quiet() {
    let crossed = (1..=12).filter(|&seed| wake_across_hosts(seed)).count();
    assert!(crossed > 0, "no seed ticked the waiter before the client: the cross-host wake went unchecked");
}

#[test]
fn a_timer_nobody_registered_fails_the_stretch_it_was_skipped_in() {
    let mut sim = quiet_sim(5);
    sim.host("sleeper", || async {
        // Made straight from tokio, as code outside `rosey::timers` would.
        #[allow(clippy::disallowed_methods)]
        tokio::time::sleep(Duration::from_millis(250)).await;
        std::future::pending::<()>().await;
        Ok(())
    });
    let _timers = rosey::timers::Watch::install(turmoil::sim_elapsed);
    sim.step().unwrap();
    let quiet = sim.quiet_steps(100);
    assert_eq!(quiet, 100, "turmoil alone cannot see the host's timer");
    let error = sim.step_quiet(quiet).expect_err("the sleeper woke inside the stretch").to_string();
    assert!(error.contains("host sleeper woke"), "{error}");
    assert!(error.contains("rosey::timers"), "the error says what to do: {error}");
}
