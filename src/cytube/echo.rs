//! What the CyTube server does to a chat line, undone: how the bot knows its
//! own line when the server echoes it back.
//!
//! The server cuts a line at 320 characters (JavaScript's, UTF-16 code
//! units), then escapes `&`, `<` and `>` as HTML entities (quotes come back
//! as sent) and turns URLs into `<a href=... target="_blank" rel="noopener
//! noreferrer">` links (`src/channel/chat.js`); channel emotes become
//! `<img ... title="name" />`. A new channel's default
//! filters also turn `*bold*`, `_italic_`, `` `code` ``, `~~strike~~` and
//! `[sp]spoilers[/sp]` into tags. Undoing that on the echo (every raw tag is
//! the server's, since the user's `<` arrive escaped) and cutting the sent
//! text the same way makes the two comparable; the filters' marker characters
//! are left out on both sides, since the server keeps the unpaired ones.
//!
//! Before any of that (`chat.js` `handleChatMsg`, after the cut) the server
//! replaces each run of ASCII control characters (`\x00`-`\x1f`: tabs,
//! newlines) with one space, drops a line that is then blank, and runs a line
//! starting with `/` and a known command as that command: `/me`, `/sp`,
//! `/say`, `/shout`, `/rcv` and `/a` echo their text without the command word;
//! `/afk`, `/clear`, `/mute`, `/smute`, `/unmute` and `/unsmute` echo no chat
//! line at all. [`echoed_text`] is what of a sent line comes back.

/// The longest line the server keeps, in UTF-16 code units.
pub const MAX_CHAT_UNITS: usize = 320;

/// The length of `text` as the server counts it (UTF-16 code units).
pub fn server_len(text: &str) -> usize {
    text.encode_utf16().count()
}

/// `text` cut as the server cuts it: its first 320 UTF-16 code units (a
/// character that would be split is left out whole).
pub fn server_cut(text: &str) -> &str {
    let mut units = 0;
    for (index, ch) in text.char_indices() {
        units += ch.len_utf16();
        if units > MAX_CHAT_UNITS {
            return &text[..index];
        }
    }
    text
}

/// `text` with each run of ASCII control characters replaced by one space,
/// as the server does (`/[\x00-\x1f]+/g`) after the cut.
pub fn collapse_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for ch in text.chars() {
        if ch <= '\u{1f}' {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(ch);
            in_run = false;
        }
    }
    out
}

/// The commands (`chat.js` `registerCommand`) whose text comes back as a
/// chat line without the command word (`/me`, `/sp`, `/say` and its aliases,
/// `/a`); `/say` needs rank 1.5 and `/a` a site admin, else nothing comes back.
const ECHOING_COMMANDS: [&str; 6] = ["me", "sp", "say", "shout", "rcv", "a"];
/// The commands that echo no chat line (they toggle AFK, clear the chat, mute).
pub const SILENT_COMMANDS: [&str; 6] = ["afk", "clear", "mute", "smute", "unmute", "unsmute"];

/// What the server makes of a sent line before escaping and filtering it:
/// the text its echo carries, or `None` when no chat line comes back (a
/// blank line, or a command in [`SILENT_COMMANDS`]). Cut at 320 units first,
/// then control characters collapsed, then the command word taken off.
pub fn echoed_text(sent: &str) -> Option<String> {
    server_reading(sent).0
}

/// How many times the server's chat throttle counts the line: once, plus
/// once per echoing command word taken off (`processChatMsg` runs again on
/// the rest, throttle included, so `/me hi` counts twice).
pub fn throttle_passes(sent: &str) -> u32 {
    server_reading(sent).1
}

/// [`echoed_text`] and [`throttle_passes`].
fn server_reading(sent: &str) -> (Option<String>, u32) {
    let mut line = collapse_controls(server_cut(sent));
    if line.trim().is_empty() {
        return (None, 0);
    }
    let mut passes = 1;
    loop {
        let Some(command_line) = line.strip_prefix('/') else { return (Some(line), passes) };
        let (command, text) = command_line.split_once(' ').unwrap_or((command_line, ""));
        if SILENT_COMMANDS.contains(&command) {
            return (None, passes);
        }
        if !ECHOING_COMMANDS.contains(&command) {
            return (Some(line), passes);
        }
        line = text.to_string();
        passes += 1;
    }
}

/// The command word of a line the server answers with no chat line, or
/// `"blank"` for a line that is blank once control characters are spaces.
pub fn silent_reason(sent: &str) -> Option<String> {
    if echoed_text(sent).is_some() {
        return None;
    }
    let line = server_cut(sent).trim_start();
    match line.strip_prefix('/') {
        Some(rest) if !line.trim().is_empty() => {
            Some(format!("/{}", rest.split(|c: char| c == ' ' || c <= '\u{1f}').next().unwrap_or(rest)))
        }
        _ => Some("blank".to_string()),
    }
}

/// A chat line as the server rendered it (an echo, a history line, a
/// recorded fixture line), back to what its sender typed: a channel emote
/// (`<img ... title="name" />`) back to its name, the server's other tags
/// (links, filters) taken out (every raw `<` is the server's: the user's
/// arrive escaped), and its entities, named and numeric, decoded.
pub fn typed_text(msg: &str) -> String {
    let mut plain = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(start) = rest.find('<') {
        plain.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            plain.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let tag = &rest[start..start + end];
        if tag.starts_with("<img ") {
            if let Some(title) = tag.split("title=\"").nth(1).and_then(|t| t.split('"').next()) {
                plain.push_str(title);
            }
        }
        rest = &rest[start + end + 1..];
    }
    plain.push_str(rest);
    decode_entities(&plain)
}

/// `&lt;`, `&gt;`, `&quot;`, `&amp;` and numeric `&#NN;` / `&#xHH;` decoded.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let entity = tail.find(';').filter(|&end| end <= 10).and_then(|end| {
            let decoded = match &tail[..end] {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "amp" => Some('&'),
                "apos" => Some('\''),
                code => match code.strip_prefix('#') {
                    Some(number) => match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => number.parse().ok(),
                    }
                    .and_then(char::from_u32),
                    None => None,
                },
            };
            decoded.map(|c| (c, end))
        });
        match entity {
            Some((c, end)) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` without the default filters' markers, which the server either
/// turns into tags or keeps (when unpaired): what both sides agree on.
fn without_filter_marks(text: &str) -> String {
    text.replace("[sp]", "").replace("[/sp]", "").chars().filter(|c| !matches!(c, '_' | '*' | '`' | '~')).collect()
}

/// What two renderings of one chat line agree on: its typed text without the
/// filters' markers. Two lines are the same line when this is equal.
pub fn comparable(rendered: &str) -> String {
    without_filter_marks(&typed_text(rendered))
}

/// Whether the server's `echo` is the line `sent`.
pub fn is_echo_of(echo: &str, sent: &str) -> bool {
    echoed_text(sent).is_some_and(|text| comparable(echo) == without_filter_marks(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_linked_echoes_match_what_was_sent() {
        assert!(is_echo_of("a &lt;b&gt; &amp; \"c\" 'd'", "a <b> & \"c\" 'd'"));
        let link = r#"see <a href="https://x.test/?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">https://x.test/?a=1&amp;b=2</a> ok"#;
        assert!(is_echo_of(link, "see https://x.test/?a=1&b=2 ok"));
        assert!(!is_echo_of("hello", "hello!"));
        // A user's literal "&lt;" comes back escaped once more.
        assert!(is_echo_of("&amp;lt;", "&lt;"));
        // The default filters: paired markers become tags, unpaired ones stay.
        assert!(is_echo_of("snake<em>case</em>name and <strong>bold</strong>", "snake_case_name and *bold*"));
        assert!(is_echo_of("a_b", "a_b"));
        assert!(is_echo_of(r#"<span class="spoiler">secret</span>"#, "[sp]secret[/sp]"));
        let emote = r#"so good <img class="channel-emote" src="https://i.test/c.gif" title="catJAM" />"#;
        assert!(is_echo_of(emote, "so good catJAM"));
    }

    #[test]
    fn typed_text_undoes_tags_and_named_and_numeric_entities() {
        assert_eq!(typed_text("what&#39;s &#40;this&#41; &amp; &lt;b&gt;"), "what's (this) & <b>");
        assert_eq!(typed_text("&#zz; and &unknown; stay"), "&#zz; and &unknown; stay");
        assert_eq!(comparable("what&#39;s *up*"), comparable("what's <strong>up</strong>"));
    }

    #[test]
    fn the_cut_counts_utf16_units_like_the_server() {
        let long = "x".repeat(400);
        assert_eq!(server_cut(&long).len(), 320);
        let emoji = "👋".repeat(200); // two units each
        assert_eq!(server_len(server_cut(&emoji)), 320);
        assert!(is_echo_of(&"y".repeat(320), &"y".repeat(330)));
        assert_eq!(server_len("héllo"), 5);
        assert_eq!(collapse_controls("a\t\t\nb\u{7}c"), "a b c");
        // A character the cut would split is left out whole.
        assert_eq!(server_len(server_cut(&format!("a{}", "🦀".repeat(200)))), 319);
    }

    /// What the real server (3.86.0) echoed when the bot said these lines.
    #[test]
    fn control_characters_and_commands_are_undone_like_the_server() {
        assert!(is_echo_of("tab here newline", "tab\there\nnewline"));
        assert!(is_echo_of("a b", "a\r\n\tb"));
        assert!(is_echo_of("waves from rosey", "/me waves from rosey"));
        assert!(is_echo_of("spoiled", "/sp spoiled"));
        assert!(is_echo_of("hear ye", "/shout hear ye"));
        assert!(!is_echo_of("/me waves", "/me waves"));
        assert!(is_echo_of("/unknown stays", "/unknown stays"));
        assert!(is_echo_of("&gt;green", ">green"));
        assert_eq!(echoed_text("/me"), Some(String::new()));
        assert_eq!(echoed_text("/me /sp nested"), Some("nested".to_string()));
        assert_eq!(echoed_text("/me /afk"), None);
        assert_eq!((throttle_passes("hi"), throttle_passes("/me hi"), throttle_passes("/me /sp hi")), (1, 2, 3));
        assert_eq!(echoed_text("/afk"), None);
        assert_eq!(echoed_text("/clear now"), None);
        assert_eq!(echoed_text(" \n\t "), None);
        assert_eq!(silent_reason("/afk"), Some("/afk".to_string()));
        assert_eq!(silent_reason("/mute\tbob"), Some("/mute".to_string()));
        assert_eq!(silent_reason("\n"), Some("blank".to_string()));
        assert_eq!(silent_reason("/me hi"), None);
    }
}
