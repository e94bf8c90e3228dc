//! The three rate limiters a bot meets, each a copy of the real one's
//! arithmetic, over the fake's monotonic clock ([`FakeClock::elapsed`](super::FakeClock::elapsed)).

use std::time::Duration;

/// The chat throttle, `utilities.js` `newRateLimiter` with `chat.js`
/// `MIN_ANTIFLOOD` (burst 20, sustained 10/s). Not a token bucket: a sender
/// idle for longer than `burst / sustained` (2 s) starts a fresh burst; past
/// the burst, one line per `1000 / sustained` ms (100 ms) gets through.
/// One per user object, so a new socket starts with a fresh one.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChatLimiter {
    count: u32,
    last: Option<Duration>,
}

/// `MIN_ANTIFLOOD.burst`.
pub(crate) const CHAT_BURST: u32 = 20;
/// `MIN_ANTIFLOOD.sustained`, lines per second.
pub(crate) const CHAT_SUSTAINED: u32 = 10;

impl ChatLimiter {
    /// Whether a line sent at `now` is throttled (dropped); counts it when not.
    pub(crate) fn throttle(&mut self, now: Duration) -> bool {
        let cooldown = Duration::from_millis(1000 * u64::from(CHAT_BURST) / u64::from(CHAT_SUSTAINED));
        let cooled = self.last.is_none_or(|last| last + cooldown < now);
        if cooled {
            self.count = 1;
            self.last = Some(now);
            return false;
        }
        if self.count < CHAT_BURST {
            self.count += 1;
            self.last = Some(now);
            return false;
        }
        let since = now.saturating_sub(self.last.unwrap_or_default());
        if since < Duration::from_millis(1000 / u64::from(CHAT_SUSTAINED)) {
            return true;
        }
        self.last = Some(now);
        false
    }
}

/// The `cooldown` a throttled sender is told: `1000 / sustained` ms.
pub(crate) const CHAT_COOLDOWN_MS: u32 = 1000 / CHAT_SUSTAINED;

/// The per-IP connect bucket, `util/token-bucket.js` as `ioserver.js`
/// builds it: 5 tokens, refilled at 0.1 per second in whole tokens.
#[derive(Debug, Clone)]
pub(crate) struct ConnectBucket {
    count: u64,
    last_refill: Duration,
}

/// Tokens a new bucket holds.
const BUCKET_CAPACITY: u64 = 5;
/// Milliseconds per refilled token (rate 0.1/s).
const BUCKET_REFILL_MS: u128 = 10_000;

impl ConnectBucket {
    /// A full bucket, made at `now` (the IP's first connect).
    pub(crate) fn new(now: Duration) -> ConnectBucket {
        ConnectBucket { count: BUCKET_CAPACITY, last_refill: now }
    }

    /// Whether a connect at `now` is refused; takes a token when not.
    pub(crate) fn throttle(&mut self, now: Duration) -> bool {
        let delta = now.saturating_sub(self.last_refill).as_millis() / BUCKET_REFILL_MS;
        if delta > 0 {
            self.count = (self.count + u64::try_from(delta).unwrap_or(u64::MAX)).min(BUCKET_CAPACITY);
            self.last_refill = now;
        }
        if self.count == 0 {
            return true;
        }
        self.count -= 1;
        false
    }
}

/// lodash's `debounce(fn, wait, {leading: true, trailing: true, maxWait: wait})`,
/// which `util/throttle.js` calls throttle and `usercount` goes through:
/// the first change is sent at once, later ones within `wait` once at its end.
#[derive(Debug, Clone)]
pub(crate) struct Debounce {
    wait: Duration,
    last_call: Option<Duration>,
    last_invoke: Duration,
    /// When the pending timer fires, if one is armed.
    pub(crate) timer: Option<Duration>,
    pending: bool,
}

impl Debounce {
    pub(crate) fn new(wait: Duration) -> Debounce {
        Debounce { wait, last_call: None, last_invoke: Duration::ZERO, timer: None, pending: false }
    }

    fn should_invoke(&self, now: Duration) -> bool {
        match self.last_call {
            None => true,
            Some(last) => now < last || now - last >= self.wait || now.saturating_sub(self.last_invoke) >= self.wait,
        }
    }

    /// A call at `now`; true when the function runs now.
    pub(crate) fn call(&mut self, now: Duration) -> bool {
        if self.wait.is_zero() {
            return true;
        }
        let invoking = self.should_invoke(now);
        self.last_call = Some(now);
        self.pending = true;
        if invoking {
            // Leading edge if no timer is armed, the maxWait edge if one is.
            self.timer = Some(now + self.wait);
            self.last_invoke = now;
            self.pending = false;
            return true;
        }
        if self.timer.is_none() {
            self.timer = Some(now + self.wait);
        }
        false
    }

    /// The armed timer fired at `now`; true when the function runs now.
    pub(crate) fn expire(&mut self, now: Duration) -> bool {
        if !self.should_invoke(now) {
            let since_call = now.saturating_sub(self.last_call.unwrap_or_default());
            let since_invoke = now.saturating_sub(self.last_invoke);
            let remaining = self.wait.saturating_sub(since_call).min(self.wait.saturating_sub(since_invoke));
            self.timer = Some(now + remaining);
            return false;
        }
        self.timer = None;
        let run = self.pending;
        if run {
            self.last_invoke = now;
        }
        self.pending = false;
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn a_flood_of_24_lets_20_through() {
        let mut limiter = ChatLimiter::default();
        let passed = (0..24).filter(|_| !limiter.throttle(ms(5_000))).count();
        assert_eq!(passed, 20);
        assert!(!limiter.throttle(ms(5_100)), "one line per 100 ms after the burst");
        assert!(limiter.throttle(ms(5_150)));
        assert!(!limiter.throttle(ms(7_101)), "idle for more than 2 s: a fresh burst");
        let passed = (0..19).filter(|_| !limiter.throttle(ms(7_101))).count();
        assert_eq!(passed, 19);
        assert!(limiter.throttle(ms(7_101)));
    }

    #[test]
    fn the_connect_bucket_holds_five_and_refills_one_per_ten_seconds() {
        let mut bucket = ConnectBucket::new(ms(0));
        assert_eq!((0..6).filter(|_| !bucket.throttle(ms(0))).count(), 5);
        assert!(bucket.throttle(ms(9_999)));
        assert!(!bucket.throttle(ms(10_000)));
        assert!(bucket.throttle(ms(10_001)));
    }

    /// The usercount times of the real recording: joins at 49, 1946 and
    /// 4278 ms, a leave at 15310, joins and a leave until 23214.
    #[test]
    fn usercount_debounce_matches_the_recording() {
        let mut debounce = Debounce::new(ms(10_000));
        assert!(debounce.call(ms(49)));
        assert!(!debounce.call(ms(1_946)));
        assert!(!debounce.call(ms(4_278)));
        assert_eq!(debounce.timer, Some(ms(10_049)));
        assert!(debounce.expire(ms(10_049)));
        assert_eq!(debounce.timer, None);
        assert!(debounce.call(ms(15_310)));
        assert!(!debounce.call(ms(18_144)));
        assert!(!debounce.call(ms(23_214)));
        assert!(debounce.expire(ms(25_310)));
        assert!(debounce.call(ms(38_742)));
        assert!(!debounce.expire(ms(48_742)), "nothing pending: no trailing call");
    }
}
