//! Writes the recorded-chat fixtures `smoke.jsonl`, `evening.jsonl` and
//! `messy.jsonl` into the directory named by its only argument.
//!
//! ```text
//! cargo run -p rosey-sim --example gen_fixtures -- <out_dir>
//! ```
//!
//! Each file is JSON Lines (shared/reference/chat-fixtures.md): a header line,
//! then one CyTube socket event per line, `at_ms` never decreasing.
//!
//! - `smoke.jsonl`: one minute, four users and the bot, every event kind.
//! - `evening.jsonl`: a three-hour evening, 40+ users, 3,000+ chat lines.
//! - `messy.jsonl`: ~150 hostile but well-formed lines.
//!
//! The bytes are a pure function of each generator's seed: ChaCha8 with fixed
//! seeds, integer arithmetic for everything random (no `ln`/`exp`, whose last
//! bits may differ between libms), no HashMap iteration, and a JSON writer of
//! our own (see `json`) so that serde_json's `preserve_order` feature (feature
//! unification can switch it on) cannot reorder keys. Each file is re-parsed
//! before it is written; the generator panics if a line is not JSON or `at_ms`
//! goes backwards.
//!
//! # What the data imitates
//!
//! CyTube's own code decides the payloads: chat text is cut to 240 UTF-16
//! units, has ASCII control characters turned into spaces, is HTML-escaped
//! (`& < > " ' ( )`), has links turned into `<a href="..." target="_blank">`
//! and channel filters applied (here three emote words become `<img>` tags,
//! which is how a 240-character line grows to 1-4 KB). `/me` and greentext set
//! `meta.addClass`. Users with rank >= 2 see `[server]` notices ("X joined
//! (aliases: ...)"), moderator user metadata (`smuted`, `aliases`, `ip`) and
//! `voteskip` counts; a rank crossing 2 resends `userlist`. `usercount`
//! counts every socket, anonymous viewers included, and is throttled to one
//! per 10 s. Nothing here is taken from a real channel: names, text, IPs
//! (masked) and media ids are made up.
//!
//! # Layout
//!
//! - `json`: the JSON value type and writer (fixed key order, JavaScript numbers).
//! - `fixture`: events on a timeline, rendered as one fixture file.
//! - `cytube`: what CyTube's code makes of chat text, notices and user counts.
//! - `pack`: CyTube's packed media, playlist items and users.
//! - `rng`: made-up ids and masked IPs from a seeded generator.
//! - `smoke`, `evening`, `messy`: one generator per fixture file.
//! - `check`: the re-read of each rendered file, and its one-line summary.

mod check;
mod cytube;
mod evening;
mod fixture;
mod json;
mod messy;
mod pack;
mod rng;
mod smoke;

use std::path::{Path, PathBuf};

use check::check;
use evening::evening;
use messy::messy;
use smoke::smoke;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(out_dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: gen_fixtures <out_dir>");
        std::process::exit(2);
    };
    if let Err(e) = std::fs::create_dir_all(&out_dir) {
        eprintln!("gen_fixtures: cannot create {}: {e}", out_dir.display());
        std::process::exit(1);
    }
    let fixtures = [("smoke.jsonl", smoke()), ("evening.jsonl", evening()), ("messy.jsonl", messy())];
    for (file, mut fx) in fixtures {
        let text = fx.render();
        let stats = check(file, &text);
        write_file(&out_dir.join(file), &text);
        println!("{file}: {stats}");
    }
}

fn write_file(path: &Path, text: &str) {
    if let Err(e) = std::fs::write(path, text) {
        eprintln!("gen_fixtures: cannot write {}: {e}", path.display());
        std::process::exit(1);
    }
}
