//! The NATS connection's state, for the bot and the db-service alike.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// `rosey_bus_connected` and `rosey_bus_reconnects_total`, recorded from
/// async-nats' connection events.
#[derive(Clone, Debug, Default)]
pub struct BusMetrics {
    /// 1 while the connection to nats-server is up.
    pub connected: Gauge,
    /// Connections after the first: how often the bus came back.
    pub reconnects: Counter,
    /// Publishes or subscriptions the server refused for want of a permission.
    pub refused: Counter,
}

impl BusMetrics {
    /// Creates the bus metrics in `registry`.
    pub fn register(registry: &mut Registry) -> BusMetrics {
        let metrics = BusMetrics::default();
        let bus = registry.sub_registry_with_prefix("rosey_bus");
        bus.register("connected", "1 while the connection to nats-server is up", metrics.connected.clone());
        bus.register("reconnects", "Connections to nats-server after the first", metrics.reconnects.clone());
        bus.register(
            "refused",
            "Publishes or subscriptions nats-server refused (permissions violation)",
            metrics.refused.clone(),
        );
        metrics
    }

    /// The connection came up: a reconnect unless it is the first.
    pub fn on_connected(&self, first: bool) {
        self.connected.set(1);
        if !first {
            self.reconnects.inc();
        }
    }

    pub fn on_disconnected(&self) {
        self.connected.set(0);
    }

    /// The server refused something this client sent.
    pub fn on_refused(&self) {
        self.refused.inc();
    }
}
