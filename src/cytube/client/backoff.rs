//! When to try again: exponential backoff with jitter, never faster than CyTube's connect
//! bucket allows.
//!
//! CyTube keeps a `TokenBucket(5, 0.1)` per IP (`src/io/ioserver.js`, `src/util/token-bucket.js`):
//! five connects, then one more token per whole 10 s since the last refill (the fraction is
//! lost on each refill); a connect with no token is refused with `44{"message":"Rate limit
//! exceeded"}`. [`ConnectBucket`] runs the same arithmetic on the client's own attempts, with
//! a margin for the varying time between starting an attempt and the server handling its
//! namespace connect. It only sees this session's attempts: another client on the same IP
//! can still exhaust the bucket, which then shows as a refused connect and waits a full
//! refill.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// The bucket's size (connects in a burst).
pub const BUCKET_CAPACITY: u32 = 5;
/// One token comes back per this much time.
pub const BUCKET_REFILL: Duration = Duration::from_secs(10);
/// Added to every wait for a token: an attempt reaches the server's middleware a varying
/// while (resolve, dial, upgrade, open) after it starts.
pub const BUCKET_MARGIN: Duration = Duration::from_secs(2);

/// The reconnect delays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The first retry's delay (before jitter).
    pub min: Duration,
    /// The cap the doubling stops at.
    pub max: Duration,
    /// A connection that stayed up this long resets the doubling.
    pub stable_after: Duration,
}

impl Default for BackoffConfig {
    fn default() -> BackoffConfig {
        BackoffConfig {
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
            stable_after: Duration::from_secs(60),
        }
    }
}

/// The client's copy of the server's per-IP connect bucket.
#[derive(Debug, Clone)]
pub struct ConnectBucket {
    count: u32,
    last_refill: Option<Instant>,
}

impl Default for ConnectBucket {
    fn default() -> ConnectBucket {
        ConnectBucket { count: BUCKET_CAPACITY, last_refill: None }
    }
}

impl ConnectBucket {
    /// The server's refill at `now`: whole periods since the last refill come back.
    fn refill(&mut self, now: Instant) {
        let Some(last) = self.last_refill else {
            self.last_refill = Some(now);
            return;
        };
        let periods = now.saturating_duration_since(last).as_millis() / BUCKET_REFILL.as_millis();
        if periods > 0 {
            self.count = (self.count as u128 + periods).min(BUCKET_CAPACITY as u128) as u32;
            self.last_refill = Some(now);
        }
    }

    /// How long from `now` until an attempt finds a token (with the margin once empty).
    pub fn wait(&self, now: Instant) -> Duration {
        let mut probe = self.clone();
        probe.refill(now);
        match probe.last_refill {
            Some(last) if probe.count == 0 => (last + BUCKET_REFILL + BUCKET_MARGIN).saturating_duration_since(now),
            _ => Duration::ZERO,
        }
    }

    /// Spends a token for an attempt starting at `now`.
    pub fn take(&mut self, now: Instant) {
        self.refill(now);
        self.count = self.count.saturating_sub(1);
    }

    /// The server refused a connect at `now`: its bucket is empty, whatever ours says.
    pub fn refused(&mut self, now: Instant) {
        self.count = 0;
        self.last_refill = Some(now);
    }
}

/// Exponential backoff with "equal jitter" (half the step fixed, half random), seeded.
#[derive(Debug)]
pub struct Backoff {
    config: BackoffConfig,
    rng: ChaCha8Rng,
    /// Failures (failed attempts or short-lived connections) since the last stable one.
    failures: u32,
    bucket: ConnectBucket,
}

impl Backoff {
    /// A backoff whose jitter is drawn from `seed`.
    pub fn new(config: BackoffConfig, seed: u64) -> Backoff {
        Backoff { config, rng: ChaCha8Rng::seed_from_u64(seed), failures: 0, bucket: ConnectBucket::default() }
    }

    /// An attempt starts at `now`.
    pub fn attempt(&mut self, now: Instant) {
        self.bucket.take(now);
    }

    /// The server refused the attempt's connect at `now` (its bucket is empty).
    pub fn refused(&mut self, now: Instant) {
        self.bucket.refused(now);
    }

    /// A connection that was up for `lasted` ended; a stable one resets the doubling.
    pub fn connection_ended(&mut self, lasted: Duration) {
        if lasted >= self.config.stable_after {
            self.failures = 0;
        }
    }

    /// The delay from `now` before the next attempt, after a failure: the jittered
    /// exponential step, at least `floor`, and no sooner than the bucket has a token.
    pub fn next_delay(&mut self, now: Instant, floor: Duration) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let doublings = (self.failures - 1).min(30);
        let step = self.config.min.saturating_mul(1 << doublings).min(self.config.max).max(self.config.min);
        let half = step / 2;
        let jitter = if half.is_zero() { Duration::ZERO } else { self.rng.random_range(Duration::ZERO..=half) };
        let delay = (step - half + jitter).max(floor);
        let bucket_wait = self.bucket.wait(now + delay);
        delay + bucket_wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CyTube's `TokenBucket.throttle()`, transcribed: true means refused.
    struct ServerBucket {
        count: u32,
        last_refill: Instant,
    }

    impl ServerBucket {
        fn throttle(&mut self, now: Instant) -> bool {
            let delta = (now - self.last_refill).as_millis() / 10_000;
            if delta > 0 {
                self.count = (self.count + delta as u32).min(5);
                self.last_refill = now;
            }
            if self.count == 0 {
                return true;
            }
            self.count -= 1;
            false
        }
    }

    /// Attempt instants for `n` failures in a row, starting at `start`.
    fn schedule(config: BackoffConfig, seed: u64, start: Instant, n: usize) -> Vec<Instant> {
        let mut backoff = Backoff::new(config, seed);
        let mut at = start;
        let mut attempts = Vec::new();
        for _ in 0..n {
            backoff.attempt(at);
            attempts.push(at);
            at += backoff.next_delay(at, Duration::ZERO);
        }
        attempts
    }

    #[test]
    fn delays_double_with_jitter_up_to_the_cap() {
        let config = BackoffConfig {
            min: Duration::from_secs(1),
            max: Duration::from_secs(60),
            stable_after: Duration::from_secs(60),
        };
        let mut backoff = Backoff::new(config, 7);
        let start = Instant::now();
        let mut steps = Vec::new();
        for failure in 0..10u32 {
            // Far apart, so the bucket never binds.
            let now = start + Duration::from_secs(3600 * u64::from(failure));
            backoff.attempt(now);
            steps.push(backoff.next_delay(now, Duration::ZERO));
        }
        for (failure, delay) in steps.iter().enumerate() {
            let step = Duration::from_secs(1 << failure.min(5)).min(Duration::from_secs(60));
            let step = if failure >= 6 { Duration::from_secs(60) } else { step };
            assert!(
                *delay >= step / 2 && *delay <= step,
                "failure {failure}: {delay:?} not in [{:?}, {step:?}]",
                step / 2
            );
        }
        let again = Backoff::new(BackoffConfig::default(), 7).next_delay(start, Duration::ZERO);
        assert_eq!(again, Backoff::new(BackoffConfig::default(), 7).next_delay(start, Duration::ZERO), "seeded");
    }

    #[test]
    fn a_stable_connection_resets_the_doubling_and_a_floor_holds() {
        let mut backoff = Backoff::new(BackoffConfig::default(), 1);
        let now = Instant::now();
        for _ in 0..8 {
            backoff.next_delay(now, Duration::ZERO);
        }
        backoff.connection_ended(Duration::from_secs(61));
        assert!(backoff.next_delay(now, Duration::ZERO) <= Duration::from_secs(1));
        assert!(backoff.next_delay(now, Duration::from_secs(60)) >= Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_stay_within_cytubes_connect_bucket() {
        // A backoff far faster than the bucket, so the bucket alone paces the attempts.
        let config = BackoffConfig {
            min: Duration::from_millis(10),
            max: Duration::from_millis(500),
            stable_after: Duration::from_secs(60),
        };
        for seed in 0..20 {
            let start = Instant::now();
            let attempts = schedule(config.clone(), seed, start, 40);
            let mut server = ServerBucket { count: 5, last_refill: start };
            for (i, at) in attempts.iter().enumerate() {
                assert!(!server.throttle(*at), "seed {seed}: attempt {i} at {:?} refused", *at - start);
            }
            // The first five may burst; after them, no 10 s window holds two attempts.
            assert!(attempts[4] - start < Duration::from_secs(5), "seed {seed}: the burst was not used");
            for pair in attempts[4..].windows(2) {
                assert!(pair[1] - pair[0] >= BUCKET_REFILL, "seed {seed}: {:?} apart", pair[1] - pair[0]);
            }
        }
    }

    #[test]
    fn a_refused_connect_waits_a_full_refill() {
        let mut bucket = ConnectBucket::default();
        let now = Instant::now();
        bucket.take(now);
        assert_eq!(bucket.wait(now), Duration::ZERO);
        bucket.refused(now);
        assert_eq!(bucket.wait(now), BUCKET_REFILL + BUCKET_MARGIN);
        assert_eq!(bucket.wait(now + BUCKET_REFILL + BUCKET_MARGIN), Duration::ZERO);
    }
}
