//! Subject rules and wildcard matching, as NATS defines them.
//!
//! A subject is a list of non-empty tokens joined by `.`. A subscription may
//! use two wildcards, each standing for whole tokens: `*` matches exactly one
//! token, `>` (only as the last token) matches one or more. `a.>` therefore
//! matches `a.b` and `a.b.c` but not `a`.
//!
//! The sim is stricter than a default (non-pedantic) nats-server in one way:
//! it rejects wildcard and empty tokens in *publish* subjects, where
//! async-nats only rejects whitespace and the server then routes the odd
//! subject anyway. Rosey never publishes such subjects, and refusing them
//! turns a likely bug into an error instead of a silent misroute.

use rosey::transport::TransportError;

/// Longest subject or queue name the frame format can carry.
pub const MAX_SUBJECT_LEN: usize = u16::MAX as usize;

/// Checks a subject to publish to (or to reply on): no wildcards.
///
/// # Errors
///
/// [`TransportError::InvalidSubject`] naming the subject and the rule broken.
pub fn validate_publish(subject: &str) -> Result<(), TransportError> {
    validate_tokens(subject)?;
    if subject.split('.').any(|token| token == "*" || token == ">") {
        return Err(invalid(subject, "a publish subject cannot contain wildcards"));
    }
    Ok(())
}

/// Checks a subscription subject: wildcards allowed, `>` only last.
///
/// # Errors
///
/// [`TransportError::InvalidSubject`] naming the subject and the rule broken.
pub fn validate_subscribe(subject: &str) -> Result<(), TransportError> {
    validate_tokens(subject)?;
    let tokens = subject.split('.').count();
    if subject.split('.').take(tokens - 1).any(|token| token == ">") {
        return Err(invalid(subject, "`>` may only be the last token"));
    }
    Ok(())
}

/// Checks a queue group name: non-empty, no whitespace.
///
/// # Errors
///
/// [`TransportError::InvalidSubject`] naming the queue group.
pub fn validate_queue(queue: &str) -> Result<(), TransportError> {
    if queue.is_empty() || queue.len() > MAX_SUBJECT_LEN || queue.contains(char::is_whitespace) {
        return Err(TransportError::InvalidSubject(format!("queue group {queue:?} must be non-empty, without spaces")));
    }
    Ok(())
}

/// Whether the subscription `pattern` receives messages published to `subject`.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let mut pattern = pattern.split('.');
    let mut subject = subject.split('.');
    loop {
        match (pattern.next(), subject.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(want), Some(got)) if want == got => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some subject is matched by both patterns: what makes two
/// JetStream streams' subjects collide (nats-server refuses the second).
pub fn overlaps(a: &str, b: &str) -> bool {
    let mut a = a.split('.');
    let mut b = b.split('.');
    loop {
        match (a.next(), b.next()) {
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some("*"), Some(_)) | (Some(_), Some("*")) => {}
            (Some(x), Some(y)) if x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

fn validate_tokens(subject: &str) -> Result<(), TransportError> {
    if subject.is_empty() {
        return Err(invalid(subject, "a subject cannot be empty"));
    }
    if subject.len() > MAX_SUBJECT_LEN {
        return Err(invalid(subject, "a subject cannot exceed 65,535 bytes"));
    }
    if subject.contains(char::is_whitespace) {
        return Err(invalid(subject, "a subject cannot contain whitespace"));
    }
    if subject.split('.').any(str::is_empty) {
        return Err(invalid(subject, "a subject cannot have empty tokens (leading, trailing or double dots)"));
    }
    Ok(())
}

fn invalid(subject: &str, rule: &str) -> TransportError {
    TransportError::InvalidSubject(format!("{subject:?}: {rule}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_exactly_one_token() {
        assert!(matches("a.*.c", "a.b.c"));
        assert!(matches("*", "a"));
        assert!(!matches("a.*", "a"));
        assert!(!matches("a.*", "a.b.c"));
        assert!(!matches("a.*.c", "a.b.d"));
    }

    #[test]
    fn gt_matches_one_or_more_trailing_tokens() {
        assert!(matches("a.>", "a.b"));
        assert!(matches("a.>", "a.b.c.d"));
        assert!(matches(">", "a"));
        assert!(!matches("a.>", "a"));
        assert!(!matches("a.>", "b.c"));
        assert!(matches("*.>", "a.b"));
        assert!(!matches("*.>", "a"));
    }

    #[test]
    fn overlapping_patterns_share_a_subject() {
        assert!(overlaps("a.>", "a.b.c"));
        assert!(overlaps("a.*", "*.b"));
        assert!(overlaps(">", "x"));
        assert!(overlaps("a.b", "a.b"));
        assert!(!overlaps("a.*", "a.b.c"));
        assert!(!overlaps("a.b", "a.c"));
        assert!(!overlaps("a.>", "a"));
    }

    #[test]
    fn literals_match_only_themselves() {
        assert!(matches("a.b", "a.b"));
        assert!(!matches("a.b", "a.bb"));
        assert!(!matches("a.b", "a.b.c"));
        assert!(!matches("a.b.c", "a.b"));
        // A `*` inside a token is a literal character, as in NATS.
        assert!(matches("a.b*", "a.b*"));
        assert!(!matches("a.b*", "a.bc"));
    }

    #[test]
    fn publish_subjects_refuse_wildcards_and_empty_tokens() {
        for good in ["a", "a.b", "_INBOX.bot.7", "a.b*", "a.>b"] {
            assert_eq!(validate_publish(good), Ok(()), "{good}");
        }
        for bad in ["", "a.*", ">", "a..b", ".a", "a.", "a b", "a\tb", "a\r\n"] {
            assert!(matches!(validate_publish(bad), Err(TransportError::InvalidSubject(_))), "{bad:?}");
        }
    }

    #[test]
    fn subscribe_subjects_allow_wildcards_with_gt_last() {
        for good in ["a", "a.*", "*.b.>", ">", "*"] {
            assert_eq!(validate_subscribe(good), Ok(()), "{good}");
        }
        for bad in ["", "a.>.b", ">.a", "a..b", "a b"] {
            assert!(matches!(validate_subscribe(bad), Err(TransportError::InvalidSubject(_))), "{bad:?}");
        }
        assert!(validate_queue("workers").is_ok());
        assert!(validate_queue("").is_err());
        assert!(validate_queue("two words").is_err());
    }
}
