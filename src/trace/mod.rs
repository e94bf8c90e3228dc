//! The run trace: one typed record per thing that happened, and its hash.
//!
//! Two runs of the same seed must produce the same records; the hash over
//! their JSON lines makes that a one-line comparison. Records carry virtual
//! time only, never wall time.

mod event;

use std::sync::{Arc, Mutex};

pub use event::{TraceEvent, TraceRecord};

/// A shared, append-only trace. Cloning shares it, so every host of a
/// simulation writes into the same sequence.
#[derive(Clone, Default)]
pub struct Trace(Arc<Mutex<TraceInner>>);

#[derive(Default)]
struct TraceInner {
    /// FNV-1a 64 over every line and its newline.
    hash: u64,
    count: u64,
    /// The records themselves, when asked to keep them.
    records: Option<Vec<TraceRecord>>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").field("records", &self.len()).field("hash", &self.hash_hex()).finish()
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

impl Trace {
    /// A trace that hashes every record and keeps them when `keep_records`.
    pub fn new(keep_records: bool) -> Trace {
        Trace(Arc::new(Mutex::new(TraceInner { hash: FNV_OFFSET, count: 0, records: keep_records.then(Vec::new) })))
    }

    /// Appends one record: virtual ms, host, and what happened.
    pub fn record(&self, t_ms: i64, host: &str, event: TraceEvent) {
        let record = TraceRecord { t: t_ms, host: host.to_string(), event };
        let line = record.to_line();
        let mut inner = self.lock();
        for byte in line.bytes().chain(std::iter::once(b'\n')) {
            inner.hash = (inner.hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
        inner.count += 1;
        if let Some(records) = inner.records.as_mut() {
            records.push(record);
        }
    }

    /// The hash of every line so far, as 16 hex digits.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.lock().hash)
    }

    pub fn len(&self) -> u64 {
        self.lock().count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kept records (empty when the trace does not keep them).
    pub fn records(&self) -> Vec<TraceRecord> {
        self.lock().records.clone().unwrap_or_default()
    }

    /// The kept records as JSON lines, as a trace file holds them.
    pub fn lines(&self) -> Vec<String> {
        self.lock().records.iter().flatten().map(TraceRecord::to_line).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TraceInner> {
        // A panic while holding the lock leaves whole records behind: keep going.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(line: usize) -> TraceEvent {
        TraceEvent::Event { line, event: "chatMsg".into() }
    }

    #[test]
    fn same_records_same_hash_and_order_matters() {
        let a = Trace::new(true);
        let b = Trace::new(false);
        for trace in [&a, &b] {
            trace.record(1, "bot", event(2));
            trace.record(2, "bot", TraceEvent::Shutdown { listed: 0 });
        }
        assert_eq!(a.hash_hex(), b.hash_hex());
        assert_eq!(a.lines()[0], r#"{"event":"chatMsg","host":"bot","kind":"event","line":2,"t":1}"#);
        assert_eq!(a.records()[1].event, TraceEvent::Shutdown { listed: 0 });
        assert!(b.records().is_empty());
        let c = Trace::new(false);
        c.record(2, "bot", TraceEvent::Shutdown { listed: 0 });
        c.record(1, "bot", event(2));
        assert_ne!(a.hash_hex(), c.hash_hex());
    }
}
