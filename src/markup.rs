//! Text into HTML or XML: the one escaping the status page, the simulator's
//! run viewer and its JUnit reports share.

/// Escapes `text` for an element's text or an attribute's value (HTML and
/// XML alike). Control characters that XML 1.0 forbids even escaped become
/// U+FFFD, so a stray byte in a chat line cannot make a report unreadable.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            escape("<script>alert(\"x\")</script> & 'q'\u{1}"),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;\u{FFFD}"
        );
    }
}
