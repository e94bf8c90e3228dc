//! A fixture being built: events on a timeline, rendered in (at_ms, order
//! pushed), under the header line.

use crate::json::{obj, write_json, J};

/// The bot's own name, in every header and userlist.
pub(crate) const BOT: &str = "Rosey";

/// One event line: when, what, and where it sorts among its millisecond.
struct Ev {
    at: u64,
    /// Sorts after the other events of the same millisecond (usercount).
    late: bool,
    seq: usize,
    name: String,
    data: J,
}

/// A fixture file's header fields and its events.
pub(crate) struct Fixture {
    channel: &'static str,
    pub(crate) start_unix_ms: u64,
    pub(crate) end_ms: Option<u64>,
    evs: Vec<Ev>,
}

impl Fixture {
    pub(crate) fn new(channel: &'static str, start_unix_ms: u64) -> Fixture {
        Fixture { channel, start_unix_ms, end_ms: None, evs: Vec::new() }
    }

    pub(crate) fn push(&mut self, at: u64, name: &str, data: J) {
        let seq = self.evs.len();
        self.evs.push(Ev { at, late: false, seq, name: name.to_string(), data });
    }

    pub(crate) fn push_late(&mut self, at: u64, name: &str, data: J) {
        self.push(at, name, data);
        self.evs.last_mut().expect("just pushed").late = true;
    }

    /// The server's `Date.now()` at `at`.
    pub(crate) fn now(&self, at: u64) -> u64 {
        self.start_unix_ms + at
    }

    /// The file's text: the header line, then the events in order.
    pub(crate) fn render(&mut self) -> String {
        self.evs.sort_by_key(|e| (e.at, e.late, e.seq));
        let mut header = vec![
            ("rosey_fixture".to_string(), J::Int(1)),
            ("channel".to_string(), J::from(self.channel)),
            ("bot".to_string(), J::from(BOT)),
            ("start_unix_ms".to_string(), J::from(self.start_unix_ms)),
        ];
        if let Some(end) = self.end_ms {
            header.push(("end_ms".to_string(), J::from(end)));
        }
        let mut out = String::new();
        write_json(&mut out, &J::Obj(header));
        out.push('\n');
        for e in &self.evs {
            let line = obj! { "at_ms" => e.at, "event" => e.name.as_str(), "data" => e.data.clone() };
            write_json(&mut out, &line);
            out.push('\n');
        }
        out
    }
}
