//! The run trace: one JSON line per thing that happened, and its hash.
//!
//! Two runs of the same seed must produce the same lines; the hash makes that
//! a one-line comparison. Lines carry virtual time only, never wall time.

use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A shared, append-only trace. Cloning shares it, so every host of a
/// simulation writes into the same sequence.
#[derive(Clone, Default)]
pub struct Trace(Arc<Mutex<TraceInner>>);

#[derive(Default)]
struct TraceInner {
    /// FNV-1a 64 over every line and its newline.
    hash: u64,
    count: u64,
    /// The lines themselves, when asked to keep them.
    lines: Option<Vec<String>>,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trace").field("records", &self.len()).field("hash", &self.hash_hex()).finish()
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

impl Trace {
    /// A trace that hashes every line and keeps them when `keep_lines`.
    pub fn new(keep_lines: bool) -> Trace {
        Trace(Arc::new(Mutex::new(TraceInner { hash: FNV_OFFSET, count: 0, lines: keep_lines.then(Vec::new) })))
    }

    /// Appends one record: virtual ms, host, kind, then the record's fields.
    pub fn record(&self, t_ms: i64, host: &str, kind: &str, fields: Value) {
        let mut line = serde_json::json!({ "t": t_ms, "host": host, "kind": kind });
        if let (Some(map), Value::Object(extra)) = (line.as_object_mut(), fields) {
            map.extend(extra);
        }
        let text = line.to_string();
        let mut inner = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for byte in text.bytes().chain(std::iter::once(b'\n')) {
            inner.hash = (inner.hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
        inner.count += 1;
        if let Some(lines) = inner.lines.as_mut() {
            lines.push(text);
        }
    }

    /// The hash of every line so far, as 16 hex digits.
    pub fn hash_hex(&self) -> String {
        format!("{:016x}", self.0.lock().unwrap_or_else(|p| p.into_inner()).hash)
    }

    pub fn len(&self) -> u64 {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).count
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kept lines (empty when the trace does not keep them).
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).lines.clone().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_records_same_hash_and_order_matters() {
        let a = Trace::new(true);
        let b = Trace::new(false);
        for trace in [&a, &b] {
            trace.record(1, "bot", "event", serde_json::json!({"line": 2}));
            trace.record(2, "db", "apply", serde_json::json!({}));
        }
        assert_eq!(a.hash_hex(), b.hash_hex());
        assert_eq!(a.lines()[0], r#"{"host":"bot","kind":"event","line":2,"t":1}"#);
        let c = Trace::new(false);
        c.record(2, "db", "apply", serde_json::json!({}));
        c.record(1, "bot", "event", serde_json::json!({"line": 2}));
        assert_ne!(a.hash_hex(), c.hash_hex());
    }
}
