//! One writer at a time: db-services sharing a database elect the one that applies.
//!
//! Each instance connects to the bus, then tries the store's writer lease
//! (`store::lease`: a lock file beside an SQLite database, an advisory lock on
//! PostgreSQL). The holder subscribes and serves as a plain [`DbService`]; the others
//! stand by, subscribed to nothing, so core NATS routes every command to the holder and a
//! request meets "no responders" (which the bot already handles) rather than a standby.
//! A standby tries again every [`Leadership::retry_every`] while it has the bus (an
//! instance that cannot hear the bus never takes the lease), and takes over when:
//! - the holder died: the kernel (lock file) or the server (advisory lock) drops the lease;
//! - the holder lost the bus for [`Leadership::step_down_after`]: it gives the lease up
//!   itself, since what it cannot hear a standby can, and waits two retries before it
//!   tries again, so a connected standby gets there first;
//! - the holder lost its database connection: it stops applying at once.
//!
//! With `delivery = "jetstream"` a takeover loses and duplicates nothing: the stream keeps
//! what nobody acknowledged, and the new holder resumes after the applied sequence stored
//! in the same transactions as the effects. With core delivery, what is published while
//! no one holds the lease has no subscriber, as with no db-service at all.

use std::future::Future;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{DbService, ServiceReport};
use crate::clock::Clock;
use crate::store::Store;
use crate::transport::{Transport, TransportError};

/// How standbys wait and when a holder gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leadership {
    /// How often a standby tries the lease.
    pub retry_every: Duration,
    /// How long the holder may be cut off from the bus before it steps down.
    pub step_down_after: Duration,
}

/// A standby tries twice a second: a takeover starts within half a second of the lease's
/// release.
pub const DEFAULT_RETRY_EVERY: Duration = Duration::from_millis(500);

/// Longer than a nats-server restart takes (about a second here), so a restart does not
/// move the lease; short enough that a partitioned holder hands over within seconds.
pub const DEFAULT_STEP_DOWN_AFTER: Duration = Duration::from_secs(5);

impl Default for Leadership {
    fn default() -> Leadership {
        Leadership { retry_every: DEFAULT_RETRY_EVERY, step_down_after: DEFAULT_STEP_DOWN_AFTER }
    }
}

/// How often an instance without the bus looks again.
const BUS_CHECK: Duration = Duration::from_millis(20);

/// Why a term ended.
#[derive(Clone, Copy)]
enum TermEnd {
    /// By itself: its database connection was lost, or the bus closed its subscription.
    Itself,
    Shutdown,
    CutOff,
}

/// Serves as one of several db-services sharing `store`'s database until `shutdown`:
/// stands by until it holds the lease, then applies as `start_term` builds the service,
/// again after every step-down. `reopen` replaces a store whose connection was lost
/// (`None`: keep trying). `ready` fires once the instance is either applying or standing by.
///
/// Returns what every term applied together, and the store.
///
/// # Errors
/// Those of [`DbService::run`]; a store error while trying the lease is logged and retried.
pub async fn serve_elected<T: Transport + Clone, C: Clock>(
    transport: T,
    mut store: Store,
    leadership: Leadership,
    mut start_term: impl FnMut(T, Store) -> DbService<T, C>,
    mut reopen: impl FnMut() -> Option<Store>,
    mut ready: Option<oneshot::Sender<()>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(ServiceReport, Store), TransportError> {
    let mut shutdown = std::pin::pin!(shutdown);
    let mut total = ServiceReport::default();
    let mut standing_by = false;
    loop {
        if store.is_lost() {
            match reopen() {
                Some(fresh) => store = fresh,
                None => {
                    if wait_or_stop(leadership.retry_every, &mut shutdown).await {
                        return Ok((total, store));
                    }
                    continue;
                }
            }
        }
        // Without the bus this instance could take the lease but apply nothing: wait for
        // it (briefly, so the first connection is not a whole retry late).
        if !transport.is_connected() {
            if wait_or_stop(leadership.retry_every.min(BUS_CHECK), &mut shutdown).await {
                return Ok((total, store));
            }
            continue;
        }
        let leading = match store.try_lead() {
            Ok(leading) => leading,
            Err(error) => {
                tracing::warn!(%error, "[db] cannot try the writer's lease; trying again");
                false
            }
        };
        if !leading {
            if !standing_by {
                tracing::info!("[db] standing by: another db-service holds the writer's lease");
                standing_by = true;
            }
            if let Some(ready) = ready.take() {
                let _ = ready.send(());
            }
            if wait_or_stop(leadership.retry_every, &mut shutdown).await {
                return Ok((total, store));
            }
            continue;
        }
        standing_by = false;
        tracing::info!("[db] holding the writer's lease: this instance applies");
        let mut service = start_term(transport.clone(), store);
        if let Some(ready) = ready.take() {
            service = service.with_ready(ready);
        }
        let ended = std::cell::Cell::new(TermEnd::Itself);
        let term_end = async {
            tokio::select! {
                () = &mut shutdown => ended.set(TermEnd::Shutdown),
                () = cut_off(&transport, leadership.step_down_after) => ended.set(TermEnd::CutOff),
            }
        };
        let (report, returned) = service.run(term_end).await?;
        total.absorb(report);
        store = returned;
        match ended.get() {
            TermEnd::Shutdown => return Ok((total, store)),
            TermEnd::Itself if !store.is_lost() => return Ok((total, store)),
            TermEnd::Itself => {
                // Reconnect, then stand by: a successor may hold the lease by now.
                store.step_down();
            }
            TermEnd::CutOff => {
                tracing::warn!(
                    after = ?leadership.step_down_after,
                    "[db] the bus has been unreachable too long: giving the writer's lease up"
                );
                store.step_down();
            }
        }
        // A standby that can hear the bus gets the first try.
        if wait_or_stop(leadership.retry_every * 2, &mut shutdown).await {
            return Ok((total, store));
        }
    }
}

/// Resolves once the bus has been unreachable for `limit` without a break.
async fn cut_off<T: Transport>(transport: &T, limit: Duration) {
    let check = (limit / 10).max(Duration::from_millis(10));
    let mut down_for = Duration::ZERO;
    loop {
        crate::timers::sleep(check).await;
        if transport.is_connected() {
            down_for = Duration::ZERO;
        } else {
            down_for += check;
            if down_for >= limit {
                return;
            }
        }
    }
}

/// Waits `pause`; `true` when `shutdown` came first.
async fn wait_or_stop(pause: Duration, shutdown: &mut std::pin::Pin<&mut impl Future<Output = ()>>) -> bool {
    tokio::select! {
        () = shutdown.as_mut() => true,
        () = crate::timers::sleep(pause) => false,
    }
}
