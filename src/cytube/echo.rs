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
    comparable(echo) == without_filter_marks(server_cut(sent))
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
    }
}
