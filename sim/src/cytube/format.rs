//! What CyTube does to a chat line's text before it broadcasts it
//! (`chat.js` `handleChatMsg`, `formatMessage`, `filterMessage`; `xss.js`).
//!
//! In order: cut to 320 UTF-16 code units; runs of ASCII control characters
//! become one space; HTML-escape (the real server escapes `& < > " ' ( )`
//! and then lets sanitize-html re-serialize the text, which leaves only
//! `&amp; &lt; &gt;` escaped, so that is what is done here); links become
//! anchors; the channel's default chat filters (monospace, bold, italic,
//! strike, inline spoiler) apply to the text between links.
//!
//! One difference: JavaScript's `substring` may split a surrogate pair at
//! the cut and send a lone surrogate; a Rust string cannot hold one, so the
//! half pair is dropped.

/// Stands in for a link while the filters run (`LINK_PLACEHOLDER`).
const PLACEHOLDER: char = '\u{eeee}';

/// JavaScript's `trim() === ""`: nothing but whitespace.
pub(crate) fn is_blank(msg: &str) -> bool {
    msg.chars().all(|c| c.is_whitespace() || c == '\u{feff}')
}

/// Escapes text as it leaves sanitize-html: `&`, `<`, `>`.
pub(crate) fn escape_text(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len() + 16);
    for c in msg.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The `msg` of a chat line: escaped, links turned into anchors, filtered.
pub(crate) fn format_chat(msg: &str) -> String {
    let escaped = escape_text(msg);
    let (intermediate, links) = take_links(&escaped);
    let filtered = apply_default_filters(&intermediate);
    let mut links = links.into_iter();
    let mut out = String::with_capacity(filtered.len() + 64);
    for c in filtered.chars() {
        if c != PLACEHOLDER {
            out.push(c);
        } else if let Some(link) = links.next() {
            let href = link.replace('"', "&quot;");
            out.push_str(&format!("<a href=\"{href}\" target=\"_blank\" rel=\"noopener noreferrer\">{link}</a>"));
        }
    }
    out
}

/// Replaces every link with [`PLACEHOLDER`] and returns them in order. A link is
/// `LINK = /(\w+:\/\/(?:[^:/[\]\s]+|\[[0-9a-f:]+\])(?::\d+)?(?:\/[^/\s]*)*)/ig`.
fn take_links(text: &str) -> (String, Vec<String>) {
    let chars: Vec<char> = text.chars().collect();
    let (mut out, mut links, mut i) = (String::with_capacity(text.len()), Vec::new(), 0);
    while i < chars.len() {
        match match_link(&chars, i) {
            Some(end) => {
                links.push(chars[i..end].iter().collect());
                out.push(PLACEHOLDER);
                i = end;
            }
            None => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    (out, links)
}

/// The end of a link starting at `start`, if one does.
fn match_link(chars: &[char], start: usize) -> Option<usize> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut i = start;
    while i < chars.len() && word(chars[i]) {
        i += 1;
    }
    if i == start || chars.get(i..i + 3) != Some(&[':', '/', '/']) {
        return None;
    }
    i += 3;
    let host_char = |c: char| !matches!(c, ':' | '/' | '[' | ']') && !c.is_whitespace();
    let host_start = i;
    while i < chars.len() && host_char(chars[i]) {
        i += 1;
    }
    if i == host_start {
        // The bracketed IPv6 form: \[[0-9a-f:]+\]
        if chars.get(i) != Some(&'[') {
            return None;
        }
        let mut j = i + 1;
        while j < chars.len() && (chars[j].is_ascii_hexdigit() || chars[j] == ':') {
            j += 1;
        }
        if j == i + 1 || chars.get(j) != Some(&']') {
            return None;
        }
        i = j + 1;
    }
    if chars.get(i) == Some(&':') && chars.get(i + 1).is_some_and(char::is_ascii_digit) {
        i += 1;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
    }
    while chars.get(i) == Some(&'/') {
        i += 1;
        while i < chars.len() && chars[i] != '/' && !chars[i].is_whitespace() {
            i += 1;
        }
    }
    Some(i)
}

/// The filters a channel starts with (`filters.js` `DEFAULT_FILTERS`), in order.
fn apply_default_filters(text: &str) -> String {
    let text = wrap_pairs(text, "`", "`", false, true, "<code>", "</code>");
    let text = wrap_pairs(&text, "*", "*", false, true, "<strong>", "</strong>");
    let text = wrap_pairs(&text, "_", "_", false, true, "<em>", "</em>");
    let text = wrap_pairs(&text, "~~", "~~", false, true, "<s>", "</s>");
    wrap_pairs(&text, "[sp]", "[/sp]", true, false, "<span class=\"spoiler\">", "</span>")
}

/// One filter of the form `open(.+?)close` (or `(.*?)` when `!non_empty`),
/// global, `.` not matching line terminators: each match becomes
/// `before + group + after`.
fn wrap_pairs(
    text: &str,
    open: &str,
    close: &str,
    ignore_case: bool,
    non_empty: bool,
    before: &str,
    after: &str,
) -> String {
    let chars: Vec<char> = text.chars().collect();
    let open: Vec<char> = open.chars().collect();
    let close: Vec<char> = close.chars().collect();
    let at = |i: usize, pattern: &[char]| {
        chars.get(i..i + pattern.len()).is_some_and(|s| {
            s.iter().zip(pattern).all(|(a, b)| if ignore_case { a.eq_ignore_ascii_case(b) } else { a == b })
        })
    };
    let line_end = |c: char| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}');
    let (mut out, mut i) = (String::with_capacity(text.len()), 0);
    'scan: while i < chars.len() {
        let inner = i + open.len();
        let first_ok = !non_empty || chars.get(inner).is_some_and(|&c| !line_end(c));
        if at(i, &open) && first_ok {
            let mut k = inner + usize::from(non_empty);
            loop {
                if at(k, &close) {
                    out.push_str(before);
                    out.extend(&chars[inner..k]);
                    out.push_str(after);
                    i = k + close.len();
                    continue 'scan;
                }
                if k >= chars.len() || line_end(chars[k]) {
                    break;
                }
                k += 1;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_lines_come_out_as_recorded() {
        assert_eq!(
            format_chat("<b>html?</b> & 'single' \"double\" <script>x</script>"),
            "&lt;b&gt;html?&lt;/b&gt; &amp; 'single' \"double\" &lt;script&gt;x&lt;/script&gt;"
        );
        assert_eq!(
            format_chat("a link http://example.com/path?q=1 here"),
            "a link <a href=\"http://example.com/path?q=1\" target=\"_blank\" rel=\"noopener noreferrer\">http://example.com/path?q=1</a> here"
        );
        assert_eq!(format_chat("> greentext line"), "&gt; greentext line");
        assert_eq!(format_chat("hi, guest here: ünïcödé ✓ 日本語 🦀"), "hi, guest here: ünïcödé ✓ 日本語 🦀");
    }

    #[test]
    fn default_filters_apply_outside_links() {
        assert_eq!(format_chat("*bold* and _it_"), "<strong>bold</strong> and <em>it</em>");
        assert_eq!(
            format_chat("`code` ~~gone~~ [SP]x[/sp]"),
            "<code>code</code> <s>gone</s> <span class=\"spoiler\">x</span>"
        );
        assert_eq!(format_chat("** lone * star"), "<strong>* lone </strong> star");
        assert_eq!(format_chat("see https://x.org/a_b_c now"), "see <a href=\"https://x.org/a_b_c\" target=\"_blank\" rel=\"noopener noreferrer\">https://x.org/a_b_c</a> now");
    }

    #[test]
    fn links_follow_the_real_pattern() {
        let (text, links) = take_links("x ftp://h:21/p/q y http:// z https://[::1]:8080/ok");
        assert_eq!(links, ["ftp://h:21/p/q", "https://[::1]:8080/ok"]);
        assert_eq!(text, "x \u{eeee} y http:// z \u{eeee}");
    }

    #[test]
    fn a_line_of_spaces_is_blank() {
        assert!(is_blank(" \u{a0} "));
        assert!(!is_blank(" a "));
    }
}
