//! Chat fixtures: recorded CyTube traffic with virtual times.
//!
//! # Format
//!
//! JSON Lines, UTF-8. Line 1 is the header
//! `{"rosey_fixture": 1, "channel", "bot", "start_unix_ms", "end_ms"?}`; every
//! other line is `{"at_ms", "event", "data"}` with `at_ms` non-decreasing.
//!
//! A file that is not sound (no header, a bad header, a line that is not
//! JSON) is an error naming the line, and nothing replays. A line that is JSON
//! but a bad event (a used field missing or mistyped, a decreasing `at_ms`) is
//! skipped and counted with its line number and reason.

use std::path::Path;

use serde_json::Value;

use crate::cytube::ChatEvent;

/// The header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureHeader {
    pub channel: String,
    pub bot: String,
    pub start_unix_ms: i64,
    pub end_ms: Option<i64>,
}

/// An event with its place in the file and in virtual time.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedEvent {
    pub line: usize,
    pub at_ms: i64,
    pub event: ChatEvent,
}

/// A skipped line or userlist entry, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skip {
    pub line: usize,
    pub reason: String,
}

/// A parsed fixture.
#[derive(Debug, Clone, PartialEq)]
pub struct Fixture {
    pub header: FixtureHeader,
    pub events: Vec<TimedEvent>,
    pub skipped: Vec<Skip>,
    /// The last line's `at_ms`, counting bad events too: a malformed event
    /// is still an event at that instant, and the replay runs past it.
    pub last_at_ms: i64,
}

/// A fixture that cannot be replayed: where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureError {
    pub origin: String,
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for FixtureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.origin, self.reason)
        } else {
            write!(f, "{}:{}: {}", self.origin, self.line, self.reason)
        }
    }
}

impl std::error::Error for FixtureError {}

/// How long a replay runs past the last event (contract section 5).
pub const TAIL_MS: i64 = 2_000;

impl Fixture {
    /// Reads and parses a fixture file.
    pub fn load(path: &Path) -> Result<Fixture, FixtureError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FixtureError {
            origin: origin.clone(),
            line: 0,
            reason: format!("cannot read the fixture: {e}"),
        })?;
        Fixture::parse(&text, &origin)
    }

    /// Parses fixture text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Fixture, FixtureError> {
        let fail = |line: usize, reason: String| FixtureError { origin: origin.to_string(), line, reason };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
        let (header_line, header_text) = lines
            .by_ref()
            .find(|(_, l)| !l.trim().is_empty())
            .ok_or_else(|| fail(0, "empty fixture: expected a header line".into()))?;
        let header = parse_header(header_text).map_err(|reason| fail(header_line, reason))?;

        let mut fixture = Fixture { header, events: Vec::new(), skipped: Vec::new(), last_at_ms: 0 };
        let mut last_at = 0;
        for (line, raw) in lines {
            if raw.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(raw)
                .map_err(|e| fail(line, format!("not JSON ({e}); the replay does not start")))?;
            let skip = |reason: String| Skip { line, reason };
            let (at_ms, name, data) = match split_line(&value) {
                Ok(parts) => parts,
                Err(reason) => {
                    fixture.skipped.push(skip(reason));
                    continue;
                }
            };
            if at_ms < last_at {
                fixture.skipped.push(skip(format!("{name}: at_ms {at_ms} is before the previous event's {last_at}")));
                continue;
            }
            last_at = at_ms;
            fixture.last_at_ms = at_ms;
            match ChatEvent::parse(name, data) {
                Ok(event) => {
                    if let ChatEvent::Userlist(update) = &event {
                        for dropped in &update.dropped {
                            fixture.skipped.push(skip(format!("userlist {dropped}")));
                        }
                    }
                    fixture.events.push(TimedEvent { line, at_ms, event });
                }
                Err(error) => fixture.skipped.push(skip(error.to_string())),
            }
        }
        Ok(fixture)
    }

    /// When the replay ends: the last event's `at_ms` (a bad event's too) or
    /// the header's `end_ms`, whichever is later, plus [`TAIL_MS`].
    pub fn end_ms(&self) -> i64 {
        let last = self.events.last().map_or(0, |e| e.at_ms).max(self.last_at_ms);
        last.max(self.header.end_ms.unwrap_or(0)) + TAIL_MS
    }
}

fn parse_header(text: &str) -> Result<FixtureHeader, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("bad header: not JSON ({e})"))?;
    let fields = value
        .as_object()
        .ok_or("bad header: expected a JSON object with rosey_fixture, channel, bot, start_unix_ms")?;
    match fields.get("rosey_fixture").and_then(Value::as_i64) {
        Some(1) => {}
        Some(other) => {
            return Err(format!("bad header: unsupported rosey_fixture version {other} (this build reads 1)"))
        }
        None => return Err("bad header: `rosey_fixture` (the format version, 1) is missing".into()),
    }
    let text_field = |key: &str| {
        fields
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| format!("bad header: `{key}` must be a string"))
    };
    let end_ms = match fields.get("end_ms") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().filter(|ms| *ms >= 0).ok_or("bad header: `end_ms` must be a non-negative integer")?),
    };
    Ok(FixtureHeader {
        channel: text_field("channel")?,
        bot: text_field("bot")?,
        start_unix_ms: fields
            .get("start_unix_ms")
            .and_then(Value::as_i64)
            .ok_or("bad header: `start_unix_ms` must be an integer (Unix milliseconds)")?,
        end_ms,
    })
}

/// `(at_ms, event, data)` of an event line.
fn split_line(value: &Value) -> Result<(i64, &str, &Value), String> {
    let fields = value.as_object().ok_or("expected a JSON object with at_ms, event, data")?;
    let name = fields.get("event").and_then(Value::as_str).ok_or("`event` must be a string")?;
    let at_ms = fields
        .get("at_ms")
        .and_then(Value::as_i64)
        .filter(|ms| *ms >= 0)
        .ok_or_else(|| format!("{name}: `at_ms` must be a non-negative integer"))?;
    Ok((at_ms, name, fields.get("data").unwrap_or(&Value::Null)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"rosey_fixture": 1, "channel": "lounge", "bot": "Rosey", "start_unix_ms": 1731000000000}"#;

    #[test]
    fn parses_header_events_and_end() {
        let text = format!(
            "{HEADER}\n{}\n\n{}\n",
            r#"{"at_ms": 0, "event": "usercount", "data": 3}"#,
            r#"{"at_ms": 1500, "event": "userLeave", "data": {"name": "bob"}}"#
        );
        let fixture = Fixture::parse(&text, "t").unwrap();
        assert_eq!(fixture.header.bot, "Rosey");
        assert_eq!(fixture.events.len(), 2);
        assert_eq!(fixture.events[1].line, 4);
        assert_eq!(fixture.end_ms(), 3_500);
    }

    #[test]
    fn header_end_ms_extends_the_replay() {
        let header = HEADER.replace('}', r#", "end_ms": 60000}"#);
        let fixture = Fixture::parse(&header, "t").unwrap();
        assert_eq!(fixture.end_ms(), 62_000);
    }

    #[test]
    fn bad_events_are_skipped_with_line_and_reason() {
        let text = [
            HEADER,
            r#"{"at_ms": 100, "event": "chatMsg", "data": {"msg": "x"}}"#,
            r#"{"at_ms": 50, "event": "usercount", "data": 1}"#,
            r#"{"event": "usercount", "data": 1}"#,
            r#"{"at_ms": 200, "event": "userlist", "data": [{"name": "a"}, {"name": 1}]}"#,
            r#"[1, 2]"#,
        ]
        .join("\n");
        let fixture = Fixture::parse(&text, "t").unwrap();
        let skipped: Vec<_> = fixture.skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
        assert_eq!(
            skipped,
            [
                (2, "chatMsg: `username` is missing"),
                (3, "usercount: at_ms 50 is before the previous event's 100"),
                (4, "usercount: `at_ms` must be a non-negative integer"),
                (5, "userlist entry 1: `name` must be a string, got a number"),
                (6, "expected a JSON object with at_ms, event, data"),
            ]
        );
        assert_eq!(fixture.events.len(), 1);
    }

    /// A malformed last event still extends the replay: it is the file's last event.
    #[test]
    fn a_bad_last_event_still_sets_the_end() {
        let text = [
            HEADER,
            r#"{"at_ms": 100, "event": "usercount", "data": 1}"#,
            r#"{"at_ms": 9000, "event": "chatMsg", "data": {}}"#,
        ]
        .join("\n");
        let fixture = Fixture::parse(&text, "t").unwrap();
        assert_eq!(fixture.events.len(), 1);
        assert_eq!(fixture.end_ms(), 11_000);
    }

    #[test]
    fn unsound_files_are_errors_naming_the_line() {
        let cases = [
            (String::new(), "t: empty fixture"),
            ("{\"rosey_fixture\": 2}".to_string(), "t:1: bad header: unsupported rosey_fixture version 2"),
            ("nope".to_string(), "t:1: bad header: not JSON"),
            (HEADER.replace("\"bot\": \"Rosey\", ", ""), "t:1: bad header: `bot` must be a string"),
            (format!("{HEADER}\n{{oops"), "t:2: not JSON"),
        ];
        for (text, expected) in cases {
            let err = Fixture::parse(&text, "t").unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err:?} should start with {expected:?}");
        }
    }
}
