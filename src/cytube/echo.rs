//! What the CyTube server does to a chat line, undone: how the bot knows its
//! own line when the server echoes it back.
//!
//! The server cuts a line at 320 characters (JavaScript's, UTF-16 code
//! units), then escapes `&`, `<` and `>` as HTML entities (quotes come back
//! as sent) and turns URLs into `<a href=... target="_blank" rel="noopener
//! noreferrer">` links (`src/channel/chat.js`). Undoing that on the echo and
//! cutting the sent text the same way makes the two comparable.

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

/// An echoed `msg` with the server's links and entities taken out.
pub fn undo_server_markup(msg: &str) -> String {
    let mut plain = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(start) = rest.find('<') {
        plain.push_str(&rest[..start]);
        let tag = &rest[start..];
        // Only the server writes a raw `<` (the user's are escaped): a tag.
        match tag.find('>') {
            Some(close) if tag.starts_with("<a ") || tag.starts_with("</a>") => rest = &tag[close + 1..],
            _ => {
                plain.push('<');
                rest = &tag[1..];
            }
        }
    }
    plain.push_str(rest);
    plain.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// Whether the server's `echo` is the line `sent`.
pub fn is_echo_of(echo: &str, sent: &str) -> bool {
    undo_server_markup(echo) == server_cut(sent)
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
