//! Waiting for a condition against a deadline, for the tests of both
//! crates: in tokio time, so simulated inside a turmoil sim and real
//! against a live nats-server. What the bus signals (a round trip, a
//! delivery) is awaited directly; these poll what nothing signals.

use std::future::Future;
use std::time::Duration;

use rosey::transport::StreamConsumer;
use tokio::time::Instant;

/// How long a condition may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(20);

/// Polls `probe` until it returns `Some`, and returns that.
///
/// # Panics
///
/// With `what` when [`DEADLINE`] passes first.
pub async fn eventually<T, F: Future<Output = Option<T>>>(what: &str, mut probe: impl FnMut() -> F) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        rosey::timers::sleep(POLL).await;
    }
}

/// Polls the consumer's ack floor until it is `floor`: acks are published
/// fire-and-forget, so nothing else says when the server has counted them.
///
/// # Panics
///
/// When the consumer's info fails, or [`DEADLINE`] passes first.
pub async fn ack_floor_reaches(consumer: &impl StreamConsumer, floor: u64) {
    let what = format!("the ack floor reaching {floor}");
    eventually(&what, || async { (consumer.ack_floor().await.expect("the consumer's info") == floor).then_some(()) })
        .await;
}
