//! Random fault schedules for the swarm (swarm testing, Groce et al. 2012):
//! per seed, a random subset of the menu and a random number of faults, up
//! to `count`, so that seeds also explore schedules where one kind of fault
//! is absent and cannot mask another.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rosey::contract::Subject;

use super::{db_host_names, default_burst_user, default_db, Fault, FaultKind, FaultSpec};

/// The `drop` subjects a draw picks from: everything, or one subject that matters.
const DROP_SUBJECTS: [Option<Subject>; 4] =
    [None, Some(Subject::OutboundMarkSent), Some(Subject::MessageLog), Some(Subject::OutboundGet)];

/// Draws 1 to `count` faults for one seed from a random subset of `menu`,
/// within `[5 s, end - 20 s)` so every fault heals before the replay ends.
/// Network faults cut links traffic crosses: bot-bus and bus-db*.
pub fn draw(menu: &[FaultKind], count: usize, seed: u64, end_ms: i64, db_services: usize) -> Vec<Fault> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_fa17);
    if count == 0 || menu.is_empty() {
        return Vec::new();
    }
    let latest_start = (end_ms - 20_000).max(5_001);
    let links: Vec<(String, String)> = std::iter::once(("bot".to_string(), "bus".to_string()))
        .chain(db_host_names(db_services).into_iter().map(|db| ("bus".to_string(), db)))
        .collect();
    let mut kinds: Vec<FaultKind> = menu.iter().copied().filter(|_| rng.random_bool(0.5)).collect();
    if kinds.is_empty() {
        kinds.push(menu[rng.random_range(0..menu.len())]);
    }
    let drawn = rng.random_range(1..=count);
    (0..drawn)
        .map(|_| {
            let kind = kinds[rng.random_range(0..kinds.len())];
            let from_ms = rng.random_range(5_000..latest_start);
            let until_ms = (from_ms + rng.random_range(1_000..15_000)).min(end_ms - 10_000).max(from_ms + 1);
            let mut pair = || {
                let (a, b) = links[rng.random_range(0..links.len())].clone();
                if rng.random_bool(0.5) {
                    (a, b)
                } else {
                    (b, a)
                }
            };
            let what = match kind {
                FaultKind::Partition => {
                    let (a, b) = pair();
                    FaultSpec::Partition { a, b, oneway: rng.random_bool(0.3) }
                }
                FaultKind::Hold => {
                    let (a, b) = pair();
                    FaultSpec::Hold { a, b }
                }
                FaultKind::Latency => {
                    let (a, b) = pair();
                    FaultSpec::Latency { a, b, ms: rng.random_range(5..400) }
                }
                FaultKind::Drop => FaultSpec::Drop {
                    subject: DROP_SUBJECTS[rng.random_range(0..DROP_SUBJECTS.len())].map(|s| s.as_str().to_string()),
                    probability: f64::from(rng.random_range(1..=10u32)) / 10.0,
                },
                FaultKind::CrashDb => FaultSpec::CrashDb { host: default_db() },
                FaultKind::RestartBus => FaultSpec::RestartBus,
                FaultKind::SlowStore => FaultSpec::SlowStore { commit_ms: rng.random_range(5..300) },
                FaultKind::ChatFail => FaultSpec::ChatFail,
                FaultKind::Mute => FaultSpec::Mute,
                FaultKind::ChatDisconnect => FaultSpec::ChatDisconnect,
                FaultKind::ChatRestart => FaultSpec::ChatRestart,
                FaultKind::ChatThrottle => FaultSpec::ChatThrottle,
                FaultKind::Burst => {
                    FaultSpec::Burst { lines: rng.random_range(100..2_000), user: default_burst_user() }
                }
            };
            Fault { from_ms, until_ms, what }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_seeded_and_heal_before_the_end() {
        let menu = [FaultKind::Partition, FaultKind::Drop, FaultKind::CrashDb, FaultKind::SlowStore];
        let a = draw(&menu, 5, 42, 60_000, 1);
        assert_eq!(a, draw(&menu, 5, 42, 60_000, 1));
        assert_ne!(a, draw(&menu, 5, 43, 60_000, 1));
        for fault in &a {
            let (from, until) = fault.window();
            assert!(5_000 <= from && from < until && until <= 50_000, "{fault:?}");
            fault.validate(1, &[]).unwrap();
        }
    }

    #[test]
    fn each_seed_draws_its_own_subset_and_number_of_faults() {
        let menu = [FaultKind::Partition, FaultKind::Drop, FaultKind::CrashDb, FaultKind::SlowStore];
        let draws: Vec<Vec<Fault>> = (0..200).map(|seed| draw(&menu, 4, seed, 600_000, 2)).collect();
        let sizes: std::collections::BTreeSet<usize> = draws.iter().map(Vec::len).collect();
        assert_eq!(sizes, (1..=4).collect(), "1 to 4 faults per seed");
        let kinds_per_seed: std::collections::BTreeSet<usize> = draws
            .iter()
            .map(|d| d.iter().map(|f| format!("{:?}", f.kind())).collect::<std::collections::BTreeSet<_>>().len())
            .collect();
        assert!(kinds_per_seed.contains(&1) && kinds_per_seed.contains(&3), "{kinds_per_seed:?}");
        for fault in draws.iter().flatten() {
            if let FaultSpec::Partition { a, b, .. } = &fault.what {
                assert!(a == "bus" || b == "bus", "only links traffic crosses: {a}-{b}");
            }
        }
    }
}
