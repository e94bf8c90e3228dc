//! Durations on the command line: `250ms`, `30s`, `10m`, `1h` (humantime style).

use std::time::Duration;

/// Parses `250ms`, `30s`, `10m`, `1h` or a plain number of seconds.
///
/// # Errors
///
/// Anything else, or a duration that is not positive: the message shows the forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(ms) = s.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(secs) = s.strip_suffix('s') {
        (secs, 1.0)
    } else if let Some(mins) = s.strip_suffix('m') {
        (mins, 60.0)
    } else if let Some(hours) = s.strip_suffix('h') {
        (hours, 3600.0)
    } else {
        (s, 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(value) if value > 0.0 && value.is_finite() => Ok(Duration::from_secs_f64(value * scale)),
        _ => Err(format!("bad duration {s:?} (e.g. 500ms, 30s, 10m, 1h)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["soon", "0s", "-1m", "1d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
