//! The percentile files `benches/report.sh` reads, next to criterion's own output.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use rosey::app::Percentiles;

/// Where criterion writes (its own rule): `CRITERION_HOME`, else
/// `$CARGO_TARGET_DIR/criterion`, else `<target>/criterion` next to this
/// bench binary (`<target>/<profile>/deps/<bench>`).
pub fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    let exe = std::env::current_exe().ok();
    let target = exe.as_deref().and_then(|exe| exe.parent()?.parent()?.parent());
    target.map_or_else(|| PathBuf::from("target/criterion"), |target| target.join("criterion"))
}

/// Writes nearest-rank percentiles of `samples` to
/// `<criterion home>/rosey-percentiles/<name>.json` (for `benches/report.sh`)
/// and prints them.
pub fn write_percentiles(name: &str, samples: &mut [Duration]) {
    let p = Percentiles::of(samples);
    let dir = criterion_home().join("rosey-percentiles");
    let ns = |d: Duration| d.as_nanos();
    let json = format!(
        "{{\"count\":{},\"p50_ns\":{},\"p99_ns\":{},\"p999_ns\":{},\"max_ns\":{}}}\n",
        p.count,
        ns(p.p50),
        ns(p.p99),
        ns(p.p999),
        ns(p.max)
    );
    if let Err(error) =
        std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(format!("{name}.json")), json))
    {
        eprintln!("cannot write the percentiles of {name}: {error}");
    }
    eprintln!("{name}: {p}");
}

/// A shared list of samples, for a sim client to fill.
pub type Samples = Rc<RefCell<Vec<Duration>>>;
