//! What the CyTube server does to a chat line, undone: how the bot knows its
//! own line when the server echoes it back.
//!
//! The server cuts a line at 320 characters (JavaScript's, UTF-16 code
//! units), then escapes `&`, `<` and `>` as HTML entities (quotes come back
//! as sent) and turns URLs into `<a href=... target="_blank" rel="noopener
//! noreferrer">` links (`src/channel/chat.js`). A new channel's default
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

/// An echoed `msg` with the server's tags (links, filters) and entities taken out.
pub fn undo_server_markup(msg: &str) -> String {
    let mut plain = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(start) = rest.find('<') {
        plain.push_str(&rest[..start]);
        match rest[start..].find('>') {
            Some(close) => rest = &rest[start + close + 1..],
            None => {
                plain.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    plain.push_str(rest);
    plain.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// `text` without the default filters' markers, which the server either
/// turns into tags or keeps (when unpaired): what both sides agree on.
fn without_filter_marks(text: &str) -> String {
    text.replace("[sp]", "").replace("[/sp]", "").chars().filter(|c| !matches!(c, '_' | '*' | '`' | '~')).collect()
}

/// Whether the server's `echo` is the line `sent`.
pub fn is_echo_of(echo: &str, sent: &str) -> bool {
    without_filter_marks(&undo_server_markup(echo)) == without_filter_marks(server_cut(sent))
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
