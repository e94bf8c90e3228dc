//! Nearest-rank latency percentiles, for the report and the benches' files.

use std::fmt;
use std::time::Duration;

/// Nearest-rank percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub p999: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// All zero for no samples.
    pub fn of(samples: &mut [Duration]) -> Percentiles {
        samples.sort_unstable();
        let rank = |q: f64| {
            let index = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[index]
        };
        if samples.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: samples.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            p999: rank(0.999),
            max: samples[samples.len() - 1],
        }
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        write!(
            f,
            "p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms  ({} samples)",
            ms(self.p50),
            ms(self.p99),
            ms(self.p999),
            ms(self.max),
            self.count
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=1000).rev().map(Duration::from_micros).collect();
        let p = Percentiles::of(&mut samples);
        assert_eq!((p.count, p.p50, p.p99, p.p999, p.max), (1000, us(500), us(990), us(999), us(1000)));
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
        let one = Percentiles::of(&mut [us(7)]);
        assert_eq!((one.p50, one.max), (us(7), us(7)));
    }

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }
}
