//! The generator's own proof of each file it writes.

use std::collections::{BTreeMap, BTreeSet};

use crate::fixture::BOT;

/// Re-reads a rendered fixture: every line JSON, header sound, `at_ms`
/// non-decreasing. Returns a one-line summary.
pub(crate) fn check(file: &str, text: &str) -> String {
    let mut last = 0u64;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut chatters: BTreeSet<String> = BTreeSet::new();
    let mut users: BTreeSet<String> = BTreeSet::new();
    let mut max_line = 0usize;
    let mut lines = 0usize;
    for (i, line) in text.lines().enumerate() {
        lines += 1;
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: not JSON: {e}", i + 1));
        if i == 0 {
            assert_eq!(v["rosey_fixture"], 1, "{file}: bad header");
            assert_eq!(v["bot"], BOT, "{file}: bad header");
            assert!(v["start_unix_ms"].is_u64(), "{file}: bad header");
            continue;
        }
        max_line = max_line.max(line.len());
        let at = v["at_ms"].as_u64().unwrap_or_else(|| panic!("{file}:{}: bad at_ms", i + 1));
        assert!(at >= last, "{file}:{}: at_ms goes backwards", i + 1);
        last = at;
        let name = v["event"].as_str().expect("event name").to_string();
        let data = &v["data"];
        match name.as_str() {
            "chatMsg" => {
                if let Some(u) = data["username"].as_str() {
                    if !u.starts_with('[') {
                        chatters.insert(u.to_string());
                        users.insert(u.to_string());
                    }
                }
            }
            "addUser" => {
                if let Some(u) = data["name"].as_str() {
                    users.insert(u.to_string());
                }
            }
            "userlist" => {
                for entry in data.as_array().into_iter().flatten() {
                    if let Some(u) = entry["name"].as_str() {
                        users.insert(u.to_string());
                    }
                }
            }
            _ => {}
        }
        *kinds.entry(name).or_default() += 1;
    }
    let chat = kinds.get("chatMsg").copied().unwrap_or(0);
    format!(
        "{lines} lines, last at_ms {last}, {chat} chatMsg, {} distinct chatters, \
         {} distinct user names (bot included), longest line {max_line} bytes, {} event kinds",
        chatters.len(),
        users.len(),
        kinds.len()
    )
}
